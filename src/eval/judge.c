/* judge.c - an LLM as grader. The reply must end with "Score: N"; the last
 * such line counts, so a judge that reasons first and concludes last is read
 * right. Without the marker a bare integer is accepted as a fallback. */
#include "eval/judge.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_util.h"
#include "hybridflow/eval.h"

int ev_judge_parse_score(const char *text, double *q) {
    const char *p = NULL;
    for (const char *s = text; (s = strstr(s, "Score:")) != NULL; s++) p = s + 6;
    long v;
    if (p) {
        while (*p == ' ' || *p == '*') p++;
        if (!isdigit((unsigned char)*p)) return -1;
        v = strtol(p, NULL, 10);
    } else if (!hflow_extract_integer(text, &v)) {
        return -1;
    }
    *q = (v < 0 ? 0 : v > 10 ? 10 : (double)v) / 10.0;
    return 0;
}

int ev_judge_score(hflow_backend *judge, const char *tmpl, const char *const *names, const char *const *vals, int n,
                   volatile int *cancel, double *q, hflow_error *err) {
    char *prompt = ev_fill_template(tmpl, names, vals, n);
    if (!prompt) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    hflow_chat_message msg = {"user", prompt};
    hflow_request req;
    hflow_request_init(&req);
    req.messages = &msg;
    req.n_messages = 1;
    req.max_tokens = 256;
    req.temperature = 0;
    req.cancel = cancel;
    hflow_response resp;
    int rc = hflow_backend_complete(judge, &req, &resp, err);
    free(prompt);
    if (!rc && ev_judge_parse_score(resp.text ? resp.text : "", q))
        rc = hflow_error_set(err, HFLOW_EFORMAT, "judge gave no 'Score: N'");
    hflow_response_clear(&resp);
    return rc;
}
