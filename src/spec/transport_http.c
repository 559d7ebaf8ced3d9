/* transport_http.c - the edge's client for our server's speculative session
 * API (see docs/SPEC.md):
 *   POST   {base}/spec/sessions              create (prompt ids, sampling, draft tokenizer fingerprint)
 *   POST   {base}/spec/sessions/{id}/verify  one round (spec_wire.h)
 *   POST   {base}/spec/sessions/{id}/generate  k = 0: the target streams n tokens (SSE)
 *   DELETE {base}/spec/sessions/{id}         close
 * The target keeps the KV cache, so each round sends only the draft. Errors
 * keep their meaning for the edge loop: HFLOW_ENET when the server is gone
 * (the loop may continue on the edge alone), HFLOW_ENOTFOUND when the session
 * expired, HFLOW_EHTTP with the server's message otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backend/sse.h"
#include "hybridflow/spec.h"
#include "spec/spec_http.h"
#include "spec/spec_wire.h"

typedef struct {
    hflow_spec_http http;
    uint64_t draft_fp;
    char session[64]; /* empty when none is open */
    hflow_strbuf req, resp;
} http_tr;

static void http_close(hflow_spec_transport *t) {
    http_tr *h = t->impl;
    if (!h->session[0]) return;
    char path[128];
    snprintf(path, sizeof path, "/spec/sessions/%s", h->session);
    hflow_spec_http_call(&h->http, "DELETE", path, NULL, &h->resp, NULL, NULL, NULL); /* best effort */
    h->session[0] = '\0';
}

static int http_open(hflow_spec_transport *t, const int32_t *prompt, int32_t n, const hflow_spec_params *p,
                     hflow_spec_session_info *info, hflow_error *err) {
    http_tr *h = t->impl;
    http_close(t);
    hflow_strbuf_reset(&h->req);
    hflow_spec_wire_put_create_request(&h->req, h->http.model, prompt, n, p, h->draft_fp);
    if (h->req.oom) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    int rc = hflow_spec_http_call(&h->http, "POST", "/spec/sessions", h->req.data, &h->resp, NULL, NULL, err);
    hflow_spec_session_info local;
    if (!rc) rc = hflow_spec_wire_get_create_response(h->resp.data, h->resp.len, &local, err);
    if (rc) return rc;
    snprintf(h->session, sizeof h->session, "%s", local.session_id);
    if (info) *info = local;
    return 0;
}

static int http_verify(hflow_spec_transport *t, const int32_t *draft, int32_t k, const hflow_spec_draft_dist *q,
                       hflow_spec_verdict *out, double *t_verify_s, int32_t *bytes_up, int32_t *bytes_down,
                       hflow_error *err) {
    http_tr *h = t->impl;
    if (!h->session[0]) return hflow_error_set(err, HFLOW_ESTATE, "spec transport: no open session");
    char path[128];
    snprintf(path, sizeof path, "/spec/sessions/%s/verify", h->session);
    hflow_strbuf_reset(&h->req);
    hflow_spec_wire_put_verify_request(&h->req, draft, k, q);
    if (h->req.oom) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    int rc = hflow_spec_http_call(&h->http, "POST", path, h->req.data, &h->resp, bytes_up, bytes_down, err);
    if (rc == HFLOW_ENOTFOUND) {
        h->session[0] = '\0'; /* gone on the server: nothing to delete */
        hflow_error_wrap(err, "spec session expired or unknown");
        return HFLOW_ENOTFOUND;
    }
    if (rc) return rc;
    double fwd = 0;
    rc = hflow_spec_wire_get_verify_response(h->resp.data, h->resp.len, out, &fwd, err);
    if (!rc && t_verify_s) *t_verify_s = fwd;
    return rc;
}

/* ---- generate: SSE events {"token":ID,"ms":F} ... {"n":N,"gen_ms":F,"n_tokens":T} [DONE] ---- */

typedef struct gen_ctx {
    hflow_sse_parser sse;
    hflow_spec_token_cb on_token;
    void *user;
    int32_t n_got;
    double gen_s;
    int stopped, summary;
    hflow_error *err;
    int rc;
} gen_ctx;

static int on_event(void *user, const char *event, const char *data, size_t len) {
    (void)event;
    gen_ctx *g = user;
    cJSON *root = cJSON_ParseWithLength(data, len);
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "token");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(root, "ms");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    int stop = 0;
    if (cJSON_IsNumber(tok) && tok->valuedouble >= 0) {
        g->n_got++;
        double t = cJSON_IsNumber(ms) ? ms->valuedouble / 1000.0 : 0;
        if (g->on_token && g->on_token(g->user, (int32_t)tok->valuedouble, t)) stop = g->stopped = 1;
    } else if (cJSON_IsObject(e)) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
        g->rc = hflow_error_set(g->err, HFLOW_EHTTP, "spec generate failed on the server: %s",
                                cJSON_IsString(m) ? m->valuestring : "(no message)");
        stop = 1;
    } else if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "n"))) {
        const cJSON *gm = cJSON_GetObjectItemCaseSensitive(root, "gen_ms");
        g->gen_s = cJSON_IsNumber(gm) ? gm->valuedouble / 1000.0 : 0;
        g->summary = 1;
    } else {
        g->rc = hflow_error_set(g->err, HFLOW_EFORMAT, "spec generate: unexpected event '%.80s'", data);
        stop = 1;
    }
    cJSON_Delete(root);
    return stop;
}

static int gen_sink(void *user, const char *data, size_t n) {
    gen_ctx *g = user;
    return hflow_sse_feed(&g->sse, data, n) != 0;
}

static int http_generate(hflow_spec_transport *t, int32_t n, hflow_spec_token_cb on_token, void *user, int32_t *n_got,
                         double *t_gen_s, int32_t *bytes_up, int32_t *bytes_down, hflow_error *err) {
    http_tr *h = t->impl;
    if (!h->session[0]) return hflow_error_set(err, HFLOW_ESTATE, "spec transport: no open session");
    char path[128], body[48];
    snprintf(path, sizeof path, "/spec/sessions/%s/generate", h->session);
    snprintf(body, sizeof body, "{\"n\":%d}", n);
    gen_ctx g = {.on_token = on_token, .user = user, .err = err};
    hflow_sse_init(&g.sse, on_event, &g);
    int rc = hflow_spec_http_stream(&h->http, path, body, gen_sink, &g, &h->resp, bytes_up, bytes_down, err);
    int clean = hflow_sse_finish(&g.sse);
    hflow_sse_free(&g.sse);
    if (n_got) *n_got = g.n_got;
    if (t_gen_s) *t_gen_s = g.gen_s;
    if (rc == HFLOW_ENOTFOUND) {
        h->session[0] = '\0';
        hflow_error_wrap(err, "spec session expired or unknown");
        return rc;
    }
    if (rc) return rc;
    if (g.rc) return g.rc;
    if (!g.stopped && (!g.summary || !clean))
        return hflow_error_set(err, HFLOW_ENET, "spec generate: the stream broke off after %d tokens", g.n_got);
    return 0;
}

static void http_destroy(hflow_spec_transport *t) {
    http_tr *h = t->impl;
    http_close(t);
    hflow_spec_http_free(&h->http);
    hflow_strbuf_free(&h->req);
    hflow_strbuf_free(&h->resp);
    free(h);
    free(t);
}

static const hflow_spec_transport_vtable http_vt = {"http", http_open, http_verify, http_close, http_destroy,
                                                     http_generate};

int hflow_spec_transport_http(const char *endpoint, uint64_t draft_tokenizer_fp, double timeout_s,
                              hflow_spec_transport **out, hflow_error *err) {
    *out = NULL;
    hflow_spec_transport *t = calloc(1, sizeof *t);
    http_tr *h = calloc(1, sizeof *h);
    if (!t || !h) {
        free(t);
        free(h);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    int rc = hflow_spec_http_init(&h->http, endpoint, timeout_s, err);
    if (!rc && !h->http.model[0])
        rc = hflow_error_set(err, HFLOW_EINVAL, "spec endpoint '%s' names no model (add #MODEL)", endpoint);
    if (rc) {
        hflow_spec_http_free(&h->http);
        free(h);
        free(t);
        return rc;
    }
    h->draft_fp = draft_tokenizer_fp;
    hflow_strbuf_init(&h->req);
    hflow_strbuf_init(&h->resp);
    t->vt = &http_vt;
    t->impl = h;
    *out = t;
    return 0;
}
