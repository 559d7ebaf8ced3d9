/* test_router_embed.c - dense embedding features of the learned router, with
 * a generated tiny model as the embedder (the engine in-process; no shared
 * data needed): the text each step embeds, a router trained with embeddings
 * decides at serving time (policy "learned:", embedder named in the file)
 * with exactly the scores of its training features, the embedding cache
 * avoids recomputation and refuses another endpoint's vectors, and a router
 * that wants embeddings without an embedder is refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/embed.h"
#include "hybridflow/engine.h"
#include "hybridflow/modelgen.h"
#include "hybridflow/router.h"

static char model_path[512];

static int setup(void **state) {
    (void)state;
    snprintf(model_path, sizeof model_path, "%s/router-embed-tiny.gguf", tu_tmpdir());
    hflow_gen_params gp;
    hflow_gen_params_default(&gp);
    if (hflow_gen_params_preset(&gp, "tiny", NULL) || hflow_gen_model(&gp, model_path, NULL)) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    remove(model_path);
    return 0;
}

static const char *WORDS[] = {"apple", "river", "proof", "integral", "story", "castle", "matrix", "garden"};

/* Query-level samples; the cloud wins on questions holding "integral" or "matrix". */
static void make_data(hflow_router_dataset *d, int n) {
    hflow_router_dataset_init(d);
    for (int i = 0; i < n; i++) {
        char q[128], g[16];
        const char *a = WORDS[i % 8], *b = WORDS[(i * 5 + 1) % 8];
        snprintf(q, sizeof q, "a question about the %s and the %s, number %d", a, b, i);
        snprintf(g, sizeof g, "q%d", i);
        int hard = strstr(q, "integral") || strstr(q, "matrix");
        hflow_router_sample x = {0};
        x.f.question = q;
        x.f.step_index = -1;
        x.f.edge_confidence = -1;
        x.group = g;
        x.quality_edge = hard ? 0 : 1;
        x.quality_cloud = 1;
        assert_int_equal(hflow_router_dataset_add(d, &x, NULL), 0);
    }
}

static int count_lines(const char *path) {
    size_t len;
    char *s = tu_read_file(path, &len);
    int n = 0;
    for (size_t i = 0; s && i < len; i++) n += s[i] == '\n';
    free(s);
    return n;
}

static void test_embed_text(void **state) {
    (void)state;
    hflow_route_features f = {.question = "Q?", .task = NULL};
    char *t = hflow_router_embed_text(&f);
    assert_string_equal(t, "Q?");
    free(t);
    f.task = "do X";
    t = hflow_router_embed_text(&f);
    assert_string_equal(t, "Q?\n\ndo X");
    free(t);
}

/* The embedder's vector is hflow_embed's for the step's text. */
static void test_embedder_is_hflow_embed(void **state) {
    (void)state;
    hflow_router_embedder *e;
    assert_int_equal(hflow_router_embedder_open(model_path, NULL, &e, NULL), 0);
    hflow_route_features f = {.question = "What is two plus two?", .task = "add the numbers"};
    float v[512], w[512];
    hflow_error err;
    /* The width is unknown until the first vector; a wrong one is refused. */
    assert_int_equal(hflow_router_embedder_embed(e, &f, v, 3, &err), HFLOW_EINVAL);
    uint32_t dim = hflow_router_embedder_dim(e);
    assert_true(dim > 3 && dim <= 512);
    assert_int_equal(hflow_router_embedder_embed(e, &f, v, dim, NULL), 0);
    hflow_model *m;
    hflow_session *s;
    assert_int_equal(hflow_model_load(model_path, NULL, &m, NULL), 0);
    assert_int_equal(hflow_session_create(m, NULL, &s, NULL), 0);
    char *text = hflow_router_embed_text(&f);
    assert_int_equal(hflow_embed(s, text, NULL, w, NULL, NULL), 0);
    for (uint32_t j = 0; j < dim; j++) assert_true(fabsf(v[j] - w[j]) <= 1e-6f);
    free(text);
    hflow_session_free(s);
    hflow_model_free(m);
    hflow_router_embedder_free(e);
}

/* Train with embeddings, save, serve through "learned:": every decision's
 * score equals hflow_router_score on the training sample's features and
 * stored embedding, bit for bit. */
static void test_train_serve_identity(void **state) {
    (void)state;
    char cache[600], rpath[600], spec[1400];
    snprintf(cache, sizeof cache, "%s/emb-cache.jsonl", tu_tmpdir());
    snprintf(rpath, sizeof rpath, "%s/emb-router.gguf", tu_tmpdir());
    remove(cache);
    hflow_router_dataset d;
    make_data(&d, 48);
    hflow_router_embedder *e;
    assert_int_equal(hflow_router_embedder_open(model_path, cache, &e, NULL), 0);
    assert_int_equal(hflow_router_dataset_embed(&d, e, NULL), 0);
    assert_true(d.embed_dim > 0);
    assert_int_equal(d.embed_dim, hflow_router_embedder_dim(e));
    hflow_router_embedder_free(e);
    assert_int_equal(count_lines(cache), 1 + 48); /* header + one line per distinct text */

    hflow_router_train_opts o;
    hflow_router_train_opts_default(&o);
    o.feat.hash_dim = 64;
    o.hidden[0] = 8;
    o.max_epochs = 5;
    hflow_router *r;
    assert_int_equal(hflow_router_train(&d, NULL, &o, &r, NULL, NULL), 0);
    assert_int_equal(hflow_router_featurizer(r)->cfg.embed_dim, d.embed_dim);
    assert_int_equal(hflow_router_set_embed_endpoint(r, model_path, NULL), 0);
    assert_int_equal(hflow_router_save(r, rpath, NULL), 0);

    snprintf(spec, sizeof spec, "learned:%s", rpath);
    hflow_policy *p;
    hflow_error err;
    assert_int_equal(hflow_policy_create(spec, &p, &err), 0);
    int moved = 0;
    for (size_t i = 0; i < d.n; i++) {
        float s_train, s_none;
        assert_int_equal(hflow_router_score(r, &d.s[i].f, d.s[i].embedding, &s_train, NULL), 0);
        assert_int_equal(hflow_router_score(r, &d.s[i].f, NULL, &s_none, NULL), 0);
        moved += s_none != s_train; /* the embedding really is a feature */
        hflow_route_decision dec;
        assert_int_equal(hflow_policy_decide(p, &d.s[i].f, &dec, NULL), 0);
        assert_true((float)dec.score == s_train);
    }
    assert_true(moved > 0);
    hflow_policy_free(p);

    /* A second run reads every vector from the cache: nothing is appended. */
    hflow_router_dataset d2;
    make_data(&d2, 48);
    assert_int_equal(hflow_router_embedder_open(model_path, cache, &e, NULL), 0);
    assert_int_equal(hflow_router_dataset_embed(&d2, e, NULL), 0);
    hflow_router_embedder_free(e);
    assert_int_equal(count_lines(cache), 1 + 48);
    for (size_t i = 0; i < d.n; i++) assert_memory_equal(d.s[i].embedding, d2.s[i].embedding, d.embed_dim * sizeof(float));
    hflow_router_dataset_free(&d2);

    /* Another endpoint may not reuse this cache. */
    assert_int_equal(hflow_router_embedder_open("http://127.0.0.1:9/v1#other", cache, &e, &err), HFLOW_EINVAL);

    /* No embedder named: refused; embed= supplies one. */
    assert_int_equal(hflow_router_set_embed_endpoint(r, NULL, NULL), 0);
    assert_int_equal(hflow_router_save(r, rpath, NULL), 0);
    assert_int_equal(hflow_policy_create(spec, &p, &err), HFLOW_EUNSUPPORTED);
    snprintf(spec, sizeof spec, "learned:%s,first=cloud,embed=%s", rpath, model_path);
    assert_int_equal(hflow_policy_create(spec, &p, &err), 0);
    hflow_route_decision dec;
    float s0;
    assert_int_equal(hflow_policy_decide(p, &d.s[3].f, &dec, NULL), 0);
    assert_int_equal(hflow_router_score(r, &d.s[3].f, d.s[3].embedding, &s0, NULL), 0);
    assert_true((float)dec.score == s0);
    hflow_policy_free(p);

    hflow_router_free(r);
    hflow_router_dataset_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embed_text),
        cmocka_unit_test(test_embedder_is_hflow_embed),
        cmocka_unit_test(test_train_serve_identity),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
