/* params.c - session sampling parameters (shared by both ends and the wire). */
#include <string.h>

#include "hybridflow/spec.h"

void hflow_spec_params_default(hflow_spec_params *p) {
    memset(p, 0, sizeof *p);
    p->top_p = 1.0f;
    p->draft_top_k = 8;
}
