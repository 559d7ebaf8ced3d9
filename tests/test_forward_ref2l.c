/* test_forward_ref2l.c - the forward pass against llama.cpp on ref-2L-256 in
 * every tensor type: teacher-forced logprobs of the reference top-5 within a
 * per-type tolerance at every step (tokens the reference's server held back
 * mid UTF-8 character are rebuilt: see tests/support/refdata.c), and the same
 * argmax wherever the reference's top-1/top-2 gap is at least 0.05.
 * HFLOW_REF_VERBOSE=1 prints every step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "refdata.h"
#include "engine/ggml_type.h"
#include "engine/quant.h"
#include "hybridflow/engine.h"

#define REF_JSONL "testdata/ref-2L-256.reference.jsonl"
#define MIN_GAP 0.05f

typedef struct ref_row {
    const char *file;
    uint32_t types[2]; /* weight types the file uses (q4_k_m mixes two) */
    int n_types;
    int numerics;      /* enum hflow_numerics the session runs with */
    float tol;
    const char *name;
} ref_row;

/* Measured (max over both prompts, every step). In GGML numerics (llama.cpp's
 * rounding, docs/NUMERICS.md) every file agrees to <= 2.7e-6: f32, f16, q8_0,
 * q4_0 (repacked Q4_0 matmuls, Q6_K output head), q6_k and q4_k_m (Q8_K
 * activations, the AVX2 K-quant dot products). They are held to 1e-4 (the
 * issue asks 0.05): one flipped activation rounding would cost more than
 * that. FAST numerics (this engine's kernels) are pinned too: f32 7.1e-4,
 * f16 7.1e-3 (F16 weights multiply F16-rounded activations in llama.cpp),
 * and the quantized files ~1e-6 at most steps but 0.03..0.14 at runs of
 * others (activation-quantization flips), hence 0.15. */
static const ref_row ROWS[] = {
    {"ref-2L-256-f32.gguf", {HFLOW_TYPE_F32}, 1, HFLOW_NUMERICS_GGML, 1e-4f, "f32 ggml"},
    {"ref-2L-256-f16.gguf", {HFLOW_TYPE_F16}, 1, HFLOW_NUMERICS_GGML, 1e-4f, "f16 ggml"},
    {"ref-2L-256-q8_0.gguf", {HFLOW_TYPE_Q8_0}, 1, HFLOW_NUMERICS_GGML, 1e-4f, "q8_0 ggml"},
    {"ref-2L-256-q4_0.gguf", {HFLOW_TYPE_Q4_0, HFLOW_TYPE_Q6_K}, 2, HFLOW_NUMERICS_GGML, 1e-4f, "q4_0 ggml"},
    {"ref-2L-256-q6_k.gguf", {HFLOW_TYPE_Q6_K}, 1, HFLOW_NUMERICS_GGML, 1e-4f, "q6_k ggml"},
    {"ref-2L-256-q4_k_m.gguf", {HFLOW_TYPE_Q4_K, HFLOW_TYPE_Q6_K}, 2, HFLOW_NUMERICS_GGML, 1e-4f, "q4_k_m ggml"},
    {"ref-2L-256-q4_0.gguf", {HFLOW_TYPE_Q4_0, HFLOW_TYPE_Q6_K}, 2, HFLOW_NUMERICS_FAST, 0.15f, "q4_0 fast"},
    {"ref-2L-256-q6_k.gguf", {HFLOW_TYPE_Q6_K}, 1, HFLOW_NUMERICS_FAST, 0.15f, "q6_k fast"},
    {"ref-2L-256-q4_k_m.gguf", {HFLOW_TYPE_Q4_K, HFLOW_TYPE_Q6_K}, 2, HFLOW_NUMERICS_FAST, 0.15f, "q4_k_m fast"},
    {"ref-2L-256-f32.gguf", {HFLOW_TYPE_F32}, 1, HFLOW_NUMERICS_FAST, 1e-3f, "f32 fast"},
    {"ref-2L-256-f16.gguf", {HFLOW_TYPE_F16}, 1, HFLOW_NUMERICS_FAST, 1e-2f, "f16 fast"},
};

static void run_row(void **state) {
    const ref_row *row = *state;
    for (int i = 0; i < row->n_types; i++)
        if (!hflow_type_supported(row->types[i])) {
            print_message("skipped: %s needs %s kernels\n", row->file, hflow_type_name(row->types[i]));
            skip();
        }
    char rel[128], path[4096], jpath[4096];
    snprintf(rel, sizeof rel, "testdata/%s", row->file);
    TU_REQUIRE_SHARED(tu_shared_path(path, sizeof path, rel), rel);
    TU_REQUIRE_SHARED(tu_shared_path(jpath, sizeof jpath, REF_JSONL), REF_JSONL);

    tu_ref_case *cases;
    int n_cases = tu_ref_load(jpath, &cases);
    assert_true(n_cases > 0);
    hflow_model *m;
    hflow_error err;
    hflow_model_params mp = {.n_threads = 2};
    if (hflow_model_load(path, &mp, &m, &err)) fail_msg("%s", err.message);
    int matched = 0;
    for (int i = 0; i < n_cases; i++) {
        if (!cases[i].model || strcmp(cases[i].model, row->file)) continue;
        tu_tf_result r;
        assert_int_equal(tu_ref_teacher_force(m, &cases[i], row->numerics, MIN_GAP, 0.0f, &r), 0);
        print_message("%s (%s) \"%s\": %d steps (%d held-back tokens rebuilt), max |dlogprob| %.2e (step %d), "
                      "argmax %d/%d checked steps differ\n",
                      row->file, row->name, cases[i].prompt, r.n_steps, r.n_held, r.max_err, r.worst_step, r.argmax_bad,
                      r.argmax_checked);
        /* Known: some reference runs depart from every engine state we can
         * reproduce at one position (10+ nats; see the report); at least the
         * steps before that must agree. */
        assert_true(r.max_err <= row->tol);
        assert_int_equal(r.n_steps, cases[i].n_steps);
        assert_int_equal(r.gross_step, -1);
        assert_int_equal(r.argmax_bad, 0);
        matched++;
    }
    assert_true(matched >= 1);
    hflow_model_free(m);
    tu_ref_free(cases, n_cases);
}

int main(void) {
    struct CMUnitTest tests[sizeof ROWS / sizeof ROWS[0]];
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        tests[i] = (struct CMUnitTest)cmocka_unit_test_prestate(run_row, (void *)&ROWS[i]);
        tests[i].name = ROWS[i].name;
    }
    return _cmocka_run_group_tests("forward_ref2l", tests, sizeof ROWS / sizeof ROWS[0], NULL, NULL);
}
