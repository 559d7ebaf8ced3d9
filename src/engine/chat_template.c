/* chat_template.c - chat template families: detection by distinctive
 * substrings and rendering (see hybridflow/chat.h for the formats). Each
 * family's rendering follows the model's published Jinja template; content is
 * trimmed where that template trims (Llama-2, Llama-3). */
#include <ctype.h>
#include <string.h>

#include "base/strbuf.h"
#include "hybridflow/chat.h"

static int has(const char *t, size_t len, const char *needle) {
    return memmem(t, len, needle, strlen(needle)) != NULL;
}

int hflow_chat_detect(const char *t, size_t len) {
    if (!t)
        return HFLOW_CHAT_UNKNOWN;
    if (has(t, len, "<|im_start|>"))
        return HFLOW_CHAT_CHATML;
    if (has(t, len, "<|start_header_id|>"))
        return HFLOW_CHAT_LLAMA3;
    if (has(t, len, "<|user|>") && has(t, len, "<|assistant|>") && !has(t, len, "<|end|>"))
        return HFLOW_CHAT_ZEPHYR;
    if (has(t, len, "[INST]"))
        return HFLOW_CHAT_LLAMA2;
    return HFLOW_CHAT_UNKNOWN;
}

int hflow_chat_family_for_gguf(const hflow_gguf *g, int *recognised) {
    const char *t = NULL;
    size_t len = 0;
    int fam = HFLOW_CHAT_UNKNOWN;
    if (g && hflow_gguf_get_str(g, "tokenizer.chat_template", &t, &len) == 0)
        fam = hflow_chat_detect(t, len);
    if (recognised)
        *recognised = fam != HFLOW_CHAT_UNKNOWN;
    return fam != HFLOW_CHAT_UNKNOWN ? fam : HFLOW_CHAT_FALLBACK;
}

static const char *const family_names[] = {"unknown", "chatml", "llama2", "llama3", "zephyr"};

const char *hflow_chat_family_name(int family) {
    return family > 0 && family <= HFLOW_CHAT_ZEPHYR ? family_names[family] : family_names[0];
}

int hflow_chat_family_from_name(const char *name) {
    for (int f = HFLOW_CHAT_CHATML; name && f <= HFLOW_CHAT_ZEPHYR; f++)
        if (strcmp(name, family_names[f]) == 0)
            return f;
    return HFLOW_CHAT_UNKNOWN;
}

/* Appends s with leading/trailing whitespace removed (Jinja's trim/strip). */
static void put_trimmed(hflow_strbuf *b, const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    while (n > i && isspace((unsigned char)s[n - 1]))
        n--;
    hflow_strbuf_append(b, s + i, n - i);
}

static void render_chatml(hflow_strbuf *b, const hflow_chat_msg *m, size_t n, int gen) {
    for (size_t i = 0; i < n; i++)
        hflow_strbuf_printf(b, "<|im_start|>%s\n%s<|im_end|>\n", m[i].role, m[i].content);
    if (gen)
        hflow_strbuf_puts(b, "<|im_start|>assistant\n");
}

static void render_llama3(hflow_strbuf *b, const hflow_chat_msg *m, size_t n, int gen) {
    for (size_t i = 0; i < n; i++) {
        hflow_strbuf_printf(b, "<|start_header_id|>%s<|end_header_id|>\n\n", m[i].role);
        put_trimmed(b, m[i].content);
        hflow_strbuf_puts(b, "<|eot_id|>");
    }
    if (gen)
        hflow_strbuf_puts(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void render_zephyr(hflow_strbuf *b, const hflow_chat_msg *m, size_t n, int gen) {
    for (size_t i = 0; i < n; i++)
        hflow_strbuf_printf(b, "<|%s|>\n%s</s>\n", m[i].role, m[i].content);
    if (gen)
        hflow_strbuf_puts(b, "<|assistant|>\n");
}

/* The system prompt is folded into the first user turn; every user turn after
 * the first starts a new "<s>[INST]" (the first BOS comes from the tokenizer).
 * The generation prompt is implicit: the text already ends with "[/INST]". */
static int render_llama2(hflow_strbuf *b, const hflow_chat_msg *m, size_t n, hflow_error *err) {
    const char *sys = NULL;
    size_t start = 0;
    if (n > 0 && strcmp(m[0].role, "system") == 0)
        sys = m[0].content, start = 1;
    int first_user = 1;
    for (size_t i = start; i < n; i++) {
        if (strcmp(m[i].role, "user") == 0) {
            hflow_strbuf_puts(b, first_user ? "[INST] " : "<s>[INST] ");
            if (sys && first_user) {
                hflow_strbuf_puts(b, "<<SYS>>\n");
                put_trimmed(b, sys);
                hflow_strbuf_puts(b, "\n<</SYS>>\n\n");
            }
            put_trimmed(b, m[i].content);
            hflow_strbuf_puts(b, " [/INST]");
            first_user = 0;
        } else if (strcmp(m[i].role, "assistant") == 0) {
            hflow_strbuf_putc(b, ' ');
            put_trimmed(b, m[i].content);
            hflow_strbuf_puts(b, " </s>");
        } else {
            return hflow_error_set(err, HFLOW_EINVAL, "chat: llama2 template cannot place a \"%s\" message at %zu",
                                   m[i].role, i);
        }
    }
    return 0;
}

int hflow_chat_render(int family, const hflow_chat_msg *msgs, size_t n, int add_generation_prompt, char **out,
                      hflow_error *err) {
    if (!out || (n > 0 && !msgs))
        return hflow_error_set(err, HFLOW_EINVAL, "chat: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content)
            return hflow_error_set(err, HFLOW_EINVAL, "chat: message %zu has no role or content", i);
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_reserve(&b, 256);
    hflow_strbuf_puts(&b, ""); /* a fresh buffer is terminated once something is appended */
    int rc = 0;
    switch (family) {
    case HFLOW_CHAT_CHATML: render_chatml(&b, msgs, n, add_generation_prompt); break;
    case HFLOW_CHAT_LLAMA3: render_llama3(&b, msgs, n, add_generation_prompt); break;
    case HFLOW_CHAT_ZEPHYR: render_zephyr(&b, msgs, n, add_generation_prompt); break;
    case HFLOW_CHAT_LLAMA2: rc = render_llama2(&b, msgs, n, err); break;
    default: rc = hflow_error_set(err, HFLOW_EINVAL, "chat: unknown template family %d", family);
    }
    if (!rc && b.oom)
        rc = hflow_error_set(err, HFLOW_ENOMEM, "chat: out of memory");
    if (rc) {
        hflow_strbuf_free(&b);
        return rc;
    }
    *out = hflow_strbuf_take(&b);
    return 0;
}
