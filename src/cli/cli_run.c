/* cli_run.c - `hybridflow run "question"`: one query through the orchestrator,
 * with a live view of the DAG on a terminal (plain progress lines otherwise)
 * and a cost/latency summary. The library owns every decision; this file
 * parses flags, opens backends and prints. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli/cli.h"
#include "hybridflow/backend.h"
#include "hybridflow/flow.h"

#define VIEW_MAX_STEPS 64

typedef struct run_view {
    int tty;
    int lines_drawn;
    int n;
    int state[VIEW_MAX_STEPS], tier[VIEW_MAX_STEPS];
    char task[VIEW_MAX_STEPS][72];
    char deps[VIEW_MAX_STEPS][24];
    const char *phase;
    int phase_tier;
    double t, t0;     /* seconds of the last event; monotonic start of the query */
    pthread_mutex_t mu; /* the ticker and the progress callback both draw */
    int stop;
} run_view;

static void view_draw(run_view *v) {
    if (v->lines_drawn) printf("\033[%dA", v->lines_drawn);
    printf("\033[J[%6.2fs] %s%s%s\n", v->t, v->phase, v->phase_tier >= 0 ? " on " : "",
           v->phase_tier >= 0 ? hflow_tier_name(v->phase_tier) : "");
    for (int i = 0; i < v->n; i++)
        printf("  %2d %-8s %-5s deps %-7s %s\n", i + 1, hflow_step_state_name(v->state[i]),
               v->tier[i] >= 0 ? hflow_tier_name(v->tier[i]) : "-", v->deps[i][0] ? v->deps[i] : "-", v->task[i]);
    v->lines_drawn = v->n + 1;
    fflush(stdout);
}

/* Redraws the clock four times a second, so a long planner or step call does
 * not look like a hang (events alone only arrive when something changes). */
static void *view_ticker(void *p) {
    run_view *v = p;
    for (;;) {
        hflow_sleep_ms(250);
        pthread_mutex_lock(&v->mu);
        int stop = v->stop;
        if (!stop) {
            v->t = hflow_now_s() - v->t0;
            view_draw(v);
        }
        pthread_mutex_unlock(&v->mu);
        if (stop) return NULL;
    }
}

static void on_progress(void *user, const hflow_flow_event *ev) {
    run_view *v = user;
    pthread_mutex_lock(&v->mu);
    v->t = ev->t_s;
    int i = ev->step;
    if (i >= 0 && i < VIEW_MAX_STEPS) {
        if (ev->kind == HFLOW_EV_STEP_ADDED) {
            if (i + 1 > v->n) v->n = i + 1;
            snprintf(v->task[i], sizeof v->task[i], "%.70s", ev->task ? ev->task : "");
            v->deps[i][0] = '\0';
            for (int m = 0; m < ev->n_deps; m++) {
                size_t l = strlen(v->deps[i]);
                snprintf(v->deps[i] + l, sizeof v->deps[i] - l, "%s%d", m ? "," : "", ev->deps[m] + 1);
            }
            v->tier[i] = -1;
        }
        v->state[i] = ev->state;
        if (ev->tier >= 0) v->tier[i] = ev->tier;
    }
    switch (ev->kind) {
    case HFLOW_EV_PLAN_STARTED: v->phase = "planning"; v->phase_tier = ev->tier; break;
    case HFLOW_EV_PLAN_DONE: v->phase = "running steps"; v->phase_tier = -1; break;
    case HFLOW_EV_AGGREGATE_STARTED: v->phase = "aggregating"; v->phase_tier = ev->tier; break;
    case HFLOW_EV_DONE: v->phase = "done"; v->phase_tier = -1; v->stop = 1; break;
    default: break;
    }
    if (v->tty) {
        view_draw(v);
    } else if (ev->kind == HFLOW_EV_STEP_STARTED || ev->kind == HFLOW_EV_STEP_FINISHED) {
        printf("[%6.2fs] step %d %s on %s: %s\n", ev->t_s, i + 1, hflow_step_state_name(ev->state),
               hflow_tier_name(ev->tier), v->task[i < VIEW_MAX_STEPS ? i : 0]);
        fflush(stdout);
    }
    pthread_mutex_unlock(&v->mu);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: hybridflow run [options] \"question\"\n"
            "  --edge ENDPOINT        edge model (URL#model or .gguf path; default: HYBRIDFLOW_EDGE)\n"
            "  --cloud ENDPOINT       cloud model (default: HYBRIDFLOW_CLOUD; none = edge only)\n"
            "                         With neither, both tiers run in-process on the .gguf files of\n"
            "                         $HYBRIDFLOW_MODELS (else ../shared/models): edge = smallest file,\n"
            "                         cloud = largest (the same file when there is one).\n"
            "  --no-constrain         let the planner write freely (default: plan grammar when it is local\n"
            "                         or, with --remote-grammar, our server)\n"
            "  --remote-grammar       the HTTP endpoints are `hybridflow serve`: send the planner's grammar\n"
            "                         (never sent to other servers: llama.cpp reads 'grammar' as GBNF)\n"
            "  --plan-first           start steps only once the whole plan is known (default: while it\n"
            "                         streams); the router then sees every step's final n_steps/is_last\n"
            "  --planner edge|cloud   which tier writes the plan (default edge)\n"
            "  --policy SPEC          edge, cloud, random:P[:SEED], difficulty:T, confidence:T,\n"
            "                         learned:ROUTER.gguf (default difficulty:6)\n"
            "  --cascade              every step runs on the edge first; the policy then sees the answer's\n"
            "                         confidence (exp of its mean token logprob) and keeps it or re-runs\n"
            "                         the step on the cloud (needed by confidence:T and by routers trained\n"
            "                         on a profile made with --cascade)\n"
            "  --force-first-cloud, --force-last-cloud\n"
            "  --mode completion|waves|sequential   scheduling (default completion)\n"
            "  --max-steps N          (default 8)   --cloud-concurrency N (default 4)\n"
            "  --max-step-tokens N    cap on a step's answer (default 1024)   --answer-tokens N (default 512)\n"
            "  --budget-tokens N      cloud token cap per query\n"
            "  --budget-usd X         dollar cap per query   --prices FILE  price table JSON\n"
            "  --deadline S           wall-clock deadline per query\n"
            "  --temperature T        sampling temperature of every call (default 0: greedy)\n"
            "  --seed N               sample reproducibly: each call's seed derives from N and its prompt\n"
            "  --format free|option|integer|list   answer format\n"
            "  --task-type NAME       the router's task-type feature (profile/eval use the dataset's\n"
            "                         answer type: letter, integer, list, text)\n"
            "  --planner-template FILE\n"
            "  --trace FILE           append the JSONL trace   --chrome-trace FILE  Perfetto JSON\n");
}

typedef struct run_args {
    const char *edge, *cloud, *planner, *policy, *prices, *trace, *chrome, *tmpl, *task_type, *question;
    hflow_flow_config cfg;
    int format;
    int remote_grammar; /* HTTP endpoints are our server: requests may carry grammar names */
} run_args;

static int parse_args(int argc, char **argv, run_args *a) {
    memset(a, 0, sizeof *a);
    hflow_flow_config_default(&a->cfg);
    a->edge = getenv("HYBRIDFLOW_EDGE");
    a->cloud = getenv("HYBRIDFLOW_CLOUD");
    a->planner = "edge";
    a->policy = "difficulty:6";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(name) (!strcmp(o, name) && v && (i++, 1))
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) return 1;
        else if (TAKE("--edge")) a->edge = v;
        else if (TAKE("--cloud")) a->cloud = v;
        else if (TAKE("--planner")) a->planner = v;
        else if (TAKE("--policy")) a->policy = v;
        else if (TAKE("--prices")) a->prices = v;
        else if (TAKE("--trace")) a->trace = v;
        else if (TAKE("--chrome-trace")) a->chrome = v;
        else if (TAKE("--planner-template")) a->tmpl = v;
        else if (TAKE("--task-type")) a->task_type = v;
        else if (TAKE("--budget-tokens")) a->cfg.query_limits.cloud_tokens = atoll(v);
        else if (TAKE("--budget-usd")) a->cfg.query_limits.usd = atof(v);
        else if (TAKE("--deadline")) a->cfg.query_limits.deadline_s = atof(v);
        else if (TAKE("--max-steps")) a->cfg.max_steps = atoi(v);
        else if (TAKE("--cloud-concurrency")) a->cfg.cloud_concurrency = atoi(v);
        else if (TAKE("--max-step-tokens")) a->cfg.max_step_tokens = atoi(v);
        else if (TAKE("--answer-tokens")) a->cfg.aggregator_max_tokens = atoi(v);
        else if (TAKE("--temperature")) a->cfg.temperature = (float)atof(v);
        else if (TAKE("--seed")) {
            a->cfg.has_seed = 1;
            a->cfg.seed = strtoull(v, NULL, 10);
        }
        else if (TAKE("--mode")) {
            if ((a->cfg.mode = hflow_sched_mode_parse(v)) < 0) return -1;
        } else if (TAKE("--format")) {
            const char *names[] = {"free", "option", "integer", "list"};
            a->format = -1;
            for (int k = 0; k < 4; k++)
                if (!strcmp(v, names[k])) a->format = k;
            if (a->format < 0) return -1;
        } else if (!strcmp(o, "--force-first-cloud")) a->cfg.force_first_cloud = 1;
        else if (!strcmp(o, "--force-last-cloud")) a->cfg.force_last_cloud = 1;
        else if (!strcmp(o, "--cascade")) a->cfg.cascade = 1;
        else if (!strcmp(o, "--no-constrain")) a->cfg.constrain_plan = 0;
        else if (!strcmp(o, "--plan-first")) a->cfg.dispatch_while_planning = 0;
        else if (!strcmp(o, "--remote-grammar")) a->remote_grammar = 1;
        else if (o[0] == '-' && o[1]) return -1;
        else if (!a->question) a->question = o;
        else return -1;
#undef TAKE
    }
    if (!a->question || (strcmp(a->planner, "edge") && strcmp(a->planner, "cloud"))) return -1;
    /* A short --max-step-tokens pulls the floor and the no-estimate default down with it. */
    if (a->cfg.max_step_tokens > 0 && a->cfg.min_step_tokens > a->cfg.max_step_tokens)
        a->cfg.min_step_tokens = a->cfg.max_step_tokens;
    if (a->cfg.max_step_tokens > 0 && a->cfg.default_step_tokens > a->cfg.max_step_tokens)
        a->cfg.default_step_tokens = a->cfg.max_step_tokens;
    return 0;
}

/* The built-in default: both tiers in-process on the local models (backend.h:
 * hflow_default_local_models), each with as many sessions as its tier runs
 * calls at once. */
static int use_local_defaults(run_args *a, char *edge, char *cloud, size_t cap, hflow_error *err) {
    int rc = hflow_default_local_models(edge, cloud, cap, err);
    if (rc) return rc;
    if (!a->edge || !*a->edge) a->edge = edge;
    if (!a->cloud || !*a->cloud) a->cloud = cloud;
    fprintf(stderr, "hybridflow run: edge %s, cloud %s (in-process)\n", a->edge, a->cloud);
    return 0;
}

static int open_tier(const char *endpoint, int concurrency, int ours, hflow_backend **out, hflow_error *err) {
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.n_parallel = concurrency;
    o.hybridflow_server = ours;
    return hflow_backend_open(endpoint, &o, out, err);
}

static void print_summary(const hflow_flow_result *r) {
    printf("\n%s\n\n", r->answer ? r->answer : "(no answer)");
    printf("time %.2fs (plan %.2fs, steps done %.2fs)%s\n", r->wall_s, r->plan_done_s, r->steps_done_s,
           r->deadline_hit ? "  [deadline hit]" : "");
    for (int t = 0; t < 2; t++)
        printf("%-5s calls %d, tokens %lld in / %lld out, $%.6f, busy %.2fs\n", hflow_tier_name(t), r->usage[t].calls,
               (long long)r->usage[t].prompt_tokens, (long long)r->usage[t].completion_tokens, r->usage[t].usd,
               r->usage[t].busy_s);
    printf("cloud share %.1f%%, $%.6f total, critical path %d of %d steps, plan repairs: %d\n", r->cloud_share * 100,
           r->usd, r->critical_path, r->n_steps, r->n_repairs);
}

static int write_traces(const run_args *a, const hflow_flow_result *r) {
    hflow_error err;
    const char *paths[2] = {a->trace, a->chrome};
    for (int k = 0; k < 2; k++) {
        if (!paths[k]) continue;
        FILE *f = fopen(paths[k], k == 0 ? "a" : "w");
        int rc = f ? (k == 0 ? hflow_trace_write_jsonl(r, f, &err) : hflow_trace_write_chrome(r, f, &err)) : -1;
        if (f) fclose(f);
        if (rc) {
            fprintf(stderr, "hybridflow run: cannot write %s\n", paths[k]);
            return 1;
        }
    }
    return 0;
}

int cli_run(int argc, char **argv) {
    run_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc) {
        if (prc < 0) fprintf(stderr, "hybridflow run: bad arguments\n");
        usage(prc > 0 ? stdout : stderr);
        return prc > 0 ? 0 : 2;
    }
    hflow_error err;
    hflow_backend *edge = NULL, *cloud = NULL;
    hflow_policy *policy = NULL;
    hflow_price_table *prices = NULL;
    hflow_flow *flow = NULL;
    hflow_flow_result res;
    memset(&res, 0, sizeof res);
    char edge_path[4096], cloud_path[4096];
    int rc = 0;
    if (!a.edge || !*a.edge) rc = use_local_defaults(&a, edge_path, cloud_path, sizeof edge_path, &err);
    if (!rc) rc = open_tier(a.edge, a.cfg.edge_concurrency, a.remote_grammar, &edge, &err);
    if (!rc && a.cloud && *a.cloud) rc = open_tier(a.cloud, a.cfg.cloud_concurrency, a.remote_grammar, &cloud, &err);
    if (!rc) rc = hflow_policy_create(a.policy, &policy, &err);
    if (!rc && a.prices) rc = hflow_price_table_load(a.prices, &prices, &err);
    run_view view;
    memset(&view, 0, sizeof view);
    view.tty = isatty(STDOUT_FILENO);
    view.phase = "starting";
    view.phase_tier = -1;
    pthread_mutex_init(&view.mu, NULL);
    if (!rc) {
        a.cfg.edge = edge;
        a.cfg.cloud = cloud;
        a.cfg.planner = !strcmp(a.planner, "cloud") && cloud ? cloud : edge;
        a.cfg.policy = policy;
        a.cfg.prices = prices;
        a.cfg.planner_template_path = a.tmpl;
        a.cfg.progress = on_progress;
        a.cfg.progress_user = &view;
        rc = hflow_flow_create(&a.cfg, &flow, &err);
    }
    if (!rc) {
        hflow_query_options qo = {a.format, a.task_type, NULL};
        pthread_t ticker;
        view.t0 = hflow_now_s();
        int ticking = view.tty && !pthread_create(&ticker, NULL, view_ticker, &view);
        rc = hflow_flow_run(flow, a.question, &qo, &res, &err);
        pthread_mutex_lock(&view.mu);
        view.stop = 1;
        pthread_mutex_unlock(&view.mu);
        if (ticking) pthread_join(ticker, NULL);
        if (!rc) print_summary(&res);
        if (write_traces(&a, &res) && !rc) rc = 1;
    }
    if (rc < 0) fprintf(stderr, "hybridflow run: %s\n", err.message);
    hflow_flow_result_clear(&res);
    hflow_flow_free(flow);
    hflow_price_table_free(prices);
    hflow_policy_free(policy);
    hflow_backend_free(cloud);
    hflow_backend_free(edge);
    pthread_mutex_destroy(&view.mu);
    return rc ? 1 : 0;
}
