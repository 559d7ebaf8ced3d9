/* test_forward_stories.c - stories260K (a real trained model) against
 * llama.cpp's reference decodings: teacher-forced logprobs of the reference
 * top-5 within 1e-3 at every step, and free-running greedy decoding from the
 * prompt ids reproducing the reference tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "refdata.h"
#include "hybridflow/engine.h"

#define MODEL "models/stories260K.gguf"
#define REF_JSONL "testdata/stories260K.reference.jsonl"
/* Measured raw, every step, GGML numerics (llama.cpp's rounding, see
 * docs/NUMERICS.md): <= 2.4e-6 in all four prompts (the issue asks 1e-3; we
 * hold 1e-4, below what one F16 rounding flip would cost). With FAST numerics (this
 * engine's kernels and libm expf) tail logprobs (-3 .. -11) late in a
 * sequence drift by up to 7.7e-3: F16 rounding flips of the KV cache,
 * amplified; pinned below with the old relative allowance. */
#define TOL 1e-3f
#define GGML_TOL 1e-4f
#define FAST_REL_TOL 5e-3f

typedef struct fixture {
    hflow_model *m;
    tu_ref_case *cases;
    int n_cases;
} fixture;

static int setup(void **state) {
    static fixture f;
    char path[4096], jpath[4096];
    *state = &f;
    if (!tu_shared_path(path, sizeof path, MODEL) || !tu_shared_path(jpath, sizeof jpath, REF_JSONL)) return 0;
    hflow_error err;
    hflow_model_params mp = {.n_threads = 2};
    if (hflow_model_load(path, &mp, &f.m, &err)) {
        print_message("%s\n", err.message);
        return -1;
    }
    f.n_cases = tu_ref_load(jpath, &f.cases);
    return f.n_cases > 0 ? 0 : -1;
}

static int teardown(void **state) {
    fixture *f = *state;
    hflow_model_free(f->m);
    tu_ref_free(f->cases, f->n_cases);
    return 0;
}

static void teacher_force_all(void **state, int numerics, float tol, float rel_tol) {
    fixture *f = *state;
    TU_REQUIRE_SHARED(f->m ? "" : NULL, MODEL);
    for (int i = 0; i < f->n_cases; i++) {
        tu_tf_result r;
        assert_int_equal(tu_ref_teacher_force(f->m, &f->cases[i], numerics, 0.05f, rel_tol, &r), 0);
        print_message("\"%s\": %d steps, max |dlogprob| beyond %.0e*|logprob|: %.2e (step %d), argmax %d/%d differ\n",
                      f->cases[i].prompt, r.n_steps, rel_tol, r.max_err, r.worst_step, r.argmax_bad,
                      r.argmax_checked);
        assert_int_equal(r.gross_step, -1);
        assert_int_equal(r.n_steps, f->cases[i].n_steps);
        assert_true(r.max_err <= tol);
        assert_int_equal(r.argmax_bad, 0);
    }
}

/* Every top-5 logprob within 1e-4 (the issue: 1e-3), no relative allowance. */
static void test_teacher_forced_logprobs(void **state) { teacher_force_all(state, HFLOW_NUMERICS_GGML, GGML_TOL, 0.0f); }

static void test_teacher_forced_logprobs_fast(void **state) {
    teacher_force_all(state, HFLOW_NUMERICS_FAST, TOL, FAST_REL_TOL);
}

static void test_prompt_tokenizes_to_reference(void **state) {
    fixture *f = *state;
    TU_REQUIRE_SHARED(f->m ? "" : NULL, MODEL);
    const hflow_vocab *v = hflow_model_vocab(f->m);
    assert_non_null(v);
    for (int i = 0; i < f->n_cases; i++) {
        int32_t *ids;
        int n;
        hflow_error err;
        const char *p = f->cases[i].prompt;
        assert_int_equal(hflow_tokenize(v, p, strlen(p), 1, 0, &ids, &n, &err), 0);
        assert_int_equal(n, f->cases[i].n_prompt);
        assert_memory_equal(ids, f->cases[i].prompt_ids, (size_t)n * sizeof *ids);
        free(ids);
    }
}

/* Greedy decoding one token at a time, as generation does. */
static void test_greedy_reproduces_reference(void **state) {
    fixture *f = *state;
    TU_REQUIRE_SHARED(f->m ? "" : NULL, MODEL);
    for (int i = 0; i < f->n_cases; i++) {
        const tu_ref_case *c = &f->cases[i];
        hflow_session *s;
        hflow_error err;
        assert_int_equal(hflow_session_create(f->m, NULL, &s, &err), 0);
        assert_int_equal(hflow_session_decode(s, c->prompt_ids, c->n_prompt, HFLOW_LOGITS_LAST, &err), 0);
        for (int k = 0; k < c->n_steps; k++) {
            int32_t tok = hflow_argmax(hflow_session_logits(s, 0), hflow_model_get_info(f->m)->n_vocab);
            if (tok != c->steps[k].token) fail_msg("\"%s\" step %d: got %d, reference %d", c->prompt, k, tok, c->steps[k].token);
            assert_int_equal(hflow_session_decode(s, &tok, 1, HFLOW_LOGITS_LAST, &err), 0);
        }
        hflow_session_free(s);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompt_tokenizes_to_reference),
        cmocka_unit_test(test_teacher_forced_logprobs),
        cmocka_unit_test(test_teacher_forced_logprobs_fast),
        cmocka_unit_test(test_greedy_reproduces_reference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
