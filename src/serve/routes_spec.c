/* routes_spec.c - the ECSpec target side over HTTP (protocol: docs/SPEC.md):
 *   POST   /v1/spec/sessions                 create (tokenizer check, prefill) -> id, version, fingerprints
 *   POST   /v1/spec/sessions/{id}/verify     one round: accepted count + correction/bonus token
 *   POST   /v1/spec/sessions/{id}/generate   k = 0 fallback: up to n target tokens as SSE
 *   DELETE /v1/spec/sessions/{id}            close
 * A session works on the version it was created on (pinned), so a hot swap
 * never changes an open session's output. Message bodies are spec_wire.h's,
 * the same code the edge's client uses. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "serve/openai_errors.h"
#include "serve/server_ctx.h"
#include "serve/spec_sessions.h"
#include "spec/spec_wire.h"

#define SESSIONS_PREFIX "/v1/spec/sessions/"
#define MAX_GENERATE 4096

static void reply_hflow_error(hs_request *req, int rc, const hflow_error *err) {
    int status = rc == HFLOW_ENOTFOUND ? 404 : rc == HFLOW_ESTATE ? 409 : rc == HFLOW_EBUDGET ? 429
                                                                                            : serve_status_for_hflow_code(rc);
    hs_reply_error(req, status, NULL, NULL, rc == HFLOW_ENOTFOUND ? "session_not_found" : NULL, "%s", err->message);
}

static int prompt_ids(const hflow_spec_create_req *cr, const serve_model *m, int32_t **ids, int32_t *n,
                      hflow_error *err) {
    if (cr->prompt_ids) {
        *ids = cr->prompt_ids;
        *n = cr->n_prompt_ids;
        return 0;
    }
    int cnt = 0;
    int rc = hflow_tokenize(hflow_model_vocab(m->model), cr->prompt_text, strlen(cr->prompt_text), 1, 0, ids, &cnt, err);
    *n = cnt;
    return rc;
}

void serve_route_spec_create(void *app, hs_request *req) {
    hflow_server *srv = app;
    hflow_spec_create_req cr;
    hflow_error err = {0};
    if (hflow_spec_wire_get_create_request(req->body, req->body_len, &cr, &err)) {
        hs_reply_error(req, 400, NULL, NULL, NULL, "%s", err.message);
        return;
    }
    serve_model *m = serve_find_model_or_404(srv, req, cr.model);
    if (!m) {
        hflow_spec_create_req_free(&cr);
        return;
    }
    int32_t *ids = NULL, n = 0;
    hflow_spec_target *target = NULL;
    int rc = 0;
    if (cr.has_draft_fp && cr.draft_tokenizer_fp != m->tokenizer_fp) {
        hs_reply_error(req, 400, NULL, "draft_tokenizer_fp", "tokenizer_mismatch",
                       "the draft's tokenizer (fingerprint %016llx) is not the tokenizer of model '%s' version %s "
                       "(fingerprint %016llx): speculation needs a draft of the same tokenizer family",
                       (unsigned long long)cr.draft_tokenizer_fp, m->name, m->version,
                       (unsigned long long)m->tokenizer_fp);
        goto out;
    }
    if (spec_table_count(srv->spec) >= spec_table_max(srv->spec)) { /* before paying for the prefill */
        hs_reply_error(req, 429, NULL, NULL, "too_many_sessions",
                       "all %d speculative sessions are in use; close one or retry later", spec_table_max(srv->spec));
        goto out;
    }
    if ((rc = prompt_ids(&cr, m, &ids, &n, &err)) || (rc = hflow_spec_target_create(m->model, ids, n, &cr.params,
                                                                                     &target, &err))) {
        reply_hflow_error(req, rc, &err);
        goto out;
    }
    char id[40];
    snprintf(id, sizeof id, "spec-%llx", (unsigned long long)serve_next_id(srv));
    spec_session *s;
    if ((rc = spec_table_add(srv->spec, m, target, cr.has_draft_fp ? cr.draft_tokenizer_fp : 0, id, &s, &err))) {
        hflow_spec_target_free(target);
        reply_hflow_error(req, rc, &err);
        goto out;
    }
    m = NULL; /* the session holds the pin now */
    hflow_spec_session_info info = {0};
    snprintf(info.session_id, sizeof info.session_id, "%s", s->id);
    snprintf(info.model, sizeof info.model, "%s", s->ver->name);
    snprintf(info.version, sizeof info.version, "%s", s->ver->version);
    info.tokenizer_fp = s->ver->tokenizer_fp;
    info.backbone_fp = s->ver->backbone_fp;
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_spec_wire_put_create_response(&b, &info, hflow_spec_target_n_tokens(s->target));
    spec_table_put(srv->spec, s);
    if (b.oom) hs_reply_error(req, 500, NULL, NULL, NULL, "out of memory");
    else hs_reply_json(req, 200, b.data);
    hflow_strbuf_free(&b);
out:
    if (ids != cr.prompt_ids) free(ids);
    if (m) serve_model_release(&srv->reg, m);
    hflow_spec_create_req_free(&cr);
}

static void verify(hflow_server *srv, hs_request *req, spec_session *s) {
    int32_t draft[HFLOW_SPEC_MAX_K], k = 0;
    hflow_spec_draft_dist *q = malloc(HFLOW_SPEC_MAX_K * sizeof *q);
    int has_q = 0;
    hflow_error err = {0};
    hflow_spec_verdict v;
    double fwd = 0;
    int rc = q ? hflow_spec_wire_get_verify_request(req->body, req->body_len, draft, &k, q, &has_q, &err)
               : hflow_error_set(&err, HFLOW_ENOMEM, "out of memory");
    if (!rc) rc = hflow_spec_target_verify(s->target, draft, k, has_q ? q : NULL, &v, &fwd, &err);
    free(q);
    if (rc) {
        reply_hflow_error(req, rc, &err);
        return;
    }
    spec_table_count_round(srv->spec, s, k, v.n_accepted);
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_spec_wire_put_verify_response(&b, &v, fwd, hflow_spec_target_n_tokens(s->target));
    if (b.oom) hs_reply_error(req, 500, NULL, NULL, NULL, "out of memory");
    else hs_reply_json(req, 200, b.data);
    hflow_strbuf_free(&b);
}

/* ---- generate: the target streams tokens itself ---- */

typedef struct gen_job {
    hflow_server *srv;
    spec_session *s;
    hs_stream *st;
    int32_t n;
} gen_job;

static int on_gen_token(void *user, int32_t tok, double t_forward_s) {
    gen_job *j = user;
    char ev[96];
    int len = snprintf(ev, sizeof ev, "data: {\"token\":%d,\"ms\":%.3f}\n\n", tok, t_forward_s * 1000.0);
    return hs_stream_write(j->st, ev, (size_t)len) != 0; /* the client left: stop */
}

static void gen_main(void *arg) {
    gen_job *j = arg;
    hflow_error err = {0};
    int32_t got = 0;
    double fwd = 0;
    int rc = hflow_spec_target_generate(j->s->target, j->n, on_gen_token, j, &got, &fwd, &err);
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    if (rc) {
        char *e = serve_error_json(serve_status_for_hflow_code(rc), NULL, NULL, NULL, err.message);
        hflow_strbuf_printf(&b, "data: %s\n\n", e ? e : "{\"error\":{\"message\":\"out of memory\"}}");
        free(e);
    } else {
        hflow_strbuf_printf(&b, "data: {\"n\":%d,\"gen_ms\":%.3f,\"n_tokens\":%d}\n\n", got, fwd * 1000.0,
                            hflow_spec_target_n_tokens(j->s->target));
    }
    hflow_strbuf_puts(&b, "data: [DONE]\n\n");
    /* give the session back before the client can see the end: its next
     * request may follow at once and must not find the session still busy */
    spec_table_put(j->srv->spec, j->s);
    if (!b.oom) hs_stream_write(j->st, b.data, b.len);
    hflow_strbuf_free(&b);
    hs_stream_finish(j->st);
    hs_stream_unref(j->st);
    free(j);
}

static void generate(hflow_server *srv, hs_request *req, spec_session *s) {
    cJSON *root = cJSON_ParseWithLength(req->body, req->body_len);
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "n");
    int ok = cJSON_IsObject(root) && cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble <= MAX_GENERATE &&
             cJSON_GetArraySize(root) == 1;
    int32_t count = ok ? (int32_t)n->valuedouble : 0;
    cJSON_Delete(root);
    if (!ok) {
        hs_reply_error(req, 400, NULL, "n", NULL, "generate wants {\"n\": 1..%d} (tokens to generate)", MAX_GENERATE);
        spec_table_put(srv->spec, s);
        return;
    }
    gen_job *j = calloc(1, sizeof *j);
    if (j) *j = (gen_job){srv, s, NULL, count};
    if (!j) hs_reply_error(req, 500, NULL, NULL, NULL, "out of memory");
    if (!j || hs_stream_spawn(req, &j->st, gen_main, j)) { /* could not start: give the session back */
        if (j) hs_stream_unref(j->st);
        spec_table_put(srv->spec, s);
        free(j);
    }
}

/* "{id}/verify" | "{id}/generate" | "{id}" -> id and the action ("" for none). */
static int split_path(const char *path, char *id, size_t cap, const char **action) {
    const char *rest = path + strlen(SESSIONS_PREFIX);
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || n >= cap) return -1;
    memcpy(id, rest, n);
    id[n] = '\0';
    *action = slash ? slash + 1 : "";
    return 0;
}

void serve_route_spec_session(void *app, hs_request *req) {
    hflow_server *srv = app;
    char id[40];
    const char *action;
    if (split_path(req->path, id, sizeof id, &action) ||
        (strcmp(action, "verify") && strcmp(action, "generate"))) {
        hs_reply_error(req, 404, NULL, NULL, "not_found",
                       "no route for POST %s (use /v1/spec/sessions/{id}/verify or .../generate)", req->path);
        return;
    }
    spec_session *s;
    hflow_error err = {0};
    int rc = spec_table_get(srv->spec, id, &s, &err);
    if (rc) {
        reply_hflow_error(req, rc, &err);
        return;
    }
    if (!strcmp(action, "generate")) {
        generate(srv, req, s); /* gives the session back when the stream ends */
        return;
    }
    verify(srv, req, s);
    spec_table_put(srv->spec, s);
}

void serve_route_spec_delete(void *app, hs_request *req) {
    hflow_server *srv = app;
    char id[40];
    const char *action;
    hflow_error err = {0};
    if (split_path(req->path, id, sizeof id, &action) || *action) {
        hs_reply_error(req, 404, NULL, NULL, "not_found", "no route for DELETE %s", req->path);
        return;
    }
    int rc = spec_table_remove(srv->spec, id, &err);
    if (rc) {
        reply_hflow_error(req, rc, &err);
        return;
    }
    char body[96];
    snprintf(body, sizeof body, "{\"id\":\"%s\",\"deleted\":true}", id);
    hs_reply_json(req, 200, body);
}
