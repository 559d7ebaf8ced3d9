/* prompt_template.c - the eval runner's prompt files (prompts/NAME.txt) filled
 * for one item. The answer-format instruction is the orchestrator's, so the
 * single-call baselines and HybridFlow's aggregator ask for the answer in the
 * same words and are scored by the same rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "eval/eval_util.h"
#include "flow/prompt.h"
#include "hybridflow/eval.h"
#include "hybridflow/flow.h"

static int flow_format_of(int answer_type) {
    switch (answer_type) {
    case HFLOW_ANSWER_LETTER: return HFLOW_FORMAT_OPTION;
    case HFLOW_ANSWER_INTEGER: return HFLOW_FORMAT_INTEGER;
    case HFLOW_ANSWER_LIST: return HFLOW_FORMAT_LIST;
    default: return HFLOW_FORMAT_FREE;
    }
}

int ev_answer_format(const hflow_eval_item *item) { return flow_format_of(item->answer_type); }

/* Replaces every {{name}} with vals[i]; unknown placeholders stay as they are. */
char *ev_fill_template(const char *tmpl, const char *const *names, const char *const *vals, int n) {
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    for (const char *s = tmpl; *s;) {
        int hit = -1;
        if (s[0] == '{' && s[1] == '{')
            for (int i = 0; i < n && hit < 0; i++) {
                size_t len = strlen(names[i]);
                if (!strncmp(s + 2, names[i], len) && !strncmp(s + 2 + len, "}}", 2)) hit = i;
            }
        if (hit >= 0) {
            hflow_strbuf_puts(&b, vals[hit] ? vals[hit] : "");
            s += strlen(names[hit]) + 4;
        } else {
            hflow_strbuf_putc(&b, *s++);
        }
    }
    if (b.oom || !b.data) {
        hflow_strbuf_free(&b);
        return NULL;
    }
    return hflow_strbuf_take(&b);
}

int ev_read_prompt(const char *prompts_dir, const char *name, char **out, hflow_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", prompts_dir ? prompts_dir : HFLOW_SOURCE_DIR "/prompts", name);
    return ev_read_file(path, out, NULL, err);
}

int hflow_eval_prompt(const char *prompts_dir, const char *name, const hflow_eval_item *item, char **out,
                      hflow_error *err) {
    *out = NULL;
    char *tmpl;
    int rc = ev_read_prompt(prompts_dir, name, &tmpl, err);
    if (rc) return rc;
    const char *names[] = {"question", "format"};
    const char *vals[] = {item->question, flow_prompt_format_instruction(flow_format_of(item->answer_type))};
    *out = ev_fill_template(tmpl, names, vals, 2);
    free(tmpl);
    return *out ? 0 : hflow_error_set(err, HFLOW_ENOMEM, "eval prompt: out of memory");
}
