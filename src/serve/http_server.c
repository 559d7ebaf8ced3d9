/* http_server.c - libmicrohttpd wrapper: body accumulation with a cap, routing,
 * API-key check, reply helpers, SSE streams and draining shutdown. */
#include "serve/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "serve/openai_errors.h"

/* How long the stream reader waits for data before sending an SSE comment.
 * The comment keeps proxies from timing out and, when the client has gone,
 * makes the failed write reveal it while the generation is still queued. */
#define HS_KEEPALIVE_S 2
/* Unsent bytes a producer may queue before it waits for the client: a slow
 * reader slows its generation down instead of growing server memory. */
#define HS_STREAM_MAX_PENDING (64u << 10)

struct hs_server {
    struct MHD_Daemon *daemon;
    hs_config cfg;
    char *api_key;
    int port;
    pthread_mutex_t mu;
    pthread_cond_t idle; /* signalled when active drops */
    int active;
};

/* Per-request state MHD keeps for us between access-handler calls. */
typedef struct hs_conn {
    hflow_strbuf body;
    int too_large;
    size_t discarded; /* bytes of an oversized body read and dropped */
    double t0;
    const char *route_path;
    int status;
} hs_conn;

struct hs_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;    /* data or end available (reader waits) */
    pthread_cond_t space; /* pending bytes drained (producer waits) */
    hflow_strbuf buf;
    size_t off;       /* bytes of buf already handed to MHD */
    int finished;
    volatile int cancel;
    int refs;
};

/* ---- in-flight accounting ---- */

static void active_add(hs_server *s, int d) {
    pthread_mutex_lock(&s->mu);
    s->active += d;
    if (s->active == 0) pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

int hs_server_active(hs_server *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->active;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- replies ---- */

static void queue(hs_request *req, int status, struct MHD_Response *r) {
    if (!r) return;
    if (status == 429 || status == 503) MHD_add_response_header(r, "Retry-After", "1");
    MHD_queue_response(req->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    req->responded = 1;
    req->status = status;
}

void hs_reply(hs_request *req, int status, const char *content_type, const char *body, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r && content_type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    queue(req, status, r);
}

void hs_reply_json(hs_request *req, int status, const char *json) {
    hs_reply(req, status, "application/json", json, strlen(json));
}

void hs_reply_error(hs_request *req, int status, const char *type, const char *param, const char *code,
                    const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *json = serve_error_json(status, type, param, code, msg);
    if (json) hs_reply_json(req, status, json);
    else hs_reply(req, 500, "text/plain", "out of memory\n", 14);
    free(json);
}

int hs_client_gone(hs_request *req) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return 0;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* ---- streams ---- */

hs_stream *hs_stream_new(void) {
    hs_stream *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    pthread_cond_init(&st->space, NULL);
    hflow_strbuf_init(&st->buf);
    st->refs = 1;
    return st;
}

void hs_stream_unref(hs_stream *st) {
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    int left = --st->refs;
    pthread_mutex_unlock(&st->mu);
    if (left) return;
    hflow_strbuf_free(&st->buf);
    pthread_cond_destroy(&st->cv);
    pthread_cond_destroy(&st->space);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

int hs_stream_write(hs_stream *st, const char *data, size_t len) {
    pthread_mutex_lock(&st->mu);
    while (!st->cancel && st->buf.len - st->off > HS_STREAM_MAX_PENDING) pthread_cond_wait(&st->space, &st->mu);
    int gone = st->cancel;
    if (!gone) {
        hflow_strbuf_append(&st->buf, data, len);
        pthread_cond_signal(&st->cv);
    }
    pthread_mutex_unlock(&st->mu);
    return gone ? -1 : 0;
}

void hs_stream_finish(hs_stream *st) {
    pthread_mutex_lock(&st->mu);
    st->finished = 1;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

volatile int *hs_stream_cancel_flag(hs_stream *st) { return &st->cancel; }

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
    (void)pos;
    hs_stream *st = cls;
    static const char keepalive[] = ": keep-alive\n\n";
    pthread_mutex_lock(&st->mu);
    while (st->off == st->buf.len && !st->finished && !st->cancel) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += HS_KEEPALIVE_S;
        if (pthread_cond_timedwait(&st->cv, &st->mu, &ts) == ETIMEDOUT && st->off == st->buf.len &&
            !st->finished && max >= sizeof keepalive - 1) {
            pthread_mutex_unlock(&st->mu);
            memcpy(out, keepalive, sizeof keepalive - 1);
            return (ssize_t)(sizeof keepalive - 1);
        }
    }
    ssize_t n;
    if (st->off < st->buf.len) {
        size_t k = st->buf.len - st->off;
        if (k > max) k = max;
        memcpy(out, st->buf.data + st->off, k);
        st->off += k;
        if (st->off == st->buf.len) { /* drained: reuse the buffer from its start */
            st->off = 0;
            hflow_strbuf_reset(&st->buf);
        }
        pthread_cond_signal(&st->space);
        n = (ssize_t)k;
    } else {
        n = st->cancel ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

/* MHD frees the response when it is done with it: after the last byte or
 * when the client disconnected. Either way nobody reads any more. */
static void stream_free(void *cls) {
    hs_stream *st = cls;
    pthread_mutex_lock(&st->mu);
    st->cancel = 1;
    pthread_cond_broadcast(&st->cv);
    pthread_cond_broadcast(&st->space);
    pthread_mutex_unlock(&st->mu);
    hs_stream_unref(st);
}

void hs_reply_stream(hs_request *req, hs_stream *st) {
    pthread_mutex_lock(&st->mu);
    st->refs++;
    pthread_mutex_unlock(&st->mu);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
    if (!r) {
        stream_free(st);
        hs_reply_error(req, 500, NULL, NULL, NULL, "cannot create streaming response");
        return;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    queue(req, 200, r);
}

/* ---- spawned producers ---- */

typedef struct spawn_arg {
    hs_server *s;
    void (*fn)(void *);
    void *arg;
} spawn_arg;

static void *spawn_main(void *p) {
    spawn_arg a = *(spawn_arg *)p;
    free(p);
    a.fn(a.arg);
    active_add(a.s, -1);
    return NULL;
}

int hs_stream_spawn(hs_request *req, hs_stream **st, void (*fn)(void *), void *arg) {
    if (!(*st = hs_stream_new())) {
        hs_reply_error(req, 500, NULL, NULL, NULL, "out of memory");
        return -1;
    }
    hs_reply_stream(req, *st);
    if (hs_spawn(req->server, fn, arg)) {
        hs_stream_finish(*st);
        return -1;
    }
    return 0;
}

int hs_spawn(hs_server *s, void (*fn)(void *), void *arg) {
    spawn_arg *a = malloc(sizeof *a);
    if (!a) return -1;
    a->s = s;
    a->fn = fn;
    a->arg = arg;
    active_add(s, 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, spawn_main, a);
    pthread_attr_destroy(&attr);
    if (rc) {
        free(a);
        active_add(s, -1);
        return -1;
    }
    return 0;
}

/* ---- routing ---- */

/* Compares in time independent of where the first difference is, so the key
 * cannot be guessed byte by byte from response timing. */
static int key_equal(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < la; i++) diff |= (unsigned)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0 && lb > 0;
}

static int authorized(hs_server *s, struct MHD_Connection *conn) {
    if (!s->api_key) return 1;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7) != 0) return 0;
    return key_equal(h + 7, s->api_key);
}

/* Exact, or a prefix when the route's path ends in '*' (e.g. the sessions prefix + star). */
static int path_matches(const char *pattern, const char *path) {
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') return strncmp(pattern, path, n - 1) == 0 && path[n - 1] != '\0';
    return strcmp(pattern, path) == 0;
}

static void dispatch(hs_server *s, hs_conn *c, hs_request *req) {
    const hs_route *path_match = NULL, *match = NULL;
    for (int i = 0; i < s->cfg.n_routes && !match; i++) {
        const hs_route *r = &s->cfg.routes[i];
        if (!path_matches(r->path, req->path)) continue;
        path_match = r;
        if (!strcmp(r->method, req->method)) match = r;
    }
    if (!path_match) {
        hs_reply_error(req, 404, NULL, NULL, "not_found", "no route for %s %s", req->method, req->path);
        return;
    }
    c->route_path = path_match->path;
    if (!match) {
        hs_reply_error(req, 405, NULL, NULL, "method_not_allowed", "%s does not accept %s (use %s)", req->path,
                       req->method, path_match->method);
        return;
    }
    if (!match->public_route && !authorized(s, req->conn)) {
        hs_reply_error(req, 401, NULL, NULL, "invalid_api_key",
                       "missing or incorrect API key (send 'Authorization: Bearer KEY')");
        return;
    }
    match->fn(s->cfg.app, req);
    if (!req->responded)
        hs_reply_error(req, 500, NULL, NULL, NULL, "internal error: %s produced no response", req->path);
}

/* An oversized body up to this size is read and dropped before the 413 is
 * sent: a client still uploading when the server answers and closes sees a
 * reset instead of the error object. Larger (hostile) uploads are cut off. */
static size_t drain_limit(const hs_server *s) {
    size_t lim = 4 * s->cfg.max_body;
    return lim < (16u << 20) ? 16u << 20 : lim > (64u << 20) ? 64u << 20 : lim;
}

/* 0: fits; 1: too large but drainable; 2: too large to drain. */
static int content_length_too_big(hs_server *s, struct MHD_Connection *conn) {
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl) return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (errno != 0 || n > drain_limit(s)) return 2;
    return n > s->cfg.max_body;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_size,
                                 void **con_cls) {
    (void)version;
    hs_server *s = cls;
    hs_conn *c = *con_cls;
    hs_request req = {.server = s, .conn = conn, .method = method, .path = url, .body = ""};
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) return MHD_NO;
        hflow_strbuf_init(&c->body);
        c->t0 = hflow_now_s();
        *con_cls = c;
        active_add(s, 1);
        int big = content_length_too_big(s, conn);
        c->too_large = big != 0;
        if (big != 2) return MHD_YES;
    }
    if (*upload_size && !c->too_large) {
        if (c->body.len + *upload_size > s->cfg.max_body) {
            c->too_large = 1;
            c->discarded = c->body.len;
            hflow_strbuf_free(&c->body);
        } else {
            hflow_strbuf_append(&c->body, upload_data, *upload_size);
            *upload_size = 0;
            return MHD_YES;
        }
    }
    if (*upload_size && c->too_large && c->discarded + *upload_size <= drain_limit(s)) {
        c->discarded += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    /* Answering before the body is read makes MHD close the connection
     * afterwards instead of reading a hostile upload. */
    if (c->too_large) {
        *upload_size = 0;
        hs_reply_error(&req, 413, NULL, NULL, "request_too_large", "request body exceeds %zu bytes",
                       s->cfg.max_body);
    } else if (c->body.oom) {
        hs_reply_error(&req, 500, NULL, NULL, NULL, "out of memory reading the request body");
    } else {
        req.body = c->body.data ? c->body.data : "";
        req.body_len = c->body.len;
        dispatch(s, c, &req);
    }
    c->status = req.status;
    return req.responded ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)conn;
    (void)toe;
    hs_server *s = cls;
    hs_conn *c = *con_cls;
    if (!c) return;
    if (s->cfg.observer) s->cfg.observer(s->cfg.app, c->route_path ? c->route_path : "", c->status,
                                         hflow_now_s() - c->t0);
    hflow_strbuf_free(&c->body);
    free(c);
    *con_cls = NULL;
    active_add(s, -1);
}

/* ---- lifecycle ---- */

int hs_server_start(const hs_config *cfg, hs_server **out, hflow_error *err) {
    *out = NULL;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    const char *host = cfg->host ? cfg->host : "127.0.0.1";
    if (cfg->port < 0 || cfg->port > 65535) return hflow_error_set(err, HFLOW_EINVAL, "bad port %d", cfg->port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return hflow_error_set(err, HFLOW_EINVAL, "bad host '%s' (an IPv4 address is expected)", host);
    hs_server *s = calloc(1, sizeof *s);
    if (!s) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    s->cfg = *cfg;
    if (cfg->api_key && *cfg->api_key && !(s->api_key = strdup(cfg->api_key))) {
        free(s);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC;
    s->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_access, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_CONNECTION_TIMEOUT, cfg->conn_timeout_s ? cfg->conn_timeout_s : 60u,
                                 MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_END);
    if (!s->daemon) {
        int e = errno;
        pthread_cond_destroy(&s->idle);
        pthread_mutex_destroy(&s->mu);
        free(s->api_key);
        free(s);
        return hflow_error_set(err, HFLOW_EIO, "cannot listen on %s:%d: %s", host, cfg->port, strerror(e));
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    *out = s;
    return 0;
}

int hs_server_port(const hs_server *s) { return s->port; }

void hs_server_stop(hs_server *s, double drain_timeout_s) {
    if (!s) return;
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    double deadline = hflow_now_s() + drain_timeout_s;
    pthread_mutex_lock(&s->mu);
    while (s->active > 0 && (drain_timeout_s <= 0 || hflow_now_s() < deadline)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&s->idle, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->daemon);
    /* Producers still running after a drain timeout hold no reference to the
     * server's MHD state, but do to `s`: wait for them before freeing it. */
    pthread_mutex_lock(&s->mu);
    while (s->active > 0) pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s->api_key);
    free(s);
}
