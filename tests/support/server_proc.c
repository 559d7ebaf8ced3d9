/* server_proc.c - fork/exec of `hybridflow serve` with its stdout on a pipe. */
#include "server_proc.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Reads lines from fd until one says "listening on http://HOST:PORT". */
static int read_port(int fd, double timeout_s) {
    char buf[4096];
    size_t len = 0;
    double deadline = now_s() + timeout_s;
    while (now_s() < deadline && len < sizeof buf - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 200) <= 0) continue;
        ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
        if (r <= 0) return -1; /* the server exited */
        len += (size_t)r;
        buf[len] = '\0';
        const char *l = strstr(buf, "listening on http://");
        const char *colon = l ? strchr(l + 20, ':') : NULL;
        if (colon && strchr(colon, '\n')) return atoi(colon + 1);
    }
    return -1;
}

int tu_server_start(tu_server *s, const char *const *args) {
    memset(s, 0, sizeof *s);
    int fds[2];
    if (pipe(fds) != 0) return -1;
    const char *argv[64];
    int n = 0;
    argv[n++] = tu_cli_path();
    argv[n++] = "serve";
    argv[n++] = "--port";
    argv[n++] = "0";
    for (int i = 0; args && args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    s->pid = pid;
    s->port = read_port(fds[0], 120);
    close(fds[0]); /* the server prints nothing else on stdout */
    if (s->port <= 0) {
        tu_server_stop(s);
        return -1;
    }
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
    return 0;
}

const char *tu_server_url(const tu_server *s, const char *path, char *buf, size_t n) {
    snprintf(buf, n, "%s%s", s->base, path);
    return buf;
}

int tu_server_stop(tu_server *s) {
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGTERM);
    int status = 0;
    double deadline = now_s() + 60;
    pid_t r;
    while ((r = waitpid(s->pid, &status, WNOHANG)) == 0 && now_s() < deadline) usleep(10000);
    if (r == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        status = -1;
    }
    s->pid = 0;
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
