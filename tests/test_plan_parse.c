/* test_plan_parse.c - the streaming plan parser over a corpus of realistic good
 * and bad planner outputs, fed whole and split at every byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "flow/plan_parse.h"

typedef struct got_step {
    int id, n_rely, difficulty, tokens;
    int rely[FLOW_PLAN_MAX_RELY];
    char task[256];
} got_step;

typedef struct collect {
    got_step s[64];
    int n;
} collect;

static int on_step(void *user, const flow_raw_step *st) {
    collect *c = user;
    if (c->n >= 64) return 1;
    got_step *g = &c->s[c->n++];
    g->id = st->id;
    g->n_rely = st->n_rely;
    memcpy(g->rely, st->rely, sizeof g->rely);
    g->difficulty = st->difficulty;
    g->tokens = st->tokens;
    snprintf(g->task, sizeof g->task, "%s", st->task);
    return 0;
}

/* Parses `text` split into chunks of `chunk` bytes (0 = whole). */
static void parse(const char *text, size_t chunk, collect *c) {
    memset(c, 0, sizeof *c);
    flow_plan_parser *p = flow_plan_parser_create(on_step, c);
    assert_non_null(p);
    size_t n = strlen(text);
    if (!chunk) chunk = n ? n : 1;
    for (size_t off = 0; off < n; off += chunk)
        assert_int_equal(flow_plan_parser_feed(p, text + off, off + chunk > n ? n - off : chunk), 0);
    flow_plan_parser_finish(p);
    flow_plan_parser_free(p);
}

/* Whole-text parse must equal the parse split at every position. */
static void parse_all_splits(const char *text, collect *whole) {
    parse(text, 0, whole);
    size_t n = strlen(text);
    for (size_t chunk = 1; chunk <= 7 && chunk < n; chunk++) {
        collect c;
        parse(text, chunk, &c);
        assert_int_equal(c.n, whole->n);
        assert_memory_equal(c.s, whole->s, sizeof c.s[0] * (size_t)c.n);
    }
    for (size_t cut = 1; cut < n; cut++) { /* two chunks split at every byte */
        collect c;
        memset(&c, 0, sizeof c);
        flow_plan_parser *p = flow_plan_parser_create(on_step, &c);
        flow_plan_parser_feed(p, text, cut);
        flow_plan_parser_feed(p, text + cut, n - cut);
        flow_plan_parser_finish(p);
        flow_plan_parser_free(p);
        assert_int_equal(c.n, whole->n);
        assert_memory_equal(c.s, whole->s, sizeof c.s[0] * (size_t)c.n);
    }
}

static void test_canonical_plan(void **state) {
    (void)state;
    const char *plan =
        "<Plan>\n"
        "<Step ID=\"1\" Task=\"Restate the problem: which option is a noble gas?\" Rely=\"\" Difficulty=\"2\" Token=\"80\"/>\n"
        "<Step ID=\"2\" Task=\"Check option A\" Rely=\"1\" Difficulty=\"4\" Token=\"120\"/>\n"
        "<Step ID=\"3\" Task=\"Check option B\" Rely=\"1\" Difficulty=\"4\" Token=\"120\"/>\n"
        "<Step ID=\"4\" Task=\"Pick the answer\" Rely=\"2,3\" Difficulty=\"3\" Token=\"60\"/>\n"
        "</Plan>";
    collect c;
    parse_all_splits(plan, &c);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.s[0].id, 1);
    assert_string_equal(c.s[0].task, "Restate the problem: which option is a noble gas?");
    assert_int_equal(c.s[0].n_rely, 0);
    assert_int_equal(c.s[0].difficulty, 2);
    assert_int_equal(c.s[0].tokens, 80);
    assert_int_equal(c.s[3].n_rely, 2);
    assert_int_equal(c.s[3].rely[0], 2);
    assert_int_equal(c.s[3].rely[1], 3);
}

static void test_tolerant_forms(void **state) {
    (void)state;
    const char *plan =
        "<think>Let me plan. <Step ID=\"9\" Task=\"draft, not the plan\"/> ok</think>\n"
        "Sure! Here is the plan you asked for (note: 3 < 4):\n"
        "<plan>\n"
        "  <step   task='Restate &quot;x&quot; &amp; y'   id='1'\n   difficulty='2' />\n"
        "  <Step Token=\"50\" Rely=\"1 \" ID=\"2\" Task=\"a &lt; b &gt; c &#65;&#x42; it&apos;s\"/>\n"
        "  <Step ID=3 Rely=\"[1, 2]\" Task=\"combine\"/>\n"
        "  <Step ID=\"4\" Rely=\"step 2 and step 3\">Long form task</Step>\n"
        "  <Step ID=\"5\" Task=\"value with > inside\" Rely=\"4\"/>\n"
        "</plan>\n"
        "I hope this helps. <Step ID=\"6\" Task=\"after the plan\"/>";
    collect c;
    parse_all_splits(plan, &c);
    assert_int_equal(c.n, 5);
    assert_string_equal(c.s[0].task, "Restate \"x\" & y");
    assert_int_equal(c.s[0].id, 1);
    assert_int_equal(c.s[0].difficulty, 2);
    assert_int_equal(c.s[0].tokens, 0); /* missing Token */
    assert_string_equal(c.s[1].task, "a < b > c AB it's");
    assert_int_equal(c.s[1].n_rely, 1);
    assert_int_equal(c.s[1].rely[0], 1);
    assert_int_equal(c.s[1].tokens, 50);
    assert_int_equal(c.s[1].difficulty, 0); /* missing Difficulty */
    assert_int_equal(c.s[2].id, 3);
    assert_int_equal(c.s[2].n_rely, 2);
    assert_string_equal(c.s[3].task, "Long form task");
    assert_int_equal(c.s[3].n_rely, 2);
    assert_int_equal(c.s[3].rely[1], 3);
    assert_string_equal(c.s[4].task, "value with > inside");
}

static void test_bad_plans(void **state) {
    (void)state;
    collect c;
    parse("I cannot make a plan for this question.", 0, &c);
    assert_int_equal(c.n, 0);
    parse("", 0, &c);
    assert_int_equal(c.n, 0);
    /* Truncated by max_tokens in the middle of a tag: the partial step is dropped. */
    parse("<Plan><Step ID=\"1\" Task=\"one\"/><Step ID=\"2\" Task=\"tw", 3, &c);
    assert_int_equal(c.n, 1);
    /* An unclosed think block hides everything after it. */
    parse("<think>planning <Step ID=\"1\" Task=\"x\"/>", 0, &c);
    assert_int_equal(c.n, 0);
    /* A tag that never closes before the next one still yields both steps. */
    parse_all_splits("<Plan><Step ID=\"1\" Task=\"one\" <Step ID=\"2\" Task=\"two\"/></Plan>", &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.s[1].task, "two");
    /* Unknown escapes stay literal; non-numeric ids read as 0. */
    parse_all_splits("<Step ID=\"first\" Task=\"&bogus; &#;\"/>", &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.s[0].id, 0);
    assert_string_equal(c.s[0].task, "&bogus; &#;");
}

/* A step is emitted the moment its tag closes, not when the plan ends. */
static void test_emits_on_tag_close(void **state) {
    (void)state;
    collect c;
    memset(&c, 0, sizeof c);
    flow_plan_parser *p = flow_plan_parser_create(on_step, &c);
    const char *a = "<Plan><Step ID=\"1\" Task=\"one\"/";
    flow_plan_parser_feed(p, a, strlen(a));
    assert_int_equal(c.n, 0);
    flow_plan_parser_feed(p, ">", 1);
    assert_int_equal(c.n, 1);
    const char *b = "<Step ID=\"2\" Task=\"two\" Rely=\"1\"/>";
    flow_plan_parser_feed(p, b, strlen(b));
    assert_int_equal(c.n, 2);
    assert_int_equal(flow_plan_parser_count(p), 2);
    flow_plan_parser_finish(p);
    flow_plan_parser_free(p);
}

static void test_unescape(void **state) {
    (void)state;
    char *s = flow_xml_unescape("&lt;&#233;&#x1F600;&amp;amp;", strlen("&lt;&#233;&#x1F600;&amp;amp;"));
    assert_string_equal(s, "<\xC3\xA9\xF0\x9F\x98\x80&amp;");
    free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_plan),  cmocka_unit_test(test_tolerant_forms),
        cmocka_unit_test(test_bad_plans),       cmocka_unit_test(test_emits_on_tag_close),
        cmocka_unit_test(test_unescape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
