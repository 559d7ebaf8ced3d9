/* test_eval_extract.c - final-answer extraction and scoring over a corpus of
 * realistic model outputs for every answer type, tricky ones included. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "hybridflow/eval.h"

typedef struct {
    const char *output;
    char want; /* 0 = nothing extractable */
} mc_case;

static const char *opts4[] = {"polyA tail", "antisense", "lariat", "R-loops"};

static void test_choice_corpus(void **state) {
    (void)state;
    static const mc_case cases[] = {
        {"The spliceosome is blocked, so lariats never form.\n\nAnswer: C", 'C'},
        {"Let me think step by step.\nOption A is wrong because polyA is added later.\nOption B is the Morpholino "
         "itself.\nTherefore, the answer is (D).", 'D'},
        {"At first glance (A) looks right, but (B) is the mechanism. The correct answer is B.", 'B'},
        {"So the final answer is $\\boxed{C}$.", 'C'},
        {"\\boxed{\\text{D. R-loops}}", 'D'},
        {"I initially thought the answer was A, but re-checking the half-lives...\nFinal Answer: **C**", 'C'},
        {"The answer is (A)... wait, that ignores the second lifetime. Recomputing gives the answer is D.", 'D'},
        {"Comparing options A, B and C, none fits; D is the only structure not involved.\n\nD", 'D'},
        {"Reasoning...\n\n**Answer: B**", 'B'},
        {"Reasoning...\n\n(C)", 'C'},
        {"Reasoning...\nC. lariat", 'C'},
        {"Reasoning...\nSo I pick B.", 'B'},
        {"The structure that plays no role here is the R-loops.", 'D'},
        {"The final option letter is B, whose content is antisense.\n\nAnswer: B. antisense", 'B'},
        {"answer: c", 0},                /* lower-case 'c' is not an option letter */
        {"The answer is A.", 'A'},
        {"Answer: I think it is B because of the ratio.\nTherefore B.", 'B'},
        {"None of these seem right to me.", 0},
        {"", 0},
        {"The correct option is [B]", 'B'},
        {"### Final answer\nB) antisense", 'B'},
        {"Both A and C mention RNA, but only one is right.\nThe answer is: C.", 'C'},
        {"Answer: (E)", 0},              /* out of range for four options */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got = hflow_extract_choice(cases[i].output, opts4, 4);
        if (got != cases[i].want)
            fail_msg("case %zu: got '%c' want '%c' for: %s", i, got ? got : '0', cases[i].want ? cases[i].want : '0',
                     cases[i].output);
    }
    /* ten options (MMLU-Pro): J is valid, and option text decides when no letter is given */
    static const char *opts10[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "24"};
    assert_int_equal(hflow_extract_choice("The answer is (J).", opts10, 10), 'J');
    assert_int_equal(hflow_extract_choice("The index of <p> is 24", opts10, 10), 'J');
    assert_int_equal(hflow_extract_choice("the answer is I.", opts10, 10), 'I');
    assert_int_equal(hflow_extract_choice("Answer: J", opts4, 4), 0);
}

typedef struct {
    const char *output;
    int found;
    long want;
} int_case;

static void test_integer_corpus(void **state) {
    (void)state;
    static const int_case cases[] = {
        {"Thus the walk takes $\\boxed{204}$ minutes.", 1, 204},
        {"We get m+n = 25, so the answer is $\\boxed{025}$.", 1, 25},
        {"Therefore the answer is 1,000 - 999 = 1.\nAnswer: 1", 1, 1},
        {"The number is \\boxed{1{,}024}", 1, 1024},
        {"First I found 12, then 15, and finally the answer is 73.", 1, 73},
        {"s = 2.5 km/h, t = 0.4 hours\nso the total is 3.4 hours = 204 minutes", 1, 204},
        {"Earlier guess: \\boxed{100}. Correction: the answer is 110.", 1, 110},
        {"**Final Answer:** $\\boxed{\\text{721}}$", 1, 721},
        {"The angle is \\boxed{336^\\circ}", 1, 336},
        {"I could not solve it.", 0, 0},
        {"The ratio is 3.5", 0, 0},
        {"\\framebox{809}", 1, 809},
        {"Answer: $45$.", 1, 45},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long v = -12345;
        int f = hflow_extract_integer(cases[i].output, &v);
        if (f != cases[i].found || (f && v != cases[i].want))
            fail_msg("case %zu: found %d value %ld, want %d/%ld for: %s", i, f, v, cases[i].found, cases[i].want,
                     cases[i].output);
    }
}

static void test_zebra(void **state) {
    (void)state;
    const char *gold = "1, filmmaking, police-officer, journalist";
    assert_true(hflow_livebench_zebra_score(gold, "Reasoning...\n<solution>1, filmmaking, police-officer, journalist</solution>") == 1.0);
    /* hyphens and case do not matter; "position 1" counts as "1" */
    assert_true(hflow_livebench_zebra_score(gold, "<solution>Position 1, Filmmaking, police officer, JOURNALIST</solution>") == 1.0);
    /* 3 of 4 right: (0 + 3/4) / 2 */
    assert_true(hflow_livebench_zebra_score(gold, "<solution>1, collecting, police-officer, journalist</solution>") == 0.375);
    /* the last solution wins, a draft inside the reasoning does not */
    assert_true(hflow_livebench_zebra_score(gold, "Draft: <solution>2, collecting, journalist, police-officer</solution>\n"
                                                  "Fixing it.\n<solution>1, filmmaking, police-officer, journalist</solution>") == 1.0);
    /* boxed fallback, and the final line when it has the right number of commas */
    assert_true(hflow_livebench_zebra_score(gold, "So: $\\boxed{\\text{1, filmmaking, police-officer, journalist}}$") == 1.0);
    assert_true(hflow_livebench_zebra_score(gold, "Reasoning\n1, filmmaking, police-officer, journalist") == 1.0);
    /* a solution split across lines is not matched (LiveBench's '.' stops at newlines) */
    assert_true(hflow_livebench_zebra_score(gold, "<solution>1, filmmaking,\npolice-officer, journalist</solution>") == 0.0);
    assert_true(hflow_livebench_zebra_score(gold, "no idea") == 0.0);
}

static void test_spatial(void **state) {
    (void)state;
    assert_true(hflow_livebench_spatial_score("4", "Cutting twice gives **4** pieces.") == 1.0);
    assert_true(hflow_livebench_spatial_score("4", "There are **four** pieces.") == 1.0);
    /* the answer may be among the last three bold spans */
    assert_true(hflow_livebench_spatial_score("3", "**3**\n\n**Note:** assuming **straight** cuts") == 1.0);
    assert_true(hflow_livebench_spatial_score("3", "**3** then **a** and **b** and **c**") == 0.0);
    assert_true(hflow_livebench_spatial_score("tetrahedra", "The pieces are **two tetrahedra**.") == 1.0);
    assert_true(hflow_livebench_spatial_score("triangle", "**circle square triangle and more shapes**") == 0.0);
    assert_true(hflow_livebench_spatial_score("square pyramid", "It is a **Square Pyramid**") == 1.0);
    assert_true(hflow_livebench_spatial_score("4", "The answer is 4.") == 0.0); /* no bold: LiveBench gives 0 */
}

static void test_web_of_lies(void **state) {
    (void)state;
    const char *gold = "no, yes, yes";
    assert_true(hflow_livebench_web_of_lies_score(gold, "Thinking...\n**no, yes, yes**") == 1.0);
    assert_true(hflow_livebench_web_of_lies_score(gold, "The botanical garden lies: **No**. Aquarium: **Yes**. Airport: **Yes.**") == 1.0);
    assert_true(hflow_livebench_web_of_lies_score(gold, "<solution>no, yes, yes</solution>") == 1.0);
    assert_true(hflow_livebench_web_of_lies_score(gold, "**yes, yes, yes**") == 0.0);
    /* the last three yes/no words in bold are the answer, earlier bold ones are ignored */
    assert_true(hflow_livebench_web_of_lies_score(gold, "**Yes** the farm lies... final: **no, yes, yes**") == 1.0);
    assert_true(hflow_livebench_web_of_lies_score(gold, "So the answers are no, yes, yes") == 1.0);
    assert_true(hflow_livebench_web_of_lies_score(gold, "\\boxed{no, yes, yes}") == 1.0);
    assert_true(hflow_livebench_web_of_lies_score(gold, "I am unsure.") == 0.0);
}

static void test_score_dispatch(void **state) {
    (void)state;
    char *o[] = {"polyA tail", "antisense", "lariat", "R-loops"};
    hflow_eval_item mc = {.id = "x", .question = "q", .gold = "D", .answer_type = HFLOW_ANSWER_LETTER, .options = o, .n_options = 4};
    hflow_eval_score s;
    hflow_eval_score_output(&mc, "Option D. Answer: D", &s);
    assert_true(s.correct);
    assert_string_equal(s.extracted, "D");
    hflow_eval_score_output(&mc, "Answer: C", &s);
    assert_false(s.correct);
    assert_true(s.score == 0.0);
    hflow_eval_item aime = {.id = "a", .question = "q", .gold = "025", .answer_type = HFLOW_ANSWER_INTEGER};
    hflow_eval_score_output(&aime, "so the answer is \\boxed{25}", &s);
    assert_true(s.correct);
    assert_string_equal(s.extracted, "25");
    hflow_eval_item z = {.id = "z", .question = "q", .gold = "a, b", .answer_type = HFLOW_ANSWER_LIST, .task = "zebra_puzzle"};
    hflow_eval_score_output(&z, "<solution>a, c</solution>", &s);
    assert_true(s.score == 0.25);
    assert_false(s.correct);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choice_corpus),  cmocka_unit_test(test_integer_corpus), cmocka_unit_test(test_zebra),
        cmocka_unit_test(test_spatial),        cmocka_unit_test(test_web_of_lies),    cmocka_unit_test(test_score_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
