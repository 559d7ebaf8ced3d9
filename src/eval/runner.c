/* runner.c - `hybridflow eval` live runs: every (question, method) pair not
 * yet finished in the output directory goes through a bounded pool of worker
 * threads; each result is appended to its method's JSONL file and flushed at
 * once, so an interrupted run loses only the questions in flight and a rerun
 * resumes where it stopped. Jobs are ordered question-major so that all
 * methods advance together and a partial run compares like with like. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "eval/eval_util.h"
#include "eval/runner_internal.h"

void hflow_eval_run_config_default(hflow_eval_run_config *c) {
    memset(c, 0, sizeof *c);
    c->planner_tier = HFLOW_TIER_EDGE;
    c->concurrency = 1;
    c->seed = 1;
    c->max_tokens = 1024;
}

static int make_dir(const char *path, hflow_error *err) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return hflow_error_set(err, HFLOW_EIO, "%s: %s", path, strerror(errno));
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* done[i] = 1 when out_dir/METHOD.jsonl holds an error-free line for item i. */
static int load_done(const char *out_dir, const char *method, const hflow_eval_dataset *d, size_t n_items,
                     unsigned char *done, hflow_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.jsonl", out_dir, method);
    hflow_eval_result *r = NULL;
    size_t n = 0;
    int rc = hflow_eval_results_load(path, &r, &n, err);
    if (rc) return rc;
    char **ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) {
        free(r);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!r[i].error[0]) ids[k++] = r[i].id;
    qsort(ids, k, sizeof *ids, cmp_str);
    for (size_t i = 0; i < n_items; i++) {
        char id[128]; /* results keep ids truncated to their field */
        snprintf(id, sizeof id, "%s", d->items[i].id);
        const char *key = id;
        done[i] = k && bsearch(&key, ids, k, sizeof *ids, cmp_str) != NULL;
    }
    free(ids);
    free(r);
    return 0;
}

typedef struct job {
    size_t item;
    int method;
} job;

typedef struct pool {
    ev_run_ctx *c;
    job *jobs;
    size_t n_jobs, next;
    FILE **out;
    hflow_eval_progress prog;
    double t0;
    int stop_rc;
    hflow_error stop_err;
} pool;

static void *worker(void *arg) {
    pool *p = arg;
    ev_run_ctx *c = p->c;
    for (;;) {
        pthread_mutex_lock(&c->io_mu);
        int stop = p->next >= p->n_jobs || p->stop_rc || (c->cfg->cancel && *c->cfg->cancel);
        job j = stop ? (job){0, 0} : p->jobs[p->next++];
        pthread_mutex_unlock(&c->io_mu);
        if (stop) break;
        hflow_eval_result r;
        int rc = ev_run_one(c, j.method, &c->cfg->dataset->items[j.item], &r);
        pthread_mutex_lock(&c->io_mu);
        if (rc == 0) {
            hflow_error e;
            hflow_error_clear(&e);
            if (hflow_eval_result_write(p->out[j.method], &r, &e) || fflush(p->out[j.method])) {
                if (!p->stop_rc) p->stop_rc = hflow_error_set(&p->stop_err, HFLOW_EIO, "cannot write %s results: %s",
                                                              c->methods[j.method].name, e.message);
            } else {
                p->prog.done++;
                if (r.error[0]) p->prog.errors++;
                p->prog.elapsed_s = hflow_now_s() - p->t0;
                p->prog.eta_s = p->prog.elapsed_s / (double)p->prog.done * (double)(p->prog.total - p->prog.done);
                p->prog.last = &r;
                if (c->cfg->progress) c->cfg->progress(c->cfg->progress_user, &p->prog);
                p->prog.last = NULL;
            }
        }
        pthread_mutex_unlock(&c->io_mu);
    }
    return NULL;
}

static void ctx_free(ev_run_ctx *c, FILE **out) {
    for (int m = 0; m < c->n_methods; m++) {
        if (out && out[m]) fclose(out[m]);
        if (c->trace && c->trace[m]) fclose(c->trace[m]);
    }
    free(c->trace);
    hflow_flow_free(c->flow[0]);
    hflow_flow_free(c->flow[1]);
    free(c->tmpl_direct);
    free(c->tmpl_cot);
    free(c->tmpl_judge);
    free(c->methods);
    pthread_mutex_destroy(&c->io_mu);
}

static FILE *open_append(const char *dir, const char *sub, const char *method, hflow_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s%s/%s.jsonl", dir, sub, method);
    FILE *f = fopen(path, "a");
    if (!f) hflow_error_set(err, HFLOW_EIO, "%s: %s", path, strerror(errno));
    return f;
}

/* Templates, flows and output files the methods need. */
static int ctx_setup(ev_run_ctx *c, FILE **out, hflow_error *err) {
    const hflow_eval_run_config *cfg = c->cfg;
    int rc = ev_read_prompt(cfg->prompts_dir, "direct.txt", &c->tmpl_direct, err);
    if (!rc) rc = ev_read_prompt(cfg->prompts_dir, "cot.txt", &c->tmpl_cot, err);
    if (!rc && cfg->judge) rc = ev_read_prompt(cfg->prompts_dir, "judge_answer.txt", &c->tmpl_judge, err);
    char traces[4096];
    snprintf(traces, sizeof traces, "%s/traces", cfg->out_dir);
    if (!rc) rc = make_dir(cfg->out_dir, err);
    if (!rc) rc = make_dir(traces, err);
    for (int m = 0; m < c->n_methods && !rc; m++) {
        int kind = c->methods[m].kind;
        if (kind == HFLOW_METHOD_FLOW || kind == HFLOW_METHOD_CHAIN) {
            int seq = kind == HFLOW_METHOD_CHAIN;
            if (!c->flow[seq]) {
                hflow_flow_config fc;
                ev_flow_config(cfg->flow, cfg->edge, cfg->cloud, cfg->planner_tier, cfg->policy, cfg->prices, &fc);
                fc.mode = seq ? HFLOW_SCHED_SEQUENTIAL : HFLOW_SCHED_COMPLETION;
                rc = hflow_flow_create(&fc, &c->flow[seq], err);
            }
            if (!rc && !(c->trace[m] = open_append(cfg->out_dir, "/traces", c->methods[m].name, err))) rc = err->code;
        }
        if (!rc && !(out[m] = open_append(cfg->out_dir, "", c->methods[m].name, err))) rc = err->code;
    }
    return rc;
}

/* The (question, method) pairs still to run, question-major. */
static int plan_jobs(ev_run_ctx *c, size_t n_items, job **jobs, size_t *n_jobs, size_t *resumed, hflow_error *err) {
    const hflow_eval_run_config *cfg = c->cfg;
    unsigned char *done = calloc((size_t)c->n_methods * n_items + 1, 1);
    *jobs = malloc(((size_t)c->n_methods * n_items + 1) * sizeof **jobs);
    int rc = (!done || !*jobs) ? hflow_error_set(err, HFLOW_ENOMEM, "out of memory") : 0;
    for (int m = 0; m < c->n_methods && !rc; m++)
        rc = load_done(cfg->out_dir, c->methods[m].name, cfg->dataset, n_items, done + (size_t)m * n_items, err);
    *n_jobs = *resumed = 0;
    for (size_t i = 0; i < n_items && !rc; i++)
        for (int m = 0; m < c->n_methods; m++) {
            if (done[(size_t)m * n_items + i]) (*resumed)++;
            else (*jobs)[(*n_jobs)++] = (job){i, m};
        }
    free(done);
    return rc;
}

int hflow_eval_run(const hflow_eval_run_config *cfg, hflow_eval_run_stats *stats, hflow_error *err) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (!cfg || !cfg->dataset || !cfg->edge || !cfg->cloud || !cfg->out_dir || !cfg->methods)
        return hflow_error_set(err, HFLOW_EINVAL, "eval run: dataset, methods, edge, cloud and out_dir are required");
    ev_run_ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    pthread_mutex_init(&c.io_mu, NULL);
    int rc = ev_parse_methods(cfg->methods, &c.methods, &c.n_methods, err);
    FILE **out = calloc((size_t)c.n_methods + 1, sizeof *out);
    c.trace = calloc((size_t)c.n_methods + 1, sizeof *c.trace);
    if (!rc && (!out || !c.trace)) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    size_t n_items = cfg->limit && cfg->limit < cfg->dataset->n ? cfg->limit : cfg->dataset->n;
    pool p;
    memset(&p, 0, sizeof p);
    p.c = &c;
    p.out = out;
    if (!rc) rc = ctx_setup(&c, out, err);
    if (!rc) rc = plan_jobs(&c, n_items, &p.jobs, &p.n_jobs, &p.prog.resumed, err);
    if (!rc) {
        p.prog.total = p.n_jobs;
        p.t0 = hflow_now_s();
        int nt = cfg->concurrency > 0 ? cfg->concurrency : 1;
        if ((size_t)nt > p.n_jobs) nt = (int)p.n_jobs;
        pthread_t *th = calloc((size_t)nt + 1, sizeof *th);
        int started = 0;
        for (; th && started < nt; started++)
            if (pthread_create(&th[started], NULL, worker, &p)) break;
        if (nt > 0 && started == 0) rc = hflow_error_set(err, HFLOW_ENOMEM, "eval run: cannot start workers");
        for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
        free(th);
        if (!rc && p.stop_rc) {
            rc = p.stop_rc;
            if (err) *err = p.stop_err;
        }
        if (stats) {
            stats->ran = p.prog.done;
            stats->resumed = p.prog.resumed;
            stats->errors = p.prog.errors;
            stats->wall_s = hflow_now_s() - p.t0;
            stats->cancelled = cfg->cancel && *cfg->cancel && p.prog.done < p.n_jobs;
        }
        if (!rc && cfg->cancel && *cfg->cancel && p.prog.done < p.n_jobs)
            rc = hflow_error_set(err, HFLOW_ECANCELLED, "eval run: cancelled after %zu of %zu", p.prog.done, p.n_jobs);
    }
    free(p.jobs);
    ctx_free(&c, out);
    free(out);
    return rc;
}
