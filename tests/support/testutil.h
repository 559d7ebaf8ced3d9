/* testutil.h - helpers shared by the cmocka test programs. */
#ifndef HFLOW_TESTUTIL_H
#define HFLOW_TESTUTIL_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Directory of the shared data (HYBRIDFLOW_SHARED, else ../shared beside the
 * source tree). Returns NULL when it does not exist. */
const char *tu_shared_dir(void);
/* Full path of a file under the shared dir into `buf`; returns buf, or NULL
 * (and prints "skipped: ../shared not found" style line) when absent. */
const char *tu_shared_path(char *buf, size_t n, const char *rel);
/* Skips the current cmocka test with a visible reason line when `path` is NULL. */
#define TU_REQUIRE_SHARED(path, rel)                                             \
    do {                                                                         \
        if (!(path)) {                                                           \
            print_message("skipped: %s not found under ../shared\n", (rel));     \
            skip();                                                              \
        }                                                                        \
    } while (0)
/* Reads a whole file (NUL-terminated); caller frees. NULL on error. */
char *tu_read_file(const char *path, size_t *len_out);
/* A fresh temporary directory for this test process (removed by nothing: under /tmp). */
const char *tu_tmpdir(void);
/* "<tu_tmpdir()>/name" into buf (n bytes); returns buf. */
const char *tu_tmp_path(char *buf, size_t n, const char *name);
/* Path of the hybridflow CLI binary under test. */
const char *tu_cli_path(void);

/* Uniform in [-1, 1) from an xorshift64 state (the kernels' random inputs). */
static inline float tu_frand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((*s >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

#endif
