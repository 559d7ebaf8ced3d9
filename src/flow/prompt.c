/* prompt.c - prompt texts. Step prompts carry dependency RESULTS but not the
 * dependencies' task texts: the results are what the step builds on, and it
 * keeps prompts (and cloud tokens) short. */
#include "flow/prompt.h"

#include <stdio.h>
#include <string.h>

#include "base/strbuf.h"
#include "hybridflow/flow.h"

const char *const flow_step_system_prompt =
    "You solve one step of a larger plan. Do exactly what the step asks, using the results of earlier steps "
    "when given, and answer concisely.";

const char *const flow_aggregate_system_prompt =
    "You write the final answer to a question from the results of the steps that worked on it.";

static char *finish(hflow_strbuf *b) {
    if (b->oom) {
        hflow_strbuf_free(b);
        return NULL;
    }
    return hflow_strbuf_take(b);
}

char *flow_prompt_planner(const char *tmpl, const char *question, int max_steps) {
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    for (const char *s = tmpl; *s;) {
        if (!strncmp(s, "{{question}}", 12)) {
            hflow_strbuf_puts(&b, question);
            s += 12;
        } else if (!strncmp(s, "{{max_steps}}", 13)) {
            hflow_strbuf_printf(&b, "%d", max_steps);
            s += 13;
        } else {
            hflow_strbuf_putc(&b, *s++);
        }
    }
    return finish(&b);
}

char *flow_prompt_step(const char *question, const flow_dag *d, int i, const unsigned char *context,
                       char *const *results) {
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_printf(&b, "Question:\n%s\n\n", question);
    for (int k = 0; k < i; k++) {
        if (!context[k]) continue;
        if (results[k])
            hflow_strbuf_printf(&b, "Result of step %d:\n%s\n\n", d->steps[k]->id, results[k]);
        else
            hflow_strbuf_printf(&b, "Result of step %d: (not available: the step failed)\n\n", d->steps[k]->id);
    }
    hflow_strbuf_printf(&b, "Your step: %s\n", d->steps[i]->task);
    return finish(&b);
}

const char *flow_prompt_format_instruction(int fmt) {
    switch (fmt) {
    case HFLOW_FORMAT_OPTION:
        return "End your reply with a line of the form 'Answer: X' where X is the single letter of the correct option.";
    case HFLOW_FORMAT_INTEGER:
        return "End your reply with a line of the form 'Answer: N' where N is the final integer.";
    case HFLOW_FORMAT_LIST:
        return "End your reply with a line of the form 'Answer: a, b, c' listing the items separated by commas.";
    default:
        return "Give the final answer clearly and concisely.";
    }
}

char *flow_prompt_aggregate(const char *question, const flow_dag *d, char *const *results, int answer_format) {
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_printf(&b, "Question:\n%s\n\nWork done so far:\n", question);
    for (int k = 0; k < d->n; k++)
        hflow_strbuf_printf(&b, "Step %d (%s):\n%s\n\n", d->steps[k]->id, d->steps[k]->task,
                            results[k] ? results[k] : "(no result)");
    hflow_strbuf_printf(&b, "Write the final answer to the question. %s\n", flow_prompt_format_instruction(answer_format));
    return finish(&b);
}
