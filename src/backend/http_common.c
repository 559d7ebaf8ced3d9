/* http_common.c - shared curl initialisation and endpoint parsing. */
#include "backend/http_common.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int hflow_curl_init(hflow_error *err) {
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return hflow_error_set(err, HFLOW_EIO, "curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
    return 0;
}

int hflow_endpoint_split(const char *endpoint, char *base, size_t base_cap, char *model, size_t model_cap,
                         hflow_error *err) {
    if (!endpoint || (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8)))
        return hflow_error_set(err, HFLOW_EINVAL, "endpoint '%s' is not http(s)://host[:port][/path]#model",
                               endpoint ? endpoint : "(null)");
    const char *hash = strchr(endpoint, '#');
    size_t n = hash ? (size_t)(hash - endpoint) : strlen(endpoint);
    while (n > 0 && endpoint[n - 1] == '/') n--;
    const char *host = strstr(endpoint, "://") + 3;
    if (host >= endpoint + n || *host == '/')
        return hflow_error_set(err, HFLOW_EINVAL, "endpoint '%s' has no host", endpoint);
    const char *m = hash ? hash + 1 : "";
    if (n >= base_cap || strlen(m) >= model_cap)
        return hflow_error_set(err, HFLOW_EINVAL, "endpoint '%s' is too long", endpoint);
    memcpy(base, endpoint, n);
    base[n] = '\0';
    memcpy(model, m, strlen(m) + 1);
    return 0;
}
