/* vecdot_avx2.c - AVX2/FMA/F16C dot kernels (x86-64, chosen at run time). */
#include "engine/vecdot.h"

const hflow_dot_kernel *hflow_dot_kernel_avx2(uint32_t type) {
    (void)type;
    return NULL;
}
