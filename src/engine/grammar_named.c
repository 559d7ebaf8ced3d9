/* grammar_named.c - the built-in constraints by name (hflow_request.grammar,
 * the server's "grammar" field): "plan", "plan:N" and "json". */
#include <stdlib.h>
#include <string.h>

#include "hybridflow/grammar.h"

int hflow_grammar_parse_name(const char *name, hflow_plan_grammar_params *p, hflow_error *err) {
    hflow_plan_grammar_params d;
    if (!p) p = &d;
    hflow_plan_grammar_default(p);
    if (name && (!strcmp(name, "plan") || !strcmp(name, "json"))) return 0;
    if (name && !strncmp(name, "plan:", 5)) {
        char *end;
        long n = strtol(name + 5, &end, 10);
        if (*end || end == name + 5 || name[5] == '+' || name[5] == '-' || name[5] == ' ' || n < 1 || n > 99)
            return hflow_error_set(err, HFLOW_EINVAL, "grammar '%s': expected plan:N with N in 1..99", name);
        p->max_steps = (int)n;
        return 0;
    }
    return hflow_error_set(err, HFLOW_EINVAL, "unknown grammar '%s' (built-in: plan, plan:N, json)",
                           name ? name : "(null)");
}

int hflow_grammar_create_named(const char *name, const hflow_token_texts *texts, hflow_grammar **out,
                               hflow_error *err) {
    *out = NULL;
    hflow_plan_grammar_params p;
    int rc = hflow_grammar_parse_name(name, &p, err);
    if (rc) return rc;
    if (!strcmp(name, "json")) return hflow_grammar_create_json(texts, out, err);
    return hflow_grammar_create_plan(&p, texts, out, err);
}
