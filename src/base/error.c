/* error.c - hflow_error helpers. */
#include "hybridflow/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void hflow_error_clear(hflow_error *err) {
    if (!err) return;
    err->code = 0;
    err->message[0] = '\0';
}

int hflow_error_set(hflow_error *err, int code, const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

int hflow_error_wrap(hflow_error *err, const char *fmt, ...) {
    if (!err) return HFLOW_EINVAL;
    char prefix[HFLOW_ERROR_MSG_MAX];
    char old[HFLOW_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    /* Truncation is acceptable for messages; build it piecewise so the
     * compiler does not flag the deliberate cut. */
    size_t n = strnlen(prefix, sizeof prefix - 1), cap = sizeof err->message - 1;
    if (n > cap) n = cap;
    memcpy(err->message, prefix, n);
    size_t m = n + 2 <= cap ? 2 : cap - n;
    memcpy(err->message + n, ": ", m);
    n += m;
    size_t k = strnlen(old, sizeof old - 1);
    if (k > cap - n) k = cap - n;
    memcpy(err->message + n, old, k);
    err->message[n + k] = '\0';
    return err->code;
}

const char *hflow_status_name(int code) {
    switch (code) {
    case HFLOW_OK: return "OK";
    case HFLOW_EINVAL: return "EINVAL";
    case HFLOW_EIO: return "EIO";
    case HFLOW_ENOMEM: return "ENOMEM";
    case HFLOW_EFORMAT: return "EFORMAT";
    case HFLOW_EUNSUPPORTED: return "EUNSUPPORTED";
    case HFLOW_ERANGE: return "ERANGE";
    case HFLOW_ETIMEOUT: return "ETIMEOUT";
    case HFLOW_ENET: return "ENET";
    case HFLOW_ECANCELLED: return "ECANCELLED";
    case HFLOW_EBUDGET: return "EBUDGET";
    case HFLOW_EHTTP: return "EHTTP";
    case HFLOW_ESTATE: return "ESTATE";
    case HFLOW_ENOTFOUND: return "ENOTFOUND";
    default: return "EUNKNOWN";
    }
}
