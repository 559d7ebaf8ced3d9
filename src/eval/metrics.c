/* metrics.c - per-question result records (one JSONL line each) and the
 * per-method summary: accuracy with a Wilson interval, latency quantiles,
 * tokens per tier, cloud shares, dollars and plan statistics. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_util.h"
#include "hybridflow/eval.h"

void hflow_wilson_interval(double k, double n, double z, double *lo, double *hi) {
    if (n <= 0) { *lo = 0; *hi = 1; return; }
    double p = k / n, z2 = z * z;
    double den = 1 + z2 / n;
    double center = (p + z2 / (2 * n)) / den;
    double half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den;
    *lo = fmax(0, center - half);
    *hi = fmin(1, center + half);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double hflow_quantile(const double *v, size_t n, double q) {
    if (n == 0) return 0;
    double *s = malloc(n * sizeof *s);
    if (!s) return NAN;
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double pos = q * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    double r = i + 1 < n ? s[i] + (pos - (double)i) * (s[i + 1] - s[i]) : s[n - 1];
    free(s);
    return r;
}

int hflow_eval_result_write(FILE *out, const hflow_eval_result *r, hflow_error *err) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddStringToObject(o, "method", r->method);
    cJSON_AddNumberToObject(o, "score", r->score);
    cJSON_AddBoolToObject(o, "correct", r->correct);
    cJSON_AddStringToObject(o, "extracted", r->extracted);
    cJSON_AddNumberToObject(o, "latency_s", r->latency_s);
    cJSON_AddNumberToObject(o, "ttft_s", r->ttft_s);
    static const char *tiers[2] = {"edge", "cloud"};
    for (int t = 0; t < 2; t++) {
        cJSON *x = cJSON_AddObjectToObject(o, tiers[t]);
        if (!x) break;
        cJSON_AddNumberToObject(x, "prompt_tokens", (double)r->prompt_tokens[t]);
        cJSON_AddNumberToObject(x, "completion_tokens", (double)r->completion_tokens[t]);
        cJSON_AddNumberToObject(x, "calls", r->calls[t]);
    }
    cJSON_AddNumberToObject(o, "usd", r->usd);
    cJSON_AddNumberToObject(o, "steps", r->n_steps);
    cJSON_AddNumberToObject(o, "depth", r->depth);
    if (r->error[0]) cJSON_AddStringToObject(o, "error", r->error);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    int bad = fprintf(out, "%s\n", s) < 0 || fflush(out) != 0;
    free(s);
    return bad ? hflow_error_set(err, HFLOW_EIO, "writing a result line failed") : 0;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void str(const cJSON *o, const char *k, char *dst, size_t n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    snprintf(dst, n, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

int hflow_eval_result_parse(const char *line, hflow_eval_result *r, hflow_error *err) {
    memset(r, 0, sizeof *r);
    cJSON *o = cJSON_Parse(line);
    if (!o) return hflow_error_set(err, HFLOW_EFORMAT, "invalid JSON result line");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    if (!cJSON_IsString(id)) { cJSON_Delete(o); return hflow_error_set(err, HFLOW_EFORMAT, "result line without 'id'"); }
    str(o, "id", r->id, sizeof r->id);
    str(o, "method", r->method, sizeof r->method);
    str(o, "extracted", r->extracted, sizeof r->extracted);
    str(o, "error", r->error, sizeof r->error);
    r->score = num(o, "score");
    r->correct = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "correct"));
    r->latency_s = num(o, "latency_s");
    r->ttft_s = num(o, "ttft_s");
    static const char *tiers[2] = {"edge", "cloud"};
    for (int t = 0; t < 2; t++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, tiers[t]);
        r->prompt_tokens[t] = (long)num(x, "prompt_tokens");
        r->completion_tokens[t] = (long)num(x, "completion_tokens");
        r->calls[t] = (int)num(x, "calls");
    }
    r->usd = num(o, "usd");
    r->n_steps = (int)num(o, "steps");
    r->depth = (int)num(o, "depth");
    cJSON_Delete(o);
    return 0;
}

int hflow_eval_results_load(const char *path, hflow_eval_result **out, size_t *n, hflow_error *err) {
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0; /* nothing recorded yet */
    fclose(f);
    char *text;
    int rc = ev_read_file(path, &text, NULL, err);
    if (rc) return rc;
    size_t cap = 0;
    int line = 0;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        line++;
        /* a last line without '\n' was cut by an interrupted run: ignore it */
        if (!nl) break;
        *nl = '\0';
        if (*p) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                hflow_eval_result *q = realloc(*out, cap * sizeof *q);
                if (!q) { rc = hflow_error_set(err, HFLOW_ENOMEM, "out of memory"); break; }
                *out = q;
            }
            rc = hflow_eval_result_parse(p, &(*out)[*n], err);
            if (rc) { hflow_error_wrap(err, "%s:%d", path, line); break; }
            (*n)++;
        }
        p = nl + 1;
    }
    free(text);
    if (rc) { free(*out); *out = NULL; *n = 0; }
    return rc;
}

void hflow_eval_summarize(const hflow_eval_result *r, size_t n, const char *method, hflow_eval_summary *s) {
    memset(s, 0, sizeof *s);
    snprintf(s->method, sizeof s->method, "%s", method ? method : (n ? r[0].method : ""));
    s->n = n;
    if (n == 0) { s->acc_hi = 1; return; }
    double *lat = malloc(n * sizeof *lat);
    double score = 0, calls[2] = {0, 0}, tok[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        const hflow_eval_result *x = &r[i];
        s->n_errors += x->error[0] != 0;
        score += x->score;
        if (lat) lat[i] = x->latency_s;
        s->lat_mean += x->latency_s;
        s->ttft_mean += x->ttft_s;
        for (int t = 0; t < 2; t++) {
            s->prompt_tokens[t] += (double)x->prompt_tokens[t];
            s->completion_tokens[t] += (double)x->completion_tokens[t];
            calls[t] += x->calls[t];
            tok[t] += (double)(x->prompt_tokens[t] + x->completion_tokens[t]);
        }
        s->usd_total += x->usd;
        s->steps_mean += x->n_steps;
        s->depth_mean += x->depth;
    }
    double dn = (double)n;
    s->accuracy = score / dn;
    /* partial-credit scores (LiveBench zebra) enter the interval as fractional successes */
    hflow_wilson_interval(score, dn, 1.96, &s->acc_lo, &s->acc_hi);
    s->lat_mean /= dn;
    s->ttft_mean /= dn;
    if (lat) {
        s->lat_p50 = hflow_quantile(lat, n, 0.5);
        s->lat_p95 = hflow_quantile(lat, n, 0.95);
    }
    for (int t = 0; t < 2; t++) {
        s->prompt_tokens[t] /= dn;
        s->completion_tokens[t] /= dn;
    }
    s->cloud_call_share = calls[0] + calls[1] > 0 ? calls[1] / (calls[0] + calls[1]) : 0;
    s->cloud_token_share = tok[0] + tok[1] > 0 ? tok[1] / (tok[0] + tok[1]) : 0;
    s->usd_mean = s->usd_total / dn;
    s->steps_mean /= dn;
    s->depth_mean /= dn;
    s->depth_per_step = s->steps_mean > 0 ? s->depth_mean / s->steps_mean : 0;
    free(lat);
}
