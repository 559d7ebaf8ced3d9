/* test_eval_dataset.c - loading the shared benchmark sets, MMLU-Pro and the
 * generic JSONL format; corrupt input names the file and line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/eval.h"

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const hflow_eval_item *find_id(const hflow_eval_dataset *d, const char *id) {
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->items[i].id, id)) return &d->items[i];
    return NULL;
}

static void test_gpqa(void **state) {
    (void)state;
    char buf[4096];
    const char *p = tu_shared_path(buf, sizeof buf, "datasets/gpqa.json");
    TU_REQUIRE_SHARED(p, "datasets/gpqa.json");
    hflow_eval_dataset d;
    hflow_error err;
    assert_int_equal(hflow_eval_dataset_load("gpqa", tu_shared_dir(), &d, &err), 0);
    assert_string_equal(d.name, "gpqa");
    assert_int_equal(d.n, 448);
    const hflow_eval_item *it = &d.items[0];
    assert_int_equal(it->answer_type, HFLOW_ANSWER_LETTER);
    assert_string_equal(it->gold, "D"); /* answer_id 3 */
    assert_int_equal(it->n_options, 4);
    assert_string_equal(it->options[3], "R-loops");
    assert_string_equal(it->id, "i0");
    assert_non_null(strstr(it->question, "\nA. polyA tail\n"));
    /* every gold letter names the option whose text is the recorded answer */
    for (size_t i = 0; i < d.n; i++) {
        const hflow_eval_item *x = &d.items[i];
        assert_true(x->n_options >= 4);
        assert_true(x->gold[0] >= 'A' && x->gold[0] < 'A' + x->n_options);
    }
    hflow_eval_dataset_free(&d);
}

static void test_mmlu_stem_aime_livebench(void **state) {
    (void)state;
    char buf[4096];
    TU_REQUIRE_SHARED(tu_shared_path(buf, sizeof buf, "datasets/MMLU-STEM.json"), "datasets/MMLU-STEM.json");
    hflow_eval_dataset d;
    hflow_error err;
    assert_int_equal(hflow_eval_dataset_load(buf, NULL, &d, &err), 0);
    assert_int_equal(d.n, 3153);
    assert_string_equal(d.items[0].category, "abstract_algebra");
    assert_string_equal(d.items[0].gold, "B");
    assert_string_equal(d.items[0].options[1], "4");
    hflow_eval_dataset_free(&d);

    assert_int_equal(hflow_eval_dataset_load("aime", tu_shared_dir(), &d, &err), 0);
    assert_int_equal(d.n, 60);
    const hflow_eval_item *it = find_id(&d, "60");
    assert_non_null(it);
    assert_int_equal(it->answer_type, HFLOW_ANSWER_INTEGER);
    assert_string_equal(it->gold, "204");
    int degrees = 0;
    for (size_t i = 0; i < d.n; i++) {
        assert_int_equal(d.items[i].answer_type, HFLOW_ANSWER_INTEGER);
        if (strstr(d.items[i].gold, "circ")) {
            degrees++;
            hflow_eval_score s;
            hflow_eval_score_output(&d.items[i], "so the angle is $\\boxed{336}$ degrees", &s);
            assert_true(s.correct);
        }
    }
    assert_int_equal(degrees, 1);
    assert_non_null(find_id(&d, "i30")); /* items without id get their index */
    hflow_eval_dataset_free(&d);

    assert_int_equal(hflow_eval_dataset_load("livebench", tu_shared_dir(), &d, &err), 0);
    assert_int_equal(d.n, 200);
    int zebra = 0, spatial = 0, wol = 0;
    for (size_t i = 0; i < d.n; i++) {
        const hflow_eval_item *x = &d.items[i];
        if (!strcmp(x->task, "zebra_puzzle")) { zebra++; assert_int_equal(x->answer_type, HFLOW_ANSWER_LIST); }
        if (!strcmp(x->task, "spatial")) { spatial++; assert_int_equal(x->answer_type, HFLOW_ANSWER_TEXT); }
        if (!strcmp(x->task, "web_of_lies_v2")) { wol++; assert_int_equal(x->answer_type, HFLOW_ANSWER_LIST); }
        assert_string_equal(x->category, x->task);
    }
    assert_int_equal(zebra, 100);
    assert_int_equal(spatial, 50);
    assert_int_equal(wol, 50);
    hflow_eval_dataset_free(&d);
}

static void test_mmlu_pro(void **state) {
    (void)state;
    char buf[4096];
    TU_REQUIRE_SHARED(tu_shared_path(buf, sizeof buf, "datasets/mmlu-pro-replay-dev.jsonl"), "datasets/mmlu-pro-replay-dev.jsonl");
    hflow_eval_dataset d;
    hflow_error err;
    assert_int_equal(hflow_eval_dataset_load("mmlu-pro", tu_shared_dir(), &d, &err), 0);
    assert_int_equal(d.n, 5983);
    const hflow_eval_item *it = find_id(&d, "72");
    assert_non_null(it);
    assert_string_equal(it->category, "business");
    assert_string_equal(it->gold, "J");
    assert_int_equal(it->n_options, 10);
    assert_non_null(strstr(it->question, "\nJ. Down, Involvement, Remuneration, Compensation\n"));
    hflow_eval_dataset_free(&d);
}

static void test_generic_jsonl(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/generic.jsonl", tu_tmpdir());
    write_file(path,
               "{\"question\": \"2+2?\", \"answer\": 4}\n"
               "\n"
               "{\"id\": \"q-col\", \"question\": \"Colour of the sky?\", \"options\": [\"red\", \"blue\"], \"answer\": \"blue\"}\n"
               "{\"question\": \"List primes below 6\", \"answer\": \"2, 3, 5\", \"type\": \"list\", \"category\": \"math\"}\n"
               "{\"question\": \"Capital of France\", \"answer\": \"Paris\"}\n");
    hflow_eval_dataset d;
    hflow_error err;
    assert_int_equal(hflow_eval_dataset_load(path, NULL, &d, &err), 0);
    assert_string_equal(d.name, "generic");
    assert_int_equal(d.n, 4);
    assert_int_equal(d.items[0].answer_type, HFLOW_ANSWER_INTEGER);
    assert_string_equal(d.items[0].id, "i0");
    assert_int_equal(d.items[1].answer_type, HFLOW_ANSWER_LETTER);
    assert_string_equal(d.items[1].gold, "B");
    assert_string_equal(d.items[1].question, "Colour of the sky?\n\nA. red\nB. blue\n");
    assert_int_equal(d.items[2].answer_type, HFLOW_ANSWER_LIST);
    assert_string_equal(d.items[2].category, "math");
    assert_int_equal(d.items[3].answer_type, HFLOW_ANSWER_TEXT);
    hflow_eval_score s;
    hflow_eval_score_output(&d.items[2], "The primes are 2, 3 and 5.\nAnswer: 2, 3, 5.", &s);
    assert_true(s.correct);
    hflow_eval_score_output(&d.items[2], "Answer: 2, 3", &s);
    assert_false(s.correct);
    hflow_eval_score_output(&d.items[3], "It is the largest city.\n**Answer:** paris.", &s);
    assert_true(s.correct);
    hflow_eval_score_output(&d.items[3], "Answer: Lyon", &s);
    assert_false(s.correct);
    hflow_eval_dataset_free(&d);
}

static void test_corrupt_input_names_file_and_line(void **state) {
    (void)state;
    char path[512];
    hflow_eval_dataset d;
    hflow_error err;
    snprintf(path, sizeof path, "%s/bad.jsonl", tu_tmpdir());
    write_file(path, "{\"question\": \"a\", \"answer\": \"b\"}\n{\"question\": \"c\", \"answer\": \"d\"}\n{\"question\": \"e\", \"answ\n");
    assert_int_equal(hflow_eval_dataset_load(path, NULL, &d, &err), HFLOW_EFORMAT);
    char want[600];
    snprintf(want, sizeof want, "%s:3", path);
    assert_non_null(strstr(err.message, want));
    assert_null(d.items);

    write_file(path, "{\"question\": \"a\", \"answer\": \"b\"}\n{\"question\": \"c\"}\n");
    assert_int_equal(hflow_eval_dataset_load(path, NULL, &d, &err), HFLOW_EFORMAT);
    snprintf(want, sizeof want, "%s:2: missing 'answer'", path);
    assert_non_null(strstr(err.message, want));

    write_file(path, "{\"question\": \"a\", \"options\": [\"x\", \"y\"], \"answer\": \"z\"}\n");
    assert_int_equal(hflow_eval_dataset_load(path, NULL, &d, &err), HFLOW_EFORMAT);
    assert_non_null(strstr(err.message, "not an option letter"));

    snprintf(path, sizeof path, "%s/bad.json", tu_tmpdir());
    write_file(path, "[\n  {\"problem\": \"a\", \"answer\": \"1\"},\n  {\"problem\": \"b\" \"answer\": \"2\"}\n]\n");
    assert_int_equal(hflow_eval_dataset_load(path, NULL, &d, &err), HFLOW_EFORMAT);
    snprintf(want, sizeof want, "%s:3: invalid JSON", path);
    assert_string_equal(err.message, want);

    assert_int_equal(hflow_eval_dataset_load("no-such-set", NULL, &d, &err), HFLOW_ENOTFOUND);
    assert_non_null(strstr(err.message, "no-such-set"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpqa),
        cmocka_unit_test(test_mmlu_stem_aime_livebench),
        cmocka_unit_test(test_mmlu_pro),
        cmocka_unit_test(test_generic_jsonl),
        cmocka_unit_test(test_corrupt_input_names_file_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
