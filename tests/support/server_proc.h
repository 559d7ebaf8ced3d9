/* server_proc.h - runs the real `hybridflow serve` binary as a child process
 * for tests: on port 0, reading the port from its "listening on" line, and
 * stopped with SIGTERM (always reaped). */
#ifndef HFLOW_TEST_SERVER_PROC_H
#define HFLOW_TEST_SERVER_PROC_H
#include <sys/types.h>

typedef struct tu_server {
    pid_t pid;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
} tu_server;

/* Starts `hybridflow serve --port 0 ARGS...` (args NULL-terminated). Waits up
 * to 120 s for the listening line. Returns 0, or -1 (the child is reaped). */
int tu_server_start(tu_server *s, const char *const *args);
/* base + path into buf. */
const char *tu_server_url(const tu_server *s, const char *path, char *buf, size_t n);
/* SIGTERM, wait (SIGKILL after 60 s). Returns the exit status, or -1 when it
 * did not exit normally. Safe to call twice. */
int tu_server_stop(tu_server *s);

#endif
