/* plan_parse.h - streaming parser for the planner's plan format:
 *
 *   <Plan><Step ID="1" Task="..." Rely="" Difficulty="3" Token="120"/>...</Plan>
 *
 * Fed chunk by chunk (a chunk may split anywhere, even inside a tag or an
 * escape), it emits each step the moment its tag is complete, so the
 * scheduler can start work while the planner is still writing.
 *
 * Tolerated: attribute order and case, single or double quotes or none,
 * whitespace and newlines inside tags, <think>...</think> blocks (skipped:
 * a draft plan inside them is not the plan), chatter before and after the
 * plan, a missing <Plan> wrapper, missing Difficulty/Token, XML escapes
 * (&amp; &lt; &gt; &quot; &apos; &#NN; &#xNN;), Rely as "1,2", "1 2", "[1, 2]"
 * or "step 1", and the long form <Step ID="2" Rely="1">task text</Step>.
 * Steps after </Plan> are ignored (models often repeat an example after it).
 * An unterminated tag at the end of the stream is dropped.
 * Raw steps are not validated here: the DAG (dag.h) repairs them. */
#ifndef HFLOW_FLOW_PLAN_PARSE_H
#define HFLOW_FLOW_PLAN_PARSE_H

#include <stddef.h>

#define FLOW_PLAN_MAX_RELY 32

typedef struct flow_raw_step {
    int id;            /* ID attribute as a number; 0 when missing or not a number */
    const char *task;  /* decoded text; borrowed for the callback; may be "" */
    int rely[FLOW_PLAN_MAX_RELY]; /* numbers found in Rely, in order (extra ones dropped) */
    int n_rely;
    int difficulty;    /* as written (not clamped), 0 when missing */
    int tokens;        /* as written, 0 when missing */
} flow_raw_step;

/* Return non-zero to stop parsing (the parser then ignores further input). */
typedef int (*flow_plan_step_cb)(void *user, const flow_raw_step *step);

typedef struct flow_plan_parser flow_plan_parser;

/* NULL on allocation failure. */
flow_plan_parser *flow_plan_parser_create(flow_plan_step_cb cb, void *user);
void flow_plan_parser_free(flow_plan_parser *p);
/* Feeds bytes; returns 0, or -1 on allocation failure. */
int flow_plan_parser_feed(flow_plan_parser *p, const char *data, size_t len);
/* End of stream: flushes nothing incomplete (see above). */
void flow_plan_parser_finish(flow_plan_parser *p);
/* Steps emitted so far. */
int flow_plan_parser_count(const flow_plan_parser *p);

/* Decodes XML escapes of [s, s+n) into a new string (caller frees); unknown
 * or malformed escapes are kept literally. NULL on allocation failure. */
char *flow_xml_unescape(const char *s, size_t n);

#endif
