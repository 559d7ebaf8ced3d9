/* http_common.h - what every libcurl client in the project shares (the
 * OpenAI-compatible backend and the ECSpec session client): one process-wide
 * curl initialisation and one reading of the endpoint syntax
 * "http(s)://host[:port][/path]#model". */
#ifndef HFLOW_BACKEND_HTTP_COMMON_H
#define HFLOW_BACKEND_HTTP_COMMON_H
#include <stddef.h>

#include "hybridflow/error.h"

/* curl_global_init exactly once per process (thread-safe); 0 or HFLOW_EIO. */
int hflow_curl_init(hflow_error *err);

/* Splits an endpoint into its base URL (trailing '/' removed) and model (after
 * '#', possibly empty). Fails with HFLOW_EINVAL on a non-http(s) scheme, no
 * host, or a part longer than its buffer. */
int hflow_endpoint_split(const char *endpoint, char *base, size_t base_cap, char *model, size_t model_cap,
                         hflow_error *err);

#endif
