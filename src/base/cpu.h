/* cpu.h - run-time CPU feature detection for choosing SIMD kernels. */
#ifndef HFLOW_BASE_CPU_H
#define HFLOW_BASE_CPU_H

/* 1 when the CPU and the OS support AVX2, FMA and F16C (x86-64 only). */
int hflow_cpu_has_avx2_fma_f16c(void);
/* 1 when, in addition, the CPU has AVX-VNNI (VEX-encoded 256-bit vpdpbusd:
 * Alder Lake, Sapphire Rapids, Zen 5 and later). */
int hflow_cpu_has_avx_vnni(void);

#endif
