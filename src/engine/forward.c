/* forward.c - the llama-family forward pass over a batch of tokens.
 *
 * For a chunk of T tokens at positions p0..p0+T-1 (shapes per token):
 *   x[n_embd]  = token_embd[id]
 *   per layer:
 *     xb = rmsnorm(x) * attn_norm
 *     q[n_head*hd], k[n_kv*hd], v[n_kv*hd] = Wq xb, Wk xb, Wv xb  (+ biases, per-head norms: family hooks)
 *     rope(q, k) at the token's position; k, v -> cache row
 *     att = causal grouped-query attention of q over cache rows 0..pos
 *     x += Wo att
 *     xb = rmsnorm(x) * ffn_norm
 *     x += Wdown (silu(Wgate xb) * Wup xb)
 *   logits[n_vocab] = Woutput (rmsnorm(x) * output_norm)  for the rows asked for
 * Weight products go through hflow_matmul with all T tokens at once, so a
 * weight row is read once per chunk rather than once per token; products that
 * share their input (q/k/v, gate/up) run as one fused pool dispatch. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "engine/ggml_compat.h"
#include "engine/ggml_type.h"
#include "engine/ops.h"
#include "engine/quant.h"
#include "engine/session.h"

typedef struct attn_job {
    hflow_session *s;
    int32_t il, n_tok, pos0;
    atomic_int next; /* next (token, head) pair to take */
} attn_job;

/* One (token, head) pair at a time from a shared counter (a dynamic pool job:
 * whichever threads are on a core do the pairs); ith picks the scratch. */
static void attn_worker(void *ctx, int ith, int nth) {
    attn_job *j = ctx;
    (void)nth;
    const hflow_session *s = j->s;
    const hflow_hparams *hp = &s->model->hp;
    int hd = hp->head_dim, q_dim = hp->n_head * hd, group = hp->n_head / hp->n_head_kv;
    float scale = 1.0f / sqrtf((float)hd);
    float *scores = s->sc.scores + (size_t)ith * s->sc.score_stride;
    float *col = scores + ((s->n_ctx + 31) & ~31);
    int ggml = s->numerics == HFLOW_NUMERICS_GGML;
    for (int idx; (idx = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->n_tok * hp->n_head;) {
        int t = idx / hp->n_head, h = idx % hp->n_head, kvh = h / group;
        size_t qoff = (size_t)t * q_dim + (size_t)h * hd;
        size_t stride = (size_t)s->kv.kv_dim, off = (size_t)kvh * hd;
        const void *k = hflow_kv_k(&s->kv, j->il, 0), *v = hflow_kv_v(&s->kv, j->il, 0);
        if (s->kv.type == HFLOW_KV_F16 && ggml)
            hflow_attend_f16_ggml(s->sc.att + qoff, s->sc.q + qoff, (const uint16_t *)k + off,
                                  (const uint16_t *)v + off, stride, j->pos0 + t + 1, hd, scale, scores, col,
                                  j->n_tok >= 2);
        else if (s->kv.type == HFLOW_KV_F16)
            hflow_attend_f16(s->sc.att + qoff, s->sc.q + qoff, (const uint16_t *)k + off, (const uint16_t *)v + off,
                             stride, j->pos0 + t + 1, hd, scale, scores);
        else
            hflow_attend(s->sc.att + qoff, s->sc.q + qoff, (const float *)k + off, (const float *)v + off, stride,
                         j->pos0 + t + 1, hd, scale, scores);
    }
}

static int matmul(hflow_session *s, const hflow_weight *w, const float *x, int32_t n_tok, float *y) {
    if (s->numerics == HFLOW_NUMERICS_GGML)
        return hflow_matmul_ggml(s->model->pool, &s->ws, w->type, w->data, w->rows, w->cols, x, n_tok, y);
    return hflow_matmul(s->model->pool, &s->ws, w->type, w->data, w->rows, w->cols, x, n_tok, y);
}

static void rmsnorm(const hflow_session *s, float *out, const float *x, const float *w, int n) {
    float eps = s->model->hp.norm_eps;
    if (s->numerics == HFLOW_NUMERICS_GGML) hflow_ggml_rmsnorm(out, x, w, n, eps);
    else hflow_rmsnorm(out, x, w, n, eps);
}

static void add_bias(float *y, const float *b, int32_t n_tok, int dim) {
    for (int32_t t = 0; t < n_tok; t++) hflow_vec_add(y + (size_t)t * dim, b, dim);
}

/* Per-head RMSNorm (qwen3's q_norm/k_norm hook). */
static void head_norm(const hflow_session *s, float *y, const float *w, int32_t n_tok, int n_heads, int hd) {
    for (int64_t i = 0; i < (int64_t)n_tok * n_heads; i++) rmsnorm(s, y + i * hd, y + i * hd, w, hd);
}

/* q, k, v projections, family hooks, RoPE, and the cache write. */
static int qkv_project(hflow_session *s, const hflow_layer *l, int32_t il, int32_t n_tok, int32_t pos0) {
    const hflow_hparams *hp = &s->model->hp;
    hflow_scratch *sc = &s->sc;
    int hd = hp->head_dim, q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd;
    int rc;
    if (s->numerics == HFLOW_NUMERICS_GGML) {
        if ((rc = matmul(s, &l->wq, sc->xb, n_tok, sc->q)) || (rc = matmul(s, &l->wk, sc->xb, n_tok, sc->k)) ||
            (rc = matmul(s, &l->wv, sc->xb, n_tok, sc->v)))
            return rc;
    } else {
        hflow_matmul_op ops[3] = {{l->wq.type, l->wq.data, l->wq.rows, sc->q},
                                  {l->wk.type, l->wk.data, l->wk.rows, sc->k},
                                  {l->wv.type, l->wv.data, l->wv.rows, sc->v}};
        if ((rc = hflow_matmul_multi(s->model->pool, &s->ws, ops, 3, l->wq.cols, sc->xb, n_tok))) return rc;
    }
    if (l->bq) add_bias(sc->q, l->bq, n_tok, q_dim);
    if (l->bk) add_bias(sc->k, l->bk, n_tok, kv_dim);
    if (l->bv) add_bias(sc->v, l->bv, n_tok, kv_dim);
    if (l->q_norm) head_norm(s, sc->q, l->q_norm, n_tok, hp->n_head, hd);
    if (l->k_norm) head_norm(s, sc->k, l->k_norm, n_tok, hp->n_head_kv, hd);
    for (int32_t t = 0; t < n_tok; t++) {
        float *q = sc->q + (size_t)t * q_dim, *k = sc->k + (size_t)t * kv_dim;
        if (s->numerics == HFLOW_NUMERICS_GGML) {
            hflow_ggml_rope(q, hp->n_head, hd, hp->n_rot, pos0 + t, hp->rope_theta, hp->rope_freq_scale,
                            hp->rope_style);
            hflow_ggml_rope(k, hp->n_head_kv, hd, hp->n_rot, pos0 + t, hp->rope_theta, hp->rope_freq_scale,
                            hp->rope_style);
        } else {
            const float *cs = sc->rope + (size_t)t * hp->n_rot;
            hflow_rope_apply(q, hp->n_head, hd, hp->n_rot, cs, hp->rope_style);
            hflow_rope_apply(k, hp->n_head_kv, hd, hp->n_rot, cs, hp->rope_style);
        }
        hflow_kv_store(&s->kv, il, pos0 + t, k, sc->v + (size_t)t * kv_dim);
    }
    return 0;
}

static int attention_block(hflow_session *s, const hflow_layer *l, int32_t il, int32_t n_tok, int32_t pos0) {
    const hflow_hparams *hp = &s->model->hp;
    hflow_scratch *sc = &s->sc;
    int n_embd = hp->n_embd;
    for (int32_t t = 0; t < n_tok; t++)
        rmsnorm(s, sc->xb + (size_t)t * n_embd, sc->x + (size_t)t * n_embd, l->attn_norm, n_embd);
    int rc = qkv_project(s, l, il, n_tok, pos0);
    if (rc) return rc;
    attn_job job = {s, il, n_tok, pos0, 0};
    hflow_pool_run_dynamic(s->model->pool, attn_worker, &job);
    if ((rc = matmul(s, &l->wo, sc->att, n_tok, sc->out))) return rc;
    hflow_vec_add(sc->x, sc->out, n_tok * n_embd);
    return 0;
}

/* The FFN sub-layer of rows [first, first+n_tok) of the chunk. */
static int ffn_block(hflow_session *s, const hflow_layer *l, int32_t first, int32_t n_tok) {
    const hflow_hparams *hp = &s->model->hp;
    hflow_scratch *sc = &s->sc;
    int n_embd = hp->n_embd;
    float *x = sc->x + (size_t)first * n_embd;
    for (int32_t t = 0; t < n_tok; t++)
        rmsnorm(s, sc->xb + (size_t)t * n_embd, x + (size_t)t * n_embd, l->ffn_norm, n_embd);
    int rc;
    if (s->numerics == HFLOW_NUMERICS_GGML) {
        if ((rc = matmul(s, &l->w_gate, sc->xb, n_tok, sc->gate)) || (rc = matmul(s, &l->w_up, sc->xb, n_tok, sc->up)))
            return rc;
        hflow_ggml_swiglu(sc->gate, sc->up, n_tok, hp->n_ff);
    } else {
        hflow_matmul_op ops[2] = {{l->w_gate.type, l->w_gate.data, l->w_gate.rows, sc->gate},
                                  {l->w_up.type, l->w_up.data, l->w_up.rows, sc->up}};
        if ((rc = hflow_matmul_multi(s->model->pool, &s->ws, ops, 2, l->w_gate.cols, sc->xb, n_tok))) return rc;
        hflow_swiglu(sc->gate, sc->up, n_tok * hp->n_ff);
    }
    if ((rc = matmul(s, &l->w_down, sc->gate, n_tok, sc->out))) return rc;
    hflow_vec_add(x, sc->out, n_tok * n_embd);
    return 0;
}

static int embed(hflow_session *s, const int32_t *tokens, int32_t n_tok) {
    const hflow_model *m = s->model;
    size_t row = hflow_row_size(m->tok_embd.type, m->tok_embd.cols);
    for (int32_t t = 0; t < n_tok; t++) {
        const char *src = (const char *)m->tok_embd.data + (size_t)tokens[t] * row;
        int rc = hflow_dequantize_row(m->tok_embd.type, src, s->sc.x + (size_t)t * m->hp.n_embd, m->hp.n_embd);
        if (rc) return rc;
    }
    return 0;
}

/* Final norm and output head for rows [first, first+n) of the chunk into out. */
static int output_head(hflow_session *s, int32_t first, int32_t n, float *out) {
    const hflow_model *m = s->model;
    int n_embd = m->hp.n_embd;
    for (int32_t t = 0; t < n; t++)
        rmsnorm(s, s->sc.xb + (size_t)t * n_embd, s->sc.x + (size_t)(first + t) * n_embd, m->output_norm, n_embd);
    return matmul(s, &m->output, s->sc.xb, n, out);
}

/* Final norm only (no output head) of every row of the chunk into hidden:
 * what embeddings pool, without the n_vocab-wide matmul. */
static void output_norm_rows(hflow_session *s, int32_t n, float *hidden) {
    const hflow_model *m = s->model;
    int n_embd = m->hp.n_embd;
    for (int32_t t = 0; t < n; t++)
        rmsnorm(s, hidden + (size_t)t * n_embd, s->sc.x + (size_t)t * n_embd, m->output_norm, n_embd);
}

/* After the last layer's attention only the rows whose logits are wanted
 * matter, so its FFN runs on those alone (as llama.cpp prunes to its output
 * rows there: which also decides its summation order for them). When hidden
 * states are wanted every row is needed, so the FFN runs on all of them. */
static int forward_chunk(hflow_session *s, const int32_t *tokens, int32_t n_tok, int32_t pos0, float *logits,
                         int logits_rows, float *hidden) {
    const hflow_model *m = s->model;
    int rc = embed(s, tokens, n_tok);
    for (int32_t t = 0; t < n_tok; t++) /* positions are shared by q, k and every layer */
        hflow_rope_table(s->sc.rope + (size_t)t * m->hp.n_rot, m->hp.n_rot, pos0 + t, m->hp.rope_theta,
                         m->hp.rope_freq_scale);
    for (int32_t il = 0; !rc && il < m->hp.n_layer; il++) {
        rc = attention_block(s, &m->layers[il], il, n_tok, pos0);
        int last = il == m->hp.n_layer - 1 && !hidden;
        if (!rc && !(last && logits_rows == 0))
            rc = last ? ffn_block(s, &m->layers[il], n_tok - logits_rows, logits_rows)
                      : ffn_block(s, &m->layers[il], 0, n_tok);
    }
    if (!rc && hidden) output_norm_rows(s, n_tok, hidden);
    if (!rc && logits_rows) rc = output_head(s, n_tok - logits_rows, logits_rows, logits);
    return rc;
}

int hflow_forward(hflow_session *s, const int32_t *tokens, int32_t n, int logits_mode, float *hidden,
                  hflow_error *err) {
    int32_t n_vocab = s->model->hp.n_vocab;
    for (int32_t done = 0; done < n;) {
        int32_t n_tok = n - done < HFLOW_UBATCH ? n - done : HFLOW_UBATCH;
        int last_chunk = done + n_tok == n;
        float *logits = NULL;
        int rows = 0;
        if (logits_mode == HFLOW_LOGITS_ALL) {
            logits = s->logits + (size_t)done * n_vocab;
            rows = n_tok;
        } else if (logits_mode == HFLOW_LOGITS_LAST && last_chunk) {
            logits = s->logits;
            rows = 1;
        }
        float *h = hidden ? hidden + (size_t)done * s->model->hp.n_embd : NULL;
        int rc = forward_chunk(s, tokens + done, n_tok, s->n_past + done, logits, rows, h);
        if (rc == HFLOW_ENOMEM) return hflow_error_set(err, rc, "out of memory in the forward pass");
        if (rc) return hflow_error_set(err, rc, "forward pass failed (%s)", hflow_status_name(rc));
        done += n_tok;
    }
    return 0;
}
