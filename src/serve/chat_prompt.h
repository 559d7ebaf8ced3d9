/* chat_prompt.h - turning chat messages into the model's prompt text. */
#ifndef HFLOW_SERVE_CHAT_PROMPT_H
#define HFLOW_SERVE_CHAT_PROMPT_H

#include "hybridflow/engine.h"
#include "serve/request_parse.h"

/* A malloc'd prompt (caller frees) in the model's chat format (hybridflow/chat.h:
 * recognised from tokenizer.chat_template, ChatML otherwise), ending with the
 * assistant turn opener. The caller tokenizes it with add_special=1,
 * parse_special=1. HFLOW_EINVAL when the format cannot express the messages
 * (Llama-2: a system message that is not first). */
int serve_chat_prompt(const hflow_model *m, const serve_message *msgs, int n, char **out, hflow_error *err);

#endif
