/* fuzz_tokenize.c - libFuzzer target for the tokenizers and detokenizers.
 * Input byte 0 picks a vocab (SentencePiece, or byte-level BPE with one of
 * the pre-tokenizer families) and parse_special; the rest is the text.
 * Beyond "no crash / no sanitizer report" it checks properties that must
 * hold for any input: byte-level BPE round-trips exactly, streaming output
 * equals whole-sequence output, and every id is in range.
 * Vocabs are synthetic (built once), so the target needs no files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/unicode_props.h"
#include "engine/vocab_internal.h"
#include "hybridflow/chat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_BPE 5
static hflow_vocab *g_bpe[N_BPE];
static hflow_vocab *g_spm;

static hflow_vocab *make_bpe(const char *pre) {
    static char bytes[256][4];
    const char *texts[256 + 8];
    int32_t types[256 + 8];
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bytes[b][hflow_utf8_encode(hflow_bpe_byte_to_cpt((unsigned char)b), bytes[b])] = '\0';
        texts[n] = bytes[b], types[n++] = HFLOW_TOKEN_NORMAL;
    }
    const char *extra[] = {"th", "the", "\xC4\xA0t", "\xC4\xA0the", "er", "<|im_start|>", "<|im_end|>", "<u>"};
    const int32_t extra_types[] = {1, 1, 1, 1, 1, 3, 3, 4};
    for (int i = 0; i < 8; i++)
        texts[n] = extra[i], types[n++] = extra_types[i];
    const char *merges[] = {"t h", "th e", "\xC4\xA0 t", "\xC4\xA0t he", "\xC4\xA0t h", "e r"};
    hflow_vocab_spec s;
    hflow_vocab_spec_init(&s);
    s.kind = HFLOW_VOCAB_BPE;
    s.pre = pre;
    s.n_tokens = n;
    s.tokens = texts;
    s.types = types;
    s.n_merges = 6;
    s.merges = merges;
    hflow_vocab *v = NULL;
    return hflow_vocab_build(&s, &v, NULL) == 0 ? v : NULL;
}

static hflow_vocab *make_spm(void) {
    static char names[256][8];
    const char *texts[3 + 256 + 6];
    int32_t types[3 + 256 + 6];
    float scores[3 + 256 + 6];
    int n = 0;
    const char *head[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++)
        texts[n] = head[i], types[n] = i == 0 ? 2 : 3, scores[n++] = 0;
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        memcpy(names[b], "<0x", 3);
        names[b][3] = hex[b >> 4], names[b][4] = hex[b & 15], names[b][5] = '>', names[b][6] = '\0';
        texts[n] = names[b], types[n] = 6, scores[n++] = 0;
    }
    const char *pieces[6] = {"\xE2\x96\x81", "a", "b", "ab", "\xE2\x96\x81" "a", "<ctl>"};
    for (int i = 0; i < 6; i++)
        texts[n] = pieces[i], types[n] = i == 5 ? 3 : 1, scores[n++] = (float)-i;
    hflow_vocab_spec s;
    hflow_vocab_spec_init(&s);
    s.kind = HFLOW_VOCAB_SPM;
    s.n_tokens = n;
    s.tokens = texts;
    s.types = types;
    s.scores = scores;
    hflow_vocab *v = NULL;
    return hflow_vocab_build(&s, &v, NULL) == 0 ? v : NULL;
}

static void init_once(void) {
    static int done;
    if (done)
        return;
    done = 1;
    const char *pres[N_BPE] = {"gpt-2", "llama3", "qwen2", "smollm", "default"};
    for (int i = 0; i < N_BPE; i++)
        g_bpe[i] = make_bpe(pres[i]);
    g_spm = make_spm();
}

/* Streams ids and checks the output equals hflow_detokenize's up to the flushed tail. */
static void check_stream(const hflow_vocab *v, const int32_t *ids, int n, const char *whole) {
    hflow_detok d;
    hflow_detok_init(&d, v, 1);
    size_t pos = 0, wl = strlen(whole);
    for (int i = 0; i < n; i++) {
        char out[256];
        int k = hflow_detok_push(&d, ids[i], out, sizeof out);
        if (k < 0)
            continue; /* an over-long piece is reported, not fatal */
        if (pos + (size_t)k > wl || memcmp(whole + pos, out, (size_t)k) != 0)
            __builtin_trap();
        pos += (size_t)k;
    }
    char tail[8];
    hflow_detok_flush(&d, tail, sizeof tail);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    if (size < 1)
        return 0;
    int pick = data[0] % (N_BPE + 1), parse_special = (data[0] >> 4) & 1, add_special = (data[0] >> 5) & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    const hflow_vocab *v = pick == N_BPE ? g_spm : g_bpe[pick];
    if (!v)
        __builtin_trap();
    int32_t *ids = NULL;
    int n = 0;
    if (hflow_tokenize(v, text, len, add_special, parse_special, &ids, &n, NULL) != 0)
        return 0;
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= hflow_vocab_size(v))
            __builtin_trap();
    char *whole = hflow_detokenize(v, ids, n, 1);
    if (!whole)
        __builtin_trap();
    /* Byte-level BPE loses nothing (specials render as their text). NULs cut
     * the C string, so compare only when the text has none. */
    int has_nul = memchr(text, 0, len) != NULL;
    if (pick < N_BPE && !has_nul && (strlen(whole) != len || memcmp(whole, text, len) != 0))
        __builtin_trap();
    if (!has_nul)
        check_stream(v, ids, n, whole);
    free(whole);
    free(ids);
    (void)hflow_chat_detect(text, len);
    return 0;
}
