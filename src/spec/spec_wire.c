/* spec_wire.c - encoding and strict decoding of the spec protocol's messages. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
    /* integers in int32 range: converting a larger double would be undefined */
    if (!cJSON_IsNumber(a) || !cJSON_IsNumber(t) || !(a->valuedouble >= 0 && a->valuedouble <= 2147483647.0) ||
        !(t->valuedouble >= 0 && t->valuedouble <= 2147483647.0))
        rc = hflow_error_set(err, HFLOW_EINVAL, "verify response lacks 'accepted'/'token' (integers >= 0)");
    else {
        v->n_accepted = (int32_t)a->valuedouble;
        v->next_token = (int32_t)t->valuedouble;
        if (forward_s) *forward_s = cJSON_IsNumber(f) ? f->valuedouble / 1000.0 : 0.0;
    }
    cJSON_Delete(root);
    return rc;
}

void hflow_spec_wire_put_create_request(hflow_strbuf *b, const char *model, const int32_t *ids, int32_t n,
                                        const hflow_spec_params *p, uint64_t draft_tokenizer_fp) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", model ? model : "");
    cJSON *arr = cJSON_AddArrayToObject(root, "prompt_ids");
    for (int32_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
    cJSON_AddNumberToObject(root, "temperature", p->temperature);
    cJSON_AddNumberToObject(root, "top_k", p->top_k);
    cJSON_AddNumberToObject(root, "top_p", p->top_p);
    cJSON_AddNumberToObject(root, "seed", (double)(p->seed & ((1ull << 53) - 1)));
    cJSON_AddNumberToObject(root, "draft_top_k", p->draft_top_k);
    if (draft_tokenizer_fp) {
        char hex[24];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)draft_tokenizer_fp);
        cJSON_AddStringToObject(root, "draft_tokenizer_fp", hex);
    }
    char *s = cJSON_PrintUnformatted(root);
    if (s) hflow_strbuf_puts(b, s);
    else b->oom = 1;
    cJSON_free(s);
    cJSON_Delete(root);
}

void hflow_spec_create_req_free(hflow_spec_create_req *r) {
    free(r->prompt_ids);
    free(r->prompt_text);
    r->prompt_ids = NULL;
    r->prompt_text = NULL;
}

static int parse_hex64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsString(v)) return -1;
    const char *s = v->valuestring;
    size_t n = strlen(s);
    if (n == 0 || n > 16) return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        x = x << 4 | (uint64_t)d;
    }
    *out = x;
    return 0;
}

static int get_num(const cJSON *v, double lo, double hi, double *out) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) return -1;
    *out = v->valuedouble;
    return 0;
}

static int create_field(const cJSON *e, hflow_spec_create_req *r, hflow_error *err) {
    const char *k = e->string;
    double d = 0;
    /* JSON allows a key twice; a second prompt would leak the first */
    if ((!strcmp(k, "prompt_ids") && r->prompt_ids) || (!strcmp(k, "prompt") && r->prompt_text))
        return hflow_error_set(err, HFLOW_EINVAL, "'%s' given twice in spec session request", k);
    if (!strcmp(k, "model")) {
        if (!cJSON_IsString(e) || strlen(e->valuestring) >= sizeof r->model) goto bad;
        snprintf(r->model, sizeof r->model, "%s", e->valuestring);
    } else if (!strcmp(k, "prompt_ids")) {
        int32_t n = cJSON_IsArray(e) ? cJSON_GetArraySize(e) : -1;
        if (n < 1) return hflow_error_set(err, HFLOW_EINVAL, "'prompt_ids' must be a non-empty array of token ids");
        r->prompt_ids = malloc((size_t)n * sizeof(int32_t));
        if (!r->prompt_ids) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
        return get_int_array(e, r->prompt_ids, n, &r->n_prompt_ids, "prompt_ids", err);
    } else if (!strcmp(k, "prompt")) {
        if (!cJSON_IsString(e) || !*e->valuestring) goto bad;
        r->prompt_text = strdup(e->valuestring);
        if (!r->prompt_text) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    } else if (!strcmp(k, "temperature")) {
        if (get_num(e, 0, 100, &d)) goto bad;
        r->params.temperature = (float)d;
    } else if (!strcmp(k, "top_k")) {
        if (get_num(e, 0, 1e9, &d) || d != floor(d)) goto bad;
        r->params.top_k = (int32_t)d;
    } else if (!strcmp(k, "top_p")) {
        if (get_num(e, 0, 1, &d) || d <= 0) goto bad;
        r->params.top_p = (float)d;
    } else if (!strcmp(k, "seed")) {
        if (get_num(e, 0, 9007199254740992.0, &d) || d != floor(d)) goto bad;
        r->params.seed = (uint64_t)d;
    } else if (!strcmp(k, "draft_top_k")) {
        if (get_num(e, 1, HFLOW_SPEC_MAX_TOPK, &d) || d != floor(d)) goto bad;
        r->params.draft_top_k = (int32_t)d;
    } else if (!strcmp(k, "draft_tokenizer_fp")) {
        if (parse_hex64(e, &r->draft_tokenizer_fp)) goto bad;
        r->has_draft_fp = 1;
    } else {
        return hflow_error_set(err, HFLOW_EINVAL, "unknown field '%s' in spec session request", k);
    }
    return 0;
bad:
    return hflow_error_set(err, HFLOW_EINVAL, "bad value for '%s' in spec session request", k);
}

int hflow_spec_wire_get_create_request(const char *json, size_t len, hflow_spec_create_req *out, hflow_error *err) {
    memset(out, 0, sizeof *out);
    hflow_spec_params_default(&out->params);
    cJSON *root = cJSON_ParseWithLength(json, len);
    int rc = 0;
    if (!root || !cJSON_IsObject(root)) rc = hflow_error_set(err, HFLOW_EINVAL, "spec session request is not a JSON object");
    for (const cJSON *e = root && !rc ? root->child : NULL; e && !rc; e = e->next) rc = create_field(e, out, err);
    if (!rc && !out->model[0]) rc = hflow_error_set(err, HFLOW_EINVAL, "'model' is required");
    if (!rc && !out->prompt_ids == !out->prompt_text)
        rc = hflow_error_set(err, HFLOW_EINVAL, "give exactly one of 'prompt' (text) and 'prompt_ids'");
    cJSON_Delete(root);
    if (rc) hflow_spec_create_req_free(out);
    return rc;
}

void hflow_spec_wire_put_create_response(hflow_strbuf *b, const hflow_spec_session_info *info, int32_t n_tokens) {
    cJSON *root = cJSON_CreateObject();
    char hex[24];
    cJSON_AddStringToObject(root, "id", info->session_id);
    cJSON_AddStringToObject(root, "model", info->model);
    cJSON_AddStringToObject(root, "version", info->version);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)info->tokenizer_fp);
    cJSON_AddStringToObject(root, "tokenizer_fp", hex);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)info->backbone_fp);
    cJSON_AddStringToObject(root, "backbone_fp", hex);
    cJSON_AddNumberToObject(root, "n_tokens", n_tokens);
    char *s = cJSON_PrintUnformatted(root);
    if (s) hflow_strbuf_puts(b, s);
    else b->oom = 1;
    cJSON_free(s);
    cJSON_Delete(root);
}

static void copy_str(const cJSON *root, const char *key, char *dst, size_t cap) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    snprintf(dst, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

int hflow_spec_wire_get_create_response(const char *json, size_t len, hflow_spec_session_info *info, hflow_error *err) {
    memset(info, 0, sizeof *info);
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    int rc = 0;
    if (!cJSON_IsString(id) || !*id->valuestring || strlen(id->valuestring) >= sizeof info->session_id ||
        strchr(id->valuestring, '/'))
        rc = hflow_error_set(err, HFLOW_EFORMAT, "spec session response lacks a usable 'id'");
    else {
        copy_str(root, "id", info->session_id, sizeof info->session_id);
        copy_str(root, "model", info->model, sizeof info->model);
        copy_str(root, "version", info->version, sizeof info->version);
        if (parse_hex64(cJSON_GetObjectItemCaseSensitive(root, "tokenizer_fp"), &info->tokenizer_fp)) info->tokenizer_fp = 0;
        if (parse_hex64(cJSON_GetObjectItemCaseSensitive(root, "backbone_fp"), &info->backbone_fp)) info->backbone_fp = 0;
    }
    cJSON_Delete(root);
    return rc;
}
