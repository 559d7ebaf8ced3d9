/* backend.c - opening a backend from an endpoint string, and the pieces of
 * the interface every backend shares (defaults, request checks, response
 * ownership). The endpoint decides the kind: a URL with an http(s) scheme is
 * an OpenAI-compatible server, anything else is a local GGUF path. */
#include "backend/backend_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void hflow_backend_options_default(hflow_backend_options *o) {
    memset(o, 0, sizeof *o);
    o->connect_timeout_s = 5;
    o->idle_timeout_s = 60;
    o->total_timeout_s = 600;
    o->max_retries = 3;
    o->backoff_base_s = 0.25;
    o->api_key_env = "OPENAI_API_KEY";
    o->n_parallel = 1;
}

void hflow_request_init(hflow_request *r) {
    memset(r, 0, sizeof *r);
    r->temperature = -1.0f;
}

void hflow_response_clear(hflow_response *r) {
    if (!r) return;
    free(r->text);
    memset(r, 0, sizeof *r);
}

void hflow_embeddings_clear(hflow_embeddings *e) {
    if (!e) return;
    free(e->data);
    memset(e, 0, sizeof *e);
}

int hflow_backend_embed(hflow_backend *b, const char *const *texts, int n, hflow_embeddings *out, hflow_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!b || !texts || n < 1 || !out) return hflow_error_set(err, HFLOW_EINVAL, "embed: no texts");
    for (int i = 0; i < n; i++)
        if (!texts[i]) return hflow_error_set(err, HFLOW_EINVAL, "embed: text %d is NULL", i);
    if (!b->embed) return hflow_error_set(err, HFLOW_EUNSUPPORTED, "backend %s has no embeddings", b->name);
    int rc = b->embed(b, texts, n, out, err);
    if (rc) hflow_embeddings_clear(out);
    return rc;
}

void hflow_copy_field(char *dst, size_t cap, const char *src) {
    if (!cap) return;
    size_t n = src ? strnlen(src, cap - 1) : 0;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

int hflow_estimate_tokens(const char *text, size_t len) {
    long words = 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        int space = text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r' ||
                    text[i] == '\v' || text[i] == '\f';
        if (!space && !in_word) words++;
        in_word = !space;
    }
    long t = (words * 4 + 2) / 3;
    return t > 0x7fffffff ? 0x7fffffff : (int)t;
}

static int is_http_endpoint(const char *e) {
    return strncasecmp(e, "http://", 7) == 0 || strncasecmp(e, "https://", 8) == 0;
}

int hflow_backend_open(const char *endpoint, const hflow_backend_options *opts, hflow_backend **out,
                       hflow_error *err) {
    if (!out) return hflow_error_set(err, HFLOW_EINVAL, "backend open: out is NULL");
    *out = NULL;
    if (!endpoint || !*endpoint) return hflow_error_set(err, HFLOW_EINVAL, "backend open: empty endpoint");
    hflow_backend_options o;
    if (opts) o = *opts;
    else hflow_backend_options_default(&o);
    if (!o.api_key_env || !*o.api_key_env) o.api_key_env = "OPENAI_API_KEY";
    if (o.n_parallel <= 0) o.n_parallel = 1;
    if (o.max_retries < 0) o.max_retries = 0;
    if (is_http_endpoint(endpoint)) return hflow_http_backend_open(endpoint, &o, out, err);
    if (strstr(endpoint, "://"))
        return hflow_error_set(err, HFLOW_EINVAL,
                               "backend open: unsupported scheme in '%s' (use http://, https:// or a .gguf path)",
                               endpoint);
    return hflow_local_backend_open(endpoint, &o, out, err);
}

void hflow_backend_free(hflow_backend *b) {
    if (b && b->vt && b->vt->destroy) b->vt->destroy(b);
}

const char *hflow_backend_name(const hflow_backend *b) { return b ? b->name : ""; }

const char *hflow_backend_model(const hflow_backend *b) { return b ? b->model : ""; }

int hflow_backend_has_grammar(const hflow_backend *b) { return b && (b->caps & HFLOW_BACKEND_CAP_GRAMMAR); }

static int check_request(const hflow_request *req, hflow_error *err) {
    int has_chat = req->messages && req->n_messages > 0;
    int has_prompt = req->prompt != NULL;
    if (has_chat == has_prompt)
        return hflow_error_set(err, HFLOW_EINVAL, "request needs exactly one of messages or prompt");
    for (int i = 0; has_chat && i < req->n_messages; i++)
        if (!req->messages[i].role || !req->messages[i].content)
            return hflow_error_set(err, HFLOW_EINVAL, "message %d has no role or content", i);
    if (req->n_stop < 0 || (req->n_stop > 0 && !req->stop))
        return hflow_error_set(err, HFLOW_EINVAL, "request stop list is inconsistent");
    return 0;
}

int hflow_backend_complete(hflow_backend *b, const hflow_request *req, hflow_response *resp, hflow_error *err) {
    if (!resp) return hflow_error_set(err, HFLOW_EINVAL, "backend complete: resp is NULL");
    memset(resp, 0, sizeof *resp);
    if (!b || !b->vt || !req) return hflow_error_set(err, HFLOW_EINVAL, "backend complete: NULL argument");
    int rc = check_request(req, err);
    if (rc) return rc;
    return b->vt->complete(b, req, resp, err);
}
