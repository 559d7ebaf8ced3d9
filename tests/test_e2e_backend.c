/* test_e2e_backend.c - the client side of the lingua franca: our HTTP
 * backend (hflow_backend_complete) against the real `hybridflow serve` on
 * loopback. Streamed and non-streamed answers, greedy and seeded sampling,
 * completions and chat, equal the engine's own hflow_generate output for the
 * same prompt, parameters and seed; usage and finish reasons agree too. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "e2e.h"
#include "hybridflow/backend.h"
#include "hybridflow/engine.h"
#include "serve/chat_prompt.h"
#include "serve/openai_format.h"
#include "testutil.h"

static tu_server server;
static int up;
static hflow_model *model;

typedef struct ref_out {
    hflow_strbuf text;
    int n_prompt, n_gen;
    char finish[24];
    double lp_sum; /* generated tokens' logprobs */
    int lp_n;
} ref_out;

static int ref_cb(void *user, int32_t token, const char *text, size_t len, const hflow_token_logprobs *lp) {
    ref_out *r = user;
    if (lp && token >= 0) r->lp_sum += lp->logprob, r->lp_n++;
    hflow_strbuf_append(&r->text, text, len);
    return 0;
}

typedef struct gen_args {
    float temperature, top_p;
    uint64_t seed;
    int max_tokens;
} gen_args;

/* The engine's answer on a fresh session (what a cold server slot does). */
static void ref_generate(const char *prompt_text, int parse_special, const gen_args *a, ref_out *out) {
    memset(out, 0, sizeof *out);
    hflow_strbuf_init(&out->text);
    hflow_error err;
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(hflow_model_vocab(model), prompt_text, strlen(prompt_text), 1, parse_special,
                                    &ids, &n, &err), 0);
    hflow_session *s;
    hflow_session_params sp = {.n_ctx = 512};
    assert_int_equal(hflow_session_create(model, &sp, &s, &err), 0);
    hflow_sampler_params p = hflow_sampler_default_params();
    p.temperature = a->temperature;
    p.top_p = a->top_p;
    p.seed = a->seed;
    hflow_sampler *smp = hflow_sampler_create(&p, hflow_model_get_info(model)->n_vocab);
    hflow_generate_params gp = {.max_tokens = a->max_tokens, .want_logprobs = 1};
    hflow_generate_stats st;
    assert_int_equal(hflow_generate(s, smp, ids, n, &gp, ref_cb, out, &st, &err), 0);
    out->n_prompt = st.n_prompt;
    out->n_gen = st.n_generated;
    snprintf(out->finish, sizeof out->finish, "%s", st.finish_reason);
    hflow_sampler_free(smp);
    hflow_session_free(s);
    free(ids);
    /* The server's JSON carries valid UTF-8 only (stray bytes become U+FFFD). */
    cJSON *j = serve_json_utf8_string(out->text.data ? out->text.data : "", out->text.len);
    hflow_strbuf_reset(&out->text);
    hflow_strbuf_puts(&out->text, j->valuestring);
    cJSON_Delete(j);
}

static int collect(void *user, const char *text, size_t len) {
    hflow_strbuf_append(user, text, len);
    return 0;
}

/* One call through the HTTP backend; checks it against ref. */
static void check_call(hflow_backend *b, const hflow_chat_message *msgs, int n_msgs, const char *prompt,
                       const gen_args *a, int stream, const ref_out *ref) {
    hflow_request rq;
    hflow_request_init(&rq);
    rq.messages = msgs;
    rq.n_messages = n_msgs;
    rq.prompt = prompt;
    rq.max_tokens = a->max_tokens;
    rq.temperature = a->temperature;
    rq.top_p = a->top_p;
    rq.has_seed = 1;
    rq.seed = a->seed;
    hflow_strbuf deltas;
    hflow_strbuf_init(&deltas);
    if (stream) {
        rq.on_delta = collect;
        rq.user = &deltas;
    }
    hflow_response resp;
    hflow_error err;
    int rc = hflow_backend_complete(b, &rq, &resp, &err);
    if (rc) fail_msg("complete: %s", err.message);
    assert_string_equal(resp.text, ref->text.data ? ref->text.data : "");
    if (stream) assert_string_equal(deltas.data ? deltas.data : "", resp.text);
    assert_int_equal(resp.prompt_tokens, ref->n_prompt);
    assert_int_equal(resp.completion_tokens, ref->n_gen);
    assert_int_equal(resp.usage_estimated, 0);
    assert_string_equal(resp.finish_reason, ref->finish);
    assert_string_equal(resp.model, "edge");
    assert_int_equal(resp.http_status, 200);
    assert_true(resp.ttft_s > 0 && resp.ttft_s <= resp.latency_s);
    hflow_response_clear(&resp);
    hflow_strbuf_free(&deltas);
}

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    if (!e2e_edge_model()) return -1;
    hflow_model_params mp = {.n_threads = 1};
    hflow_error err;
    if (hflow_model_load(e2e_edge_model(), &mp, &model, &err)) return -1;
    if (e2e_start(&server, 512, 2, NULL)) return -1;
    up = 1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    int rc = up ? tu_server_stop(&server) : 0;
    hflow_model_free(model);
    curl_global_cleanup();
    return rc;
}

static hflow_backend *open_edge(void) {
    char ep[256];
    hflow_backend *b;
    hflow_error err;
    assert_int_equal(hflow_backend_open(e2e_endpoint(&server, "edge", ep, sizeof ep), NULL, &b, &err), 0);
    return b;
}

static const gen_args cases[] = {
    {0.0f, 1.0f, 1, 24},   /* greedy */
    {0.8f, 0.9f, 42, 24},  /* seeded sampling */
    {1.0f, 1.0f, 7, 40},
};

static void test_completion_equals_engine(void **state) {
    (void)state;
    hflow_backend *b = open_edge();
    const char *prompts[] = {"Once upon a time", "Lily and Tom went to the park. They"};
    for (size_t p = 0; p < 2; p++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            ref_out ref;
            ref_generate(prompts[p], 0, &cases[c], &ref);
            assert_true(ref.n_gen > 0);
            check_call(b, NULL, 0, prompts[p], &cases[c], 0, &ref);
            /* A random stand-in model emits stray bytes, which the server
             * sanitises per chunk when streaming: only real text compares. */
            if (e2e_have_stories()) check_call(b, NULL, 0, prompts[p], &cases[c], 1, &ref);
            hflow_strbuf_free(&ref.text);
        }
    hflow_backend_free(b);
}

static void test_chat_equals_engine(void **state) {
    (void)state;
    hflow_backend *b = open_edge();
    hflow_chat_message msgs[] = {{"system", "You tell short stories."}, {"user", "Tell me about a cat."}};
    serve_message smsgs[] = {{"system", "You tell short stories."}, {"user", "Tell me about a cat."}};
    char *text;
    hflow_error err;
    assert_int_equal(serve_chat_prompt(model, smsgs, 2, &text, &err), 0);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ref_out ref;
        ref_generate(text, 1, &cases[c], &ref);
        check_call(b, msgs, 2, NULL, &cases[c], 0, &ref);
        if (e2e_have_stories()) check_call(b, msgs, 2, NULL, &cases[c], 1, &ref);
        hflow_strbuf_free(&ref.text);
    }
    free(text);
    hflow_backend_free(b);
}

/* A stop string cuts both answers at the same place, and the server reports "stop". */
static void test_stop_string_equals_engine(void **state) {
    (void)state;
    hflow_backend *b = open_edge();
    gen_args a = {0.0f, 1.0f, 1, 48};
    ref_out full;
    ref_generate("Once upon a time", 0, &a, &full);
    /* Stop at the first space-delimited word after the fifth character of the answer. */
    const char *txt = full.text.data ? full.text.data : "";
    const char *sp = strlen(txt) > 6 ? strchr(txt + 5, ' ') : NULL;
    if (!sp) {
        hflow_strbuf_free(&full.text);
        hflow_backend_free(b);
        skip();
    }
    char stop[8];
    snprintf(stop, sizeof stop, "%.3s", sp);
    const char *stops[] = {stop};
    hflow_request rq;
    hflow_request_init(&rq);
    rq.prompt = "Once upon a time";
    rq.max_tokens = 48;
    rq.temperature = 0;
    rq.stop = stops;
    rq.n_stop = 1;
    hflow_response resp;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(b, &rq, &resp, &err), 0);
    size_t cut = (size_t)(strstr(txt, stop) - txt);
    assert_int_equal(strlen(resp.text), cut);
    assert_memory_equal(resp.text, txt, cut);
    assert_string_equal(resp.finish_reason, "stop");
    hflow_response_clear(&resp);
    hflow_strbuf_free(&full.text);
    hflow_backend_free(b);
}

/* want_confidence: the mean logprob the server sends (chat content[] and
 * completions token_logprobs, whole and streamed) is the engine's own mean
 * over the generated tokens (up to the JSON's float printing). */
static void test_confidence_equals_engine(void **state) {
    (void)state;
    hflow_backend *b = open_edge();
    hflow_chat_message msgs[] = {{"user", "Tell me about a dog."}};
    serve_message smsgs[] = {{"user", "Tell me about a dog."}};
    char *chat_text;
    hflow_error err;
    assert_int_equal(serve_chat_prompt(model, smsgs, 1, &chat_text, &err), 0);
    const gen_args a = {0.0f, 1.0f, 1, 20};
    for (int chat = 0; chat < 2; chat++) {
        ref_out ref;
        ref_generate(chat ? chat_text : "Once upon a time", chat, &a, &ref);
        assert_true(ref.lp_n > 0 && ref.lp_n == ref.n_gen);
        for (int stream = 0; stream < 2; stream++) {
            hflow_request rq;
            hflow_request_init(&rq);
            rq.messages = chat ? msgs : NULL;
            rq.n_messages = chat;
            rq.prompt = chat ? NULL : "Once upon a time";
            rq.max_tokens = a.max_tokens;
            rq.temperature = 0;
            rq.want_confidence = 1;
            hflow_strbuf deltas;
            hflow_strbuf_init(&deltas);
            if (stream) rq.on_delta = collect, rq.user = &deltas;
            hflow_response resp;
            if (hflow_backend_complete(b, &rq, &resp, &err)) fail_msg("complete: %s", err.message);
            assert_int_equal(resp.confidence_known, 1);
            assert_int_equal(resp.logprob_tokens, ref.lp_n);
            assert_float_equal(resp.mean_logprob, ref.lp_sum / ref.lp_n, 1e-5);
            assert_true(resp.mean_logprob <= 0);
            hflow_response_clear(&resp);
            hflow_strbuf_free(&deltas);
        }
        hflow_strbuf_free(&ref.text);
    }
    free(chat_text);
    hflow_backend_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completion_equals_engine),
        cmocka_unit_test(test_chat_equals_engine),
        cmocka_unit_test(test_stop_string_equals_engine),
        cmocka_unit_test(test_confidence_equals_engine),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
