/* spec_http.h - one persistent HTTP connection from the edge to a target
 * server, shared by the session transport and the /v1/completions fallback.
 *
 * Speculation pays one round trip per round, so the connection is kept alive
 * (one curl easy handle reused) instead of reconnecting per request. No
 * retries: a round that fails is reported to the edge loop, which decides
 * (stop, or continue on the edge alone). Bytes moved are measured from curl's
 * own counters (headers and bodies), so reports show real traffic. */
#ifndef HFLOW_SPEC_HTTP_H
#define HFLOW_SPEC_HTTP_H
#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "hybridflow/error.h"

typedef struct hflow_spec_http {
    void *curl;            /* CURL *, owned */
    void *headers;         /* struct curl_slist *, owned */
    char base[512];        /* "http://host:port/v1", no trailing '/' */
    char model[128];       /* the part after '#', may be empty */
    double timeout_s;      /* per request */
} hflow_spec_http;

/* Parses "http://host:port/v1#model". The API key, if any, is read from
 * HYBRIDFLOW_SPEC_API_KEY (never logged). */
int hflow_spec_http_init(hflow_spec_http *h, const char *endpoint, double timeout_s, hflow_error *err);
void hflow_spec_http_free(hflow_spec_http *h);

/* method "POST" or "DELETE"; path is appended to base ("/spec/sessions").
 * body may be NULL. resp receives the response body. Returns 0 for a 2xx,
 * HFLOW_ENET when the server cannot be reached or the connection broke,
 * HFLOW_ETIMEOUT, HFLOW_ENOTFOUND for 404 and HFLOW_EHTTP for other statuses,
 * with the server's error message in err. bytes_* (may be NULL) receive the
 * bytes sent/received including headers. */
int hflow_spec_http_call(hflow_spec_http *h, const char *method, const char *path, const char *body,
                         hflow_strbuf *resp, int32_t *bytes_up, int32_t *bytes_down, hflow_error *err);

/* Receives a streamed 2xx body as it arrives; return non-zero to stop reading
 * (the transfer then ends without an error). */
typedef int (*hflow_spec_http_sink)(void *user, const char *data, size_t n);
/* POST whose 2xx body goes to `sink` as it arrives (SSE). Other statuses are
 * errors as in hflow_spec_http_call, their body buffered in errbuf. */
int hflow_spec_http_stream(hflow_spec_http *h, const char *path, const char *body, hflow_spec_http_sink sink,
                           void *user, hflow_strbuf *errbuf, int32_t *bytes_up, int32_t *bytes_down, hflow_error *err);
#endif
