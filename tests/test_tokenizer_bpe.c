/* test_tokenizer_bpe.c - byte-level BPE: llama.cpp's GPT-2 vocab test vectors,
 * lossless round trips (any bytes), the pre-tokenizer families against splits
 * produced by Python's `regex` module with the same regexes (llama.cpp chain
 * semantics: each regex splits every piece, gaps kept), and synthetic vocabs
 * for merge ranks, ignore_merges, special tokens and end-of-generation ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/unicode_props.h"
#include "engine/vocab_internal.h"
#include "testutil.h"
#include "tokvec.h"

#define GPT2 "testdata/ggml-vocab-gpt-2.gguf"

static const char *const pre_texts[] = {
    "Hello world",
    "  Hello  world!!  \x0A""\x0A""  x",
    "I'VE got 12345 apples, don't you?",
    "\x09""Tabs\x0D""\x0A""\x0D""\x0A""and 3.14159",
    "na\xC3""\xAF""ve caf\xC3""\xA9"" \xE2""\x80""\x94"" \xE6""\x9D""\xB1""\xE4""\xBA""\xAC"" 2024\xE5""\xB9""\xB4""",
    "(hello) $x+=1 <b>|~^",
    "a  \x0A"" b",
    "x'S 'll'd",
};
/* Expected pieces per family and text, NULL-terminated. */
static const struct { int family; const char *pieces[8][20]; } pre_expected[] = {
    {HFLOW_PRETOK_GPT2, {
        {"Hello", " world", NULL},
        {" ", " Hello", " ", " world", "!!", "  \x0A""\x0A"" ", " x", NULL},
        {"I", "'", "VE", " got", " 12345", " apples", ",", " don", "'t", " you", "?", NULL},
        {"\x09""", "Tabs", "\x0D""\x0A""\x0D""", "\x0A""", "and", " 3", ".", "14159", NULL},
        {"na\xC3""\xAF""ve", " caf\xC3""\xA9""", " \xE2""\x80""\x94""", " \xE6""\x9D""\xB1""\xE4""\xBA""\xAC""", " 2024", "\xE5""\xB9""\xB4""", NULL},
        {"(", "hello", ")", " $", "x", "+=", "1", " <", "b", ">|~^", NULL},
        {"a", "  \x0A""", " b", NULL},
        {"x", "'", "S", " '", "ll", "'d", NULL},
    }},
    {HFLOW_PRETOK_LLAMA3, {
        {"Hello", " world", NULL},
        {" ", " Hello", " ", " world", "!!", "  \x0A""\x0A""", " ", " x", NULL},
        {"I", "'VE", " got", " ", "123", "45", " apples", ",", " don", "'t", " you", "?", NULL},
        {"\x09""Tabs", "\x0D""\x0A""\x0D""\x0A""", "and", " ", "3", ".", "141", "59", NULL},
        {"na\xC3""\xAF""ve", " caf\xC3""\xA9""", " \xE2""\x80""\x94""", " \xE6""\x9D""\xB1""\xE4""\xBA""\xAC""", " ", "202", "4", "\xE5""\xB9""\xB4""", NULL},
        {"(hello", ")", " $", "x", "+=", "1", " <", "b", ">|~^", NULL},
        {"a", "  \x0A""", " b", NULL},
        {"x", "'S", " '", "ll", "'d", NULL},
    }},
    {HFLOW_PRETOK_QWEN2, {
        {"Hello", " world", NULL},
        {" ", " Hello", " ", " world", "!!", "  \x0A""\x0A""", " ", " x", NULL},
        {"I", "'VE", " got", " ", "1", "2", "3", "4", "5", " apples", ",", " don", "'t", " you", "?", NULL},
        {"\x09""Tabs", "\x0D""\x0A""\x0D""\x0A""", "and", " ", "3", ".", "1", "4", "1", "5", "9", NULL},
        {"na\xC3""\xAF""ve", " caf\xC3""\xA9""", " \xE2""\x80""\x94""", " \xE6""\x9D""\xB1""\xE4""\xBA""\xAC""", " ", "2", "0", "2", "4", "\xE5""\xB9""\xB4""", NULL},
        {"(hello", ")", " $", "x", "+=", "1", " <", "b", ">|~^", NULL},
        {"a", "  \x0A""", " b", NULL},
        {"x", "'S", " '", "ll", "'d", NULL},
    }},
    {HFLOW_PRETOK_SMOLLM, {
        {"Hello", " world", NULL},
        {" ", " Hello", " ", " world", "!!", "  \x0A""\x0A"" ", " x", NULL},
        {"I", "'", "VE", " got", " ", "1", "2", "3", "4", "5", " apples", ",", " don", "'t", " you", "?", NULL},
        {"\x09""", "Tabs", "\x0D""\x0A""\x0D""", "\x0A""", "and", " ", "3", ".", "1", "4", "1", "5", "9", NULL},
        {"na\xC3""\xAF""ve", " caf\xC3""\xA9""", " \xE2""\x80""\x94""", " \xE6""\x9D""\xB1""\xE4""\xBA""\xAC""", " ", "2", "0", "2", "4", "\xE5""\xB9""\xB4""", NULL},
        {"(", "hello", ")", " $", "x", "+=", "1", " <", "b", ">|~^", NULL},
        {"a", "  \x0A""", " b", NULL},
        {"x", "'", "S", " '", "ll", "'d", NULL},
    }},
    {HFLOW_PRETOK_DEFAULT, {
        {"Hello", " world", NULL},
        {" ", " Hello", " ", " world", "!!", "  \x0A""\x0A"" ", " x", NULL},
        {"I", "'", "VE", " got", " ", "123", "45", " apples", ",", " don", "'", "t", " you", "?", NULL},
        {"\x09""", "Tabs", "\x0D""\x0A""\x0D""", "\x0A""", "and", " ", "3", ".", "141", "59", NULL},
        {"na\xC3""\xAF""ve", " caf\xC3""\xA9""", " ", "\xE2""\x80""\x94""", " \xE6""\x9D""\xB1""\xE4""\xBA""\xAC""", " ", "202", "4", "\xE5""\xB9""\xB4""", NULL},
        {"(", "hello", ")", " ", "$", "x", "+=", "1", " ", "<", "b", ">|~^", NULL},
        {"a", "  \x0A""", " b", NULL},
        {"x", "'", "S", " ", "'", "ll", "'", "d", NULL},
    }},
};

static void print_ids(const char *what, const int32_t *ids, int n) {
    print_message("%s:", what);
    for (int i = 0; i < n; i++)
        print_message(" %d", ids[i]);
    print_message("\n");
}

static void test_pretokenizers(void **state) {
    (void)state;
    size_t n_texts = sizeof pre_texts / sizeof pre_texts[0];
    for (size_t f = 0; f < sizeof pre_expected / sizeof pre_expected[0]; f++) {
        for (size_t t = 0; t < n_texts; t++) {
            size_t *r = NULL, n = 0;
            const char *text = pre_texts[t];
            assert_int_equal(hflow_pretokenize(pre_expected[f].family, text, strlen(text), &r, &n), 0);
            size_t want_n = 0;
            while (pre_expected[f].pieces[t][want_n])
                want_n++;
            int same = n == want_n;
            for (size_t k = 0; same && k < n; k++) {
                const char *w = pre_expected[f].pieces[t][k];
                same = r[2 * k + 1] == strlen(w) && memcmp(text + r[2 * k], w, strlen(w)) == 0;
            }
            if (!same) {
                print_message("family %d text %zu: got", pre_expected[f].family, t);
                for (size_t k = 0; k < n; k++)
                    print_message(" [%.*s]", (int)r[2 * k + 1], text + r[2 * k]);
                print_message("\n");
            }
            free(r);
            assert_true(same);
        }
    }
}

static void test_pretok_names(void **state) {
    (void)state;
    assert_int_equal(hflow_pretok_from_name("gpt-2"), HFLOW_PRETOK_GPT2);
    assert_int_equal(hflow_pretok_from_name("llama-bpe"), HFLOW_PRETOK_LLAMA3);
    assert_int_equal(hflow_pretok_from_name("llama3"), HFLOW_PRETOK_LLAMA3);
    assert_int_equal(hflow_pretok_from_name("qwen2"), HFLOW_PRETOK_QWEN2);
    assert_int_equal(hflow_pretok_from_name("smollm"), HFLOW_PRETOK_SMOLLM);
    assert_int_equal(hflow_pretok_from_name("default"), HFLOW_PRETOK_DEFAULT);
    assert_int_equal(hflow_pretok_from_name("nonesuch"), -1);
}

static void test_gpt2_vectors(void **state) {
    (void)state;
    char path[4096];
    const char *p = tu_shared_path(path, sizeof path, GPT2);
    TU_REQUIRE_SHARED(p, GPT2);
    hflow_vocab *v = tu_load_vocab(p);
    assert_non_null(v);
    assert_int_equal(hflow_vocab_kind(v), HFLOW_VOCAB_BPE);
    assert_int_equal(hflow_vocab_size(v), 50257);
    assert_int_equal(hflow_vocab_eos(v), 50256);
    assert_false(hflow_vocab_add_bos(v));
    assert_true(hflow_vocab_is_eog(v, 50256));
    tu_tokvec tv;
    assert_int_equal(tu_tokvec_load(p, &tv), 0);
    assert_int_equal(tv.n, 46);
    int passed = 0;
    for (int i = 0; i < tv.n; i++) {
        const tu_tokvec_case *c = &tv.cases[i];
        int32_t *ids;
        int n;
        assert_int_equal(hflow_tokenize(v, c->text, c->len, 0, 0, &ids, &n, NULL), 0);
        int same = n == c->n_ids;
        for (int k = 0; same && k < n; k++)
            same = ids[k] == c->ids[k];
        if (!same) {
            print_message("case %d mismatch for \"%.*s\"\n", i, (int)c->len, c->text);
            print_ids("  expected", c->ids, c->n_ids);
            print_ids("  got     ", ids, n);
        }
        passed += same;
        /* Byte-level BPE is lossless. */
        char *back = hflow_detokenize(v, ids, n, 0);
        assert_non_null(back);
        assert_int_equal(strlen(back), c->len);
        assert_memory_equal(back, c->text, c->len);
        free(back);
        free(ids);
    }
    print_message("gpt-2 vectors: %d/%d match\n", passed, tv.n);
    assert_int_equal(passed, tv.n);
    tu_tokvec_free(&tv);

    /* Arbitrary bytes (invalid UTF-8, NULs) survive a round trip too. */
    unsigned char junk[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof junk; i++)
        x = x * 1103515245u + 12345u, junk[i] = (unsigned char)(x >> 16);
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(v, (const char *)junk, sizeof junk, 0, 0, &ids, &n, NULL), 0);
    size_t total = 0;
    char piece[256];
    for (int i = 0; i < n; i++) {
        int k = hflow_token_to_piece(v, ids[i], 0, piece, sizeof piece);
        assert_true(k >= 0 && k <= (int)sizeof piece);
        assert_memory_equal(piece, junk + total, (size_t)k);
        total += (size_t)k;
    }
    assert_int_equal(total, sizeof junk);
    free(ids);
    /* <|endoftext|> is a control token: split out only with parse_special. */
    const char *t = "a<|endoftext|>b";
    assert_int_equal(hflow_tokenize(v, t, strlen(t), 0, 1, &ids, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 50256);
    free(ids);
    assert_int_equal(hflow_tokenize(v, t, strlen(t), 0, 0, &ids, &n, NULL), 0);
    for (int i = 0; i < n; i++)
        assert_int_not_equal(ids[i], 50256);
    free(ids);
    hflow_vocab_free(v);
}

/* A byte-level vocab: the 256 byte symbols, a few merged tokens and specials. */
typedef struct bpe_fixture {
    char byte_text[256][4];
    const char *texts[300];
    int32_t types[300];
    int32_t n;
} bpe_fixture;

static int32_t fx_add(bpe_fixture *f, const char *text, int32_t type) {
    f->texts[f->n] = text;
    f->types[f->n] = type;
    return f->n++;
}

static hflow_vocab *build_bpe(bpe_fixture *f, const char *pre, const char *const *merges, int n_merges) {
    f->n = 0;
    for (int b = 0; b < 256; b++) {
        int k = hflow_utf8_encode(hflow_bpe_byte_to_cpt((unsigned char)b), f->byte_text[b]);
        f->byte_text[b][k] = '\0';
        fx_add(f, f->byte_text[b], HFLOW_TOKEN_NORMAL);
    }
    fx_add(f, "he", HFLOW_TOKEN_NORMAL);              /* 256 */
    fx_add(f, "ll", HFLOW_TOKEN_NORMAL);              /* 257 */
    fx_add(f, "hell", HFLOW_TOKEN_NORMAL);            /* 258 */
    fx_add(f, "hello", HFLOW_TOKEN_NORMAL);           /* 259 */
    fx_add(f, "lo", HFLOW_TOKEN_NORMAL);              /* 260 */
    fx_add(f, "world", HFLOW_TOKEN_NORMAL);           /* 261: no merge path leads here */
    fx_add(f, "<|im_start|>", HFLOW_TOKEN_CONTROL);   /* 262 */
    fx_add(f, "<|im_end|>", HFLOW_TOKEN_CONTROL);     /* 263 */
    fx_add(f, "<tool_call>", HFLOW_TOKEN_USER_DEFINED); /* 264 */
    hflow_vocab_spec s;
    hflow_vocab_spec_init(&s);
    s.kind = HFLOW_VOCAB_BPE;
    s.pre = pre;
    s.n_tokens = f->n;
    s.tokens = f->texts;
    s.types = f->types;
    s.n_merges = n_merges;
    s.merges = merges;
    s.eos = 263;
    hflow_vocab *v = NULL;
    hflow_error err;
    if (hflow_vocab_build(&s, &v, &err) != 0)
        print_message("build: %s\n", err.message);
    return v;
}

static void expect(const hflow_vocab *v, const char *text, int parse_special, const int32_t *want, int n_want) {
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(v, text, strlen(text), 0, parse_special, &ids, &n, NULL), 0);
    int same = n == n_want;
    for (int k = 0; same && k < n; k++)
        same = ids[k] == want[k];
    if (!same) {
        print_message("text \"%s\"\n", text);
        print_ids("  expected", want, n_want);
        print_ids("  got     ", ids, n);
    }
    free(ids);
    assert_true(same);
}

static void test_bpe_merge_ranks(void **state) {
    (void)state;
    static bpe_fixture f;
    /* "l o" outranks "l l": lo is taken first, the queued "l l" goes stale. */
    const char *m1[] = {"h e", "l o", "l l", "he ll", "hell o"};
    hflow_vocab *v = build_bpe(&f, "gpt2", m1, 5);
    assert_non_null(v);
    expect(v, "hello", 0, (int32_t[]){256, 'l', 260}, 3);
    hflow_vocab_free(v);
    /* With "l l" first the chain he + ll -> hell, hell + o -> hello completes.
     * A merge naming a non-token is dropped, not fatal. */
    const char *m2[] = {"h e", "l l", "l o", "he ll", "hell o", "x yz"};
    v = build_bpe(&f, "gpt2", m2, 6);
    assert_non_null(v);
    expect(v, "hello", 0, (int32_t[]){259}, 1);
    /* " hello" is one pre-token whose space is the byte token for ' ' ("Ġ" = id 32). */
    expect(v, "hello hello", 0, (int32_t[]){259, ' ', 259}, 3);
    /* No merges lead to "world": byte tokens. */
    expect(v, "world", 0, (int32_t[]){'w', 'o', 'r', 'l', 'd'}, 5);
    hflow_vocab_free(v);
}

static void test_bpe_ignore_merges_llama3(void **state) {
    (void)state;
    static bpe_fixture f;
    const char *m[] = {"h e"};
    hflow_vocab *v = build_bpe(&f, "llama-bpe", m, 1);
    assert_non_null(v);
    /* Llama-3 takes a whole pre-token that is itself a token, merges or not. */
    expect(v, "world", 0, (int32_t[]){261}, 1);
    hflow_vocab_free(v);
}

static void test_bpe_special_tokens(void **state) {
    (void)state;
    static bpe_fixture f;
    const char *m[] = {"h e", "l l", "l o", "he ll", "hell o"};
    hflow_vocab *v = build_bpe(&f, "qwen2", m, 5);
    assert_non_null(v);
    expect(v, "<|im_start|>hello<|im_end|>", 1, (int32_t[]){262, 259, 263}, 3);
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(v, "<|im_start|>", 12, 0, 0, &ids, &n, NULL), 0);
    assert_true(n > 1);
    for (int i = 0; i < n; i++)
        assert_int_not_equal(ids[i], 262);
    free(ids);
    /* User-defined tokens split even without parse_special. */
    expect(v, "a<tool_call>b", 0, (int32_t[]){'a', 264, 'b'}, 3);
    /* <|im_end|> is EOS here and is found as EOT by name. */
    assert_int_equal(hflow_vocab_eot(v), 263);
    assert_true(hflow_vocab_is_eog(v, 263));
    assert_false(hflow_vocab_is_eog(v, 262));
    assert_true(hflow_vocab_is_control(v, 262));
    assert_false(hflow_vocab_is_control(v, 264));
    /* Pieces: control text only when rendering specials; byte tokens unmapped. */
    char buf[64];
    assert_int_equal(hflow_token_to_piece(v, 262, 0, buf, sizeof buf), 0);
    assert_int_equal(hflow_token_to_piece(v, 262, 1, buf, sizeof buf), 12);
    assert_memory_equal(buf, "<|im_start|>", 12);
    assert_int_equal(hflow_token_to_piece(v, ' ', 0, buf, sizeof buf), 1);
    assert_int_equal(buf[0], ' ');
    assert_int_equal(hflow_token_to_piece(v, 264, 0, buf, sizeof buf), 11);
    assert_int_equal(hflow_token_to_piece(v, 99999, 0, buf, sizeof buf), HFLOW_ERANGE);
    /* Too small a buffer: the needed size comes back. */
    assert_int_equal(hflow_token_to_piece(v, 259, 0, buf, 2), 5);
    hflow_vocab_free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pretok_names),       cmocka_unit_test(test_pretokenizers),
        cmocka_unit_test(test_bpe_merge_ranks),    cmocka_unit_test(test_bpe_ignore_merges_llama3),
        cmocka_unit_test(test_bpe_special_tokens), cmocka_unit_test(test_gpt2_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
