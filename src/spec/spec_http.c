/* spec_http.c - the edge's keep-alive HTTP connection to a target server. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/http_common.h"
#include "spec/spec_http.h"

/* Replies larger than this are not a verify verdict: refuse, don't buffer. */
#define MAX_REPLY_BYTES (8u << 20)

int hflow_spec_http_init(hflow_spec_http *h, const char *endpoint, double timeout_s, hflow_error *err) {
    memset(h, 0, sizeof *h);
    int rc = hflow_endpoint_split(endpoint, h->base, sizeof h->base, h->model, sizeof h->model, err);
    if (rc) return rc;
    h->timeout_s = timeout_s > 0 ? timeout_s : 60;
    if ((rc = hflow_curl_init(err))) return rc;
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    const char *key = getenv("HYBRIDFLOW_SPEC_API_KEY");
    if (hd && key && *key) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        struct curl_slist *t = curl_slist_append(hd, auth);
        if (t) hd = t;
    }
    h->headers = hd;
    h->curl = curl_easy_init();
    if (!h->curl || !hd) {
        hflow_spec_http_free(h);
        return hflow_error_set(err, HFLOW_ENOMEM, "curl setup failed");
    }
    return 0;
}

void hflow_spec_http_free(hflow_spec_http *h) {
    if (h->curl) curl_easy_cleanup(h->curl);
    if (h->headers) curl_slist_free_all(h->headers);
    h->curl = h->headers = NULL;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *user) {
    hflow_strbuf *b = user;
    size_t n = size * nmemb;
    if (b->len + n > MAX_REPLY_BYTES) return 0; /* aborts the transfer */
    hflow_strbuf_append(b, ptr, n);
    return b->oom ? 0 : n;
}

/* The message of an OpenAI-style error body, or the raw body's start. */
static void server_message(const hflow_strbuf *b, char *out, size_t cap) {
    cJSON *root = b->data ? cJSON_ParseWithLength(b->data, b->len) : NULL;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *m = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
    if (cJSON_IsString(m)) snprintf(out, cap, "%s", m->valuestring);
    else snprintf(out, cap, "%.200s", b->data ? b->data : "");
    cJSON_Delete(root);
}

static int map_curl_error(CURLcode cc, const char *url, const char *msg, hflow_error *err) {
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return hflow_error_set(err, HFLOW_ETIMEOUT, "spec: %s did not answer in time", url);
    if (cc == CURLE_WRITE_ERROR) return hflow_error_set(err, HFLOW_EFORMAT, "spec: reply from %s too large", url);
    /* refused, reset, DNS, empty reply, partial body: the peer is gone */
    return hflow_error_set(err, HFLOW_ENET, "spec: cannot reach %s: %s", url, msg);
}

typedef struct stream_ctx {
    CURL *c;
    hflow_spec_http_sink sink; /* NULL: buffer into resp */
    void *user;
    hflow_strbuf *resp;        /* the body when buffering; an error body when streaming */
    size_t n_body;
    int sink_stopped;
} stream_ctx;

/* Streams a 2xx body to the sink; anything else (an error body) is buffered. */
static size_t on_stream(char *ptr, size_t size, size_t nmemb, void *user) {
    stream_ctx *x = user;
    size_t n = size * nmemb;
    x->n_body += n;
    long status = 0;
    if (x->sink) curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status);
    if (!x->sink || status < 200 || status >= 300) return on_write(ptr, size, nmemb, x->resp);
    if (x->sink(x->user, ptr, n)) {
        x->sink_stopped = 1;
        return 0; /* aborts the transfer */
    }
    return n;
}

static int perform(hflow_spec_http *h, const char *method, const char *path, const char *body, stream_ctx *x,
                   int32_t *bytes_up, int32_t *bytes_down, hflow_error *err) {
    char url[1024];
    snprintf(url, sizeof url, "%s%s", h->base, path);
    CURL *c = h->curl;
    x->c = c;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_reset(c); /* keeps the connection cache */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)h->headers);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(h->timeout_s * 1000));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->timeout_s * 1000));
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L); /* small messages: Nagle would add a delay per round */
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    hflow_strbuf_reset(x->resp);
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_WRITE_ERROR && x->sink_stopped) cc = CURLE_OK; /* the sink had enough */
    if (cc != CURLE_OK) return map_curl_error(cc, url, errbuf[0] ? errbuf : curl_easy_strerror(cc), err);
    long status = 0, req_size = 0, hdr_size = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &req_size);
    curl_easy_getinfo(c, CURLINFO_HEADER_SIZE, &hdr_size);
    curl_off_t body_up = 0;
    curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &body_up);
    /* REQUEST_SIZE counts the request head; the body is counted by SIZE_UPLOAD */
    if (bytes_up) *bytes_up = (int32_t)(req_size + (long)body_up);
    if (bytes_down) *bytes_down = (int32_t)(hdr_size + (long)x->n_body);
    if (status >= 200 && status < 300) return 0;
    char msg[400];
    server_message(x->resp, msg, sizeof msg);
    return hflow_error_set(err, status == 404 ? HFLOW_ENOTFOUND : HFLOW_EHTTP, "spec: %s %s -> HTTP %ld: %s", method,
                           path, status, msg);
}

int hflow_spec_http_call(hflow_spec_http *h, const char *method, const char *path, const char *body,
                         hflow_strbuf *resp, int32_t *bytes_up, int32_t *bytes_down, hflow_error *err) {
    stream_ctx x = {.resp = resp};
    return perform(h, method, path, body, &x, bytes_up, bytes_down, err);
}

int hflow_spec_http_stream(hflow_spec_http *h, const char *path, const char *body, hflow_spec_http_sink sink,
                           void *user, hflow_strbuf *errbuf, int32_t *bytes_up, int32_t *bytes_down, hflow_error *err) {
    stream_ctx x = {.sink = sink, .user = user, .resp = errbuf};
    return perform(h, "POST", path, body, &x, bytes_up, bytes_down, err);
}
