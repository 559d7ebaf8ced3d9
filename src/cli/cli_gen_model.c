/* cli_gen_model.c - `hybridflow gen-model`: random-weight GGUF models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/ggml_type.h"
#include "hybridflow/modelgen.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hybridflow gen-model -o OUT.gguf [options]\n"
            "  --preset NAME        tiny | smollm2-135m | stories260k (shape presets)\n"
            "  --arch A             llama (default) | qwen2 | qwen3\n"
            "  --layers N --dim D --ffn F --heads H --kv-heads K [--head-dim HD]\n"
            "  --ctx N              context_length metadata (default 2048)\n"
            "  --rope-theta T       (default 10000)\n"
            "  --type T             tensor type of 2-D weights: f32 f16 bf16 q8_0 q4_0 ... (default f32)\n"
            "  --tied | --untied    share the output head with the token embedding\n"
            "  --vocab-from FILE    copy the tokenizer from this GGUF (default: 259-token byte vocab)\n"
            "  --seed S             (default 1234)\n"
            "  --name NAME          general.name\n");
}

int cli_gen_model(int argc, char **argv) {
    hflow_gen_params p;
    hflow_gen_params_default(&p);
    const char *out = NULL;
    hflow_error err;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        if (!strcmp(a, "--tied")) { p.tied_output = 1; continue; }
        if (!strcmp(a, "--untied")) { p.tied_output = 0; continue; }
        if (!v) { fprintf(stderr, "hybridflow gen-model: %s needs a value\n", a); return 2; }
        i++;
        if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--preset")) {
            if (hflow_gen_params_preset(&p, v, &err)) { fprintf(stderr, "hybridflow gen-model: %s\n", err.message); return 2; }
        } else if (!strcmp(a, "--arch")) p.arch = v;
        else if (!strcmp(a, "--layers")) p.n_layer = atoi(v);
        else if (!strcmp(a, "--dim")) p.n_embd = atoi(v);
        else if (!strcmp(a, "--ffn")) p.n_ff = atoi(v);
        else if (!strcmp(a, "--heads")) p.n_head = atoi(v);
        else if (!strcmp(a, "--kv-heads")) p.n_head_kv = atoi(v);
        else if (!strcmp(a, "--head-dim")) p.head_dim = atoi(v);
        else if (!strcmp(a, "--ctx")) p.n_ctx = atoi(v);
        else if (!strcmp(a, "--rope-theta")) p.rope_theta = (float)atof(v);
        else if (!strcmp(a, "--seed")) p.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--name")) p.name = v;
        else if (!strcmp(a, "--vocab-from")) p.vocab_from = v;
        else if (!strcmp(a, "--type")) {
            int t = hflow_type_from_name(v);
            if (t < 0) { fprintf(stderr, "hybridflow gen-model: unknown type '%s'\n", v); return 2; }
            p.type = (uint32_t)t;
        } else {
            fprintf(stderr, "hybridflow gen-model: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!out) { usage(stderr); return 2; }
    if (hflow_gen_model(&p, out, &err)) {
        fprintf(stderr, "hybridflow gen-model: %s\n", err.message);
        return 1;
    }
    fprintf(stderr, "wrote %s (%s, %d layers, dim %d, %s)\n", out, p.arch, p.n_layer, p.n_embd, hflow_type_name(p.type));
    return 0;
}
