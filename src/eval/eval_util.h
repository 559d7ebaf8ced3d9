/* eval_util.h - small helpers shared by the eval module's files (internal). */
#ifndef HFLOW_EVAL_UTIL_H
#define HFLOW_EVAL_UTIL_H
#include <stddef.h>

#include "hybridflow/error.h"

/* strdup that tolerates NULL (returns NULL). */
char *ev_strdup(const char *s);
/* Reads a whole file, NUL-terminated; caller frees. Fails with EIO naming the file. */
int ev_read_file(const char *path, char **out, size_t *len, hflow_error *err);
/* 1-based line number of byte offset `off` in `text`. */
int ev_line_of(const char *text, size_t off);
/* ASCII lower-case copy of n bytes into a fresh string; caller frees. */
char *ev_lower_n(const char *s, size_t n);
struct cJSON;
/* A multiple-choice question as the model sees it: the stem, a blank line,
 * then "A. option" lines (options: a JSON array of strings; NULL or empty =
 * the stem alone plus a newline). The live eval prompt and the replay
 * loader's routing text both come from here. Caller frees; NULL on OOM. */
char *ev_render_question(const char *stem, const struct cJSON *options);
/* Trims ASCII whitespace at both ends, in place; returns s. */
char *ev_trim(char *s);


struct hflow_eval_item;
/* prompt_template.c: {{name}} substitution (caller frees; NULL on OOM), a
 * prompt file from prompts_dir (NULL = the source tree's prompts/), and the
 * orchestrator's answer format (enum hflow_answer_format) for an item. */
char *ev_fill_template(const char *tmpl, const char *const *names, const char *const *vals, int n);
int ev_read_prompt(const char *prompts_dir, const char *name, char **out, hflow_error *err);
int ev_answer_format(const struct hflow_eval_item *item);

#endif
