/* openai_format.c - JSON shapes of OpenAI chat/text completion responses. */
#include "serve/openai_format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/request_parse.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
static int utf8_len(const unsigned char *s, size_t n) {
    int k = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!k || (size_t)k > n) return 0;
    for (int i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return k;
}

/* A JSON string of bytes that may hold a partial UTF-8 character (a byte token):
 * invalid bytes become U+FFFD so the JSON stays valid; "bytes" keeps the truth. */
cJSON *serve_json_utf8_string(const char *p, size_t n) {
    char *s = malloc(n * 3 + 1);
    if (!s) return cJSON_CreateString("");
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        int k = utf8_len((const unsigned char *)p + i, n - i);
        if (k) {
            memcpy(s + o, p + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        } else {
            memcpy(s + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    s[o] = '\0';
    cJSON *j = cJSON_CreateString(s);
    free(s);
    return j;
}

/* The bytes of a token, in buf (>= 256) or a malloc'd buffer for long pieces. */
static int piece(const hflow_vocab *v, int32_t id, char *buf, int cap) {
    int n = hflow_token_to_piece(v, id, 1, buf, cap);
    if (n < 0 || n > cap) return 0; /* longer than any real token: shown empty */
    return n;
}

static cJSON *chat_top_entry(const hflow_vocab *v, int32_t id, float logprob) {
    char buf[256];
    int n = piece(v, id, buf, sizeof buf);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToObject(e, "token", serve_json_utf8_string(buf, (size_t)n));
    cJSON_AddNumberToObject(e, "logprob", logprob);
    cJSON *bytes = cJSON_AddArrayToObject(e, "bytes");
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(bytes, cJSON_CreateNumber((unsigned char)buf[i]));
    return e;
}

cJSON *serve_logprobs_new(int kind) {
    cJSON *o = cJSON_CreateObject();
    if (kind == SERVE_CHAT) {
        cJSON_AddArrayToObject(o, "content");
    } else {
        cJSON_AddArrayToObject(o, "tokens");
        cJSON_AddArrayToObject(o, "token_logprobs");
        cJSON_AddArrayToObject(o, "top_logprobs");
        cJSON_AddArrayToObject(o, "text_offset");
    }
    return o;
}

/* A completion token's string: its piece, or "token_id:N" when asked (vLLM's
 * return_tokens_as_token_ids, which keeps ids exact where pieces collide). */
static cJSON *completion_token(const hflow_vocab *v, int32_t id, int ids_as_tokens) {
    char buf[256];
    if (ids_as_tokens) {
        snprintf(buf, sizeof buf, "token_id:%d", (int)id);
        return cJSON_CreateString(buf);
    }
    int n = piece(v, id, buf, sizeof buf);
    return serve_json_utf8_string(buf, (size_t)n);
}

void serve_logprobs_add(cJSON *lps, int kind, const hflow_vocab *v, const hflow_token_logprobs *lp, int n_top,
                        size_t text_offset, int ids_as_tokens) {
    if (n_top > lp->n_top) n_top = lp->n_top;
    if (kind == SERVE_CHAT) {
        cJSON *e = chat_top_entry(v, lp->id, lp->logprob);
        cJSON *top = cJSON_AddArrayToObject(e, "top_logprobs");
        for (int i = 0; i < n_top; i++) cJSON_AddItemToArray(top, chat_top_entry(v, lp->top_ids[i], lp->top_logprobs[i]));
        cJSON_AddItemToArray(cJSON_GetObjectItem(lps, "content"), e);
        return;
    }
    cJSON_AddItemToArray(cJSON_GetObjectItem(lps, "tokens"), completion_token(v, lp->id, ids_as_tokens));
    cJSON_AddItemToArray(cJSON_GetObjectItem(lps, "token_logprobs"), cJSON_CreateNumber(lp->logprob));
    cJSON *top = cJSON_CreateObject();
    for (int i = 0; i < n_top; i++) {
        cJSON *key = completion_token(v, lp->top_ids[i], ids_as_tokens);
        /* Two ids can render alike (a byte token and its character); keep the first. */
        if (!cJSON_GetObjectItemCaseSensitive(top, key->valuestring))
            cJSON_AddNumberToObject(top, key->valuestring, lp->top_logprobs[i]);
        cJSON_Delete(key);
    }
    cJSON_AddItemToArray(cJSON_GetObjectItem(lps, "top_logprobs"), top);
    cJSON_AddItemToArray(cJSON_GetObjectItem(lps, "text_offset"), cJSON_CreateNumber((double)text_offset));
}

void serve_logprobs_add_unscored(cJSON *lps, const hflow_vocab *v, int32_t id, size_t text_offset, int ids_as_tokens) {
    cJSON_AddItemToArray(cJSON_GetObjectItem(lps, "tokens"), completion_token(v, id, ids_as_tokens));
    cJSON_AddItemToArray(cJSON_GetObjectItem(lps, "token_logprobs"), cJSON_CreateNull());
    cJSON_AddItemToArray(cJSON_GetObjectItem(lps, "top_logprobs"), cJSON_CreateNull());
    cJSON_AddItemToArray(cJSON_GetObjectItem(lps, "text_offset"), cJSON_CreateNumber((double)text_offset));
}

static cJSON *head_object(const serve_reply_head *h, int chunk) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", h->id);
    const char *object = h->kind == SERVE_CHAT ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
    cJSON_AddStringToObject(o, "object", object);
    cJSON_AddNumberToObject(o, "created", (double)h->created);
    cJSON_AddStringToObject(o, "model", h->model);
    cJSON_AddNullToObject(o, "system_fingerprint");
    return o;
}

static cJSON *usage_object(const serve_usage *u) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "prompt_tokens", u->prompt_tokens);
    cJSON_AddNumberToObject(o, "completion_tokens", u->completion_tokens);
    cJSON_AddNumberToObject(o, "total_tokens", u->prompt_tokens + u->completion_tokens);
    cJSON *d = cJSON_AddObjectToObject(o, "prompt_tokens_details");
    cJSON_AddNumberToObject(d, "cached_tokens", u->cached_tokens);
    return o;
}

static char *print_and_free(cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static void add_text(cJSON *o, const char *name, const char *text, size_t len) {
    cJSON_AddItemToObject(o, name, serve_json_utf8_string(text, len));
}

static cJSON *choice(const serve_reply_head *h, cJSON *logprobs, const char *finish_reason) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", h->index);
    if (logprobs) cJSON_AddItemToObject(c, "logprobs", logprobs);
    else cJSON_AddNullToObject(c, "logprobs");
    if (finish_reason) cJSON_AddStringToObject(c, "finish_reason", finish_reason);
    else cJSON_AddNullToObject(c, "finish_reason");
    return c;
}

cJSON *serve_format_choice(const serve_reply_head *h, const char *text, size_t len, cJSON *logprobs,
                           const char *finish_reason) {
    cJSON *c = choice(h, logprobs, finish_reason);
    if (h->kind == SERVE_CHAT) {
        cJSON *msg = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        add_text(msg, "content", text, len);
    } else {
        add_text(c, "text", text, len);
    }
    return c;
}

char *serve_format_response_choices(const serve_reply_head *h, cJSON *choices, const serve_usage *u) {
    cJSON *o = head_object(h, 0);
    cJSON_AddItemToObject(o, "choices", choices);
    cJSON_AddItemToObject(o, "usage", usage_object(u));
    return print_and_free(o);
}

char *serve_format_response(const serve_reply_head *h, const char *text, size_t len, cJSON *logprobs,
                            const char *finish_reason, const serve_usage *u) {
    cJSON *choices = cJSON_CreateArray();
    cJSON_AddItemToArray(choices, serve_format_choice(h, text, len, logprobs, finish_reason));
    return serve_format_response_choices(h, choices, u);
}

char *serve_format_chunk(const serve_reply_head *h, const char *text, size_t len, cJSON *logprobs,
                         const char *finish_reason, int first) {
    cJSON *o = head_object(h, 1);
    cJSON *c = choice(h, logprobs, finish_reason);
    if (h->kind == SERVE_CHAT) {
        cJSON *delta = cJSON_AddObjectToObject(c, "delta");
        if (first) cJSON_AddStringToObject(delta, "role", "assistant");
        if (len || first) add_text(delta, "content", text, len);
    } else {
        add_text(c, "text", text, len);
    }
    cJSON_AddItemToArray(cJSON_AddArrayToObject(o, "choices"), c);
    return print_and_free(o);
}

char *serve_format_usage_chunk(const serve_reply_head *h, const serve_usage *u) {
    cJSON *o = head_object(h, 1);
    cJSON_AddArrayToObject(o, "choices");
    cJSON_AddItemToObject(o, "usage", usage_object(u));
    return print_and_free(o);
}
