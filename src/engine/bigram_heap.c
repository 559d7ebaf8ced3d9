/* bigram_heap.c - binary max-heap, see bigram_heap.h. */
#include "engine/bigram_heap.h"

#include <stdlib.h>

#include "hybridflow/error.h"

static int better(const hflow_bigram *x, const hflow_bigram *y) {
    return x->prio > y->prio || (x->prio == y->prio && x->left < y->left);
}

int hflow_bigram_push(hflow_bigram_heap *h, hflow_bigram item) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        hflow_bigram *p = realloc(h->items, cap * sizeof *p);
        if (!p)
            return HFLOW_ENOMEM;
        h->items = p;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!better(&item, &h->items[parent]))
            break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = item;
    return 0;
}

int hflow_bigram_pop(hflow_bigram_heap *h, hflow_bigram *out) {
    if (h->n == 0)
        return 0;
    *out = h->items[0];
    hflow_bigram last = h->items[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && better(&h->items[c + 1], &h->items[c]))
            c++;
        if (!better(&h->items[c], &last))
            break;
        h->items[i] = h->items[c];
        i = c;
    }
    if (h->n > 0)
        h->items[i] = last;
    return 1;
}

void hflow_bigram_heap_free(hflow_bigram_heap *h) {
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}
