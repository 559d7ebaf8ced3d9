/* session.c - sessions: creation, decode (checks, then forward), truncate,
 * logits access and prefix matching.
 *
 * Decode validates everything that can be rejected (ids, context room)
 * before the forward pass touches the cache, so a rejected call leaves the
 * session exactly as it was. n_past and the token list advance only after the
 * forward pass succeeds. */
#include <stdlib.h>
#include <string.h>

#include "engine/session.h"
#include "base/cpu.h"
#include "engine/attend_rows.h"

#define DEFAULT_MAX_CTX 4096

static int scratch_init(hflow_scratch *sc, const hflow_hparams *hp, int n_threads, int32_t n_ctx) {
    size_t q_dim = (size_t)hp->n_head * hp->head_dim, kv_dim = (size_t)hp->n_head_kv * hp->head_dim;
    size_t per_tok = 3 * (size_t)hp->n_embd + 2 * q_dim + 2 * kv_dim + 2 * (size_t)hp->n_ff + (size_t)hp->n_rot;
    sc->score_stride = 2 * (((size_t)n_ctx + 31) & ~(size_t)31) + (size_t)hp->head_dim;
    size_t bytes = (per_tok * HFLOW_UBATCH + (size_t)n_threads * sc->score_stride) * sizeof(float);
    /* 64-byte aligned (and every array below a multiple of 16 floats past the
     * last, HFLOW_UBATCH being one): a pool thread's block of 16 outputs of a
     * row is then one cache line, not two shared with its neighbours' threads
     * (malloc's 16-byte alignment cost 2-thread prefill a line ping-pong per
     * stored tile). */
    float *p = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!p) return HFLOW_ENOMEM;
    sc->x = p;
    sc->xb = sc->x + (size_t)HFLOW_UBATCH * hp->n_embd;
    sc->out = sc->xb + (size_t)HFLOW_UBATCH * hp->n_embd;
    sc->q = sc->out + (size_t)HFLOW_UBATCH * hp->n_embd;
    sc->att = sc->q + HFLOW_UBATCH * q_dim;
    sc->k = sc->att + HFLOW_UBATCH * q_dim;
    sc->v = sc->k + HFLOW_UBATCH * kv_dim;
    sc->gate = sc->v + HFLOW_UBATCH * kv_dim;
    sc->up = sc->gate + (size_t)HFLOW_UBATCH * hp->n_ff;
    sc->rope = sc->up + (size_t)HFLOW_UBATCH * hp->n_ff;
    sc->scores = sc->rope + (size_t)HFLOW_UBATCH * hp->n_rot;
    return 0;
}

/* Workspaces of the blocked F16-cache attention, one per pool thread; left
 * NULL (per-row attention) when a GQA group is wider than a block allows or
 * the numerics are llama.cpp's. Where the AVX-512 kernel will read it, the
 * cache also keeps K transposed (kv_cache.h): half again the cache's memory,
 * for not transposing a KV head's rows on every decode step.
 * Pages are touched only as far as the context actually used. */
static int attn_ws_init(hflow_session *s, int n_threads) {
    const hflow_hparams *hp = &s->model->hp;
    hflow_scratch *sc = &s->sc;
    int group = hp->n_head / hp->n_head_kv;
    if (group > HFLOW_ATTN_MAX_ROWS || s->numerics == HFLOW_NUMERICS_GGML) return 0;
    int rows = group >= HFLOW_ATTN_BLOCK_ROWS ? group : HFLOW_ATTN_BLOCK_ROWS / group * group;
    sc->attn_stride = hflow_attn_block_floats(s->n_ctx, hp->head_dim, rows);
    sc->attn_mem = aligned_alloc(64, (size_t)n_threads * sc->attn_stride * sizeof(float));
    if (!sc->attn_mem) return HFLOW_ENOMEM;
#if defined(__x86_64__) || defined(_M_X64)
    if (hflow_cpu_has_avx512()) return hflow_kv_cache_add_kt(&s->kv, hp->head_dim);
#endif
    return 0;
}

int hflow_session_create(hflow_model *m, const hflow_session_params *p, hflow_session **out, hflow_error *err) {
    if (!m || !out) return hflow_error_set(err, HFLOW_EINVAL, "hflow_session_create: bad arguments");
    *out = NULL;
    int32_t n_ctx = p && p->n_ctx > 0 ? p->n_ctx : m->hp.n_ctx_train;
    if ((!p || p->n_ctx <= 0) && n_ctx > DEFAULT_MAX_CTX) n_ctx = DEFAULT_MAX_CTX;
    if (p && p->n_ctx < 0) return hflow_error_set(err, HFLOW_EINVAL, "negative context size %d", p->n_ctx);
    int kv_type = p ? p->kv_type : HFLOW_KV_F16;
    if (kv_type != HFLOW_KV_F16 && kv_type != HFLOW_KV_F32)
        return hflow_error_set(err, HFLOW_EINVAL, "unknown KV cache type %d", kv_type);
    int numerics = p ? p->numerics : HFLOW_NUMERICS_DEFAULT;
    if (numerics < HFLOW_NUMERICS_DEFAULT || numerics > HFLOW_NUMERICS_FAST)
        return hflow_error_set(err, HFLOW_EINVAL, "unknown numerics mode %d", numerics);
    hflow_session *s = calloc(1, sizeof *s);
    if (!s) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    s->model = m;
    s->numerics = numerics == HFLOW_NUMERICS_DEFAULT ? HFLOW_NUMERICS_FAST : numerics;
    s->n_ctx = n_ctx;
    s->tokens = malloc((size_t)n_ctx * sizeof *s->tokens);
    int kv_dim = m->hp.n_head_kv * m->hp.head_dim;
    if (!s->tokens || hflow_kv_cache_init(&s->kv, m->hp.n_layer, n_ctx, kv_dim, kv_type) ||
        scratch_init(&s->sc, &m->hp, hflow_pool_size(m->pool), n_ctx) ||
        (kv_type == HFLOW_KV_F16 && attn_ws_init(s, hflow_pool_size(m->pool)))) {
        hflow_session_free(s);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory for a session of %d tokens", n_ctx);
    }
    *out = s;
    return 0;
}

void hflow_session_free(hflow_session *s) {
    if (!s) return;
    hflow_kv_cache_free(&s->kv);
    free(s->sc.x);
    free(s->sc.attn_mem);
    hflow_matmul_ws_free(&s->ws);
    free(s->logits);
    free(s->tokens);
    free(s);
}

hflow_model *hflow_session_model(const hflow_session *s) { return s ? s->model : NULL; }
int32_t hflow_session_n_ctx(const hflow_session *s) { return s ? s->n_ctx : 0; }
int32_t hflow_session_n_past(const hflow_session *s) { return s ? s->n_past : 0; }
const int32_t *hflow_session_tokens(const hflow_session *s) { return s ? s->tokens : NULL; }

static int reserve_logits(hflow_session *s, int32_t rows) {
    if (rows <= s->logits_rows_cap) return 0;
    float *p = realloc(s->logits, (size_t)rows * (size_t)s->model->hp.n_vocab * sizeof(float));
    if (!p) return HFLOW_ENOMEM;
    s->logits = p;
    s->logits_rows_cap = rows;
    return 0;
}

static int check_decode(const hflow_session *s, const int32_t *tokens, int32_t n, int mode, hflow_error *err) {
    if (!tokens || n <= 0) return hflow_error_set(err, HFLOW_EINVAL, "decode: no tokens");
    if (mode != HFLOW_LOGITS_LAST && mode != HFLOW_LOGITS_ALL && mode != HFLOW_LOGITS_NONE)
        return hflow_error_set(err, HFLOW_EINVAL, "decode: bad logits mode %d", mode);
    if (n > s->n_ctx - s->n_past)
        return hflow_error_set(err, HFLOW_ERANGE, "context full: %d cached + %d new tokens exceed n_ctx %d", s->n_past,
                               n, s->n_ctx);
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= s->model->hp.n_vocab)
            return hflow_error_set(err, HFLOW_ERANGE, "token id %d at index %d is outside the vocabulary [0, %d)",
                                   tokens[i], i, s->model->hp.n_vocab);
    return 0;
}

static int decode(hflow_session *s, const int32_t *tokens, int32_t n, int logits_mode, float *hidden,
                  hflow_error *err) {
    if (!s) return hflow_error_set(err, HFLOW_EINVAL, "decode: no session");
    int rc = check_decode(s, tokens, n, logits_mode, err);
    if (rc) return rc;
    int32_t rows = logits_mode == HFLOW_LOGITS_ALL ? n : logits_mode == HFLOW_LOGITS_LAST ? 1 : 0;
    if (reserve_logits(s, rows)) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory for %d logits rows", rows);
    s->n_logits = 0; /* the cache rows past n_past change below; old logits go stale either way */
    rc = hflow_forward(s, tokens, n, logits_mode, hidden, err);
    if (rc) return rc;
    memcpy(s->tokens + s->n_past, tokens, (size_t)n * sizeof *tokens);
    s->n_past += n;
    s->n_logits = rows;
    return 0;
}

int hflow_session_decode(hflow_session *s, const int32_t *tokens, int32_t n, int logits_mode, hflow_error *err) {
    return decode(s, tokens, n, logits_mode, NULL, err);
}

int hflow_session_decode_hidden(hflow_session *s, const int32_t *tokens, int32_t n, float *hidden, hflow_error *err) {
    if (!hidden) return hflow_error_set(err, HFLOW_EINVAL, "decode_hidden: no output buffer");
    return decode(s, tokens, n, HFLOW_LOGITS_NONE, hidden, err);
}

const float *hflow_session_logits(const hflow_session *s, int32_t i) {
    if (!s || i < 0 || i >= s->n_logits) return NULL;
    return s->logits + (size_t)i * s->model->hp.n_vocab;
}

int hflow_session_truncate(hflow_session *s, int32_t n_keep, hflow_error *err) {
    if (!s) return hflow_error_set(err, HFLOW_EINVAL, "truncate: no session");
    if (n_keep < 0 || n_keep > s->n_past)
        return hflow_error_set(err, HFLOW_ERANGE, "truncate to %d outside [0, %d]", n_keep, s->n_past);
    s->n_past = n_keep;
    s->n_logits = 0;
    return 0;
}

int32_t hflow_session_common_prefix(const hflow_session *s, const int32_t *tokens, int32_t n) {
    if (!s || !tokens) return 0;
    int32_t i = 0;
    while (i < n && i < s->n_past && s->tokens[i] == tokens[i]) i++;
    return i;
}
