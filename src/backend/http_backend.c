/* http_backend.c - an OpenAI-compatible server as a backend (libcurl).
 *
 * One easy handle per call, so any number of threads may call complete() at
 * once; curl's global state is set up once through pthread_once. A call is a
 * loop of attempts under one deadline: connection failures, 408/429/5xx and
 * streams that broke before any text reached the caller are retried with
 * exponential backoff and jitter (or the server's Retry-After); nothing is
 * retried once streamed text was delivered, since the caller cannot unsee it.
 * Timeouts: connect (curl), idle = silence between received bytes, and the
 * total deadline; the last two and cancellation are checked in curl's
 * progress callback, which curl calls at least once a second even when the
 * peer is silent. hflow_request.grammar is sent (as our server's "grammar"
 * extension) only when options.hybridflow_server says the peer is ours. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hybridflow/gguf.h"
#include "hybridflow/tokenizer.h"

#include "backend/backend_internal.h"
#include "backend/http_common.h"
#include "backend/openai_wire.h"
#include "backend/retry.h"
#include "backend/sse.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/strbuf.h"

/* Bodies larger than this are refused rather than buffered without end. */
#define MAX_BODY_BYTES (64u << 20)

typedef struct http_backend {
    char *base_url;             /* without trailing '/' */
    struct curl_slist *headers; /* read-only after open; shared by all calls */
    hflow_backend_options opts; /* string members are not used after open */
    hflow_vocab *vocab;         /* optional, for counting tokens when usage is missing */
} http_backend;

enum abort_reason { ABORT_NONE, ABORT_CANCEL, ABORT_DEADLINE, ABORT_IDLE, ABORT_CALLBACK, ABORT_STREAM, ABORT_BODY };

/* State of one complete() call; the attempt_* fields are reset per attempt. */
typedef struct http_call {
    http_backend *hb;
    const hflow_request *req;
    int stream;
    int raw_body;   /* 1: a 2xx body is left in `body` for the caller (embeddings), not parsed as a completion */
    double t_start, deadline, idle_s;
    /* per attempt */
    long status;
    int mode_decided, sse_mode;
    hflow_strbuf body;
    hflow_sse_parser sse;
    double retry_after_s;
    double last_byte_s;
    enum abort_reason abort;
    hflow_error stream_err;
    /* results */
    hflow_openai_result res;
    char *text;
    size_t text_len;
    size_t delivered; /* bytes handed to on_delta */
    double ttft_s;
} http_call;

/* ---- receiving ---- */

static int append_text(http_call *c, const char *t, size_t n) {
    char *grown = realloc(c->text, c->text_len + n + 1);
    if (!grown) return -1;
    memcpy(grown + c->text_len, t, n);
    grown[c->text_len + n] = '\0';
    c->text = grown;
    c->text_len += n;
    return 0;
}

static int on_sse_event(void *user, const char *event, const char *data, size_t len) {
    http_call *c = user;
    (void)event;
    if (len == 0) return 0;
    char *delta = NULL;
    int rc = hflow_openai_parse_chunk(data, len, &c->res, &delta, &c->stream_err);
    if (rc) return rc;
    if (!delta) return 0;
    size_t n = strlen(delta);
    if (c->text_len == 0) c->ttft_s = hflow_now_s() - c->t_start;
    rc = append_text(c, delta, n) ? hflow_error_set(&c->stream_err, HFLOW_ENOMEM, "out of memory") : 0;
    if (!rc && c->req->on_delta) {
        c->delivered += n;
        if (c->req->on_delta(c->req->user, delta, n)) {
            c->abort = ABORT_CALLBACK;
            rc = 1;
        }
    }
    free(delta);
    return rc;
}

/* The first body byte tells what kind of body this is: an event stream only
 * when we asked for one and got a 2xx text/event-stream answer. */
static void decide_mode(http_call *c, CURL *curl) {
    c->mode_decided = 1;
    char *ct = NULL;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->status);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
    c->sse_mode = c->stream && c->status >= 200 && c->status < 300 && ct && strstr(ct, "text/event-stream");
}

typedef struct write_ctx {
    http_call *call;
    CURL *curl;
} write_ctx;

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *user) {
    write_ctx *w = user;
    http_call *c = w->call;
    size_t n = size * nmemb;
    c->last_byte_s = hflow_now_s();
    if (!c->mode_decided) decide_mode(c, w->curl);
    if (c->sse_mode) {
        int rc = hflow_sse_feed(&c->sse, ptr, n);
        if (rc) {
            if (c->abort == ABORT_NONE) c->abort = ABORT_STREAM;
            if (!c->stream_err.code)
                hflow_error_set(&c->stream_err, rc < 0 ? rc : HFLOW_EFORMAT, "malformed event stream");
            return 0;
        }
        return n;
    }
    if (c->body.len + n > MAX_BODY_BYTES) {
        c->abort = ABORT_BODY;
        return 0;
    }
    hflow_strbuf_append(&c->body, ptr, n);
    if (!c->body.oom) return n;
    c->abort = ABORT_STREAM;
    hflow_error_set(&c->stream_err, HFLOW_ENOMEM, "out of memory buffering the response");
    return 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *user) {
    http_call *c = user;
    size_t n = size * nitems;
    c->last_byte_s = hflow_now_s(); /* header bytes are not silence */
    if (n >= 5 && !strncmp(buf, "HTTP/", 5)) c->retry_after_s = -1; /* a new response (after 100 Continue) */
    if (n > 12 && !strncasecmp(buf, "retry-after:", 12)) {
        char v[128];
        size_t k = n - 12 < sizeof v - 1 ? n - 12 : sizeof v - 1;
        memcpy(v, buf + 12, k);
        v[k] = '\0';
        v[strcspn(v, "\r\n")] = '\0';
        c->retry_after_s = hflow_parse_retry_after(v, hflow_wall_s());
    }
    return n;
}

static int on_progress(void *user, curl_off_t dlt, curl_off_t dln, curl_off_t ult, curl_off_t uln) {
    (void)dlt, (void)dln, (void)ult, (void)uln;
    http_call *c = user;
    double now = hflow_now_s();
    if (c->req->cancel && *c->req->cancel) c->abort = ABORT_CANCEL;
    else if (now >= c->deadline) c->abort = ABORT_DEADLINE;
    else if (c->idle_s > 0 && now - c->last_byte_s > c->idle_s) c->abort = ABORT_IDLE;
    return c->abort != ABORT_NONE;
}

/* ---- one attempt ---- */

static void reset_attempt(http_call *c) {
    c->status = 0;
    c->mode_decided = c->sse_mode = 0;
    hflow_strbuf_reset(&c->body);
    hflow_sse_free(&c->sse);
    hflow_sse_init(&c->sse, on_sse_event, c);
    c->retry_after_s = -1;
    c->last_byte_s = hflow_now_s();
    c->abort = ABORT_NONE;
    hflow_error_clear(&c->stream_err);
    /* Text that never reached the caller is dropped, so a retry starts clean. */
    if (c->delivered == 0) {
        free(c->text);
        c->text = NULL;
        c->text_len = 0;
        c->ttft_s = 0;
        memset(&c->res, 0, sizeof c->res);
    }
}

static int connection_error(CURLcode cc) {
    switch (cc) {
    case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST: case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR: case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE: case CURLE_SSL_CONNECT_ERROR:
    case CURLE_OPERATION_TIMEDOUT:
        return 1;
    default:
        return 0;
    }
}

/* Classifies a finished attempt: 0 = success; else an error code with
 * *retryable telling whether another attempt may help. */
static int attempt_result(http_call *c, CURLcode cc, const char *curl_msg, int *retryable, hflow_error *err) {
    const char *name = c->hb->base_url;
    *retryable = 0;
    switch (c->abort) {
    case ABORT_CANCEL: return hflow_error_set(err, HFLOW_ECANCELLED, "request to %s cancelled", name);
    case ABORT_CALLBACK: return hflow_error_set(err, HFLOW_ECANCELLED, "request to %s stopped by the delta callback", name);
    case ABORT_DEADLINE: return hflow_error_set(err, HFLOW_ETIMEOUT, "request to %s passed its %.3g s deadline", name, c->deadline - c->t_start);
    case ABORT_IDLE: return hflow_error_set(err, HFLOW_ETIMEOUT, "no data from %s for %.3g s (idle timeout)", name, c->idle_s);
    case ABORT_BODY: return hflow_error_set(err, HFLOW_EFORMAT, "response from %s exceeds %u bytes", name, MAX_BODY_BYTES);
    case ABORT_STREAM:
        *err = c->stream_err;
        return hflow_error_wrap(err, "stream from %s (HTTP %ld)", name, c->status);
    case ABORT_NONE: break;
    }
    if (cc != CURLE_OK) {
        *retryable = connection_error(cc);
        int code = cc == CURLE_OPERATION_TIMEDOUT ? HFLOW_ETIMEOUT : HFLOW_ENET;
        if (c->mode_decided && c->sse_mode)
            return hflow_error_set(err, code, "stream from %s broke after %zu bytes of text: %s", name, c->text_len, curl_msg);
        return hflow_error_set(err, code, "request to %s failed: %s", name, curl_msg);
    }
    if (c->status < 200 || c->status >= 300) {
        char msg[400];
        hflow_openai_error_text(c->body.data, c->body.len, msg, sizeof msg);
        *retryable = hflow_http_status_retryable(c->status);
        return hflow_error_set(err, HFLOW_EHTTP, "HTTP %ld from %s: %s", c->status, name, msg);
    }
    if (c->sse_mode) {
        int clean = hflow_sse_finish(&c->sse);
        if (c->sse.done || (clean && c->res.finish_reason[0])) return 0;
        /* Ended without [DONE] and without a finish reason: text is incomplete. */
        *retryable = 1;
        return hflow_error_set(err, HFLOW_ENET, "stream from %s ended early (no [DONE], %zu bytes of text)", name, c->text_len);
    }
    if (c->body.oom) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory reading the response");
    if (c->raw_body) return 0;
    return hflow_openai_parse_response(c->body.data, c->body.len, &c->res, &c->text, &c->text_len, err);
}

static CURL *make_handle(http_call *c, const char *url, const char *body, write_ctx *w, char *errbuf) {
    CURL *curl = curl_easy_init();
    if (!curl) return NULL;
    const hflow_backend_options *o = &c->hb->opts;
    w->call = c;
    w->curl = curl;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* required for threaded use */
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, c->hb->headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, ""); /* any encoding curl can decode */
    if (o->connect_timeout_s > 0)
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->connect_timeout_s * 1000 + 0.5));
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    return curl;
}

static int run_attempt(http_call *c, const char *url, const char *body, int *retryable, hflow_error *err) {
    double left = c->deadline - hflow_now_s();
    if (left <= 0) return hflow_error_set(err, HFLOW_ETIMEOUT, "request to %s passed its deadline", c->hb->base_url);
    write_ctx w;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *curl = make_handle(c, url, body, &w, errbuf);
    if (!curl) return hflow_error_set(err, HFLOW_ENOMEM, "curl_easy_init failed");
    reset_attempt(c);
    /* curl's own total timeout backs up the progress-callback deadline. */
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)(left * 1000) + 1000);
    CURLcode cc = curl_easy_perform(curl);
    long st = 0;
    if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &st) == CURLE_OK && st) c->status = st;
    int rc = attempt_result(c, cc, errbuf[0] ? errbuf : curl_easy_strerror(cc), retryable, err);
    curl_easy_cleanup(curl);
    return rc;
}

/* Sleeps `s` seconds in short slices so cancellation stays prompt. */
static int wait_cancellable(const http_call *c, double s) {
    double until = hflow_now_s() + s;
    for (;;) {
        if (c->req->cancel && *c->req->cancel) return HFLOW_ECANCELLED;
        double left = until - hflow_now_s();
        if (left <= 0) return 0;
        hflow_sleep_ms(left > 0.02 ? 20 : left * 1000);
    }
}

/* ---- the call ---- */

/* Tokens in text: the vocabulary's count when one was given, else the estimate. */
static int32_t count_tokens(const http_backend *hb, const char *text, size_t len) {
    if (hb->vocab && len) {
        int32_t *ids = NULL;
        int n = 0;
        if (hflow_tokenize(hb->vocab, text, len, 0, 0, &ids, &n, NULL) == 0) {
            free(ids);
            return n;
        }
    }
    return hflow_estimate_tokens(text, len);
}

/* Message contents only: chat-template tokens are not counted. */
static int32_t prompt_tokens(const http_backend *hb, const hflow_request *req) {
    if (!req->messages) return count_tokens(hb, req->prompt, strlen(req->prompt));
    int32_t t = 0;
    for (int i = 0; i < req->n_messages; i++)
        t += count_tokens(hb, req->messages[i].content, strlen(req->messages[i].content));
    return t;
}

static void fill_response(http_call *c, hflow_backend *b, hflow_response *resp) {
    resp->text = c->text ? c->text : strdup("");
    c->text = NULL;
    hflow_copy_field(resp->model, sizeof resp->model, c->res.model[0] ? c->res.model : b->model);
    if (c->res.has_usage) {
        resp->prompt_tokens = c->res.prompt_tokens;
        resp->completion_tokens = c->res.completion_tokens;
    } else if (!c->text_len && (c->status == 0 || c->status >= 400)) {
        /* No answer at all (connection failed, error status): nothing was
         * processed, so nothing is counted (or billed by the caller). */
        resp->prompt_tokens = resp->completion_tokens = 0;
    } else {
        resp->usage_estimated = 1;
        resp->prompt_tokens = prompt_tokens(c->hb, c->req);
        resp->completion_tokens = count_tokens(c->hb, resp->text ? resp->text : "", c->text_len);
    }
    resp->latency_s = hflow_now_s() - c->t_start;
    resp->ttft_s = c->text_len ? (c->sse_mode ? c->ttft_s : resp->latency_s) : resp->latency_s;
    resp->http_status = (int)c->status;
    if (c->req->want_confidence && c->res.logprob_n > 0) {
        resp->confidence_known = 1;
        resp->logprob_tokens = c->res.logprob_n;
        resp->mean_logprob = c->res.logprob_sum / c->res.logprob_n;
    }
}

static void call_init(http_call *c, http_backend *hb, const hflow_request *req, int stream) {
    memset(c, 0, sizeof *c);
    c->hb = hb;
    c->req = req;
    c->stream = stream;
    c->t_start = hflow_now_s();
    double total = req->timeout_s > 0 ? req->timeout_s : hb->opts.total_timeout_s;
    c->deadline = c->t_start + (total > 0 ? total : 1e9);
    c->idle_s = hb->opts.idle_timeout_s;
    hflow_strbuf_init(&c->body);
    hflow_sse_init(&c->sse, on_sse_event, c);
}

/* Frees what call_init and the attempts allocated. */
static void call_free(http_call *c) {
    free(c->text);
    hflow_strbuf_free(&c->body);
    hflow_sse_free(&c->sse);
}

/* POSTs body to url in attempts under the call's deadline: retryable failures
 * (connection, 408/429/5xx, a stream that broke before delivering text) are
 * retried with backoff or the server's Retry-After. *retries counts them. */
static int post_with_retries(http_call *c, hflow_backend *b, const char *url, const char *body, int *retries,
                             hflow_error *err) {
    http_backend *hb = c->hb;
    uint64_t rng = hflow_now_ns() ^ (uint64_t)(uintptr_t)c;
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        int retryable = 0;
        rc = run_attempt(c, url, body, &retryable, err);
        if (rc == 0 || !retryable || c->delivered > 0 || attempt >= hb->opts.max_retries) break;
        double wait = c->retry_after_s >= 0 ? c->retry_after_s : hflow_backoff_delay(hb->opts.backoff_base_s, attempt, &rng);
        if (hflow_now_s() + wait >= c->deadline) {
            hflow_error_wrap(err, "giving up: the %.3g s wait before retry %d would pass the deadline", wait, attempt + 1);
            break;
        }
        HFLOW_LOGD("backend %s: attempt %d failed (%s), retrying in %.3f s", b->name, attempt + 1,
                   hflow_status_name(rc), wait);
        if (wait_cancellable(c, wait) != 0) {
            rc = hflow_error_set(err, HFLOW_ECANCELLED, "request to %s cancelled while waiting to retry", b->name);
            break;
        }
        (*retries)++;
    }
    if (rc && *retries) hflow_error_wrap(err, "after %d retr%s", *retries, *retries == 1 ? "y" : "ies");
    return rc;
}

static int http_complete(hflow_backend *b, const hflow_request *req, hflow_response *resp, hflow_error *err_out) {
    http_backend *hb = b->impl;
    hflow_error err_local, *err = &err_local; /* always non-NULL below */
    hflow_error_clear(err);
    http_call c;
    call_init(&c, hb, req, req->on_delta != NULL || hb->opts.always_stream);

    char url[2048];
    snprintf(url, sizeof url, "%s/%s", hb->base_url, req->messages ? "chat/completions" : "completions");
    char *body = hflow_openai_request_body_ext(req, b->model, c.stream, hb->opts.hybridflow_server, err);
    int rc = body ? post_with_retries(&c, b, url, body, &resp->retries, err) : (err->code ? err->code : HFLOW_ENOMEM);
    fill_response(&c, b, resp);
    if (rc == HFLOW_ECANCELLED) hflow_copy_field(resp->finish_reason, sizeof resp->finish_reason, "cancelled");
    else if (rc) hflow_copy_field(resp->finish_reason, sizeof resp->finish_reason, "error");
    else hflow_copy_field(resp->finish_reason, sizeof resp->finish_reason, c.res.finish_reason[0] ? c.res.finish_reason : "stop");
    free(body);
    call_free(&c);
    if (err_out) *err_out = err_local;
    return rc;
}

/* ---- embeddings ---- */

static int http_embed(hflow_backend *b, const char *const *texts, int n, hflow_embeddings *out, hflow_error *err_out) {
    http_backend *hb = b->impl;
    hflow_error err_local, *err = &err_local; /* always non-NULL below */
    hflow_error_clear(err);
    hflow_request req; /* defaults: no cancel, no streaming, the backend's deadline */
    hflow_request_init(&req);
    http_call c;
    call_init(&c, hb, &req, 0);
    c.raw_body = 1;
    char url[2048];
    snprintf(url, sizeof url, "%s/embeddings", hb->base_url);
    char *body = hflow_openai_embeddings_body(texts, n, b->model);
    int retries = 0;
    int rc = body ? post_with_retries(&c, b, url, body, &retries, err) : hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    if (!rc) rc = hflow_openai_parse_embeddings(c.body.data, c.body.len, n, out, err);
    if (rc) hflow_error_wrap(err, "embeddings from %s", b->name);
    out->retries = retries;
    out->latency_s = hflow_now_s() - c.t_start;
    free(body);
    call_free(&c);
    if (err_out) *err_out = err_local;
    return rc;
}

/* ---- open / free ---- */

static void http_destroy(hflow_backend *b) {
    http_backend *hb = b->impl;
    if (hb) {
        free(hb->base_url);
        curl_slist_free_all(hb->headers);
        hflow_vocab_free(hb->vocab);
        free(hb);
    }
    free(b);
}

static const hflow_backend_vtable http_vtable = {"http", http_complete, http_destroy};

static int add_header(struct curl_slist **list, const char *h) {
    struct curl_slist *n = curl_slist_append(*list, h);
    if (!n) return -1;
    *list = n;
    return 0;
}

/* Content type, no "Expect: 100-continue" round trip, the key, extra headers. */
static int build_headers(http_backend *hb, const hflow_backend_options *o, hflow_error *err) {
    if (add_header(&hb->headers, "Content-Type: application/json") || add_header(&hb->headers, "Expect:"))
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    const char *key = getenv(o->api_key_env);
    if (key && *key) {
        if (strpbrk(key, "\r\n"))
            return hflow_error_set(err, HFLOW_EINVAL, "the API key in $%s contains a line break", o->api_key_env);
        hflow_strbuf h;
        hflow_strbuf_init(&h);
        hflow_strbuf_printf(&h, "Authorization: Bearer %s", key);
        int bad = h.oom || add_header(&hb->headers, h.data);
        memset(h.data, 0, h.len); /* the key does not linger in freed memory */
        hflow_strbuf_free(&h);
        if (bad) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    for (int i = 0; i < o->n_headers; i++) {
        const char *h = o->headers[i];
        if (!h || !strchr(h, ':') || strpbrk(h, "\r\n"))
            return hflow_error_set(err, HFLOW_EINVAL, "extra header %d is not a single 'Name: value' line", i);
        if (add_header(&hb->headers, h)) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    return 0;
}

/* Splits "scheme://host[:port][/path]#model" into base URL and model. */
static int parse_endpoint(const char *endpoint, hflow_backend *b, http_backend *hb, hflow_error *err) {
    char base[2048];
    int rc = hflow_endpoint_split(endpoint, base, sizeof base, b->model, sizeof b->model, err);
    if (rc) return rc;
    if (!(hb->base_url = strdup(base))) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    hflow_copy_field(b->name, sizeof b->name, endpoint);
    return 0;
}

/* The vocabulary owns copies of what it needs, so the file is closed at once. */
static int load_tokenizer(http_backend *hb, const char *path, hflow_error *err) {
    hflow_gguf *g = NULL;
    int rc = hflow_gguf_open(path, &g, err);
    if (!rc) rc = hflow_vocab_load(g, &hb->vocab, err);
    hflow_gguf_close(g);
    if (rc) hflow_error_wrap(err, "tokenizer_gguf '%s'", path);
    return rc;
}

int hflow_http_backend_open(const char *endpoint, const hflow_backend_options *opts, hflow_backend **out,
                            hflow_error *err) {
    int irc = hflow_curl_init(err);
    if (irc) return irc;
    hflow_backend *b = calloc(1, sizeof *b);
    http_backend *hb = calloc(1, sizeof *hb);
    if (!b || !hb) {
        free(b);
        free(hb);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    b->vt = &http_vtable;
    b->embed = http_embed;
    b->impl = hb;
    if (opts->hybridflow_server) b->caps |= HFLOW_BACKEND_CAP_GRAMMAR;
    hb->opts = *opts;
    hb->opts.api_key_env = NULL; /* strings are copied into headers; do not keep caller pointers */
    hb->opts.headers = NULL;
    hb->opts.tokenizer_gguf = NULL;
    int rc = parse_endpoint(endpoint, b, hb, err);
    if (!rc) rc = build_headers(hb, opts, err);
    if (!rc && opts->tokenizer_gguf && *opts->tokenizer_gguf) rc = load_tokenizer(hb, opts->tokenizer_gguf, err);
    if (rc) {
        http_destroy(b);
        return rc;
    }
    *out = b;
    return 0;
}
