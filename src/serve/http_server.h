/* http_server.h - a small HTTP layer over libmicrohttpd for the serve module.
 *
 * Design: MHD runs one thread per connection, so a route handler may block
 * (wait for a slot, run a whole generation) without stalling other clients.
 * Request bodies are accumulated up to a cap (413 beyond it, decided from
 * Content-Length before any byte is read when possible). Routes are a static
 * table of (method, path, handler); a known path with another method is 405,
 * anything else 404, both with OpenAI-style error bodies.
 *
 * Streaming: a handler creates an hs_stream, hands it to hs_reply_stream and
 * produces data from another thread (hs_spawn) with hs_stream_write. MHD's
 * content-reader callback blocks on the stream's condition variable in the
 * connection thread. When the client goes away MHD frees the response, which
 * marks the stream cancelled: the producer's next write fails and its cancel
 * flag (hs_stream_cancel_flag, polled by the engine between tokens) is set.
 *
 * Shutdown (hs_server_stop): stop accepting, wait until every in-flight
 * request and spawned producer has finished, then stop MHD. */
#ifndef HFLOW_SERVE_HTTP_SERVER_H
#define HFLOW_SERVE_HTTP_SERVER_H

#include <stddef.h>

#include "hybridflow/error.h"

struct MHD_Connection;
typedef struct hs_server hs_server;
typedef struct hs_stream hs_stream;

/* One request as a handler sees it. Everything is owned by the server and
 * valid only during the handler call. */
typedef struct hs_request {
    hs_server *server;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated; "" when there was none */
    size_t body_len;
    int responded;    /* set by the reply helpers */
    int status;       /* status of the queued reply (for metrics) */
} hs_request;

/* Handlers must queue exactly one reply with the helpers below. */
typedef void (*hs_handler)(void *app, hs_request *req);

typedef struct hs_route {
    const char *method; /* "GET", "POST" */
    const char *path;   /* exact match, or a prefix when it ends in '*' (the handler parses the rest) */
    hs_handler fn;
    int public_route;   /* 1: no API key needed (health) */
} hs_route;

/* Called after every request with its route path ("" when none matched) and
 * status, for metrics. */
typedef void (*hs_observer)(void *app, const char *route_path, int status, double seconds);

typedef struct hs_config {
    const char *host;       /* IPv4 literal; NULL = 127.0.0.1 */
    int port;               /* 0 = any free port */
    size_t max_body;        /* bytes; larger bodies get 413 */
    const char *api_key;    /* NULL = no auth; else "Authorization: Bearer KEY" */
    const hs_route *routes; /* borrowed; must outlive the server */
    int n_routes;
    void *app;              /* passed to handlers */
    hs_observer observer;   /* may be NULL */
    unsigned conn_timeout_s;/* idle connection timeout; 0 = 60 */
} hs_config;

int hs_server_start(const hs_config *cfg, hs_server **out, hflow_error *err);
int hs_server_port(const hs_server *s);
/* Stops accepting, drains in-flight work (up to drain_timeout_s; <= 0 waits
 * forever), stops MHD and frees the server. NULL is allowed. */
void hs_server_stop(hs_server *s, double drain_timeout_s);
/* In-flight requests plus spawned producers. */
int hs_server_active(hs_server *s);

/* ---- replies (each queues the response and records the status) ---- */
void hs_reply(hs_request *req, int status, const char *content_type, const char *body, size_t len);
void hs_reply_json(hs_request *req, int status, const char *json);
/* OpenAI error object; param/code may be NULL. Adds Retry-After for 429/503. */
void hs_reply_error(hs_request *req, int status, const char *type, const char *param, const char *code,
                    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* Non-zero when the client has closed its side of the connection (checked
 * without blocking), so a handler that works long before replying can stop. */
int hs_client_gone(hs_request *req);

/* ---- streaming ---- */
/* A new stream with one reference held by the caller. */
hs_stream *hs_stream_new(void);
/* Queues a text/event-stream response that reads from st (takes its own reference). */
void hs_reply_stream(hs_request *req, hs_stream *st);
/* Appends bytes, first waiting while more than 64 KiB are unsent (backpressure);
 * returns -1 when the client has gone (nothing appended). */
int hs_stream_write(hs_stream *st, const char *data, size_t len);
/* No more data: the response ends once the reader has drained it. */
void hs_stream_finish(hs_stream *st);
/* Non-zero once the client is gone; poll it or hand it to the engine. */
volatile int *hs_stream_cancel_flag(hs_stream *st);
void hs_stream_unref(hs_stream *st);

/* Runs fn(arg) on a new detached thread that counts as in-flight work, so
 * hs_server_stop waits for it. Returns 0, or -1 when the thread could not start. */
int hs_spawn(hs_server *s, void (*fn)(void *), void *arg);

/* The streamed answer of a handler: makes *st (a new stream, one reference
 * held by the caller, set before fn starts so arg may carry it), replies with
 * it and runs fn(arg) through hs_spawn to fill it. Returns 0; or -1 when the
 * stream or the thread could not be made, having replied 500 or ended the
 * stream: arg and any *st are then still the caller's to release. */
int hs_stream_spawn(hs_request *req, hs_stream **st, void (*fn)(void *), void *arg);

#endif
