/* cli_serve.c - `hybridflow serve`: run the OpenAI-compatible server until
 * SIGINT/SIGTERM, then drain in-flight requests and exit 0.
 *
 * The signals are blocked before the server starts, so every MHD thread
 * inherits the mask and only this thread receives them, in sigwait: no
 * async-signal-safety concerns and no global flag. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "hybridflow/serve.h"

#define MAX_MODELS 16

static void usage(FILE *out) {
    fprintf(out,
            "usage: hybridflow serve --model [NAME=]PATH.gguf [--model ...] [--host 127.0.0.1] [--port 8080]\n"
            "                        [--parallel N] [--ctx N] [--threads N] [--api-key KEY] [--max-queue N]\n"
            "                        [--max-body BYTES] [--spec-max-sessions N] [--spec-idle-timeout S]\n"
            "                        [--hybrid-edge EP [--hybrid-cloud EP] [--hybrid-policy SPEC]\n"
            "                         [--hybrid-planner edge|cloud] [--hybrid-name NAME] [--hybrid-prices FILE]\n"
            "                         [--hybrid-budget-tokens N] [--hybrid-budget-usd X] [--hybrid-deadline S]\n"
            "                         [--hybrid-max-steps N] [--hybrid-max-tokens N] [--hybrid-planner-tokens N]\n"
            "                         [--hybrid-call-timeout S] [--hybrid-planner-template FILE] [--hybrid-trace FILE]\n"
            "                         [--hybrid-cascade 0|1]]\n"
            "  --hybrid-* add the virtual model 'hybridflow' (plan + route over an edge and a cloud\n"
            "  endpoint: http://host:port/v1#model, a GGUF path, or the NAME of a --model served here).\n"
            "  --hybrid-trace appends each answered query's JSONL trace (per-step tiers, router scores,\n"
            "  thresholds, budget state) to FILE. --hybrid-cascade 1 runs each step on the edge first and\n"
            "  keeps or escalates it on the answer's confidence (run --cascade).\n"
            "  --port 0 picks a free port. Once listening, prints 'listening on http://HOST:PORT'.\n"
            "  Without NAME= a model is named after its file (stories260K.gguf -> stories260K).\n"
            "  The API key may also come from HYBRIDFLOW_API_KEY. Routes: docs/SERVER.md.\n"
            "  SIGHUP reloads every --model from its path (hot swap: open spec sessions\n"
            "  finish on the version they started with).\n");
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* "NAME=PATH", or "PATH" named after its file (directory and .gguf dropped). */
static int add_model(const char *v, hflow_serve_model *m, char **name) {
    const char *eq = strchr(v, '=');
    const char *path = eq ? eq + 1 : v;
    if (!*path || eq == v) return -1;
    if (eq) {
        *name = strndup(v, (size_t)(eq - v));
    } else {
        const char *base = strrchr(v, '/');
        base = base ? base + 1 : v;
        size_t n = strlen(base);
        if (n > 5 && !strcmp(base + n - 5, ".gguf")) n -= 5;
        *name = strndup(base, n);
    }
    if (!*name || !**name) return -1;
    *m = (hflow_serve_model){*name, path, NULL};
    return 0;
}

/* Fills o and the model table from argv; returns 0, 1 for --help, -1 on error. */
static int parse_double(const char *s, double lo, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo)) return -1;
    *out = v;
    return 0;
}

/* --hybrid-* flags; returns 1 when a consumed, 0 when not a hybrid flag, -1 on a bad value. */
static int parse_hybrid(const char *a, const char *v, hflow_serve_hybrid *h) {
    int n = 0;
    double d = 0;
    if (strncmp(a, "--hybrid-", 9)) return 0;
    const char *k = a + 9;
    if (!strcmp(k, "edge")) h->edge = v;
    else if (!strcmp(k, "cloud")) h->cloud = v;
    else if (!strcmp(k, "policy")) h->policy = v;
    else if (!strcmp(k, "planner")) h->planner = v;
    else if (!strcmp(k, "name")) h->name = v;
    else if (!strcmp(k, "prices")) h->prices = v;
    else if (!strcmp(k, "planner-template")) h->planner_template = v;
    else if (!strcmp(k, "trace")) h->trace = v;
    else if (!strcmp(k, "cascade")) {
        if (parse_int(v, 0, 1, &n)) return -1;
        h->cascade = n;
    } else if (!strcmp(k, "budget-tokens")) {
        if (parse_int(v, 1, 1 << 30, &n)) return -1;
        h->limits.cloud_tokens = n;
    } else if (!strcmp(k, "budget-usd")) {
        if (parse_double(v, 0, &d)) return -1;
        h->limits.usd = d;
    } else if (!strcmp(k, "deadline")) {
        if (parse_double(v, 0, &d)) return -1;
        h->limits.deadline_s = d;
    } else if (!strcmp(k, "call-timeout")) {
        if (parse_double(v, 0, &d)) return -1;
        h->call_timeout_s = d;
    } else if (!strcmp(k, "max-tokens")) {
        if (parse_int(v, 1, 1 << 20, &n)) return -1;
        h->max_tokens = n;
    } else if (!strcmp(k, "planner-tokens")) {
        if (parse_int(v, 1, 1 << 20, &n)) return -1;
        h->planner_max_tokens = n;
    } else if (!strcmp(k, "max-steps")) {
        if (parse_int(v, 1, 64, &n)) return -1;
        h->max_steps = n;
    } else return -1;
    return 1;
}

static int parse_args(int argc, char **argv, hflow_serve_options *o, hflow_serve_model *models, char **names,
                      hflow_serve_hybrid *hy) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
        if (i + 1 >= argc) {
            fprintf(stderr, "hybridflow serve: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        int n = 0, bad = 0;
        int hr = parse_hybrid(a, v, hy);
        if (hr < 0) {
            fprintf(stderr, "hybridflow serve: bad %s: %s\n", a, v);
            return -1;
        }
        if (hr > 0) continue;
        if (!strcmp(a, "--model")) {
            if (o->n_models >= MAX_MODELS || add_model(v, &models[o->n_models], &names[o->n_models])) {
                fprintf(stderr, "hybridflow serve: --model wants NAME=PATH.gguf or PATH.gguf (at most %d)\n",
                        MAX_MODELS);
                return -1;
            }
            o->n_models++;
        } else if (!strcmp(a, "--host")) o->host = v;
        else if (!strcmp(a, "--port")) { bad = parse_int(v, 0, 65535, &n); o->port = n; }
        else if (!strcmp(a, "--parallel")) { bad = parse_int(v, 1, 256, &n); o->n_parallel = n; }
        else if (!strcmp(a, "--ctx")) { bad = parse_int(v, 0, 1 << 20, &n); o->n_ctx = n; }
        else if (!strcmp(a, "--threads")) { bad = parse_int(v, 0, 1024, &n); o->n_threads = n; }
        else if (!strcmp(a, "--max-queue")) { bad = parse_int(v, 0, 1 << 20, &n); o->max_queue = n; }
        else if (!strcmp(a, "--max-body")) { bad = parse_int(v, 1, 1 << 30, &n); o->max_body_bytes = (size_t)n; }
        else if (!strcmp(a, "--api-key")) o->api_key = v;
        else if (!strcmp(a, "--spec-max-sessions")) { bad = parse_int(v, 1, 1 << 16, &n); o->spec_max_sessions = n; }
        else if (!strcmp(a, "--spec-idle-timeout")) {
            char *end;
            o->spec_idle_timeout_s = strtod(v, &end);
            bad = !*v || *end || !(o->spec_idle_timeout_s > 0);
        }
        else {
            fprintf(stderr, "hybridflow serve: unknown option %s\n", a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "hybridflow serve: bad value for %s: %s\n", a, v);
            return -1;
        }
    }
    int hybrid_set = hy->edge || hy->cloud || hy->policy || hy->planner || hy->name || hy->prices ||
                     hy->planner_template || hy->max_steps || hy->max_tokens || hy->planner_max_tokens || hy->limits.cloud_tokens || hy->limits.usd ||
                     hy->limits.deadline_s || hy->call_timeout_s || hy->trace || hy->cascade;
    if (hybrid_set && !hy->edge) {
        fprintf(stderr, "hybridflow serve: the --hybrid-* options need --hybrid-edge EP\n");
        return -1;
    }
    if (hybrid_set) o->hybrid = hy;
    if (!o->n_models && !o->hybrid) {
        fprintf(stderr, "hybridflow serve: at least one --model NAME=PATH.gguf (or --hybrid-edge EP) is needed\n");
        return -1;
    }
    return 0;
}

/* SIGHUP: re-read every --model from its path (a file replaced on disk
 * becomes the new version); a model that fails to load keeps its old version. */
static void reload(hflow_server *srv, const hflow_serve_options *o) {
    for (int i = 0; i < o->n_models; i++) {
        hflow_error err;
        if (hflow_server_swap_model(srv, o->models[i].name, o->models[i].path, &err))
            fprintf(stderr, "hybridflow serve: SIGHUP: %s kept its current version: %s\n", o->models[i].name,
                    err.message);
        else
            fprintf(stderr, "hybridflow serve: SIGHUP: reloaded %s from %s\n", o->models[i].name, o->models[i].path);
    }
}

int cli_serve(int argc, char **argv) {
    hflow_serve_options o;
    hflow_serve_options_default(&o);
    hflow_serve_model models[MAX_MODELS];
    char *names[MAX_MODELS] = {0};
    o.models = models;
    const char *env_key = getenv("HYBRIDFLOW_API_KEY");
    if (env_key && *env_key) o.api_key = env_key;
    hflow_serve_hybrid hybrid;
    memset(&hybrid, 0, sizeof hybrid);
    int rc = parse_args(argc, argv, &o, models, names, &hybrid);
    if (rc) {
        usage(rc > 0 ? stdout : stderr);
        rc = rc > 0 ? 0 : 2;
        goto out;
    }

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    hflow_server *srv;
    hflow_error err;
    if (hflow_server_start(&o, &srv, &err)) {
        fprintf(stderr, "hybridflow serve: %s\n", err.message);
        rc = 1;
        goto out;
    }
    printf("listening on http://%s:%d\n", o.host, hflow_server_port(srv));
    fflush(stdout);
    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) reload(srv, &o);
    fprintf(stderr, "hybridflow serve: %s received, draining in-flight requests\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    hflow_server_stop(srv);
    fprintf(stderr, "hybridflow serve: stopped\n");
out:
    for (int i = 0; i < MAX_MODELS; i++) free(names[i]);
    return rc;
}
