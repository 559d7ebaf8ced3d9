/* spec_sessions.c - bounded table of speculative sessions with lazy idle
 * expiry, and per-version acceptance counters. */
#include "serve/spec_sessions.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

#define EXPIRED_MEMORY 64   /* recently expired ids, to tell "expired" from "unknown" */
#define MAX_ACCEPT_SERIES 64

typedef struct accept_series {
    uint64_t draft_fp;
    char model[128];
    char version[64];
    uint64_t drafted, accepted, rounds;
} accept_series;

struct spec_table {
    pthread_mutex_t mu;
    serve_registry *reg;
    spec_session **slots;
    int max, n;
    double idle_s;
    char expired[EXPIRED_MEMORY][40];
    int expired_next;
    accept_series series[MAX_ACCEPT_SERIES];
    int n_series;
};

int spec_table_create(serve_registry *reg, int max_sessions, double idle_timeout_s, spec_table **out,
                      hflow_error *err) {
    *out = NULL;
    spec_table *t = calloc(1, sizeof *t);
    if (max_sessions < 1) max_sessions = 1;
    if (!t || !(t->slots = calloc((size_t)max_sessions, sizeof *t->slots))) {
        free(t);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&t->mu, NULL);
    t->reg = reg;
    t->max = max_sessions;
    t->idle_s = idle_timeout_s > 0 ? idle_timeout_s : 300;
    *out = t;
    return 0;
}

static void session_free(spec_table *t, spec_session *s) {
    hflow_spec_target_free(s->target);
    serve_model_release(t->reg, s->ver);
    free(s);
}

void spec_table_free(spec_table *t) {
    if (!t) return;
    for (int i = 0; i < t->max; i++)
        if (t->slots[i]) session_free(t, t->slots[i]);
    free(t->slots);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int spec_table_max(const spec_table *t) { return t->max; }
double spec_table_idle_timeout(const spec_table *t) { return t->idle_s; }

/* Unlists slot i; returns the session when nobody else holds it (to free outside the lock). */
static spec_session *unlist(spec_table *t, int i) {
    spec_session *s = t->slots[i];
    t->slots[i] = NULL;
    t->n--;
    return --s->refs == 0 ? s : NULL;
}

/* Unlists idle sessions past their timeout (never one in use); collects those to free. */
static int expire(spec_table *t, spec_session **dead, int cap) {
    double now = hflow_now_s();
    int nd = 0;
    for (int i = 0; i < t->max && nd < cap; i++) {
        spec_session *s = t->slots[i];
        if (!s || s->refs > 1 || s->busy || now - s->last_used <= t->idle_s) continue;
        snprintf(t->expired[t->expired_next], sizeof t->expired[0], "%s", s->id);
        t->expired_next = (t->expired_next + 1) % EXPIRED_MEMORY;
        spec_session *f = unlist(t, i);
        if (f) dead[nd++] = f;
    }
    return nd;
}

/* Prometheus label values: no quotes, backslashes or newlines. */
static void label_copy(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src);
    for (char *p = dst; *p; p++)
        if (*p == '"' || *p == '\\' || *p == '\n') *p = '_';
}

static void free_all(spec_table *t, spec_session **dead, int nd) {
    for (int i = 0; i < nd; i++) session_free(t, dead[i]);
}

int spec_table_add(spec_table *t, serve_model *ver, hflow_spec_target *target, uint64_t draft_fp, const char *id,
                   spec_session **out, hflow_error *err) {
    *out = NULL;
    spec_session *dead[16];
    pthread_mutex_lock(&t->mu);
    int nd = expire(t, dead, 16);
    int slot = -1;
    for (int i = 0; i < t->max && slot < 0; i++)
        if (!t->slots[i]) slot = i;
    spec_session *s = slot >= 0 ? calloc(1, sizeof *s) : NULL;
    if (s) {
        snprintf(s->id, sizeof s->id, "%s", id);
        s->ver = ver;
        s->target = target;
        s->draft_fp = draft_fp;
        s->busy = 1;
        s->last_used = hflow_now_s();
        s->refs = 2; /* the table's and the caller's */
        t->slots[slot] = s;
        t->n++;
    }
    pthread_mutex_unlock(&t->mu);
    free_all(t, dead, nd);
    if (slot < 0)
        return hflow_error_set(err, HFLOW_EBUDGET, "all %d speculative sessions are in use; close one or retry later",
                               t->max);
    if (!s) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    *out = s;
    return 0;
}

int spec_table_get(spec_table *t, const char *id, spec_session **out, hflow_error *err) {
    *out = NULL;
    spec_session *dead[16];
    pthread_mutex_lock(&t->mu);
    int nd = expire(t, dead, 16);
    int busy = 0;
    for (int i = 0; i < t->max && !*out && !busy; i++)
        if (t->slots[i] && !strcmp(t->slots[i]->id, id)) {
            if ((busy = t->slots[i]->busy)) break;
            *out = t->slots[i];
            (*out)->refs++;
            (*out)->busy = 1;
        }
    int was_expired = 0;
    for (int i = 0; i < EXPIRED_MEMORY && !*out && !was_expired; i++) was_expired = !strcmp(t->expired[i], id);
    pthread_mutex_unlock(&t->mu);
    free_all(t, dead, nd);
    if (*out) return 0;
    if (busy)
        return hflow_error_set(err, HFLOW_ESTATE,
                               "another request is working on spec session '%s' (one verify at a time)", id);
    if (was_expired)
        return hflow_error_set(err, HFLOW_ENOTFOUND,
                               "spec session '%s' expired (idle for more than %g s); open a new session", id, t->idle_s);
    return hflow_error_set(err, HFLOW_ENOTFOUND, "spec session '%s' is unknown (closed, expired or never created)", id);
}

void spec_table_put(spec_table *t, spec_session *s) {
    if (!s) return;
    pthread_mutex_lock(&t->mu);
    s->last_used = hflow_now_s();
    s->busy = 0;
    int left = --s->refs;
    pthread_mutex_unlock(&t->mu);
    if (left == 0) session_free(t, s);
}

int spec_table_remove(spec_table *t, const char *id, hflow_error *err) {
    spec_session *f = NULL;
    int found = 0;
    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < t->max && !found; i++)
        if (t->slots[i] && !strcmp(t->slots[i]->id, id)) {
            found = 1;
            f = unlist(t, i);
        }
    pthread_mutex_unlock(&t->mu);
    if (f) session_free(t, f);
    return found ? 0 : hflow_error_set(err, HFLOW_ENOTFOUND, "spec session '%s' is unknown", id);
}

int spec_table_count(spec_table *t) {
    pthread_mutex_lock(&t->mu);
    int n = t->n;
    pthread_mutex_unlock(&t->mu);
    return n;
}

void spec_table_count_round(spec_table *t, const spec_session *s, int drafted, int accepted) {
    pthread_mutex_lock(&t->mu);
    accept_series *a = NULL;
    char model[128], version[64];
    label_copy(model, sizeof model, s->ver->name);
    label_copy(version, sizeof version, s->ver->version);
    for (int i = 0; i < t->n_series && !a; i++)
        if (t->series[i].draft_fp == s->draft_fp && !strcmp(t->series[i].model, model) &&
            !strcmp(t->series[i].version, version))
            a = &t->series[i];
    if (!a && t->n_series < MAX_ACCEPT_SERIES) { /* bounded: later series are not counted */
        a = &t->series[t->n_series++];
        a->draft_fp = s->draft_fp;
        label_copy(a->model, sizeof a->model, s->ver->name);
        label_copy(a->version, sizeof a->version, s->ver->version);
    }
    if (a) {
        a->drafted += (uint64_t)drafted;
        a->accepted += (uint64_t)accepted;
        a->rounds++;
    }
    pthread_mutex_unlock(&t->mu);
}

void spec_table_render_metrics(spec_table *t, hflow_strbuf *o) {
    static const struct { const char *name, *help; } m[3] = {
        {"hflow_spec_drafted_tokens_total", "Draft tokens verified, by draft tokenizer and target version."},
        {"hflow_spec_accepted_tokens_total", "Draft tokens accepted, by draft tokenizer and target version."},
        {"hflow_spec_rounds_total", "Verify rounds, by draft tokenizer and target version."}};
    pthread_mutex_lock(&t->mu);
    for (int k = 0; k < 3; k++) {
        hflow_strbuf_printf(o, "# HELP %s %s\n# TYPE %s counter\n", m[k].name, m[k].help, m[k].name);
        for (int i = 0; i < t->n_series; i++) {
            const accept_series *a = &t->series[i];
            uint64_t v = k == 0 ? a->drafted : k == 1 ? a->accepted : a->rounds;
            hflow_strbuf_printf(o, "%s{draft_tokenizer=\"%016" PRIx64 "\",model=\"%s\",version=\"%s\"} %" PRIu64 "\n",
                                m[k].name, a->draft_fp, a->model, a->version, v);
        }
    }
    hflow_strbuf_printf(o, "# HELP hflow_spec_sessions Open speculative sessions.\n# TYPE hflow_spec_sessions gauge\n"
                           "hflow_spec_sessions %d\n", t->n);
    pthread_mutex_unlock(&t->mu);
}
