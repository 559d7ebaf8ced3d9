/* stream.c - STREAM-style triad and read bandwidth at 1 and 2 threads.
 * Usage: stream [ARRAY_MIB] (default 256 MiB per array). */
#include <stdio.h>
#include <stdlib.h>

#include "base/threadpool.h"
#include "engine/membw.h"

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 256;
    for (int nth = 1; nth <= 2; nth++) {
        hflow_pool *pool = hflow_pool_create(nth);
        hflow_membw bw;
        if (!pool || hflow_membw_measure(pool, mib << 20, 5, &bw) != 0) {
            fprintf(stderr, "stream: out of memory\n");
            hflow_pool_free(pool);
            return 1;
        }
        printf("threads %d  array %zu MiB  triad %.2f GB/s  read %.2f GB/s\n", nth, mib, bw.triad_gbs, bw.read_gbs);
        hflow_pool_free(pool);
    }
    return 0;
}
