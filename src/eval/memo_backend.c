/* memo_backend.c - see memo_backend.h. A linear list is enough: the cache
 * holds one question's calls (a few dozen) and is reset between questions. */
#include "eval/memo_backend.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"

typedef struct memo_entry {
    char *key;
    hflow_response resp; /* owns text */
} memo_entry;

typedef struct memo_impl {
    hflow_backend_vtable vt; /* memo's functions under the inner backend's kind, so the cache is
                                transparent to kind checks (the flow constrains only a "local"
                                planner with the plan grammar) */
    hflow_backend *inner;
    pthread_mutex_t mu;
    memo_entry *e;
    size_t n, cap;
    long misses;
} memo_impl;

static char *request_key(const hflow_request *req) {
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_printf(&b, "max_tokens=%d grammar=%s confidence=%d\n", (int)req->max_tokens,
                        req->grammar ? req->grammar : "", req->want_confidence != 0);
    for (int i = 0; i < req->n_messages; i++)
        hflow_strbuf_printf(&b, "<%s>%s\n", req->messages[i].role ? req->messages[i].role : "",
                            req->messages[i].content ? req->messages[i].content : "");
    if (req->prompt) hflow_strbuf_printf(&b, "<prompt>%s", req->prompt);
    if (b.oom) {
        hflow_strbuf_free(&b);
        return NULL;
    }
    return hflow_strbuf_take(&b);
}

/* Copies a cached response into resp (text duplicated). */
static int copy_response(const hflow_response *src, hflow_response *dst) {
    *dst = *src;
    dst->text = strdup(src->text ? src->text : "");
    return dst->text ? 0 : -1;
}

static int lookup(memo_impl *im, const char *key, hflow_response *resp) {
    int found = 0;
    pthread_mutex_lock(&im->mu);
    for (size_t i = 0; i < im->n && !found; i++)
        if (!strcmp(im->e[i].key, key)) found = copy_response(&im->e[i].resp, resp) ? -1 : 1;
    pthread_mutex_unlock(&im->mu);
    return found;
}

/* Stores a copy of a successful response; a failed store only costs a recomputation. */
static void store(memo_impl *im, char *key, const hflow_response *resp) {
    pthread_mutex_lock(&im->mu);
    if (im->n == im->cap) {
        size_t cap = im->cap ? im->cap * 2 : 32;
        memo_entry *n = realloc(im->e, cap * sizeof *n);
        if (n) {
            im->e = n;
            im->cap = cap;
        }
    }
    if (im->n < im->cap && copy_response(resp, &im->e[im->n].resp) == 0) {
        im->e[im->n++].key = key;
        key = NULL;
    }
    pthread_mutex_unlock(&im->mu);
    free(key);
}

static int memo_complete(hflow_backend *b, const hflow_request *req, hflow_response *resp, hflow_error *err) {
    memo_impl *im = b->impl;
    memset(resp, 0, sizeof *resp);
    char *key = request_key(req);
    if (!key) return hflow_error_set(err, HFLOW_ENOMEM, "memo backend: out of memory");
    int hit = lookup(im, key, resp);
    if (hit < 0) {
        free(key);
        return hflow_error_set(err, HFLOW_ENOMEM, "memo backend: out of memory");
    }
    if (hit) {
        free(key);
        if (req->on_delta && resp->text[0] && req->on_delta(req->user, resp->text, strlen(resp->text))) {
            snprintf(resp->finish_reason, sizeof resp->finish_reason, "cancelled");
            return hflow_error_set(err, HFLOW_ECANCELLED, "cancelled");
        }
        return 0;
    }
    pthread_mutex_lock(&im->mu);
    im->misses++;
    pthread_mutex_unlock(&im->mu);
    int rc = hflow_backend_complete(im->inner, req, resp, err);
    if (rc == 0) store(im, key, resp);
    else free(key);
    return rc;
}

void ev_memo_backend_reset(hflow_backend *b) {
    memo_impl *im = b->impl;
    pthread_mutex_lock(&im->mu);
    for (size_t i = 0; i < im->n; i++) {
        free(im->e[i].key);
        hflow_response_clear(&im->e[i].resp);
    }
    im->n = 0;
    pthread_mutex_unlock(&im->mu);
}

long ev_memo_backend_misses(hflow_backend *b) {
    memo_impl *im = b->impl;
    pthread_mutex_lock(&im->mu);
    long n = im->misses;
    pthread_mutex_unlock(&im->mu);
    return n;
}

static void memo_destroy(hflow_backend *b) {
    if (!b) return;
    memo_impl *im = b->impl;
    ev_memo_backend_reset(b);
    free(im->e);
    pthread_mutex_destroy(&im->mu);
    free(im);
    free(b);
}


int ev_memo_backend_create(hflow_backend *inner, hflow_backend **out, hflow_error *err) {
    *out = NULL;
    hflow_backend *b = calloc(1, sizeof *b);
    memo_impl *im = calloc(1, sizeof *im);
    if (!b || !im) {
        free(b);
        free(im);
        return hflow_error_set(err, HFLOW_ENOMEM, "memo backend: out of memory");
    }
    im->inner = inner;
    pthread_mutex_init(&im->mu, NULL);
    im->vt = (hflow_backend_vtable){inner->vt && inner->vt->kind ? inner->vt->kind : "memo", memo_complete, memo_destroy};
    b->vt = &im->vt;
    b->impl = im;
    b->caps = inner->caps; /* requests pass through unchanged, so a constrained planner stays constrained */
    snprintf(b->name, sizeof b->name, "%s", hflow_backend_name(inner));
    snprintf(b->model, sizeof b->model, "%s", hflow_backend_model(inner));
    *out = b;
    return 0;
}
