/* knn_labels.c - the labels the retrieval part stores for its training
 * questions, optionally denoised with the other models' outcomes.
 *
 * A question's pair gain q_cloud - q_edge is one draw of two coin flips. The
 * other recorded models' outcomes on the same (training) question say how
 * hard it is, so a ridge regression of q_edge and q_cloud on them (fitted on
 * the stored questions) gives a lower-variance estimate of each tier's
 * chance; the stored label mixes the two:
 *     label = dU + beta * lambda_q * ((c_hat - e_hat) - (q_cloud - q_edge))
 * Other models' outcomes are used here only as training data about training
 * questions: nothing at serving time reads them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "route/router_internal.h"

#define RIDGE 1.0 /* L2 on the regression weights (not the intercept's) */

/* IRT alternative (irt_dims D > 0): logit P(model m right on question q) =
 * a_m . z_q + b_m over every recorded outcome (edge, cloud, aux) of the
 * stored questions, z_q in R^D with a N(0, 1) prior, a_m with L2 IRT_L2;
 * full-batch gradient ascent with per-parameter gradients averaged over
 * the parameter's observations; deterministic start. Then e_hat, c_hat are
 * the fitted chances of the edge (m = 0) and cloud (m = 1) tiers. */
#define IRT_L2 1.0
#define IRT_ITERS 300
#define IRT_LR 1.0

typedef struct irt {
    size_t n;          /* questions */
    uint32_t m, dims;  /* models (2 + aux), latent dims */
    float *y;          /* n x m outcomes in {0, 1}, < 0 = missing */
    double *z, *a, *b; /* n x dims, m x dims, m */
} irt;

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

static double irt_eta(const irt *t, size_t q, uint32_t m) {
    double e = t->b[m];
    for (uint32_t k = 0; k < t->dims; k++) e += t->a[m * t->dims + k] * t->z[q * t->dims + k];
    return e;
}

/* One ascent step on all parameters (gradients from the same point). */
static void irt_step(irt *t, double *gz, double *ga, double *gb, double *cq, double *cm) {
    const uint32_t D = t->dims;
    memset(gz, 0, t->n * D * sizeof *gz);
    memset(ga, 0, (size_t)t->m * D * sizeof *ga);
    memset(gb, 0, t->m * sizeof *gb);
    for (size_t q = 0; q < t->n; q++)
        for (uint32_t m = 0; m < t->m; m++) {
            float y = t->y[q * t->m + m];
            if (y < 0) continue;
            double r = y - sigm(irt_eta(t, q, m));
            for (uint32_t k = 0; k < D; k++) {
                gz[q * D + k] += r * t->a[m * D + k];
                ga[m * D + k] += r * t->z[q * D + k];
            }
            gb[m] += r;
        }
    for (size_t q = 0; q < t->n; q++)
        for (uint32_t k = 0; k < D; k++)
            t->z[q * D + k] += IRT_LR * (gz[q * D + k] - t->z[q * D + k]) / (cq[q] + 1);
    for (uint32_t m = 0; m < t->m; m++) {
        for (uint32_t k = 0; k < D; k++)
            t->a[m * D + k] += IRT_LR * (ga[m * D + k] - IRT_L2 * t->a[m * D + k]) / (cm[m] + 1);
        t->b[m] += IRT_LR * gb[m] / (cm[m] + 1);
    }
}

/* Fits the model on the used samples; e/c: one fitted chance per used sample. */
static int irt_fit(const hflow_router_dataset *d, const unsigned char *use, uint32_t dims, double *e, double *c) {
    irt t = {.m = d->aux_dim + 2, .dims = dims};
    for (size_t i = 0; i < d->n; i++) t.n += !use || use[i];
    const size_t nz = t.n * dims, na = (size_t)t.m * dims;
    t.y = malloc(t.n * t.m * sizeof *t.y);
    t.z = malloc(nz * sizeof *t.z);
    t.a = malloc(na * sizeof *t.a);
    t.b = calloc(t.m, sizeof *t.b);
    double *gz = malloc(nz * sizeof *gz), *ga = malloc(na * sizeof *ga), *gb = malloc(t.m * sizeof *gb),
           *cq = calloc(t.n, sizeof *cq), *cm = calloc(t.m, sizeof *cm);
    int rc = t.y && t.z && t.a && t.b && gz && ga && gb && cq && cm ? 0 : -1;
    for (size_t i = 0, q = 0; !rc && i < d->n; i++) {
        if (use && !use[i]) continue;
        float *row = t.y + q * t.m;
        row[0] = d->s[i].quality_edge;
        row[1] = d->s[i].quality_cloud;
        for (uint32_t m = 0; m < d->aux_dim; m++) row[m + 2] = d->s[i].aux ? d->s[i].aux[m] : -1.0f;
        for (uint32_t m = 0; m < t.m; m++)
            if (row[m] >= 0) cq[q] += 1, cm[m] += 1;
        q++;
    }
    /* Start: z from the question's mean outcome (centred), a = 1 on dim 0, small on the others. */
    for (size_t q = 0; !rc && q < t.n; q++) {
        double s = 0;
        for (uint32_t m = 0; m < t.m; m++) s += t.y[q * t.m + m] >= 0 ? t.y[q * t.m + m] : 0;
        for (uint32_t k = 0; k < dims; k++) t.z[q * dims + k] = k == 0 ? 4.0 * (s / (cq[q] + 1) - 0.5) : 0.0;
    }
    for (uint32_t m = 0; !rc && m < t.m; m++)
        for (uint32_t k = 0; k < dims; k++) t.a[m * dims + k] = k == 0 ? 1.0 : 0.1 * ((m % 3) - 1.0);
    for (int it = 0; !rc && it < IRT_ITERS; it++) irt_step(&t, gz, ga, gb, cq, cm);
    for (size_t q = 0; !rc && q < t.n; q++) {
        e[q] = sigm(irt_eta(&t, q, 0));
        c[q] = sigm(irt_eta(&t, q, 1));
    }
    free(t.y), free(t.z), free(t.a), free(t.b), free(gz), free(ga), free(gb), free(cq), free(cm);
    return rc;
}

/* Row of regressors: 1, then each aux outcome (missing -> 0.5). */
static void regressors(const hflow_router_sample *s, uint32_t n_aux, double *x) {
    x[0] = 1;
    for (uint32_t m = 0; m < n_aux; m++) x[m + 1] = s->aux && s->aux[m] >= 0 ? s->aux[m] : 0.5;
}

/* Solves A w = b in place (Gauss-Jordan with partial pivoting; A is SPD here). */
static int solve(double *A, double *b, uint32_t n) {
    for (uint32_t c = 0; c < n; c++) {
        uint32_t p = c;
        for (uint32_t r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
        if (fabs(A[p * n + c]) < 1e-12) return -1;
        for (uint32_t k = 0; k < n && p != c; k++) {
            double t = A[c * n + k];
            A[c * n + k] = A[p * n + k];
            A[p * n + k] = t;
        }
        double tb = b[c];
        b[c] = b[p];
        b[p] = tb;
        for (uint32_t r = 0; r < n; r++) {
            if (r == c) continue;
            double f = A[r * n + c] / A[c * n + c];
            for (uint32_t k = c; k < n; k++) A[r * n + k] -= f * A[c * n + k];
            b[r] -= f * b[c];
        }
    }
    for (uint32_t c = 0; c < n; c++) b[c] /= A[c * n + c];
    return 0;
}

/* Ridge weights for q_edge (w[0..n)) and q_cloud (w[n..2n)) on the used samples. */
static int fit(const hflow_router_dataset *d, const unsigned char *use, uint32_t n, double *w) {
    double *A = calloc((size_t)n * n, sizeof *A), *A2 = malloc((size_t)n * n * sizeof *A2), *x = malloc(n * sizeof *x);
    int rc = A && A2 && x ? 0 : -1;
    memset(w, 0, 2 * n * sizeof *w);
    for (size_t i = 0; !rc && i < d->n; i++) {
        if (use && !use[i]) continue;
        regressors(&d->s[i], n - 1, x);
        for (uint32_t a = 0; a < n; a++) {
            w[a] += x[a] * d->s[i].quality_edge;
            w[n + a] += x[a] * d->s[i].quality_cloud;
            for (uint32_t b = 0; b < n; b++) A[a * n + b] += x[a] * x[b];
        }
    }
    for (uint32_t a = 1; !rc && a < n; a++) A[a * n + a] += RIDGE;
    if (!rc) memcpy(A2, A, (size_t)n * n * sizeof *A);
    if (!rc) rc = solve(A, w, n);
    if (!rc) rc = solve(A2, w + n, n);
    free(A);
    free(A2);
    free(x);
    return rc;
}

int hflow_knn_labels(const hflow_router_dataset *d, const unsigned char *use, const hflow_router_lambdas *lam,
                     float beta, uint32_t irt_dims, float *out, hflow_error *err) {
    const uint32_t n = d->aux_dim + 1;
    double *w = NULL, *x = NULL, *fe = NULL, *fc = NULL;
    int denoise = beta > 0 && d->aux_dim > 0;
    size_t n_used = 0;
    for (size_t i = 0; i < d->n; i++) n_used += !use || use[i];
    if (denoise && (!(w = malloc(2 * n * sizeof *w)) || !(x = malloc(n * sizeof *x)) ||
                    !(fe = malloc((n_used + 1) * sizeof *fe)) || !(fc = malloc((n_used + 1) * sizeof *fc)))) {
        free(w), free(x), free(fe), free(fc);
        return hflow_error_set(err, HFLOW_ENOMEM, "router knn: out of memory");
    }
    if (denoise && irt_dims > 0 && irt_fit(d, use, irt_dims, fe, fc) != 0) {
        free(w), free(x), free(fe), free(fc);
        return hflow_error_set(err, HFLOW_ENOMEM, "router knn: out of memory");
    }
    if (denoise && irt_dims == 0 && fit(d, use, n, w) != 0) denoise = 0; /* singular: raw labels */
    size_t r = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (use && !use[i]) continue;
        double label = hflow_router_label(lam, &d->s[i]);
        if (denoise) {
            double e = 0, c = 0;
            if (irt_dims > 0) {
                e = fe[r];
                c = fc[r];
            } else {
                regressors(&d->s[i], n - 1, x);
                for (uint32_t a = 0; a < n; a++) {
                    e += w[a] * x[a];
                    c += w[n + a] * x[a];
                }
            }
            label += beta * lam->q * ((c - e) - (d->s[i].quality_cloud - d->s[i].quality_edge));
        }
        out[r++] = (float)label;
    }
    free(w), free(x), free(fe), free(fc);
    return 0;
}
