/* http_client.h - a tiny blocking libcurl client for tests that talk HTTP to a
 * server on loopback, plus a raw-socket helper for malformed HTTP. */
#ifndef HFLOW_TEST_HTTP_CLIENT_H
#define HFLOW_TEST_HTTP_CLIENT_H
#include <stddef.h>

typedef struct tu_http_reply {
    long status;   /* 0 when the request failed at the transport level */
    char *body;    /* NUL-terminated, malloc'd; free with tu_http_reply_free */
    size_t len;
    char *headers; /* raw response headers */
} tu_http_reply;

/* method "GET"/"POST"/...; body may be NULL; extra_header may be NULL
 * (e.g. "Authorization: Bearer k"). chunked=1 sends the body without
 * Content-Length. Returns 0 when a response arrived. */
int tu_http(const char *method, const char *url, const char *body, size_t body_len, const char *extra_header,
            int chunked, tu_http_reply *out);
void tu_http_reply_free(tu_http_reply *r);

/* Connects to 127.0.0.1:port; returns the fd or -1. */
int tu_tcp_connect(int port);
/* The same with SO_RCVBUF set before connecting (rcvbuf > 0). */
int tu_tcp_connect_rcvbuf(int port, int rcvbuf);
/* Sends raw bytes and reads until the peer closes or timeout_s passes.
 * Returns the malloc'd reply (possibly empty), NULL on connect failure. */
char *tu_tcp_exchange(int port, const char *data, size_t len, double timeout_s);

#endif
