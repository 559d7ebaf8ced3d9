/* cpu.c - CPUID/XGETBV based detection. __builtin_cpu_supports is not used
 * because clang does not know every feature name gcc does (e.g. "f16c"), and
 * the fuzz build uses clang. */
#include "base/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <pthread.h>

static int os_saves_ymm(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (eax & 0x6) == 0x6; /* XMM and YMM state enabled */
}

static int detect(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!(fma && osxsave && avx && f16c) || !os_saves_ymm()) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!((b >> 5) & 1)) return 0; /* AVX2 */
    unsigned int max7 = a;
    if (max7 < 1 || !__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 1;
    return 1 | ((a >> 4) & 1) << 1; /* bit 1: AVX-VNNI */
}

/* CPUID traps to the hypervisor on virtual machines (microseconds), and
 * kernels ask per call: detect once. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int features; /* bit 0: AVX2+FMA+F16C, bit 1: also AVX-VNNI */
static void init(void) { features = detect(); }

int hflow_cpu_has_avx2_fma_f16c(void) {
    pthread_once(&once, init);
    return features & 1;
}

int hflow_cpu_has_avx_vnni(void) {
    pthread_once(&once, init);
    return (features >> 1) & 1;
}
#else
int hflow_cpu_has_avx2_fma_f16c(void) { return 0; }
int hflow_cpu_has_avx_vnni(void) { return 0; }
#endif
