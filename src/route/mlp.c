/* mlp.c - the router's small fully connected network, n_in -> hidden -> n_out.
 *
 * More than one output (size[n_hidden+1] > 1) serves the "tiers" head of
 * train.c: per-tier (and auxiliary) correctness logits from one shared body.
 *
 * The input is mostly hashed text, so a sample has a few hundred non-zeros
 * out of thousands of inputs. Layer-0 weights are stored input-major: each
 * non-zero adds one contiguous row of size[1] weights, and a decision costs
 * (non-zeros + dense) x size[1] multiply-adds plus the small upper layers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "route/mlp_internal.h"

size_t hflow_mlp_layer_w(const hflow_mlp *m, uint32_t l) { return (size_t)m->size[l] * m->size[l + 1]; }

size_t hflow_mlp_n_params(const hflow_mlp *m) {
    size_t n = 0;
    for (uint32_t l = 0; l <= m->n_hidden; l++) n += hflow_mlp_layer_w(m, l) + m->size[l + 1];
    return n;
}

void hflow_mlp_free(hflow_mlp *m) {
    if (!m) return;
    for (uint32_t l = 0; l <= HFLOW_ROUTER_MAX_HIDDEN; l++) {
        free(m->w[l]);
        free(m->b[l]);
        m->w[l] = m->b[l] = NULL;
    }
}

static int alloc_layers(hflow_mlp *m) {
    for (uint32_t l = 0; l <= m->n_hidden; l++) {
        m->w[l] = calloc(hflow_mlp_layer_w(m, l), sizeof(float));
        m->b[l] = calloc(m->size[l + 1], sizeof(float));
        if (!m->w[l] || !m->b[l]) return -1;
    }
    return 0;
}

/* splitmix64: small, seedable, no global state. */
static uint64_t next_rand(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int hflow_mlp_init(hflow_mlp *m, uint32_t n_in, uint32_t n_hidden, const uint32_t *hidden, int act, uint64_t seed,
                   hflow_error *err) {
    return hflow_mlp_init_n(m, n_in, n_hidden, hidden, 1, act, seed, err);
}

int hflow_mlp_init_n(hflow_mlp *m, uint32_t n_in, uint32_t n_hidden, const uint32_t *hidden, uint32_t n_out, int act,
                     uint64_t seed, hflow_error *err) {
    memset(m, 0, sizeof *m);
    if (n_in < 1 || n_hidden > HFLOW_ROUTER_MAX_HIDDEN || (act != HFLOW_ACT_RELU && act != HFLOW_ACT_GELU) ||
        n_out < 1 || n_out > HFLOW_MLP_MAX_WIDTH)
        return hflow_error_set(err, HFLOW_EINVAL, "mlp: bad shape (n_in %u, %u hidden layers, %u outputs, act %d)",
                               n_in, n_hidden, n_out, act);
    m->n_in = n_in;
    m->n_hidden = n_hidden;
    m->act = act;
    m->size[0] = n_in;
    for (uint32_t l = 0; l < n_hidden; l++) {
        if (hidden[l] < 1 || hidden[l] > HFLOW_MLP_MAX_WIDTH)
            return hflow_error_set(err, HFLOW_EINVAL, "mlp: hidden width %u not in [1, %d]", hidden[l],
                                   HFLOW_MLP_MAX_WIDTH);
        m->size[l + 1] = hidden[l];
    }
    m->size[n_hidden + 1] = n_out;
    if (alloc_layers(m) != 0) {
        hflow_mlp_free(m);
        return hflow_error_set(err, HFLOW_ENOMEM, "mlp: out of memory");
    }
    /* He-uniform on fan-in; layer 0's fan-in is the typical number of
     * non-zeros (~ a few hundred), not n_in, since inputs are sparse. */
    uint64_t s = seed ^ 0x6a09e667f3bcc909ull;
    for (uint32_t l = 0; l <= n_hidden; l++) {
        double fan = l == 0 ? (n_in < 256 ? n_in : 256) : m->size[l];
        double lim = sqrt(6.0 / fan) * (l == n_hidden ? 0.5 : 1.0);
        size_t nw = hflow_mlp_layer_w(m, l);
        for (size_t i = 0; i < nw; i++)
            m->w[l][i] = (float)(((double)(next_rand(&s) >> 11) / 9007199254740992.0 * 2.0 - 1.0) * lim);
    }
    return 0;
}

static float act_f(int act, float z) {
    if (act == HFLOW_ACT_RELU) return z > 0 ? z : 0;
    const float k = 0.7978845608f; /* sqrt(2/pi): tanh form of GELU */
    return 0.5f * z * (1.0f + tanhf(k * (z + 0.044715f * z * z * z)));
}

static float act_df(int act, float z) {
    if (act == HFLOW_ACT_RELU) return z > 0 ? 1.0f : 0.0f;
    const float k = 0.7978845608f;
    float t = tanhf(k * (z + 0.044715f * z * z * z));
    return 0.5f * (1.0f + t) + 0.5f * z * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * z * z);
}

/* Layer 0 pre-activations from the sparse + dense input. */
static void layer0(const hflow_mlp *m, const hflow_router_fvec *x, float *z) {
    const uint32_t h = m->size[1], H = m->n_in - x->n_dense;
    memcpy(z, m->b[0], h * sizeof *z);
    for (uint32_t i = 0; i < x->n_sparse; i++) {
        const float *row = m->w[0] + (size_t)x->idx[i] * h;
        const float v = x->val[i];
        for (uint32_t o = 0; o < h; o++) z[o] += v * row[o];
    }
    for (uint32_t j = 0; j < x->n_dense; j++) {
        const float v = x->dense[j];
        if (v == 0.0f) continue;
        const float *row = m->w[0] + (size_t)(H + j) * h;
        for (uint32_t o = 0; o < h; o++) z[o] += v * row[o];
    }
}

/* Dense layer l: out = b + in . W (input-major W). */
static void dense_layer(const hflow_mlp *m, uint32_t l, const float *in, float *out) {
    const uint32_t ni = m->size[l], no = m->size[l + 1];
    memcpy(out, m->b[l], no * sizeof *out);
    for (uint32_t i = 0; i < ni; i++) {
        const float v = in[i];
        const float *row = m->w[l] + (size_t)i * no;
        for (uint32_t o = 0; o < no; o++) out[o] += v * row[o];
    }
}

void hflow_mlp_forward_all(const hflow_mlp *m, const hflow_router_fvec *x, float *out) {
    float bufa[HFLOW_MLP_MAX_WIDTH], bufb[HFLOW_MLP_MAX_WIDTH];
    float *cur = bufa, *nxt = bufb;
    if (m->n_hidden == 0) {
        layer0(m, x, out);
        return;
    }
    layer0(m, x, cur);
    for (uint32_t o = 0; o < m->size[1]; o++) cur[o] = act_f(m->act, cur[o]);
    for (uint32_t l = 1; l <= m->n_hidden; l++) {
        float *dst = l == m->n_hidden ? out : nxt;
        dense_layer(m, l, cur, dst);
        if (l < m->n_hidden)
            for (uint32_t o = 0; o < m->size[l + 1]; o++) nxt[o] = act_f(m->act, nxt[o]);
        float *t = cur; cur = nxt; nxt = t;
    }
}

float hflow_mlp_forward(const hflow_mlp *m, const hflow_router_fvec *x) {
    float out[HFLOW_MLP_MAX_WIDTH];
    hflow_mlp_forward_all(m, x, out);
    return out[0];
}

/* ---- training-time helpers ---- */

int hflow_mlp_cache_init(hflow_mlp_cache *c, const hflow_mlp *m) {
    c->n = 0;
    for (uint32_t l = 1; l <= m->n_hidden; l++) c->n += m->size[l];
    c->z = calloc(c->n + 1, sizeof *c->z);
    c->a = calloc(c->n + 1, sizeof *c->a);
    return c->z && c->a ? 0 : -1;
}

void hflow_mlp_cache_free(hflow_mlp_cache *c) {
    free(c->z);
    free(c->a);
    c->z = c->a = NULL;
}

float hflow_mlp_forward_cached(const hflow_mlp *m, const hflow_router_fvec *x, hflow_mlp_cache *c) {
    float out[HFLOW_MLP_MAX_WIDTH];
    hflow_mlp_forward_cached_all(m, x, c, out);
    return out[0];
}

void hflow_mlp_forward_cached_all(const hflow_mlp *m, const hflow_router_fvec *x, hflow_mlp_cache *c, float *out) {
    if (m->n_hidden == 0) {
        layer0(m, x, out);
        return;
    }
    layer0(m, x, c->z);
    size_t off = 0;
    for (uint32_t l = 1; l <= m->n_hidden; l++) {
        const uint32_t n = m->size[l];
        if (l > 1) dense_layer(m, l - 1, c->a + off - m->size[l - 1], c->z + off);
        for (uint32_t o = 0; o < n; o++) c->a[off + o] = act_f(m->act, c->z[off + o]);
        off += n;
    }
    dense_layer(m, m->n_hidden, c->a + off - m->size[m->n_hidden], out);
}

void hflow_mlp_backward(const hflow_mlp *m, const hflow_router_fvec *x, const hflow_mlp_cache *c, float g,
                        hflow_mlp *grads, float *tmp) {
    hflow_mlp_backward_all(m, x, c, &g, grads, tmp);
}

void hflow_mlp_backward_all(const hflow_mlp *m, const hflow_router_fvec *x, const hflow_mlp_cache *c, const float *g,
                            hflow_mlp *grads, float *tmp) {
    float *d = tmp, *dn = tmp + HFLOW_MLP_MAX_WIDTH; /* d = dL/d(output of layer l) */
    uint32_t L = m->n_hidden;
    memcpy(d, g, m->size[L + 1] * sizeof *d);
    size_t off = c->n;
    for (uint32_t l = L; l >= 1; l--) {
        const uint32_t ni = m->size[l], no = m->size[l + 1];
        off -= ni;
        const float *a = c->a + off;
        for (uint32_t o = 0; o < no; o++) grads->b[l][o] += d[o];
        for (uint32_t i = 0; i < ni; i++) {
            const float *row = m->w[l] + (size_t)i * no;
            float *grow = grads->w[l] + (size_t)i * no;
            float s = 0;
            for (uint32_t o = 0; o < no; o++) {
                grow[o] += a[i] * d[o];
                s += row[o] * d[o];
            }
            dn[i] = s * act_df(m->act, c->z[off + i]);
        }
        float *t = d; d = dn; dn = t;
    }
    const uint32_t h = m->size[1], H = m->n_in - x->n_dense;
    for (uint32_t o = 0; o < h; o++) grads->b[0][o] += d[o];
    for (uint32_t i = 0; i < x->n_sparse; i++) {
        float *grow = grads->w[0] + (size_t)x->idx[i] * h;
        for (uint32_t o = 0; o < h; o++) grow[o] += x->val[i] * d[o];
    }
    for (uint32_t j = 0; j < x->n_dense; j++) {
        if (x->dense[j] == 0.0f) continue;
        float *grow = grads->w[0] + (size_t)(H + j) * h;
        for (uint32_t o = 0; o < h; o++) grow[o] += x->dense[j] * d[o];
    }
}

int hflow_mlp_zeros_like(hflow_mlp *dst, const hflow_mlp *src, hflow_error *err) {
    memset(dst, 0, sizeof *dst);
    dst->n_in = src->n_in;
    dst->n_hidden = src->n_hidden;
    dst->act = src->act;
    memcpy(dst->size, src->size, sizeof dst->size);
    if (alloc_layers(dst) != 0) {
        hflow_mlp_free(dst);
        return hflow_error_set(err, HFLOW_ENOMEM, "mlp: out of memory");
    }
    return 0;
}

void hflow_mlp_zero(hflow_mlp *m) {
    for (uint32_t l = 0; l <= m->n_hidden; l++) {
        memset(m->w[l], 0, hflow_mlp_layer_w(m, l) * sizeof(float));
        memset(m->b[l], 0, m->size[l + 1] * sizeof(float));
    }
}

int hflow_mlp_copy(hflow_mlp *dst, const hflow_mlp *src) {
    if (dst->n_hidden != src->n_hidden || memcmp(dst->size, src->size, sizeof dst->size)) return -1;
    for (uint32_t l = 0; l <= src->n_hidden; l++) {
        memcpy(dst->w[l], src->w[l], hflow_mlp_layer_w(src, l) * sizeof(float));
        memcpy(dst->b[l], src->b[l], src->size[l + 1] * sizeof(float));
    }
    return 0;
}

int hflow_mlp_ensemble(const hflow_mlp *mem, uint32_t k, hflow_mlp *out, hflow_error *err) {
    memset(out, 0, sizeof *out);
    const hflow_mlp *m0 = &mem[0];
    for (uint32_t j = 1; j < k; j++)
        if (mem[j].n_hidden != m0->n_hidden || memcmp(mem[j].size, m0->size, sizeof m0->size) || mem[j].act != m0->act)
            return hflow_error_set(err, HFLOW_EINVAL, "mlp ensemble: members differ in shape");
    if (k < 1 || m0->n_hidden > 1 || (uint64_t)k * m0->size[1] > HFLOW_MLP_MAX_WIDTH)
        return hflow_error_set(err, HFLOW_EINVAL, "mlp ensemble: needs <= 1 hidden layer and k x width <= %d",
                               HFLOW_MLP_MAX_WIDTH);
    const uint32_t n_out = m0->size[m0->n_hidden + 1], h = m0->size[1], H = k * h;
    int rc = m0->n_hidden == 0 ? hflow_mlp_zeros_like(out, m0, err)
                               : hflow_mlp_init_n(out, m0->n_in, 1, &H, n_out, m0->act, 0, err);
    if (rc) return rc;
    const float inv = 1.0f / (float)k;
    if (m0->n_hidden == 0) { /* linear members: the mean of the weights */
        for (uint32_t j = 0; j < k; j++) {
            for (size_t i = 0; i < hflow_mlp_layer_w(m0, 0); i++) out->w[0][i] += mem[j].w[0][i] * inv;
            for (uint32_t o = 0; o < n_out; o++) out->b[0][o] += mem[j].b[0][o] * inv;
        }
        return 0;
    }
    /* Member j's hidden units become units [j h, (j+1) h) of one wide layer;
     * the output layer averages: out = (1/k) sum_j (b_j + a_j . W_j). */
    memset(out->b[1], 0, n_out * sizeof(float));
    for (uint32_t j = 0; j < k; j++) {
        const hflow_mlp *mj = &mem[j];
        for (uint32_t i = 0; i < m0->n_in; i++)
            memcpy(out->w[0] + (size_t)i * H + (size_t)j * h, mj->w[0] + (size_t)i * h, h * sizeof(float));
        memcpy(out->b[0] + (size_t)j * h, mj->b[0], h * sizeof(float));
        for (uint32_t u = 0; u < h; u++)
            for (uint32_t o = 0; o < n_out; o++)
                out->w[1][((size_t)j * h + u) * n_out + o] = mj->w[1][(size_t)u * n_out + o] * inv;
        for (uint32_t o = 0; o < n_out; o++) out->b[1][o] += mj->b[1][o] * inv;
    }
    return 0;
}
