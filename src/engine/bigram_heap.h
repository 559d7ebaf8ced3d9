/* bigram_heap.h - the max-heap of candidate merges both tokenizers use.
 * Higher `prio` pops first (SPM: the merged token's score; BPE: minus the
 * merge rank); ties pop the leftmost pair first, as llama.cpp does, so the
 * result does not depend on heap internals. */
#ifndef HFLOW_ENGINE_BIGRAM_HEAP_H
#define HFLOW_ENGINE_BIGRAM_HEAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct hflow_bigram {
    float prio;
    int32_t left, right; /* symbol indices */
    int32_t a, b;        /* what the pair was made of when pushed (size or ids), to detect stale entries */
} hflow_bigram;

typedef struct hflow_bigram_heap {
    hflow_bigram *items;
    size_t n, cap;
} hflow_bigram_heap;

/* 0 or HFLOW_ENOMEM. */
int hflow_bigram_push(hflow_bigram_heap *h, hflow_bigram item);
/* Pops the best item into *out; 0 when empty. */
int hflow_bigram_pop(hflow_bigram_heap *h, hflow_bigram *out);
void hflow_bigram_heap_free(hflow_bigram_heap *h);

#endif
