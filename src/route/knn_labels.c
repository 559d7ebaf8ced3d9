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
                     float beta, float *out, hflow_error *err) {
    const uint32_t n = d->aux_dim + 1;
    double *w = NULL, *x = NULL;
    int denoise = beta > 0 && d->aux_dim > 0;
    if (denoise && (!(w = malloc(2 * n * sizeof *w)) || !(x = malloc(n * sizeof *x)))) {
        free(w);
        return hflow_error_set(err, HFLOW_ENOMEM, "router knn: out of memory");
    }
    if (denoise && fit(d, use, n, w) != 0) denoise = 0; /* singular: raw labels */
    size_t r = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (use && !use[i]) continue;
        double label = hflow_router_label(lam, &d->s[i]);
        if (denoise) {
            double e = 0, c = 0;
            regressors(&d->s[i], n - 1, x);
            for (uint32_t a = 0; a < n; a++) {
                e += w[a] * x[a];
                c += w[n + a] * x[a];
            }
            label += beta * lam->q * ((c - e) - (d->s[i].quality_cloud - d->s[i].quality_edge));
        }
        out[r++] = (float)label;
    }
    free(w);
    free(x);
    return 0;
}
