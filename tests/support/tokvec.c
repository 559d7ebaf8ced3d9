/* tokvec.c - see tokvec.h. */
#include "tokvec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define SEP "\n__ggml_vocab_test__\n"

static int parse_ids(char *line, tu_tokvec_case *c) {
    int cap = 16;
    c->ids = malloc(sizeof *c->ids * (size_t)cap);
    c->n_ids = 0;
    char *p = line, *end;
    for (;;) {
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        if (c->n_ids == cap) {
            cap *= 2;
            c->ids = realloc(c->ids, sizeof *c->ids * (size_t)cap);
        }
        c->ids[c->n_ids++] = (int32_t)v;
        p = end;
    }
    return 0;
}

int tu_tokvec_load(const char *gguf_path, tu_tokvec *tv) {
    char path[4096];
    size_t inp_len;
    memset(tv, 0, sizeof *tv);
    snprintf(path, sizeof path, "%s.inp", gguf_path);
    tv->inp = tu_read_file(path, &inp_len);
    snprintf(path, sizeof path, "%s.out", gguf_path);
    tv->out = tu_read_file(path, NULL);
    if (!tv->inp || !tv->out)
        return -1;
    int cap = 64;
    tv->cases = calloc((size_t)cap, sizeof *tv->cases);
    char *pos = tv->inp, *end = tv->inp + inp_len;
    /* The first text starts at offset 0; each one ends at the next separator. */
    while (pos < end) {
        char *sep = strstr(pos, SEP);
        if (!sep)
            break;
        if (tv->n == cap)
            return -1;
        tv->cases[tv->n].text = pos;
        tv->cases[tv->n].len = (size_t)(sep - pos);
        tv->n++;
        pos = sep + strlen(SEP);
    }
    char *line = tv->out;
    for (int i = 0; i < tv->n; i++) {
        if (!line)
            return -1;
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        parse_ids(line, &tv->cases[i]);
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

void tu_tokvec_free(tu_tokvec *tv) {
    for (int i = 0; i < tv->n; i++)
        free(tv->cases[i].ids);
    free(tv->cases);
    free(tv->inp);
    free(tv->out);
}

hflow_vocab *tu_load_vocab(const char *gguf_path) {
    hflow_gguf *g = NULL;
    hflow_vocab *v = NULL;
    hflow_error err;
    hflow_error_clear(&err);
    if (hflow_gguf_open(gguf_path, &g, &err) != 0) {
        fprintf(stderr, "gguf open %s: %s\n", gguf_path, err.message);
        return NULL;
    }
    if (hflow_vocab_load(g, &v, &err) != 0)
        fprintf(stderr, "vocab load %s: %s\n", gguf_path, err.message);
    hflow_gguf_close(g);
    return v;
}
