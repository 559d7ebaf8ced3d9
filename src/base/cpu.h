/* cpu.h - run-time CPU feature detection for choosing SIMD kernels. */
#ifndef HFLOW_BASE_CPU_H
#define HFLOW_BASE_CPU_H

/* 1 when the CPU and the OS support AVX2, FMA and F16C (x86-64 only). */
int hflow_cpu_has_avx2_fma_f16c(void);
/* 1 when, in addition, the CPU has AVX-VNNI (VEX-encoded 256-bit vpdpbusd:
 * Alder Lake, Sapphire Rapids, Zen 5 and later). */
int hflow_cpu_has_avx_vnni(void);
/* 1 when, in addition to AVX2/FMA/F16C, the CPU has AVX-512 F, BW, VL, DQ
 * and VNNI and the OS saves the opmask and ZMM state (Ice Lake, Sapphire
 * Rapids, Zen 4 and later): what files ending in _avx512.c may use. */
int hflow_cpu_has_avx512(void);
/* 1 when, in addition to hflow_cpu_has_avx512(), the CPU has AMX-TILE and
 * AMX-INT8 and the OS granted this process the tile data state (Linux
 * arch_prctl ARCH_REQ_XCOMP_PERM, asked once on the first call): what files
 * ending in _amx.c may use. Each thread must still load a tile
 * configuration before its first tile instruction. */
int hflow_cpu_has_amx_int8(void);

#endif
