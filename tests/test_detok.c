/* test_detok.c - pieces, whole-sequence detokenization and the streaming
 * detokenizer holding back UTF-8 characters split across byte tokens, on
 * synthetic vocabs and the real Llama-2 SPM / GPT-2 BPE vocabs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/unicode_props.h"
#include "engine/vocab_internal.h"
#include "testutil.h"
#include "tokvec.h"

/* <unk> <s> </s> <0xE2> <0x82> <0xAC> <0xC3> <0xA9> ▁a b <|ctl|> <user> */
static hflow_vocab *mini_spm(void) {
    const char *t[] = {"<unk>", "<s>", "</s>", "<0xE2>", "<0x82>", "<0xAC>", "<0xC3>", "<0xA9>",
                       "\xE2\x96\x81" "a", "b", "<|ctl|>", "<user>"};
    int32_t ty[] = {2, 3, 3, 6, 6, 6, 6, 6, 1, 1, 3, 4};
    hflow_vocab_spec s;
    hflow_vocab_spec_init(&s);
    s.kind = HFLOW_VOCAB_SPM;
    s.n_tokens = 12;
    s.tokens = t;
    s.types = ty;
    hflow_vocab *v = NULL;
    assert_int_equal(hflow_vocab_build(&s, &v, NULL), 0);
    return v;
}

static void check_detok(const hflow_vocab *v, const int32_t *ids, int n, int special, const char *want) {
    char *s = hflow_detokenize(v, ids, n, special);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

static void test_pieces_and_sequences(void **state) {
    (void)state;
    hflow_vocab *v = mini_spm();
    char buf[16];
    assert_int_equal(hflow_token_to_piece(v, 8, 0, buf, sizeof buf), 2);
    assert_memory_equal(buf, " a", 2);
    assert_int_equal(hflow_token_to_piece(v, 3, 0, buf, sizeof buf), 1);
    assert_int_equal((unsigned char)buf[0], 0xE2);
    assert_int_equal(hflow_token_to_piece(v, 1, 0, buf, sizeof buf), 0);
    assert_int_equal(hflow_token_to_piece(v, 1, 1, buf, sizeof buf), 3);
    assert_int_equal(hflow_token_to_piece(v, 11, 0, buf, sizeof buf), 6); /* user-defined: always text */
    assert_true(hflow_token_to_piece(v, -1, 0, buf, sizeof buf) < 0);
    assert_true(hflow_token_to_piece(v, 12, 0, buf, sizeof buf) < 0);
    /* The space the tokenizer put after BOS goes; a continuation keeps it. */
    check_detok(v, (int32_t[]){1, 8, 9}, 3, 0, "ab");
    check_detok(v, (int32_t[]){8, 9}, 2, 0, " ab");
    check_detok(v, (int32_t[]){1, 8, 10, 8}, 4, 1, "<s>a<|ctl|> a");
    check_detok(v, (int32_t[]){8, 3, 4, 5, 6, 7}, 6, 0, " a\xE2\x82\xAC\xC3\xA9");
    check_detok(v, NULL, 0, 0, "");
    assert_null(hflow_detokenize(v, (int32_t[]){99}, 1, 0));
    hflow_vocab_free(v);
}

static void test_stream_holds_split_chars(void **state) {
    (void)state;
    hflow_vocab *v = mini_spm();
    hflow_detok d;
    char out[256];
    hflow_detok_init(&d, v, 0);
    assert_int_equal(hflow_detok_push(&d, 1, out, sizeof out), 0); /* BOS */
    assert_int_equal(hflow_detok_push(&d, 8, out, sizeof out), 1);  /* "▁a" after BOS -> "a" */
    assert_string_equal(out, "a");
    assert_int_equal(hflow_detok_push(&d, 3, out, sizeof out), 0);  /* E2: held */
    assert_string_equal(out, "");
    assert_int_equal(hflow_detok_push(&d, 4, out, sizeof out), 0);  /* 82: held */
    assert_int_equal(hflow_detok_push(&d, 5, out, sizeof out), 3);  /* AC: "€" complete */
    assert_string_equal(out, "\xE2\x82\xAC");
    assert_int_equal(hflow_detok_push(&d, 6, out, sizeof out), 0);  /* C3 */
    assert_int_equal(hflow_detok_push(&d, 8, out, sizeof out), 3);  /* C3 + " a": C3 can never complete, passed on */
    assert_memory_equal(out, "\xC3 a", 3);
    assert_int_equal(hflow_detok_push(&d, 6, out, sizeof out), 0);
    assert_int_equal(hflow_detok_flush(&d, out, sizeof out), 3);   /* incomplete tail -> U+FFFD */
    assert_string_equal(out, "\xEF\xBF\xBD");
    assert_int_equal(hflow_detok_flush(&d, out, sizeof out), 0);
    /* A stream that does not start with BOS keeps the leading space. */
    hflow_detok_init(&d, v, 0);
    assert_int_equal(hflow_detok_push(&d, 8, out, sizeof out), 2);
    assert_string_equal(out, " a");
    assert_int_equal(hflow_detok_push(&d, 99, out, sizeof out), HFLOW_ERANGE);
    assert_int_equal(hflow_detok_push(&d, 10, out, 4), 0); /* control, not rendered: empty */
    hflow_detok_init(&d, v, 1);
    assert_int_equal(hflow_detok_push(&d, 10, out, 4), HFLOW_ERANGE); /* "<|ctl|>" does not fit in 4 */
    hflow_vocab_free(v);
}

/* Streams ids one by one: every chunk is whole UTF-8 and they add up to want. */
static void stream_equals(const hflow_vocab *v, const int32_t *ids, int n, const char *want, size_t want_len) {
    hflow_detok d;
    hflow_detok_init(&d, v, 0);
    char *acc = malloc(want_len + 64);
    size_t got = 0;
    int held = 0;
    for (int i = 0; i < n; i++) {
        char out[256];
        int k = hflow_detok_push(&d, ids[i], out, sizeof out);
        assert_true(k >= 0);
        assert_int_equal(hflow_utf8_complete_prefix((const unsigned char *)out, (size_t)k), (size_t)k);
        held += d.n_pending > 0;
        assert_true(got + (size_t)k <= want_len);
        memcpy(acc + got, out, (size_t)k);
        got += (size_t)k;
    }
    char out[8];
    assert_int_equal(hflow_detok_flush(&d, out, sizeof out), 0);
    assert_int_equal(got, want_len);
    assert_memory_equal(acc, want, want_len);
    assert_true(held > 0); /* the text really did split characters across tokens */
    free(acc);
}

static void test_stream_real_vocabs(void **state) {
    (void)state;
    const char *files[2] = {"testdata/ggml-vocab-llama-spm.gguf", "testdata/ggml-vocab-gpt-2.gguf"};
    /* Emoji and CJK: byte-fallback tokens in Llama-2, partial-char tokens in GPT-2. */
    const char *text = "Hi \xF0\x9F\xA6\x99 llama \xE6\x9D\xB1\xE4\xBA\xAC \xE1\x9E\x80\xE1\x9E\xB6 ok";
    for (int f = 0; f < 2; f++) {
        char path[4096];
        const char *p = tu_shared_path(path, sizeof path, files[f]);
        TU_REQUIRE_SHARED(p, files[f]);
        hflow_vocab *v = tu_load_vocab(p);
        assert_non_null(v);
        int32_t *ids;
        int n;
        assert_int_equal(hflow_tokenize(v, text, strlen(text), 1, 0, &ids, &n, NULL), 0);
        stream_equals(v, ids, n, text, strlen(text));
        char *whole = hflow_detokenize(v, ids, n, 0);
        assert_string_equal(whole, text);
        free(whole);
        free(ids);
        hflow_vocab_free(v);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pieces_and_sequences),
        cmocka_unit_test(test_stream_holds_split_chars),
        cmocka_unit_test(test_stream_real_vocabs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
