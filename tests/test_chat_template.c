/* test_chat_template.c - template family detection from real-looking
 * tokenizer.chat_template strings, rendering per family, the documented
 * fallback, and rendered Llama-2 prompts tokenized with the real vocab. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hybridflow/chat.h"
#include "hybridflow/tokenizer.h"
#include "testutil.h"
#include "tokvec.h"

static const char QWEN25[] =
    "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are Qwen, created by Alibaba "
    "Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n"
    "    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n";
static const char LLAMA2[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}"
    "{% endif %}{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}"
    "{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + "
    "'[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + "
    "content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";
static const char LLAMA3[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}";
static const char TINYLLAMA[] =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}"
    "\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";
static const char PHI3[] =
    "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + "
    "'<|end|>\\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";
static const char GEMMA[] =
    "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + message['role'] + '\\n' + "
    "message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{'<start_of_turn>model\\n'}}{% endif %}";

static void test_detect(void **state) {
    (void)state;
    assert_int_equal(hflow_chat_detect(QWEN25, strlen(QWEN25)), HFLOW_CHAT_CHATML);
    assert_int_equal(hflow_chat_detect(LLAMA2, strlen(LLAMA2)), HFLOW_CHAT_LLAMA2);
    assert_int_equal(hflow_chat_detect(LLAMA3, strlen(LLAMA3)), HFLOW_CHAT_LLAMA3);
    assert_int_equal(hflow_chat_detect(TINYLLAMA, strlen(TINYLLAMA)), HFLOW_CHAT_ZEPHYR);
    assert_int_equal(hflow_chat_detect(PHI3, strlen(PHI3)), HFLOW_CHAT_UNKNOWN);
    assert_int_equal(hflow_chat_detect(GEMMA, strlen(GEMMA)), HFLOW_CHAT_UNKNOWN);
    assert_int_equal(hflow_chat_detect(NULL, 0), HFLOW_CHAT_UNKNOWN);
    assert_string_equal(hflow_chat_family_name(HFLOW_CHAT_LLAMA3), "llama3");
    assert_int_equal(hflow_chat_family_from_name("zephyr"), HFLOW_CHAT_ZEPHYR);
    assert_int_equal(hflow_chat_family_from_name("jinja"), HFLOW_CHAT_UNKNOWN);
}

static const hflow_chat_msg convo[] = {
    {"system", "You are brief."},
    {"user", "Hi there "},
    {"assistant", " Hello!"},
    {"user", "2+2?"},
};

static void expect_render(int family, int gen, const char *want) {
    char *out = NULL;
    hflow_error err;
    assert_int_equal(hflow_chat_render(family, convo, 4, gen, &out, &err), 0);
    assert_string_equal(out, want);
    free(out);
}

static void test_render_families(void **state) {
    (void)state;
    expect_render(HFLOW_CHAT_CHATML, 1,
                  "<|im_start|>system\nYou are brief.<|im_end|>\n<|im_start|>user\nHi there <|im_end|>\n"
                  "<|im_start|>assistant\n Hello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
                  "<|im_start|>assistant\n");
    expect_render(HFLOW_CHAT_LLAMA3, 1,
                  "<|start_header_id|>system<|end_header_id|>\n\nYou are brief.<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n");
    expect_render(HFLOW_CHAT_ZEPHYR, 1,
                  "<|system|>\nYou are brief.</s>\n<|user|>\nHi there </s>\n<|assistant|>\n Hello!</s>\n"
                  "<|user|>\n2+2?</s>\n<|assistant|>\n");
    expect_render(HFLOW_CHAT_LLAMA2, 1,
                  "[INST] <<SYS>>\nYou are brief.\n<</SYS>>\n\nHi there [/INST] Hello! </s><s>[INST] 2+2? [/INST]");
    /* Without the generation prompt ChatML stops after the last message. */
    expect_render(HFLOW_CHAT_CHATML, 0,
                  "<|im_start|>system\nYou are brief.<|im_end|>\n<|im_start|>user\nHi there <|im_end|>\n"
                  "<|im_start|>assistant\n Hello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n");
}

static void test_render_errors(void **state) {
    (void)state;
    char *out = NULL;
    hflow_error err;
    const hflow_chat_msg late_sys[] = {{"user", "a"}, {"system", "b"}};
    assert_int_equal(hflow_chat_render(HFLOW_CHAT_LLAMA2, late_sys, 2, 1, &out, &err), HFLOW_EINVAL);
    assert_non_null(strstr(err.message, "system"));
    assert_int_equal(hflow_chat_render(99, convo, 4, 1, &out, &err), HFLOW_EINVAL);
    const hflow_chat_msg bad[] = {{"user", NULL}};
    assert_int_equal(hflow_chat_render(HFLOW_CHAT_CHATML, bad, 1, 1, &out, &err), HFLOW_EINVAL);
    assert_null(out);
    assert_int_equal(hflow_chat_render(HFLOW_CHAT_CHATML, NULL, 0, 1, &out, &err), 0);
    assert_string_equal(out, "<|im_start|>assistant\n");
    free(out);
}

static void test_family_from_gguf(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/chat.gguf", tu_tmpdir());
    const char *tmpls[3] = {LLAMA3, PHI3, NULL};
    const int want[3] = {HFLOW_CHAT_LLAMA3, HFLOW_CHAT_FALLBACK, HFLOW_CHAT_FALLBACK};
    const int want_rec[3] = {1, 0, 0};
    for (int i = 0; i < 3; i++) {
        hflow_gguf_writer *w = hflow_gguf_writer_create();
        hflow_gguf_set_str(w, "general.architecture", "llama");
        if (tmpls[i])
            hflow_gguf_set_str(w, "tokenizer.chat_template", tmpls[i]);
        assert_int_equal(hflow_gguf_writer_write(w, path, NULL), 0);
        hflow_gguf_writer_free(w);
        hflow_gguf *g = NULL;
        assert_int_equal(hflow_gguf_open(path, &g, NULL), 0);
        int rec = -1;
        assert_int_equal(hflow_chat_family_for_gguf(g, &rec), want[i]);
        assert_int_equal(rec, want_rec[i]);
        hflow_gguf_close(g);
    }
}

/* A rendered Llama-2 conversation tokenizes with the real control tokens. */
static void test_llama2_tokenized(void **state) {
    (void)state;
    char path[4096];
    const char *p = tu_shared_path(path, sizeof path, "testdata/ggml-vocab-llama-spm.gguf");
    TU_REQUIRE_SHARED(p, "testdata/ggml-vocab-llama-spm.gguf");
    hflow_vocab *v = tu_load_vocab(p);
    assert_non_null(v);
    char *text = NULL;
    assert_int_equal(hflow_chat_render(HFLOW_CHAT_LLAMA2, convo, 4, 1, &text, NULL), 0);
    int32_t *ids;
    int n;
    assert_int_equal(hflow_tokenize(v, text, strlen(text), 1, 1, &ids, &n, NULL), 0);
    int bos = 0, eos = 0;
    for (int i = 0; i < n; i++)
        bos += ids[i] == 1, eos += ids[i] == 2;
    assert_int_equal(ids[0], 1);
    assert_int_equal(bos, 2); /* the tokenizer's BOS and the second turn's <s> */
    assert_int_equal(eos, 1); /* the assistant turn's </s> */
    char *back = hflow_detokenize(v, ids, n, 1);
    assert_non_null(strstr(back, "</s><s> [INST] 2+2? [/INST]")); /* SPM adds a space after a special token */
    free(back);
    free(ids);
    free(text);
    hflow_vocab_free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),           cmocka_unit_test(test_render_families),
        cmocka_unit_test(test_render_errors),    cmocka_unit_test(test_family_from_gguf),
        cmocka_unit_test(test_llama2_tokenized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
