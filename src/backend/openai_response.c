/* openai_response.c - reading OpenAI-compatible responses, stream chunks and
 * error objects. Servers differ in small ways (see docs/BACKENDS.md): usage
 * may arrive in a final chunk with empty choices, in the last content chunk,
 * or not at all; content may be null; errors come in several shapes. The
 * functions here accept all of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "backend/backend_internal.h"
#include "backend/openai_wire.h"

void hflow_openai_normalize_finish(char *reason, size_t cap) {
    static const char *const to_stop[] = {"eos", "eos_token", "stop_sequence", "end_turn"};
    for (size_t i = 0; i < sizeof to_stop / sizeof to_stop[0]; i++)
        if (!strcmp(reason, to_stop[i])) hflow_copy_field(reason, cap, "stop");
    if (!strcmp(reason, "max_tokens")) hflow_copy_field(reason, cap, "length");
}

/* A token count from a peer: a number in [0, INT32_MAX] (a larger or
 * negative one is garbage, and casting it would be undefined behaviour). */
static int is_count(const cJSON *v) {
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 2147483647.0;
}

static void read_usage(const cJSON *root, hflow_openai_result *res) {
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (!cJSON_IsObject(u)) return;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
    if (!is_count(p) && !is_count(c)) return;
    res->has_usage = 1;
    if (is_count(p)) res->prompt_tokens = (int32_t)p->valuedouble;
    if (is_count(c)) res->completion_tokens = (int32_t)c->valuedouble;
}

/* Adds choices[0].logprobs of a response or chunk: chat's content[].logprob,
 * completions' token_logprobs[] (an echoed prompt token's null is skipped). */
static void read_logprobs(const cJSON *c0, hflow_openai_result *res) {
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(c0, "logprobs");
    if (!cJSON_IsObject(lp)) return;
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(lp, "content");
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(lp, "token_logprobs");
    const cJSON *e;
    if (cJSON_IsArray(content)) {
        cJSON_ArrayForEach(e, content) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "logprob");
            if (cJSON_IsNumber(v) && v->valuedouble <= 0) res->logprob_sum += v->valuedouble, res->logprob_n++;
        }
    } else if (cJSON_IsArray(tl)) {
        cJSON_ArrayForEach(e, tl) {
            if (cJSON_IsNumber(e) && e->valuedouble <= 0) res->logprob_sum += e->valuedouble, res->logprob_n++;
        }
    }
}

/* model, usage and choices[0].finish_reason; returns choices[0] or NULL. */
static const cJSON *read_common(const cJSON *root, hflow_openai_result *res) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (cJSON_IsString(model) && model->valuestring[0])
        hflow_copy_field(res->model, sizeof res->model, model->valuestring);
    read_usage(root, res);
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
    const cJSON *c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    if (!cJSON_IsObject(c0)) return NULL;
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");
    if (cJSON_IsString(fr) && fr->valuestring[0]) {
        hflow_copy_field(res->finish_reason, sizeof res->finish_reason, fr->valuestring);
        hflow_openai_normalize_finish(res->finish_reason, sizeof res->finish_reason);
    }
    read_logprobs(c0, res);
    return c0;
}

/* The text of choices[0]: message.content (chat), delta.content (chat
 * stream) or text (completions). NULL when absent or null. */
static const char *choice_text(const cJSON *c0, const char *container) {
    const cJSON *holder = cJSON_GetObjectItemCaseSensitive(c0, container);
    const cJSON *s = cJSON_IsObject(holder) ? cJSON_GetObjectItemCaseSensitive(holder, "content") : NULL;
    if (!cJSON_IsString(s)) s = cJSON_GetObjectItemCaseSensitive(c0, "text");
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

static int error_in(const cJSON *root, hflow_error *err, const char *body, size_t len) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, "object");
    int vllm_style = cJSON_IsString(obj) && !strcmp(obj->valuestring, "error");
    if (!e && !vllm_style) return 0;
    char msg[400];
    hflow_openai_error_text(body, len, msg, sizeof msg);
    return hflow_error_set(err, HFLOW_EHTTP, "server error: %s", msg);
}

int hflow_openai_parse_response(const char *body, size_t len, hflow_openai_result *res, char **text,
                                size_t *text_len, hflow_error *err) {
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return hflow_error_set(err, HFLOW_EFORMAT, "response is not a JSON object (%zu bytes)", len);
    }
    int rc = error_in(root, err, body, len);
    const cJSON *c0 = rc ? NULL : read_common(root, res);
    if (!rc && !c0) rc = hflow_error_set(err, HFLOW_EFORMAT, "response has no choices");
    const char *t = c0 ? choice_text(c0, "message") : NULL;
    if (t) {
        size_t n = strlen(t);
        char *grown = realloc(*text, *text_len + n + 1);
        if (!grown) {
            rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory reading the response");
        } else {
            memcpy(grown + *text_len, t, n + 1);
            *text = grown;
            *text_len += n;
        }
    }
    cJSON_Delete(root);
    return rc;
}

int hflow_openai_parse_chunk(const char *data, size_t len, hflow_openai_result *res, char **delta,
                             hflow_error *err) {
    *delta = NULL;
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        /* data need not be NUL-terminated: print at most len bytes */
        return hflow_error_set(err, HFLOW_EFORMAT, "stream chunk is not a JSON object: %.*s", (int)(len < 80 ? len : 80),
                               data);
    }
    int rc = error_in(root, err, data, len);
    const cJSON *c0 = rc ? NULL : read_common(root, res);
    const char *t = c0 ? choice_text(c0, "delta") : NULL;
    if (t && *t && !(*delta = strdup(t))) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    cJSON_Delete(root);
    return rc;
}

static void put_message(char *out, size_t cap, const char *msg, const cJSON *type) {
    if (cJSON_IsString(type) && type->valuestring[0])
        snprintf(out, cap, "%s (%s)", msg, type->valuestring);
    else
        snprintf(out, cap, "%s", msg);
}

void hflow_openai_error_text(const char *body, size_t len, char *out, size_t cap) {
    if (!cap) return;
    out[0] = '\0';
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *e = root ? cJSON_GetObjectItemCaseSensitive(root, "error") : NULL;
    const cJSON *msg = NULL;
    if (cJSON_IsString(e)) {
        snprintf(out, cap, "%s", e->valuestring);
    } else if (cJSON_IsObject(e) && cJSON_IsString(msg = cJSON_GetObjectItemCaseSensitive(e, "message"))) {
        put_message(out, cap, msg->valuestring, cJSON_GetObjectItemCaseSensitive(e, "type"));
    } else if (cJSON_IsObject(root) && cJSON_IsString(msg = cJSON_GetObjectItemCaseSensitive(root, "message"))) {
        put_message(out, cap, msg->valuestring, cJSON_GetObjectItemCaseSensitive(root, "type"));
    } else if (cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "detail")) {
        char *d = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, "detail"));
        snprintf(out, cap, "%s", d ? d : "(unprintable detail)");
        free(d);
    } else if (body && len) {
        /* Not JSON (a proxy's HTML page, plain text): show its start, on one line. */
        size_t n = len < cap - 1 ? len : cap - 1;
        if (n > 200) n = 200;
        for (size_t i = 0; i < n; i++) out[i] = (body[i] == '\n' || body[i] == '\r') ? ' ' : body[i];
        out[n] = '\0';
    } else {
        snprintf(out, cap, "(empty body)");
    }
    cJSON_Delete(root);
}
