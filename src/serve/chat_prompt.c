/* chat_prompt.c - adapter from parsed OpenAI messages to hybridflow/chat.h.
 * OpenAI's "developer" role is what older APIs call "system". */
#include "serve/chat_prompt.h"

#include <stdlib.h>
#include <string.h>

#include "hybridflow/chat.h"

int serve_chat_prompt(const hflow_model *m, const serve_message *msgs, int n, char **out, hflow_error *err) {
    *out = NULL;
    hflow_chat_msg *cm = calloc((size_t)(n > 0 ? n : 1), sizeof *cm);
    if (!cm) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        cm[i].role = strcmp(msgs[i].role, "developer") ? msgs[i].role : "system";
        cm[i].content = msgs[i].content;
    }
    int family = hflow_chat_family_for_gguf(hflow_model_gguf(m), NULL);
    int rc = hflow_chat_render(family, cm, (size_t)n, 1, out, err);
    free(cm);
    return rc;
}
