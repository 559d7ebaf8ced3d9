/* cli_generate.c - `hybridflow generate`: stream text from a GGUF model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "hybridflow/chat.h"
#include "hybridflow/engine.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hybridflow generate -m MODEL.gguf -p PROMPT [options]\n"
            "  -n N                 tokens to generate (default 128)\n"
            "  --temp T             temperature, 0 = greedy (default 0)\n"
            "  --seed S             sampling seed (default 0)\n"
            "  --top-k K --top-p P --min-p P --repeat-penalty R\n"
            "  --threads N          worker threads (default: all cores)\n"
            "  --ctx N              context length (default min(train, 4096))\n"
            "  --chat               wrap the prompt as a user message in the model's chat template\n"
            "  --stats              print prompt/generation speed to stderr\n");
}

static int on_token(void *user, int32_t tok, const char *text, size_t len, const hflow_token_logprobs *lp) {
    (void)user;
    (void)tok;
    (void)lp;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

typedef struct {
    const char *model, *prompt;
    int n, threads, ctx, chat, stats;
    hflow_sampler_params sp;
} gen_args;

static int parse(int argc, char **argv, gen_args *a) {
    a->n = 128;
    a->sp = hflow_sampler_default_params();
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--chat")) { a->chat = 1; continue; }
        if (!strcmp(o, "--stats")) { a->stats = 1; continue; }
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) { usage(stdout); return 1; }
        if (!v) { fprintf(stderr, "hybridflow generate: %s needs a value\n", o); return 2; }
        i++;
        if (!strcmp(o, "-m") || !strcmp(o, "--model")) a->model = v;
        else if (!strcmp(o, "-p") || !strcmp(o, "--prompt")) a->prompt = v;
        else if (!strcmp(o, "-n")) a->n = atoi(v);
        else if (!strcmp(o, "--temp")) a->sp.temperature = (float)atof(v);
        else if (!strcmp(o, "--seed")) a->sp.seed = strtoull(v, NULL, 10);
        else if (!strcmp(o, "--top-k")) a->sp.top_k = atoi(v);
        else if (!strcmp(o, "--top-p")) a->sp.top_p = (float)atof(v);
        else if (!strcmp(o, "--min-p")) a->sp.min_p = (float)atof(v);
        else if (!strcmp(o, "--repeat-penalty")) a->sp.repeat_penalty = (float)atof(v);
        else if (!strcmp(o, "--threads") || !strcmp(o, "-t")) a->threads = atoi(v);
        else if (!strcmp(o, "--ctx")) a->ctx = atoi(v);
        else { fprintf(stderr, "hybridflow generate: unknown option '%s'\n", o); usage(stderr); return 2; }
    }
    if (!a->model || !a->prompt) { usage(stderr); return 2; }
    return 0;
}

int cli_generate(int argc, char **argv) {
    gen_args a = {0};
    int prc = parse(argc, argv, &a);
    if (prc) return prc == 1 ? 0 : prc;
    hflow_error err;
    hflow_model *m = NULL;
    hflow_session *s = NULL;
    hflow_sampler *smp = NULL;
    int32_t *ids = NULL;
    int n_ids = 0;
    char *rendered = NULL;
    hflow_model_params mp = {a.threads};
    hflow_session_params sp = {.n_ctx = a.ctx};
    int rc = hflow_model_load(a.model, &mp, &m, &err);
    const char *text = a.prompt;
    if (!rc && a.chat) {
        hflow_chat_msg msg = {"user", a.prompt};
        int family = hflow_chat_family_for_gguf(hflow_model_gguf(m), NULL);
        rc = hflow_chat_render(family, &msg, 1, 1, &rendered, &err);
        text = rendered;
    }
    if (!rc) rc = hflow_tokenize(hflow_model_vocab(m), text, strlen(text), 1, a.chat, &ids, &n_ids, &err);
    if (!rc) rc = hflow_session_create(m, &sp, &s, &err);
    if (!rc && !(smp = hflow_sampler_create(&a.sp, hflow_model_get_info(m)->n_vocab)))
        rc = hflow_error_set(&err, HFLOW_ENOMEM, "out of memory");
    hflow_generate_stats st;
    if (!rc) {
        if (!a.chat) fputs(a.prompt, stdout);
        hflow_generate_params gp = {.max_tokens = a.n};
        rc = hflow_generate(s, smp, ids, n_ids, &gp, on_token, NULL, &st, &err);
        fputc('\n', stdout);
    }
    if (rc) fprintf(stderr, "hybridflow generate: %s\n", err.message);
    else if (a.stats)
        fprintf(stderr, "prompt: %d tokens in %.3f s (%.1f tok/s); generated %d tokens in %.3f s (%.1f tok/s); %s\n",
                st.n_prompt, st.t_prompt_s, st.t_prompt_s > 0 ? st.n_prompt / st.t_prompt_s : 0.0, st.n_generated,
                st.t_generate_s, st.t_generate_s > 0 ? st.n_generated / st.t_generate_s : 0.0, st.finish_reason);
    free(ids);
    free(rendered);
    hflow_sampler_free(smp);
    hflow_session_free(s);
    hflow_model_free(m);
    return rc ? 1 : 0;
}
