/* transport.c - what every spec transport shares (kept apart from the
 * in-process one so HTTP-only users do not link the engine). */
#include "hybridflow/spec.h"

void hflow_spec_transport_free(hflow_spec_transport *t) {
    if (t) t->vt->destroy(t);
}
