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

#include "engine/attend_rows.h"
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

/* Tokens per block of query rows: with the GQA group's heads, about 12 rows
 * share each pass over a KV head's cache rows (attend_rows.h). */
static int block_tokens(int group) { return group >= HFLOW_ATTN_BLOCK_ROWS ? 1 : HFLOW_ATTN_BLOCK_ROWS / group; }

/* F16 cache, default numerics: work items are (KV head, block of tokens),
 * KV-head-major so that a thread's consecutive items read the same KV head's
 * cache rows while they are in its caches. */
static void attn_rows_worker(void *ctx, int ith, int nth) {
    attn_job *j = ctx;
    (void)nth;
    const hflow_session *s = j->s;
    const hflow_hparams *hp = &s->model->hp;
    int hd = hp->head_dim, q_dim = hp->n_head * hd, group = hp->n_head / hp->n_head_kv;
    int bt = block_tokens(group), n_blocks = (j->n_tok + bt - 1) / bt;
    float scale = 1.0f / sqrtf((float)hd);
    hflow_attn_block b;
    hflow_attn_block_init(&b, s->sc.attn_mem + (size_t)ith * s->sc.attn_stride, s->n_ctx, hd, bt * group);
    const float *q[HFLOW_ATTN_MAX_ROWS];
    float *out[HFLOW_ATTN_MAX_ROWS];
    int n_kv[HFLOW_ATTN_MAX_ROWS];
    for (;;) { /* items from the shared counter: a dynamic pool job, like attn_worker */
        int idx = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (idx >= hp->n_head_kv * n_blocks) break;
        int kvh = idx / n_blocks, t0 = idx % n_blocks * bt, n_rows = 0;
        for (int t = t0; t < t0 + bt && t < j->n_tok; t++)
            for (int g = 0; g < group; g++, n_rows++) {
                size_t off = (size_t)t * q_dim + (size_t)(kvh * group + g) * hd;
                q[n_rows] = s->sc.q + off;
                out[n_rows] = s->sc.att + off;
                n_kv[n_rows] = j->pos0 + t + 1;
            }
        hflow_kv_head h = {
            .k = (const uint16_t *)hflow_kv_k(&s->kv, j->il, 0) + (size_t)kvh * hd,
            .v = (const uint16_t *)hflow_kv_v(&s->kv, j->il, 0) + (size_t)kvh * hd,
            .kt = hflow_kv_kt(&s->kv, j->il, kvh),
            .stride = (size_t)s->kv.kv_dim,
        };
        hflow_attend_f16_rows(&b, &h, n_rows, q, out, n_kv, scale);
    }
}

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

/* rows consecutive rows of n: the same per row as rmsnorm(). */
static void rmsnorm_rows(const hflow_session *s, float *out, const float *x, const float *w, int n, int32_t rows) {
    if (s->numerics != HFLOW_NUMERICS_GGML) {
        hflow_rmsnorm_rows(out, x, w, n, rows, s->model->hp.norm_eps);
        return;
    }
    for (int32_t t = 0; t < rows; t++) rmsnorm(s, out + (size_t)t * n, x + (size_t)t * n, w, n);
}

static void add_bias(float *y, const float *b, int32_t n_tok, int dim) {
    for (int32_t t = 0; t < n_tok; t++) hflow_vec_add(y + (size_t)t * dim, b, dim);
}

/* Per-head RMSNorm (qwen3's q_norm/k_norm hook). */
static void head_norm(const hflow_session *s, float *y, const float *w, int32_t n_tok, int n_heads, int hd) {
    for (int64_t i = 0; i < (int64_t)n_tok * n_heads; i++) rmsnorm(s, y + i * hd, y + i * hd, w, hd);
}

/* Per-token work between the matmuls (norms, RoPE, cache writes, SwiGLU,
 * residual adds), split over the pool's threads in contiguous token ranges
 * [t0, t1) of the rows [first, first+n_tok) of the chunk: every token's
 * arithmetic is the same whichever thread runs it. */
typedef struct tok_job tok_job;
struct tok_job {
    hflow_session *s;
    const hflow_layer *l;
    int32_t il, pos0, first, n_tok;
    void (*fn)(const tok_job *j, int32_t t0, int32_t t1);
};

static void tok_worker(void *ctx, int ith, int nth) {
    const tok_job *j = ctx;
    int32_t per = (j->n_tok + nth - 1) / nth, t0 = ith * per, t1 = t0 + per < j->n_tok ? t0 + per : j->n_tok;
    if (t0 < t1) j->fn(j, t0, t1);
}

/* Fewer tokens than this run on the calling thread: a few microseconds of
 * work do not pay for a pool dispatch (one-token decode would pay six per layer). */
#define TOK_PAR_MIN 16

static void run_tokens(hflow_session *s, const hflow_layer *l, int32_t il, int32_t pos0, int32_t first,
                       int32_t n_tok, void (*fn)(const tok_job *, int32_t, int32_t)) {
    tok_job j = {s, l, il, pos0, first, n_tok, fn};
    if (n_tok < TOK_PAR_MIN) fn(&j, 0, n_tok);
    else hflow_pool_run(s->model->pool, tok_worker, &j);
}

static void attn_norm_rows(const tok_job *j, int32_t t0, int32_t t1) {
    hflow_scratch *sc = &j->s->sc;
    int n = j->s->model->hp.n_embd;
    rmsnorm_rows(j->s, sc->xb + (size_t)t0 * n, sc->x + (size_t)t0 * n, j->l->attn_norm, n, t1 - t0);
}

static void ffn_norm_rows(const tok_job *j, int32_t t0, int32_t t1) {
    hflow_scratch *sc = &j->s->sc;
    int n = j->s->model->hp.n_embd;
    rmsnorm_rows(j->s, sc->xb + (size_t)t0 * n, sc->x + (size_t)(j->first + t0) * n, j->l->ffn_norm, n, t1 - t0);
}

/* x += the sub-layer output (attention: all rows; FFN: rows from first). */
static void residual_rows(const tok_job *j, int32_t t0, int32_t t1) {
    hflow_scratch *sc = &j->s->sc;
    int n = j->s->model->hp.n_embd;
    hflow_vec_add(sc->x + (size_t)(j->first + t0) * n, sc->out + (size_t)t0 * n, (t1 - t0) * n);
}

/* One call per token, so a batch rounds every row as one-token decode does. */
static void swiglu_rows(const tok_job *j, int32_t t0, int32_t t1) {
    hflow_scratch *sc = &j->s->sc;
    int n_ff = j->s->model->hp.n_ff;
    for (int32_t t = t0; t < t1; t++) {
        size_t off = (size_t)t * n_ff;
        if (j->s->numerics == HFLOW_NUMERICS_GGML) hflow_ggml_swiglu(sc->gate + off, sc->up + off, 1, n_ff);
        else hflow_swiglu(sc->gate + off, sc->up + off, n_ff);
    }
}

/* Biases, per-head norms, RoPE and the cache write of tokens [t0, t1). */
static void qkv_rows(const tok_job *j, int32_t t0, int32_t t1) {
    hflow_session *s = j->s;
    const hflow_layer *l = j->l;
    const hflow_hparams *hp = &s->model->hp;
    hflow_scratch *sc = &s->sc;
    int hd = hp->head_dim, q_dim = hp->n_head * hd, kv_dim = hp->n_head_kv * hd;
    float *q0 = sc->q + (size_t)t0 * q_dim, *k0 = sc->k + (size_t)t0 * kv_dim, *v0 = sc->v + (size_t)t0 * kv_dim;
    int32_t n = t1 - t0;
    if (l->bq) add_bias(q0, l->bq, n, q_dim);
    if (l->bk) add_bias(k0, l->bk, n, kv_dim);
    if (l->bv) add_bias(v0, l->bv, n, kv_dim);
    if (l->q_norm) head_norm(s, q0, l->q_norm, n, hp->n_head, hd);
    if (l->k_norm) head_norm(s, k0, l->k_norm, n, hp->n_head_kv, hd);
    for (int32_t t = t0; t < t1; t++) {
        float *q = sc->q + (size_t)t * q_dim, *k = sc->k + (size_t)t * kv_dim;
        int32_t pos = j->pos0 + t;
        if (s->numerics == HFLOW_NUMERICS_GGML) {
            hflow_ggml_rope(q, hp->n_head, hd, hp->n_rot, pos, hp->rope_theta, hp->rope_freq_scale, hp->rope_style);
            hflow_ggml_rope(k, hp->n_head_kv, hd, hp->n_rot, pos, hp->rope_theta, hp->rope_freq_scale,
                            hp->rope_style);
        } else {
            const float *cs = sc->rope + (size_t)t * hp->n_rot;
            hflow_rope_apply(q, hp->n_head, hd, hp->n_rot, cs, hp->rope_style);
            hflow_rope_apply(k, hp->n_head_kv, hd, hp->n_rot, cs, hp->rope_style);
        }
        hflow_kv_store(&s->kv, j->il, pos, k, sc->v + (size_t)t * kv_dim);
    }
}

/* q, k, v projections, family hooks, RoPE, and the cache write. */
static int qkv_project(hflow_session *s, const hflow_layer *l, int32_t il, int32_t n_tok, int32_t pos0) {
    hflow_scratch *sc = &s->sc;
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
    run_tokens(s, l, il, pos0, 0, n_tok, qkv_rows);
    return 0;
}

static int attention_block(hflow_session *s, const hflow_layer *l, int32_t il, int32_t n_tok, int32_t pos0) {
    hflow_scratch *sc = &s->sc;
    run_tokens(s, l, il, pos0, 0, n_tok, attn_norm_rows);
    int rc = qkv_project(s, l, il, n_tok, pos0);
    if (rc) return rc;
    attn_job job = {s, il, n_tok, pos0, 0};
    int rows = s->kv.type == HFLOW_KV_F16 && s->numerics != HFLOW_NUMERICS_GGML && s->sc.attn_mem;
    hflow_pool_run_dynamic(s->model->pool, rows ? attn_rows_worker : attn_worker, &job);
    if ((rc = matmul(s, &l->wo, sc->att, n_tok, sc->out))) return rc;
    run_tokens(s, l, il, pos0, 0, n_tok, residual_rows);
    return 0;
}

/* The FFN sub-layer of rows [first, first+n_tok) of the chunk. */
static int ffn_block(hflow_session *s, const hflow_layer *l, int32_t first, int32_t n_tok) {
    hflow_scratch *sc = &s->sc;
    run_tokens(s, l, 0, 0, first, n_tok, ffn_norm_rows);
    int rc;
    if (s->numerics == HFLOW_NUMERICS_GGML) {
        if ((rc = matmul(s, &l->w_gate, sc->xb, n_tok, sc->gate)) || (rc = matmul(s, &l->w_up, sc->xb, n_tok, sc->up)))
            return rc;
    } else {
        hflow_matmul_op ops[2] = {{l->w_gate.type, l->w_gate.data, l->w_gate.rows, sc->gate},
                                  {l->w_up.type, l->w_up.data, l->w_up.rows, sc->up}};
        if ((rc = hflow_matmul_multi(s->model->pool, &s->ws, ops, 2, l->w_gate.cols, sc->xb, n_tok))) return rc;
    }
    run_tokens(s, l, 0, 0, first, n_tok, swiglu_rows);
    if ((rc = matmul(s, &l->w_down, sc->gate, n_tok, sc->out))) return rc;
    run_tokens(s, l, 0, 0, first, n_tok, residual_rows);
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
    rmsnorm_rows(s, s->sc.xb, s->sc.x + (size_t)first * n_embd, m->output_norm, n_embd, n);
    return matmul(s, &m->output, s->sc.xb, n, out);
}

/* Final norm only (no output head) of every row of the chunk into hidden:
 * what embeddings pool, without the n_vocab-wide matmul. */
static void output_norm_rows(hflow_session *s, int32_t n, float *hidden) {
    const hflow_model *m = s->model;
    int n_embd = m->hp.n_embd;
    rmsnorm_rows(s, hidden, s->sc.x, m->output_norm, n_embd, n);
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
