/* sample.c - the sampler chain and logprobs.
 *
 * Stages, in order: logit bias -> repetition penalty -> presence/frequency
 * penalties -> top-k -> temperature (softmax) -> top-p -> min-p -> draw.
 * Temperature 0 short-cuts to the argmax of the biased, penalised logits. Candidates are (id, value) pairs; top-k is a quickselect
 * so a 150k vocabulary is not sorted for k = 40, and a full sort happens
 * only when top-p needs cumulative mass in order. The RNG is xoshiro256**
 * seeded through splitmix64: ours, small and reproducible across platforms. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hybridflow/sample.h"

typedef struct cand {
    int32_t id;
    float v; /* logit, then probability */
} cand;

struct hflow_sampler {
    hflow_sampler_params p;
    int32_t n_vocab;
    uint64_t rng[4];
    float *work;     /* [n_vocab] penalised logits */
    float *lsm;      /* [n_vocab] raw log-softmax, for logprobs */
    cand *cands;     /* [n_vocab] */
    uint8_t *seen;   /* [n_vocab] marks for penalising each token once */
    int32_t *count;  /* [n_vocab] occurrences in the window; only with presence/frequency penalties */
    hflow_logit_bias *bias; /* the params' list, copied */
};

/* ---- RNG ---- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4]) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rand01(uint64_t s[4]) { return (double)(xoshiro_next(s) >> 11) * 0x1.0p-53; }

void hflow_sampler_reseed(hflow_sampler *s, uint64_t seed) {
    if (!s) return;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
}

/* ---- lifecycle ---- */

hflow_sampler_params hflow_sampler_default_params(void) {
    hflow_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 64; /* 0 = off, < 0 = the whole history */
    p.seed = 0;
    p.n_top_logprobs = 0;
    return p;
}

hflow_sampler *hflow_sampler_create(const hflow_sampler_params *p, int32_t n_vocab) {
    if (n_vocab <= 0) return NULL;
    hflow_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = p ? *p : hflow_sampler_default_params();
    if (s->p.n_top_logprobs < 0) s->p.n_top_logprobs = 0;
    if (s->p.n_top_logprobs > HFLOW_MAX_TOP_LOGPROBS) s->p.n_top_logprobs = HFLOW_MAX_TOP_LOGPROBS;
    if (s->p.n_top_logprobs > n_vocab) s->p.n_top_logprobs = n_vocab;
    s->n_vocab = n_vocab;
    s->work = malloc((size_t)n_vocab * sizeof *s->work);
    s->lsm = malloc((size_t)n_vocab * sizeof *s->lsm);
    s->cands = malloc((size_t)n_vocab * sizeof *s->cands);
    s->seen = calloc((size_t)n_vocab, 1);
    if (s->p.presence_penalty != 0.0f || s->p.frequency_penalty != 0.0f)
        s->count = calloc((size_t)n_vocab, sizeof *s->count);
    if (s->p.n_logit_bias > 0 && s->p.logit_bias) {
        s->bias = malloc((size_t)s->p.n_logit_bias * sizeof *s->bias);
        if (s->bias) memcpy(s->bias, s->p.logit_bias, (size_t)s->p.n_logit_bias * sizeof *s->bias);
    } else {
        s->p.n_logit_bias = 0;
    }
    s->p.logit_bias = NULL; /* never read after create: the copy is */
    if (!s->work || !s->lsm || !s->cands || !s->seen || (!s->count && (s->p.presence_penalty != 0.0f ||
        s->p.frequency_penalty != 0.0f)) || (!s->bias && s->p.n_logit_bias > 0)) {
        hflow_sampler_free(s);
        return NULL;
    }
    hflow_sampler_reseed(s, s->p.seed);
    return s;
}

void hflow_sampler_free(hflow_sampler *s) {
    if (!s) return;
    free(s->work);
    free(s->lsm);
    free(s->cands);
    free(s->seen);
    free(s->count);
    free(s->bias);
    free(s);
}

/* ---- helpers shared with callers ---- */

void hflow_log_softmax(const float *logits, int n, float *out) {
    float max = logits[0];
    for (int i = 1; i < n; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - max);
    float lse = max + (float)log(sum);
    for (int i = 0; i < n; i++) out[i] = logits[i] - lse;
}

int32_t hflow_argmax(const float *logits, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

/* ---- stages ---- */

static int window_start(const hflow_sampler *s, int n_hist) {
    return s->p.repeat_last_n > 0 && n_hist > s->p.repeat_last_n ? n_hist - s->p.repeat_last_n : 0;
}

static void apply_logit_bias(hflow_sampler *s) {
    for (int i = 0; i < s->p.n_logit_bias; i++)
        if (s->bias[i].id >= 0 && s->bias[i].id < s->n_vocab) s->work[s->bias[i].id] += s->bias[i].bias;
}

/* Counts the window, then charges each distinct token once and clears its count. */
static void apply_presence_frequency(hflow_sampler *s, const int32_t *hist, int n_hist) {
    if (!s->count || !hist || n_hist <= 0 || s->p.repeat_last_n == 0) return;
    int from = window_start(s, n_hist);
    for (int i = from; i < n_hist; i++)
        if (hist[i] >= 0 && hist[i] < s->n_vocab) s->count[hist[i]]++;
    for (int i = from; i < n_hist; i++) {
        int32_t id = hist[i];
        if (id < 0 || id >= s->n_vocab || !s->count[id]) continue;
        s->work[id] -= s->p.frequency_penalty * (float)s->count[id] + s->p.presence_penalty;
        s->count[id] = 0;
    }
}

static void apply_repeat_penalty(hflow_sampler *s, const int32_t *hist, int n_hist) {
    float pen = s->p.repeat_penalty;
    if (!hist || n_hist <= 0 || pen == 1.0f || pen <= 0.0f || s->p.repeat_last_n == 0) return;
    int from = window_start(s, n_hist);
    for (int i = from; i < n_hist; i++) {
        int32_t id = hist[i];
        if (id < 0 || id >= s->n_vocab || s->seen[id]) continue;
        s->seen[id] = 1; /* a token is penalised once however often it occurred */
        s->work[id] = s->work[id] > 0 ? s->work[id] / pen : s->work[id] * pen;
    }
    for (int i = from; i < n_hist; i++)
        if (hist[i] >= 0 && hist[i] < s->n_vocab) s->seen[hist[i]] = 0;
}

/* Higher value first; lower id first on ties, so results are deterministic. */
static int cand_before(const cand *a, const cand *b) { return a->v > b->v || (a->v == b->v && a->id < b->id); }

static int cand_cmp(const void *pa, const void *pb) {
    const cand *a = pa, *b = pb;
    return cand_before(a, b) ? -1 : cand_before(b, a) ? 1 : 0;
}

/* Moves the k best candidates to c[0..k) (unordered): Hoare-style quickselect. */
static void select_top_k(cand *c, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        cand pivot = c[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (cand_before(&c[i], &pivot)) i++;
            while (cand_before(&pivot, &c[j])) j--;
            if (i <= j) {
                cand t = c[i];
                c[i++] = c[j];
                c[j--] = t;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

/* Candidate logits -> probabilities at temperature t (in place). */
static void softmax_cands(cand *c, int n, float t) {
    float max = c[0].v;
    for (int i = 1; i < n; i++)
        if (c[i].v > max) max = c[i].v;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        c[i].v = expf((c[i].v - max) / t);
        sum += c[i].v;
    }
    for (int i = 0; i < n; i++) c[i].v = (float)(c[i].v / sum);
}

/* Keeps the shortest sorted prefix whose mass reaches top_p. */
static int apply_top_p(cand *c, int n, float top_p) {
    qsort(c, (size_t)n, sizeof *c, cand_cmp);
    double cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += c[i].v;
        if (cum >= top_p) return i + 1;
    }
    return n;
}

/* Keeps candidates with p >= min_p * p_max (order preserved). */
static int apply_min_p(cand *c, int n, float min_p) {
    float pmax = 0.0f;
    for (int i = 0; i < n; i++)
        if (c[i].v > pmax) pmax = c[i].v;
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (c[i].v >= min_p * pmax) c[kept++] = c[i];
    return kept;
}

static int32_t draw(hflow_sampler *s, const cand *c, int n) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += c[i].v;
    double u = rand01(s->rng) * sum, cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += c[i].v;
        if (u < cum) return c[i].id;
    }
    /* rounding left u just past the total: the last candidate that can be
     * drawn at all (a masked, zero-probability one must never be chosen) */
    for (int i = n - 1; i > 0; i--)
        if (c[i].v > 0) return c[i].id;
    return c[0].id;
}

void hflow_token_logprobs_fill(const float *logits, int32_t n_vocab, int32_t token, int n_top, float *lsm,
                               hflow_token_logprobs *lp) {
    hflow_log_softmax(logits, n_vocab, lsm);
    if (n_top < 0) n_top = 0;
    if (n_top > HFLOW_MAX_TOP_LOGPROBS) n_top = HFLOW_MAX_TOP_LOGPROBS;
    lp->id = token;
    lp->logprob = lsm[token];
    int have = 0;
    for (int32_t i = 0; i < n_vocab; i++) { /* insertion into a short sorted list */
        float v = lsm[i];
        if (have == n_top && (n_top == 0 || v <= lp->top_logprobs[n_top - 1])) continue;
        int j = have < n_top ? have++ : n_top - 1;
        while (j > 0 && lp->top_logprobs[j - 1] < v) {
            lp->top_logprobs[j] = lp->top_logprobs[j - 1];
            lp->top_ids[j] = lp->top_ids[j - 1];
            j--;
        }
        lp->top_logprobs[j] = v;
        lp->top_ids[j] = i;
    }
    lp->n_top = have;
}

static void fill_logprobs(hflow_sampler *s, const float *logits, int32_t chosen, hflow_token_logprobs *lp) {
    hflow_token_logprobs_fill(logits, s->n_vocab, chosen, s->p.n_top_logprobs, s->lsm, lp);
}

/* Runs top-k, temperature, top-p and min-p over s->work: the kept candidates
 * with their (unnormalised after truncation) probabilities in s->cands[0..n).
 * Shared by sampling and hflow_sampler_probs so both see one distribution. */
static int kept_candidates(hflow_sampler *s) {
    cand *c = s->cands;
    int32_t n = s->n_vocab;
    for (int32_t i = 0; i < n; i++) c[i] = (cand){i, s->work[i]};
    int nc = n;
    if (s->p.top_k > 0 && s->p.top_k < nc) {
        select_top_k(c, nc, s->p.top_k);
        nc = s->p.top_k;
    }
    softmax_cands(c, nc, s->p.temperature);
    if (s->p.top_p > 0.0f && s->p.top_p < 1.0f) nc = apply_top_p(c, nc, s->p.top_p);
    if (s->p.min_p > 0.0f) nc = apply_min_p(c, nc, s->p.min_p);
    return nc;
}

int32_t hflow_sampler_sample(hflow_sampler *s, const float *logits, const int32_t *history, int n_history,
                             hflow_token_logprobs *lp) {
    if (!s || !logits) return -1;
    int32_t n = s->n_vocab, chosen;
    memcpy(s->work, logits, (size_t)n * sizeof *s->work);
    apply_logit_bias(s);
    apply_repeat_penalty(s, history, n_history);
    apply_presence_frequency(s, history, n_history);
    if (s->p.temperature <= 0.0f) chosen = hflow_argmax(s->work, n);
    else chosen = draw(s, s->cands, kept_candidates(s));
    if (lp) fill_logprobs(s, logits, chosen, lp);
    return chosen;
}

void hflow_sampler_probs(hflow_sampler *s, const float *logits, float *probs) {
    int32_t n = s->n_vocab;
    memset(probs, 0, (size_t)n * sizeof *probs);
    if (s->p.temperature <= 0.0f) {
        probs[hflow_argmax(logits, n)] = 1.0f;
        return;
    }
    memcpy(s->work, logits, (size_t)n * sizeof *s->work);
    int nc = kept_candidates(s);
    double sum = 0.0;
    for (int i = 0; i < nc; i++) sum += s->cands[i].v;
    for (int i = 0; i < nc; i++) probs[s->cands[i].id] = (float)(s->cands[i].v / sum);
}
