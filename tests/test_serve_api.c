/* test_serve_api.c - `hybridflow serve` with stories260K against the engine
 * run in-process: chat and completion answers, non-streamed and streamed,
 * greedy and seeded sampling, equal hflow_generate's for the same prompt and
 * parameters; 8 concurrent streams equal 8 serial requests; a prompt that
 * extends a cached one reuses the slot's KV cache (usage and /metrics show it)
 * and still gives the logprobs of a cold run; tokenize/detokenize round-trip.
 * Skips (visibly) when ../shared is absent. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/strbuf.h"
#include "http_client.h"
#include "hybridflow/backend.h"
#include "hybridflow/grammar.h"
#include "hybridflow/modelgen.h"
#include "hybridflow/serve.h"
#include "hybridflow/engine.h"
#include "serve/chat_prompt.h"
#include "serve/openai_format.h"
#include "server_proc.h"
#include "testutil.h"

#define REL "models/stories260K.gguf"
#define MAX_OUT 64

static char model_path[1024];
static char tiny_path[512]; /* a second, generated model served beside stories */
static int have_model;
static hflow_model *model;
static tu_server server;

/* ---- the engine's own answer ---- */

typedef struct ref_out {
    hflow_strbuf text;
    int n;
    int32_t ids[MAX_OUT];
    float lp[MAX_OUT];
    int32_t top_ids[MAX_OUT][5];
    float top_lp[MAX_OUT][5];
} ref_out;

static int ref_cb(void *user, int32_t token, const char *text, size_t len, const hflow_token_logprobs *lp) {
    ref_out *o = user;
    hflow_strbuf_append(&o->text, text, len);
    if (o->n < MAX_OUT) {
        o->ids[o->n] = token;
        if (lp) {
            o->lp[o->n] = lp->logprob;
            for (int i = 0; i < 5 && i < lp->n_top; i++) {
                o->top_ids[o->n][i] = lp->top_ids[i];
                o->top_lp[o->n][i] = lp->top_logprobs[i];
            }
        }
    }
    o->n++;
    return 0;
}

typedef struct gen_args {
    float temperature, top_p;
    uint64_t seed;
    int max_tokens;
    int n_top; /* logprobs wanted */
} gen_args;

/* Cold run on a fresh session, as the server would do it. */
static void ref_generate(const int32_t *prompt, int n_prompt, const gen_args *a, ref_out *out) {
    memset(out, 0, sizeof *out);
    hflow_strbuf_init(&out->text);
    hflow_session *s;
    hflow_error err;
    hflow_session_params sp = {.n_ctx = 512};
    assert_int_equal(hflow_session_create(model, &sp, &s, &err), 0);
    hflow_sampler_params p = hflow_sampler_default_params();
    p.temperature = a->temperature;
    p.top_p = a->top_p;
    p.seed = a->seed;
    p.n_top_logprobs = a->n_top;
    hflow_sampler *smp = hflow_sampler_create(&p, hflow_model_get_info(model)->n_vocab);
    hflow_generate_params gp = {.max_tokens = a->max_tokens, .want_logprobs = a->n_top > 0};
    hflow_generate_stats st;
    assert_int_equal(hflow_generate(s, smp, prompt, n_prompt, &gp, ref_cb, out, &st, &err), 0);
    hflow_sampler_free(smp);
    hflow_session_free(s);
    /* JSON carries only valid UTF-8: the server shows stray bytes (random
     * byte tokens) as U+FFFD, so the reference text is compared that way too. */
    cJSON *j = serve_json_utf8_string(out->text.data ? out->text.data : "", out->text.len);
    hflow_strbuf_reset(&out->text);
    hflow_strbuf_puts(&out->text, j->valuestring);
    cJSON_Delete(j);
}

static void tokenize(const char *text, int parse_special, int32_t **ids, int *n) {
    hflow_error err;
    assert_int_equal(hflow_tokenize(hflow_model_vocab(model), text, strlen(text), 1, parse_special, ids, n, &err), 0);
}

static void ref_completion(const char *prompt, const gen_args *a, ref_out *out) {
    int32_t *ids;
    int n;
    tokenize(prompt, 0, &ids, &n);
    ref_generate(ids, n, a, out);
    free(ids);
}

static void ref_chat(const serve_message *msgs, int n_msgs, const gen_args *a, ref_out *out) {
    char *text;
    hflow_error err;
    assert_int_equal(serve_chat_prompt(model, msgs, n_msgs, &text, &err), 0);
    int32_t *ids;
    int n;
    tokenize(text, 1, &ids, &n);
    ref_generate(ids, n, a, out);
    free(ids);
    free(text);
}

/* ---- talking to the server ---- */

static cJSON *post_json(const char *path, const char *body, long want_status) {
    char u[256];
    tu_http_reply r;
    assert_int_equal(tu_http("POST", tu_server_url(&server, path, u, sizeof u), body, strlen(body), NULL, 0, &r), 0);
    if (r.status != want_status) fail_msg("%s -> %ld: %s", path, r.status, r.body);
    cJSON *j = cJSON_Parse(r.body);
    assert_non_null(j);
    tu_http_reply_free(&r);
    return j;
}

/* Concatenated text of choice `index` of an SSE stream; checks it ends with
 * [DONE] and every chunk names a choice below n; *usage gets the usage chunk
 * when there is one (caller deletes). */
static char *stream_choice_text(const char *body, int chat, cJSON **usage, int index, int n) {
    hflow_strbuf t;
    hflow_strbuf_init(&t);
    hflow_strbuf_puts(&t, "");
    int done = 0;
    if (usage) *usage = NULL;
    for (const char *p = body; (p = strstr(p, "data: ")); p += 6) {
        assert_false(done); /* nothing after [DONE] */
        if (!strncmp(p + 6, "[DONE]\n\n", 8)) {
            done = 1;
            continue;
        }
        const char *end = strstr(p, "\n\n");
        assert_non_null(end);
        cJSON *j = cJSON_ParseWithLength(p + 6, (size_t)(end - p - 6));
        assert_non_null(j);
        assert_null(cJSON_GetObjectItem(j, "error"));
        cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
        if (c) {
            int idx = cJSON_GetObjectItem(c, "index")->valueint;
            assert_true(idx >= 0 && idx < n);
            if (idx != index) c = NULL;
        }
        if (c) {
            cJSON *txt = chat ? cJSON_GetObjectItem(cJSON_GetObjectItem(c, "delta"), "content")
                              : cJSON_GetObjectItem(c, "text");
            if (cJSON_IsString(txt)) hflow_strbuf_puts(&t, txt->valuestring);
        } else if (usage && cJSON_IsObject(cJSON_GetObjectItem(j, "usage"))) {
            *usage = cJSON_DetachItemFromObject(j, "usage");
        }
        cJSON_Delete(j);
    }
    assert_true(done);
    return hflow_strbuf_take(&t);
}

static char *stream_text(const char *body, int chat, cJSON **usage) { return stream_choice_text(body, chat, usage, 0, 1); }

static char *post_stream(const char *path, const char *body, int chat, cJSON **usage) {
    char u[256];
    tu_http_reply r;
    assert_int_equal(tu_http("POST", tu_server_url(&server, path, u, sizeof u), body, strlen(body), NULL, 0, &r), 0);
    if (r.status != 200) fail_msg("%s -> %ld: %s", path, r.status, r.body);
    char *t = stream_text(r.body, chat, usage);
    tu_http_reply_free(&r);
    return t;
}

static const char *answer_text(cJSON *j, int chat) {
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    cJSON *t = chat ? cJSON_GetObjectItem(cJSON_GetObjectItem(c, "message"), "content") : cJSON_GetObjectItem(c, "text");
    assert_true(cJSON_IsString(t));
    return t->valuestring;
}

static int usage_field(cJSON *usage, const char *name) {
    cJSON *v = cJSON_GetObjectItem(usage, name);
    assert_true(cJSON_IsNumber(v));
    return v->valueint;
}

static double metric(const char *name) {
    char u[256];
    tu_http_reply r;
    assert_int_equal(tu_http("GET", tu_server_url(&server, "/metrics", u, sizeof u), NULL, 0, NULL, 0, &r), 0);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(r.body, key);
    assert_non_null(p);
    double v = atof(p + strlen(key));
    tu_http_reply_free(&r);
    return v;
}

/* ---- fixtures ---- */

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL); /* before any thread uses curl */
    if (!tu_shared_path(model_path, sizeof model_path, REL)) return 0;
    hflow_model_params mp = {.n_threads = 1};
    hflow_error err;
    if (hflow_model_load(model_path, &mp, &model, &err)) {
        fprintf(stderr, "load: %s\n", err.message);
        return -1;
    }
    snprintf(tiny_path, sizeof tiny_path, "%s/serve-api-tiny.gguf", tu_tmpdir());
    hflow_gen_params gp;
    hflow_gen_params_default(&gp);
    if (hflow_gen_params_preset(&gp, "tiny", &err) || hflow_gen_model(&gp, tiny_path, &err)) return -1;
    char spec[1100], spec2[600];
    snprintf(spec, sizeof spec, "stories=%s", model_path);
    snprintf(spec2, sizeof spec2, "%s", tiny_path); /* named after its file: serve-api-tiny */
    const char *args[] = {"--model", spec, "--model", spec2, "--parallel", "4", "--ctx", "512", "--threads", "1", NULL};
    if (tu_server_start(&server, args)) return -1;
    have_model = 1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    int rc = have_model ? tu_server_stop(&server) : 0;
    hflow_model_free(model);
    if (tiny_path[0]) unlink(tiny_path);
    curl_global_cleanup();
    return rc;
}

#define REQUIRE_MODEL()                                        \
    do {                                                       \
        const char *shared_model = have_model ? model_path : NULL; \
        TU_REQUIRE_SHARED(shared_model, REL);                  \
    } while (0)

/* ---- tests ---- */

static void test_health_and_models(void **state) {
    (void)state;
    REQUIRE_MODEL();
    char u[256];
    tu_http_reply r;
    tu_http("GET", tu_server_url(&server, "/health", u, sizeof u), NULL, 0, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    tu_http_reply_free(&r);
    tu_http("GET", tu_server_url(&server, "/v1/models", u, sizeof u), NULL, 0, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 2);
    cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "id")), "stories");
    m = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(m, "id")), "serve-api-tiny");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "object")), "list");
    cJSON_Delete(j);
    tu_http_reply_free(&r);
}

static void check_completion(const char *prompt, const gen_args *a) {
    ref_out ref;
    ref_completion(prompt, a, &ref);
    assert_true(ref.n > 0);
    char body[1024];
    snprintf(body, sizeof body,
             "{\"model\":\"stories\",\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":%g,\"top_p\":%g,\"seed\":%llu",
             prompt, a->max_tokens, a->temperature, a->top_p, (unsigned long long)a->seed);
    char whole[1100], streamed[1100];
    snprintf(whole, sizeof whole, "%s}", body);
    snprintf(streamed, sizeof streamed, "%s,\"stream\":true,\"stream_options\":{\"include_usage\":true}}", body);
    cJSON *j = post_json("/v1/completions", whole, 200);
    assert_string_equal(answer_text(j, 0), ref.text.data);
    cJSON *usage = cJSON_GetObjectItem(j, "usage");
    assert_int_equal(usage_field(usage, "completion_tokens"), ref.n);
    assert_int_equal(usage_field(usage, "total_tokens"),
                     usage_field(usage, "prompt_tokens") + usage_field(usage, "completion_tokens"));
    cJSON_Delete(j);
    cJSON *su;
    char *t = post_stream("/v1/completions", streamed, 0, &su);
    assert_string_equal(t, ref.text.data);
    assert_non_null(su);
    assert_int_equal(usage_field(su, "completion_tokens"), ref.n);
    cJSON_Delete(su);
    free(t);
    hflow_strbuf_free(&ref.text);
}

static void test_completion_greedy_matches_engine(void **state) {
    (void)state;
    REQUIRE_MODEL();
    gen_args a = {.temperature = 0, .top_p = 1, .seed = 1, .max_tokens = 40};
    check_completion("Once upon a time", &a);
}

static void test_completion_sampled_matches_engine(void **state) {
    (void)state;
    REQUIRE_MODEL();
    gen_args a = {.temperature = 0.9f, .top_p = 0.95f, .seed = 1234, .max_tokens = 40};
    check_completion("The little dog", &a);
    a.seed = 99;
    check_completion("The little dog", &a);
}

static void check_chat(const gen_args *a) {
    serve_message msgs[] = {{"system", "You tell short stories."}, {"user", "Tell me about a cat."}};
    ref_out ref;
    ref_chat(msgs, 2, a, &ref);
    char body[1024];
    snprintf(body, sizeof body,
             "{\"model\":\"stories\",\"messages\":[{\"role\":\"system\",\"content\":\"You tell short stories.\"},"
             "{\"role\":\"user\",\"content\":\"Tell me about a cat.\"}],\"max_completion_tokens\":%d,"
             "\"temperature\":%g,\"top_p\":%g,\"seed\":%llu",
             a->max_tokens, a->temperature, a->top_p, (unsigned long long)a->seed);
    char whole[1100], streamed[1100];
    snprintf(whole, sizeof whole, "%s}", body);
    snprintf(streamed, sizeof streamed, "%s,\"stream\":true}", body);
    cJSON *j = post_json("/v1/chat/completions", whole, 200);
    assert_string_equal(answer_text(j, 1), ref.text.data);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "object")), "chat.completion");
    cJSON_Delete(j);
    char *t = post_stream("/v1/chat/completions", streamed, 1, NULL);
    assert_string_equal(t, ref.text.data);
    free(t);
    hflow_strbuf_free(&ref.text);
}

static void test_chat_matches_engine(void **state) {
    (void)state;
    REQUIRE_MODEL();
    gen_args a = {.temperature = 0, .top_p = 1, .seed = 1, .max_tokens = 32};
    check_chat(&a);
    a.temperature = 0.7f;
    a.seed = 7;
    check_chat(&a);
}

/* Chat logprobs, whole and streamed (one entry per chunk), equal the engine's. */
static void check_chat_logprob_entry(cJSON *e, const ref_out *ref, int i) {
    assert_true(i < ref->n && i < MAX_OUT);
    assert_true(fabs(cJSON_GetObjectItem(e, "logprob")->valuedouble - ref->lp[i]) <= 1e-5);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(e, "bytes")));
    cJSON *top = cJSON_GetObjectItem(e, "top_logprobs");
    assert_int_equal(cJSON_GetArraySize(top), 3);
    for (int k = 0; k < 3; k++)
        assert_true(fabs(cJSON_GetObjectItem(cJSON_GetArrayItem(top, k), "logprob")->valuedouble - ref->top_lp[i][k]) <=
                    1e-5);
}

static void test_chat_logprobs_whole_and_streamed(void **state) {
    (void)state;
    REQUIRE_MODEL();
    serve_message msgs[] = {{"user", "Tell me about a frog."}};
    gen_args a = {.temperature = 0, .top_p = 1, .max_tokens = 12, .n_top = 3};
    ref_out ref;
    ref_chat(msgs, 1, &a, &ref);
    const char *body = "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about a frog.\"}],"
                       "\"max_tokens\":12,\"temperature\":0,\"logprobs\":true,\"top_logprobs\":3";
    char whole[512], streamed[512];
    snprintf(whole, sizeof whole, "%s}", body);
    snprintf(streamed, sizeof streamed, "%s,\"stream\":true}", body);
    cJSON *j = post_json("/v1/chat/completions", whole, 200);
    cJSON *content = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "logprobs"), "content");
    assert_int_equal(cJSON_GetArraySize(content), ref.n);
    for (int i = 0; i < ref.n; i++) check_chat_logprob_entry(cJSON_GetArrayItem(content, i), &ref, i);
    cJSON_Delete(j);

    char u[256];
    tu_http_reply r;
    assert_int_equal(tu_http("POST", tu_server_url(&server, "/v1/chat/completions", u, sizeof u), streamed,
                             strlen(streamed), NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    int n = 0;
    for (const char *p = r.body; (p = strstr(p, "data: {")); p += 6) {
        const char *end = strstr(p, "\n\n");
        cJSON *c = cJSON_ParseWithLength(p + 6, (size_t)(end - p - 6));
        assert_non_null(c);
        cJSON *lp = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0), "logprobs");
        if (cJSON_IsObject(lp)) {
            cJSON *e;
            cJSON_ArrayForEach(e, cJSON_GetObjectItem(lp, "content")) check_chat_logprob_entry(e, &ref, n++);
        }
        cJSON_Delete(c);
    }
    assert_int_equal(n, ref.n);
    tu_http_reply_free(&r);
    hflow_strbuf_free(&ref.text);
}

/* ---- concurrency ---- */

#define N_CONC 8
static const char *conc_prompts[N_CONC] = {"Once upon a time", "The cat", "Tom had a ball", "Lily went to the park",
                                           "One day, a bird", "The sun was hot", "Sam and Max", "There was a tree"};

typedef struct conc_call {
    int i;
    char *text;
} conc_call;

static char *conc_body(int i, char *buf, size_t n) {
    snprintf(buf, n, "{\"model\":\"stories\",\"prompt\":\"%s\",\"max_tokens\":32,\"temperature\":0.8,\"seed\":%d,"
                     "\"stream\":true}", conc_prompts[i], 100 + i);
    return buf;
}

static void *conc_thread(void *p) {
    conc_call *c = p;
    char body[512], u[256];
    tu_http_reply r;
    conc_body(c->i, body, sizeof body);
    tu_http("POST", tu_server_url(&server, "/v1/completions", u, sizeof u), body, strlen(body), NULL, 0, &r);
    c->text = r.status == 200 ? strdup(r.body) : NULL; /* parsed on the main thread (cmocka asserts) */
    tu_http_reply_free(&r);
    return NULL;
}

static void test_concurrent_streams_equal_serial(void **state) {
    (void)state;
    REQUIRE_MODEL();
    char *serial[N_CONC];
    char body[512];
    for (int i = 0; i < N_CONC; i++) {
        conc_body(i, body, sizeof body);
        serial[i] = post_stream("/v1/completions", body, 0, NULL);
    }
    conc_call calls[N_CONC];
    pthread_t th[N_CONC];
    for (int i = 0; i < N_CONC; i++) {
        calls[i] = (conc_call){i, NULL};
        pthread_create(&th[i], NULL, conc_thread, &calls[i]);
    }
    for (int i = 0; i < N_CONC; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < N_CONC; i++) {
        assert_non_null(calls[i].text);
        char *t = stream_text(calls[i].text, 0, NULL);
        assert_true(strlen(serial[i]) > 0);
        assert_string_equal(t, serial[i]);
        free(t);
        free(calls[i].text);
        free(serial[i]);
    }
}

/* ---- prefix reuse ---- */

#define P1 "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun."
#define P2 P1 " One day, she saw a big red ball."

static void test_prefix_reuse_same_logprobs(void **state) {
    (void)state;
    REQUIRE_MODEL();
    double hits0 = metric("hflow_prefix_cache_hits_total");
    double reused0 = metric("hflow_prompt_tokens_reused_total");
    cJSON *j = post_json("/v1/completions",
                         "{\"model\":\"stories\",\"prompt\":\"" P1 "\",\"max_tokens\":8,\"temperature\":0}", 200);
    cJSON_Delete(j);
    j = post_json("/v1/completions",
                  "{\"model\":\"stories\",\"prompt\":\"" P2 "\",\"max_tokens\":16,\"temperature\":0,\"logprobs\":5}", 200);
    int32_t *ids1;
    int n1;
    tokenize(P1, 0, &ids1, &n1);
    free(ids1);
    cJSON *usage = cJSON_GetObjectItem(j, "usage");
    int cached = usage_field(cJSON_GetObjectItem(usage, "prompt_tokens_details"), "cached_tokens");
    /* Everything of P1 but possibly its last token(s), which SentencePiece may merge with P2's next word. */
    assert_true(cached >= n1 - 2);
    assert_true(metric("hflow_prefix_cache_hits_total") >= hits0 + 1);
    assert_true(metric("hflow_prompt_tokens_reused_total") >= reused0 + cached);

    gen_args a = {.temperature = 0, .top_p = 1, .seed = 1, .max_tokens = 16, .n_top = 5};
    ref_out ref;
    ref_completion(P2, &a, &ref); /* cold: a fresh session */
    assert_string_equal(answer_text(j, 0), ref.text.data);
    cJSON *lps = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "logprobs");
    cJSON *tlp = cJSON_GetObjectItem(lps, "token_logprobs");
    cJSON *top = cJSON_GetObjectItem(lps, "top_logprobs");
    assert_int_equal(cJSON_GetArraySize(tlp), ref.n);
    for (int i = 0; i < ref.n && i < MAX_OUT; i++) {
        double got = cJSON_GetArrayItem(tlp, i)->valuedouble;
        if (fabs(got - ref.lp[i]) > 1e-5) fail_msg("step %d: warm logprob %.8f vs cold %.8f", i, got, ref.lp[i]);
        cJSON *tops = cJSON_GetArrayItem(top, i);
        assert_true(cJSON_GetArraySize(tops) >= 1 && cJSON_GetArraySize(tops) <= 5);
        /* The best alternative's logprob is the cold run's top-1. */
        double best = -1e30;
        cJSON *e;
        cJSON_ArrayForEach(e, tops) if (e->valuedouble > best) best = e->valuedouble;
        assert_true(fabs(best - ref.top_lp[i][0]) <= 1e-5);
    }
    hflow_strbuf_free(&ref.text);
    cJSON_Delete(j);
}

/* ---- token ids, echo, tokenize ---- */

static void test_token_prompt_echo_and_tokenize(void **state) {
    (void)state;
    REQUIRE_MODEL();
    const char *text = "Once upon a time";
    int32_t *ids;
    int n;
    tokenize(text, 0, &ids, &n);
    cJSON *j = post_json("/tokenize", "{\"model\":\"stories\",\"content\":\"Once upon a time\"}", 200);
    cJSON *toks = cJSON_GetObjectItem(j, "tokens");
    assert_int_equal(cJSON_GetArraySize(toks), n);
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_puts(&b, "{\"model\":\"stories\",\"tokens\":");
    for (int i = 0; i < n; i++) {
        assert_int_equal(cJSON_GetArrayItem(toks, i)->valueint, ids[i]);
        hflow_strbuf_printf(&b, "%s%d", i ? "," : "[", ids[i]);
    }
    hflow_strbuf_puts(&b, "]}");
    cJSON_Delete(j);
    j = post_json("/detokenize", b.data, 200);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "content")), text);
    cJSON_Delete(j);

    /* The same prompt as token ids, echoed: prompt text + the engine's continuation. */
    hflow_strbuf_reset(&b);
    hflow_strbuf_puts(&b, "{\"model\":\"stories\",\"echo\":true,\"max_tokens\":12,\"temperature\":0,\"prompt\":");
    for (int i = 0; i < n; i++) hflow_strbuf_printf(&b, "%s%d", i ? "," : "[", ids[i]);
    hflow_strbuf_puts(&b, "]}");
    j = post_json("/v1/completions", b.data, 200);
    gen_args a = {.temperature = 0, .top_p = 1, .max_tokens = 12};
    ref_out ref;
    ref_generate(ids, n, &a, &ref);
    char want[1024];
    snprintf(want, sizeof want, "%s%s", text, ref.text.data);
    assert_string_equal(answer_text(j, 0), want);
    cJSON_Delete(j);
    hflow_strbuf_free(&ref.text);
    hflow_strbuf_free(&b);
    free(ids);
}

/* ---- n > 1 ---- */

/* n choices: choice i is the engine's sample with seed + i, whole and
 * streamed; usage counts the prompt once and every choice's completion. */
static void test_n_choices(void **state) {
    (void)state;
    REQUIRE_MODEL();
    const int n = 3;
    char *want[3];
    int want_tokens = 0;
    for (int i = 0; i < n; i++) {
        gen_args a = {.temperature = 0.9f, .top_p = 1, .seed = 40 + (uint64_t)i, .max_tokens = 16};
        ref_out ref;
        ref_completion("The little dog", &a, &ref);
        want[i] = hflow_strbuf_take(&ref.text);
        want_tokens += ref.n;
    }
    assert_true(strcmp(want[0], want[1]) || strcmp(want[1], want[2])); /* the seeds really differ */
    const char *body = "{\"model\":\"stories\",\"prompt\":\"The little dog\",\"max_tokens\":16,\"temperature\":0.9,"
                       "\"seed\":40,\"n\":3%s}";
    char whole[400], streamed[400];
    snprintf(whole, sizeof whole, body, "");
    snprintf(streamed, sizeof streamed, body, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    cJSON *j = post_json("/v1/completions", whole, 200);
    cJSON *choices = cJSON_GetObjectItem(j, "choices");
    assert_int_equal(cJSON_GetArraySize(choices), n);
    for (int i = 0; i < n; i++) {
        cJSON *c = cJSON_GetArrayItem(choices, i);
        assert_int_equal(cJSON_GetObjectItem(c, "index")->valueint, i);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(c, "text")), want[i]);
    }
    cJSON *usage = cJSON_GetObjectItem(j, "usage");
    assert_int_equal(usage_field(usage, "completion_tokens"), want_tokens);
    int prompt_tokens = usage_field(usage, "prompt_tokens");
    int32_t *ids;
    int np;
    tokenize("The little dog", 0, &ids, &np);
    assert_int_equal(prompt_tokens, np); /* once, not n times */
    free(ids);
    cJSON_Delete(j);
    char u[256];
    tu_http_reply r;
    assert_int_equal(tu_http("POST", tu_server_url(&server, "/v1/completions", u, sizeof u), streamed, strlen(streamed),
                             NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    for (int i = 0; i < n; i++) {
        cJSON *su = NULL;
        char *t = stream_choice_text(r.body, 0, i == n - 1 ? &su : NULL, i, n);
        assert_string_equal(t, want[i]);
        free(t);
        if (su) {
            assert_int_equal(usage_field(su, "completion_tokens"), want_tokens);
            cJSON_Delete(su);
        }
        free(want[i]);
    }
    tu_http_reply_free(&r);
}

/* ---- logit_bias and penalties ---- */

/* Greedy continuation of "Once upon a time" as token ids (vLLM's
 * return_tokens_as_token_ids), with extra request fields. */
static int greedy_ids(const char *extra, int32_t *ids, int cap) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"max_tokens\":%d,\"temperature\":0,"
             "\"logprobs\":0,\"return_tokens_as_token_ids\":true%s}", cap, extra);
    cJSON *j = post_json("/v1/completions", body, 200);
    cJSON *toks = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0),
                                                          "logprobs"), "tokens");
    int n = cJSON_GetArraySize(toks);
    for (int i = 0; i < n && i < cap; i++) {
        const char *t = cJSON_GetStringValue(cJSON_GetArrayItem(toks, i));
        assert_non_null(t);
        assert_int_equal(strncmp(t, "token_id:", 9), 0);
        ids[i] = atoi(t + 9);
    }
    cJSON_Delete(j);
    return n;
}

/* logit_bias bans and forces tokens; a frequency penalty changes a greedy
 * text that repeats itself; an id outside the vocabulary is a 400. */
static void test_logit_bias_and_penalties(void **state) {
    (void)state;
    REQUIRE_MODEL();
    int32_t base[64], got[64];
    int n = greedy_ids("", base, 64);
    assert_int_equal(n, 64);
    char extra[128];
    snprintf(extra, sizeof extra, ",\"logit_bias\":{\"%d\":-100}", base[0]);
    int m = greedy_ids(extra, got, 24);
    assert_true(m > 0);
    for (int i = 0; i < m; i++) assert_int_not_equal(got[i], base[0]);
    int32_t forced = base[5] == base[0] ? base[6] : base[5];
    snprintf(extra, sizeof extra, ",\"logit_bias\":{\"%d\":100},\"ignore_eos\":true", forced);
    assert_int_equal(greedy_ids(extra, got, 6), 6);
    for (int i = 0; i < 6; i++) assert_int_equal(got[i], forced);
    int repeats = 0;
    for (int i = 1; i < 64; i++)
        for (int k = 0; k < i; k++) repeats += base[i] == base[k];
    assert_true(repeats > 0); /* the story repeats tokens ("the", "."), so the penalty has work to do */
    m = greedy_ids(",\"frequency_penalty\":2,\"presence_penalty\":1", got, 64);
    assert_true(m < 64 || memcmp(got, base, sizeof base) != 0);
    cJSON *e = post_json("/v1/completions", "{\"model\":\"stories\",\"prompt\":\"a\",\"logit_bias\":{\"99999999\":5}}", 400);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "error"), "param")),
                        "logit_bias");
    cJSON_Delete(e);
}

/* ---- response_format json_object ---- */

/* The id of the token whose whole text is `c` (a byte token of stories260K). */
static int32_t byte_token(char c) {
    hflow_token_texts *tt;
    hflow_error err;
    assert_int_equal(hflow_token_texts_create(hflow_model_vocab(model), &tt, &err), 0);
    int32_t found = -1;
    for (int32_t id = 0; id < hflow_token_texts_count(tt) && found < 0; id++) {
        size_t len;
        const char *t = hflow_token_texts_get(tt, id, &len);
        if (len == 1 && t[0] == c) found = id;
    }
    hflow_token_texts_free(tt);
    assert_true(found >= 0);
    return found;
}

/* The chat answer is one JSON object, streamed or not (the story model is
 * nudged toward closing its strings and the object, as in test_grammar_json);
 * json_schema and a grammar beside json_object are 400s. */
static void test_response_format_json_object(void **state) {
    (void)state;
    REQUIRE_MODEL();
    char body[768];
    snprintf(body, sizeof body,
             "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"The cat as JSON\"}],"
             "\"max_tokens\":300,\"temperature\":0.7,\"seed\":3,\"response_format\":{\"type\":\"json_object\"},"
             "\"logit_bias\":{\"%d\":4,\"%d\":12}", byte_token('"'), byte_token('}'));
    char whole[800], streamed[800];
    snprintf(whole, sizeof whole, "%s}", body);
    snprintf(streamed, sizeof streamed, "%s,\"stream\":true}", body);
    cJSON *j = post_json("/v1/chat/completions", whole, 200);
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(ch, "finish_reason")), "stop");
    const char *text = answer_text(j, 1);
    cJSON *obj = cJSON_Parse(text);
    if (!cJSON_IsObject(obj)) fail_msg("not a JSON object: %s", text);
    cJSON_Delete(obj);
    char *t = post_stream("/v1/chat/completions", streamed, 1, NULL);
    assert_string_equal(t, text);
    free(t);
    cJSON_Delete(j);
    const char *bad[] = {
        "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
        "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{}}}}",
        "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],"
        "\"response_format\":{\"type\":\"json_object\"},\"grammar\":\"plan\"}",
    };
    for (int i = 0; i < 2; i++) {
        cJSON *e = post_json("/v1/chat/completions", bad[i], 400);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "error"), "param")),
                            "response_format");
        cJSON_Delete(e);
    }
}

/* ---- the project's own HTTP backend as the client ---- */

static int collect_delta(void *user, const char *text, size_t len) {
    hflow_strbuf_append(user, text, len);
    return 0;
}

static void test_http_backend_drives_server(void **state) {
    (void)state;
    REQUIRE_MODEL();
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "%s/v1#stories", server.base);
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.max_retries = 0;
    hflow_backend *b;
    hflow_error err;
    assert_int_equal(hflow_backend_open(endpoint, &o, &b, &err), 0);
    hflow_chat_message msgs[] = {{"user", "Tell me about a dog."}};
    serve_message smsgs[] = {{"user", "Tell me about a dog."}};
    gen_args a = {.temperature = 0.8f, .top_p = 0.9f, .seed = 4242, .max_tokens = 24};
    ref_out ref;
    ref_chat(smsgs, 1, &a, &ref);
    for (int streamed = 0; streamed < 2; streamed++) {
        hflow_request rq;
        hflow_request_init(&rq);
        rq.messages = msgs;
        rq.n_messages = 1;
        rq.max_tokens = a.max_tokens;
        rq.temperature = a.temperature;
        rq.top_p = a.top_p;
        rq.has_seed = 1;
        rq.seed = a.seed;
        hflow_strbuf deltas;
        hflow_strbuf_init(&deltas);
        hflow_strbuf_puts(&deltas, "");
        if (streamed) {
            rq.on_delta = collect_delta;
            rq.user = &deltas;
        }
        hflow_response resp;
        memset(&resp, 0, sizeof resp);
        if (hflow_backend_complete(b, &rq, &resp, &err)) fail_msg("backend: %s", err.message);
        assert_string_equal(resp.text, ref.text.data);
        if (streamed) assert_string_equal(deltas.data, ref.text.data);
        assert_int_equal(resp.completion_tokens, ref.n);
        assert_true(resp.prompt_tokens > 0);
        assert_false(resp.usage_estimated);
        assert_int_equal(resp.http_status, 200);
        hflow_response_clear(&resp);
        hflow_strbuf_free(&deltas);
    }
    hflow_strbuf_free(&ref.text);
    hflow_backend_free(b);
}

/* Two models: each request goes to the one it names; naming none is refused. */
static void test_two_models(void **state) {
    (void)state;
    REQUIRE_MODEL();
    hflow_model *tiny;
    hflow_model_params mp = {.n_threads = 1};
    hflow_error err;
    assert_int_equal(hflow_model_load(tiny_path, &mp, &tiny, &err), 0);
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(hflow_model_vocab(tiny), "abc", 3, 1, 0, &ids, &n, &err), 0);
    cJSON *j = post_json("/tokenize", "{\"model\":\"serve-api-tiny\",\"content\":\"abc\"}", 200);
    cJSON *toks = cJSON_GetObjectItem(j, "tokens");
    assert_int_equal(cJSON_GetArraySize(toks), n);
    for (int i = 0; i < n; i++) assert_int_equal(cJSON_GetArrayItem(toks, i)->valueint, ids[i]);
    cJSON_Delete(j);
    free(ids);
    hflow_model_free(tiny);
    j = post_json("/v1/completions", "{\"model\":\"serve-api-tiny\",\"prompt\":\"abc\",\"max_tokens\":4}", 200);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "model")), "serve-api-tiny");
    cJSON_Delete(j);
    j = post_json("/tokenize", "{\"content\":\"abc\"}", 400); /* which model? */
    cJSON_Delete(j);
}

/* The in-process API (serve.h) with a borrowed, already loaded model. */
static void test_in_process_server(void **state) {
    (void)state;
    REQUIRE_MODEL();
    hflow_serve_model sm = {.name = "mine", .model = model};
    hflow_serve_options o;
    hflow_serve_options_default(&o);
    o.models = &sm;
    o.n_models = 1;
    o.port = 0;
    o.n_ctx = 256;
    hflow_server *srv;
    hflow_error err;
    assert_int_equal(hflow_server_start(&o, &srv, &err), 0);
    assert_true(hflow_server_port(srv) > 0);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/v1/completions", hflow_server_port(srv));
    const char *body = "{\"model\":\"mine\",\"prompt\":\"Once upon a time\",\"max_tokens\":16,\"temperature\":0}";
    tu_http_reply r;
    assert_int_equal(tu_http("POST", u, body, strlen(body), NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    gen_args a = {.temperature = 0, .top_p = 1, .max_tokens = 16};
    ref_out ref;
    ref_completion("Once upon a time", &a, &ref);
    assert_string_equal(answer_text(j, 0), ref.text.data);
    cJSON_Delete(j);
    tu_http_reply_free(&r);
    hflow_strbuf_free(&ref.text);
    hflow_server_stop(srv); /* the borrowed model stays ours */
    assert_non_null(hflow_model_get_info(model));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_models),
        cmocka_unit_test(test_completion_greedy_matches_engine),
        cmocka_unit_test(test_completion_sampled_matches_engine),
        cmocka_unit_test(test_chat_matches_engine),
        cmocka_unit_test(test_chat_logprobs_whole_and_streamed),
        cmocka_unit_test(test_concurrent_streams_equal_serial),
        cmocka_unit_test(test_prefix_reuse_same_logprobs),
        cmocka_unit_test(test_token_prompt_echo_and_tokenize),
        cmocka_unit_test(test_logit_bias_and_penalties),
        cmocka_unit_test(test_n_choices),
        cmocka_unit_test(test_response_format_json_object),
        cmocka_unit_test(test_http_backend_drives_server),
        cmocka_unit_test(test_two_models),
        cmocka_unit_test(test_in_process_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
