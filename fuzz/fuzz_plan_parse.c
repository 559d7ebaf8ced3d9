/* fuzz_plan_parse.c - libFuzzer target for the streaming plan parser and the
 * DAG repair behind it.
 * Input: byte 0 seeds the chunk splits, the rest is the planner's output.
 * The text is parsed once whole and once in random chunks; the steps must be
 * identical (chunking never changes the result). Every emitted step then goes
 * through flow_dag_add, and the DAG must satisfy its contract: deps point to
 * earlier indices, sorted, no duplicates, depth consistent, so no cycle. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "flow/dag.h"
#include "flow/plan_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sink {
    hflow_strbuf log; /* serialised steps, to compare two parses */
    flow_dag *dag;
} sink;

static int on_step(void *user, const flow_raw_step *s) {
    sink *k = user;
    if (s->n_rely < 0 || s->n_rely > FLOW_PLAN_MAX_RELY || !s->task)
        __builtin_trap();
    hflow_strbuf_printf(&k->log, "%d|%d|%d|", s->id, s->difficulty, s->tokens);
    for (int i = 0; i < s->n_rely; i++)
        hflow_strbuf_printf(&k->log, "%d,", s->rely[i]);
    hflow_strbuf_puts(&k->log, s->task);
    hflow_strbuf_putc(&k->log, '\n');
    if (k->dag && flow_dag_add(k->dag, s) == -2)
        __builtin_trap(); /* no allocation failure expected here */
    return 0;
}

static void check_dag(const flow_dag *d) {
    if (d->n < 1 || d->n > d->max_steps)
        __builtin_trap();
    for (int i = 0; i < d->n; i++) {
        const flow_step *s = d->steps[i];
        if (s->index != i || !s->task || !s->task[0] || s->difficulty < 0 || s->difficulty > 9 || s->token_estimate < 0)
            __builtin_trap();
        int depth = 0;
        for (int j = 0; j < s->n_deps; j++) {
            int dep = s->deps[j];
            if (dep < 0 || dep >= i || (j > 0 && dep <= s->deps[j - 1]))
                __builtin_trap();
            if (d->steps[dep]->depth + 1 > depth)
                depth = d->steps[dep]->depth + 1;
        }
        if (s->depth != depth)
            __builtin_trap();
    }
    if (flow_dag_critical_path(d) < 1)
        __builtin_trap();
}

/* Parses text in chunks chosen by seed (seed 0: one chunk); returns the log. */
static char *parse(const char *text, size_t len, unsigned seed, flow_dag *dag) {
    sink k;
    hflow_strbuf_init(&k.log);
    k.dag = dag;
    flow_plan_parser *p = flow_plan_parser_create(on_step, &k);
    if (!p)
        __builtin_trap();
    size_t pos = 0;
    uint32_t x = seed * 2654435761u + 1;
    while (pos < len) {
        size_t n = len - pos;
        if (seed) {
            x = x * 1664525u + 1013904223u;
            size_t c = 1 + (x >> 24) % 17;
            if (c < n)
                n = c;
        }
        if (flow_plan_parser_feed(p, text + pos, n) != 0)
            __builtin_trap();
        pos += n;
    }
    flow_plan_parser_finish(p);
    int count = flow_plan_parser_count(p);
    flow_plan_parser_free(p);
    if (count < 0 || k.log.oom)
        __builtin_trap();
    hflow_strbuf_putc(&k.log, '\0');
    return hflow_strbuf_take(&k.log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    flow_dag dag;
    flow_dag_init(&dag, 8 + data[0] % 24);
    char *whole = parse(text, len, 0, &dag);
    if (flow_dag_finish(&dag) < 0)
        __builtin_trap();
    check_dag(&dag);
    flow_dag_free(&dag);
    char *chunked = parse(text, len, 1u + data[0], NULL);
    if (!whole || !chunked || strcmp(whole, chunked) != 0)
        __builtin_trap();
    free(whole);
    free(chunked);
    return 0;
}
