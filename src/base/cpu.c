/* cpu.c - CPUID/XGETBV based detection. __builtin_cpu_supports is not used
 * because clang does not know every feature name gcc does (e.g. "f16c"), and
 * the fuzz build uses clang. */
#include "base/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <pthread.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

static unsigned long long xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static int os_saves_ymm(void) { return (xcr0() & 0x6) == 0x6; /* XMM and YMM state enabled */ }

/* Bits 5-7 of XCR0: opmask, upper halves of ZMM0-15, ZMM16-31. */
static int os_saves_zmm(void) { return (xcr0() & 0xe6) == 0xe6; }

/* Linux enables the AMX tile state in XCR0 (bits 17, 18) but hands the
 * 8 KB tile data area to a process only on request; without the grant the
 * first tile instruction faults. */
static int os_grants_amx(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
    const int arch_req_xcomp_perm = 0x1023, xfeature_xtiledata = 18;
    if ((xcr0() & 0x60000) != 0x60000) return 0;
    return syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) == 0;
#else
    return 0;
#endif
}

/* Bits 2 and 3 of the feature word: AVX-512 (F, BW, VL, DQ, VNNI), and the
 * CPU's AMX-INT8 (the OS grant is asked separately, only when wanted). */
static int detect_512(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
    if (!(f && dq && bw && vl && vnni) || !os_saves_zmm()) return 0;
    int amx = ((d >> 24) & 1) && ((d >> 25) & 1); /* AMX-TILE, AMX-INT8 */
    return 4 | (amx ? 8 : 0);
}

static int detect(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!(fma && osxsave && avx && f16c) || !os_saves_ymm()) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!((b >> 5) & 1)) return 0; /* AVX2 */
    unsigned int max7 = a;
    int feat = 1 | detect_512();
    if (max7 < 1 || !__get_cpuid_count(7, 1, &a, &b, &c, &d)) return feat;
    return feat | ((a >> 4) & 1) << 1; /* bit 1: AVX-VNNI */
}

/* CPUID traps to the hypervisor on virtual machines (microseconds), and
 * kernels ask per call: detect once. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int features; /* bit 0: AVX2+FMA+F16C; with it, bit 1: AVX-VNNI, bit 2: AVX-512, bit 3: AMX-INT8 (CPU) */
static void init(void) { features = detect(); }

int hflow_cpu_has_avx2_fma_f16c(void) {
    pthread_once(&once, init);
    return features & 1;
}

int hflow_cpu_has_avx_vnni(void) {
    pthread_once(&once, init);
    return (features >> 1) & 1;
}

int hflow_cpu_has_avx512(void) {
    pthread_once(&once, init);
    return (features >> 2) & 1;
}

/* The grant enlarges the process's saved state, so it is asked only by the
 * first caller that wants tiles, not by every feature check. */
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;
static int amx_usable;
static void amx_init(void) {
    pthread_once(&once, init);
    amx_usable = ((features >> 3) & 1) && os_grants_amx();
}

int hflow_cpu_has_amx_int8(void) {
    pthread_once(&amx_once, amx_init);
    return amx_usable;
}
#else
int hflow_cpu_has_avx2_fma_f16c(void) { return 0; }
int hflow_cpu_has_avx_vnni(void) { return 0; }
int hflow_cpu_has_avx512(void) { return 0; }
int hflow_cpu_has_amx_int8(void) { return 0; }
#endif
