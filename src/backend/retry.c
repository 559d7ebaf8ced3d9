/* retry.c - backoff delays and Retry-After parsing. */
#include "backend/retry.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

static uint64_t xorshift64(uint64_t *s) {
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

double hflow_backoff_delay(double base_s, int attempt, uint64_t *rng) {
    if (base_s <= 0) return 0;
    double d = base_s;
    for (int i = 0; i < attempt && d < 30; i++) d *= 2;
    if (d > 30) d = 30;
    double u = (double)(xorshift64(rng) >> 11) / (double)(1ull << 53);
    return d * (0.5 + 0.5 * u);
}

double hflow_parse_retry_after(const char *value, double now_unix) {
    if (!value) return -1;
    while (isspace((unsigned char)*value)) value++;
    if (isdigit((unsigned char)*value)) {
        char *end;
        double s = strtod(value, &end);
        while (isspace((unsigned char)*end)) end++;
        if (*end == '\0') return s < 0 ? 0 : s;
        return -1;
    }
    /* curl_getdate parses the RFC 7231 date forms (IMF-fixdate and the two obsolete ones). */
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1) return -1;
    double d = (double)t - now_unix;
    return d < 0 ? 0 : d;
}

int hflow_http_status_retryable(long status) { return status == 408 || status == 429 || (status >= 500 && status <= 599); }
