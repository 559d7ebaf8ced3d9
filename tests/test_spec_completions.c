/* test_spec_completions.c - ECSpec's /v1/completions fallback against the
 * real `hybridflow serve` on loopback.
 *
 * What must hold: our server's completions echo the prompt's own tokens with
 * logprobs when echo + logprobs are set (OpenAI's legacy format: first entry
 * null), equal to the engine's teacher-forced logprobs, also when the slot
 * reuses a cached prefix; and greedy speculation through the completions
 * transport is token for token the target's own greedy output (several
 * prompts, k 1..8, adaptive). Models: stories260K as the target, a q4_0 copy
 * as the draft (skipped without ../shared). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_util.h"
#include "testutil.h"
#include "engine/quantize_model.h"
#include "http_client.h"
#include "hybridflow/engine.h"
#include "hybridflow/spec.h"
#include "server_proc.h"

#define N_GEN 24

static char draft_path[600];
static hflow_model *target, *draft;
static tu_server srv;

static int setup(void **state) {
    (void)state;
    char src[4096];
    if (!tu_shared_path(src, sizeof src, "models/stories260K.gguf")) return 0;
    snprintf(draft_path, sizeof draft_path, "%s/draft-q4_0.gguf", tu_tmpdir());
    hflow_error err = {0};
    if (hflow_quantize_model(src, draft_path, "q4_0", 1, NULL, &err)) {
        fprintf(stderr, "quantize: %s\n", err.message);
        return -1;
    }
    target = tu_model_load(src);
    draft = tu_model_load(draft_path);
    char model_arg[4200];
    snprintf(model_arg, sizeof model_arg, "t=%s", src);
    const char *args[] = {"--model", model_arg, "--threads", "1", NULL};
    if (!target || !draft || tu_server_start(&srv, args)) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (srv.pid > 0) assert_int_equal(tu_server_stop(&srv), 0);
    hflow_model_free(target);
    hflow_model_free(draft);
    return 0;
}

/* Teacher forcing on a fresh engine session: lp[i] for i in [1, n). */
static void teacher_forced(const int32_t *ids, int n, int n_top, hflow_token_logprobs *lp) {
    hflow_session *s = NULL;
    hflow_error err = {0};
    int32_t V = hflow_model_get_info(target)->n_vocab;
    float *lsm = malloc((size_t)V * sizeof *lsm);
    assert_int_equal(hflow_session_create(target, NULL, &s, &err), 0);
    assert_int_equal(hflow_session_decode(s, ids, n, HFLOW_LOGITS_ALL, &err), 0);
    for (int i = 1; i < n; i++) hflow_token_logprobs_fill(hflow_session_logits(s, i - 1), V, ids[i], n_top, lsm, &lp[i]);
    hflow_session_free(s);
    free(lsm);
}

static cJSON *post_completion(const char *body) {
    char url[128];
    tu_http_reply r;
    assert_int_equal(tu_http("POST", tu_server_url(&srv, "/v1/completions", url, sizeof url), body, strlen(body), NULL,
                             0, &r), 0);
    if (r.status != 200) fail_msg("status %ld: %s", r.status, r.body);
    cJSON *root = cJSON_Parse(r.body);
    tu_http_reply_free(&r);
    assert_non_null(root);
    return root;
}

static char *ids_json(const int32_t *ids, int n) {
    char *s = malloc((size_t)n * 12 + 8);
    int o = sprintf(s, "[");
    for (int i = 0; i < n; i++) o += sprintf(s + o, "%s%d", i ? "," : "", ids[i]);
    sprintf(s + o, "]");
    return s;
}

/* Echoed entries [0, n) of `lps` equal the teacher-forced logprobs of ids. */
static void check_echo(const cJSON *lps, const int32_t *ids, int n, int n_top) {
    const cJSON *toks = cJSON_GetObjectItem(lps, "tokens"), *tlp = cJSON_GetObjectItem(lps, "token_logprobs");
    const cJSON *tops = cJSON_GetObjectItem(lps, "top_logprobs"), *offs = cJSON_GetObjectItem(lps, "text_offset");
    assert_true(cJSON_GetArraySize(toks) >= n);
    assert_int_equal(cJSON_GetArraySize(toks), cJSON_GetArraySize(tlp));
    assert_int_equal(cJSON_GetArraySize(toks), cJSON_GetArraySize(tops));
    assert_int_equal(cJSON_GetArraySize(toks), cJSON_GetArraySize(offs));
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(tlp, 0))); /* nothing predicts the first token */
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(tops, 0)));
    assert_int_equal(cJSON_GetArrayItem(offs, 0)->valueint, 0);
    hflow_token_logprobs *ref = calloc((size_t)n, sizeof *ref);
    teacher_forced(ids, n, n_top, ref);
    char name[32];
    double prev_off = 0;
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "token_id:%d", ids[i]);
        assert_string_equal(cJSON_GetArrayItem(toks, i)->valuestring, name);
        double off = cJSON_GetArrayItem(offs, i)->valuedouble;
        assert_true(off >= prev_off);
        prev_off = off;
        if (i == 0) continue;
        assert_float_equal(cJSON_GetArrayItem(tlp, i)->valuedouble, ref[i].logprob, 1e-3);
        const cJSON *top = cJSON_GetArrayItem(tops, i);
        assert_int_equal(cJSON_GetArraySize(top), n_top);
        for (int t = 0; t < n_top; t++) {
            snprintf(name, sizeof name, "token_id:%d", ref[i].top_ids[t]);
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(top, name);
            /* near-ties may swap order between batch shapes: compare the values that are there */
            if (e) assert_float_equal(e->valuedouble, ref[i].top_logprobs[t], 1e-3);
            else assert_true(t > 0 && ref[i].top_logprobs[t - 1] - ref[i].top_logprobs[t] < 1e-3);
        }
    }
    free(ref);
}

static int cached_tokens(const cJSON *root) {
    const cJSON *u = cJSON_GetObjectItem(root, "usage");
    return cJSON_GetObjectItem(cJSON_GetObjectItem(u, "prompt_tokens_details"), "cached_tokens")->valueint;
}

static void test_echo_logprobs_equal_teacher_forced(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(target, "models/stories260K.gguf");
    int n_prompt;
    int32_t *prompt = tu_tokenize(target, "Once upon a time, there was a little girl", &n_prompt);
    int32_t ids[128];
    memcpy(ids, prompt, (size_t)n_prompt * sizeof *ids);
    int n = n_prompt + tu_greedy_reference(target, prompt, n_prompt, 20, ids + n_prompt);
    ids[5] = 300; /* an off-path token: its logprob must be low, and still equal */
    char body[4096];
    /* scoring only (max_tokens 0), then the same prompt grown by 3 tokens (a prefix hit), then with generation */
    int lens[3] = {n - 3, n, n};
    int gen[3] = {0, 0, 1};
    for (int r = 0; r < 3; r++) {
        char *pj = ids_json(ids, lens[r]);
        snprintf(body, sizeof body,
                 "{\"model\":\"t\",\"prompt\":%s,\"max_tokens\":%d,\"temperature\":0,\"echo\":true,\"logprobs\":5,"
                 "\"return_tokens_as_token_ids\":true}",
                 pj, gen[r]);
        free(pj);
        cJSON *root = post_completion(body);
        const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0);
        const cJSON *lps = cJSON_GetObjectItem(ch, "logprobs");
        check_echo(lps, ids, lens[r], 5);
        int n_entries = cJSON_GetArraySize(cJSON_GetObjectItem(lps, "tokens"));
        assert_int_equal(n_entries, lens[r] + gen[r]);
        if (r > 0) assert_true(cached_tokens(root) >= lens[0] - 1); /* the slot's entries were reused */
        if (gen[r]) { /* the generated token is the argmax after the prompt, its offset past the echo */
            int32_t next = -1;
            assert_int_equal(tu_greedy_reference(target, ids, lens[r], 1, &next), 1);
            char name[32];
            snprintf(name, sizeof name, "token_id:%d", next);
            assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(lps, "tokens"), lens[r])->valuestring, name);
            char *echo = hflow_detokenize(hflow_model_vocab(target), ids, lens[r], 0);
            const cJSON *offs = cJSON_GetObjectItem(lps, "text_offset");
            assert_int_equal(cJSON_GetArrayItem(offs, lens[r])->valueint, (int)strlen(echo));
            assert_memory_equal(cJSON_GetObjectItem(ch, "text")->valuestring, echo, strlen(echo));
            free(echo);
        }
        cJSON_Delete(root);
    }
    /* a text prompt, tokens as pieces (the default): one entry per prompt token plus the generated one */
    cJSON *root = post_completion("{\"model\":\"t\",\"prompt\":\"Once upon a time\",\"max_tokens\":2,"
                                  "\"temperature\":0,\"echo\":true,\"logprobs\":1}");
    const cJSON *lps = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "choices"), 0), "logprobs");
    int n_text;
    int32_t *text_ids = tu_tokenize(target, "Once upon a time", &n_text);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(lps, "tokens")), n_text + 2);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(lps, "tokens"), 2)->valuestring, " upon");
    hflow_token_logprobs ref[16];
    teacher_forced(text_ids, n_text, 1, ref);
    assert_float_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(lps, "token_logprobs"), 2)->valuedouble, ref[2].logprob,
                       1e-3);
    free(text_ids);
    cJSON_Delete(root);
    free(prompt);
}

static int32_t run_completions(int32_t k, const int32_t *prompt, int n_prompt, int32_t *out, hflow_spec_stats *st) {
    char ep[128];
    snprintf(ep, sizeof ep, "%s/v1#t", srv.base);
    hflow_spec_transport *tr = NULL;
    hflow_error err = {0};
    if (hflow_spec_transport_completions(ep, hflow_model_vocab(draft), 30, &tr, &err)) fail_msg("%s", err.message);
    hflow_spec_run_config cfg;
    hflow_spec_run_config_default(&cfg);
    cfg.ctl.fixed_k = k;
    cfg.max_tokens = N_GEN;
    int32_t *toks = NULL;
    if (hflow_spec_generate(draft, tr, prompt, n_prompt, &cfg, NULL, NULL, &toks, st, &err))
        fail_msg("spec via /v1/completions (k=%d): %s", k, err.message);
    hflow_spec_transport_free(tr);
    memcpy(out, toks, (size_t)st->n_generated * sizeof *out);
    free(toks);
    return st->n_generated;
}

static void test_greedy_equals_target_via_completions(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(target, "models/stories260K.gguf");
    static const char *prompts[] = {"Once upon a time", "The little dog", "Lily and Ben went to the park."};
    long drafted = 0, accepted = 0, generated = 0;
    double bytes_up = 0, bytes_down = 0;
    for (int p = 0; p < 3; p++) {
        int n_prompt;
        int32_t *prompt = tu_tokenize(target, prompts[p], &n_prompt);
        int32_t ref[N_GEN], got[N_GEN];
        int32_t n_ref = tu_greedy_reference(target, prompt, n_prompt, N_GEN, ref);
        for (int32_t k = 0; k <= 8; k++) { /* 0 = adaptive */
            hflow_spec_stats st;
            int32_t n = run_completions(k, prompt, n_prompt, got, &st);
            assert_int_equal(n, n_ref);
            assert_memory_equal(got, ref, (size_t)n * sizeof *got);
            assert_int_equal(st.stream_rounds, 0); /* this transport cannot stream: always speculates */
            drafted += st.drafted;
            accepted += st.accepted;
            generated += n;
            bytes_up += st.bytes_up;
            bytes_down += st.bytes_down;
        }
        free(prompt);
    }
    print_message("via /v1/completions: %ld of %ld draft tokens accepted; %.0f B up, %.0f B down per token\n",
                  accepted, drafted, bytes_up / generated, bytes_down / generated);
    assert_true(drafted > 0 && accepted > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_logprobs_equal_teacher_forced),
        cmocka_unit_test(test_greedy_equals_target_via_completions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
