/* fake_server.h - a programmable fake OpenAI-compatible server for tests,
 * on a free loopback port (libmicrohttpd, one thread per connection).
 *
 * Tests push scripted responses; each incoming request takes the next one in
 * order (when none is left it gets a 500 with an OpenAI error object). Every
 * request's path, headers and body are recorded for assertions. All waits
 * inside the server end early when the server is stopped, so a test that
 * fails never hangs in fs_stop. */
#ifndef HFLOW_TEST_FAKE_SERVER_H
#define HFLOW_TEST_FAKE_SERVER_H

#include <stddef.h>

typedef struct fake_server fake_server;

typedef struct fs_script {
    int status;               /* 0 = 200 */
    const char *content_type; /* NULL = application/json */
    const char *body;         /* NULL = "" */
    size_t chunk;             /* > 0: send the body in pieces of this many bytes */
    int chunk_delay_ms;       /* pause before every piece after the first */
    int first_byte_delay_ms;  /* pause before the status line */
    const char *retry_after;  /* optional Retry-After header value */
    int close_mid;            /* drop the connection after close_after body bytes */
    size_t close_after;
    int stall_ms;             /* with stall_after: go silent for this long ... */
    size_t stall_after;       /* ... once this many body bytes were sent */
} fs_script;

/* Starts a server on 127.0.0.1 and a free port; NULL on failure. */
fake_server *fs_start(void);
/* Stops the server (ending any scripted waits) and frees it. */
void fs_stop(fake_server *s);
int fs_port(const fake_server *s);
/* "http://127.0.0.1:PORT/v1#model" into buf. */
const char *fs_endpoint(const fake_server *s, const char *model, char *buf, size_t n);
/* Queues a response; the script's strings are copied. */
void fs_push(fake_server *s, const fs_script *script);
/* Queues the same response n times. */
void fs_push_n(fake_server *s, const fs_script *script, int n);
/* Requests received so far (complete ones, whose body was read). */
int fs_n_requests(fake_server *s);
/* Copies of request i's path, body or headers ("Name: value\n" lines,
 * names lower-cased); malloc'd, caller frees; NULL when i is out of range. */
char *fs_request_path(fake_server *s, int i);
char *fs_request_body(fake_server *s, int i);
char *fs_request_headers(fake_server *s, int i);

/* A port on 127.0.0.1 that nothing listens on (bound then closed). */
int fs_closed_port(void);

#endif
