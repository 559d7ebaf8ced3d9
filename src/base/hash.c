/* hash.c - FNV-1a 64 and the murmur3 64-bit finaliser (hash.h). */
#include "base/hash.h"

#define FNV_PRIME 0x100000001b3ull

uint64_t hflow_fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t hflow_mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

void hflow_fnv1a3(uint64_t h[3], const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t a = h[0], b = h[1], c = h[2];
    for (size_t i = 0; i < n; i++) {
        a = (a ^ p[i]) * FNV_PRIME;
        b = (b ^ p[i]) * FNV_PRIME;
        c = (c ^ p[i]) * FNV_PRIME;
    }
    h[0] = a, h[1] = b, h[2] = c;
}
