/* ops.c - RMSNorm, RoPE, softmax, SwiGLU and single-head attention: the
 * scalar references, and the entry points that pick the AVX2 versions
 * (ops_avx2.c) when the CPU has them. */
#include "engine/ops.h"

#include <math.h>

#include "base/cpu.h"
#include "engine/model.h"

#if defined(__x86_64__) || defined(_M_X64)
#define HAVE_AVX2_OPS 1
#else
#define HAVE_AVX2_OPS 0
#endif

void hflow_rmsnorm_ref(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0.0; /* double: the sum of squares of a wide row loses bits in f32 */
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * (w ? w[i] : 1.0f);
}

void hflow_rope_table(float *cs, int n_rot, int32_t pos, float theta_base, float freq_scale) {
    /* the angle stepping of hflow_rope below, so table + apply equals it bit for bit */
    float theta_scale = powf(theta_base, -2.0f / (float)n_rot), theta = (float)pos * freq_scale;
    for (int i = 0; i < n_rot / 2; i++, theta *= theta_scale) {
        cs[2 * i] = cosf(theta);
        cs[2 * i + 1] = sinf(theta);
    }
}

void hflow_rope_apply_ref(float *x, int n_heads, int head_dim, int n_rot, const float *cs, int style) {
    int half = n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *hx = x + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            float c = cs[2 * i], s = cs[2 * i + 1];
            int a = style == HFLOW_ROPE_NEOX ? i : 2 * i;
            int b = style == HFLOW_ROPE_NEOX ? i + half : 2 * i + 1;
            float x0 = hx[a], x1 = hx[b];
            hx[a] = x0 * c - x1 * s;
            hx[b] = x0 * s + x1 * c;
        }
    }
}

void hflow_rope(float *x, int n_heads, int head_dim, int n_rot, int32_t pos, float theta_base, float freq_scale,
                int style) {
    int half = n_rot / 2;
    /* theta_i = pos * base^(-2i/n_rot), stepped in f32 as ggml steps it: the
     * K cache is rounded to F16 afterwards, so angles that differ in the last
     * f32 bits flip roundings and move llama.cpp-compared logits by ~1e-3. */
    float theta_scale = powf(theta_base, -2.0f / (float)n_rot), theta = (float)pos * freq_scale;
    for (int i = 0; i < half; i++, theta *= theta_scale) {
        float c = cosf(theta), s = sinf(theta);
        for (int h = 0; h < n_heads; h++) {
            float *hx = x + (size_t)h * head_dim;
            int a = style == HFLOW_ROPE_NEOX ? i : 2 * i;
            int b = style == HFLOW_ROPE_NEOX ? i + half : 2 * i + 1;
            float x0 = hx[a], x1 = hx[b];
            hx[a] = x0 * c - x1 * s;
            hx[b] = x0 * s + x1 * c;
        }
    }
}

void hflow_softmax_ref(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max) max = x[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void hflow_swiglu_ref(float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void hflow_vec_add_ref(float *y, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += x[i];
}

void hflow_attend_ref(float *out, const float *q, const float *k, const float *v, size_t stride, int n_kv,
                      int head_dim, float scale, float *scores) {
    for (int j = 0; j < n_kv; j++) {
        const float *kj = k + (size_t)j * stride;
        float dot = 0.0f;
        for (int d = 0; d < head_dim; d++) dot += q[d] * kj[d];
        scores[j] = dot * scale;
    }
    hflow_softmax_ref(scores, n_kv);
    for (int d = 0; d < head_dim; d++) out[d] = 0.0f;
    for (int j = 0; j < n_kv; j++) {
        const float *vj = v + (size_t)j * stride;
        float p = scores[j];
        for (int d = 0; d < head_dim; d++) out[d] += p * vj[d];
    }
}

/* ---- dispatch ---- */

static int simd(void) { return HAVE_AVX2_OPS && hflow_cpu_has_avx2_fma_f16c(); }

#if HAVE_AVX2_OPS
#define PICK(avx2_call, ref_call) \
    do {                          \
        if (simd()) avx2_call;    \
        else ref_call;            \
    } while (0)
#else
#define PICK(avx2_call, ref_call) ref_call
#endif

void hflow_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    PICK(hflow_rmsnorm_avx2(out, x, w, n, eps), hflow_rmsnorm_ref(out, x, w, n, eps));
}
#if HAVE_AVX2_OPS
/* The AVX-512 softmax and SwiGLU equal the AVX2 ones bit for bit: wider, same results. */
static int avx512(void) { return hflow_cpu_has_avx512(); }
#endif

void hflow_rmsnorm_rows(float *out, const float *x, const float *w, int n, int n_rows, float eps) {
#if HAVE_AVX2_OPS
    if (simd()) {
        hflow_rmsnorm_rows_avx2(out, x, w, n, n_rows, eps);
        return;
    }
#endif
    for (int r = 0; r < n_rows; r++) hflow_rmsnorm_ref(out + (size_t)r * n, x + (size_t)r * n, w, n, eps);
}

void hflow_rope_apply(float *x, int n_heads, int head_dim, int n_rot, const float *cs, int style) {
    PICK(hflow_rope_apply_avx2(x, n_heads, head_dim, n_rot, cs, style == HFLOW_ROPE_NEOX),
         hflow_rope_apply_ref(x, n_heads, head_dim, n_rot, cs, style));
}

void hflow_vec_add(float *y, const float *x, int n) { PICK(hflow_vec_add_avx2(y, x, n), hflow_vec_add_ref(y, x, n)); }

void hflow_softmax(float *x, int n) {
#if HAVE_AVX2_OPS
    if (avx512()) {
        hflow_softmax_avx512(x, n);
        return;
    }
#endif
    PICK(hflow_softmax_avx2(x, n), hflow_softmax_ref(x, n));
}
void hflow_swiglu(float *gate, const float *up, int n) {
#if HAVE_AVX2_OPS
    if (avx512()) {
        hflow_swiglu_avx512(gate, up, n);
        return;
    }
#endif
    PICK(hflow_swiglu_avx2(gate, up, n), hflow_swiglu_ref(gate, up, n));
}
void hflow_attend(float *out, const float *q, const float *k, const float *v, size_t stride, int n_kv, int head_dim,
                  float scale, float *scores) {
    PICK(hflow_attend_avx2(out, q, k, v, stride, n_kv, head_dim, scale, scores),
         hflow_attend_ref(out, q, k, v, stride, n_kv, head_dim, scale, scores));
}
int hflow_ops_impl_is_simd(void) { return simd(); }
