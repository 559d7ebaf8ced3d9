/* local_backend.c - the in-process engine as a backend.
 * The engine (hflow_model_load / hflow_generate) is not in the tree yet, so
 * opening a local model reports that plainly instead of pretending. */
#include "backend/backend_internal.h"

int hflow_local_backend_open(const char *path, const hflow_backend_options *opts, hflow_backend **out,
                             hflow_error *err) {
    (void)opts;
    *out = NULL;
    return hflow_error_set(err, HFLOW_EUNSUPPORTED,
                           "local backend for '%s': the in-process engine is not built into this version yet "
                           "(use an http:// endpoint)",
                           path);
}
