/* test_e2e_hybrid.c - the virtual model "hybridflow" of `hybridflow serve`,
 * over real HTTP: the server plans (its real planner held to the plan grammar,
 * since the tiers are its own models) and routes over its own two models (named
 * as tiers), answers as a chat completion with the per-tier "hybridflow"
 * extension, streams the same answer as SSE (with step progress comments),
 * lists the model in /v1/models; with its cloud tier down it still answers
 * from the edge and the extension says so; a bad setup fails at startup. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/strbuf.h"
#include "e2e.h"
#include "fake_server.h"
#include "http_client.h"
#include "hybridflow/backend.h"
#include "testutil.h"

static tu_server server;
static int up;
static tu_server s2; /* the cloud-down server; stopped in teardown too, should a check fail */

/* Counted before the answer is sent (the request counter is bumped after it, so it may lag). */
#define GENERATIONS "hflow_generations_total"
#define BODY "{\"model\":\"hybridflow\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time there was a cat. What did it do?\"}]%s}"

/* The tiers are this server's own models, so the planner is constrained by the
 * plan grammar over loopback HTTP; a whole plan of 3 steps needs ~550 tokens. */
static const char *const hybrid_args[] = {"--hybrid-edge", "edge", "--hybrid-cloud", "cloud", "--hybrid-policy",
                                          "difficulty:5", "--hybrid-max-tokens", "24", "--hybrid-max-steps", "3",
                                          "--hybrid-planner-tokens", "700", NULL};

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    if (e2e_start(&server, 2048, 2, hybrid_args)) return -1;
    up = 1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    int rc = up ? tu_server_stop(&server) : 0;
    if (s2.pid > 0) tu_server_stop(&s2);
    curl_global_cleanup();
    return rc;
}

static cJSON *post(const tu_server *s, const char *body, long want) {
    char u[256];
    tu_http_reply r;
    assert_int_equal(tu_http("POST", tu_server_url(s, "/v1/chat/completions", u, sizeof u), body, strlen(body), NULL,
                             0, &r), 0);
    if (r.status != want) fail_msg("status %ld: %s", r.status, r.body);
    cJSON *j = cJSON_Parse(r.body);
    tu_http_reply_free(&r);
    assert_non_null(j);
    return j;
}

static double num(cJSON *o, const char *a, const char *b) {
    cJSON *x = cJSON_GetObjectItem(o, a);
    if (b) x = cJSON_GetObjectItem(x, b);
    assert_true(cJSON_IsNumber(x));
    return x->valuedouble;
}

static void test_models_lists_hybrid(void **state) {
    (void)state;
    char u[256];
    tu_http_reply r;
    assert_int_equal(tu_http("GET", tu_server_url(&server, "/v1/models", u, sizeof u), NULL, 0, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    tu_http_reply_free(&r);
    cJSON *e, *found = NULL;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "data")) {
        if (!strcmp(cJSON_GetObjectItem(e, "id")->valuestring, "hybridflow")) found = e;
    }
    assert_non_null(found);
    assert_string_equal(cJSON_GetObjectItem(found, "kind")->valuestring, "hybrid");
    /* Both tiers are served here, so the planner takes the plan grammar. */
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(found, "planner_constrained")));
    char want[128];
    assert_string_equal(cJSON_GetObjectItem(found, "edge")->valuestring, e2e_endpoint(&server, "edge", want, sizeof want));
    assert_string_equal(cJSON_GetObjectItem(found, "cloud")->valuestring, e2e_endpoint(&server, "cloud", want, sizeof want));
    cJSON_Delete(j);
}

/* Non-streamed: a normal chat completion plus the extension; every tier call
 * it reports was a request to this very server. Streamed through our own
 * HTTP backend: the same (greedy) answer. */
static void test_answer_with_extension_and_stream(void **state) {
    (void)state;
    char body[512];
    snprintf(body, sizeof body, BODY, "");
    double before = e2e_metric_sum(&server, GENERATIONS);
    cJSON *j = post(&server, body, 200);
    double after = e2e_metric_sum(&server, GENERATIONS);
    assert_string_equal(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion");
    assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, "hybridflow");
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    const char *answer = cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "message"), "content")->valuestring;
    assert_string_equal(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "stop");
    cJSON *x = cJSON_GetObjectItem(j, "hybridflow");
    assert_non_null(x);
    int calls = (int)(num(x, "edge", "calls") + num(x, "cloud", "calls"));
    assert_true(calls >= 3); /* planner, at least one step, aggregator */
    assert_int_equal((int)(after - before), calls);
    assert_int_equal((int)num(j, "usage", "prompt_tokens"), (int)(num(x, "edge", "prompt_tokens") + num(x, "cloud", "prompt_tokens")));
    assert_int_equal((int)num(j, "usage", "completion_tokens"),
                     (int)(num(x, "edge", "completion_tokens") + num(x, "cloud", "completion_tokens")));
    int steps = (int)num(x, "steps", NULL);
    assert_true(steps >= 1 && steps <= 3);
    /* The real planner, constrained on this server: a plan used as written, not the direct-answer fallback. */
    cJSON *planner = cJSON_GetObjectItem(x, "planner");
    assert_string_equal(cJSON_GetObjectItem(planner, "grammar")->valuestring, "plan:3");
    if (e2e_have_stories()) { /* the generated stand-in's vocabulary may lack the plan's bytes */
        assert_int_equal((int)num(x, "repairs", NULL), 0);
        assert_true(num(planner, "completion_tokens", NULL) > 24); /* a whole plan, past the calls' 24-token cap */
    }
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(x, "plan")), steps);
    assert_true(num(x, "critical_path", NULL) >= 1 && num(x, "critical_path", NULL) <= steps);
    assert_int_equal((int)num(x, "fallbacks", NULL), 0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(x, "planner"), "model")->valuestring, "edge");
    double share = num(x, "cloud_share", NULL);
    assert_true(share > 0 && share < 1); /* the aggregator ran on the cloud, the planner on the edge */

    char ep[256];
    hflow_backend *b;
    hflow_error err;
    hflow_backend_options bo;
    hflow_backend_options_default(&bo);
    bo.always_stream = 1; /* SSE, usage from the include_usage chunk */
    assert_int_equal(hflow_backend_open(e2e_endpoint(&server, "hybridflow", ep, sizeof ep), &bo, &b, &err), 0);
    hflow_chat_message m = {"user", "Once upon a time there was a cat. What did it do?"};
    hflow_request rq;
    hflow_request_init(&rq);
    rq.messages = &m;
    rq.n_messages = 1;
    hflow_response resp;
    assert_int_equal(hflow_backend_complete(b, &rq, &resp, &err), 0);
    assert_string_equal(resp.text, answer);
    assert_string_equal(resp.model, "hybridflow");
    assert_int_equal(resp.prompt_tokens, (int)num(j, "usage", "prompt_tokens"));
    hflow_response_clear(&resp);
    hflow_backend_free(b);
    cJSON_Delete(j);
}

static char *answer_of(const char *extra) {
    char body[512];
    snprintf(body, sizeof body, BODY, extra);
    cJSON *j = post(&server, body, 200);
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    char *a = strdup(cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "message"), "content")->valuestring);
    cJSON_Delete(j);
    return a;
}

/* temperature and seed reach every call of the query: the same seed repeats
 * the answer, other seeds change it; without a temperature the calls stay
 * greedy (the orchestrator's default, not OpenAI's 1) and the seed is moot. */
static void test_sampling_per_request(void **state) {
    (void)state;
    char *a7 = answer_of(",\"temperature\":1.0,\"seed\":7");
    char *again = answer_of(",\"temperature\":1.0,\"seed\":7");
    assert_string_equal(a7, again);
    int differs = 0;
    for (int s = 8; s < 11 && !differs; s++) {
        char extra[64];
        snprintf(extra, sizeof extra, ",\"temperature\":1.0,\"seed\":%d", s);
        char *o = answer_of(extra);
        differs = strcmp(o, a7) != 0;
        free(o);
    }
    assert_true(differs);
    char *g1 = answer_of(",\"seed\":1"), *g2 = answer_of(",\"seed\":2");
    assert_string_equal(g1, g2);
    free(a7);
    free(again);
    free(g1);
    free(g2);
}

/* Raw SSE: progress comments, the answer, the extension on the last chunk. */
static void test_stream_events(void **state) {
    (void)state;
    char body[512];
    snprintf(body, sizeof body, BODY, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    char u[256];
    tu_http_reply r;
    assert_int_equal(tu_http("POST", tu_server_url(&server, "/v1/chat/completions", u, sizeof u), body, strlen(body),
                             NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, ": hybridflow planning on edge"));
    assert_non_null(strstr(r.body, ": hybridflow step 1 done on "));
    assert_non_null(strstr(r.body, "\"finish_reason\":\"stop\""));
    assert_non_null(strstr(r.body, "\"hybridflow\":{\"edge\":"));
    assert_non_null(strstr(r.body, "\"usage\":"));
    const char *done = strstr(r.body, "data: [DONE]");
    assert_non_null(done);
    assert_string_equal(done, "data: [DONE]\n\n");
    tu_http_reply_free(&r);
}

static void test_logprobs_refused(void **state) {
    (void)state;
    char body[512];
    snprintf(body, sizeof body, BODY, ",\"logprobs\":true");
    cJSON *j = post(&server, body, 400);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "param")->valuestring, "logprobs");
    cJSON_Delete(j);
    /* Its answer is free text from the aggregator: a grammar cannot apply. */
    snprintf(body, sizeof body, BODY, ",\"grammar\":\"plan\"");
    j = post(&server, body, 400);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "param")->valuestring, "grammar");
    cJSON_Delete(j);
}

/* A second server whose cloud tier is a closed port. */
static void test_cloud_down_answers_from_edge(void **state) {
    (void)state;
    char cloud[128];
    snprintf(cloud, sizeof cloud, "http://127.0.0.1:%d/v1#big", fs_closed_port());
    const char *const args[] = {"--hybrid-edge", "edge", "--hybrid-cloud", cloud, "--hybrid-policy", "cloud",
                                "--hybrid-max-tokens", "16", NULL};
    assert_int_equal(e2e_start(&s2, 2048, 1, args), 0);
    char body[512];
    snprintf(body, sizeof body, BODY, "");
    cJSON *j = post(&s2, body, 200);
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    assert_true(strlen(cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "message"), "content")->valuestring) > 0);
    cJSON *x = cJSON_GetObjectItem(j, "hybridflow");
    assert_true(num(x, "cloud", "failed_attempts") >= 2); /* every step and the aggregator tried it */
    assert_int_equal((int)num(x, "cloud", "completion_tokens"), 0);
    assert_true(num(x, "edge", "completion_tokens") > 0);
    assert_true(num(x, "fallbacks", NULL) >= 2);
    assert_true(num(x, "cloud_share", NULL) == 0);
    char *notes = cJSON_PrintUnformatted(cJSON_GetObjectItem(x, "notes"));
    assert_non_null(strstr(notes, "fallback cloud->edge"));
    assert_non_null(strstr(notes, "aggregator: "));
    free(notes);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(x, "aggregator"), "tier")->valuestring, "edge");
    cJSON_Delete(j);
    assert_int_equal(tu_server_stop(&s2), 0);
}

/* --hybrid-cascade 1 with confidence:0: every step runs on the edge over
 * loopback HTTP with logprobs asked for, gets a known confidence from this
 * server, and (any answer short of certainty) is escalated to the cloud;
 * the trace file says so step by step. */
static void test_cascade_virtual_model(void **state) {
    (void)state;
    char trace[512];
    snprintf(trace, sizeof trace, "%s/hybrid-cascade.jsonl", tu_tmpdir());
    remove(trace);
    const char *const args[] = {"--hybrid-edge", "edge", "--hybrid-cloud", "cloud", "--hybrid-policy", "confidence:0",
                                "--hybrid-cascade", "1", "--hybrid-max-tokens", "16", "--hybrid-max-steps", "2",
                                "--hybrid-planner-tokens", "500", "--hybrid-trace", trace, NULL};
    assert_int_equal(e2e_start(&s2, 2048, 1, args), 0);
    char body[512];
    snprintf(body, sizeof body, BODY, "");
    cJSON *j = post(&s2, body, 200);
    cJSON_Delete(j);
    assert_int_equal(tu_server_stop(&s2), 0);
    char *text = tu_read_file(trace, NULL);
    assert_non_null(text);
    cJSON *q = cJSON_Parse(text);
    assert_non_null(q);
    cJSON *steps = cJSON_GetObjectItem(q, "steps"), *st;
    assert_true(cJSON_GetArraySize(steps) >= 1);
    cJSON_ArrayForEach(st, steps) {
        cJSON *call = cJSON_GetObjectItem(st, "call"), *k = cJSON_GetObjectItem(call, "cascade");
        assert_non_null(k);
        assert_true(cJSON_IsTrue(cJSON_GetObjectItem(k, "confidence_known")));
        assert_true(num(k, "edge_mean_logprob", NULL) < 0);
        assert_string_equal(cJSON_GetObjectItem(k, "decision")->valuestring, "escalated");
        assert_string_equal(cJSON_GetObjectItem(call, "tier")->valuestring, "cloud");
        assert_string_equal(cJSON_GetObjectItem(call, "route_reason")->valuestring, "confidence");
    }
    cJSON_Delete(q);
    free(text);
}

/* Exit status and stderr of `hybridflow serve ARGS` that must fail at startup. */
static void expect_startup_error(const char *args, const char *msg) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s serve --port 0 --model edge=%s %s 2>&1", tu_cli_path(), e2e_edge_model(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[2048];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    if (!strstr(out, msg)) fail_msg("'%s' not in: %s", msg, out);
    assert_null(strstr(out, "listening on http://127.0.0.1:"));
}

static void test_bad_config_fails_at_startup(void **state) {
    (void)state;
    expect_startup_error("--hybrid-edge edge --hybrid-policy bogus", "hybrid policy: unknown policy 'bogus'");
    expect_startup_error("--hybrid-edge ftp://x/v1#m", "hybrid edge endpoint 'ftp://x/v1#m'");
    expect_startup_error("--hybrid-cloud edge", "need --hybrid-edge");
    expect_startup_error("--hybrid-edge edge --hybrid-planner cloud", "needs a cloud endpoint");
    expect_startup_error("--hybrid-edge edge --hybrid-name edge", "also a served model");
    expect_startup_error("--hybrid-edge edge --hybrid-prices /nonexistent.json", "hybrid prices");
    expect_startup_error("--hybrid-edge edge --hybrid-policy confidence:-1", "only cascade mode provides");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models_lists_hybrid),
        cmocka_unit_test(test_answer_with_extension_and_stream),
        cmocka_unit_test(test_stream_events),
        cmocka_unit_test(test_sampling_per_request),
        cmocka_unit_test(test_logprobs_refused),
        cmocka_unit_test(test_cloud_down_answers_from_edge),
        cmocka_unit_test(test_cascade_virtual_model),
        cmocka_unit_test(test_bad_config_fails_at_startup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
