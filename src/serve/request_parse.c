/* request_parse.c - cJSON-based strict parsing of chat, completion, tokenize,
 * detokenize and embeddings bodies. Each field has one small validator; the object walk
 * rejects any key no validator claims. */
#include "serve/request_parse.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hybridflow/grammar.h"
#include "hybridflow/sample.h"

static int fail(serve_parse_error *pe, const char *param, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(serve_parse_error *pe, const char *param, const char *fmt, ...) {
    snprintf(pe->param, sizeof pe->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pe->message, sizeof pe->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- typed getters: each fails with a message naming the parameter ---- */

static int get_bool(const cJSON *v, const char *name, int *out, serve_parse_error *pe) {
    if (!cJSON_IsBool(v)) return fail(pe, name, "'%s' must be a boolean", name);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int get_num(const cJSON *v, const char *name, double lo, double hi, double *out, serve_parse_error *pe) {
    if (!cJSON_IsNumber(v)) return fail(pe, name, "'%s' must be a number", name);
    double d = v->valuedouble;
    if (!isfinite(d) || d < lo || d > hi) return fail(pe, name, "'%s' must be between %g and %g", name, lo, hi);
    *out = d;
    return 0;
}

static int get_int(const cJSON *v, const char *name, double lo, double hi, long long *out, serve_parse_error *pe) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return fail(pe, name, "'%s' must be an integer", name);
    double d = v->valuedouble;
    if (d < lo || d > hi) return fail(pe, name, "'%s' must be between %.0f and %.0f", name, lo, hi);
    *out = (long long)d;
    return 0;
}

static int get_str(const cJSON *v, const char *name, char **out, serve_parse_error *pe) {
    if (!cJSON_IsString(v)) return fail(pe, name, "'%s' must be a string", name);
    free(*out);
    *out = strdup(v->valuestring);
    return *out ? 0 : fail(pe, name, "out of memory");
}

/* Duplicate keys are legal JSON but ambiguous (which one wins?), so they are refused.
 * No object we accept has more than a few dozen fields; refusing more first keeps
 * this check from going quadratic on a hostile body (1M keys fit in 8 MB). */
#define SERVE_MAX_FIELDS 64
static int duplicate_key(const cJSON *obj, serve_parse_error *pe) {
    int n = 0;
    for (const cJSON *a = obj->child; a; a = a->next)
        if (++n > SERVE_MAX_FIELDS) return fail(pe, "", "more than %d fields in one object", SERVE_MAX_FIELDS);
    for (const cJSON *a = obj->child; a; a = a->next)
        for (const cJSON *b = obj->child; b != a; b = b->next)
            if (a->string && b->string && !strcmp(a->string, b->string))
                return fail(pe, a->string, "field '%s' appears more than once", a->string);
    return 0;
}

static cJSON *parse_object(const char *body, size_t len, serve_parse_error *pe) {
    if (!len) {
        fail(pe, "", "the request body is empty; a JSON object is expected");
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        fail(pe, "", "malformed JSON near byte %zu", end ? (size_t)(end - body) : (size_t)0);
        return NULL;
    }
    while (end && (size_t)(end - body) < len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')) end++;
    if (end && (size_t)(end - body) < len) {
        fail(pe, "", "trailing data after the JSON object at byte %zu", (size_t)(end - body));
    } else if (!cJSON_IsObject(root)) {
        fail(pe, "", "the request body must be a JSON object");
    } else if (!duplicate_key(root, pe)) {
        return root;
    }
    cJSON_Delete(root);
    return NULL;
}

/* ---- fields shared by chat and completions ---- */

static int parse_stop(const cJSON *v, serve_gen_request *r, serve_parse_error *pe) {
    if (cJSON_IsString(v)) {
        if (!*v->valuestring) return fail(pe, "stop", "'stop' strings must not be empty");
        r->stop[0] = strdup(v->valuestring);
        r->n_stop = r->stop[0] ? 1 : 0;
        return r->n_stop ? 0 : fail(pe, "stop", "out of memory");
    }
    if (!cJSON_IsArray(v)) return fail(pe, "stop", "'stop' must be a string or an array of strings");
    if (cJSON_GetArraySize(v) > SERVE_MAX_STOP) return fail(pe, "stop", "at most %d stop strings", SERVE_MAX_STOP);
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsString(e) || !*e->valuestring)
            return fail(pe, "stop", "'stop' array elements must be non-empty strings");
        if (!(r->stop[r->n_stop] = strdup(e->valuestring))) return fail(pe, "stop", "out of memory");
        r->n_stop++;
    }
    return 0;
}

static int parse_stream_options(const cJSON *v, serve_gen_request *r, serve_parse_error *pe) {
    if (!cJSON_IsObject(v)) return fail(pe, "stream_options", "'stream_options' must be an object");
    if (duplicate_key(v, pe)) return -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!strcmp(e->string, "include_usage")) {
            if (get_bool(e, "stream_options.include_usage", &r->include_usage, pe)) return -1;
        } else if (strcmp(e->string, "continuous_usage_stats") != 0) {
            return fail(pe, "stream_options", "unknown field 'stream_options.%s'", e->string);
        }
    }
    return 0;
}

/* Accepts a parameter only at its neutral value: silently ignoring a
 * non-neutral penalty or bias would change results behind the caller's back. */
#define MAX_LOGIT_BIAS 1024

/* {"123": -100, ...}: keys are token ids in decimal, values -100..100. */
static int parse_logit_bias(const cJSON *v, serve_gen_request *r, serve_parse_error *pe) {
    const char *k = "logit_bias";
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsObject(v)) return fail(pe, k, "'logit_bias' must be an object mapping token ids to biases");
    if (n > MAX_LOGIT_BIAS) return fail(pe, k, "'logit_bias' has %d entries; at most %d are accepted", n, MAX_LOGIT_BIAS);
    if (n == 0) return 0;
    free(r->logit_bias);
    r->n_logit_bias = 0;
    if (!(r->logit_bias = malloc((size_t)n * sizeof *r->logit_bias))) return fail(pe, k, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        char *end = NULL;
        long id = strtol(e->string, &end, 10);
        if (!isdigit((unsigned char)e->string[0]) || *end || id > INT32_MAX)
            return fail(pe, k, "'logit_bias' key '%.20s' is not a token id", e->string);
        double d = 0;
        if (get_num(e, k, -100, 100, &d, pe)) return -1;
        r->logit_bias[r->n_logit_bias++] = (hflow_logit_bias){(int32_t)id, (float)d};
    }
    return 0;
}

/* Our extension: the name of a built-in constraint. llama.cpp's server takes
 * GBNF text in a field of the same name; such text is not one of our names
 * and is refused here rather than ignored. */
static int parse_grammar(const cJSON *v, serve_gen_request *r, serve_parse_error *pe) {
    if (!cJSON_IsString(v))
        return fail(pe, "grammar", "'grammar' must be a string naming a built-in constraint (plan, plan:N, json)");
    hflow_error e;
    if (hflow_grammar_parse_name(v->valuestring, NULL, &e)) {
        if (strstr(v->valuestring, "::=") || strlen(v->valuestring) > 64) /* GBNF or the like: quote its start */
            return fail(pe, "grammar", "unknown grammar '%.40s%s' (built-in: plan, plan:N, json; GBNF text is not accepted)",
                        v->valuestring, strlen(v->valuestring) > 40 ? "..." : "");
        return fail(pe, "grammar", "%s", e.message);
    }
    return get_str(v, "grammar", &r->grammar, pe);
}

/* Returns 1 when the key was handled, 0 when it is not a common field, -1 on error. */
static int parse_common(const char *k, const cJSON *v, serve_gen_request *r, serve_parse_error *pe) {
    double d = 0;
    long long i = 0;
    if (!strcmp(k, "model")) return get_str(v, k, &r->model, pe) ? -1 : 1;
    if (!strcmp(k, "max_tokens") || !strcmp(k, "max_completion_tokens")) {
        if (get_int(v, k, r->kind == SERVE_COMPLETION ? 0 : 1, 1 << 30, &i, pe)) return -1;
        r->max_tokens = (int32_t)i;
        return 1;
    }
    if (!strcmp(k, "temperature")) { if (get_num(v, k, 0, 2, &d, pe)) return -1; r->temperature = (float)d; r->has_temperature = 1; return 1; }
    if (!strcmp(k, "top_p")) {
        if (get_num(v, k, 0, 1, &d, pe)) return -1;
        if (d <= 0) return fail(pe, k, "'top_p' must be greater than 0");
        r->top_p = (float)d;
        return 1;
    }
    if (!strcmp(k, "top_k")) { if (get_int(v, k, 0, 1 << 20, &i, pe)) return -1; r->top_k = (int)i; return 1; }
    if (!strcmp(k, "min_p")) { if (get_num(v, k, 0, 1, &d, pe)) return -1; r->min_p = (float)d; return 1; }
    if (!strcmp(k, "repeat_penalty")) {
        if (get_num(v, k, 0.01, 10, &d, pe)) return -1;
        r->repeat_penalty = (float)d;
        return 1;
    }
    if (!strcmp(k, "seed")) {
        /* Any 64-bit integer (signed or not). cJSON reads numbers as doubles,
         * so seeds above 2^53 are rounded - the same way every time. */
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < -9223372036854775808.0 ||
            v->valuedouble > 18446744073709551616.0)
            return fail(pe, k, "'seed' must be a 64-bit integer");
        r->has_seed = 1;
        if (v->valuedouble < 0) r->seed = (uint64_t)(int64_t)v->valuedouble;
        else if (v->valuedouble >= 18446744073709551615.0) r->seed = UINT64_MAX; /* 2^64 - 1 reads as 2^64 */
        else r->seed = (uint64_t)v->valuedouble;
        return 1;
    }
    if (!strcmp(k, "stop")) return parse_stop(v, r, pe) ? -1 : 1;
    if (!strcmp(k, "n")) {
        if (get_int(v, k, 1, SERVE_MAX_N, &i, pe)) return -1;
        r->n = (int)i;
        return 1;
    }
    if (!strcmp(k, "best_of")) { /* checked against n once every field is read */
        if (get_int(v, k, 1, SERVE_MAX_N, &i, pe)) return -1;
        r->best_of = (int)i;
        return 1;
    }
    if (!strcmp(k, "stream")) return get_bool(v, k, &r->stream, pe) ? -1 : 1;
    if (!strcmp(k, "ignore_eos")) return get_bool(v, k, &r->ignore_eos, pe) ? -1 : 1;
    if (!strcmp(k, "stream_options")) return parse_stream_options(v, r, pe) ? -1 : 1;
    if (!strcmp(k, "grammar")) return parse_grammar(v, r, pe) ? -1 : 1;
    if (!strcmp(k, "user")) { char *u = NULL; int rc = get_str(v, k, &u, pe); free(u); return rc ? -1 : 1; }
    if (!strcmp(k, "presence_penalty")) {
        if (get_num(v, k, -2, 2, &d, pe)) return -1;
        r->presence_penalty = (float)d;
        return 1;
    }
    if (!strcmp(k, "frequency_penalty")) {
        if (get_num(v, k, -2, 2, &d, pe)) return -1;
        r->frequency_penalty = (float)d;
        return 1;
    }
    if (!strcmp(k, "logit_bias")) return parse_logit_bias(v, r, pe) ? -1 : 1;
    return 0;
}

static void defaults(serve_gen_request *r, int kind) {
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->max_tokens = -1;
    r->n = 1;
    r->temperature = 1.0f;
    r->top_p = 1.0f;
    r->repeat_penalty = 1.0f;
    r->logprobs = kind == SERVE_COMPLETION ? -1 : 0;
}

/* Walks the object: common fields, then the kind-specific `own` parser. */
typedef int (*own_field_fn)(const char *k, const cJSON *v, serve_gen_request *r, serve_parse_error *pe);

static int walk(const cJSON *root, serve_gen_request *r, own_field_fn own, serve_parse_error *pe) {
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        if (cJSON_IsNull(v)) continue;
        int rc = parse_common(v->string, v, r, pe);
        if (rc == 0) rc = own(v->string, v, r, pe);
        if (rc < 0) return -1;
        if (rc == 0) return fail(pe, v->string, "Unrecognized request argument supplied: %s", v->string);
    }
    if (!r->model) return fail(pe, "model", "'model' is required");
    if (r->best_of && r->best_of != r->n)
        return fail(pe, "best_of", "'best_of' must equal 'n' (%d): ranking extra candidates is not supported", r->n);
    if (r->include_usage && !r->stream)
        return fail(pe, "stream_options", "'stream_options' is only allowed when 'stream' is true");
    return 0;
}

/* ---- chat ---- */

/* content: a string, or an array of {"type":"text","text":...} parts (joined). */
static int parse_content(const cJSON *v, int idx, char **out, serve_parse_error *pe) {
    char param[64];
    snprintf(param, sizeof param, "messages[%d].content", idx);
    if (cJSON_IsString(v)) return get_str(v, param, out, pe);
    if (!cJSON_IsArray(v)) return fail(pe, param, "'%s' must be a string or an array of text parts", param);
    size_t total = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, v) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsObject(p) || !cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0 ||
            !cJSON_IsString(text))
            return fail(pe, param, "'%s' parts must be {\"type\":\"text\",\"text\":...}", param);
        total += strlen(text->valuestring);
    }
    char *s = malloc(total + 1);
    if (!s) return fail(pe, param, "out of memory");
    s[0] = '\0';
    cJSON_ArrayForEach(p, v) strcat(s, cJSON_GetObjectItemCaseSensitive(p, "text")->valuestring);
    free(*out);
    *out = s;
    return 0;
}

static int parse_message(const cJSON *m, int idx, serve_message *out, serve_parse_error *pe) {
    char param[64];
    snprintf(param, sizeof param, "messages[%d]", idx);
    if (!cJSON_IsObject(m)) return fail(pe, param, "'%s' must be an object", param);
    if (duplicate_key(m, pe)) return -1;
    static const char *roles[] = {"system", "developer", "user", "assistant"};
    const cJSON *v;
    cJSON_ArrayForEach(v, m) {
        if (!strcmp(v->string, "role")) {
            if (!cJSON_IsString(v)) return fail(pe, param, "'%s.role' must be a string", param);
            int ok = 0;
            for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) ok |= !strcmp(v->valuestring, roles[i]);
            if (!ok) return fail(pe, param, "'%s.role' must be system, developer, user or assistant", param);
            if (!(out->role = strdup(v->valuestring))) return fail(pe, param, "out of memory");
        } else if (!strcmp(v->string, "content")) {
            if (parse_content(v, idx, &out->content, pe)) return -1;
        } else if (strcmp(v->string, "name") != 0) {
            return fail(pe, param, "unknown field '%s.%s'", param, v->string);
        }
    }
    if (!out->role) return fail(pe, param, "'%s.role' is required", param);
    if (!out->content) return fail(pe, param, "'%s.content' is required", param);
    return 0;
}

static int parse_messages(const cJSON *v, serve_gen_request *r, serve_parse_error *pe) {
    if (!cJSON_IsArray(v)) return fail(pe, "messages", "'messages' must be an array");
    int n = cJSON_GetArraySize(v);
    if (n == 0) return fail(pe, "messages", "'messages' must contain at least one message");
    if (r->messages) return fail(pe, "messages", "'messages' given twice");
    r->messages = calloc((size_t)n, sizeof *r->messages);
    if (!r->messages) return fail(pe, "messages", "out of memory");
    r->n_messages = n;
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, v) {
        if (parse_message(m, i, &r->messages[i], pe)) return -1;
        i++;
    }
    return 0;
}

/* Fields of OpenAI's chat API that clients send by default or out of habit and
 * that change nothing here: accepted (checked for type) and ignored, rather
 * than refused as unknown. Function calling is not supported, so `tools` is
 * only accepted empty, and `tool_choice` only as "none" or "auto" (which,
 * without tools, both mean a plain answer); anything else is a 400 that says
 * so instead of "unrecognized". Returns 1, 0 (not one of them) or -1. */
static int chat_noop_field(const char *k, const cJSON *v, serve_parse_error *pe) {
    int b = 0;
    if (!strcmp(k, "store") || !strcmp(k, "parallel_tool_calls")) return get_bool(v, k, &b, pe) ? -1 : 1;
    if (!strcmp(k, "service_tier")) {
        if (!cJSON_IsString(v)) return fail(pe, k, "'%s' must be a string", k);
        return 1;
    }
    if (!strcmp(k, "metadata")) {
        if (!cJSON_IsObject(v)) return fail(pe, k, "'metadata' must be an object of strings");
        const cJSON *e;
        cJSON_ArrayForEach(e, v) if (!cJSON_IsString(e)) return fail(pe, k, "'metadata' must be an object of strings");
        return 1;
    }
    if (!strcmp(k, "tools")) {
        if (!cJSON_IsArray(v)) return fail(pe, k, "'tools' must be an array");
        if (cJSON_GetArraySize(v) > 0)
            return fail(pe, k, "'tools' (function calling) is not supported by this server; send no tools");
        return 1;
    }
    if (!strcmp(k, "tool_choice")) {
        if (cJSON_IsString(v) && (!strcmp(v->valuestring, "none") || !strcmp(v->valuestring, "auto"))) return 1;
        return fail(pe, k, "'tool_choice' may only be \"none\" or \"auto\": function calling is not supported");
    }
    return 0;
}

static int chat_field(const char *k, const cJSON *v, serve_gen_request *r, serve_parse_error *pe) {
    long long i = 0;
    int rc = chat_noop_field(k, v, pe);
    if (rc) return rc;
    if (!strcmp(k, "messages")) return parse_messages(v, r, pe) ? -1 : 1;
    if (!strcmp(k, "logprobs")) return get_bool(v, k, &r->logprobs, pe) ? -1 : 1;
    if (!strcmp(k, "top_logprobs")) {
        if (get_int(v, k, 0, HFLOW_MAX_TOP_LOGPROBS, &i, pe)) return -1;
        r->top_logprobs = (int)i;
        return 1;
    }
    if (!strcmp(k, "response_format")) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "type");
        int one = cJSON_IsObject(v) && cJSON_IsString(t) && cJSON_GetArraySize(v) == 1;
        if (one && !strcmp(t->valuestring, "text")) return 1;
        if (one && !strcmp(t->valuestring, "json_object")) {
            r->json_object = 1; /* becomes the "json" grammar once every field is read */
            return 1;
        }
        return fail(pe, k, "'response_format' must be {\"type\":\"text\"} or {\"type\":\"json_object\"} "
                           "(json_schema is not supported)");
    }
    return 0;
}

int serve_parse_chat(const char *body, size_t len, serve_gen_request *r, serve_parse_error *pe) {
    defaults(r, SERVE_CHAT);
    cJSON *root = parse_object(body, len, pe);
    if (!root) return -1;
    int rc = walk(root, r, chat_field, pe);
    cJSON_Delete(root);
    if (rc) return -1;
    if (!r->messages) return fail(pe, "messages", "'messages' is required");
    if (r->json_object) {
        if (r->grammar) return fail(pe, "response_format", "'response_format' json_object and 'grammar' exclude each other");
        if (!(r->grammar = strdup("json"))) return fail(pe, "response_format", "out of memory");
    }
    if (r->top_logprobs > 0 && !r->logprobs)
        return fail(pe, "top_logprobs", "'top_logprobs' requires 'logprobs': true");
    return 0;
}

/* ---- completions ---- */

static int parse_ids(const cJSON *v, const char *name, int32_t **ids, int *n, serve_parse_error *pe) {
    int cnt = cJSON_GetArraySize(v);
    if (cnt == 0) return fail(pe, name, "'%s' must not be empty", name);
    *ids = malloc((size_t)cnt * sizeof **ids);
    if (!*ids) return fail(pe, name, "out of memory");
    *n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        long long id = 0;
        if (get_int(e, name, 0, INT32_MAX, &id, pe)) {
            snprintf(pe->message, sizeof pe->message, "'%s' must be an array of non-negative integer token ids", name);
            return -1;
        }
        (*ids)[(*n)++] = (int32_t)id;
    }
    return 0;
}

/* prompt: "text", [ids...], or a batch of exactly one of those. */
static int parse_prompt(const cJSON *v, serve_gen_request *r, serve_parse_error *pe) {
    if (cJSON_IsString(v)) return get_str(v, "prompt", &r->prompt, pe);
    if (!cJSON_IsArray(v)) return fail(pe, "prompt", "'prompt' must be a string or an array of token ids");
    const cJSON *first = v->child;
    if (first && (cJSON_IsString(first) || cJSON_IsArray(first))) {
        if (cJSON_GetArraySize(v) != 1) return fail(pe, "prompt", "only one prompt per request is supported");
        return parse_prompt(first, r, pe);
    }
    return parse_ids(v, "prompt", &r->prompt_ids, &r->n_prompt_ids, pe);
}

static int completion_field(const char *k, const cJSON *v, serve_gen_request *r, serve_parse_error *pe) {
    long long i = 0;
    if (!strcmp(k, "prompt")) return parse_prompt(v, r, pe) ? -1 : 1;
    if (!strcmp(k, "echo")) return get_bool(v, k, &r->echo, pe) ? -1 : 1;
    if (!strcmp(k, "return_tokens_as_token_ids")) return get_bool(v, k, &r->ids_as_tokens, pe) ? -1 : 1;
    if (!strcmp(k, "logprobs")) {
        if (get_int(v, k, 0, HFLOW_MAX_TOP_LOGPROBS, &i, pe)) return -1;
        r->logprobs = (int)i;
        return 1;
    }
    if (!strcmp(k, "suffix")) return fail(pe, k, "'suffix' is not supported");
    return 0;
}

int serve_parse_completion(const char *body, size_t len, serve_gen_request *r, serve_parse_error *pe) {
    defaults(r, SERVE_COMPLETION);
    cJSON *root = parse_object(body, len, pe);
    if (!root) return -1;
    int rc = walk(root, r, completion_field, pe);
    cJSON_Delete(root);
    if (rc) return -1;
    if (!r->prompt && !r->prompt_ids) return fail(pe, "prompt", "'prompt' is required");
    if (r->logprobs >= 0) r->top_logprobs = r->logprobs;
    return 0;
}

void serve_gen_request_free(serve_gen_request *r) {
    free(r->model);
    for (int i = 0; i < r->n_messages; i++) {
        free(r->messages[i].role);
        free(r->messages[i].content);
    }
    free(r->messages);
    free(r->prompt);
    free(r->prompt_ids);
    for (int i = 0; i < r->n_stop; i++) free(r->stop[i]);
    free(r->grammar);
    free(r->logit_bias);
    memset(r, 0, sizeof *r);
}

/* ---- tokenize / detokenize (llama.cpp's server shapes) ---- */

int serve_parse_tokenize(const char *body, size_t len, serve_tokenize_request *r, serve_parse_error *pe) {
    memset(r, 0, sizeof *r);
    r->add_special = 1;
    cJSON *root = parse_object(body, len, pe);
    if (!root) return -1;
    int rc = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        const char *k = v->string;
        if (cJSON_IsNull(v)) continue;
        if (!strcmp(k, "model")) rc = get_str(v, k, &r->model, pe);
        else if (!strcmp(k, "content")) rc = get_str(v, k, &r->content, pe);
        else if (!strcmp(k, "add_special")) rc = get_bool(v, k, &r->add_special, pe);
        else if (!strcmp(k, "with_pieces")) rc = get_bool(v, k, &r->with_pieces, pe);
        else rc = fail(pe, k, "Unrecognized request argument supplied: %s", k);
        if (rc) break;
    }
    cJSON_Delete(root);
    if (!rc && !r->content) rc = fail(pe, "content", "'content' is required");
    return rc;
}

void serve_tokenize_request_free(serve_tokenize_request *r) {
    free(r->model);
    free(r->content);
    memset(r, 0, sizeof *r);
}

int serve_parse_detokenize(const char *body, size_t len, serve_detokenize_request *r, serve_parse_error *pe) {
    memset(r, 0, sizeof *r);
    cJSON *root = parse_object(body, len, pe);
    if (!root) return -1;
    int rc = 0, have_tokens = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        const char *k = v->string;
        if (cJSON_IsNull(v)) continue;
        if (!strcmp(k, "model")) {
            rc = get_str(v, k, &r->model, pe);
        } else if (!strcmp(k, "tokens")) {
            have_tokens = 1;
            if (!cJSON_IsArray(v)) rc = fail(pe, k, "'tokens' must be an array of token ids");
            else if (cJSON_GetArraySize(v) > 0) rc = parse_ids(v, "tokens", &r->tokens, &r->n_tokens, pe);
        } else {
            rc = fail(pe, k, "Unrecognized request argument supplied: %s", k);
        }
        if (rc) break;
    }
    cJSON_Delete(root);
    if (!rc && !have_tokens) rc = fail(pe, "tokens", "'tokens' is required");
    return rc;
}

void serve_detokenize_request_free(serve_detokenize_request *r) {
    free(r->model);
    free(r->tokens);
    memset(r, 0, sizeof *r);
}

/* ---- embeddings ---- */

static int embed_input(const cJSON *e, serve_embed_input *in, serve_parse_error *pe) {
    if (cJSON_IsString(e)) {
        if (!*e->valuestring) return fail(pe, "input", "'input' strings must not be empty");
        return get_str(e, "input", &in->text, pe);
    }
    if (!cJSON_IsArray(e)) return fail(pe, "input", "'input' must be a string, an array of strings, an array of token ids or an array of token-id arrays");
    return parse_ids(e, "input", &in->ids, &in->n_ids, pe);
}

/* input: "text" | ["text", ...] | [ids...] | [[ids...], ...]; one kind per request. */
static int parse_embed_inputs(const cJSON *v, serve_embeddings_request *r, serve_parse_error *pe) {
    int batch = cJSON_IsArray(v) && v->child && (cJSON_IsString(v->child) || cJSON_IsArray(v->child));
    int n = batch ? cJSON_GetArraySize(v) : 1;
    if (cJSON_IsArray(v) && !v->child) return fail(pe, "input", "'input' must not be empty");
    if (n > SERVE_MAX_EMBED_INPUTS) return fail(pe, "input", "at most %d inputs per request", SERVE_MAX_EMBED_INPUTS);
    r->inputs = calloc((size_t)n, sizeof *r->inputs);
    if (!r->inputs) return fail(pe, "input", "out of memory");
    if (!batch) {
        r->n_inputs = 1;
        return embed_input(v, &r->inputs[0], pe);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (cJSON_IsString(e) != cJSON_IsString(v->child))
            return fail(pe, "input", "'input' must not mix strings and token-id arrays");
        if (embed_input(e, &r->inputs[r->n_inputs++], pe)) return -1;
    }
    return 0;
}

int serve_parse_embeddings(const char *body, size_t len, serve_embeddings_request *r, serve_parse_error *pe) {
    memset(r, 0, sizeof *r);
    cJSON *root = parse_object(body, len, pe);
    if (!root) return -1;
    int rc = 0, have_input = 0;
    char *fmt = NULL, *user = NULL;
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        const char *k = v->string;
        if (cJSON_IsNull(v)) continue;
        if (!strcmp(k, "model")) {
            rc = get_str(v, k, &r->model, pe);
        } else if (!strcmp(k, "input")) {
            have_input = 1;
            rc = parse_embed_inputs(v, r, pe);
        } else if (!strcmp(k, "encoding_format")) {
            rc = get_str(v, k, &fmt, pe);
            if (!rc && !strcmp(fmt, "base64")) r->base64 = 1;
            else if (!rc && strcmp(fmt, "float"))
                rc = fail(pe, k, "'encoding_format' must be \"float\" or \"base64\"");
        } else if (!strcmp(k, "dimensions")) {
            rc = get_int(v, k, 1, 1 << 20, &r->dimensions, pe);
        } else if (!strcmp(k, "user")) {
            rc = get_str(v, k, &user, pe);
        } else {
            rc = fail(pe, k, "Unrecognized request argument supplied: %s", k);
        }
        if (rc) break;
    }
    cJSON_Delete(root);
    free(fmt);
    free(user);
    if (!rc && !r->model) rc = fail(pe, "model", "'model' is required");
    if (!rc && !have_input) rc = fail(pe, "input", "'input' is required");
    return rc;
}

void serve_embeddings_request_free(serve_embeddings_request *r) {
    for (int i = 0; i < r->n_inputs; i++) {
        free(r->inputs[i].text);
        free(r->inputs[i].ids);
    }
    free(r->inputs);
    free(r->model);
    memset(r, 0, sizeof *r);
}
