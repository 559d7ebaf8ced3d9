/* model_gen.c - writes random-weight llama/qwen2/qwen3 GGUF models.
 *
 * Weights are drawn from a seeded uniform distribution with std 1/sqrt(fan_in)
 * so activations stay O(1) through many layers (a random model's logits are
 * then spread enough for greedy decoding to be well-defined, which the tests
 * rely on). All tensor buffers are kept until the writer has written them,
 * because hflow_gguf_writer references rather than copies data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ggml_type.h"
#include "engine/quant.h"
#include "hybridflow/gguf.h"
#include "hybridflow/modelgen.h"

void hflow_gen_params_default(hflow_gen_params *p) {
    memset(p, 0, sizeof *p);
    p->arch = "llama";
    p->name = "hybridflow-random";
    p->n_layer = 2;
    p->n_embd = 64;
    p->n_ff = 128;
    p->n_head = 4;
    p->n_head_kv = 2;
    p->n_ctx = 2048;
    p->rope_theta = 10000.0f;
    p->norm_eps = 1e-5f;
    p->type = HFLOW_TYPE_F32;
    p->seed = 1234;
}

int hflow_gen_params_preset(hflow_gen_params *p, const char *preset, hflow_error *err) {
    if (!strcmp(preset, "tiny")) {
        p->n_layer = 2; p->n_embd = 64; p->n_ff = 128; p->n_head = 4; p->n_head_kv = 2; p->head_dim = 0;
    } else if (!strcmp(preset, "smollm2-135m")) {
        p->n_layer = 30; p->n_embd = 576; p->n_ff = 1536; p->n_head = 9; p->n_head_kv = 3; p->head_dim = 0;
        p->tied_output = 1; p->rope_theta = 100000.0f; p->n_ctx = 8192;
    } else if (!strcmp(preset, "stories260k")) {
        p->n_layer = 5; p->n_embd = 64; p->n_ff = 172; p->n_head = 8; p->n_head_kv = 4; p->head_dim = 0;
    } else {
        return hflow_error_set(err, HFLOW_EINVAL, "unknown preset '%s' (tiny, smollm2-135m, stories260k)", preset);
    }
    return 0;
}

/* ---- tensors kept alive until the file is written ---- */
typedef struct {
    void **bufs;
    size_t n, cap;
} buf_list;

static void *keep(buf_list *l, size_t bytes) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        void **p = realloc(l->bufs, cap * sizeof *p);
        if (!p) return NULL;
        l->bufs = p;
        l->cap = cap;
    }
    void *b = malloc(bytes ? bytes : 1);
    if (b) l->bufs[l->n++] = b;
    return b;
}

static void free_all(buf_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->bufs[i]);
    free(l->bufs);
}

typedef struct {
    hflow_gguf_writer *w;
    buf_list bufs;
    uint64_t rng;
    float *row; /* scratch row of f32 values */
    hflow_error *err;
} gen_ctx;

static double next_uniform(uint64_t *s) { /* splitmix64 -> [0, 1) */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* A 2-D (or 1-D) tensor: rows x cols. fill: 'r' random with std `std`, '1' ones. */
static int add(gen_ctx *g, const char *name, int64_t cols, int64_t rows, uint32_t type, char fill, double std) {
    size_t row_bytes = hflow_row_size(type, cols);
    if (!row_bytes)
        return hflow_error_set(g->err, HFLOW_EINVAL, "tensor %s: %lld columns do not fit %s blocks", name,
                               (long long)cols, hflow_type_name(type));
    uint8_t *data = keep(&g->bufs, row_bytes * (size_t)rows);
    if (!data) return hflow_error_set(g->err, HFLOW_ENOMEM, "out of memory for tensor %s", name);
    double a = std * sqrt(3.0);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) g->row[c] = fill == '1' ? 1.0f : (float)((next_uniform(&g->rng) * 2 - 1) * a);
        int rc = hflow_quantize_row(type, g->row, data + (size_t)r * row_bytes, cols);
        if (rc) return hflow_error_set(g->err, rc, "cannot encode tensor %s as %s", name, hflow_type_name(type));
    }
    int64_t ne[2] = {cols, rows};
    return hflow_gguf_add_tensor(g->w, name, type, rows > 1 ? 2 : 1, ne, data, row_bytes * (size_t)rows, g->err);
}

static int write_byte_vocab(hflow_gguf_writer *w, int32_t *n_vocab) {
    enum { N = 259 };
    static char names[N][8];
    const char *strs[N];
    float scores[N];
    int32_t types[N];
    strs[0] = "<unk>"; strs[1] = "<s>"; strs[2] = "</s>";
    types[0] = 2; types[1] = 3; types[2] = 3;
    for (int i = 0; i < 256; i++) {
        snprintf(names[i + 3], sizeof names[i + 3], "<0x%02X>", i);
        strs[i + 3] = names[i + 3];
        types[i + 3] = 6;
    }
    for (int i = 0; i < N; i++) scores[i] = 0.0f;
    int rc = hflow_gguf_set_str(w, "tokenizer.ggml.model", "llama");
    rc = rc ? rc : hflow_gguf_set_arr_str(w, "tokenizer.ggml.tokens", strs, NULL, N);
    rc = rc ? rc : hflow_gguf_set_arr(w, "tokenizer.ggml.scores", HFLOW_GGUF_FLOAT32, scores, N);
    rc = rc ? rc : hflow_gguf_set_arr(w, "tokenizer.ggml.token_type", HFLOW_GGUF_INT32, types, N);
    rc = rc ? rc : hflow_gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    rc = rc ? rc : hflow_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    rc = rc ? rc : hflow_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    rc = rc ? rc : hflow_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", 1);
    *n_vocab = N;
    return rc;
}

/* Copies every tokenizer.* key; returns the vocabulary size. */
static int copy_vocab(hflow_gguf_writer *w, const char *path, int32_t *n_vocab, hflow_error *err) {
    hflow_gguf *src;
    int rc = hflow_gguf_open(path, &src, err);
    if (rc) return rc;
    const hflow_gguf_value *tok = hflow_gguf_get(src, "tokenizer.ggml.tokens");
    if (!tok || tok->type != HFLOW_GGUF_ARRAY || tok->arr_type != HFLOW_GGUF_STRING || tok->arr_n == 0) {
        hflow_gguf_close(src);
        return hflow_error_set(err, HFLOW_EFORMAT, "%s has no tokenizer.ggml.tokens to copy", path);
    }
    *n_vocab = (int32_t)tok->arr_n;
    for (int64_t i = 0; i < hflow_gguf_n_kv(src) && !rc; i++)
        if (!strncmp(hflow_gguf_key(src, i), "tokenizer.", 10)) rc = hflow_gguf_copy_kv(w, src, hflow_gguf_key(src, i));
    hflow_gguf_close(src);
    return rc ? hflow_error_set(err, rc, "copying the tokenizer from %s failed", path) : 0;
}

static int write_hparams(hflow_gguf_writer *w, const hflow_gen_params *p, int32_t head_dim) {
    char k[128];
    const char *a = p->arch;
    int rc = hflow_gguf_set_str(w, "general.architecture", a);
    rc = rc ? rc : hflow_gguf_set_str(w, "general.name", p->name ? p->name : "hybridflow-random");
#define SET_U32(suffix, v) (snprintf(k, sizeof k, "%s." suffix, a), rc = rc ? rc : hflow_gguf_set_u32(w, k, (uint32_t)(v)))
#define SET_F32(suffix, v) (snprintf(k, sizeof k, "%s." suffix, a), rc = rc ? rc : hflow_gguf_set_f32(w, k, (v)))
    SET_U32("context_length", p->n_ctx);
    SET_U32("embedding_length", p->n_embd);
    SET_U32("block_count", p->n_layer);
    SET_U32("feed_forward_length", p->n_ff);
    SET_U32("attention.head_count", p->n_head);
    SET_U32("attention.head_count_kv", p->n_head_kv);
    SET_U32("attention.key_length", head_dim);
    SET_U32("attention.value_length", head_dim);
    SET_U32("rope.dimension_count", head_dim);
    SET_F32("rope.freq_base", p->rope_theta);
    SET_F32("attention.layer_norm_rms_epsilon", p->norm_eps);
    if (p->rope_scale_linear > 0) {
        snprintf(k, sizeof k, "%s.rope.scaling.type", a);
        rc = rc ? rc : hflow_gguf_set_str(w, k, "linear");
        SET_F32("rope.scaling.factor", p->rope_scale_linear);
    }
#undef SET_U32
#undef SET_F32
    return rc;
}

static int check_params(const hflow_gen_params *p, int32_t head_dim, hflow_error *err) {
    if (strcmp(p->arch, "llama") && strcmp(p->arch, "qwen2") && strcmp(p->arch, "qwen3"))
        return hflow_error_set(err, HFLOW_EINVAL, "unknown architecture '%s' (llama, qwen2, qwen3)", p->arch);
    if (p->n_layer < 1 || p->n_embd < 1 || p->n_ff < 1 || p->n_head < 1 || p->n_head_kv < 1 || head_dim < 2 ||
        head_dim % 2 || p->n_head % p->n_head_kv || p->n_ctx < 1)
        return hflow_error_set(err, HFLOW_EINVAL,
                               "bad shape: layers %d, dim %d, ffn %d, heads %d/%d, head_dim %d (need n_head a multiple "
                               "of n_head_kv and an even head_dim)",
                               p->n_layer, p->n_embd, p->n_ff, p->n_head, p->n_head_kv, head_dim);
    if (!hflow_type_supported(p->type))
        return hflow_error_set(err, HFLOW_EUNSUPPORTED, "tensor type %s cannot be written", hflow_type_name(p->type));
    return 0;
}

static int add_layer(gen_ctx *g, const hflow_gen_params *p, int il, int32_t hd) {
    char n[96];
    int64_t q_dim = (int64_t)p->n_head * hd, kv_dim = (int64_t)p->n_head_kv * hd;
    double s_embd = 1.0 / sqrt((double)p->n_embd), s_q = 1.0 / sqrt((double)q_dim), s_ff = 1.0 / sqrt((double)p->n_ff);
    int rc = 0;
#define T(suffix, cols, rows, type, fill, std) \
    (snprintf(n, sizeof n, "blk.%d." suffix, il), rc = rc ? rc : add(g, n, cols, rows, type, fill, std))
    T("attn_norm.weight", p->n_embd, 1, HFLOW_TYPE_F32, '1', 0);
    T("attn_q.weight", p->n_embd, q_dim, p->type, 'r', s_embd);
    T("attn_k.weight", p->n_embd, kv_dim, p->type, 'r', s_embd);
    T("attn_v.weight", p->n_embd, kv_dim, p->type, 'r', s_embd);
    if (!strcmp(p->arch, "qwen2")) {
        T("attn_q.bias", q_dim, 1, HFLOW_TYPE_F32, 'r', 0.5);
        T("attn_k.bias", kv_dim, 1, HFLOW_TYPE_F32, 'r', 0.5);
        T("attn_v.bias", kv_dim, 1, HFLOW_TYPE_F32, 'r', 0.5);
    }
    if (!strcmp(p->arch, "qwen3")) { /* random around 1 so the norm's weights matter */
        T("attn_q_norm.weight", hd, 1, HFLOW_TYPE_F32, 'r', 0.3);
        T("attn_k_norm.weight", hd, 1, HFLOW_TYPE_F32, 'r', 0.3);
    }
    T("attn_output.weight", q_dim, p->n_embd, p->type, 'r', s_q);
    T("ffn_norm.weight", p->n_embd, 1, HFLOW_TYPE_F32, '1', 0);
    T("ffn_gate.weight", p->n_embd, p->n_ff, p->type, 'r', s_embd);
    T("ffn_up.weight", p->n_embd, p->n_ff, p->type, 'r', s_embd);
    T("ffn_down.weight", p->n_ff, p->n_embd, p->type, 'r', s_ff);
#undef T
    return rc;
}

int hflow_gen_model(const hflow_gen_params *p, const char *out_path, hflow_error *err) {
    int32_t hd = p->head_dim > 0 ? p->head_dim : (p->n_head > 0 ? p->n_embd / p->n_head : 0);
    int rc = check_params(p, hd, err);
    if (rc) return rc;
    gen_ctx g = {0};
    g.err = err;
    g.rng = p->seed;
    g.w = hflow_gguf_writer_create();
    int64_t widest = p->n_embd > p->n_ff ? p->n_embd : p->n_ff;
    if ((int64_t)p->n_head * hd > widest) widest = (int64_t)p->n_head * hd;
    g.row = malloc((size_t)widest * sizeof(float));
    if (!g.w || !g.row) {
        rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
        goto done;
    }
    int32_t n_vocab = 0;
    rc = p->vocab_from ? copy_vocab(g.w, p->vocab_from, &n_vocab, err) : write_byte_vocab(g.w, &n_vocab);
    if (rc) {
        if (!err || !err->message[0]) hflow_error_set(err, rc, "writing the vocabulary failed");
        goto done;
    }
    if ((rc = write_hparams(g.w, p, hd))) {
        hflow_error_set(err, rc, "writing metadata failed");
        goto done;
    }
    /* embeddings get std 1 like trained models' rows; norms then rescale them */
    rc = add(&g, "token_embd.weight", p->n_embd, n_vocab, p->type, 'r', 1.0);
    for (int il = 0; !rc && il < p->n_layer; il++) rc = add_layer(&g, p, il, hd);
    if (!rc) rc = add(&g, "output_norm.weight", p->n_embd, 1, HFLOW_TYPE_F32, '1', 0);
    if (!rc && !p->tied_output) rc = add(&g, "output.weight", p->n_embd, n_vocab, p->type, 'r', 1.0 / sqrt((double)p->n_embd));
    if (!rc) rc = hflow_gguf_writer_write(g.w, out_path, err);
done:
    hflow_gguf_writer_free(g.w);
    free_all(&g.bufs);
    free(g.row);
    return rc;
}
