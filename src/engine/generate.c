/* generate.c - the generation loop shared by the CLI, the local backend and
 * the server.
 *
 * Prefix reuse: the session keeps the tokens of its last request, so a prompt
 * that starts the same way (HybridFlow's subtasks all repeat the question)
 * only evaluates its new suffix. When the whole prompt is cached, its last
 * token is evaluated again, because the logits that predict the first new
 * token are not kept between requests.
 *
 * Stop strings may span tokens, so text is held back while it could still be
 * the start of a stop string, and nothing of a matched stop string is ever
 * emitted. The callback therefore receives, per token, the text that became
 * safe to emit (possibly empty). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/strbuf.h"
#include "hybridflow/engine.h"

typedef struct {
    const hflow_generate_params *gp;
    hflow_strbuf all;  /* every byte generated so far */
    size_t emitted;    /* bytes of `all` already given to the callback */
    int stopped;       /* a stop string matched */
} text_state;

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop string. */
static size_t held_back(const text_state *ts, const char *s, size_t n) {
    size_t hold = 0;
    for (int i = 0; i < ts->gp->n_stop; i++) {
        const char *stop = ts->gp->stop[i];
        size_t m = strlen(stop);
        for (size_t k = m > 1 ? m - 1 : 0; k > hold; k--)
            if (k <= n && !memcmp(s + n - k, stop, k)) {
                hold = k;
                break;
            }
    }
    return hold;
}

/* Appends a piece; returns the range [*from, *from + *len) that may now be emitted. */
static void add_text(text_state *ts, const char *piece, size_t n, size_t *from, size_t *len) {
    size_t search_from = ts->all.len;
    hflow_strbuf_append(&ts->all, piece, n);
    const char *s = ts->all.data ? ts->all.data : "";
    size_t end = ts->all.len;
    for (int i = 0; i < ts->gp->n_stop; i++) {
        const char *stop = ts->gp->stop[i];
        size_t m = strlen(stop);
        if (!m) continue;
        /* a match can start before this piece: back up by the stop's length */
        size_t start = search_from >= m ? search_from - m + 1 : 0;
        const char *hit = m <= end ? memmem(s + start, end - start, stop, m) : NULL;
        if (hit && (size_t)(hit - s) < end) {
            end = (size_t)(hit - s);
            ts->stopped = 1;
        }
    }
    if (!ts->stopped) end -= held_back(ts, s, end);
    if (end < ts->emitted) end = ts->emitted;
    *from = ts->emitted;
    *len = end - ts->emitted;
    ts->emitted = end;
}

static void set_reason(hflow_generate_stats *st, const char *r) {
    snprintf(st->finish_reason, sizeof st->finish_reason, "%s", r);
}

/* Evaluates the prompt, reusing the session's common prefix. */
static int feed_prompt(hflow_session *s, const int32_t *prompt, int32_t n, hflow_generate_stats *st,
                       hflow_error *err) {
    int32_t common = hflow_session_common_prefix(s, prompt, n);
    if (common >= n) common = n - 1; /* need fresh logits for the last prompt token */
    int rc = hflow_session_truncate(s, common, err);
    if (rc) return rc;
    st->n_prompt_reused = common;
    return hflow_session_decode(s, prompt + common, n - common, HFLOW_LOGITS_LAST, err);
}

int hflow_generate(hflow_session *s, hflow_sampler *sampler, const int32_t *prompt, int32_t n_prompt,
                   const hflow_generate_params *gp, hflow_token_cb cb, void *user, hflow_generate_stats *stats,
                   hflow_error *err) {
    hflow_generate_stats local;
    hflow_generate_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    hflow_generate_params defaults = {0};
    if (!gp) gp = &defaults;
    if (!s || !sampler || !prompt || n_prompt < 1)
        return hflow_error_set(err, HFLOW_EINVAL, "generate: a session, a sampler and a non-empty prompt are needed");
    if (n_prompt >= hflow_session_n_ctx(s))
        return hflow_error_set(err, HFLOW_ERANGE, "prompt of %d tokens does not fit the context of %d", n_prompt,
                               hflow_session_n_ctx(s));
    const hflow_vocab *vocab = hflow_model_vocab(hflow_session_model(s));
    st->n_prompt = n_prompt;
    double t0 = hflow_now_s();
    int rc = feed_prompt(s, prompt, n_prompt, st, err);
    if (rc) return rc;
    double t1 = hflow_now_s();
    st->t_prompt_s = t1 - t0;

    text_state ts = {gp, {0}, 0, 0};
    hflow_strbuf_init(&ts.all);
    hflow_detok detok;
    hflow_detok_init(&detok, vocab, 0); /* a continuation keeps SentencePiece's leading space */
    set_reason(st, "length");
    char piece[512];
    int32_t n_vocab = hflow_model_get_info(hflow_session_model(s))->n_vocab;
    float *masked = gp->hook ? malloc((size_t)n_vocab * sizeof *masked) : NULL;
    int complete = 0; /* the hook's constraint is complete */
    if (gp->hook && !masked) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    while (!rc) {
        if (gp->cancel && *gp->cancel) {
            set_reason(st, "cancelled");
            break;
        }
        if (gp->max_tokens > 0 && st->n_generated >= gp->max_tokens) break;
        hflow_token_logprobs lp;
        const float *logits = hflow_session_logits(s, 0);
        if (gp->hook) {
            memcpy(masked, logits, (size_t)n_vocab * sizeof *masked);
            if ((rc = gp->hook->mask(gp->hook->user, masked, n_vocab, err)) < 0) break;
            rc = 0;
            logits = masked;
        }
        int32_t tok = hflow_sampler_sample(sampler, logits, hflow_session_tokens(s), hflow_session_n_past(s),
                                           gp->want_logprobs ? &lp : NULL);
        if (st->n_generated == 0) st->t_first_token_s = hflow_now_s() - t0;
        if (gp->hook) {
            int a = gp->hook->accept(gp->hook->user, tok, err);
            if (a < 0) {
                rc = a;
                break;
            }
            complete = a == 1;
        }
        if (!gp->ignore_eos && hflow_vocab_is_eog(vocab, tok)) {
            set_reason(st, "stop");
            break;
        }
        st->n_generated++;
        int n = hflow_detok_push(&detok, tok, piece, sizeof piece);
        size_t from = 0, len = 0;
        if (n > 0) add_text(&ts, piece, (size_t)n, &from, &len);
        if (ts.all.oom) {
            rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
            break;
        }
        if (cb && cb(user, tok, ts.all.data ? ts.all.data + from : "", len, gp->want_logprobs ? &lp : NULL)) {
            set_reason(st, "cancelled");
            break;
        }
        if (ts.stopped || complete) {
            set_reason(st, "stop");
            break;
        }
        if (hflow_session_n_past(s) + 1 >= hflow_session_n_ctx(s)) break; /* context full: "length" */
        if (gp->max_tokens > 0 && st->n_generated >= gp->max_tokens) break;
        rc = hflow_session_decode(s, &tok, 1, HFLOW_LOGITS_LAST, err);
        if (rc) break;
    }
    if (!rc && !ts.stopped && strcmp(st->finish_reason, "cancelled")) {
        /* release held-back text and any incomplete UTF-8 tail */
        int n = hflow_detok_flush(&detok, piece, sizeof piece);
        if (n > 0) hflow_strbuf_append(&ts.all, piece, (size_t)n);
        if (cb && ts.all.len > ts.emitted) cb(user, -1, ts.all.data + ts.emitted, ts.all.len - ts.emitted, NULL);
    }
    hflow_strbuf_free(&ts.all);
    free(masked);
    st->t_generate_s = hflow_now_s() - t1;
    return rc;
}
