/* test_forward_arch.c - what the llama / qwen2 / qwen3 differences change.
 *
 * Tiny random models from gen-model (2 layers, dim 8, 2 heads / 1 kv head,
 * F32 weights) run through the engine (F32 KV cache) and through a
 * straightforward double-precision forward written here from the textbook
 * definitions, op by op: embedding, RMSNorm, q/k/v projections (+ qwen2
 * biases), per-head q/k RMSNorm (qwen3), RoPE (adjacent pairs or NEOX halves,
 * linear scaling), causal grouped-query attention, SwiGLU FFN, output head.
 * The two must agree at every position; then each family hook is switched
 * off or changed on the loaded model to show it changes the logits and the
 * reference follows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "engine/ggml_type.h"
#include "engine/model.h"
#include "hybridflow/engine.h"
#include "hybridflow/modelgen.h"

#define N_TOK 6
#define TOL 1e-4

static const int32_t TOKENS[N_TOK] = {1, 72, 101, 108, 108, 111};

/* ---- the reference forward ---- */

static void ref_rmsnorm(double *out, const double *x, const float *w, int n, double eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double s = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * s * w[i];
}

static void ref_matvec(const hflow_weight *w, const double *x, double *y) {
    const float *W = w->data;
    for (int64_t r = 0; r < w->rows; r++) {
        double s = 0;
        for (int64_t c = 0; c < w->cols; c++) s += (double)W[r * w->cols + c] * x[c];
        y[r] = s;
    }
}

/* Rotates pairs (i, i + n_rot/2) for NEOX, (2i, 2i+1) otherwise, by angle
 * pos * scale * theta^(-2i/n_rot). */
static void ref_rope(double *x, int n_heads, const hflow_hparams *hp, int pos) {
    int half = hp->n_rot / 2;
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < half; i++) {
            double a = pos * hp->rope_freq_scale * pow(hp->rope_theta, -2.0 * i / hp->n_rot);
            double *v = x + h * hp->head_dim;
            int j0 = hp->rope_style == HFLOW_ROPE_NEOX ? i : 2 * i;
            int j1 = hp->rope_style == HFLOW_ROPE_NEOX ? i + half : 2 * i + 1;
            double x0 = v[j0], x1 = v[j1];
            v[j0] = x0 * cos(a) - x1 * sin(a);
            v[j1] = x0 * sin(a) + x1 * cos(a);
        }
}

static void add_vec(double *y, const float *b, int n) {
    for (int i = 0; i < n; i++) y[i] += b ? b[i] : 0.0;
}

/* Logits of every position of TOKENS into out[N_TOK][n_vocab]. */
static void ref_forward(const hflow_model *m, double *out) {
    const hflow_hparams *hp = &m->hp;
    int E = hp->n_embd, hd = hp->head_dim, qd = hp->n_head * hd, kvd = hp->n_head_kv * hd, F = hp->n_ff;
    double x[N_TOK][64], xb[64], q[64], o[64], att[64], g[64], u[64];
    double K[2][N_TOK][64], V[2][N_TOK][64];
    assert_true(E <= 64 && qd <= 64 && F <= 64 && hp->n_layer <= 2);
    for (int t = 0; t < N_TOK; t++)
        for (int i = 0; i < E; i++) x[t][i] = ((const float *)m->tok_embd.data)[(size_t)TOKENS[t] * E + i];
    for (int t = 0; t < N_TOK; t++) {
        for (int il = 0; il < hp->n_layer; il++) {
            const hflow_layer *l = &m->layers[il];
            ref_rmsnorm(xb, x[t], l->attn_norm, E, hp->norm_eps);
            ref_matvec(&l->wq, xb, q);
            ref_matvec(&l->wk, xb, K[il][t]);
            ref_matvec(&l->wv, xb, V[il][t]);
            add_vec(q, l->bq, qd);
            add_vec(K[il][t], l->bk, kvd);
            add_vec(V[il][t], l->bv, kvd);
            for (int h = 0; l->q_norm && h < hp->n_head; h++) ref_rmsnorm(q + h * hd, q + h * hd, l->q_norm, hd, hp->norm_eps);
            for (int h = 0; l->k_norm && h < hp->n_head_kv; h++)
                ref_rmsnorm(K[il][t] + h * hd, K[il][t] + h * hd, l->k_norm, hd, hp->norm_eps);
            ref_rope(q, hp->n_head, hp, t);
            ref_rope(K[il][t], hp->n_head_kv, hp, t);
            for (int h = 0; h < hp->n_head; h++) {
                int kh = h / (hp->n_head / hp->n_head_kv);
                double w[N_TOK], mx = -1e300, sum = 0;
                for (int j = 0; j <= t; j++) {
                    w[j] = 0;
                    for (int d = 0; d < hd; d++) w[j] += q[h * hd + d] * K[il][j][kh * hd + d];
                    w[j] /= sqrt((double)hd);
                    mx = fmax(mx, w[j]);
                }
                for (int j = 0; j <= t; j++) sum += (w[j] = exp(w[j] - mx));
                for (int d = 0; d < hd; d++) {
                    att[h * hd + d] = 0;
                    for (int j = 0; j <= t; j++) att[h * hd + d] += w[j] / sum * V[il][j][kh * hd + d];
                }
            }
            ref_matvec(&l->wo, att, o);
            for (int i = 0; i < E; i++) x[t][i] += o[i];
            ref_rmsnorm(xb, x[t], l->ffn_norm, E, hp->norm_eps);
            ref_matvec(&l->w_gate, xb, g);
            ref_matvec(&l->w_up, xb, u);
            for (int i = 0; i < F; i++) g[i] = g[i] / (1 + exp(-g[i])) * u[i];
            ref_matvec(&l->w_down, g, o);
            for (int i = 0; i < E; i++) x[t][i] += o[i];
        }
        ref_rmsnorm(xb, x[t], m->output_norm, E, hp->norm_eps);
        ref_matvec(&m->output, xb, out + (size_t)t * hp->n_vocab);
    }
}

/* ---- the engine ---- */

static void engine_forward(hflow_model *m, float *out) {
    hflow_session *s;
    hflow_error err;
    hflow_session_params sp = {.n_ctx = N_TOK, .kv_type = HFLOW_KV_F32};
    assert_int_equal(hflow_session_create(m, &sp, &s, &err), 0);
    assert_int_equal(hflow_session_decode(s, TOKENS, N_TOK, HFLOW_LOGITS_ALL, &err), 0);
    for (int t = 0; t < N_TOK; t++)
        memcpy(out + (size_t)t * m->hp.n_vocab, hflow_session_logits(s, t), (size_t)m->hp.n_vocab * sizeof(float));
    hflow_session_free(s);
}

static hflow_model *load_tiny_scaled(const char *arch, int head_dim, float rope_scale) {
    hflow_gen_params p;
    hflow_gen_params_default(&p);
    p.arch = arch;
    p.n_layer = 2;
    p.n_embd = 8;
    p.n_ff = 16;
    p.n_head = 2;
    p.n_head_kv = 1;
    p.head_dim = head_dim;
    p.seed = 7;
    p.rope_scale_linear = rope_scale;
    char path[512];
    snprintf(path, sizeof path, "%s/arch_%s_%d_%g.gguf", tu_tmpdir(), arch, head_dim, rope_scale);
    hflow_error err;
    if (hflow_gen_model(&p, path, &err)) fail_msg("gen-model: %s", err.message);
    hflow_model *m;
    hflow_model_params mp = {.n_threads = 1};
    if (hflow_model_load(path, &mp, &m, &err)) fail_msg("load: %s", err.message);
    assert_string_equal(hflow_model_get_info(m)->arch, arch);
    return m;
}

static hflow_model *load_tiny(const char *arch, int head_dim) { return load_tiny_scaled(arch, head_dim, 0.0f); }

/* max |engine - reference| over all positions and the vocabulary */
static double engine_vs_ref(hflow_model *m) {
    size_t n = (size_t)N_TOK * m->hp.n_vocab;
    float *e = malloc(n * sizeof *e);
    double *r = malloc(n * sizeof *r), d = 0;
    engine_forward(m, e);
    ref_forward(m, r);
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(e[i] - r[i]));
    free(e);
    free(r);
    return d;
}

/* max |a - b| of the engine's logits before and after `change` */
static double engine_delta(hflow_model *m, float *before) {
    size_t n = (size_t)N_TOK * m->hp.n_vocab;
    float *after = malloc(n * sizeof *after);
    engine_forward(m, after);
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs(after[i] - before[i]));
    free(after);
    return d;
}

static float *engine_logits(hflow_model *m) {
    float *l = malloc((size_t)N_TOK * m->hp.n_vocab * sizeof *l);
    engine_forward(m, l);
    return l;
}

static void test_llama_matches_reference(void **state) {
    (void)state;
    hflow_model *m = load_tiny("llama", 0);
    assert_int_equal(m->hp.rope_style, HFLOW_ROPE_NORM);
    assert_null(m->layers[0].bq);
    assert_null(m->layers[0].q_norm);
    assert_true(engine_vs_ref(m) < TOL);
    hflow_model_free(m);
}

/* qwen2: biases are loaded and matter; with them switched off the model is
 * exactly llama with NEOX rope (the reference has no other qwen2 path). */
static void test_qwen2_biases(void **state) {
    (void)state;
    hflow_model *m = load_tiny("qwen2", 0);
    assert_int_equal(m->hp.rope_style, HFLOW_ROPE_NEOX);
    assert_non_null(m->layers[1].bq);
    assert_non_null(m->layers[1].bk);
    assert_non_null(m->layers[1].bv);
    assert_true(engine_vs_ref(m) < TOL);
    float *with = engine_logits(m);
    for (int il = 0; il < m->hp.n_layer; il++) m->layers[il].bq = m->layers[il].bk = m->layers[il].bv = NULL;
    assert_true(engine_delta(m, with) > 1e-2);
    assert_true(engine_vs_ref(m) < TOL);
    free(with);
    hflow_model_free(m);
}

/* NEOX and adjacent-pair rope are different rotations of the same weights. */
static void test_neox_differs_from_norm(void **state) {
    (void)state;
    hflow_model *m = load_tiny("qwen2", 0);
    float *neox = engine_logits(m);
    m->hp.rope_style = HFLOW_ROPE_NORM;
    assert_true(engine_delta(m, neox) > 1e-2);
    assert_true(engine_vs_ref(m) < TOL);
    free(neox);
    hflow_model_free(m);
}

/* qwen3: head_dim from attention.key_length (6 != 8 / 2), per-head q/k norms
 * whose weights matter. */
static void test_qwen3_head_dim_and_qk_norm(void **state) {
    (void)state;
    hflow_model *m = load_tiny("qwen3", 6);
    assert_int_equal(m->hp.head_dim, 6);
    assert_int_equal(m->layers[0].wq.rows, 12);
    assert_non_null(m->layers[0].q_norm);
    assert_non_null(m->layers[0].k_norm);
    assert_null(m->layers[0].bq);
    assert_true(engine_vs_ref(m) < TOL);
    float *with = engine_logits(m);
    static const float ones[6] = {1, 1, 1, 1, 1, 1};
    for (int il = 0; il < m->hp.n_layer; il++) m->layers[il].q_norm = m->layers[il].k_norm = ones;
    assert_true(engine_delta(m, with) > 1e-2);
    assert_true(engine_vs_ref(m) < TOL);
    free(with);
    hflow_model_free(m);
}

/* Linear rope scaling (rope.scaling.type "linear", factor 4 in the file)
 * divides positions by the factor: same weights, different logits, and the
 * reference with positions / 4 agrees. */
static void test_linear_rope_scaling(void **state) {
    (void)state;
    hflow_model *plain = load_tiny("qwen2", 0), *m = load_tiny_scaled("qwen2", 0, 4.0f);
    assert_true(plain->hp.rope_freq_scale == 1.0f);
    assert_true(m->hp.rope_freq_scale == 0.25f);
    float *lp = engine_logits(plain);
    assert_true(engine_delta(m, lp) > 1e-3);
    assert_true(engine_vs_ref(m) < TOL);
    free(lp);
    hflow_model_free(plain);
    hflow_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_matches_reference),
        cmocka_unit_test(test_qwen2_biases),
        cmocka_unit_test(test_neox_differs_from_norm),
        cmocka_unit_test(test_qwen3_head_dim_and_qk_norm),
        cmocka_unit_test(test_linear_rope_scaling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
