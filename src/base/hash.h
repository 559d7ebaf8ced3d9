/* hash.h - the project's one non-cryptographic hash: FNV-1a 64 over bytes,
 * and the murmur3 finaliser that spreads nearby FNV states over all 64 bits.
 * Stable across runs and machines (saved router features, family
 * fingerprints and dataset splits depend on the exact values). */
#ifndef HFLOW_BASE_HASH_H
#define HFLOW_BASE_HASH_H
#include <stddef.h>
#include <stdint.h>

#define HFLOW_FNV_OFFSET 0xcbf29ce484222325ull
/* The offset one decimal digit short (14695981039346656037 written without
 * its last 7) that replay's id hash and the embedder cache keys started from:
 * published splits and cache files depend on it, so it stays for those two. */
#define HFLOW_FNV_OFFSET_LEGACY 1469598103934665603ull

/* FNV-1a of n bytes continuing from state h (HFLOW_FNV_OFFSET to start). */
uint64_t hflow_fnv1a(uint64_t h, const void *data, size_t n);
/* Three FNV-1a states h[0..2] continued over the same n bytes in one pass:
 * equal to three hflow_fnv1a calls, but the three multiply chains overlap
 * (a word's unigram hash and the two word-pair states it extends, in the
 * router's featurizer and retrieval index). */
void hflow_fnv1a3(uint64_t h[3], const void *data, size_t n);
/* Avalanche: every output bit depends on every input bit. */
uint64_t hflow_mix64(uint64_t x);

#endif
