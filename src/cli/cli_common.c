/* cli_common.c - see cli_common.h. */
#include "cli/cli_common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cli_shared_dir(void) {
    const char *e = getenv("HYBRIDFLOW_SHARED");
    return e && *e ? e : HFLOW_SOURCE_DIR "/../shared";
}

int cli_open_backend(const char *what, const char *endpoint, hflow_backend **out) {
    return cli_open_backend_opts(what, endpoint, NULL, out);
}

int cli_open_backend_opts(const char *what, const char *endpoint, const hflow_backend_options *opts,
                          hflow_backend **out) {
    hflow_error err;
    hflow_error_clear(&err);
    if (hflow_backend_open(endpoint, opts, out, &err)) {
        fprintf(stderr, "%s: cannot open %s: %s\n", what, endpoint, err.message);
        return 1;
    }
    return 0;
}

/* The one flag a signal handler may touch; the library only reads it. */
static volatile int cancel_flag;

static void on_signal(int sig) {
    (void)sig;
    cancel_flag = 1;
}

volatile int *cli_cancel_flag_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &cancel_flag;
}

void cli_progress_init(cli_progress *p, const char *label) {
    p->label = label;
    p->tty = isatty(STDERR_FILENO);
}

static void fmt_dur(char *buf, size_t n, double s) {
    if (s < 0 || s != s) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

void cli_progress_cb(void *user, const hflow_eval_progress *pr) {
    cli_progress *p = user;
    char el[32], eta[32];
    fmt_dur(el, sizeof el, pr->elapsed_s);
    fmt_dur(eta, sizeof eta, pr->eta_s);
    double frac = pr->total ? (double)pr->done / (double)pr->total : 1;
    if (p->tty) {
        char bar[31];
        int w = (int)(frac * 30 + 0.5);
        for (int i = 0; i < 30; i++) bar[i] = i < w ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r%s [%s] %zu/%zu %3.0f%%  elapsed %s  ETA %s  errors %zu ", p->label, bar, pr->done,
                pr->total, 100 * frac, el, eta, pr->errors);
    } else {
        fprintf(stderr, "%s: %zu/%zu", p->label, pr->done, pr->total);
        if (pr->last)
            fprintf(stderr, " %s %s score %.2f%s%s", pr->last->method, pr->last->id, pr->last->score,
                    pr->last->error[0] ? " error: " : "", pr->last->error);
        fprintf(stderr, " (ETA %s)\n", eta);
    }
    fflush(stderr);
}

void cli_progress_end(cli_progress *p) {
    if (p->tty) fputc('\n', stderr);
}
