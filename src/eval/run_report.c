/* run_report.c - the report of a live run, from the files it left in the
 * output directory (so a resumed or partial run reports everything done so
 * far): per-method summaries, the Markdown table and plots of report.c, and a
 * Gantt chart of one traced query per flow method. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_util.h"
#include "eval/runner_internal.h"

/* Keeps the last line per id, in first-seen order. */
static size_t dedupe_last(hflow_eval_result *r, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < k && strcmp(r[j].id, r[i].id)) j++;
        r[j] = r[i];
        if (j == k) k++;
    }
    return k;
}

static void add_row(cJSON *row, FILE *f, const char *step, const cJSON *call, const char *task) {
    const cJSON *tier = cJSON_GetObjectItemCaseSensitive(call, "tier");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(call, "start_s"), *e = cJSON_GetObjectItemCaseSensitive(call, "end_s");
    if (!cJSON_IsString(tier) || !strcmp(tier->valuestring, "none") || !cJSON_IsNumber(s) || !cJSON_IsNumber(e) ||
        e->valuedouble <= 0)
        return;
    cJSON_AddStringToObject(row, "step", step);
    cJSON_AddStringToObject(row, "tier", tier->valuestring);
    cJSON_AddNumberToObject(row, "start_s", s->valuedouble);
    cJSON_AddNumberToObject(row, "end_s", e->valuedouble);
    cJSON_AddStringToObject(row, "task", task ? task : "");
    char *txt = cJSON_PrintUnformatted(row);
    if (txt) fprintf(f, "%s\n", txt);
    free(txt);
}

/* One query trace (a flow JSONL line) as Gantt rows: plan, steps, answer. */
static int write_gantt_rows(const cJSON *q, const char *path, hflow_error *err) {
    FILE *f = fopen(path, "w");
    if (!f) return hflow_error_set(err, HFLOW_EIO, "cannot write %s", path);
    const cJSON *plan = cJSON_GetObjectItemCaseSensitive(q, "plan");
    cJSON *row = cJSON_CreateObject();
    add_row(row, f, "plan", cJSON_GetObjectItemCaseSensitive(plan, "call"), "planner");
    cJSON_Delete(row);
    const cJSON *st;
    cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(q, "steps")) {
        char name[32];
        snprintf(name, sizeof name, "%d", (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "index")) + 1);
        row = cJSON_CreateObject();
        add_row(row, f, name, cJSON_GetObjectItemCaseSensitive(st, "call"),
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "task")));
        cJSON_Delete(row);
    }
    row = cJSON_CreateObject();
    add_row(row, f, "answer", cJSON_GetObjectItemCaseSensitive(q, "aggregator"), "aggregator");
    cJSON_Delete(row);
    fclose(f);
    return 0;
}

/* The first traced query with at least two steps (else the first one). */
static cJSON *pick_trace(const char *path) {
    char *text;
    hflow_error e;
    if (ev_read_file(path, &text, NULL, &e)) return NULL;
    cJSON *best = NULL;
    for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        cJSON *q = cJSON_Parse(p);
        if (!q) continue;
        int steps = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(q, "steps"));
        if (!best || steps >= 2) {
            cJSON_Delete(best);
            best = q;
            if (steps >= 2) break;
        } else {
            cJSON_Delete(q);
        }
    }
    free(text);
    return best;
}

/* plots/gantt_METHOD.{png,svg}; returns 1 when drawn. */
static int gantt_for(const char *out_dir, const char *method, hflow_error *err) {
    char path[4096], rows[4200], base[4200], title[160];
    snprintf(path, sizeof path, "%s/traces/%s.jsonl", out_dir, method);
    cJSON *q = pick_trace(path);
    if (!q) return 0;
    snprintf(rows, sizeof rows, "%s/plots/gantt_%s.jsonl", out_dir, method);
    snprintf(base, sizeof base, "%s/plots/gantt_%s", out_dir, method);
    snprintf(title, sizeof title, "%s: one query's DAG per tier", method);
    int rc = write_gantt_rows(q, rows, err);
    cJSON_Delete(q);
    if (!rc) rc = hflow_report_gantt(rows, base, title, err);
    return rc ? rc : 1;
}

static int append_gantt_section(const char *out_dir, const hflow_eval_method *m, int n, hflow_error *err) {
    char path[4096];
    int drawn = 0;
    snprintf(path, sizeof path, "%s/report.md", out_dir);
    FILE *f = fopen(path, "a");
    if (!f) return hflow_error_set(err, HFLOW_EIO, "cannot append to %s", path);
    for (int i = 0; i < n; i++) {
        if (m[i].kind != HFLOW_METHOD_FLOW && m[i].kind != HFLOW_METHOD_CHAIN) continue;
        int rc = gantt_for(out_dir, m[i].name, err);
        if (rc < 0) {
            fclose(f);
            return rc;
        }
        if (rc == 1) {
            if (!drawn++) fprintf(f, "\n## One query's execution (Gantt)\n");
            fprintf(f, "\n![%s](plots/gantt_%s.png)\n", m[i].name, m[i].name);
        }
    }
    fclose(f);
    return 0;
}

int hflow_eval_write_report(const char *out_dir, const char *methods, const char *command, const char *config_text,
                            int make_plots, hflow_eval_summary **sums_out, size_t *n_out, hflow_error *err) {
    if (sums_out) *sums_out = NULL;
    if (n_out) *n_out = 0;
    hflow_eval_method *m;
    int n;
    int rc = ev_parse_methods(methods, &m, &n, err);
    if (rc) return rc;
    hflow_eval_summary *sums = calloc((size_t)n, sizeof *sums);
    hflow_eval_result **res = calloc((size_t)n, sizeof *res);
    size_t *nres = calloc((size_t)n, sizeof *nres);
    if (!sums || !res || !nres) rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    for (int i = 0; i < n && !rc; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.jsonl", out_dir, m[i].name);
        rc = hflow_eval_results_load(path, &res[i], &nres[i], err);
        if (!rc) {
            nres[i] = dedupe_last(res[i], nres[i]);
            hflow_eval_summarize(res[i], nres[i], m[i].name, &sums[i]);
        }
    }
    if (!rc) {
        hflow_report_config rc_cfg = {out_dir, "HybridFlow evaluation", command, config_text, make_plots};
        rc = hflow_report_write_run(&rc_cfg, sums, (const hflow_eval_result *const *)res, nres, (size_t)n, err);
    }
    if (!rc && make_plots) rc = append_gantt_section(out_dir, m, n, err);
    for (int i = 0; res && i < n; i++) free(res[i]);
    free(res);
    free(nres);
    free(m);
    if (!rc && sums_out) {
        *sums_out = sums;
        if (n_out) *n_out = (size_t)n;
    } else {
        free(sums);
    }
    return rc;
}
