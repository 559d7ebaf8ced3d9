/* test_family.c - family stamps, fingerprints, early-exit drafts, delta storage
 * on a family built from the real stories260K model. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/family.h"
#include "hybridflow/gguf.h"
#include "hybridflow/modelgen.h"

static char dir[512];

static const char *path(const char *name) {
    static char buf[8][600];
    static int i = 0;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static hflow_family_info info_of(const char *p, hflow_gguf **keep) {
    hflow_gguf *g;
    hflow_error err;
    if (hflow_gguf_open(p, &g, &err)) fail_msg("%s", err.message);
    hflow_family_info fi;
    if (hflow_family_read(g, &fi, &err)) fail_msg("%s", err.message);
    if (keep) *keep = g;
    else hflow_gguf_close(g);
    return fi;
}

static void test_family_lifecycle(void **state) {
    (void)state;
    char buf[4096];
    const char *src = tu_shared_path(buf, sizeof buf, "models/stories260K.gguf");
    TU_REQUIRE_SHARED(src, "models/stories260K.gguf");
    snprintf(dir, sizeof dir, "%s", tu_tmpdir());
    hflow_error err;
    assert_int_equal(hflow_family_stamp(src, path("v1.gguf"), "stories", "v1", 3, &err), 0);
    assert_int_equal(hflow_family_evolve(path("v1.gguf"), path("v2.gguf"), 3, 0.1f, 7, "v2", &err), 0);
    hflow_gguf *g1, *g2;
    hflow_family_info f1 = info_of(path("v1.gguf"), &g1), f2 = info_of(path("v2.gguf"), &g2);
    assert_true(f1.stamped && f2.stamped);
    assert_string_equal(f2.version, "v2");
    assert_true(f1.tokenizer_fp == f2.tokenizer_fp);
    /* the new version changed only upper layers: same backbone, different full model */
    assert_true(f1.backbone_fp == f2.backbone_fp);
    assert_true(hflow_family_backbone_hash(g1, 3) == hflow_family_backbone_hash(g2, 3));
    assert_true(hflow_family_backbone_hash(g1, 5) != hflow_family_backbone_hash(g2, 5));
    assert_memory_equal(hflow_gguf_find_tensor(g1, "blk.2.attn_q.weight")->data,
                        hflow_gguf_find_tensor(g2, "blk.2.attn_q.weight")->data, 64 * 64 * 4);
    assert_memory_not_equal(hflow_gguf_find_tensor(g1, "blk.3.attn_q.weight")->data,
                            hflow_gguf_find_tensor(g2, "blk.3.attn_q.weight")->data, 64 * 64 * 4);

    /* delta storage: only the changed tensors, and a merge restores v2 exactly */
    assert_int_equal(hflow_family_split(path("v2.gguf"), path("v1.gguf"), path("v2.delta.gguf"), &err), 0);
    hflow_gguf *gd;
    info_of(path("v2.delta.gguf"), &gd);
    assert_non_null(hflow_gguf_find_tensor(gd, "blk.4.ffn_up.weight"));
    assert_null(hflow_gguf_find_tensor(gd, "blk.0.ffn_up.weight"));
    assert_null(hflow_gguf_find_tensor(gd, "token_embd.weight"));
    hflow_gguf_close(gd);
    assert_int_equal(hflow_family_merge(path("v2.delta.gguf"), path("v1.gguf"), path("v2.full.gguf"), &err), 0);
    hflow_gguf *gm;
    hflow_family_info fm = info_of(path("v2.full.gguf"), &gm);
    assert_string_equal(fm.version, "v2");
    assert_int_equal(fm.delta_of, 0);
    assert_int_equal(hflow_gguf_n_tensors(gm), hflow_gguf_n_tensors(g2));
    for (int64_t i = 0; i < hflow_gguf_n_tensors(g2); i++) {
        const hflow_gguf_tensor *a = hflow_gguf_tensor_at(g2, i), *b = hflow_gguf_find_tensor(gm, a->name);
        assert_non_null(b);
        assert_int_equal(a->size, b->size);
        assert_memory_equal(a->data, b->data, a->size);
    }
    hflow_gguf_close(gm);
    /* a delta cannot be merged onto a foreign backbone */
    assert_int_equal(hflow_family_merge(path("v2.delta.gguf"), path("v2.gguf"), path("bad.gguf"), &err), HFLOW_EINVAL);
    assert_non_null(strstr(err.message, "different backbone"));

    /* early-exit draft: first 2 blocks + head, same tokenizer */
    assert_int_equal(hflow_family_derive_early_exit(path("v1.gguf"), path("draft.gguf"), 2, &err), 0);
    hflow_gguf *gdr;
    hflow_family_info fd = info_of(path("draft.gguf"), &gdr);
    assert_true(fd.tokenizer_fp == f1.tokenizer_fp);
    assert_true(fd.is_draft);
    assert_false(f1.is_draft);
    assert_int_equal(hflow_family_mark_draft(path("v2.gguf"), path("v2.draft.gguf"), &err), 0);
    hflow_family_info fmd = info_of(path("v2.draft.gguf"), NULL);
    assert_true(fmd.is_draft);
    assert_string_equal(fmd.version, "v2");
    int64_t n;
    assert_int_equal(hflow_gguf_get_int(gdr, "llama.block_count", &n), 0);
    assert_int_equal(n, 2);
    assert_non_null(hflow_gguf_find_tensor(gdr, "blk.1.ffn_down.weight"));
    assert_null(hflow_gguf_find_tensor(gdr, "blk.2.ffn_down.weight"));
    assert_non_null(hflow_gguf_find_tensor(gdr, "output.weight"));
    hflow_gguf_close(gdr);
    assert_int_equal(hflow_family_derive_early_exit(path("v1.gguf"), path("x.gguf"), 9, &err), HFLOW_EINVAL);

    /* a model with another tokenizer has another tokenizer fingerprint */
    hflow_gen_params p;
    hflow_gen_params_default(&p);
    assert_int_equal(hflow_gen_model(&p, path("foreign.gguf"), &err), 0);
    hflow_family_info ff = info_of(path("foreign.gguf"), NULL);
    assert_false(ff.stamped);
    assert_true(ff.tokenizer_fp != f1.tokenizer_fp);
    hflow_gguf_close(g1);
    hflow_gguf_close(g2);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_family_lifecycle)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
