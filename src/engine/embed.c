/* embed.c - text embeddings: pooled final hidden states (hybridflow/embed.h).
 *
 * Pooling runs in double so the mean does not depend on how many rows the
 * forward pass produced at a time; the hidden states themselves come from
 * the same batched forward as decoding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hybridflow/embed.h"

static void pool(const float *hidden, int32_t n, int32_t dim, int pooling, int normalize, float *out) {
    double norm2 = 0;
    for (int32_t j = 0; j < dim; j++) {
        double v;
        if (pooling == HFLOW_POOL_LAST) {
            v = hidden[(size_t)(n - 1) * dim + j];
        } else {
            double acc = 0;
            for (int32_t t = 0; t < n; t++) acc += hidden[(size_t)t * dim + j];
            v = acc / n;
        }
        out[j] = (float)v;
        norm2 += v * v;
    }
    if (!normalize || !(norm2 > 0)) return;
    double inv = 1.0 / sqrt(norm2);
    for (int32_t j = 0; j < dim; j++) out[j] = (float)(out[j] * inv);
}

int hflow_embed_tokens(hflow_session *s, const int32_t *tokens, int32_t n, const hflow_embed_params *p, float *out,
                       int32_t *n_used, hflow_error *err) {
    hflow_embed_params def = {0};
    if (!p) p = &def;
    if (!s || !tokens || !out || n < 1) return hflow_error_set(err, HFLOW_EINVAL, "embed: no tokens");
    if (p->pooling != HFLOW_POOL_MEAN && p->pooling != HFLOW_POOL_LAST)
        return hflow_error_set(err, HFLOW_EINVAL, "embed: unknown pooling %d", p->pooling);
    int32_t n_ctx = hflow_session_n_ctx(s);
    if (n > n_ctx) {
        if (!p->truncate)
            return hflow_error_set(err, HFLOW_ERANGE, "embed: %d tokens exceed the context of %d", n, n_ctx);
        n = n_ctx;
    }
    int32_t dim = hflow_model_get_info(hflow_session_model(s))->n_embd;
    float *hidden = malloc((size_t)n * (size_t)dim * sizeof *hidden);
    if (!hidden) return hflow_error_set(err, HFLOW_ENOMEM, "embed: out of memory for %d tokens", n);
    int rc = hflow_session_truncate(s, 0, err);
    if (!rc) rc = hflow_session_decode_hidden(s, tokens, n, hidden, err);
    if (!rc) pool(hidden, n, dim, p->pooling, !p->no_normalize, out);
    if (!rc && n_used) *n_used = n;
    free(hidden);
    return rc;
}

int hflow_embed(hflow_session *s, const char *text, const hflow_embed_params *p, float *out, int32_t *n_used,
                hflow_error *err) {
    if (!s || !text) return hflow_error_set(err, HFLOW_EINVAL, "embed: no text");
    const hflow_vocab *v = hflow_model_vocab(hflow_session_model(s));
    int32_t *ids = NULL;
    int n = 0;
    int rc = hflow_tokenize(v, text, strlen(text), !(p && p->no_bos), 0, &ids, &n, err);
    if (!rc && n < 1) rc = hflow_error_set(err, HFLOW_EINVAL, "embed: the text has no tokens");
    if (!rc) rc = hflow_embed_tokens(s, ids, n, p, out, n_used, err);
    free(ids);
    return rc;
}
