/* hybridflow/error.h - the error type every library function fills.
 *
 * Convention: functions return 0 on success or a negative HFLOW_E* code, and
 * when `err` is non-NULL they write a readable message into it. The library
 * never exits or aborts on bad input, a bad file or a failed peer.
 * hflow_error is a plain value type: no ownership, no allocation. */
#ifndef HYBRIDFLOW_ERROR_H
#define HYBRIDFLOW_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum hflow_status {
    HFLOW_OK = 0,
    HFLOW_EINVAL = -1,       /* bad argument or malformed input */
    HFLOW_EIO = -2,          /* file or socket I/O failed */
    HFLOW_ENOMEM = -3,       /* allocation failed */
    HFLOW_EFORMAT = -4,      /* corrupt or unsupported file contents */
    HFLOW_EUNSUPPORTED = -5, /* valid but not implemented (type, arch...) */
    HFLOW_ERANGE = -6,       /* value out of range (context full, bad id) */
    HFLOW_ETIMEOUT = -7,     /* deadline or timeout passed */
    HFLOW_ENET = -8,         /* connection refused/reset, DNS, TLS */
    HFLOW_ECANCELLED = -9,   /* caller cancelled */
    HFLOW_EBUDGET = -10,     /* a hard budget would be exceeded */
    HFLOW_EHTTP = -11,       /* peer answered with an HTTP error status */
    HFLOW_ESTATE = -12,      /* call not valid in the object's current state */
    HFLOW_ENOTFOUND = -13    /* named thing (model, key, session) not found */
};

#define HFLOW_ERROR_MSG_MAX 512

typedef struct hflow_error {
    int code;                          /* last HFLOW_E* code, 0 when none */
    char message[HFLOW_ERROR_MSG_MAX]; /* NUL-terminated, human readable */
} hflow_error;

/* Clears `err` (NULL is allowed). */
void hflow_error_clear(hflow_error *err);

/* Sets code and printf-style message; returns `code` so callers can write
 * `return hflow_error_set(err, HFLOW_EINVAL, "bad %s", x);`. NULL err is allowed. */
int hflow_error_set(hflow_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prepends context to an existing message: "context: old message". Returns err->code. */
int hflow_error_wrap(hflow_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Static name of a status code, e.g. "EINVAL". */
const char *hflow_status_name(int code);

#ifdef __cplusplus
}
#endif
#endif
