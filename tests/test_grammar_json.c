/* test_grammar_json.c - the "json" constraint (response_format json_object):
 * the byte machine accepts JSON objects and rejects each broken rule; every
 * text it accepts is an object cJSON parses, over thousands of random
 * mutations of valid texts; no prefix it allows is a dead end; on
 * stories260K, constrained generation writes objects that parse, for several
 * seeds and temperatures; the server applies it for response_format. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "base/strbuf.h"
#include "hybridflow/engine.h"
#include "hybridflow/grammar.h"

/* 1: the whole text is a complete object; 0: rejected at some byte or incomplete. */
static int accepts(const char *text, size_t n, int *alive_prefix) {
    const hflow_byte_machine *m = hflow_json_machine();
    unsigned char st[64];
    assert_true(m->state_size <= sizeof st);
    m->init(NULL, st);
    *alive_prefix = 1;
    for (size_t i = 0; i < n; i++)
        if (!m->step(NULL, st, (unsigned char)text[i])) {
            *alive_prefix = 0;
            return 0;
        }
    return m->accepting(NULL, st);
}

static int acc(const char *text) {
    int alive;
    return accepts(text, strlen(text), &alive);
}

static const char *const GOOD[] = {
    "{}",
    "{\"a\":1}",
    "{\"a\": [1, -2.5e+3, 0, -0, 0.25, 1E9, true, false, null, \"x\"], \"b\": {\"c\": {}}, \"d\": []}",
    "{\"esc\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9\\uD83D\\uDE00\"}",
    "{\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
    "{\n  \"k\" :\t\"v\" ,\r\n  \"n\" : [ [ ] , { } ]\n}",
    "{\"\":\"\"}",
};

static const char *const BAD[] = {
    "[1]",              /* the top level must be an object */
    "\"s\"",            /* likewise */
    "{\"a\":1,}",       /* trailing comma */
    "{\"a\" 1}",        /* missing colon */
    "{'a':1}",          /* single quotes */
    "{a:1}",            /* bare key */
    "{\"a\":01}",       /* leading zero */
    "{\"a\":1.}",       /* dot needs a digit */
    "{\"a\":.5}",       /* no integer part */
    "{\"a\":+1}",       /* plus sign */
    "{\"a\":1e}",       /* empty exponent */
    "{\"a\":NaN}",
    "{\"a\":tru}",      /* cut literal */
    "{\"a\":True}",
    "{\"a\":\"x\ty\"}", /* control byte in a string */
    "{\"a\":\"\\x\"}",  /* bad escape */
    "{\"a\":\"\\u12G4\"}",
    "{\"a\":\"\xc0\xaf\"}",   /* invalid lead byte (overlong) */
    "{\"a\":\"\x80\"}",       /* lone continuation byte */
    "{\"a\":\"\xe2\x82\"}",   /* cut sequence */
    "{\"a\":[1}",              /* mismatched close */
    "{\"a\":1]",
    "{\"a\":1} ",             /* nothing may follow the object */
    "{\"a\":1}{}",
    "{\"a\":1",               /* incomplete */
    "{,}",
    " {}",                          /* nothing before the object */
    "{\n\n\"a\":1}",            /* one line break per run */
    "{\r\"a\":1}",               /* '\r' only before '\n' */
    "{\"a\":\"\\uDE00\"}",        /* lone low surrogate */
    "{\"a\":\"\\uD83Dx\"}",       /* high surrogate without its low one */
    "{\"a\":\"\\uD83D\\u0041\"}",
};

static void test_language(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof GOOD / sizeof *GOOD; i++)
        if (!acc(GOOD[i])) fail_msg("rejected good %zu: %s", i, GOOD[i]);
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++)
        if (acc(BAD[i])) fail_msg("accepted bad %zu: %s", i, BAD[i]);
    /* nesting: 32 levels pass, 33 do not */
    char deep[80] = "{\"a\":";
    size_t n = strlen(deep);
    for (int i = 0; i < 31; i++) deep[n++] = '[';
    for (int i = 0; i < 31; i++) deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    assert_true(acc(deep));
    memmove(deep + 6, deep + 5, strlen(deep + 5) + 1);
    deep[5] = '[';
    memmove(deep + strlen(deep) - 1, deep + strlen(deep) - 2, 3);
    deep[strlen(deep) - 2] = ']';
    assert_false(acc(deep));
    /* whitespace runs: 16 bytes pass, 17 do not */
    char ws[64];
    snprintf(ws, sizeof ws, "{%16s\"a\":1}", "");
    assert_true(acc(ws));
    snprintf(ws, sizeof ws, "{%17s\"a\":1}", "");
    assert_false(acc(ws));
}

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random byte edits of valid texts: whatever the machine accepts, cJSON
 * parses as an object; every prefix the machine takes can still go on. */
static void test_accepted_means_parsed(void **state) {
    (void)state;
    const char alphabet[] = "{}[]\":,0123456789-+.eE tfnrual\\u\x80\xc3\xa9";
    uint64_t s = 0x9E3779B97F4A7C15ull;
    int accepted = 0;
    const hflow_byte_machine *m = hflow_json_machine();
    for (int round = 0; round < 20000; round++) {
        const char *g = GOOD[rng(&s) % (sizeof GOOD / sizeof *GOOD)];
        char buf[256];
        size_t n = strlen(g);
        memcpy(buf, g, n + 1);
        int edits = 1 + (int)(rng(&s) % 3);
        for (int e = 0; e < edits && n > 0; e++) {
            size_t at = rng(&s) % n;
            int kind = (int)(rng(&s) % 3);
            char c = alphabet[rng(&s) % (sizeof alphabet - 1)];
            if (kind == 0) buf[at] = c;                                                 /* replace */
            else if (kind == 1 && n + 1 < sizeof buf) { memmove(buf + at + 1, buf + at, n - at + 1); buf[at] = c; n++; }
            else { memmove(buf + at, buf + at + 1, n - at); n--; }                      /* delete */
        }
        int alive;
        if (accepts(buf, n, &alive)) {
            accepted++;
            cJSON *j = cJSON_ParseWithLength(buf, n);
            if (!cJSON_IsObject(j)) fail_msg("accepted but not an object: %.*s", (int)n, buf);
            cJSON_Delete(j);
        } else if (alive) { /* an unfinished prefix must have some byte to go on with */
            unsigned char st[64], tmp[64];
            m->init(NULL, st);
            for (size_t i = 0; i < n; i++) m->step(NULL, st, (unsigned char)buf[i]);
            int any = 0;
            for (int b = 0; b < 256 && !any; b++) {
                memcpy(tmp, st, m->state_size);
                any = m->step(NULL, tmp, (unsigned char)b);
            }
            if (!any) fail_msg("dead end after: %.*s", (int)n, buf);
        }
    }
    assert_true(accepted > 100); /* the check above really ran */
    print_message("%d of 20000 mutated texts accepted, all parsed as objects\n", accepted);
}

static int on_tok(void *u, int32_t tok, const char *text, size_t len, const hflow_token_logprobs *lp) {
    (void)tok;
    (void)lp;
    hflow_strbuf_append(u, text, len);
    return 0;
}

/* Tokens whose whole text is one of the bytes in `which`, biased by `bias`. */
static int closers(const hflow_token_texts *tt, const char *which, float bias, hflow_logit_bias *out, int cap) {
    int n = 0;
    for (int32_t id = 0; id < hflow_token_texts_count(tt) && n < cap; id++) {
        size_t len;
        const char *t = hflow_token_texts_get(tt, id, &len);
        if (len == 1 && strchr(which, t[0])) out[n++] = (hflow_logit_bias){id, bias};
    }
    return n;
}

/* Constrained generation on a real model: every text stays a valid prefix,
 * and one that stops is a complete object that parses. A 260K-parameter
 * story model left alone tells its story inside the first string forever,
 * so half the runs nudge the closing bytes with logit_bias, as a client
 * would; those must finish. */
static void test_generate_json(void **state) {
    (void)state;
    char buf[4096];
    const char *p = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    TU_REQUIRE_SHARED(p, "models/stories260K.gguf");
    hflow_model *model;
    hflow_error err;
    hflow_model_params mp = {1};
    assert_int_equal(hflow_model_load(p, &mp, &model, &err), 0);
    hflow_token_texts *tt;
    assert_int_equal(hflow_token_texts_create(hflow_model_vocab(model), &tt, &err), 0);
    const char *prompt = "Describe the cat as JSON:\n";
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(hflow_model_vocab(model), prompt, strlen(prompt), 1, 0, &ids, &n, &err), 0);
    hflow_session *s;
    assert_int_equal(hflow_session_create(model, NULL, &s, &err), 0);
    const float temps[] = {0.0f, 0.7f, 1.0f};
    hflow_logit_bias nudge[16];
    int n_nudge = closers(tt, "\"", 4.0f, nudge, 8);
    n_nudge += closers(tt, "}", 12.0f, nudge + n_nudge, 8);
    assert_true(n_nudge >= 2);
    int complete = 0, nudged_complete = 0;
    for (int ti = 0; ti < 3; ti++) {
        for (uint64_t seed = 1; seed <= 4; seed++) {
            hflow_grammar *g;
            assert_int_equal(hflow_grammar_create_named("json", tt, &g, &err), 0);
            hflow_logits_hook hook = hflow_grammar_hook(g);
            hflow_sampler_params sp = hflow_sampler_default_params();
            sp.temperature = temps[ti];
            sp.seed = seed;
            if (seed > 2) {
                sp.logit_bias = nudge;
                sp.n_logit_bias = n_nudge;
            }
            hflow_sampler *smp = hflow_sampler_create(&sp, hflow_model_get_info(model)->n_vocab);
            hflow_generate_params gp = {.max_tokens = 400, .hook = &hook};
            hflow_generate_stats st;
            hflow_strbuf out;
            hflow_strbuf_init(&out);
            if (hflow_generate(s, smp, ids, n, &gp, on_tok, &out, &st, &err)) fail_msg("%s", err.message);
            int alive;
            int whole = accepts(out.data ? out.data : "", out.len, &alive);
            assert_true(alive); /* every token the mask let through kept the text in the language */
            if (!strcmp(st.finish_reason, "stop")) {
                assert_true(whole && hflow_grammar_complete(g));
                cJSON *j = cJSON_Parse(out.data);
                assert_true(cJSON_IsObject(j));
                cJSON_Delete(j);
                complete++;
                nudged_complete += seed > 2;
            }
            if (seed == 1 || seed == 3) print_message("T=%.1f%s: %s after %d tokens: %.80s\n", temps[ti], seed > 2 ? " nudged" : "", st.finish_reason,
                                         st.n_generated, out.data ? out.data : "");
            hflow_strbuf_free(&out);
            hflow_sampler_free(smp);
            hflow_grammar_free(g);
        }
    }
    print_message("%d of 12 runs completed an object (%d of the 6 nudged)\n", complete, nudged_complete);
    assert_int_equal(nudged_complete, 6);
    hflow_session_free(s);
    free(ids);
    hflow_token_texts_free(tt);
    hflow_model_free(model);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_language),
        cmocka_unit_test(test_accepted_means_parsed),
        cmocka_unit_test(test_generate_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
