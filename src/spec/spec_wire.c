/* spec_wire.c - encoding and strict decoding of the spec protocol's messages. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "spec/spec_wire.h"

void hflow_spec_wire_put_verify_request(hflow_strbuf *b, const int32_t *draft, int32_t k, const hflow_spec_draft_dist *q) {
    hflow_strbuf_puts(b, "{\"draft\":[");
    for (int32_t i = 0; i < k; i++) hflow_strbuf_printf(b, "%s%d", i ? "," : "", draft[i]);
    hflow_strbuf_puts(b, "]");
    if (q) {
        hflow_strbuf_puts(b, ",\"q\":[");
        for (int32_t i = 0; i < k; i++) {
            hflow_strbuf_puts(b, i ? ",{\"ids\":[" : "{\"ids\":[");
            for (int32_t j = 0; j < q[i].n; j++) hflow_strbuf_printf(b, "%s%d", j ? "," : "", q[i].ids[j]);
            hflow_strbuf_puts(b, "],\"p\":[");
            /* %.9g round-trips a float exactly: the target must see the draft's exact q */
            for (int32_t j = 0; j < q[i].n; j++) hflow_strbuf_printf(b, "%s%.9g", j ? "," : "", (double)q[i].probs[j]);
            hflow_strbuf_puts(b, "]}");
        }
        hflow_strbuf_puts(b, "]");
    }
    hflow_strbuf_puts(b, "}");
}

static int get_int_array(const cJSON *arr, int32_t *out, int32_t max, int32_t *n, const char *what, hflow_error *err) {
    if (!cJSON_IsArray(arr)) return hflow_error_set(err, HFLOW_EINVAL, "'%s' must be an array", what);
    int32_t c = cJSON_GetArraySize(arr);
    if (c > max) return hflow_error_set(err, HFLOW_EINVAL, "'%s' has %d entries (at most %d)", what, c, max);
    int32_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < 0 || e->valuedouble > 2147483647.0)
            return hflow_error_set(err, HFLOW_EINVAL, "'%s'[%d] is not a token id", what, i);
        out[i] = (int32_t)e->valuedouble;
    }
    *n = c;
    return 0;
}

static int get_dist(const cJSON *o, hflow_spec_draft_dist *d, int idx, hflow_error *err) {
    if (!cJSON_IsObject(o)) return hflow_error_set(err, HFLOW_EINVAL, "q[%d] must be an object", idx);
    int32_t n_ids = 0;
    int rc = get_int_array(cJSON_GetObjectItemCaseSensitive(o, "ids"), d->ids, HFLOW_SPEC_MAX_TOPK, &n_ids, "q.ids", err);
    if (rc) return rc;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "p");
    if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != n_ids || n_ids < 1)
        return hflow_error_set(err, HFLOW_EINVAL, "q[%d].p must be a non-empty array as long as q[%d].ids", idx, idx);
    double sum = 0;
    int j = 0;
    for (const cJSON *e = p->child; e; e = e->next, j++) {
        if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0) || e->valuedouble > 1)
            return hflow_error_set(err, HFLOW_EINVAL, "q[%d].p[%d] is not a probability", idx, j);
        d->probs[j] = (float)e->valuedouble;
        sum += e->valuedouble;
    }
    if (fabs(sum - 1.0) > 1e-3) return hflow_error_set(err, HFLOW_EINVAL, "q[%d].p sums to %g, not 1", idx, sum);
    d->n = n_ids;
    return 0;
}

int hflow_spec_wire_get_verify_request(const char *json, size_t len, int32_t *draft, int32_t *k,
                                       hflow_spec_draft_dist *q, int *has_q, hflow_error *err) {
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return hflow_error_set(err, HFLOW_EINVAL, "verify request is not a JSON object");
    }
    int rc = get_int_array(cJSON_GetObjectItemCaseSensitive(root, "draft"), draft, HFLOW_SPEC_MAX_K, k, "draft", err);
    const cJSON *qa = cJSON_GetObjectItemCaseSensitive(root, "q");
    *has_q = qa != NULL && !cJSON_IsNull(qa);
    if (!rc && *has_q) {
        if (!cJSON_IsArray(qa) || cJSON_GetArraySize(qa) != *k)
            rc = hflow_error_set(err, HFLOW_EINVAL, "'q' must be an array with one entry per draft token");
        int i = 0;
        for (const cJSON *e = qa ? qa->child : NULL; !rc && e; e = e->next, i++) rc = get_dist(e, &q[i], i, err);
    }
    for (const cJSON *e = root->child; !rc && e; e = e->next)
        if (strcmp(e->string, "draft") && strcmp(e->string, "q"))
            rc = hflow_error_set(err, HFLOW_EINVAL, "unknown field '%s' in verify request", e->string);
    cJSON_Delete(root);
    return rc;
}

void hflow_spec_wire_put_verify_response(hflow_strbuf *b, const hflow_spec_verdict *v, double forward_s, int32_t n_tokens) {
    hflow_strbuf_printf(b, "{\"accepted\":%d,\"token\":%d,\"forward_ms\":%.3f,\"n_tokens\":%d}", v->n_accepted,
                        v->next_token, forward_s * 1000.0, n_tokens);
}

int hflow_spec_wire_get_verify_response(const char *json, size_t len, hflow_spec_verdict *v, double *forward_s,
                                        hflow_error *err) {
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "accepted");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "token");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "forward_ms");
    int rc = 0;
    if (!cJSON_IsNumber(a) || !cJSON_IsNumber(t) || a->valuedouble < 0 || t->valuedouble < 0)
        rc = hflow_error_set(err, HFLOW_EINVAL, "verify response lacks 'accepted'/'token'");
    else {
        v->n_accepted = (int32_t)a->valuedouble;
        v->next_token = (int32_t)t->valuedouble;
        if (forward_s) *forward_s = cJSON_IsNumber(f) ? f->valuedouble / 1000.0 : 0.0;
    }
    cJSON_Delete(root);
    return rc;
}
