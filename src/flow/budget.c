/* budget.c - price tables and thread-safe budgets with reserve/settle.
 * One mutex per budget: reservations are short critical sections, and a
 * per-run budget shared by concurrent queries needs them to be atomic. */
#include "flow/budget.h"

#include <cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

/* ---------------------------------------------------------------- prices */

typedef struct price_entry {
    char model[128];
    double in_per_m, out_per_m;
} price_entry;

struct hflow_price_table {
    price_entry *e;
    int n, cap;
};

int hflow_price_table_create(hflow_price_table **out, hflow_error *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return hflow_error_set(err, HFLOW_ENOMEM, "price table: out of memory");
    return 0;
}

void hflow_price_table_free(hflow_price_table *t) {
    if (!t) return;
    free(t->e);
    free(t);
}

int hflow_price_table_set(hflow_price_table *t, const char *model, double in, double out, hflow_error *err) {
    if (!t || !model || !(in >= 0) || !(out >= 0) || strlen(model) >= sizeof t->e[0].model)
        return hflow_error_set(err, HFLOW_EINVAL, "price table: bad entry for '%s'", model ? model : "(null)");
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].model, model)) {
            t->e[i].in_per_m = in;
            t->e[i].out_per_m = out;
            return 0;
        }
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 8;
        price_entry *e = realloc(t->e, (size_t)cap * sizeof *e);
        if (!e) return hflow_error_set(err, HFLOW_ENOMEM, "price table: out of memory");
        t->e = e;
        t->cap = cap;
    }
    snprintf(t->e[t->n].model, sizeof t->e[t->n].model, "%s", model);
    t->e[t->n].in_per_m = in;
    t->e[t->n].out_per_m = out;
    t->n++;
    return 0;
}

static const price_entry *price_find(const hflow_price_table *t, const char *model) {
    if (!t) return NULL;
    const price_entry *star = NULL;
    for (int i = 0; i < t->n; i++) {
        if (model && !strcmp(t->e[i].model, model)) return &t->e[i];
        if (!strcmp(t->e[i].model, "*")) star = &t->e[i];
    }
    return star;
}

double hflow_price_cost(const hflow_price_table *t, const char *model, int64_t prompt_tokens,
                        int64_t completion_tokens) {
    const price_entry *p = price_find(t, model);
    if (!p) return 0;
    return (p->in_per_m * (double)prompt_tokens + p->out_per_m * (double)completion_tokens) / 1e6;
}

int hflow_price_table_load(const char *path, hflow_price_table **out, hflow_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return hflow_error_set(err, HFLOW_EIO, "price table: cannot open %s", path);
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *t = realloc(text, cap);
            if (!t) {
                free(text);
                fclose(f);
                return hflow_error_set(err, HFLOW_ENOMEM, "price table: out of memory");
            }
            text = t;
        }
        size_t got = fread(text + len, 1, 4096, f);
        len += got;
        if (got < 4096) break;
    }
    fclose(f);
    text[len] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return hflow_error_set(err, HFLOW_EFORMAT, "price table %s: expected a JSON object of models", path);
    }
    hflow_price_table *t;
    int rc = hflow_price_table_create(&t, err);
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (rc) break;
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(it, "input");
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(it, "output");
        if (!cJSON_IsNumber(in) || !cJSON_IsNumber(o)) {
            rc = hflow_error_set(err, HFLOW_EFORMAT, "price table %s: model '%s' needs numeric input and output",
                                 path, it->string);
            break;
        }
        rc = hflow_price_table_set(t, it->string, in->valuedouble, o->valuedouble, err);
    }
    cJSON_Delete(root);
    if (rc) {
        hflow_price_table_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* --------------------------------------------------------------- budgets */

struct hflow_budget {
    pthread_mutex_t mu;
    hflow_budget_limits lim;
    double start_s;
    int64_t used_tokens, reserved_tokens;
    double used_usd, reserved_usd;
};

int hflow_budget_create(const hflow_budget_limits *limits, hflow_budget **out, hflow_error *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return hflow_error_set(err, HFLOW_ENOMEM, "budget: out of memory");
    pthread_mutex_init(&(*out)->mu, NULL);
    if (limits) (*out)->lim = *limits;
    (*out)->start_s = hflow_now_s();
    return 0;
}

void hflow_budget_free(hflow_budget *b) {
    if (!b) return;
    pthread_mutex_destroy(&b->mu);
    free(b);
}

const hflow_budget_limits *hflow_budget_get_limits(const hflow_budget *b) { return &b->lim; }

void hflow_budget_get_usage(hflow_budget *b, hflow_budget_usage *out) {
    pthread_mutex_lock(&b->mu);
    out->cloud_tokens = b->used_tokens;
    out->usd = b->used_usd;
    out->reserved_tokens = b->reserved_tokens;
    out->reserved_usd = b->reserved_usd;
    pthread_mutex_unlock(&b->mu);
    out->elapsed_s = hflow_now_s() - b->start_s;
}

void hflow_budget_get_state(hflow_budget *b, hflow_budget_state *out) {
    hflow_budget_usage u;
    hflow_budget_get_usage(b, &u);
    out->tokens_ratio = b->lim.cloud_tokens > 0 ? (double)(u.cloud_tokens + u.reserved_tokens) / (double)b->lim.cloud_tokens : 0;
    out->usd_ratio = b->lim.usd > 0 ? (u.usd + u.reserved_usd) / b->lim.usd : 0;
    out->latency_ratio = b->lim.deadline_s > 0 ? u.elapsed_s / b->lim.deadline_s : 0;
}

double flow_budget_remaining_s(hflow_budget *b) {
    if (!b || b->lim.deadline_s <= 0) return HUGE_VAL;
    return b->lim.deadline_s - (hflow_now_s() - b->start_s);
}

void flow_budget_state_max(hflow_budget **bs, int n, hflow_budget_state *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < n; i++) {
        if (!bs[i]) continue;
        hflow_budget_state s;
        hflow_budget_get_state(bs[i], &s);
        out->tokens_ratio = fmax(out->tokens_ratio, s.tokens_ratio);
        out->usd_ratio = fmax(out->usd_ratio, s.usd_ratio);
        out->latency_ratio = fmax(out->latency_ratio, s.latency_ratio);
    }
}

int64_t flow_prompt_token_bound(size_t bytes, int n_messages) {
    return (int64_t)bytes + 16 * (int64_t)(n_messages > 0 ? n_messages : 1) + 16;
}

/* Largest completion budget that fits in b (caller holds b->mu). */
static int64_t fit_locked(const hflow_budget *b, const price_entry *p, int64_t prompt_bound, int64_t want) {
    int64_t m = want;
    if (b->lim.cloud_tokens > 0) {
        int64_t avail = b->lim.cloud_tokens - b->used_tokens - b->reserved_tokens - prompt_bound;
        if (avail < m) m = avail;
    }
    if (b->lim.usd > 0 && p) {
        double avail = b->lim.usd - b->used_usd - b->reserved_usd - p->in_per_m * (double)prompt_bound / 1e6;
        if (avail < 0) return -1;
        if (p->out_per_m > 0) {
            /* A little slack below the exact bound keeps float rounding from overshooting. */
            double mm = floor(avail * 1e6 / p->out_per_m * (1 - 1e-9));
            if (mm < (double)m) m = (int64_t)mm;
        }
    }
    return m;
}

int32_t flow_budget_reserve(hflow_budget **bs, int n, const hflow_price_table *prices, const char *model,
                            int64_t prompt_bound, int32_t want, int32_t floor_tokens, flow_reservation *r) {
    memset(r, 0, sizeof *r);
    if (n > FLOW_MAX_BUDGETS) n = FLOW_MAX_BUDGETS;
    if (floor_tokens < 1) floor_tokens = 1;
    if (want < floor_tokens) want = floor_tokens;
    const price_entry *p = price_find(prices, model);
    /* Lock every budget (always in array order) so the grant is atomic across them. */
    for (int i = 0; i < n; i++)
        if (bs[i]) pthread_mutex_lock(&bs[i]->mu);
    int64_t m = want;
    for (int i = 0; i < n; i++)
        if (bs[i]) {
            int64_t f = fit_locked(bs[i], p, prompt_bound, m);
            if (f < m) m = f;
        }
    int32_t granted = 0;
    if (m >= floor_tokens) {
        granted = (int32_t)m;
        r->tokens = prompt_bound + m;
        for (int i = 0; i < n; i++) {
            if (!bs[i]) continue;
            r->b[i] = bs[i];
            r->usd[i] = p ? (p->in_per_m * (double)prompt_bound + p->out_per_m * (double)m) / 1e6 : 0;
            bs[i]->reserved_tokens += r->tokens;
            bs[i]->reserved_usd += r->usd[i];
        }
        r->active = 1;
    }
    for (int i = n - 1; i >= 0; i--)
        if (bs[i]) pthread_mutex_unlock(&bs[i]->mu);
    return granted;
}

void flow_budget_settle(flow_reservation *r, const hflow_price_table *prices, const char *model,
                        int64_t prompt_tokens, int64_t completion_tokens) {
    if (!r->active) return;
    double cost = hflow_price_cost(prices, model, prompt_tokens, completion_tokens);
    for (int i = 0; i < FLOW_MAX_BUDGETS; i++) {
        hflow_budget *b = r->b[i];
        if (!b) continue;
        pthread_mutex_lock(&b->mu);
        b->reserved_tokens -= r->tokens;
        b->reserved_usd -= r->usd[i];
        if (b->reserved_tokens == 0) b->reserved_usd = 0; /* no reservation left: drop float drift */
        b->used_tokens += prompt_tokens + completion_tokens;
        b->used_usd += cost;
        pthread_mutex_unlock(&b->mu);
    }
    r->active = 0;
}
