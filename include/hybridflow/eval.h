/* hybridflow/eval.h - evaluation harness: datasets, answer extraction and
 * scoring, metrics, replay of recorded outcomes, reports.
 *
 * Ownership: every struct filled by a *_load / *_create function owns its
 * strings and arrays and is released by the matching *_free. Functions that
 * take `const char *` borrow it for the call only. Nothing here keeps global
 * state; all functions are thread-safe on distinct objects. */
#ifndef HYBRIDFLOW_EVAL_H
#define HYBRIDFLOW_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hybridflow/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ datasets */

enum hflow_answer_type {
    HFLOW_ANSWER_LETTER = 0,  /* multiple choice, gold is "A".."J" */
    HFLOW_ANSWER_INTEGER = 1, /* AIME-style integer 0-999, gold is digits */
    HFLOW_ANSWER_LIST = 2,    /* comma-separated list (LiveBench zebra / web of lies) */
    HFLOW_ANSWER_TEXT = 3     /* a single value or phrase */
};

/* One question. `question` is the full prompt text with options rendered as
 * "A. text" lines when the item has options. `task` selects a scoring rule:
 * "zebra_puzzle", "spatial", "web_of_lies_v2" (LiveBench), else NULL. */
typedef struct hflow_eval_item {
    char *id;
    char *question;
    char *gold;
    int answer_type;        /* enum hflow_answer_type */
    char *category;         /* subject / category, may be NULL */
    char *task;             /* may be NULL */
    char **options;         /* option texts (without the "A. " prefix), may be NULL */
    int n_options;
    int difficulty;         /* dataset difficulty level, 0 when unknown */
} hflow_eval_item;

typedef struct hflow_eval_dataset {
    char name[64];          /* "gpqa", "mmlu-stem", "aime", "livebench", "mmlu-pro" or the file's base name */
    hflow_eval_item *items; /* owned */
    size_t n;
} hflow_eval_dataset;

/* Loads a dataset by name ("gpqa", "mmlu-stem", "aime", "livebench",
 * "mmlu-pro"; looked up under `shared_dir`/datasets, shared_dir may be NULL
 * when a path is given) or from a path. Formats are detected from content:
 * a JSON array of {problem, answer, ...} objects (the four shared sets) or
 * JSONL lines of {question, answer, options?, type?, category?, id?}
 * (MMLU-Pro and the generic format; `type` is "letter"/"mc", "integer",
 * "list" or "text"). Corrupt input fails with HFLOW_EFORMAT and a message
 * naming the file and line. Free with hflow_eval_dataset_free. */
int hflow_eval_dataset_load(const char *name_or_path, const char *shared_dir, hflow_eval_dataset *out,
                            hflow_error *err);
void hflow_eval_dataset_free(hflow_eval_dataset *d);

/* Static name of an answer type ("letter", ...); parse returns -1 when unknown. */
const char *hflow_answer_type_name(int type);
int hflow_answer_type_parse(const char *s);

/* ------------------------------------------------------ extraction + scoring */

/* The option letter a model's output gives as its final answer: the last
 * explicit marker ("Answer: X", "the answer is (X)", \boxed{X}), else the final
 * line ("X", "(X)", "**X**", "X. text"), else the one option whose text the
 * final line names. Letters are limited to the first n_options (A-J when
 * n_options <= 0). Returns the letter, or 0 when none is found. */
char hflow_extract_choice(const char *output, const char *const *options, int n_options);

/* The integer final answer (\boxed{}, "answer is N", else the last number on
 * the final line); tolerates $, commas, leading zeros, ^\circ. Returns 1 and
 * sets *out, or 0 when none. */
int hflow_extract_integer(const char *output, long *out);

/* LiveBench scorers (the rules of LiveBench's process_results): return a
 * score in [0,1]. zebra_puzzle gives partial credit ((all correct) + fraction
 * correct) / 2; spatial and web_of_lies_v2 give 0 or 1. */
double hflow_livebench_zebra_score(const char *gold, const char *output);
double hflow_livebench_spatial_score(const char *gold, const char *output);
double hflow_livebench_web_of_lies_score(const char *gold, const char *output);

typedef struct hflow_eval_score {
    double score;          /* in [0,1]; 1 = fully correct */
    int correct;           /* score >= 1 */
    char extracted[128];   /* what was extracted ("" when nothing) */
} hflow_eval_score;

/* Scores one output against an item's gold answer with the item's rule. */
void hflow_eval_score_output(const hflow_eval_item *item, const char *output, hflow_eval_score *out);

/* ------------------------------------------------------------------ metrics */

/* Wilson score interval for k successes out of n at normal quantile z
 * (1.96 for 95%). With n == 0 gives [0,1]. */
void hflow_wilson_interval(double k, double n, double z, double *lo, double *hi);

/* One question's outcome under one method: one JSONL line of results. */
typedef struct hflow_eval_result {
    char id[128];
    char method[64];
    double score;
    int correct;
    char extracted[128];
    double latency_s, ttft_s;
    long prompt_tokens[2];      /* [edge, cloud] */
    long completion_tokens[2];  /* [edge, cloud] */
    int calls[2];               /* [edge, cloud] backend calls */
    double usd;
    int n_steps;                /* plan steps, 0 for single-call methods */
    int depth;                  /* critical-path depth of the plan */
    char error[160];            /* "" when the run succeeded */
} hflow_eval_result;

/* Appends one result as a JSON object line (with '\n') to `out`. */
int hflow_eval_result_write(FILE *out, const hflow_eval_result *r, hflow_error *err);
/* Parses one JSON result line. */
int hflow_eval_result_parse(const char *line, hflow_eval_result *r, hflow_error *err);
/* Reads all results of a JSONL file (missing file = 0 results). Caller frees *out. */
int hflow_eval_results_load(const char *path, hflow_eval_result **out, size_t *n, hflow_error *err);

typedef struct hflow_eval_summary {
    char method[64];
    size_t n;                   /* questions */
    size_t n_errors;
    double accuracy;            /* mean score */
    double acc_lo, acc_hi;      /* Wilson 95% */
    double lat_mean, lat_p50, lat_p95;
    double ttft_mean;
    double prompt_tokens[2], completion_tokens[2];   /* per question means, [edge, cloud] */
    double cloud_call_share;    /* cloud calls / all calls */
    double cloud_token_share;   /* cloud tokens / all tokens */
    double usd_total, usd_mean;
    double steps_mean, depth_mean, depth_per_step;   /* plan statistics */
} hflow_eval_summary;

void hflow_eval_summarize(const hflow_eval_result *r, size_t n, const char *method, hflow_eval_summary *out);
/* Linear-interpolated quantile q in [0,1] of n values (sorted copy made). 0 when n == 0. */
double hflow_quantile(const double *v, size_t n, double q);

/* ------------------------------------------------------------------ replay */

/* One recorded query: the outcome of the edge and the cloud model. */
typedef struct hflow_replay_query {
    char *id;
    char *category;
    char *question;             /* the stem */
    char **options;             /* answer options (owned), NULL when the line has none */
    int n_options;
    char *prompt;               /* stem + "A. option" lines exactly as the live eval renders
                                 * them (the text a router sees at serving time); owned */
    int correct[2];             /* [edge, cloud] */
    double tokens[2];           /* completion tokens (estimated from words when absent) */
    /* Every recorded model's correctness on this question, indexed like the
     * set's `models` (1, 0, or -1 when absent; indices >= n_outcomes absent).
     * These are LABELS: a scorer must never read them for the query it
     * scores; a trainer may use them on training ids only. Owned. */
    signed char *outcomes;
    size_t n_outcomes;
} hflow_replay_query;

typedef struct hflow_replay_set {
    hflow_replay_query *q;      /* owned */
    size_t n;
    char **models;              /* every model name seen, in first-seen order (owned by the loaded set;
                                 * split outputs borrow it) */
    size_t n_models;
} hflow_replay_set;

/* Loads a replay JSONL file keeping the two named models. Lines lacking
 * either model are skipped and counted in *n_skipped (may be NULL). */
int hflow_replay_load(const char *path, const char *edge_model, const char *cloud_model, hflow_replay_set *out,
                      size_t *n_skipped, hflow_error *err);
void hflow_replay_set_free(hflow_replay_set *s);
/* Tokens estimated from a word count (about 1.33 tokens per English word). */
double hflow_tokens_from_words(double words);

/* The routing features of a replay query, exactly as a live query-level
 * decision sees it: the rendered prompt (stem + options; the stem when
 * prompt is NULL) as the question, the category as task_type, step_index -1,
 * one step that is both first and last, no confidence, zero budget. The ONE
 * builder of query-level features: replay scoring of policies, train-router
 * and the benchmarks all call it, so training and serving see the same
 * text. Strings are borrowed from q. */
struct hflow_route_features;
void hflow_replay_query_features(const hflow_replay_query *q, struct hflow_route_features *f);
/* The same from the parts, for live query-level routing (eval's routed
 * calls): `prompt` is the text the model gets (stem + rendered options),
 * `category` the question's category (NULL allowed). hflow_replay_query_features
 * calls this, so a router trained on replay sees live queries identically. */
void hflow_query_route_features(const char *prompt, const char *category, struct hflow_route_features *f);
/* hflow_replay_query_features plus what a cascade router sees once the edge
 * has answered: edge_answer_tokens = the edge's recorded completion tokens
 * (tokens[0]; estimated from its response words when the file has no token
 * counts, hflow_tokens_from_words). For training and replay scoring of
 * cascade routers only: a decision before any answer cannot know it. */
void hflow_replay_query_features_cascade(const hflow_replay_query *q, struct hflow_route_features *f);

/* Deterministic split by question id: the query belongs to the test split
 * when hash(seed, id) falls below test_fraction, where id is that of the
 * first query in `all` with the same normalised question stem
 * (hflow_question_text_key): copies of a question always land on the same
 * side, so none counts as held out while its text is trained on. For
 * questions without an earlier copy this is their own id. Both outputs borrow the
 * queries of `all` (free only `all`; free the outputs' arrays with
 * hflow_replay_split_free). */
int hflow_replay_split(const hflow_replay_set *all, double test_fraction, uint64_t seed, hflow_replay_set *train,
                       hflow_replay_set *test, hflow_error *err);
void hflow_replay_split_free(hflow_replay_set *s);
uint64_t hflow_id_hash(const char *id, uint64_t seed);
/* 64-bit key of a question's normalised text (lower-cased alphanumeric words
 * joined by single spaces): equal for copies that differ in case/punctuation. */
uint64_t hflow_question_text_key(const char *text);

/* A query-level scorer: one score per question, higher = send to the cloud
 * first. fit() (optional) sees only the train split. score() must be
 * deterministic. This is where any routing policy plugs in. */
typedef struct hflow_replay_scorer hflow_replay_scorer;
struct hflow_replay_scorer {
    char name[64];
    int (*fit)(hflow_replay_scorer *s, const hflow_replay_set *train, hflow_error *err);
    double (*score)(hflow_replay_scorer *s, const hflow_replay_query *q);
    void (*destroy)(hflow_replay_scorer *s);
    void *impl;
};

/* Built-in scorers by spec: "random[:SEED]", "oracle", "category" (per-category
 * accuracy gap cloud - edge learned on the train split), "length" (longer
 * questions first). Free with hflow_replay_scorer_free. */
int hflow_replay_scorer_create(const char *spec, hflow_replay_scorer **out, hflow_error *err);
void hflow_replay_scorer_free(hflow_replay_scorer *s);

struct hflow_policy; /* include/hybridflow/route.h */
/* Wraps a routing policy as a query-level scorer: each query is shown to the
 * policy as query-level features (question, category as task_type,
 * step_index -1) and the decision's score ranks it. The policy is borrowed:
 * it must outlive the scorer, and its owner frees it. A decide() error scores
 * the query as NaN (ranked last). */
int hflow_replay_scorer_from_policy(struct hflow_policy *policy, hflow_replay_scorer **out, hflow_error *err);

/* The accuracy / cloud-share curve of a scorer on a set: queries sorted by
 * score (descending, ties broken by id hash), the first k sent to the cloud,
 * for k = 0..n (n+1 points). PGR_k = (acc_k - acc_edge) / (acc_cloud - acc_edge).
 * APGR is the trapezoid area under PGR over cloud share in [0,1]. CPT(x) is the
 * smallest cloud share whose PGR >= x (1 when never reached). */
typedef struct hflow_replay_curve {
    char name[64];
    size_t n_points;            /* n + 1 */
    double *cloud_share;        /* owned, n_points each */
    double *accuracy;
    double *pgr;
    double *cloud_token_share;
    double acc_edge, acc_cloud;
    double apgr, cpt50, cpt80;
} hflow_replay_curve;

int hflow_replay_curve_compute(const hflow_replay_set *set, hflow_replay_scorer *scorer, hflow_replay_curve *out,
                               hflow_error *err);
/* The expected curve of uniformly random routing (linear; APGR 0.5). */
int hflow_replay_curve_random(const hflow_replay_set *set, hflow_replay_curve *out, hflow_error *err);
void hflow_replay_curve_free(hflow_replay_curve *c);

/* ------------------------------------------------------------ live runner */

struct hflow_backend;      /* include/hybridflow/backend.h */
struct hflow_flow_config;  /* include/hybridflow/flow.h */
struct hflow_price_table;

enum hflow_eval_method_kind {
    HFLOW_METHOD_DIRECT = 0, /* one call on one tier, direct-answer prompt */
    HFLOW_METHOD_COT = 1,    /* one call on one tier, chain-of-thought prompt */
    HFLOW_METHOD_ROUTE = 2,  /* query-level routing: the policy picks the tier, CoT prompt */
    HFLOW_METHOD_FLOW = 3,   /* plan -> DAG -> completion-driven scheduler, routed per step */
    HFLOW_METHOD_CHAIN = 4   /* the same plan forced sequential (ablation of parallelism) */
};

/* A method by name: "edge", "edge-cot", "cloud", "cloud-cot", "route",
 * "hybridflow", "hybridflow-chain". */
typedef struct hflow_eval_method {
    char name[64];
    int kind;   /* enum hflow_eval_method_kind */
    int tier;   /* DIRECT/COT: enum hflow_tier; else -1 */
} hflow_eval_method;

int hflow_eval_method_parse(const char *name, hflow_eval_method *out, hflow_error *err);

/* Progress of a run, passed to the callback after every finished question
 * (calls are serialised). */
typedef struct hflow_eval_progress {
    size_t done;          /* questions x methods finished in this run */
    size_t total;         /* questions x methods this run has to do */
    size_t resumed;       /* found finished in --out and skipped */
    size_t errors;        /* finished with an error in this run */
    double elapsed_s, eta_s;
    const hflow_eval_result *last; /* the one just finished (borrowed for the call) */
} hflow_eval_progress;
typedef void (*hflow_eval_progress_cb)(void *user, const hflow_eval_progress *p);

/* Everything a live run needs. Pointers are borrowed for the call. */
typedef struct hflow_eval_run_config {
    const hflow_eval_dataset *dataset;
    size_t limit;                 /* first N questions; 0 = all */
    const char *methods;          /* comma-separated method names */
    struct hflow_backend *edge, *cloud; /* both required (the same backend may be both) */
    int planner_tier;             /* enum hflow_tier for the plan; default edge (0) */
    struct hflow_policy *policy;  /* routes "route" queries and "hybridflow*" steps; NULL = always edge */
    const struct hflow_flow_config *flow; /* optional base config for the flow methods (budgets,
                                     concurrency, tokens); backends, policy and mode are set here */
    const struct hflow_price_table *prices; /* NULL: everything free */
    const char *prompts_dir;      /* direct.txt / cot.txt; NULL = the source tree's prompts/ */
    int concurrency;              /* questions in flight; <= 0 means 1 */
    uint64_t seed;                /* request seeds are hash(seed, question id) */
    int32_t max_tokens;           /* single-call methods; <= 0 means 1024 */
    double timeout_s;             /* per single call; <= 0: backend default */
    const char *out_dir;          /* METHOD.jsonl results (appended), traces/METHOD.jsonl */
    hflow_eval_progress_cb progress;
    void *progress_user;
    volatile int *cancel;         /* set non-zero to stop: in-flight questions are dropped, not written */
    struct hflow_backend *judge;  /* optional LLM judge for free-form (text) answers; NULL = the
                                     rule-based normalised match. Off by default. */
} hflow_eval_run_config;

void hflow_eval_run_config_default(hflow_eval_run_config *c);

typedef struct hflow_eval_run_stats {
    size_t ran, resumed, errors;
    int cancelled;
    double wall_s;
} hflow_eval_run_stats;

/* Runs every (question, method) pair not already finished in out_dir:
 * results stream to out_dir/METHOD.jsonl (one hflow_eval_result line each,
 * flushed), flow traces to out_dir/traces/METHOD.jsonl. A question counts as
 * finished when its file holds a line for its id without an error, so a rerun
 * resumes and retries only failures. Returns 0, HFLOW_ECANCELLED when
 * cfg->cancel stopped it, or an error. */
int hflow_eval_run(const hflow_eval_run_config *cfg, hflow_eval_run_stats *stats, hflow_error *err);

/* Loads out_dir/METHOD.jsonl for each method (the last line per id wins),
 * summarises and writes out_dir/report.md with plots, plus a Gantt chart of
 * the first traced query of each flow method (plots/gantt_METHOD.png).
 * sums_out (optional, caller frees) receives one summary per method. */
int hflow_eval_write_report(const char *out_dir, const char *methods, const char *command, const char *config_text,
                            int make_plots, hflow_eval_summary **sums_out, size_t *n_out, hflow_error *err);

/* Reads prompts_dir/NAME (NULL dir = the source tree's prompts/) and fills
 * {{question}} and {{format}} (the answer-format instruction for the item's
 * answer type). Caller frees *out. */
int hflow_eval_prompt(const char *prompts_dir, const char *name, const hflow_eval_item *item, char **out,
                      hflow_error *err);

/* ------------------------------------------------------------- profiling */

/* Quality labelers for subtask-level profiles (docs/ROUTER.md). */
enum hflow_profile_labeler {
    HFLOW_LABEL_SWAP = 0,  /* final answer's score with only this step moved to the cloud, vs all-edge */
    HFLOW_LABEL_JUDGE = 1  /* a judge backend rates each tier's step output 0-10 */
};

typedef struct hflow_profile_config {
    const hflow_eval_dataset *dataset;
    size_t limit;                  /* first N questions; 0 = all */
    struct hflow_backend *edge, *cloud; /* required */
    struct hflow_backend *judge;   /* used only by HFLOW_LABEL_JUDGE; NULL = cloud */
    int labeler;                   /* enum hflow_profile_labeler; default SWAP */
    int planner_tier;              /* default edge */
    int aggregate_tier;            /* the tier of the aggregator in every variant; default edge */
    const struct hflow_flow_config *flow; /* optional base config (tokens, limits) */
    const char *prompts_dir;       /* judge_step.txt; NULL = the source tree's prompts/ */
    const char *out_path;          /* profile JSONL, appended; questions already in it are skipped */
    hflow_eval_progress_cb progress;
    void *progress_user;
    volatile int *cancel;
} hflow_profile_config;

void hflow_profile_config_default(hflow_profile_config *c);

typedef struct hflow_profile_stats {
    size_t questions, resumed, rows, errors;
    size_t backend_calls[2];       /* real calls made on [edge, cloud] (cache hits excluded) */
    double acc_all_edge, acc_all_cloud; /* mean final-answer scores of the two uniform runs */
} hflow_profile_stats;

/* For each question: plans once, runs the plan all-edge and all-cloud, then
 * once per step with only that step on the cloud (step outputs are cached by
 * prompt, so a variant recomputes only the swapped step and what depends on
 * it). Writes one profile row per step: both tiers' outputs, tokens, latency
 * and quality labels (swap: edge = score of the all-edge answer, cloud = score
 * with this step alone on the cloud; judge: the judge's rating / 10). */
int hflow_profile_run(const hflow_profile_config *cfg, hflow_profile_stats *stats, hflow_error *err);

/* ------------------------------------------------------------------ reports */

/* A point on an accuracy / cost or accuracy / latency plot. */
typedef struct hflow_report_config {
    const char *out_dir;        /* where report.md and plots/ go (created) */
    const char *title;
    const char *command;        /* the exact command line, shown verbatim */
    const char *config_text;    /* free-form configuration lines (may be NULL) */
    int make_plots;             /* run gnuplot (PNG + SVG) when non-zero */
} hflow_report_config;

/* Markdown table of methods x metrics and, when make_plots, accuracy vs
 * dollars and vs latency (Pareto front marked) and latency CDFs. `results`
 * holds per-method result arrays (for the CDFs), parallel to `sums`. */
int hflow_report_write_run(const hflow_report_config *cfg, const hflow_eval_summary *sums,
                           const hflow_eval_result *const *results, const size_t *n_results, size_t n_methods,
                           hflow_error *err);

/* Markdown + accuracy vs cloud-share plot of replay curves (first curve is
 * the policy under test; random/oracle included by the caller). */
int hflow_report_write_replay(const hflow_report_config *cfg, const hflow_replay_curve *curves, size_t n_curves,
                              hflow_error *err);

/* Gantt chart (PNG + SVG) of one query's DAG from a trace JSONL file: lines
 * with "step" (id), "tier" ("edge"/"cloud"), "start_s"/"end_s" (seconds from
 * the query start; "start"/"end" accepted), optional "task". Lines without
 * start/end are ignored. Writes `out_base`.png and .svg. */
int hflow_report_gantt(const char *trace_path, const char *out_base, const char *title, hflow_error *err);

/* Indices of the Pareto-optimal points (maximise y, minimise x) into `front`
 * (capacity n); returns their count, sorted by x. */
size_t hflow_pareto_front(const double *x, const double *y, size_t n, size_t *front);

#ifdef __cplusplus
}
#endif
#endif
