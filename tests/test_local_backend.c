/* test_local_backend.c - the in-process engine behind the backend interface:
 * answers equal hflow_generate's for the same prompt, sampler and seed
 * (completion and chat, stories260K and a generated model); streamed deltas
 * equal the text; usage is the real token counts; stop strings, max_tokens,
 * cancellation, timeouts; 4 concurrent calls on a 2-slot pool equal 4 serial
 * calls; the plan grammar through hflow_request.grammar, the json one
 * through response_format json_object; open errors. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "base/strbuf.h"
#include "flow/plan_parse.h"
#include "hybridflow/backend.h"
#include "hybridflow/chat.h"
#include "hybridflow/engine.h"
#include "hybridflow/modelgen.h"

static char stories[4096];
static char genmodel[4096];

static int setup(void **state) {
    (void)state;
    char buf[4096];
    const char *p = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    if (p) snprintf(stories, sizeof stories, "%s", p);
    hflow_gen_params gp;
    hflow_gen_params_default(&gp);
    hflow_error err;
    snprintf(genmodel, sizeof genmodel, "%s/local-backend-tiny.gguf", tu_tmpdir());
    if (hflow_gen_params_preset(&gp, "tiny", &err) || hflow_gen_model(&gp, genmodel, &err)) fail_msg("%s", err.message);
    return 0;
}

static int collect_tok(void *u, int32_t tok, const char *text, size_t len, const hflow_token_logprobs *lp) {
    (void)tok;
    (void)lp;
    hflow_strbuf_append(u, text, len);
    return 0;
}

typedef struct lp_acc {
    double sum;
    int n;
} lp_acc;

static int sum_lp(void *u, int32_t tok, const char *text, size_t len, const hflow_token_logprobs *lp) {
    (void)text;
    (void)len;
    lp_acc *a = u;
    if (lp && tok >= 0) a->sum += lp->logprob, a->n++;
    return 0;
}

/* The engine run directly: what the backend must reproduce. */
static char *direct(const char *path, const char *text, int chat, float temp, uint64_t seed, int max_tokens,
                    int *n_prompt, int *n_gen) {
    hflow_error err;
    hflow_model *m;
    hflow_model_params mp = {1};
    assert_int_equal(hflow_model_load(path, &mp, &m, &err), 0);
    char *rendered = NULL;
    if (chat) {
        hflow_chat_msg msg = {"user", text};
        assert_int_equal(hflow_chat_render(hflow_chat_family_for_gguf(hflow_model_gguf(m), NULL), &msg, 1, 1,
                                           &rendered, &err), 0);
        text = rendered;
    }
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(hflow_model_vocab(m), text, strlen(text), 1, chat, &ids, &n, &err), 0);
    hflow_session *s;
    assert_int_equal(hflow_session_create(m, NULL, &s, &err), 0);
    hflow_sampler_params sp = hflow_sampler_default_params();
    sp.temperature = temp;
    sp.seed = seed;
    hflow_sampler *smp = hflow_sampler_create(&sp, hflow_model_get_info(m)->n_vocab);
    hflow_generate_params gp = {.max_tokens = max_tokens};
    hflow_generate_stats st;
    hflow_strbuf out;
    hflow_strbuf_init(&out);
    assert_int_equal(hflow_generate(s, smp, ids, n, &gp, collect_tok, &out, &st, &err), 0);
    *n_prompt = st.n_prompt;
    *n_gen = st.n_generated;
    hflow_sampler_free(smp);
    hflow_session_free(s);
    hflow_model_free(m);
    free(ids);
    free(rendered);
    return out.data ? hflow_strbuf_take(&out) : strdup("");
}

static hflow_backend *open_local(const char *path, int n_parallel) {
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.n_threads = 1;
    o.n_parallel = n_parallel;
    hflow_backend *b = NULL;
    hflow_error err;
    if (hflow_backend_open(path, &o, &b, &err)) fail_msg("%s", err.message);
    return b;
}

typedef struct deltas {
    hflow_strbuf text;
    int n, cancel_after;
    volatile int *cancel_flag; /* set instead of returning non-zero, when non-NULL */
} deltas;

static int on_delta(void *u, const char *text, size_t len) {
    deltas *d = u;
    hflow_strbuf_append(&d->text, text, len);
    d->n++;
    if (d->cancel_after && d->n >= d->cancel_after) {
        if (d->cancel_flag) *d->cancel_flag = 1;
        else return 1;
    }
    return 0;
}

/* One call; the response is returned for inspection (caller clears). */
static int call(hflow_backend *b, const char *text, int chat, float temp, uint64_t seed, int max_tokens,
                hflow_response *resp) {
    hflow_chat_message msg = {"user", text};
    hflow_request req;
    hflow_request_init(&req);
    if (chat) {
        req.messages = &msg;
        req.n_messages = 1;
    } else {
        req.prompt = text;
    }
    req.temperature = temp;
    req.has_seed = 1;
    req.seed = seed;
    req.max_tokens = max_tokens;
    hflow_error err;
    return hflow_backend_complete(b, &req, resp, &err);
}

static void check_equal_to_engine(const char *path, const char *prompt, int chat, float temp, uint64_t seed, int max) {
    int np, ng;
    char *want = direct(path, prompt, chat, temp, seed, max, &np, &ng);
    hflow_backend *b = open_local(path, 1);
    hflow_response r;
    for (int rep = 0; rep < 2; rep++) { /* the second call runs on a warm slot (prefix reuse) */
        assert_int_equal(call(b, prompt, chat, temp, seed, max, &r), 0);
        assert_string_equal(r.text, want);
        assert_int_equal(r.prompt_tokens, np);
        assert_int_equal(r.completion_tokens, ng);
        assert_true(r.latency_s >= r.ttft_s && r.ttft_s > 0);
        assert_int_equal(r.http_status, 0);
        hflow_response_clear(&r);
    }
    hflow_backend_free(b);
    free(want);
}

static void test_equals_engine_stories(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(stories[0], "models/stories260K.gguf");
    check_equal_to_engine(stories, "Once upon a time", 0, 0, 0, 48);
    check_equal_to_engine(stories, "Once upon a time", 0, 0.8f, 42, 64);
    check_equal_to_engine(stories, "Tom and Lily went to the park", 1, 0.9f, 7, 40);
    hflow_backend *b = open_local(stories, 1);
    assert_string_equal(hflow_backend_name(b), "local:stories260K");
    assert_string_equal(hflow_backend_model(b), "stories260K");
    hflow_backend_free(b);
}

static void test_equals_engine_genmodel(void **state) {
    (void)state;
    check_equal_to_engine(genmodel, "hello world", 0, 0, 0, 20);
    check_equal_to_engine(genmodel, "hello world", 0, 1.0f, 3, 20);
    check_equal_to_engine(genmodel, "a question", 1, 0.7f, 5, 16);
}

static void test_stream_stop_length(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(stories[0], "models/stories260K.gguf");
    hflow_backend *b = open_local(stories, 1);
    hflow_request req;
    hflow_request_init(&req);
    req.prompt = "Once upon a time";
    req.temperature = 0;
    req.max_tokens = 48;
    deltas d = {{0}, 0, 0, NULL};
    hflow_strbuf_init(&d.text);
    req.on_delta = on_delta;
    req.user = &d;
    const char *stop[] = {"Lily"};
    req.stop = stop;
    req.n_stop = 1;
    hflow_response r;
    hflow_error err;
    assert_int_equal(hflow_backend_complete(b, &req, &r, &err), 0);
    assert_string_equal(r.text, ", there was a little girl named ");
    assert_string_equal(r.finish_reason, "stop");
    assert_string_equal(d.text.data, r.text);
    assert_true(d.n >= 2);
    hflow_response_clear(&r);
    hflow_strbuf_free(&d.text);
    req.on_delta = NULL;
    req.n_stop = 0;
    req.max_tokens = 10;
    assert_int_equal(hflow_backend_complete(b, &req, &r, &err), 0);
    assert_int_equal(r.completion_tokens, 10);
    assert_string_equal(r.finish_reason, "length");
    hflow_response_clear(&r);
    hflow_backend_free(b);
}

static void test_cancel_and_timeout(void **state) {
    (void)state;
    hflow_backend *b = open_local(genmodel, 1);
    hflow_request req;
    hflow_request_init(&req);
    req.prompt = "hello";
    req.max_tokens = 200;
    req.temperature = 0;
    hflow_response r;
    hflow_error err;
    /* the delta callback stops the call */
    deltas d = {{0}, 0, 3, NULL};
    hflow_strbuf_init(&d.text);
    req.on_delta = on_delta;
    req.user = &d;
    assert_int_equal(hflow_backend_complete(b, &req, &r, &err), HFLOW_ECANCELLED);
    assert_string_equal(r.finish_reason, "cancelled");
    assert_int_equal(d.n, 3);
    assert_true(r.completion_tokens >= 3 && r.completion_tokens < 200);
    hflow_response_clear(&r);
    hflow_strbuf_free(&d.text);
    /* the cancel flag, set from the callback as another thread would */
    volatile int cancel = 0;
    deltas d2 = {{0}, 0, 2, &cancel};
    hflow_strbuf_init(&d2.text);
    req.user = &d2;
    req.cancel = &cancel;
    assert_int_equal(hflow_backend_complete(b, &req, &r, &err), HFLOW_ECANCELLED);
    assert_string_equal(r.finish_reason, "cancelled");
    assert_true(r.completion_tokens < 200);
    hflow_response_clear(&r);
    hflow_strbuf_free(&d2.text);
    /* already cancelled: nothing is generated */
    req.on_delta = NULL;
    assert_int_equal(hflow_backend_complete(b, &req, &r, &err), HFLOW_ECANCELLED);
    assert_int_equal(r.completion_tokens, 0);
    hflow_response_clear(&r);
    /* a deadline that has passed by the first token */
    req.cancel = NULL;
    req.timeout_s = 1e-9;
    assert_int_equal(hflow_backend_complete(b, &req, &r, &err), HFLOW_ETIMEOUT);
    assert_string_equal(r.finish_reason, "error");
    hflow_response_clear(&r);
    hflow_backend_free(b);
}

typedef struct job {
    hflow_backend *b;
    const char *prompt;
    uint64_t seed;
    char *text;
    int rc;
} job;

static void *run_job(void *u) {
    job *j = u;
    hflow_response r;
    j->rc = call(j->b, j->prompt, 0, 0.8f, j->seed, 40, &r);
    j->text = r.text ? strdup(r.text) : NULL;
    hflow_response_clear(&r);
    return NULL;
}

static void test_concurrent_equals_serial(void **state) {
    (void)state;
    const char *path = stories[0] ? stories : genmodel;
    hflow_backend *b = open_local(path, 2);
    const char *prompts[4] = {"Once upon a time", "Once upon a time there", "The cat sat", "Lily had a ball"};
    job serial[4], conc[4];
    for (int i = 0; i < 4; i++) {
        serial[i] = (job){b, prompts[i], (uint64_t)i + 1, NULL, 0};
        run_job(&serial[i]);
        assert_int_equal(serial[i].rc, 0);
    }
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        conc[i] = (job){b, prompts[i], (uint64_t)i + 1, NULL, 0};
        assert_int_equal(pthread_create(&th[i], NULL, run_job, &conc[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(conc[i].rc, 0);
        assert_string_equal(conc[i].text, serial[i].text);
        free(conc[i].text);
        free(serial[i].text);
    }
    hflow_backend_free(b);
}

static int count_step(void *u, const flow_raw_step *s) {
    (void)s;
    (*(int *)u)++;
    return 0;
}

static void test_plan_grammar(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(stories[0], "models/stories260K.gguf");
    hflow_backend *b = open_local(stories, 1);
    hflow_chat_message msg = {"user", "Plan how to answer: what is 2+2?"};
    hflow_request req;
    hflow_request_init(&req);
    req.messages = &msg;
    req.n_messages = 1;
    req.grammar = "plan:3";
    req.max_tokens = 1000;
    hflow_response r;
    hflow_error err;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        req.temperature = 0.3f * (float)seed;
        req.has_seed = 1;
        req.seed = seed;
        assert_int_equal(hflow_backend_complete(b, &req, &r, &err), 0);
        assert_string_equal(r.finish_reason, "stop");
        assert_true(!strncmp(r.text, "<Plan>\n<Step ID=\"1\" Task=\"", 26));
        int n = 0;
        flow_plan_parser *p = flow_plan_parser_create(count_step, &n);
        flow_plan_parser_feed(p, r.text, strlen(r.text));
        flow_plan_parser_finish(p);
        flow_plan_parser_free(p);
        assert_true(n >= 1 && n <= 3);
        hflow_response_clear(&r);
    }
    req.grammar = "yaml";
    assert_int_equal(hflow_backend_complete(b, &req, &r, &err), HFLOW_EINVAL);
    assert_string_equal(r.finish_reason, "error");
    hflow_response_clear(&r);
    /* An OpenAI response_format json_object takes the engine's "json"
     * grammar: the story model, left alone, never starts with '{'. */
    req.grammar = NULL;
    req.response_format = "{\"type\":\"json_object\"}";
    req.max_tokens = 12;
    assert_int_equal(hflow_backend_complete(b, &req, &r, &err), 0);
    assert_true(r.text[0] == '{');
    hflow_response_clear(&r);
    req.response_format = NULL;
    assert_int_equal(hflow_backend_complete(b, &req, &r, &err), 0);
    assert_true(r.text[0] != '{');
    hflow_response_clear(&r);
    hflow_backend_free(b);
}

static void test_open_errors(void **state) {
    (void)state;
    hflow_backend *b = (hflow_backend *)1;
    hflow_error err;
    char path[4096];
    snprintf(path, sizeof path, "%s/does-not-exist.gguf", tu_tmpdir());
    int rc = hflow_backend_open(path, NULL, &b, &err);
    assert_true(rc < 0);
    assert_null(b);
    assert_non_null(strstr(err.message, "does-not-exist.gguf"));
    snprintf(path, sizeof path, "%s/garbage.gguf", tu_tmpdir());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("GGUF this is not a model file at all, just text long enough to look like a header", f);
    fclose(f);
    b = (hflow_backend *)1;
    rc = hflow_backend_open(path, NULL, &b, &err);
    assert_true(rc < 0);
    assert_null(b);
    print_message("bad GGUF: %s\n", err.message);
}

/* want_confidence: the backend's mean logprob is the engine's own (same
 * prompt, greedy) over every generated token; not asked, it stays unknown. */
static void test_confidence_equals_engine_logprobs(void **state) {
    (void)state;
    if (!stories[0]) skip();
    hflow_error err;
    hflow_model *m;
    hflow_model_params mp = {1};
    assert_int_equal(hflow_model_load(stories, &mp, &m, &err), 0);
    const char *prompt = "Once upon a time there was";
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(hflow_model_vocab(m), prompt, strlen(prompt), 1, 0, &ids, &n, &err), 0);
    hflow_session *s;
    assert_int_equal(hflow_session_create(m, NULL, &s, &err), 0);
    hflow_sampler_params sp = hflow_sampler_default_params();
    hflow_sampler *smp = hflow_sampler_create(&sp, hflow_model_get_info(m)->n_vocab);
    hflow_generate_params gp = {.max_tokens = 16, .want_logprobs = 1};
    hflow_generate_stats st;
    lp_acc ref = {0, 0};
    assert_int_equal(hflow_generate(s, smp, ids, n, &gp, sum_lp, &ref, &st, &err), 0);
    hflow_sampler_free(smp);
    hflow_session_free(s);
    hflow_model_free(m);
    free(ids);
    assert_true(ref.n == st.n_generated && ref.n > 0);

    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.n_threads = 1;
    hflow_backend *b;
    assert_int_equal(hflow_backend_open(stories, &o, &b, &err), 0);
    for (int want = 0; want < 2; want++) {
        hflow_request rq;
        hflow_request_init(&rq);
        rq.prompt = prompt;
        rq.max_tokens = 16;
        rq.temperature = 0;
        rq.want_confidence = want;
        hflow_response resp;
        assert_int_equal(hflow_backend_complete(b, &rq, &resp, &err), 0);
        assert_int_equal(resp.confidence_known, want);
        if (want) {
            assert_int_equal(resp.logprob_tokens, ref.n);
            assert_true(resp.mean_logprob == ref.sum / ref.n);
            assert_true(resp.mean_logprob < 0);
        }
        hflow_response_clear(&resp);
    }
    hflow_backend_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equals_engine_stories), cmocka_unit_test(test_equals_engine_genmodel),
        cmocka_unit_test(test_stream_stop_length),    cmocka_unit_test(test_cancel_and_timeout),
        cmocka_unit_test(test_concurrent_equals_serial), cmocka_unit_test(test_plan_grammar),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_confidence_equals_engine_logprobs),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
