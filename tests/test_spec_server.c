/* test_spec_server.c - ECSpec against the real `hybridflow serve` on loopback.
 *
 * What must hold: greedy speculative output through the HTTP session API is
 * token for token the target's own greedy output (several prompts, k 1..8,
 * adaptive); the k = 0 stream (generate) continues the session exactly; a
 * foreign draft tokenizer is refused at creation; a hot swap mid-session
 * leaves the open session on its version while a new session gets the new
 * one, and /metrics reports acceptance per version; an expired session, a
 * full session table and a killed server end in clean errors, never a hang.
 * Models: a stories260K family built in a temp dir (skipped without ../shared). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine_util.h"
#include "testutil.h"
#include "engine/quantize_model.h"
#include "http_client.h"
#include "hybridflow/engine.h"
#include "hybridflow/family.h"
#include "hybridflow/spec.h"
#include "server_proc.h"

#define N_GEN 24

static char dir[512];
static hflow_model *t_v1, *t_v2, *draft;
static tu_server srv;

static const char *path(const char *name) {
    static char buf[8][600];
    static int i = 0;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static int setup(void **state) {
    (void)state;
    char buf[4096];
    const char *src = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    if (!src) return 0;
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    hflow_error err = {0};
    if (hflow_family_stamp(src, path("v1.gguf"), "stories", "v1", 3, &err) ||
        hflow_family_evolve(path("v1.gguf"), path("v2.gguf"), 3, 0.3f, 11, "v2", &err) ||
        hflow_quantize_model(path("v1.gguf"), path("draft.gguf"), "q4_0", 1, NULL, &err)) {
        fprintf(stderr, "family setup: %s\n", err.message);
        return -1;
    }
    t_v1 = tu_model_load(path("v1.gguf"));
    t_v2 = tu_model_load(path("v2.gguf"));
    draft = tu_model_load(path("draft.gguf"));
    char model_arg[700];
    snprintf(model_arg, sizeof model_arg, "t=%s", path("v1.gguf"));
    const char *args[] = {"--model", model_arg, "--threads", "1", NULL};
    if (!t_v1 || !t_v2 || !draft || tu_server_start(&srv, args)) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (srv.pid > 0) assert_int_equal(tu_server_stop(&srv), 0);
    hflow_model_free(t_v1);
    hflow_model_free(t_v2);
    hflow_model_free(draft);
    return 0;
}

static void endpoint(const tu_server *s, char *buf, size_t n) { snprintf(buf, n, "%s/v1#t", s->base); }

static hflow_spec_transport *open_http(const tu_server *s, uint64_t fp, double timeout_s) {
    char ep[128];
    endpoint(s, ep, sizeof ep);
    hflow_spec_transport *tr = NULL;
    hflow_error err = {0};
    if (hflow_spec_transport_http(ep, fp, timeout_s, &tr, &err)) fail_msg("transport: %s", err.message);
    return tr;
}

static uint64_t draft_fp(void) { return hflow_vocab_fingerprint(hflow_model_vocab(draft)); }

typedef struct swap_ctx {
    int calls, swapped;
    const char *to;
} swap_ctx;

static int swap_on_first_text(void *user, const char *text, size_t len) {
    (void)text;
    (void)len;
    swap_ctx *c = user;
    if (c->to && c->calls++ == 0) { /* mid-session: the first tokens are out, the rest is not */
        char url[128], body[700];
        snprintf(body, sizeof body, "{\"path\":\"%s\"}", c->to);
        tu_http_reply r;
        assert_int_equal(tu_http("POST", tu_server_url(&srv, "/admin/models/t", url, sizeof url), body, strlen(body),
                                 NULL, 0, &r), 0);
        c->swapped = r.status == 200 && strstr(r.body, "\"version\":\"v2\"") != NULL;
        if (!c->swapped) print_message("swap reply %ld: %s\n", r.status, r.body);
        tu_http_reply_free(&r);
    }
    return 0;
}

/* One speculative run over HTTP; returns the generated count, fills out. */
static int32_t run_http(int32_t k, const int32_t *prompt, int n_prompt, int32_t *out, hflow_spec_session_info *info,
                        swap_ctx *swap, hflow_spec_stats *st) {
    hflow_spec_transport *tr = open_http(&srv, draft_fp(), 30);
    hflow_spec_run_config cfg;
    hflow_spec_run_config_default(&cfg);
    cfg.ctl.fixed_k = k;
    cfg.max_tokens = N_GEN;
    int32_t *toks = NULL;
    hflow_error err = {0};
    hflow_spec_stats local;
    int rc = hflow_spec_generate(draft, tr, prompt, n_prompt, &cfg, swap ? swap_on_first_text : NULL, swap, &toks,
                                 st ? st : &local, &err);
    if (rc) fail_msg("spec over HTTP (k=%d): %s", k, err.message);
    (void)info;
    hflow_spec_transport_free(tr);
    int32_t n = (st ? st : &local)->n_generated;
    memcpy(out, toks, (size_t)n * sizeof *out);
    free(toks);
    return n;
}

static void test_greedy_equals_target_over_http(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(t_v1, "models/stories260K.gguf");
    static const char *prompts[] = {"Once upon a time", "The little dog", "Lily and Ben went to the park."};
    long drafted = 0, accepted = 0;
    for (int p = 0; p < 3; p++) {
        int n_prompt;
        int32_t *prompt = tu_tokenize(t_v1, prompts[p], &n_prompt);
        int32_t ref[N_GEN], got[N_GEN];
        int32_t n_ref = tu_greedy_reference(t_v1, prompt, n_prompt, N_GEN, ref);
        for (int32_t k = 0; k <= 8; k++) { /* 0 = adaptive */
            hflow_spec_stats st;
            int32_t n = run_http(k, prompt, n_prompt, got, NULL, NULL, &st);
            assert_int_equal(n, n_ref);
            assert_memory_equal(got, ref, (size_t)n * sizeof *got);
            drafted += st.drafted;
            accepted += st.accepted;
        }
        free(prompt);
    }
    print_message("over HTTP: %ld of %ld draft tokens accepted\n", accepted, drafted);
    assert_true(drafted > 0 && accepted > 0);
}

/* The k = 0 stream continues the session exactly: generate, then verify the
 * reference's next tokens as a draft (all accepted), then generate again. */
static void test_generate_stream_continues_session(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(t_v1, "models/stories260K.gguf");
    int n_prompt;
    int32_t *prompt = tu_tokenize(t_v1, "The sun was", &n_prompt);
    int32_t ref[N_GEN];
    int32_t n_ref = tu_greedy_reference(t_v1, prompt, n_prompt, N_GEN, ref);
    assert_true(n_ref >= 16);
    hflow_spec_transport *tr = open_http(&srv, draft_fp(), 30);
    assert_non_null(tr->vt->generate);
    hflow_spec_params p;
    hflow_spec_params_default(&p);
    hflow_spec_session_info info;
    hflow_error err = {0};
    assert_int_equal(tr->vt->open(tr, prompt, n_prompt, &p, &info, &err), 0);
    assert_string_equal(info.version, "v1");
    int32_t got = 0, up = 0, down = 0;
    double t_gen = 0;
    assert_int_equal(tr->vt->generate(tr, 6, NULL, NULL, &got, &t_gen, &up, &down, &err), 0);
    assert_int_equal(got, 6);
    assert_true(down > 0 && up > 0);
    /* the target's pending token is ref[5]; drafting ref[6..9] must be accepted in full */
    hflow_spec_verdict v;
    double fwd;
    assert_int_equal(tr->vt->verify(tr, ref + 6, 4, NULL, &v, &fwd, &up, &down, &err), 0);
    assert_int_equal(v.n_accepted, 4);
    assert_int_equal(v.next_token, ref[10]);
    hflow_spec_transport_free(tr);
    free(prompt);
}

static void test_foreign_tokenizer_refused(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(t_v1, "models/stories260K.gguf");
    hflow_spec_transport *tr = open_http(&srv, draft_fp() ^ 0x5a5a5a5aull, 30);
    int n_prompt;
    int32_t *prompt = tu_tokenize(t_v1, "Once upon a time", &n_prompt);
    hflow_spec_params p;
    hflow_spec_params_default(&p);
    hflow_spec_session_info info;
    hflow_error err = {0};
    int rc = tr->vt->open(tr, prompt, n_prompt, &p, &info, &err);
    assert_int_equal(rc, HFLOW_EHTTP);
    print_message("refused: %s\n", err.message);
    assert_non_null(strstr(err.message, "400"));
    assert_non_null(strstr(err.message, "tokenizer"));
    hflow_spec_transport_free(tr);
    free(prompt);
}

/* Runs last: it leaves version v2 current. */
static void test_hot_swap_mid_session(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(t_v1, "models/stories260K.gguf");
    int n_prompt;
    int32_t *prompt = tu_tokenize(t_v1, "Once upon a time", &n_prompt);
    int32_t ref1[N_GEN], ref2[N_GEN], got[N_GEN];
    int32_t n1 = tu_greedy_reference(t_v1, prompt, n_prompt, N_GEN, ref1);
    int32_t n2 = tu_greedy_reference(t_v2, prompt, n_prompt, N_GEN, ref2);
    assert_true(n1 != n2 || memcmp(ref1, ref2, (size_t)n1 * sizeof *ref1)); /* the versions differ here */
    swap_ctx sw = {0, 0, path("v2.gguf")};
    int32_t n = run_http(2, prompt, n_prompt, got, NULL, &sw, NULL);
    assert_true(sw.swapped);
    assert_int_equal(n, n1); /* the open session finished on v1 */
    assert_memory_equal(got, ref1, (size_t)n * sizeof *got);
    n = run_http(2, prompt, n_prompt, got, NULL, NULL, NULL); /* a new session gets v2 */
    assert_int_equal(n, n2);
    assert_memory_equal(got, ref2, (size_t)n * sizeof *got);
    char url[128], fp[24];
    tu_http_reply r;
    assert_int_equal(tu_http("GET", tu_server_url(&srv, "/metrics", url, sizeof url), NULL, 0, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)draft_fp());
    char want[256];
    snprintf(want, sizeof want, "hflow_spec_accepted_tokens_total{draft_tokenizer=\"%s\",model=\"t\",version=\"v1\"}", fp);
    assert_non_null(strstr(r.body, want));
    snprintf(want, sizeof want, "hflow_spec_accepted_tokens_total{draft_tokenizer=\"%s\",model=\"t\",version=\"v2\"}", fp);
    assert_non_null(strstr(r.body, want));
    tu_http_reply_free(&r);
    /* a swap to a missing file keeps v2 and says why */
    const char *bad = "{\"path\":\"/nonexistent/model.gguf\"}";
    assert_int_equal(tu_http("POST", tu_server_url(&srv, "/admin/models/t", url, sizeof url), bad, strlen(bad), NULL, 0,
                             &r), 0);
    assert_int_equal(r.status, 400);
    tu_http_reply_free(&r);
    assert_int_equal(tu_http("GET", tu_server_url(&srv, "/v1/models", url, sizeof url), NULL, 0, NULL, 0, &r), 0);
    assert_non_null(strstr(r.body, "\"version\":\"v2\""));
    tu_http_reply_free(&r);
    free(prompt);
}

/* A second server with a short idle timeout and two sessions at most:
 * expiry, a full table, then the server killed mid-session. */
static void test_expiry_limits_and_dead_server(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(t_v1, "models/stories260K.gguf");
    tu_server s2;
    char model_arg[700];
    snprintf(model_arg, sizeof model_arg, "t=%s", path("v1.gguf"));
    const char *args[] = {"--model", model_arg, "--threads", "1", "--spec-idle-timeout", "0.3",
                          "--spec-max-sessions", "2", NULL};
    assert_int_equal(tu_server_start(&s2, args), 0);
    int n_prompt;
    int32_t *prompt = tu_tokenize(t_v1, "Tom was sad because", &n_prompt);
    hflow_spec_params p;
    hflow_spec_params_default(&p);
    hflow_spec_session_info info;
    hflow_error err = {0};
    hflow_spec_verdict v;
    double fwd;
    int32_t up, down, d = 1;

    hflow_spec_transport *a = open_http(&s2, draft_fp(), 10);
    assert_int_equal(a->vt->open(a, prompt, n_prompt, &p, &info, &err), 0);
    usleep(800 * 1000); /* well past the 0.3 s idle timeout */
    int rc = a->vt->verify(a, &d, 1, NULL, &v, &fwd, &up, &down, &err);
    assert_int_equal(rc, HFLOW_ENOTFOUND);
    print_message("expired: %s\n", err.message);
    assert_non_null(strstr(err.message, "expired"));

    /* two sessions fill the table; the third is refused with 429 */
    hflow_spec_transport *b = open_http(&s2, draft_fp(), 10), *c = open_http(&s2, draft_fp(), 10);
    assert_int_equal(a->vt->open(a, prompt, n_prompt, &p, &info, &err), 0);
    assert_int_equal(b->vt->open(b, prompt, n_prompt, &p, &info, &err), 0);
    rc = c->vt->open(c, prompt, n_prompt, &p, &info, &err);
    assert_int_equal(rc, HFLOW_EHTTP);
    assert_non_null(strstr(err.message, "429"));
    assert_int_equal(a->vt->verify(a, &d, 1, NULL, &v, &fwd, &up, &down, &err), 0);

    /* the server dies mid-session: a clean network error */
    kill(s2.pid, SIGKILL);
    rc = a->vt->verify(a, &d, 1, NULL, &v, &fwd, &up, &down, &err);
    assert_int_equal(rc, HFLOW_ENET);
    print_message("server gone: %s\n", err.message);
    tu_server_stop(&s2);
    hflow_spec_transport_free(a);
    hflow_spec_transport_free(b);
    hflow_spec_transport_free(c);
    free(prompt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_equals_target_over_http),
        cmocka_unit_test(test_generate_stream_continues_session),
        cmocka_unit_test(test_foreign_tokenizer_refused),
        cmocka_unit_test(test_expiry_limits_and_dead_server),
        cmocka_unit_test(test_hot_swap_mid_session),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
