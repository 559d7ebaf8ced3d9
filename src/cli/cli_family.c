/* cli_family.c - `hybridflow family`: stamp, inspect, derive drafts, evolve, split/merge. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/quantize_model.h"
#include "hybridflow/family.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage:\n"
            "  hybridflow family inspect FILE.gguf...\n"
            "  hybridflow family stamp IN OUT --family NAME --version V [--backbone-layers L]\n"
            "  hybridflow family derive-draft IN OUT [--early-exit L] [--quantize TYPE]\n"
            "      a draft as the first L layers + head, and/or a quantized copy (q8_0, q4_k_m, ...);\n"
            "      the family stamp and tokenizer are kept\n"
            "  hybridflow family evolve IN OUT --version V [--from-layer L] [--noise X] [--seed S]\n"
            "      emulates a fine-tuned version (noise on upper-layer matrices), for tests/benchmarks\n"
            "  hybridflow family split TARGET --backbone BASE -o DELTA   store only changed tensors\n"
            "  hybridflow family merge DELTA --backbone BASE -o FULL     rebuild the full model\n");
}

static const char *opt(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return def;
}

static int inspect(int argc, char **argv) {
    int status = 0;
    for (int i = 2; i < argc; i++) {
        hflow_gguf *g;
        hflow_error err;
        hflow_family_info fi;
        if (hflow_gguf_open(argv[i], &g, &err) || hflow_family_read(g, &fi, &err)) {
            fprintf(stderr, "hybridflow family: %s\n", err.message);
            status = 1;
            continue;
        }
        printf("%s\n  tokenizer fingerprint %016" PRIx64 "\n", argv[i], fi.tokenizer_fp);
        if (fi.stamped && fi.is_draft) {
            printf("  draft derived from family %s, version %s (tensors are the draft's own: not verified "
                   "against the backbone)\n", fi.name, fi.version);
        } else if (fi.stamped) {
            uint64_t now = hflow_family_backbone_hash(g, fi.backbone_layers);
            printf("  family %s, version %s, backbone = token_embd + %d layers\n  backbone fingerprint "
                   "%016" PRIx64 " (%s)\n",
                   fi.name, fi.version, fi.backbone_layers, fi.backbone_fp,
                   fi.delta_of ? "delta file: backbone tensors stored elsewhere"
                               : now == fi.backbone_fp ? "verified" : "MISMATCH: backbone tensors changed");
            if (!fi.delta_of && now != fi.backbone_fp) status = 1;
        } else {
            printf("  not stamped with a family\n");
        }
        if (fi.delta_of) printf("  delta of backbone file %016" PRIx64 "\n", fi.delta_of);
        hflow_gguf_close(g);
    }
    return status;
}

/* Early exit, quantization, or both (early exit first, into a temporary file). */
static int derive_draft(const char *in, const char *out, const char *layers, const char *qtype, hflow_error *err) {
    if (!layers && !qtype) return hflow_error_set(err, HFLOW_EINVAL, "derive-draft needs --early-exit L and/or --quantize TYPE");
    if (!qtype) return hflow_family_derive_early_exit(in, out, atoi(layers), err);
    char tmp[4096], tmp2[4096];
    snprintf(tmp, sizeof tmp, "%s.exit.tmp", out);
    snprintf(tmp2, sizeof tmp2, "%s.quant.tmp", out);
    int rc = layers ? hflow_family_derive_early_exit(in, tmp, atoi(layers), err) : 0;
    if (!rc) rc = hflow_quantize_model(layers ? tmp : in, tmp2, qtype, 0, NULL, err);
    if (!rc) rc = hflow_family_mark_draft(tmp2, out, err);
    remove(tmp);
    remove(tmp2);
    return rc;
}

int cli_family(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    hflow_error err;
    hflow_error_clear(&err);
    int rc;
    if (!strcmp(cmd, "inspect")) return inspect(argc, argv);
    if (argc < 4) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(cmd, "stamp"))
        rc = hflow_family_stamp(argv[2], argv[3], opt(argc, argv, "--family", NULL), opt(argc, argv, "--version", NULL),
                                atoi(opt(argc, argv, "--backbone-layers", "0")), &err);
    else if (!strcmp(cmd, "derive-draft"))
        rc = derive_draft(argv[2], argv[3], opt(argc, argv, "--early-exit", NULL), opt(argc, argv, "--quantize", NULL),
                          &err);
    else if (!strcmp(cmd, "evolve"))
        rc = hflow_family_evolve(argv[2], argv[3], atoi(opt(argc, argv, "--from-layer", "0")),
                                 (float)atof(opt(argc, argv, "--noise", "0.05")),
                                 strtoull(opt(argc, argv, "--seed", "1"), NULL, 10), opt(argc, argv, "--version", NULL),
                                 &err);
    else if (!strcmp(cmd, "split") || !strcmp(cmd, "merge")) {
        const char *base = opt(argc, argv, "--backbone", NULL), *out = opt(argc, argv, "-o", NULL);
        if (!base || !out) {
            usage(stderr);
            return 2;
        }
        rc = !strcmp(cmd, "split") ? hflow_family_split(argv[2], base, out, &err)
                                   : hflow_family_merge(argv[2], base, out, &err);
    } else {
        fprintf(stderr, "hybridflow family: unknown subcommand '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "hybridflow family %s: %s\n", cmd, err.message);
        return 1;
    }
    return 0;
}
