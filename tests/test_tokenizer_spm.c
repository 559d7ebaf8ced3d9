/* test_tokenizer_spm.c - SentencePiece tokenizer: llama.cpp's Llama-2 vocab
 * test vectors, the stories260K reference prompts, and synthetic vocabs for
 * merges by score, byte fallback, unknown and special-token splitting, plus
 * vocab validation and fingerprints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine/vocab_internal.h"
#include "testutil.h"
#include "tokvec.h"

#define LLAMA_SPM "testdata/ggml-vocab-llama-spm.gguf"
#define STORIES "models/stories260K.gguf"

static void print_ids(const char *what, const int32_t *ids, int n) {
    print_message("%s:", what);
    for (int i = 0; i < n; i++)
        print_message(" %d", ids[i]);
    print_message("\n");
}

static int check_case(const hflow_vocab *v, const tu_tokvec_case *c, int idx) {
    int32_t *ids = NULL;
    int n = 0;
    hflow_error err;
    if (hflow_tokenize(v, c->text, c->len, 0, 0, &ids, &n, &err) != 0) {
        print_message("case %d: %s\n", idx, err.message);
        return 0;
    }
    int ok = n == c->n_ids && (n == 0 || memcmp(ids, c->ids, sizeof *ids * (size_t)n) == 0);
    if (!ok) {
        print_message("case %d mismatch for text \"%.*s\"\n", idx, (int)c->len, c->text);
        print_ids("  expected", c->ids, c->n_ids);
        print_ids("  got     ", ids, n);
    }
    free(ids);
    return ok;
}

static void test_llama_spm_vectors(void **state) {
    (void)state;
    char path[4096];
    const char *p = tu_shared_path(path, sizeof path, LLAMA_SPM);
    TU_REQUIRE_SHARED(p, LLAMA_SPM);
    hflow_vocab *v = tu_load_vocab(p);
    assert_non_null(v);
    assert_int_equal(hflow_vocab_kind(v), HFLOW_VOCAB_SPM);
    assert_int_equal(hflow_vocab_size(v), 32000);
    assert_int_equal(hflow_vocab_bos(v), 1);
    assert_int_equal(hflow_vocab_eos(v), 2);
    assert_int_equal(hflow_vocab_unk(v), 0);
    assert_true(hflow_vocab_add_bos(v));
    assert_true(hflow_vocab_is_eog(v, 2));
    assert_true(hflow_vocab_is_control(v, 1));
    tu_tokvec tv;
    assert_int_equal(tu_tokvec_load(p, &tv), 0);
    assert_int_equal(tv.n, 46);
    int passed = 0;
    for (int i = 0; i < tv.n; i++)
        passed += check_case(v, &tv.cases[i], i);
    print_message("llama-spm vectors: %d/%d match\n", passed, tv.n);
    assert_int_equal(passed, tv.n);
    /* Every vector with valid UTF-8 round-trips (BOS prefix drops the added space). */
    for (int i = 0; i < tv.n; i++) {
        int32_t *ids;
        int n;
        assert_int_equal(hflow_tokenize(v, tv.cases[i].text, tv.cases[i].len, 1, 0, &ids, &n, NULL), 0);
        assert_int_equal(ids[0], 1);
        char *back = hflow_detokenize(v, ids, n, 0);
        assert_non_null(back);
        assert_int_equal(strlen(back), tv.cases[i].len);
        assert_memory_equal(back, tv.cases[i].text, tv.cases[i].len);
        free(back);
        free(ids);
    }
    tu_tokvec_free(&tv);
    hflow_vocab_free(v);
}

static void test_stories_reference_prompts(void **state) {
    (void)state;
    char path[4096], ref[4096];
    const char *p = tu_shared_path(path, sizeof path, STORIES);
    TU_REQUIRE_SHARED(p, STORIES);
    const char *r = tu_shared_path(ref, sizeof ref, "testdata/stories260K.reference.jsonl");
    TU_REQUIRE_SHARED(r, "testdata/stories260K.reference.jsonl");
    hflow_vocab *v = tu_load_vocab(p);
    assert_non_null(v);
    assert_int_equal(hflow_vocab_size(v), 512);
    char *data = tu_read_file(r, NULL);
    assert_non_null(data);
    int n_prompts = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        const char *prompt = cJSON_GetStringValue(cJSON_GetObjectItem(j, "prompt"));
        cJSON *want = cJSON_GetObjectItem(j, "prompt_tokens_with_bos");
        assert_non_null(prompt);
        assert_true(cJSON_IsArray(want));
        int32_t *ids;
        int n;
        assert_int_equal(hflow_tokenize(v, prompt, strlen(prompt), 1, 0, &ids, &n, NULL), 0);
        assert_int_equal(n, cJSON_GetArraySize(want));
        for (int i = 0; i < n; i++)
            assert_int_equal(ids[i], (int32_t)cJSON_GetArrayItem(want, i)->valuedouble);
        char *back = hflow_detokenize(v, ids, n, 0);
        assert_string_equal(back, prompt);
        free(back);
        free(ids);
        cJSON_Delete(j);
        n_prompts++;
    }
    assert_true(n_prompts > 0);
    print_message("stories260K: %d reference prompts match\n", n_prompts);
    free(data);
    hflow_vocab_free(v);
}

/* A tiny SPM vocab: <unk>, <s>, </s>, byte tokens, pieces with scores,
 * a control "<|ctl|>" and a user-defined "<tool>". */
typedef struct mini {
    const char *text;
    float score;
    int32_t type;
} mini;

static hflow_vocab *build_mini_spm(void) {
    static const mini toks[] = {
        {"<unk>", 0, HFLOW_TOKEN_UNKNOWN}, {"<s>", 0, HFLOW_TOKEN_CONTROL}, {"</s>", 0, HFLOW_TOKEN_CONTROL},
        {"<0x0A>", 0, HFLOW_TOKEN_BYTE},   {"<0xC3>", 0, HFLOW_TOKEN_BYTE}, {"<0xA9>", 0, HFLOW_TOKEN_BYTE},
        {"\xE2\x96\x81", -1, HFLOW_TOKEN_NORMAL}, {"a", -2, HFLOW_TOKEN_NORMAL}, {"b", -2, HFLOW_TOKEN_NORMAL},
        {"c", -2, HFLOW_TOKEN_NORMAL},     {"ab", -5, HFLOW_TOKEN_NORMAL},  {"bc", -1, HFLOW_TOKEN_NORMAL},
        {"\xE2\x96\x81" "a", -3, HFLOW_TOKEN_NORMAL}, {"<|ctl|>", 0, HFLOW_TOKEN_CONTROL},
        {"<tool>", 0, HFLOW_TOKEN_USER_DEFINED},
    };
    enum { N = sizeof toks / sizeof toks[0] };
    const char *texts[N];
    float scores[N];
    int32_t types[N];
    for (int i = 0; i < N; i++)
        texts[i] = toks[i].text, scores[i] = toks[i].score, types[i] = toks[i].type;
    hflow_vocab_spec s;
    hflow_vocab_spec_init(&s);
    s.kind = HFLOW_VOCAB_SPM;
    s.n_tokens = N;
    s.tokens = texts;
    s.scores = scores;
    s.types = types;
    hflow_vocab *v = NULL;
    hflow_error err;
    assert_int_equal(hflow_vocab_build(&s, &v, &err), 0);
    return v;
}

static void expect_tokens(const hflow_vocab *v, const char *text, int add_special, int parse_special,
                          const int32_t *want, int n_want) {
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(v, text, strlen(text), add_special, parse_special, &ids, &n, NULL), 0);
    int same = n == n_want;
    for (int i = 0; same && i < n; i++)
        same = ids[i] == want[i];
    if (!same) {
        print_message("text \"%s\"\n", text);
        print_ids("  expected", want, n_want);
        print_ids("  got     ", ids, n);
        fail();
    }
    free(ids);
}

static void test_spm_merges_by_score(void **state) {
    (void)state;
    hflow_vocab *v = build_mini_spm();
    /* "▁abc" (the prefix space is added even without BOS): "bc" (-1) merges
     * first, then "▁a" (-3); "ab" (-5) never gets a chance. */
    expect_tokens(v, "abc", 0, 0, (int32_t[]){12, 11}, 2);
    expect_tokens(v, "abc", 1, 0, (int32_t[]){1, 12, 11}, 3);
    /* "▁▁abab": "▁a" (-3) first, which makes the queued left "ab" stale; the
     * right "ab" (-5) still merges: ▁ ▁a b ab. */
    expect_tokens(v, " abab", 0, 0, (int32_t[]){6, 12, 8, 10}, 4);
    expect_tokens(v, " a", 0, 0, (int32_t[]){6, 12}, 2);
    /* Byte fallback: "é" = C3 A9 has no token; '\n' -> <0x0A>; 'z' has no byte token -> <unk>. */
    expect_tokens(v, "a\xC3\xA9", 0, 0, (int32_t[]){12, 4, 5}, 3);
    expect_tokens(v, "a\n", 0, 0, (int32_t[]){12, 3}, 2);
    expect_tokens(v, "az", 0, 0, (int32_t[]){12, 0}, 2);
    expect_tokens(v, "", 0, 0, NULL, 0);
    expect_tokens(v, "", 1, 0, (int32_t[]){1}, 1);
    hflow_vocab_free(v);
}

static void test_spm_special_tokens(void **state) {
    (void)state;
    hflow_vocab *v = build_mini_spm();
    /* Control tokens split only with parse_special; a space is prefixed after each. */
    expect_tokens(v, "a<|ctl|>a", 0, 1, (int32_t[]){12, 13, 12}, 3);
    expect_tokens(v, "<s>a", 0, 1, (int32_t[]){1, 12}, 2);
    /* Without parse_special the text is plain text: '<' '|' etc. have no tokens. */
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(v, "a<|ctl|>", 8, 0, 0, &ids, &n, NULL), 0);
    for (int i = 0; i < n; i++)
        assert_int_not_equal(ids[i], 13);
    free(ids);
    /* User-defined tokens split even without parse_special. */
    expect_tokens(v, "a<tool>a", 0, 0, (int32_t[]){12, 14, 12}, 3);
    /* "<unk>" (UNKNOWN type) only with parse_special. */
    expect_tokens(v, "<unk>", 0, 1, (int32_t[]){0}, 1);
    hflow_vocab_free(v);
}

static int build_err(hflow_vocab_spec *s, const char *needle) {
    hflow_vocab *v = NULL;
    hflow_error err;
    hflow_error_clear(&err);
    int rc = hflow_vocab_build(s, &v, &err);
    if (rc == 0) {
        hflow_vocab_free(v);
        print_message("expected an error containing \"%s\"\n", needle);
        return 0;
    }
    if (!strstr(err.message, needle)) {
        print_message("error \"%s\" lacks \"%s\"\n", err.message, needle);
        return 0;
    }
    return rc;
}

static void test_vocab_validation(void **state) {
    (void)state;
    const char *texts[3] = {"<unk>", "<s>", "</s>"};
    float scores[3] = {0, 0, 0};
    int32_t types[3] = {2, 3, 3};
    hflow_vocab_spec s;
    hflow_vocab_spec_init(&s);
    s.kind = HFLOW_VOCAB_SPM;
    s.n_tokens = 3;
    s.tokens = texts;
    s.scores = scores;
    s.types = types;
    s.bos = 7;
    assert_int_equal(build_err(&s, "BOS token id 7 out of range"), HFLOW_EFORMAT);
    s.bos = HFLOW_VOCAB_ID_DEFAULT;
    types[1] = 9;
    assert_int_equal(build_err(&s, "invalid type 9"), HFLOW_EFORMAT);
    types[1] = 3;
    scores[2] = 0.0f / 0.0f;
    assert_int_equal(build_err(&s, "NaN"), HFLOW_EFORMAT);
    scores[2] = 0;
    s.bos = -1;
    s.add_bos = 1;
    assert_int_equal(build_err(&s, "no BOS"), HFLOW_EFORMAT);
    s.bos = HFLOW_VOCAB_ID_DEFAULT;
    s.kind = 7;
    assert_int_equal(build_err(&s, "unsupported tokenizer kind"), HFLOW_EUNSUPPORTED);
    s.kind = HFLOW_VOCAB_BPE;
    s.add_bos = HFLOW_VOCAB_FLAG_DEFAULT;
    s.pre = "klingon";
    assert_int_equal(build_err(&s, "unsupported pre-tokenizer"), HFLOW_EUNSUPPORTED);
    s.pre = NULL;
    const char *bad_merge[1] = {"nospace"};
    s.n_merges = 1;
    s.merges = bad_merge;
    assert_int_equal(build_err(&s, "merge 0"), HFLOW_EFORMAT);
    s.n_tokens = 0;
    assert_int_equal(build_err(&s, "no tokens"), HFLOW_EFORMAT);
}

static void test_fingerprint(void **state) {
    (void)state;
    hflow_vocab *a = build_mini_spm(), *b = build_mini_spm();
    assert_true(hflow_vocab_fingerprint(a) == hflow_vocab_fingerprint(b));
    const char *texts[3] = {"<unk>", "<s>", "</s>"};
    float scores[3] = {0, 0, 0};
    hflow_vocab_spec s;
    hflow_vocab_spec_init(&s);
    s.kind = HFLOW_VOCAB_SPM;
    s.n_tokens = 3;
    s.tokens = texts;
    s.scores = scores;
    hflow_vocab *c = NULL, *d = NULL;
    assert_int_equal(hflow_vocab_build(&s, &c, NULL), 0);
    scores[2] = -1; /* only a score differs */
    assert_int_equal(hflow_vocab_build(&s, &d, NULL), 0);
    assert_true(hflow_vocab_fingerprint(c) != hflow_vocab_fingerprint(d));
    assert_true(hflow_vocab_fingerprint(a) != hflow_vocab_fingerprint(c));
    assert_int_equal(hflow_vocab_find(a, "bc"), 11);
    assert_int_equal(hflow_vocab_find(a, "zz"), -1);
    assert_string_equal(hflow_vocab_text(a, 13), "<|ctl|>");
    assert_null(hflow_vocab_text(a, 99));
    hflow_vocab_free(a);
    hflow_vocab_free(b);
    hflow_vocab_free(c);
    hflow_vocab_free(d);
}

static void test_load_errors(void **state) {
    (void)state;
    /* A GGUF without tokenizer keys is refused with a clear message. */
    hflow_gguf_writer *w = hflow_gguf_writer_create();
    assert_non_null(w);
    hflow_gguf_set_str(w, "general.architecture", "llama");
    char path[512];
    snprintf(path, sizeof path, "%s/notok.gguf", tu_tmpdir());
    assert_int_equal(hflow_gguf_writer_write(w, path, NULL), 0);
    hflow_gguf *g = NULL;
    assert_int_equal(hflow_gguf_open(path, &g, NULL), 0);
    hflow_vocab *v = NULL;
    hflow_error err;
    assert_int_equal(hflow_vocab_load(g, &v, &err), HFLOW_EFORMAT);
    assert_non_null(strstr(err.message, "tokenizer.ggml.model"));
    hflow_gguf_close(g);
    /* Scores array shorter than the token list. */
    const char *toks[2] = {"a", "b"};
    float sc[1] = {0};
    hflow_gguf_set_str(w, "tokenizer.ggml.model", "llama");
    hflow_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 2);
    hflow_gguf_set_arr(w, "tokenizer.ggml.scores", HFLOW_GGUF_FLOAT32, sc, 1);
    assert_int_equal(hflow_gguf_writer_write(w, path, NULL), 0);
    assert_int_equal(hflow_gguf_open(path, &g, NULL), 0);
    assert_int_equal(hflow_vocab_load(g, &v, &err), HFLOW_EFORMAT);
    assert_non_null(strstr(err.message, "has 1 entries but there are 2 tokens"));
    hflow_gguf_close(g);
    /* Out-of-range BOS id. */
    float sc2[2] = {0, 0};
    hflow_gguf_set_arr(w, "tokenizer.ggml.scores", HFLOW_GGUF_FLOAT32, sc2, 2);
    hflow_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 5);
    assert_int_equal(hflow_gguf_writer_write(w, path, NULL), 0);
    assert_int_equal(hflow_gguf_open(path, &g, NULL), 0);
    assert_int_equal(hflow_vocab_load(g, &v, &err), HFLOW_EFORMAT);
    assert_non_null(strstr(err.message, "bos_token_id = 5 is out of range"));
    hflow_gguf_close(g);
    hflow_gguf_writer_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spm_merges_by_score), cmocka_unit_test(test_spm_special_tokens),
        cmocka_unit_test(test_vocab_validation),    cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_load_errors),         cmocka_unit_test(test_llama_spm_vectors),
        cmocka_unit_test(test_stories_reference_prompts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
