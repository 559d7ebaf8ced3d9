/* testutil.c - locating shared data and the CLI for tests. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *tu_shared_dir(void) {
    static char dir[4096];
    static int done = 0;
    if (!done) {
        done = 1;
        const char *env = getenv("HYBRIDFLOW_SHARED");
        if (env && *env) snprintf(dir, sizeof dir, "%s", env);
        else snprintf(dir, sizeof dir, "%s/../shared", HFLOW_SOURCE_DIR);
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) dir[0] = '\0';
    }
    return dir[0] ? dir : NULL;
}

const char *tu_shared_path(char *buf, size_t n, const char *rel) {
    const char *d = tu_shared_dir();
    if (!d) return NULL;
    snprintf(buf, n, "%s/%s", d, rel);
    struct stat st;
    if (stat(buf, &st) != 0) return NULL;
    return buf;
}

char *tu_read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return NULL; }
    long n = ftell(f);
    if (n < 0) { fclose(f); return NULL; }
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    if (!buf) { fclose(f); return NULL; }
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    if (len_out) *len_out = got;
    return buf;
}

const char *tu_tmpdir(void) {
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/hflow-test-XXXXXX");
        if (!mkdtemp(dir)) snprintf(dir, sizeof dir, "/tmp");
    }
    return dir;
}

const char *tu_tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", tu_tmpdir(), name);
    return buf;
}

const char *tu_cli_path(void) {
    const char *env = getenv("HYBRIDFLOW_BIN");
    if (env && *env) return env;
    return HFLOW_BINARY_DIR "/hybridflow";
}
