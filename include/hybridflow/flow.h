/* hybridflow/flow.h - the orchestrator: streamed plan -> dependency DAG ->
 * completion-driven parallel execution over an edge and a cloud tier ->
 * budget-aware routing -> aggregated answer, with a trace.
 *
 * Ownership in one place:
 *   - hflow_flow_create copies the config; the backends, the policy, the price
 *     table and the run budget it points to are BORROWED and must outlive the
 *     orchestrator. hflow_flow_free frees only what create allocated.
 *   - hflow_flow_run fills an hflow_flow_result the caller owns; release it
 *     with hflow_flow_result_clear (every string and array inside is owned by
 *     the result).
 *   - hflow_flow_run is thread-safe: several queries may run at once on one
 *     orchestrator (all per-query state lives in the call).
 *   - hflow_price_table and hflow_budget are created and freed by their owner;
 *     an hflow_budget is thread-safe and may be shared by concurrent queries. */
#ifndef HYBRIDFLOW_FLOW_H
#define HYBRIDFLOW_FLOW_H

#include <stdint.h>
#include <stdio.h>

#include "hybridflow/backend.h"
#include "hybridflow/error.h"
#include "hybridflow/route.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- prices */

typedef struct hflow_price_table hflow_price_table;

/* An empty table: every model costs 0. */
int hflow_price_table_create(hflow_price_table **out, hflow_error *err);
/* Loads {"model": {"input": USD_PER_1M, "output": USD_PER_1M}, ...}; the key
 * "*" (optional) is the price of models not listed. */
int hflow_price_table_load(const char *path, hflow_price_table **out, hflow_error *err);
/* Adds or replaces one model's price ($ per 1M input / output tokens). */
int hflow_price_table_set(hflow_price_table *t, const char *model, double usd_in_per_m, double usd_out_per_m,
                          hflow_error *err);
/* Dollars for a call; unknown models use "*" or cost 0. */
double hflow_price_cost(const hflow_price_table *t, const char *model, int64_t prompt_tokens,
                        int64_t completion_tokens);
void hflow_price_table_free(hflow_price_table *t);

/* --------------------------------------------------------------- budgets */

/* Caps; 0 (or less) means "no cap". Cloud tokens count prompt + completion. */
typedef struct hflow_budget_limits {
    int64_t cloud_tokens;
    double usd;
    double deadline_s; /* wall clock from the budget's start */
} hflow_budget_limits;

/* A thread-safe budget. Calls reserve their worst case before they start and
 * settle the real usage afterwards, so concurrent calls can never overshoot a
 * cap together. One is created per query inside hflow_flow_run; a caller may
 * pass another as the per-run budget shared by many queries. */
typedef struct hflow_budget hflow_budget;

typedef struct hflow_budget_usage {
    int64_t cloud_tokens;   /* settled */
    double usd;             /* settled */
    int64_t reserved_tokens;
    double reserved_usd;
    double elapsed_s;
} hflow_budget_usage;

int hflow_budget_create(const hflow_budget_limits *limits, hflow_budget **out, hflow_error *err);
void hflow_budget_free(hflow_budget *b);
void hflow_budget_get_usage(hflow_budget *b, hflow_budget_usage *out);
/* Utilisation ratios (used + reserved) / cap, 0 where no cap. */
void hflow_budget_get_state(hflow_budget *b, hflow_budget_state *out);
const hflow_budget_limits *hflow_budget_get_limits(const hflow_budget *b);

/* ---------------------------------------------------------- orchestrator */

enum hflow_sched_mode {
    HFLOW_SCHED_COMPLETION = 0, /* a step starts the moment its own deps are done */
    HFLOW_SCHED_WAVES = 1,      /* ready steps start together; the next wave waits for all of them */
    HFLOW_SCHED_SEQUENTIAL = 2  /* one step at a time, in plan order */
};

/* Enumerators are HFLOW_FORMAT_*: eval.h owns HFLOW_ANSWER_* (answer types of
 * dataset items), and both headers must be includable together. */
enum hflow_answer_format {
    HFLOW_FORMAT_FREE = 0,    /* free text */
    HFLOW_FORMAT_OPTION = 1,  /* a single option letter */
    HFLOW_FORMAT_INTEGER = 2, /* an integer */
    HFLOW_FORMAT_LIST = 3     /* a comma-separated list */
};

enum hflow_step_state {
    HFLOW_STEP_PENDING = 0, /* waiting for dependencies */
    HFLOW_STEP_READY = 1,   /* routed, queued for a tier worker */
    HFLOW_STEP_RUNNING = 2,
    HFLOW_STEP_DONE = 3,
    HFLOW_STEP_FAILED = 4,  /* every attempt on every tier failed; dependents still run */
    HFLOW_STEP_SKIPPED = 5  /* deadline passed before it could start */
};

enum hflow_flow_event_kind {
    HFLOW_EV_PLAN_STARTED = 0,
    HFLOW_EV_STEP_ADDED = 1,
    HFLOW_EV_STEP_STARTED = 2,
    HFLOW_EV_STEP_FINISHED = 3, /* state DONE, FAILED or SKIPPED */
    HFLOW_EV_PLAN_DONE = 4,
    HFLOW_EV_AGGREGATE_STARTED = 5,
    HFLOW_EV_DONE = 6
};

typedef struct hflow_flow_event {
    int kind;       /* enum hflow_flow_event_kind */
    int step;       /* 0-based step index, -1 for query-level events */
    int n_steps;    /* steps known so far */
    int tier;       /* tier of the step (or planner/aggregator call), -1 when not routed yet */
    int state;      /* enum hflow_step_state */
    const char *task; /* borrowed for the call */
    int n_deps;
    const int *deps;  /* 0-based indices, borrowed for the call */
    double t_s;     /* seconds since the query started */
} hflow_flow_event;

/* Progress callback for live views. Called from the planner and worker threads
 * while the query's internal lock is held, so calls are serialised: keep it
 * short and never call back into the orchestrator from it. */
typedef void (*hflow_flow_progress_cb)(void *user, const hflow_flow_event *ev);

typedef struct hflow_flow_config {
    hflow_backend *planner;  /* borrowed; usually == edge or == cloud (its tier is the one it equals) */
    hflow_backend *edge;     /* borrowed; may be NULL only when cloud is set */
    hflow_backend *cloud;    /* borrowed; may be NULL (everything runs on the edge) */
    hflow_policy *policy;    /* borrowed; NULL = always edge */
    int force_first_cloud;   /* the first (restating) step goes to the cloud */
    int force_last_cloud;    /* the last (synthesising) step goes to the cloud */

    int mode;                /* enum hflow_sched_mode; default COMPLETION */
    int dispatch_while_planning; /* start steps while the plan streams; default 1 */
    int edge_concurrency;    /* default 1 */
    int cloud_concurrency;   /* default 4 */
    int max_steps;           /* plan steps kept; default 8 (the prompt asks for this many at most) */
    int context_ancestors;   /* 0: a step sees its direct deps' results; 1: all ancestors' */

    int min_step_tokens;     /* default 32 */
    int max_step_tokens;     /* default 1024 */
    int default_step_tokens; /* when the plan gives no estimate; default 256 */
    double token_slack;      /* max_tokens = estimate * slack, within bounds; default 1.5 */
    int planner_max_tokens;  /* default 1024 */
    int aggregator_max_tokens; /* default 512 */
    int aggregate_tier;      /* -1 (default): cloud when present and the budget allows, else edge */
    float temperature;       /* < 0: backend default (default 0) */
    int has_seed;            /* 1: every call samples with a seed derived from `seed` and the call's
                                own prompt, so a sampled query repeats whatever order its steps
                                finish in; 0 (default): the backends' own seeding */
    uint64_t seed;

    int step_retries;        /* extra attempts on the same tier; default 1 */
    double retry_backoff_s;  /* first backoff, doubled each retry; default 0.05 */
    double call_timeout_s;   /* per backend call; 0 = up to the deadline */
    double aggregate_reserve_s; /* part of the deadline kept for the aggregator; default 10% of it */

    hflow_budget_limits query_limits; /* per query; zeros = no caps */
    hflow_budget *run_budget;         /* borrowed, optional: per-run caps shared by queries */
    const hflow_price_table *prices;  /* borrowed, optional: NULL = every model is free */

    const char *planner_template_path; /* NULL: prompts/planner.txt of the source tree */

    hflow_flow_progress_cb progress; /* optional */
    void *progress_user;

    int constrain_plan;      /* default 1: a planner whose backend applies grammars
                                (hflow_backend_has_grammar: the in-process engine, or our own server
                                over HTTP with options.hybridflow_server) is held to the plan format
                                by the "plan:<max_steps>" grammar (grammar.h); other remote planners
                                are never constrained (response_format can only ask for JSON) */
    int cascade;             /* 1: every step runs on the edge first with its confidence asked for
                                (hflow_request.want_confidence); the policy then decides with
                                f.edge_confidence = exp(mean token logprob) whether to keep that
                                answer or re-run the step on the cloud (escalation; the cloud answer
                                is the result, the edge one stays if the escalation fails or the
                                budget cannot pay for it). Forced-first/last steps go straight to
                                the cloud. Default 0: the policy routes before anything runs.
                                hflow_flow_create refuses a policy with
                                HFLOW_POLICY_NEEDS_CONFIDENCE unless cascade is on. */
} hflow_flow_config;

void hflow_flow_config_default(hflow_flow_config *c);

typedef struct hflow_flow hflow_flow;

int hflow_flow_create(const hflow_flow_config *cfg, hflow_flow **out, hflow_error *err);
void hflow_flow_free(hflow_flow *f);

/* Per-query options. */
typedef struct hflow_query_options {
    int answer_format;      /* enum hflow_answer_format */
    const char *task_type;  /* passed to the router ("mc", "integer", ...), may be NULL */
    volatile int *cancel;   /* optional: set non-zero from any thread to stop the query */
} hflow_query_options;

/* One backend call (a step, the planner or the aggregator) as the trace records it.
 * Times are seconds since the query started. */
typedef struct hflow_call_record {
    int tier;              /* tier that answered (after any fallback); -1 when no call was made */
    int routed_tier;       /* tier the router (or a forced rule) chose */
    char model[128];
    int32_t prompt_tokens, completion_tokens;
    int32_t max_tokens;
    double ttft_s;
    double start_s, end_s;
    int retries;           /* attempts beyond the first, over all tiers */
    int fell_back;         /* 1 when the other tier answered after a failure */
    int worker;            /* worker slot within its tier (trace lane) */
    double route_score;
    double route_threshold;
    const char *route_reason; /* static string */
    hflow_budget_state budget; /* budget state the router saw */
    char note[256];        /* budget adjustments, fallback and failure reasons; "" when none */
    char grammar[24];      /* the constraint the last attempt ran under ("plan:8"); "" when none */
    /* Cascade mode (hflow_flow_config.cascade): the edge attempt. The route_*
     * fields above are then the decision made after it, with its confidence. */
    int cascade;           /* 1: the step ran on the edge first */
    int escalated;         /* 1: the policy sent it on to the cloud after the edge answer */
    int edge_confidence_known;
    double edge_mean_logprob;   /* the edge answer's mean token logprob (0 when unknown) */
    double edge_confidence;     /* exp(edge_mean_logprob), what the policy saw; -1 when unknown */
    int32_t edge_prompt_tokens, edge_completion_tokens;
    double edge_start_s, edge_end_s;
} hflow_call_record;

typedef struct hflow_step_record {
    int index;             /* 0-based, the step's position after repair */
    int plan_id;           /* ID the planner gave (before renumbering), 0 when missing */
    char *task;            /* owned by the result */
    int *deps;             /* 0-based indices of direct deps (all < index); owned */
    int n_deps;
    int difficulty;        /* 1-9, 0 unknown */
    int token_estimate;    /* 0 unknown */
    int depth;             /* longest chain of deps below it (0 for roots) */
    int state;             /* enum hflow_step_state */
    double added_s, ready_s; /* when the parser emitted it / when its deps were done */
    char *result;          /* owned; NULL when the step produced nothing */
    hflow_call_record call;
} hflow_step_record;

typedef struct hflow_tier_usage {
    int calls;
    int64_t prompt_tokens;
    int64_t completion_tokens;
    double usd;
    double busy_s;         /* sum of call durations */
} hflow_tier_usage;

typedef struct hflow_flow_result {
    char *question;        /* owned copy */
    char *answer;          /* owned; never NULL after a successful run */
    int answer_source;     /* 0 aggregator, 1 last finished step (aggregator failed or out of time) */
    char *plan_text;       /* owned: the planner's raw output */
    char *repair_log;      /* owned: one line per repair applied to the plan ("" when none) */
    int n_repairs;
    int n_steps;
    hflow_step_record *steps; /* owned array of n_steps */
    int critical_path;     /* steps on the longest dependency chain */
    hflow_call_record planner, aggregator;
    hflow_tier_usage usage[2]; /* indexed by enum hflow_tier; planner and aggregator included */
    double usd;
    double cloud_share;    /* cloud tokens / all tokens */
    double wall_s;         /* whole query */
    double plan_done_s;    /* when the planner finished */
    double steps_done_s;   /* when the last step finished */
    int deadline_hit;
    int mode;
    hflow_budget_usage budget_used; /* the per-query budget at the end */
    hflow_budget_limits limits;
} hflow_flow_result;

/* Runs one query. Returns 0 with `out` filled (an answer is produced even when
 * steps fail or the deadline passes, as long as some tier answers), or a
 * negative code (bad arguments, cancelled, nothing could answer) with `out`
 * still holding whatever trace was gathered; clear it either way. */
int hflow_flow_run(hflow_flow *f, const char *question, const hflow_query_options *opts, hflow_flow_result *out,
                   hflow_error *err);
void hflow_flow_result_clear(hflow_flow_result *r);

/* ----------------------------------------------------------------- trace */

/* Appends one JSON line (no pretty-printing, '\n' terminated) describing the
 * query: plan, per step record, totals. */
int hflow_trace_write_jsonl(const hflow_flow_result *r, FILE *out, hflow_error *err);
/* Writes a Chrome trace-event JSON document (Perfetto opens it): one process
 * lane per tier (planner, edge, cloud, aggregator) and one thread per worker slot. */
int hflow_trace_write_chrome(const hflow_flow_result *r, FILE *out, hflow_error *err);

/* Static names for display and traces. */
const char *hflow_tier_name(int tier);
const char *hflow_step_state_name(int state);
const char *hflow_sched_mode_name(int mode);
/* "completion", "waves", "sequential" -> mode; -1 when unknown. */
int hflow_sched_mode_parse(const char *s);

#ifdef __cplusplus
}
#endif
#endif
