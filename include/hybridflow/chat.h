/* hybridflow/chat.h - chat prompts: renders {role, content} messages in the
 * format a model was trained on.
 *
 * This is not a Jinja interpreter. The family is recognised from distinctive
 * substrings of the model's tokenizer.chat_template, checked in this order:
 *   "<|im_start|>"                                 -> ChatML (Qwen, SmolLM, ...)
 *   "<|start_header_id|>"                          -> Llama-3
 *   "<|user|>" and "<|assistant|>", no "<|end|>"    -> Zephyr / TinyLlama
 *   "[INST]"                                       -> Llama-2 (with <<SYS>>)
 * Fallback: when the template is absent or matches none of these (Phi-3,
 * Gemma, ...), HFLOW_CHAT_FALLBACK = ChatML is used.
 *
 * Rendered text never starts with the BOS token: tokenize it with
 * add_special=1 (the vocab adds BOS as the model expects) and parse_special=1
 * (so "<|im_start|>", "</s>" etc. become their special tokens). */
#ifndef HYBRIDFLOW_CHAT_H
#define HYBRIDFLOW_CHAT_H

#include <stddef.h>

#include "hybridflow/error.h"
#include "hybridflow/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

enum hflow_chat_family {
    HFLOW_CHAT_UNKNOWN = 0,
    HFLOW_CHAT_CHATML = 1, /* <|im_start|>role\ncontent<|im_end|>\n ... <|im_start|>assistant\n */
    HFLOW_CHAT_LLAMA2 = 2, /* [INST] <<SYS>>\nsys\n<</SYS>>\n\nuser [/INST] answer </s><s>[INST] ... [/INST] */
    HFLOW_CHAT_LLAMA3 = 3, /* <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> ... */
    HFLOW_CHAT_ZEPHYR = 4  /* <|role|>\ncontent</s>\n ... <|assistant|>\n */
};
#define HFLOW_CHAT_FALLBACK HFLOW_CHAT_CHATML

typedef struct hflow_chat_msg {
    const char *role;    /* "system", "user", "assistant" (ChatML/Llama-3/Zephyr accept any role) */
    const char *content; /* NUL-terminated; not owned */
} hflow_chat_msg;

/* Family recognised in a template text, or HFLOW_CHAT_UNKNOWN (also for NULL). */
int hflow_chat_detect(const char *tmpl, size_t len);
/* Family for a model file: from tokenizer.chat_template, else HFLOW_CHAT_FALLBACK.
 * *recognised (may be NULL) is set to 1 when the template was present and known. */
int hflow_chat_family_for_gguf(const hflow_gguf *g, int *recognised);
/* "chatml", "llama2", "llama3", "zephyr" (static strings; "unknown" otherwise). */
const char *hflow_chat_family_name(int family);
/* Inverse of hflow_chat_family_name; HFLOW_CHAT_UNKNOWN when not a family name. */
int hflow_chat_family_from_name(const char *name);

/* Renders n messages; add_generation_prompt appends the assistant turn opener.
 * *out is a malloc'd NUL-terminated string the caller frees. Errors: EINVAL
 * for NULL fields, an unknown family, or (Llama-2) a system message that is
 * not first or a role other than system/user/assistant. */
int hflow_chat_render(int family, const hflow_chat_msg *msgs, size_t n, int add_generation_prompt, char **out,
                      hflow_error *err);

#ifdef __cplusplus
}
#endif
#endif
