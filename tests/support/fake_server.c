/* fake_server.c - scripted OpenAI-compatible responses over real HTTP. */
#include "fake_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/strbuf.h"

#define MAX_SCRIPTS 64
#define MAX_REQUESTS 256

typedef struct recorded {
    char *path, *body, *headers;
} recorded;

struct fake_server {
    struct MHD_Daemon *daemon;
    int port;
    atomic_int stopping;
    pthread_mutex_t mu;
    fs_script scripts[MAX_SCRIPTS];
    int n_scripts, next_script;
    recorded reqs[MAX_REQUESTS];
    int n_reqs;
};

/* Per-connection upload state. */
typedef struct conn_state {
    hflow_strbuf body;
    hflow_strbuf headers;
} conn_state;

/* Per-response sending state. */
typedef struct sender {
    fake_server *srv;
    fs_script sc;
    size_t len, sent;
    int stalled;
} sender;

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void free_script(fs_script *sc) {
    free((char *)sc->content_type);
    free((char *)sc->body);
    free((char *)sc->retry_after);
}

/* Sleeps in small slices; returns -1 when the server is stopping. */
static int pause_ms(fake_server *s, int ms) {
    for (int waited = 0; waited < ms; waited += 5) {
        if (atomic_load(&s->stopping)) return -1;
        int slice = ms - waited < 5 ? ms - waited : 5;
        struct timespec ts = {0, slice * 1000000L};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&s->stopping) ? -1 : 0;
}

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max) {
    sender *sd = cls;
    (void)pos;
    const fs_script *sc = &sd->sc;
    if (sc->close_mid && sd->sent >= sc->close_after) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (sd->sent >= sd->len) return MHD_CONTENT_READER_END_OF_STREAM;
    if (sc->stall_ms && !sd->stalled && sd->sent >= sc->stall_after) {
        sd->stalled = 1;
        if (pause_ms(sd->srv, sc->stall_ms)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (sd->sent > 0 && sc->chunk_delay_ms && pause_ms(sd->srv, sc->chunk_delay_ms))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = sd->len - sd->sent;
    if (sc->chunk && n > sc->chunk) n = sc->chunk;
    if (sc->close_mid && n > sc->close_after - sd->sent) n = sc->close_after - sd->sent;
    if (sc->stall_ms && !sd->stalled && sd->sent < sc->stall_after && n > sc->stall_after - sd->sent)
        n = sc->stall_after - sd->sent;
    if (n > max) n = max;
    memcpy(buf, sc->body + sd->sent, n);
    sd->sent += n;
    return (ssize_t)n;
}

static void free_sender(void *cls) {
    sender *sd = cls;
    free_script(&sd->sc);
    free(sd);
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    hflow_strbuf *b = cls;
    for (const char *k = key; *k; k++) hflow_strbuf_putc(b, (char)tolower((unsigned char)*k));
    hflow_strbuf_printf(b, ": %s\n", value ? value : "");
    return MHD_YES;
}

/* Records the finished request and takes the next script (a copy). */
static void record_and_pop(fake_server *s, const char *url, conn_state *cs, fs_script *out) {
    pthread_mutex_lock(&s->mu);
    if (s->n_reqs < MAX_REQUESTS) {
        recorded *r = &s->reqs[s->n_reqs++];
        r->path = strdup(url);
        r->body = strdup(cs->body.data ? cs->body.data : "");
        r->headers = strdup(cs->headers.data ? cs->headers.data : "");
    }
    memset(out, 0, sizeof *out);
    if (s->next_script < s->n_scripts) {
        *out = s->scripts[s->next_script++]; /* ownership of its strings moves to the responder */
    } else {
        out->status = 500;
        out->body = strdup("{\"error\":{\"message\":\"fake server: no scripted response left\",\"type\":\"server_error\"}}");
    }
    pthread_mutex_unlock(&s->mu);
}

static enum MHD_Result respond(fake_server *s, struct MHD_Connection *conn, fs_script *sc) {
    if (sc->first_byte_delay_ms && pause_ms(s, sc->first_byte_delay_ms)) {
        free_script(sc);
        return MHD_NO;
    }
    sender *sd = calloc(1, sizeof *sd);
    sd->srv = s;
    sd->sc = *sc;
    if (!sd->sc.body) sd->sc.body = strdup("");
    sd->len = strlen(sd->sc.body);
    const char *ct = sc->content_type ? sc->content_type : "application/json";
    int sse = strstr(ct, "event-stream") != NULL;
    /* Streams use chunked encoding like real servers; other bodies a length. */
    struct MHD_Response *r =
        MHD_create_response_from_callback(sse ? MHD_SIZE_UNKNOWN : sd->len, 4096, read_body, sd, free_sender);
    MHD_add_response_header(r, "Content-Type", ct);
    if (sc->retry_after) MHD_add_response_header(r, "Retry-After", sc->retry_after);
    enum MHD_Result ret = MHD_queue_response(conn, sc->status ? (unsigned)sc->status : 200u, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)method, (void)version;
    fake_server *s = cls;
    conn_state *cs = *con_cls;
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        hflow_strbuf_init(&cs->body);
        hflow_strbuf_init(&cs->headers);
        MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &cs->headers);
        *con_cls = cs;
        return MHD_YES;
    }
    if (*upload_data_size) {
        hflow_strbuf_append(&cs->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    fs_script sc;
    record_and_pop(s, url, cs, &sc);
    return respond(s, conn, &sc);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)conn, (void)toe;
    conn_state *cs = *con_cls;
    if (!cs) return;
    hflow_strbuf_free(&cs->body);
    hflow_strbuf_free(&cs->headers);
    free(cs);
    *con_cls = NULL;
}

fake_server *fs_start(void) {
    fake_server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->stopping, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                                 on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    const union MHD_DaemonInfo *info = s->daemon ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info || !info->port) {
        if (s->daemon) MHD_stop_daemon(s->daemon);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    s->port = info->port;
    return s;
}

void fs_stop(fake_server *s) {
    if (!s) return;
    atomic_store(&s->stopping, 1);
    MHD_stop_daemon(s->daemon);
    for (int i = s->next_script; i < s->n_scripts; i++) free_script(&s->scripts[i]);
    for (int i = 0; i < s->n_reqs; i++) {
        free(s->reqs[i].path);
        free(s->reqs[i].body);
        free(s->reqs[i].headers);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int fs_port(const fake_server *s) { return s->port; }

const char *fs_endpoint(const fake_server *s, const char *model, char *buf, size_t n) {
    snprintf(buf, n, "http://127.0.0.1:%d/v1#%s", s->port, model);
    return buf;
}

void fs_push(fake_server *s, const fs_script *sc) {
    pthread_mutex_lock(&s->mu);
    if (s->n_scripts < MAX_SCRIPTS) {
        fs_script *d = &s->scripts[s->n_scripts++];
        *d = *sc;
        d->content_type = dup_or_null(sc->content_type);
        d->body = dup_or_null(sc->body);
        d->retry_after = dup_or_null(sc->retry_after);
    }
    pthread_mutex_unlock(&s->mu);
}

void fs_push_n(fake_server *s, const fs_script *sc, int n) {
    for (int i = 0; i < n; i++) fs_push(s, sc);
}

int fs_n_requests(fake_server *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->n_reqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static char *request_field(fake_server *s, int i, int which) {
    pthread_mutex_lock(&s->mu);
    char *out = NULL;
    if (i >= 0 && i < s->n_reqs) {
        const recorded *r = &s->reqs[i];
        out = strdup(which == 0 ? r->path : which == 1 ? r->body : r->headers);
    }
    pthread_mutex_unlock(&s->mu);
    return out;
}

char *fs_request_path(fake_server *s, int i) { return request_field(s, i, 0); }
char *fs_request_body(fake_server *s, int i) { return request_field(s, i, 1); }
char *fs_request_headers(fake_server *s, int i) { return request_field(s, i, 2); }

int fs_closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    close(fd); /* bound but never listening: connecting is refused */
    return port;
}
