/* vecdot_neon.c - NEON dot kernels for aarch64 (compiled only there). */
#include "engine/ggml_type.h"
#include "engine/vecdot.h"

const hflow_dot_kernel *hflow_dot_kernel_neon(uint32_t type) {
    (void)type;
    return NULL;
}
