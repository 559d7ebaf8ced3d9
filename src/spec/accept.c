/* accept.c - the target's acceptance rules for a speculative draft.
 *
 * Sampling acceptance is standard speculative sampling (Leviathan et al.,
 * Chen et al.): accepting d with probability min(1, p(d)/q(d)) and otherwise
 * drawing from normalise(max(0, p - q)) yields exactly p. q is the draft's
 * top-K truncated distribution, i.e. zero outside the K ids it sent, which is
 * what the draft really sampled from, so the identity holds exactly. */
#include <math.h>
#include <string.h>

#include "hybridflow/spec.h"

uint64_t hflow_spec_seed(uint64_t seed) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z ? z : 0x2545f4914f6cdd1dull;
}

double hflow_spec_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * (1.0 / 9007199254740992.0);
}

static int32_t argmax(const float *v, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

void hflow_spec_accept_greedy(const int32_t *draft, int32_t k, const float *target_logits, int32_t n_vocab,
                              hflow_spec_verdict *out) {
    int32_t i = 0;
    for (; i < k; i++) {
        int32_t t = argmax(target_logits + (size_t)i * n_vocab, n_vocab);
        if (t != draft[i]) {
            out->n_accepted = i;
            out->next_token = t;
            return;
        }
    }
    out->n_accepted = k;
    out->next_token = argmax(target_logits + (size_t)k * n_vocab, n_vocab);
}

int32_t hflow_spec_draw(const float *probs, int32_t n, double u) {
    double acc = 0;
    int32_t last = -1;
    for (int32_t i = 0; i < n; i++) {
        if (probs[i] <= 0) continue;
        acc += probs[i];
        last = i;
        if (u < acc) return i;
    }
    return last >= 0 ? last : 0; /* rounding left u just above the total */
}

static float q_of(const hflow_spec_draft_dist *q, int32_t id) {
    for (int32_t j = 0; j < q->n; j++)
        if (q->ids[j] == id) return q->probs[j];
    return 0.0f;
}

int hflow_spec_accept_sampled(const int32_t *draft, const hflow_spec_draft_dist *q, int32_t k,
                              const float *target_probs, int32_t n_vocab, uint64_t *rng, float *scratch,
                              hflow_spec_verdict *out, hflow_error *err) {
    for (int32_t i = 0; i < k; i++) {
        if (draft[i] < 0 || draft[i] >= n_vocab)
            return hflow_error_set(err, HFLOW_EINVAL, "draft token %d at position %d is outside the vocabulary",
                                   draft[i], i);
        if (q[i].n < 1 || q[i].n > HFLOW_SPEC_MAX_TOPK)
            return hflow_error_set(err, HFLOW_EINVAL, "draft distribution %d has %d entries", i, q[i].n);
        float qd = q_of(&q[i], draft[i]);
        if (!(qd > 0))
            return hflow_error_set(err, HFLOW_EINVAL, "draft token %d has no probability in its own top-K", draft[i]);
        const float *p = target_probs + (size_t)i * n_vocab;
        double u = hflow_spec_rand(rng);
        if (u < fmin(1.0, (double)p[draft[i]] / qd)) continue;
        /* residual: max(0, p - q), q zero outside the sent ids */
        memcpy(scratch, p, (size_t)n_vocab * sizeof *scratch);
        for (int32_t j = 0; j < q[i].n; j++) {
            int32_t id = q[i].ids[j];
            if (id >= 0 && id < n_vocab) scratch[id] = fmaxf(0.0f, scratch[id] - q[i].probs[j]);
        }
        double z = 0;
        for (int32_t v = 0; v < n_vocab; v++) z += scratch[v];
        out->n_accepted = i;
        out->next_token = z > 0 ? hflow_spec_draw(scratch, n_vocab, hflow_spec_rand(rng) * z)
                                : hflow_spec_draw(p, n_vocab, hflow_spec_rand(rng));
        return 0;
    }
    out->n_accepted = k;
    out->next_token = hflow_spec_draw(target_probs + (size_t)k * n_vocab, n_vocab, hflow_spec_rand(rng));
    return 0;
}
