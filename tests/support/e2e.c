/* e2e.c - see e2e.h. */
#include "e2e.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_client.h"
#include "hybridflow/modelgen.h"
#include "testutil.h"

static char edge_path[1024], cloud_path[1024];
static int edge_is_stories = -1;

static int gen(const char *path, const char *preset, unsigned seed, const char *vocab) {
    hflow_gen_params p;
    hflow_error err;
    hflow_gen_params_default(&p);
    if (hflow_gen_params_preset(&p, preset, &err)) return -1;
    p.seed = seed;
    p.vocab_from = vocab;
    p.n_ctx = 4096;
    if (hflow_gen_model(&p, path, &err)) {
        fprintf(stderr, "gen-model: %s\n", err.message);
        return -1;
    }
    return 0;
}

static void make_models(void) {
    if (edge_is_stories >= 0) return;
    char sp[1024];
    const char *dir = tu_shared_dir();
    snprintf(sp, sizeof sp, "%s/models/stories260K.gguf", dir ? dir : "/nonexistent");
    edge_is_stories = dir && access(sp, R_OK) == 0;
    if (edge_is_stories) {
        snprintf(edge_path, sizeof edge_path, "%s", sp);
    } else {
        snprintf(edge_path, sizeof edge_path, "%s/e2e-edge.gguf", tu_tmpdir());
        if (gen(edge_path, "stories260k", 7, NULL)) edge_path[0] = '\0';
    }
    snprintf(cloud_path, sizeof cloud_path, "%s/e2e-cloud.gguf", tu_tmpdir());
    if (!edge_path[0] || gen(cloud_path, "tiny", 11, edge_path)) cloud_path[0] = '\0';
}

const char *e2e_edge_model(void) {
    make_models();
    return edge_path[0] ? edge_path : NULL;
}

const char *e2e_cloud_model(void) {
    make_models();
    return cloud_path[0] ? cloud_path : NULL;
}

int e2e_have_stories(void) {
    make_models();
    return edge_is_stories > 0;
}

int e2e_start(tu_server *s, int n_ctx, int n_parallel, const char *const *extra) {
    if (!e2e_edge_model() || !e2e_cloud_model()) return -1;
    char em[1100], cm[1100], ctx[16], par[16];
    snprintf(em, sizeof em, "edge=%s", edge_path);
    snprintf(cm, sizeof cm, "cloud=%s", cloud_path);
    snprintf(ctx, sizeof ctx, "%d", n_ctx);
    snprintf(par, sizeof par, "%d", n_parallel);
    const char *args[48] = {"--model", em, "--model", cm, "--ctx", ctx, "--parallel", par, "--threads", "1"};
    int n = 10;
    for (int i = 0; extra && extra[i] && n < 47; i++) args[n++] = extra[i];
    args[n] = NULL;
    return tu_server_start(s, args);
}

const char *e2e_endpoint(const tu_server *s, const char *model, char *buf, size_t n) {
    snprintf(buf, n, "%s/v1#%s", s->base, model);
    return buf;
}

double e2e_metric_sum(const tu_server *s, const char *prefix) {
    char u[256];
    tu_http_reply r;
    if (tu_http("GET", tu_server_url(s, "/metrics", u, sizeof u), NULL, 0, NULL, 0, &r) || r.status != 200) {
        tu_http_reply_free(&r);
        return -1;
    }
    double sum = 0;
    size_t pl = strlen(prefix);
    for (char *line = r.body; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        if (line[0] != '#' && !strncmp(line, prefix, pl)) {
            const char *sp = strrchr(line, ' ');
            if (sp) sum += atof(sp + 1);
        }
        line = nl ? nl + 1 : NULL;
    }
    tu_http_reply_free(&r);
    return sum;
}
