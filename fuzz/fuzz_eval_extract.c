/* fuzz_eval_extract.c - libFuzzer target for answer extraction and scoring on
 * arbitrary model output. Input: byte 0 picks the answer type / LiveBench task
 * and the option count; the rest is "gold\0output" (no NUL: all output).
 * Checks: an extracted letter is within the allowed options, scores are in
 * [0,1], `correct` agrees with the score, `extracted` is NUL-terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hybridflow/eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_score(double s) {
    if (!(s >= 0.0 && s <= 1.0))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    char *buf = malloc(size + 1); /* NUL-terminated copy: the API takes C strings */
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    const char *gold = "", *output = buf;
    size_t first = strlen(buf);
    if (first < size - 1) {
        gold = buf;
        output = buf + first + 1;
    }
    int n_options = data[0] % 12; /* 0: A-J allowed; 11: more than letters */
    const char *opts[11] = {"Paris", "London", "4", "four", "the sky", "", "A", "B. x", "(C)", "10", "none"};
    char c = hflow_extract_choice(output, n_options ? opts : NULL, n_options);
    char maxl = (char)('A' + (n_options > 0 && n_options <= 10 ? n_options : 10) - 1); /* the contract's rule */
    if (c != 0 && (c < 'A' || c > maxl))
        __builtin_trap();
    long v = 0;
    (void)hflow_extract_integer(output, &v);
    check_score(hflow_livebench_zebra_score(gold, output));
    check_score(hflow_livebench_spatial_score(gold, output));
    check_score(hflow_livebench_web_of_lies_score(gold, output));

    static char task_zebra[] = "zebra_puzzle", task_sp[] = "spatial", task_wol[] = "web_of_lies_v2";
    char *tasks[4] = {NULL, task_zebra, task_sp, task_wol};
    hflow_eval_item it;
    memset(&it, 0, sizeof it);
    it.gold = (char *)gold;
    it.answer_type = (data[0] >> 4) % 4;
    it.task = tasks[(data[0] >> 6) % 4];
    it.options = n_options && n_options <= 10 ? (char **)opts : NULL;
    it.n_options = it.options ? n_options : 0;
    hflow_eval_score sc;
    memset(&sc, 'x', sizeof sc);
    hflow_eval_score_output(&it, output, &sc);
    check_score(sc.score);
    if (sc.correct != (sc.score >= 1.0) || !memchr(sc.extracted, 0, sizeof sc.extracted))
        __builtin_trap();
    free(buf);
    return 0;
}
