/* engine_util.c - see engine_util.h. */
#include "engine_util.h"

#include <string.h>

#include "testutil.h"

hflow_model *tu_model_load(const char *path) {
    hflow_model_params mp = {1};
    hflow_model *m = NULL;
    hflow_error err = {0};
    if (hflow_model_load(path, &mp, &m, &err)) return NULL;
    return m;
}

int32_t *tu_tokenize(const hflow_model *m, const char *text, int *n) {
    int32_t *ids = NULL;
    hflow_error err = {0};
    if (hflow_tokenize(hflow_model_vocab(m), text, strlen(text), 1, 0, &ids, n, &err)) fail_msg("%s", err.message);
    return ids;
}

int32_t tu_greedy_reference(hflow_model *m, const int32_t *prompt, int n_prompt, int32_t max, int32_t *out) {
    hflow_session *s = NULL;
    hflow_error err = {0};
    assert_int_equal(hflow_session_create(m, NULL, &s, &err), 0);
    assert_int_equal(hflow_session_decode(s, prompt, n_prompt, HFLOW_LOGITS_LAST, &err), 0);
    int32_t n = 0, V = hflow_model_get_info(m)->n_vocab;
    while (n < max) {
        int32_t t = hflow_argmax(hflow_session_logits(s, 0), V);
        if (hflow_vocab_is_eog(hflow_model_vocab(m), t)) break;
        out[n++] = t;
        if (n < max) assert_int_equal(hflow_session_decode(s, &t, 1, HFLOW_LOGITS_LAST, &err), 0);
    }
    hflow_session_free(s);
    return n;
}
