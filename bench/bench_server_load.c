/* bench_server_load.c - a small closed-loop HTTP load generator for
 * `hybridflow serve`: C client threads, each sending POST requests back to
 * back over one keep-alive connection, until N requests are done in total.
 * Prints requests/s and latency percentiles (p50, p90, p99).
 *
 *   bench_server_load --url http://127.0.0.1:PORT/v1/completions \
 *       --body '{"model":"m","prompt":"Hi","max_tokens":8}' --concurrency 4 --requests 400 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

typedef struct shared {
    const char *url, *body;
    int total;
    int next;      /* requests handed out so far */
    int failures;
    double *lat;   /* seconds, one per request */
    pthread_mutex_t mu;
} shared;

static size_t discard(char *p, size_t sz, size_t n, void *u) {
    (void)p;
    (void)u;
    return sz * n;
}

static int take(shared *s) {
    pthread_mutex_lock(&s->mu);
    int i = s->next < s->total ? s->next++ : -1;
    pthread_mutex_unlock(&s->mu);
    return i;
}

static void *worker(void *p) {
    shared *s = p;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    for (int i; (i = take(s)) >= 0;) {
        double t0 = hflow_now_s();
        long status = 0;
        if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        s->lat[i] = hflow_now_s() - t0;
        if (status != 200) {
            pthread_mutex_lock(&s->mu);
            s->failures++;
            pthread_mutex_unlock(&s->mu);
        }
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    shared s = {.url = NULL, .body = NULL, .total = 100};
    int conc = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--url")) s.url = argv[i + 1];
        else if (!strcmp(argv[i], "--body")) s.body = argv[i + 1];
        else if (!strcmp(argv[i], "--concurrency")) conc = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--requests")) s.total = atoi(argv[i + 1]);
    }
    if (!s.url || !s.body || conc < 1 || s.total < 1) {
        fprintf(stderr, "usage: bench_server_load --url URL --body JSON [--concurrency N] [--requests N]\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_ALL);
    pthread_mutex_init(&s.mu, NULL);
    s.lat = calloc((size_t)s.total, sizeof *s.lat);
    pthread_t *th = calloc((size_t)conc, sizeof *th);
    double t0 = hflow_now_s();
    for (int i = 0; i < conc; i++) pthread_create(&th[i], NULL, worker, &s);
    for (int i = 0; i < conc; i++) pthread_join(th[i], NULL);
    double wall = hflow_now_s() - t0;
    qsort(s.lat, (size_t)s.total, sizeof *s.lat, cmp);
    printf("concurrency %d: %d requests in %.2f s = %.1f req/s; latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms; "
           "failures %d\n",
           conc, s.total, wall, s.total / wall, 1e3 * s.lat[s.total / 2], 1e3 * s.lat[(int)(s.total * 0.90)],
           1e3 * s.lat[(int)(s.total * 0.99)], s.failures);
    free(th);
    free(s.lat);
    pthread_mutex_destroy(&s.mu);
    curl_global_cleanup();
    return s.failures ? 1 : 0;
}
