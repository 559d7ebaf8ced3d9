/* test_engine_bench.c - hflow_bench_run on a tiny generated model: the
 * figures it reports are consistent with each other and with the model (no
 * assertion on speed itself), bad parameters are refused, and the
 * `hybridflow bench` CLI prints every figure it promises. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "engine/ggml_type.h"
#include "hybridflow/bench.h"
#include "hybridflow/engine.h"
#include "hybridflow/modelgen.h"

static char model_path[512];

static int setup(void **state) {
    (void)state;
    hflow_gen_params gp;
    hflow_gen_params_default(&gp);
    hflow_error err;
    if (hflow_gen_params_preset(&gp, "tiny", &err)) fail_msg("%s", err.message);
    gp.type = HFLOW_TYPE_Q8_0;
    snprintf(model_path, sizeof model_path, "%s/bench-tiny-q8_0.gguf", tu_tmpdir());
    if (hflow_gen_model(&gp, model_path, &err)) fail_msg("%s", err.message);
    return 0;
}

static void figures_are_consistent(void **state) {
    (void)state;
    hflow_bench_params p = {model_path, 2, 12, 5, 3, (size_t)1 << 20};
    hflow_bench_result r;
    hflow_error err;
    assert_int_equal(hflow_bench_run(&p, &r, &err), 0);
    hflow_model *m;
    hflow_model_params mp = {1};
    assert_int_equal(hflow_model_load(model_path, &mp, &m, &err), 0);
    assert_true(r.weight_bytes == hflow_model_get_info(m)->weight_bytes);
    hflow_model_free(m);
    assert_int_equal(r.threads, 2);
    assert_int_equal(r.reps, 3);
    assert_int_equal(r.n_prompt, 12);
    assert_int_equal(r.n_gen, 5);
    assert_true(r.prefill_tok_s > 0 && r.decode_tok_s > 0);
    assert_true(r.decode_tok_s_min <= r.decode_tok_s && r.decode_tok_s <= r.decode_tok_s_max);
    assert_true(r.prefill_tok_s_min <= r.prefill_tok_s && r.prefill_tok_s <= r.prefill_tok_s_max);
    double gbs = (double)r.weight_bytes * r.decode_tok_s / 1e9;
    assert_true(r.decode_gbs > 0.999 * gbs && r.decode_gbs < 1.001 * gbs);
    assert_true(r.triad_gbs > 0 && r.read_gbs > 0 && r.ratio_triad > 0 && r.ratio_read > 0);
    assert_true(r.prefill_over_decode > 0);
    assert_true(r.cpu_util > 0 && r.cpu_util < 1.5);
    assert_true(r.peak_rss_mb > 0.1);
}

static void bad_parameters_are_refused(void **state) {
    (void)state;
    hflow_bench_result r;
    hflow_error err;
    hflow_bench_params p = {model_path, 1, -3, 4, 1, (size_t)1 << 20};
    assert_int_equal(hflow_bench_run(&p, &r, &err), HFLOW_EINVAL);
    p.n_prompt = 4;
    p.reps = 1000;
    assert_int_equal(hflow_bench_run(&p, &r, &err), HFLOW_EINVAL);
    assert_int_equal(hflow_bench_run(NULL, &r, &err), HFLOW_EINVAL);
    hflow_bench_params missing = {"/nonexistent/model.gguf", 1, 4, 4, 1, (size_t)1 << 20};
    assert_true(hflow_bench_run(&missing, &r, &err) < 0);
}

static void cli_prints_every_figure(void **state) {
    (void)state;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s bench -m %s -t 1 -p 8 -n 4 --reps 1 --bw-mib 1", tu_cli_path(), model_path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    assert_int_equal(pclose(f), 0);
    const char *want[] = {"prefill", "decode", "tok/s", "peak RSS", "triad", "GB/s", "% of triad"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out, want[i])) fail_msg("'%s' missing from:\n%s", want[i], out);
    snprintf(cmd, sizeof cmd, "%s bench -m %s --frobnicate 1 2>/dev/null", tu_cli_path(), model_path);
    assert_int_not_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s bench 2>/dev/null", tu_cli_path());
    assert_int_not_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(figures_are_consistent),
        cmocka_unit_test(bad_parameters_are_refused),
        cmocka_unit_test(cli_prints_every_figure),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
