/* test_grammar.c - constrained decoding with the plan grammar: the byte
 * language accepts canonical plans and rejects each broken rule; random
 * walks over real vocabularies (the 259-token byte vocab of a generated
 * model, stories260K's 512 tokens, Llama-2's 32000) never leave the language,
 * never dead-end, and every token the mask allows keeps the machine alive
 * while every token it forbids really leaves the language; on stories260K,
 * hflow_generate with the hook writes plans the orchestrator's parser accepts,
 * for several seeds and temperatures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "base/clock.h"
#include "base/strbuf.h"
#include "flow/plan_parse.h"
#include "hybridflow/engine.h"
#include "hybridflow/grammar.h"
#include "hybridflow/modelgen.h"

/* ---- helpers ---- */

static int accepts_plan(const char *text, int max_steps) {
    hflow_plan_grammar_params p;
    hflow_plan_grammar_default(&p);
    p.max_steps = max_steps;
    const hflow_byte_machine *m = hflow_plan_machine();
    unsigned char st[64];
    assert_true(m->state_size <= sizeof st);
    m->init(&p, st);
    for (const char *c = text; *c; c++)
        if (!m->step(&p, st, (unsigned char)*c)) return 0;
    return m->accepting(&p, st);
}

/* Whether some byte can follow state st (or it is accepting): "alive". */
static int machine_alive(const hflow_byte_machine *m, const void *cfg, const unsigned char *st) {
    if (m->accepting(cfg, st)) return 1;
    unsigned char tmp[64];
    for (int b = 0; b < 256; b++) {
        memcpy(tmp, st, m->state_size);
        if (m->step(cfg, tmp, (unsigned char)b)) return 1;
    }
    return 0;
}

typedef struct plan_check {
    int n, ids_in_order, deps_earlier, digits_ok;
} plan_check;

static int on_step(void *user, const flow_raw_step *s) {
    plan_check *c = user;
    c->n++;
    if (s->id != c->n) c->ids_in_order = 0;
    for (int i = 0; i < s->n_rely; i++)
        if (s->rely[i] < 1 || s->rely[i] >= s->id || (i && s->rely[i] <= s->rely[i - 1])) c->deps_earlier = 0;
    if (s->difficulty < 1 || s->difficulty > 9 || s->tokens < 1 || !s->task[0]) c->digits_ok = 0;
    return 0;
}

static plan_check parse_plan(const char *text) {
    plan_check c = {0, 1, 1, 1};
    flow_plan_parser *p = flow_plan_parser_create(on_step, &c);
    assert_non_null(p);
    assert_int_equal(flow_plan_parser_feed(p, text, strlen(text)), 0);
    flow_plan_parser_finish(p);
    flow_plan_parser_free(p);
    return c;
}

/* ---- the byte language ---- */

static void test_language(void **state) {
    (void)state;
    const char *good =
        "<Plan>\n<Step ID=\"1\" Task=\"Restate the problem.\" Rely=\"\" Difficulty=\"2\" Token=\"80\"/>\n"
        "<Step ID=\"2\" Task=\"Solve (a) & more\" Rely=\"1\" Difficulty=\"5\" Token=\"200\"/>\n"
        "</Plan>";
    assert_false(accepts_plan(good, 8)); /* '&' is not a Task byte */
    const char *ok =
        "<Plan>\n<Step ID=\"1\" Task=\"Restate the problem.\" Rely=\"\" Difficulty=\"2\" Token=\"80\"/>\n"
        "<Step ID=\"2\" Task=\"Solve part (a)\" Rely=\"1\" Difficulty=\"5\" Token=\"200\"/>\n"
        "<Step ID=\"3\" Task=\"Combine: 2+2=4?\" Rely=\"1,2\" Difficulty=\"9\" Token=\"1\"/>\n"
        "</Plan>";
    assert_true(accepts_plan(ok, 8));
    assert_false(accepts_plan(ok, 2)); /* too many steps */
    plan_check c = parse_plan(ok);
    assert_int_equal(c.n, 3);
    const char *bad[] = {
        "<Plan>\n</Plan>",                                                                            /* no step */
        "<Plan>\n<Step ID=\"2\" Task=\"x\" Rely=\"\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>",        /* wrong ID */
        "<Plan>\n<Step ID=\"1\" Task=\"x\" Rely=\"1\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>",       /* self */
        "<Plan>\n<Step ID=\"1\" Task=\"\" Rely=\"\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>",         /* empty task */
        "<Plan>\n<Step ID=\"1\" Task=\" x\" Rely=\"\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>",       /* leading space */
        "<Plan>\n<Step ID=\"1\" Task=\".x\" Rely=\"\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>",       /* punctuation first */
        "<Plan>\n<Step ID=\"1\" Task=\"x \" Rely=\"\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>",       /* trailing space */
        "<Plan>\n<Step ID=\"1\" Task=\"x\" Rely=\"\" Difficulty=\"0\" Token=\"8\"/>\n</Plan>",        /* difficulty 0 */
        "<Plan>\n<Step ID=\"1\" Task=\"x\" Rely=\"\" Difficulty=\"2\" Token=\"08\"/>\n</Plan>",       /* leading zero */
        "<Plan>\n<Step ID=\"1\" Task=\"x\" Rely=\"\" Difficulty=\"2\" Token=\"12345\"/>\n</Plan>",    /* 5 digits */
        "<Plan>\n<Step ID=\"1\" Task=\"x\" Rely=\"\" Difficulty=\"2\" Token=\"\"/>\n</Plan>",         /* no token */
        "<Plan>\n<Step ID=\"1\" Task=\"x\" Rely=\"\" Difficulty=\"2\" Token=\"8\"/>\n"
        "<Step ID=\"2\" Task=\"y\" Rely=\"1,1\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>",             /* duplicate */
        "<Plan>\n<Step ID=\"1\" Task=\"x\" Rely=\"\" Difficulty=\"2\" Token=\"8\"/>\n"
        "<Step ID=\"2\" Task=\"y\" Rely=\"1,\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>",              /* dangling comma */
        "<Plan>\n<Step ID=\"1\" Task=\"x\" Rely=\"\" Difficulty=\"2\" Token=\"8\"/>\n"
        "<Step ID=\"2\" Task=\"y\" Rely=\"3\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>",               /* later step */
        "<Plan>\n<Step ID=\"1\" Task=\"x\" Rely=\"\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>x",       /* trailer */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (accepts_plan(bad[i], 8)) fail_msg("accepted bad plan %zu: %s", i, bad[i]);
    }
    /* Task length bound: 120 bytes pass, 121 do not */
    char task[200], plan[400];
    memset(task, 'a', 121);
    task[121] = '\0';
    snprintf(plan, sizeof plan, "<Plan>\n<Step ID=\"1\" Task=\"%s\" Rely=\"\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>", task);
    assert_false(accepts_plan(plan, 8));
    task[120] = '\0';
    snprintf(plan, sizeof plan, "<Plan>\n<Step ID=\"1\" Task=\"%s\" Rely=\"\" Difficulty=\"2\" Token=\"8\"/>\n</Plan>", task);
    assert_true(accepts_plan(plan, 8));
}

static void test_named(void **state) {
    (void)state;
    hflow_error err;
    hflow_grammar *g = NULL;
    /* names are checked before texts are used, so a NULL table is fine to test rejection */
    assert_int_equal(hflow_grammar_create_named("yaml", NULL, &g, &err), HFLOW_EINVAL);
    assert_int_equal(hflow_grammar_create_named("plan:0", NULL, &g, &err), HFLOW_EINVAL);
    assert_int_equal(hflow_grammar_create_named("plan:x", NULL, &g, &err), HFLOW_EINVAL);
    assert_null(g);
}

/* ---- random walks over a vocabulary ---- */

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One random walk: picks uniformly among allowed tokens until complete.
 * Checks the mask against the machine for up to `check` tokens per step
 * (all when check <= 0). Returns the time spent in masks. */
static double walk(const hflow_token_texts *tt, int max_steps, uint64_t seed, int check, int *n_masks) {
    hflow_error err;
    hflow_plan_grammar_params p;
    hflow_plan_grammar_default(&p);
    p.max_steps = max_steps;
    p.max_task_bytes = 40;
    hflow_grammar *g;
    assert_int_equal(hflow_grammar_create_plan(&p, tt, &g, &err), 0);
    const hflow_byte_machine *m = hflow_plan_machine();
    int32_t n = hflow_token_texts_count(tt);
    uint8_t *allowed = malloc((size_t)n);
    float *logits = malloc((size_t)n * sizeof *logits);
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    hflow_strbuf text;
    hflow_strbuf_init(&text);
    unsigned char ref[64], tmp[64];
    m->init(&p, ref); /* the machine fed byte by byte alongside the grammar */
    double t_mask = 0;
    for (int iter = 0; iter < 5000; iter++) {
        for (int32_t i = 0; i < n; i++) logits[i] = 0;
        double t0 = hflow_now_s();
        int count = hflow_grammar_mask(g, logits, n, &err);
        t_mask += hflow_now_s() - t0;
        (*n_masks)++;
        if (count <= 0) fail_msg("dead end after %zu bytes: %s", text.len, text.data ? text.data : "");
        assert_int_equal(hflow_grammar_allowed(g, allowed), count);
        int na = 0;
        for (int32_t i = 0; i < n; i++) {
            assert_int_equal(allowed[i], logits[i] == 0);
            if (allowed[i]) ids[na++] = i;
        }
        assert_int_equal(na, count);
        /* property: allowed <=> the token's bytes keep the machine alive */
        int32_t start = check > 0 ? (int32_t)(rng_next(&seed) % (uint64_t)n) : 0;
        int32_t n_check = check > 0 && check < n ? check : n;
        for (int32_t k = 0; k < n_check; k++) {
            int32_t id = (start + k) % n;
            size_t len;
            const char *b = hflow_token_texts_get(tt, id, &len);
            memcpy(tmp, ref, m->state_size);
            int ok = len > 0;
            for (size_t j = 0; ok && j < len; j++) ok = m->step(&p, tmp, (unsigned char)b[j]);
            if (ok) assert_true(machine_alive(m, &p, tmp));
            if (len == 0) continue; /* control/EOG tokens: checked by the accepting rule below */
            if (ok != allowed[id]) fail_msg("token %d ('%.*s'): mask %d, machine %d", id, (int)len, b, allowed[id], ok);
        }
        int32_t tok = ids[rng_next(&seed) % (uint64_t)na];
        size_t len;
        const char *b = hflow_token_texts_get(tt, tok, &len);
        hflow_strbuf_append(&text, b, len);
        for (size_t j = 0; j < len; j++) assert_true(m->step(&p, ref, (unsigned char)b[j]));
        int rc = hflow_grammar_accept(g, tok, &err);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1) break;
    }
    assert_true(hflow_grammar_complete(g));
    assert_true(m->accepting(&p, ref));
    /* the walked text is a complete sentence and a plan the orchestrator takes */
    assert_true(accepts_plan(text.data, max_steps));
    plan_check c = parse_plan(text.data);
    assert_true(c.n >= 1 && c.n <= max_steps);
    assert_true(c.ids_in_order && c.deps_earlier && c.digits_ok);
    /* once complete, nothing but end-of-generation tokens may follow */
    assert_int_equal(hflow_grammar_mask(g, logits, n, &err) >= 0, 1);
    for (int32_t i = 0; i < n; i++) {
        size_t len2;
        hflow_token_texts_get(tt, i, &len2);
        if (logits[i] == 0) assert_int_equal(len2, 0);
    }
    hflow_strbuf_free(&text);
    free(allowed);
    free(logits);
    free(ids);
    hflow_grammar_free(g);
    return t_mask;
}

static hflow_token_texts *texts_from_gguf(const char *path) {
    hflow_error err;
    hflow_gguf *gg;
    hflow_vocab *v;
    assert_int_equal(hflow_gguf_open(path, &gg, &err), 0);
    assert_int_equal(hflow_vocab_load(gg, &v, &err), 0);
    hflow_token_texts *t;
    assert_int_equal(hflow_token_texts_create(v, &t, &err), 0);
    assert_int_equal(hflow_token_texts_count(t), hflow_vocab_size(v));
    hflow_vocab_free(v); /* the table owns copies */
    hflow_gguf_close(gg);
    return t;
}

static void test_walk_byte_vocab(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/grammar-bytevocab.gguf", tu_tmpdir());
    hflow_gen_params gp;
    hflow_gen_params_default(&gp);
    hflow_error err;
    assert_int_equal(hflow_gen_params_preset(&gp, "tiny", &err), 0);
    assert_int_equal(hflow_gen_model(&gp, path, &err), 0);
    hflow_token_texts *t = texts_from_gguf(path);
    int n_masks = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) walk(t, 1 + (int)(seed % 5), seed * 7919, 0, &n_masks);
    hflow_token_texts_free(t);
}

static void test_walk_stories_vocab(void **state) {
    (void)state;
    char buf[4096];
    const char *p = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    TU_REQUIRE_SHARED(p, "models/stories260K.gguf");
    hflow_token_texts *t = texts_from_gguf(p);
    int n_masks = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) walk(t, 1 + (int)(seed % 8), seed * 104729, 0, &n_masks);
    hflow_token_texts_free(t);
}

static void test_walk_llama_vocab(void **state) {
    (void)state;
    char buf[4096];
    const char *p = tu_shared_path(buf, sizeof buf, "testdata/ggml-vocab-llama-spm.gguf");
    TU_REQUIRE_SHARED(p, "testdata/ggml-vocab-llama-spm.gguf");
    hflow_token_texts *t = texts_from_gguf(p);
    assert_int_equal(hflow_token_texts_count(t), 32000);
    int n_masks = 0;
    double t_mask = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) t_mask += walk(t, 2 + (int)seed, seed * 31337, 500, &n_masks);
    print_message("32000-token vocab: %d masks, %.1f us per mask\n", n_masks, t_mask / n_masks * 1e6);
    hflow_token_texts_free(t);
}

/* ---- generation on stories260K ---- */

static hflow_model *model;

static int setup(void **state) {
    (void)state;
    char buf[4096];
    const char *p = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    hflow_error err;
    hflow_model_params mp = {1};
    if (p && hflow_model_load(p, &mp, &model, &err)) fail_msg("%s", err.message);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    hflow_model_free(model);
    return 0;
}

static int on_tok(void *u, int32_t tok, const char *text, size_t len, const hflow_token_logprobs *lp) {
    (void)tok;
    (void)lp;
    hflow_strbuf_append(u, text, len);
    return 0;
}

static void test_generate_plan(void **state) {
    (void)state;
    TU_REQUIRE_SHARED(model, "models/stories260K.gguf");
    hflow_error err;
    hflow_token_texts *tt;
    assert_int_equal(hflow_token_texts_create(hflow_model_vocab(model), &tt, &err), 0);
    const char *prompt = "Plan the steps to answer: why is the sky blue?\n";
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(hflow_model_vocab(model), prompt, strlen(prompt), 1, 0, &ids, &n, &err), 0);
    hflow_session *s;
    assert_int_equal(hflow_session_create(model, NULL, &s, &err), 0);
    const float temps[] = {0.0f, 0.8f, 1.5f};
    for (int ti = 0; ti < 3; ti++) {
        for (uint64_t seed = 1; seed <= 2; seed++) {
            hflow_grammar *g;
            assert_int_equal(hflow_grammar_create_named("plan:4", tt, &g, &err), 0);
            hflow_logits_hook hook = hflow_grammar_hook(g);
            hflow_sampler_params sp = hflow_sampler_default_params();
            sp.temperature = temps[ti];
            sp.top_p = 0.95f;
            sp.seed = seed;
            hflow_sampler *smp = hflow_sampler_create(&sp, hflow_model_get_info(model)->n_vocab);
            hflow_generate_params gp = {.max_tokens = 1500, .hook = &hook};
            hflow_generate_stats st;
            hflow_strbuf out;
            hflow_strbuf_init(&out);
            if (hflow_generate(s, smp, ids, n, &gp, on_tok, &out, &st, &err)) fail_msg("%s", err.message);
            assert_string_equal(st.finish_reason, "stop");
            assert_true(hflow_grammar_complete(g));
            assert_true(accepts_plan(out.data, 4));
            plan_check c = parse_plan(out.data);
            assert_true(c.n >= 1 && c.n <= 4);
            assert_true(c.ids_in_order && c.deps_earlier && c.digits_ok);
            if (seed == 1) print_message("T=%.1f: %d steps, %d tokens: %.90s...\n", temps[ti], c.n, st.n_generated,
                                         out.data);
            hflow_strbuf_free(&out);
            hflow_sampler_free(smp);
            hflow_grammar_free(g);
        }
    }
    hflow_session_free(s);
    free(ids);
    hflow_token_texts_free(tt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_language),
        cmocka_unit_test(test_named),
        cmocka_unit_test(test_walk_byte_vocab),
        cmocka_unit_test(test_walk_stories_vocab),
        cmocka_unit_test(test_walk_llama_vocab),
        cmocka_unit_test(test_generate_plan),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
