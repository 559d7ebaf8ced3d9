/* dataset.c - loading benchmark questions into hflow_eval_item.
 *
 * Two containers are accepted and detected from the first byte: a JSON array
 * (the shared GPQA / MMLU-STEM / AIME / LiveBench files) and JSONL (MMLU-Pro
 * and the generic format). Both go through one per-object converter, so a
 * field means the same thing in either container. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/strbuf.h"
#include "eval/eval_util.h"
#include "hybridflow/eval.h"

static const struct {
    const char *name;
    const char *file;
} known_sets[] = {
    {"gpqa", "gpqa.json"},
    {"mmlu-stem", "MMLU-STEM.json"},
    {"aime", "AIME24_25.json"},
    {"livebench", "livebench-reasoning.json"},
    {"mmlu-pro", "mmlu-pro-replay-dev.jsonl"},
};

static const char *type_names[] = {"letter", "integer", "list", "text"};

const char *hflow_answer_type_name(int type) {
    return type >= 0 && type < 4 ? type_names[type] : "unknown";
}

int hflow_answer_type_parse(const char *s) {
    if (!s) return -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, type_names[i])) return i;
    if (!strcmp(s, "mc") || !strcmp(s, "choice")) return HFLOW_ANSWER_LETTER;
    if (!strcmp(s, "int") || !strcmp(s, "number")) return HFLOW_ANSWER_INTEGER;
    return -1;
}

static void item_free(hflow_eval_item *it) {
    free(it->id);
    free(it->question);
    free(it->gold);
    free(it->category);
    free(it->task);
    for (int i = 0; i < it->n_options; i++) free(it->options[i]);
    free(it->options);
    memset(it, 0, sizeof *it);
}

void hflow_eval_dataset_free(hflow_eval_dataset *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) item_free(&d->items[i]);
    free(d->items);
    memset(d, 0, sizeof *d);
}

/* Options written inside the problem text as "A. text" lines (GPQA, MMLU-STEM).
 * Options may span lines and hold blank lines, so each ends where the next
 * letter's line starts; the last ends at the final blank line (before the
 * instructions). The last "\nA. " is used in case the question quotes one. */
static int parse_inline_options(const char *text, hflow_eval_item *it) {
    const char *p = NULL;
    for (const char *q = strstr(text, "\nA. "); q; q = strstr(q + 1, "\nA. ")) p = q;
    if (!p) return 0;
    char **opts = calloc(10, sizeof *opts);
    if (!opts) return -1;
    int n = 0;
    const char *s = p + 4;
    while (s && n < 10) {
        char next[5] = {'\n', (char)('A' + n + 1), '.', ' ', 0};
        const char *nx = n < 9 ? strstr(s, next) : NULL, *e = nx;
        if (!e) {
            for (const char *q = strstr(s, "\n\n"); q; q = strstr(q + 1, "\n\n")) e = q;
            if (!e) e = s + strlen(s);
        }
        opts[n] = malloc((size_t)(e - s) + 1);
        if (!opts[n]) break;
        memcpy(opts[n], s, (size_t)(e - s));
        opts[n][e - s] = '\0';
        n++;
        s = nx ? nx + 4 : NULL;
    }
    it->options = opts;
    it->n_options = n;
    return 0;
}

static int copy_options(const cJSON *options, hflow_eval_item *it) {
    int n = cJSON_GetArraySize(options);
    it->options = calloc((size_t)(n ? n : 1), sizeof *it->options);
    if (!it->options) return -1;
    cJSON *o;
    cJSON_ArrayForEach(o, options) {
        it->options[it->n_options] = ev_strdup(cJSON_IsString(o) ? o->valuestring : "");
        if (!it->options[it->n_options]) return -1;
        it->n_options++;
    }
    return 0;
}

static char *json_scalar_text(const cJSON *v) {
    char buf[64];
    if (cJSON_IsString(v)) return ev_strdup(v->valuestring);
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble == (double)(long long)v->valuedouble) snprintf(buf, sizeof buf, "%lld", (long long)v->valuedouble);
        else snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
        return ev_strdup(buf);
    }
    return NULL;
}

static int infer_type(const hflow_eval_item *it, const char *gold) {
    if (it->task) {
        if (!strcmp(it->task, "zebra_puzzle") || !strcmp(it->task, "web_of_lies_v2")) return HFLOW_ANSWER_LIST;
        return HFLOW_ANSWER_TEXT;
    }
    if (it->n_options > 0) return HFLOW_ANSWER_LETTER;
    const char *p = gold;
    while (isdigit((unsigned char)*p)) p++;
    if (p != gold && (*p == '\0' || !strcmp(p, "^\\circ"))) return HFLOW_ANSWER_INTEGER;
    if (strchr(gold, ',')) return HFLOW_ANSWER_LIST;
    return HFLOW_ANSWER_TEXT;
}

/* A letter gold answer from an option index or from the option's text. */
static int letter_gold(hflow_eval_item *it, const cJSON *answer_id, char **gold) {
    int idx = -1;
    if (cJSON_IsNumber(answer_id)) idx = answer_id->valueint;
    else if (strlen(*gold) == 1 && **gold >= 'A' && **gold <= 'J') return 0;
    else
        for (int i = 0; i < it->n_options; i++)
            if (!strcmp(it->options[i], *gold)) idx = i;
    if (idx < 0 || idx >= 10 || (it->n_options && idx >= it->n_options)) return -1;
    char l[2] = {(char)('A' + idx), 0};
    free(*gold);
    *gold = ev_strdup(l);
    return *gold ? 0 : -1;
}

/* Converts one JSON object into an item. `where` names the place for errors. */
static int item_from_json(const cJSON *o, size_t index, hflow_eval_item *it, const char *where, hflow_error *err) {
    memset(it, 0, sizeof *it);
    if (!cJSON_IsObject(o)) return hflow_error_set(err, HFLOW_EFORMAT, "%s: not a JSON object", where);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "question");
    if (!q) q = cJSON_GetObjectItemCaseSensitive(o, "problem");
    if (!cJSON_IsString(q)) return hflow_error_set(err, HFLOW_EFORMAT, "%s: missing string 'question' or 'problem'", where);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "answer");
    char *gold = json_scalar_text(a);
    if (!gold) return hflow_error_set(err, HFLOW_EFORMAT, "%s: missing 'answer' (string or number)", where);
    it->gold = gold;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    char ibuf[32];
    snprintf(ibuf, sizeof ibuf, "i%zu", index);
    it->id = cJSON_IsString(id) || cJSON_IsNumber(id) ? json_scalar_text(id) : ev_strdup(ibuf);
    const cJSON *cat = cJSON_GetObjectItemCaseSensitive(o, "category");
    const cJSON *subj = cJSON_GetObjectItemCaseSensitive(o, "subject");
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task");
    if (cJSON_IsString(task)) it->task = ev_strdup(task->valuestring);
    /* LiveBench's category is always "reasoning"; its task is the useful grouping. */
    if (it->task) it->category = ev_strdup(it->task);
    else if (cJSON_IsString(subj)) it->category = ev_strdup(subj->valuestring);
    else if (cJSON_IsString(cat)) it->category = ev_strdup(cat->valuestring);
    const cJSON *diff = cJSON_GetObjectItemCaseSensitive(o, "difficulty_level");
    if (cJSON_IsNumber(diff)) it->difficulty = diff->valueint;
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(o, "options");
    int fail = !it->id;
    if (cJSON_IsArray(opts)) {
        if (cJSON_GetArraySize(opts) > 10) return hflow_error_set(err, HFLOW_EFORMAT, "%s: more than 10 options", where);
        it->question = ev_render_question(q->valuestring, opts);
        fail |= !it->question || copy_options(opts, it) != 0;
    } else {
        it->question = ev_strdup(q->valuestring);
        fail |= !it->question;
        const cJSON *aid = cJSON_GetObjectItemCaseSensitive(o, "answer_id");
        if (!fail && cJSON_IsNumber(aid)) fail |= parse_inline_options(it->question, it) != 0;
    }
    if (fail) return hflow_error_set(err, HFLOW_ENOMEM, "%s: out of memory", where);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (cJSON_IsString(type)) {
        it->answer_type = hflow_answer_type_parse(type->valuestring);
        if (it->answer_type < 0)
            return hflow_error_set(err, HFLOW_EFORMAT, "%s: unknown answer type '%s'", where, type->valuestring);
    } else {
        it->answer_type = infer_type(it, it->gold);
    }
    if (it->answer_type == HFLOW_ANSWER_LETTER &&
        letter_gold(it, cJSON_GetObjectItemCaseSensitive(o, "answer_id"), &it->gold) != 0)
        return hflow_error_set(err, HFLOW_EFORMAT, "%s: answer '%s' is not an option letter, index or option text",
                               where, it->gold ? it->gold : "");
    return 0;
}

static int push_item(hflow_eval_dataset *d, size_t *cap, hflow_eval_item *it) {
    if (d->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        hflow_eval_item *p = realloc(d->items, nc * sizeof *p);
        if (!p) return -1;
        d->items = p;
        *cap = nc;
    }
    d->items[d->n++] = *it;
    return 0;
}

static int load_array(const char *path, const char *text, hflow_eval_dataset *d, hflow_error *err) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    if (!root) {
        size_t off = end ? (size_t)(end - text) : 0;
        return hflow_error_set(err, HFLOW_EFORMAT, "%s:%d: invalid JSON", path, ev_line_of(text, off));
    }
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return hflow_error_set(err, HFLOW_EFORMAT, "%s:1: expected a JSON array of questions", path);
    }
    size_t cap = 0, idx = 0;
    int rc = 0;
    cJSON *o;
    cJSON_ArrayForEach(o, root) {
        char where[512];
        snprintf(where, sizeof where, "%.400s: item %zu", path, idx);
        hflow_eval_item it;
        rc = item_from_json(o, idx, &it, where, err);
        if (rc == 0 && push_item(d, &cap, &it) != 0) rc = hflow_error_set(err, HFLOW_ENOMEM, "%s: out of memory", path);
        if (rc) { item_free(&it); break; }
        idx++;
    }
    cJSON_Delete(root);
    return rc;
}

static int load_jsonl(const char *path, char *text, hflow_eval_dataset *d, hflow_error *err) {
    size_t cap = 0, idx = 0;
    int line = 0;
    char *p = text;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        line++;
        char *s = p;
        while (isspace((unsigned char)*s)) s++;
        if (*s) {
            char where[512];
            snprintf(where, sizeof where, "%.400s:%d", path, line);
            cJSON *o = cJSON_Parse(s);
            if (!o) return hflow_error_set(err, HFLOW_EFORMAT, "%s: invalid JSON", where);
            hflow_eval_item it;
            int rc = item_from_json(o, idx, &it, where, err);
            cJSON_Delete(o);
            if (rc == 0 && push_item(d, &cap, &it) != 0) rc = hflow_error_set(err, HFLOW_ENOMEM, "%s: out of memory", where);
            if (rc) { item_free(&it); return rc; }
            idx++;
        }
        if (!nl) break;
        p = nl + 1;
    }
    return 0;
}

static void base_name(const char *path, char *out, size_t n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, n, "%s", b);
    char *dot = strchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

int hflow_eval_dataset_load(const char *name_or_path, const char *shared_dir, hflow_eval_dataset *out,
                            hflow_error *err) {
    memset(out, 0, sizeof *out);
    if (!name_or_path || !*name_or_path) return hflow_error_set(err, HFLOW_EINVAL, "no dataset given");
    char path[4096];
    snprintf(path, sizeof path, "%s", name_or_path);
    base_name(name_or_path, out->name, sizeof out->name);
    struct stat st;
    if (stat(path, &st) != 0) {
        for (size_t i = 0; i < sizeof known_sets / sizeof known_sets[0]; i++)
            if (!strcmp(name_or_path, known_sets[i].name)) {
                if (!shared_dir) return hflow_error_set(err, HFLOW_ENOTFOUND, "dataset '%s': no shared directory", name_or_path);
                snprintf(path, sizeof path, "%s/datasets/%s", shared_dir, known_sets[i].file);
                snprintf(out->name, sizeof out->name, "%s", known_sets[i].name);
            }
        if (stat(path, &st) != 0)
            return hflow_error_set(err, HFLOW_ENOTFOUND, "dataset '%s' not found (a file, or one of gpqa, mmlu-stem, "
                                   "aime, livebench, mmlu-pro under the shared directory)", name_or_path);
    }
    char *text = NULL;
    int rc = ev_read_file(path, &text, NULL, err);
    if (rc) return rc;
    const char *s = text;
    while (isspace((unsigned char)*s)) s++;
    rc = *s == '[' ? load_array(path, text, out, err) : load_jsonl(path, text, out, err);
    free(text);
    if (rc == 0 && out->n == 0) rc = hflow_error_set(err, HFLOW_EFORMAT, "%s: no questions", path);
    if (rc) {
        char keep[64];
        memcpy(keep, out->name, sizeof keep);
        hflow_eval_dataset_free(out);
        memcpy(out->name, keep, sizeof keep);
    }
    return rc;
}
