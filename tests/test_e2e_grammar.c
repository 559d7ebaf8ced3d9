/* test_e2e_grammar.c - the server's "grammar" extension over real HTTP:
 * `hybridflow serve` with stories260K (a model that has never seen a plan)
 * holds its output to the plan language when a request names "plan:N".
 *
 * - Chat, not streamed, several seeds: the text is a plan the orchestrator's
 *   own parser reads with 1..N steps numbered 1, 2, ...; finish "stop"
 *   (the grammar completed). The same request without the field is no plan.
 * - Streamed, through our HTTP backend told the server is ours: the deltas
 *   add up to a plan too; the same backend without the option sends no
 *   grammar, so the (greedy) answer is free text.
 * - /v1/completions honours it the same way.
 * - Unknown names, GBNF text and non-strings are 400s naming the field. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "e2e.h"
#include "flow/plan_parse.h"
#include "http_client.h"
#include "hybridflow/backend.h"
#include "testutil.h"

static tu_server server;
static int up;

#define QUESTION "Write a plan of at most 3 steps for: Why do cats like boxes?"
/* plan:3 with tasks of at most 120 bytes fits in ~550 bytes; stories260K tokens are >= 1 byte. */
#define MAX_TOKENS "800"

static int setup(void **state) {
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    if (e2e_start(&server, 2048, 2, NULL)) return -1;
    up = 1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    int rc = up ? tu_server_stop(&server) : 0;
    curl_global_cleanup();
    return rc;
}

/* ---- reading plans with the orchestrator's parser ---- */

typedef struct plan_check {
    int n;
    int ids_in_order; /* 1 while every step's ID is its position */
} plan_check;

static int on_step(void *user, const flow_raw_step *s) {
    plan_check *c = user;
    c->n++;
    if (s->id != c->n || !s->task[0] || s->difficulty < 1 || s->difficulty > 9 || s->tokens < 1) c->ids_in_order = 0;
    return 0;
}

/* Steps the parser emits from text (0 for no plan). */
static int plan_steps(const char *text, int *well_formed) {
    plan_check c = {0, 1};
    flow_plan_parser *p = flow_plan_parser_create(on_step, &c);
    assert_non_null(p);
    assert_int_equal(flow_plan_parser_feed(p, text, strlen(text)), 0);
    flow_plan_parser_finish(p);
    flow_plan_parser_free(p);
    if (well_formed) *well_formed = c.ids_in_order;
    return c.n;
}

/* Checks a constrained answer: the canonical plan form, 1..max steps. */
static void assert_plan(const char *text, int max_steps) {
    int ok = 0;
    int n = plan_steps(text, &ok);
    if (n < 1 || n > max_steps || !ok) fail_msg("not a plan of 1..%d steps (%d parsed): %s", max_steps, n, text);
    assert_true(!strncmp(text, "<Plan>\n<Step ID=\"1\" Task=\"", 26));
    size_t len = strlen(text);
    assert_true(len > 8 && !strcmp(text + len - 7, "</Plan>"));
}

/* ---- HTTP helpers ---- */

static cJSON *post(const char *path, const char *body, long want) {
    char u[256];
    tu_http_reply r;
    assert_int_equal(tu_http("POST", tu_server_url(&server, path, u, sizeof u), body, strlen(body), NULL, 0, &r), 0);
    if (r.status != want) fail_msg("status %ld (want %ld): %s", r.status, want, r.body);
    cJSON *j = cJSON_Parse(r.body);
    tu_http_reply_free(&r);
    assert_non_null(j);
    return j;
}

static const char *choice_str(cJSON *j, const char *field) {
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    if (!strcmp(field, "finish_reason")) return cJSON_GetObjectItem(ch, "finish_reason")->valuestring;
    cJSON *m = cJSON_GetObjectItem(ch, "message");
    return m ? cJSON_GetObjectItem(m, "content")->valuestring : cJSON_GetObjectItem(ch, "text")->valuestring;
}

/* ---- tests ---- */

static void test_chat_plan_several_seeds(void **state) {
    (void)state;
    int total = 0;
    for (int seed = 1; seed <= 4; seed++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"model\":\"edge\",\"messages\":[{\"role\":\"user\",\"content\":\"" QUESTION "\"}],"
                 "\"grammar\":\"plan:3\",\"seed\":%d,\"max_tokens\":" MAX_TOKENS "}",
                 seed);
        cJSON *j = post("/v1/chat/completions", body, 200);
        const char *text = choice_str(j, "content");
        assert_plan(text, 3);
        assert_string_equal(choice_str(j, "finish_reason"), "stop"); /* the grammar completed */
        total += plan_steps(text, NULL);
        cJSON_Delete(j);
    }
    print_message("4 seeds: %d plan steps in all\n", total);
    /* The same request unconstrained: stories260K writes a story, not a plan. */
    cJSON *j = post("/v1/chat/completions",
                    "{\"model\":\"edge\",\"messages\":[{\"role\":\"user\",\"content\":\"" QUESTION "\"}],"
                    "\"temperature\":0,\"max_tokens\":200}",
                    200);
    assert_int_equal(plan_steps(choice_str(j, "content"), NULL), 0);
    cJSON_Delete(j);
}

static int collect(void *user, const char *text, size_t len) {
    hflow_strbuf_append(user, text, len);
    return 0;
}

static hflow_backend *open_edge(int ours) {
    char ep[256];
    hflow_backend_options o;
    hflow_backend_options_default(&o);
    o.hybridflow_server = ours;
    hflow_backend *b;
    hflow_error err;
    if (hflow_backend_open(e2e_endpoint(&server, "edge", ep, sizeof ep), &o, &b, &err)) fail_msg("%s", err.message);
    return b;
}

static void test_streamed_plan_through_our_backend(void **state) {
    (void)state;
    hflow_backend *ours = open_edge(1), *foreign = open_edge(0);
    hflow_chat_message m = {"user", QUESTION};
    for (int seed = 5; seed <= 6; seed++) {
        hflow_strbuf deltas;
        hflow_strbuf_init(&deltas);
        hflow_request rq;
        hflow_request_init(&rq);
        rq.messages = &m;
        rq.n_messages = 1;
        rq.max_tokens = atoi(MAX_TOKENS);
        rq.has_seed = 1;
        rq.seed = (uint64_t)seed;
        rq.grammar = "plan:2";
        rq.on_delta = collect; /* streamed (SSE) */
        rq.user = &deltas;
        hflow_response resp;
        hflow_error err;
        if (hflow_backend_complete(ours, &rq, &resp, &err)) fail_msg("%s", err.message);
        assert_plan(resp.text, 2);
        assert_string_equal(deltas.data, resp.text);
        assert_string_equal(resp.finish_reason, "stop");
        assert_int_equal(resp.usage_estimated, 0);
        hflow_response_clear(&resp);
        hflow_strbuf_free(&deltas);
    }
    /* Not told the server is ours: the grammar stays home, the greedy answer is free text. */
    hflow_request rq;
    hflow_request_init(&rq);
    rq.messages = &m;
    rq.n_messages = 1;
    rq.max_tokens = 200;
    rq.temperature = 0;
    rq.grammar = "plan:2";
    hflow_response resp;
    hflow_error err;
    if (hflow_backend_complete(foreign, &rq, &resp, &err)) fail_msg("%s", err.message);
    assert_int_equal(plan_steps(resp.text, NULL), 0);
    hflow_response_clear(&resp);
    hflow_backend_free(foreign);
    hflow_backend_free(ours);
}

static void test_completions_plan(void **state) {
    (void)state;
    cJSON *j = post("/v1/completions",
                    "{\"model\":\"edge\",\"prompt\":\"Once upon a time\",\"grammar\":\"plan\",\"temperature\":0,"
                    "\"max_tokens\":2000}",
                    200);
    assert_plan(choice_str(j, "text"), 8);
    assert_string_equal(choice_str(j, "finish_reason"), "stop");
    cJSON_Delete(j);
}

static void expect_400(const char *path, const char *extra, const char *msg) {
    char body[512];
    if (!strcmp(path, "/v1/completions"))
        snprintf(body, sizeof body, "{\"model\":\"edge\",\"prompt\":\"Once\",%s}", extra);
    else
        snprintf(body, sizeof body, "{\"model\":\"edge\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],%s}", extra);
    cJSON *j = post(path, body, 400);
    cJSON *e = cJSON_GetObjectItem(j, "error");
    assert_string_equal(cJSON_GetObjectItem(e, "param")->valuestring, "grammar");
    const char *m = cJSON_GetObjectItem(e, "message")->valuestring;
    if (!strstr(m, msg)) fail_msg("'%s' not in: %s", msg, m);
    cJSON_Delete(j);
}

static void test_bad_grammar_is_400(void **state) {
    (void)state;
    static const char *paths[] = {"/v1/chat/completions", "/v1/completions"};
    for (int i = 0; i < 2; i++) {
        expect_400(paths[i], "\"grammar\":\"yaml\"", "unknown grammar 'yaml'");
        expect_400(paths[i], "\"grammar\":\"plan:0\"", "grammar 'plan:0'");
        expect_400(paths[i], "\"grammar\":\"plan:100\"", "grammar 'plan:100'");
        expect_400(paths[i], "\"grammar\":\"plan:x\"", "grammar 'plan:x'");
        expect_400(paths[i], "\"grammar\":\"root ::= [a-z]+ | \\\"yes\\\" | \\\"no\\\" | \\\"maybe so, who knows really\\\"\"",
                   "GBNF text is not accepted");
        expect_400(paths[i], "\"grammar\":7", "must be a string");
    }
}

int main(void) {
    const char *need = e2e_have_stories() ? NULL : "models/stories260K.gguf not found under ../shared";
    if (need) {
        printf("skipped: %s\n", need);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_plan_several_seeds),
        cmocka_unit_test(test_streamed_plan_through_our_backend),
        cmocka_unit_test(test_completions_plan),
        cmocka_unit_test(test_bad_grammar_is_400),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
