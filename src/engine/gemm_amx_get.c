/* gemm_amx_get.c - run-time choice of the AMX prefill path (gemm_amx.h). */
#include "engine/gemm_amx.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"

/* The environment is read once: a process either keeps batch invariance
 * (every batch size gives one-token decode's results bit for bit) or not,
 * never both within one run. -1 = not read yet. */
static atomic_int opted_out = -1;

int hflow_amx_opted_out(void) {
    int v = atomic_load_explicit(&opted_out, memory_order_relaxed);
    if (v < 0) {
        const char *e = getenv("HFLOW_BATCH_INVARIANT");
        v = e && strcmp(e, "1") == 0;
        atomic_store_explicit(&opted_out, v, memory_order_relaxed);
    }
    return v;
}

hflow_amx_fn hflow_amx_get(uint32_t type) {
#if defined(__x86_64__) || defined(_M_X64)
    if (!hflow_amx_opted_out() && hflow_cpu_has_amx_int8()) return hflow_amx_table(type); /* an opt-out asks no grant */
#endif
    (void)type;
    return NULL;
}

#if !(defined(__x86_64__) || defined(_M_X64))
/* gemm_amx.c is built on x86-64 only; elsewhere hflow_amx_get never returns a
 * kernel, so matmul never packs for one and these are never reached. */
size_t hflow_amx_pack_size(uint32_t act_type, int64_t n, int64_t ntok) {
    (void)act_type, (void)n, (void)ntok;
    return 0;
}
void hflow_amx_pack_token(uint32_t act_type, int64_t n, const void *xa, int64_t t, int64_t ntok, void *pack) {
    (void)act_type, (void)n, (void)xa, (void)t, (void)ntok, (void)pack;
}
size_t hflow_amx_scratch_size(uint32_t type, int64_t n) {
    (void)type, (void)n;
    return 0;
}
hflow_amx_fn hflow_amx_table(uint32_t type) {
    (void)type;
    return NULL;
}
hflow_amx_fn hflow_amx_ref(uint32_t type) {
    (void)type;
    return NULL;
}
#endif
