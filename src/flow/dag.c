/* dag.c - incremental plan DAG with the repair rules documented in dag.h.
 * Repairing at insertion time (instead of after the whole plan) is what lets
 * the scheduler start a step while the planner is still writing. */
#include "flow/dag.h"

#include <stdlib.h>
#include <string.h>

void flow_dag_init(flow_dag *d, int max_steps) {
    memset(d, 0, sizeof *d);
    d->max_steps = max_steps > 0 ? max_steps : 8;
    hflow_strbuf_init(&d->log);
}

void flow_dag_free(flow_dag *d) {
    for (int i = 0; i < d->n; i++) {
        free(d->steps[i]->task);
        free(d->steps[i]->deps);
        free(d->steps[i]);
    }
    free(d->steps);
    free(d->ids);
    hflow_strbuf_free(&d->log);
    memset(d, 0, sizeof *d);
}

static void repair(flow_dag *d, const char *rule, int id, const char *what, int arg) {
    d->n_repairs++;
    hflow_strbuf_printf(&d->log, "%s step %d: %s", rule, id, what);
    if (arg) hflow_strbuf_printf(&d->log, " %d", arg);
    hflow_strbuf_putc(&d->log, '\n');
}

static int index_of_id(const flow_dag *d, int id) {
    for (int i = 0; i < d->n; i++)
        if (d->ids[i] == id) return i;
    return -1;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int flow_dag_add(flow_dag *d, const flow_raw_step *raw) {
    int shown = raw->id > 0 ? raw->id : d->max_id + 1;
    if (d->n >= d->max_steps) {
        d->n_dropped++;
        repair(d, "R6", shown, "dropped: more than max steps", d->max_steps);
        return -1;
    }
    if (!raw->task || !raw->task[0]) {
        d->n_dropped++;
        repair(d, "R7", shown, "dropped: empty task", 0);
        return -1;
    }
    int id = raw->id;
    if (id <= 0) {
        id = d->max_id + 1;
        repair(d, "R1", id, "missing id, numbered", id);
    } else if (index_of_id(d, id) >= 0) {
        int nid = d->max_id + 1;
        repair(d, "R2", id, "duplicate id, renumbered to", nid);
        id = nid;
    }
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 8;
        flow_step **s = realloc(d->steps, (size_t)cap * sizeof *s);
        if (!s) return -2;
        d->steps = s;
        int *ids = realloc(d->ids, (size_t)cap * sizeof *ids);
        if (!ids) return -2;
        d->ids = ids;
        d->cap = cap;
    }
    flow_step *st = calloc(1, sizeof *st);
    if (!st) return -2;
    st->task = strdup(raw->task);
    st->deps = malloc(((size_t)raw->n_rely + 1) * sizeof *st->deps);
    if (!st->task || !st->deps) {
        free(st->task);
        free(st->deps);
        free(st);
        return -2;
    }
    st->index = d->n;
    st->plan_id = raw->id > 0 ? raw->id : 0;
    st->id = id;
    for (int k = 0; k < raw->n_rely; k++) {
        int ref = raw->rely[k];
        if (ref == id) {
            repair(d, "R4", id, "self reference dropped", 0);
            continue;
        }
        int di = index_of_id(d, ref);
        if (di < 0) {
            repair(d, "R3", id, "unknown or later reference dropped:", ref);
            continue;
        }
        int dup = 0;
        for (int m = 0; m < st->n_deps; m++) dup |= st->deps[m] == di;
        if (dup) {
            repair(d, "R5", id, "duplicate reference dropped:", ref);
            continue;
        }
        st->deps[st->n_deps++] = di;
    }
    qsort(st->deps, (size_t)st->n_deps, sizeof *st->deps, cmp_int);
    st->difficulty = raw->difficulty;
    if (st->difficulty < 0 || st->difficulty > 9) {
        int c = st->difficulty < 0 ? 1 : 9;
        repair(d, "R8", id, "difficulty clamped to", c);
        st->difficulty = c;
    }
    st->token_estimate = raw->tokens > 0 ? raw->tokens : 0;
    st->depth = 0;
    for (int m = 0; m < st->n_deps; m++) {
        int dd = d->steps[st->deps[m]]->depth + 1;
        if (dd > st->depth) st->depth = dd;
    }
    d->steps[d->n] = st;
    d->ids[d->n] = id;
    d->n++;
    if (id > d->max_id) d->max_id = id;
    return st->index;
}

int flow_dag_finish(flow_dag *d) {
    if (d->n > 0) return 0;
    flow_raw_step raw;
    memset(&raw, 0, sizeof raw);
    raw.id = 1;
    raw.task = FLOW_DIRECT_ANSWER_TASK;
    repair(d, "R9", 1, "empty plan: answering directly", 0);
    int max = d->max_steps;
    if (d->max_steps < 1) d->max_steps = 1;
    int rc = flow_dag_add(d, &raw);
    d->max_steps = max;
    return rc < 0 ? -2 : 1;
}

int flow_dag_critical_path(const flow_dag *d) {
    int best = 0;
    for (int i = 0; i < d->n; i++)
        if (d->steps[i]->depth + 1 > best) best = d->steps[i]->depth + 1;
    return best;
}

double flow_dag_weighted_critical_path(const flow_dag *d, const double *weight) {
    double *finish = calloc((size_t)d->n + 1, sizeof *finish);
    if (!finish) return -1;
    double best = 0;
    for (int i = 0; i < d->n; i++) { /* indices are a topological order */
        double start = 0;
        for (int m = 0; m < d->steps[i]->n_deps; m++)
            if (finish[d->steps[i]->deps[m]] > start) start = finish[d->steps[i]->deps[m]];
        finish[i] = start + weight[i];
        if (finish[i] > best) best = finish[i];
    }
    free(finish);
    return best;
}

int flow_dag_has_dependents(const flow_dag *d, int i) {
    for (int k = i + 1; k < d->n; k++)
        for (int m = 0; m < d->steps[k]->n_deps; m++)
            if (d->steps[k]->deps[m] == i) return 1;
    return 0;
}

void flow_dag_ancestors(const flow_dag *d, int i, unsigned char *out) {
    /* Walk down in index order: deps always have smaller indices. */
    for (int m = 0; m < d->steps[i]->n_deps; m++) out[d->steps[i]->deps[m]] = 1;
    for (int k = i - 1; k >= 0; k--) {
        if (!out[k]) continue;
        for (int m = 0; m < d->steps[k]->n_deps; m++) out[d->steps[k]->deps[m]] = 1;
    }
}
