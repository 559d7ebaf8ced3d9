/* judge.h - asking a model to grade: one mechanism for the profile's step
 * labeler and the eval's free-form answer judge. Internal to src/eval. */
#ifndef HFLOW_EVAL_JUDGE_H
#define HFLOW_EVAL_JUDGE_H
#include "hybridflow/backend.h"

/* Fills `tmpl` ({{name}} placeholders), asks `judge` greedily and parses the
 * last "Score: N" (0-10) of its reply into *q in [0, 1]. HFLOW_EFORMAT when
 * the reply has no score. */
int ev_judge_score(hflow_backend *judge, const char *tmpl, const char *const *names, const char *const *vals, int n,
                   volatile int *cancel, double *q, hflow_error *err);
/* The parser alone (exposed for tests). 0, or -1 when no score is found. */
int ev_judge_parse_score(const char *text, double *q);

#endif
