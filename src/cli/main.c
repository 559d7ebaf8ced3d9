/* main.c - `hybridflow SUBCOMMAND ...` dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    hflow_cli_fn fn;
    const char *help;
} commands[] = {
    {"bench", cli_bench, "engine speed: prefill/decode tok/s, weight bandwidth vs measured memory bandwidth"},
    {"family", cli_family, "ECSpec target families: stamp, inspect, derive drafts, split/merge versions"},
    {"generate", cli_generate, "generate text from a GGUF model"},
    {"gen-model", cli_gen_model, "write a random-weight GGUF model for tests and benchmarks"},
    {"inspect", cli_inspect, "print a GGUF file's metadata and tensor table"},
    {"run", cli_run, "answer a question with edge + cloud collaboration (plan, DAG, routing)"},
    {"quantize", cli_quantize, "re-encode a GGUF model's weights into another tensor type"},
    {"spec", cli_spec, "edge-cloud speculative decoding: draft here, verify on a target"},
    {"serve", cli_serve, "run the OpenAI-compatible HTTP server"},
    {"version", cli_version, "print the version"},
    {"eval", cli_eval, "benchmarks, replay of recorded outcomes, reports"},
    {"profile", cli_profile, "record per-step edge/cloud outcomes and quality labels for the router"},
    {"train-router", cli_train_router, "train the learned edge/cloud utility router"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: hybridflow COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n'hybridflow COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "hybridflow: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
