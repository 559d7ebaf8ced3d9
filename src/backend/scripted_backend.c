/* scripted_backend.c - see scripted_backend.h. Waiting is done in short
 * slices so cancellation and per-call timeouts behave like a real peer's. */
#include "backend/scripted_backend.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/strbuf.h"

typedef struct scripted_impl {
    hflow_script_rule *rules;
    int *hits;
    int n_rules;
    size_t chunk;
    double interval_ms;
    double bpt;
    pthread_mutex_t mu;
    hflow_scripted_call *calls;
    int n_calls, cap_calls;
} scripted_impl;

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* Waits until `until` (monotonic seconds); 0, or ECANCELLED / ETIMEOUT. */
static int wait_until(double until, double deadline, const hflow_request *req) {
    for (;;) {
        if (req->cancel && *req->cancel) return HFLOW_ECANCELLED;
        double now = hflow_now_s();
        if (now >= deadline) return HFLOW_ETIMEOUT;
        if (now >= until) return 0;
        double left = fmin(until, deadline) - now;
        hflow_sleep_ms(fmin(left * 1e3, 5.0));
    }
}

static int log_call(scripted_impl *im, const hflow_scripted_call *c) {
    pthread_mutex_lock(&im->mu);
    int idx = -1;
    if (im->n_calls == im->cap_calls) {
        int cap = im->cap_calls ? im->cap_calls * 2 : 64;
        hflow_scripted_call *n = realloc(im->calls, (size_t)cap * sizeof *n);
        if (n) {
            im->calls = n;
            im->cap_calls = cap;
        }
    }
    if (im->n_calls < im->cap_calls) {
        idx = im->n_calls++;
        im->calls[idx] = *c;
    }
    pthread_mutex_unlock(&im->mu);
    return idx;
}

static void finish_call(scripted_impl *im, int idx, int status) {
    if (idx < 0) return;
    pthread_mutex_lock(&im->mu);
    im->calls[idx].end_s = hflow_now_s();
    im->calls[idx].status = status;
    pthread_mutex_unlock(&im->mu);
}

static int32_t tokens_of(const scripted_impl *im, size_t bytes) { return (int32_t)ceil((double)bytes / im->bpt); }

static int scripted_complete(hflow_backend *b, const hflow_request *req, hflow_response *resp, hflow_error *err) {
    scripted_impl *im = b->impl;
    memset(resp, 0, sizeof *resp);
    hflow_strbuf text;
    hflow_strbuf_init(&text);
    for (int i = 0; i < req->n_messages; i++) {
        if (req->messages[i].content) hflow_strbuf_puts(&text, req->messages[i].content);
        hflow_strbuf_putc(&text, '\n');
    }
    if (req->prompt) hflow_strbuf_puts(&text, req->prompt);
    int rule = -1;
    for (int i = 0; i < im->n_rules && rule < 0; i++)
        if (!im->rules[i].match || (text.data && strstr(text.data, im->rules[i].match))) rule = i;
    size_t prompt_bytes = text.len;
    hflow_strbuf_free(&text);

    const hflow_script_rule *r = rule >= 0 ? &im->rules[rule] : NULL;
    int fail = 0;
    if (r && r->fail_code) {
        pthread_mutex_lock(&im->mu);
        fail = !r->fail_times || im->hits[rule] < r->fail_times;
        im->hits[rule]++;
        pthread_mutex_unlock(&im->mu);
    }
    const char *reply = r && r->reply ? r->reply : "ok";
    size_t len = strlen(reply);
    int32_t ctoks = tokens_of(im, len);
    snprintf(resp->finish_reason, sizeof resp->finish_reason, "stop");
    if (req->max_tokens > 0 && ctoks > req->max_tokens) {
        len = (size_t)((double)req->max_tokens * im->bpt);
        ctoks = req->max_tokens;
        snprintf(resp->finish_reason, sizeof resp->finish_reason, "length");
    }
    double t0 = hflow_now_s();
    double deadline = req->timeout_s > 0 ? t0 + req->timeout_s : HUGE_VAL;
    hflow_scripted_call call = {rule, t0, 0, req->max_tokens, 0};
    int idx = log_call(im, &call);

    double latency = r ? r->latency_ms / 1e3 : 0;
    double ttft = r && r->ttft_ms > 0 ? r->ttft_ms / 1e3 : latency / 10;
    int rc = 0;
    size_t chunk = im->chunk;
    if (fail) {
        rc = wait_until(t0 + latency, deadline, req);
        if (!rc) rc = r->fail_code;
    } else if (im->interval_ms > 0) { /* slow streaming: one chunk per interval */
        for (size_t off = 0; off < len && !rc; off += chunk) {
            rc = wait_until(hflow_now_s() + im->interval_ms / 1e3, deadline, req);
            if (!rc && off == 0) resp->ttft_s = hflow_now_s() - t0;
            size_t n = len - off < chunk ? len - off : chunk;
            if (!rc && req->on_delta && req->on_delta(req->user, reply + off, n)) rc = HFLOW_ECANCELLED;
        }
    } else {
        rc = wait_until(t0 + ttft, deadline, req);
        resp->ttft_s = hflow_now_s() - t0;
        for (size_t off = 0; off < len && !rc && req->on_delta; off += chunk) {
            size_t n = len - off < chunk ? len - off : chunk;
            if (req->on_delta(req->user, reply + off, n)) rc = HFLOW_ECANCELLED;
        }
        if (!rc) rc = wait_until(t0 + latency, deadline, req);
    }
    finish_call(im, idx, rc);
    resp->latency_s = hflow_now_s() - t0;
    snprintf(resp->model, sizeof resp->model, "%s", b->model);
    resp->prompt_tokens = tokens_of(im, prompt_bytes);
    if (rc) {
        snprintf(resp->finish_reason, sizeof resp->finish_reason, "%s",
                 rc == HFLOW_ECANCELLED ? "cancelled" : "error");
        return hflow_error_set(err, rc, "%s: scripted %s", b->name,
                               rc == HFLOW_ETIMEOUT ? "timeout" : rc == HFLOW_ECANCELLED ? "cancel" : "failure");
    }
    resp->completion_tokens = ctoks;
    resp->text = malloc(len + 1);
    if (!resp->text) return hflow_error_set(err, HFLOW_ENOMEM, "scripted: out of memory");
    memcpy(resp->text, reply, len);
    resp->text[len] = '\0';
    return 0;
}

static void scripted_destroy(hflow_backend *b) {
    if (!b) return;
    scripted_impl *im = b->impl;
    if (im) {
        for (int i = 0; i < im->n_rules; i++) {
            free((char *)im->rules[i].match);
            free((char *)im->rules[i].reply);
        }
        free(im->rules);
        free(im->hits);
        free(im->calls);
        pthread_mutex_destroy(&im->mu);
        free(im);
    }
    free(b);
}

static const hflow_backend_vtable scripted_vt = {"scripted", scripted_complete, scripted_destroy};

int hflow_scripted_backend_create(const hflow_scripted_config *cfg, hflow_backend **out, hflow_error *err) {
    *out = NULL;
    hflow_backend *b = calloc(1, sizeof *b);
    scripted_impl *im = calloc(1, sizeof *im);
    int n = cfg && cfg->n_rules > 0 ? cfg->n_rules : 0;
    if (b && im) {
        im->rules = calloc((size_t)n + 1, sizeof *im->rules);
        im->hits = calloc((size_t)n + 1, sizeof *im->hits);
    }
    if (!b || !im || !im->rules || !im->hits) {
        if (im) {
            free(im->rules);
            free(im->hits);
        }
        free(im);
        free(b);
        return hflow_error_set(err, HFLOW_ENOMEM, "scripted backend: out of memory");
    }
    pthread_mutex_init(&im->mu, NULL);
    b->vt = &scripted_vt;
    b->impl = im;
    for (int i = 0; i < n; i++) {
        im->rules[i] = cfg->rules[i];
        im->rules[i].match = dup_or_null(cfg->rules[i].match);
        im->rules[i].reply = dup_or_null(cfg->rules[i].reply);
        im->n_rules = i + 1;
        if ((cfg->rules[i].match && !im->rules[i].match) || (cfg->rules[i].reply && !im->rules[i].reply)) {
            scripted_destroy(b);
            return hflow_error_set(err, HFLOW_ENOMEM, "scripted backend: out of memory");
        }
    }
    im->chunk = cfg && cfg->stream_chunk ? cfg->stream_chunk : 16;
    im->interval_ms = cfg ? cfg->chunk_interval_ms : 0;
    im->bpt = cfg && cfg->bytes_per_token > 0 ? cfg->bytes_per_token : 4;
    const char *model = cfg && cfg->model ? cfg->model : "scripted";
    snprintf(b->model, sizeof b->model, "%s", model);
    snprintf(b->name, sizeof b->name, "scripted:%s", model);
    *out = b;
    return 0;
}

int hflow_scripted_backend_calls(hflow_backend *b, hflow_scripted_call *out, int max) {
    scripted_impl *im = b->impl;
    pthread_mutex_lock(&im->mu);
    int n = im->n_calls;
    for (int i = 0; i < n && i < max; i++) out[i] = im->calls[i];
    pthread_mutex_unlock(&im->mu);
    return n;
}
