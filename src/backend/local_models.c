/* local_models.c - where the built-in default finds its models (backend.h:
 * hflow_default_local_models). Size stands in for capability because a
 * models directory holds one family at several sizes or quantizations far
 * more often than anything else, and it needs no metadata parsing. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/backend_internal.h"

static const char *models_dir(char *buf, size_t cap) {
    const char *m = getenv("HYBRIDFLOW_MODELS");
    if (m && *m) return m;
    const char *shared = getenv("HYBRIDFLOW_SHARED");
    if (shared && *shared) snprintf(buf, cap, "%s/models", shared);
    else snprintf(buf, cap, "%s/../shared/models", HFLOW_SOURCE_DIR);
    return buf;
}

static int has_gguf_suffix(const char *name) {
    size_t n = strlen(name);
    return n > 5 && !strcmp(name + n - 5, ".gguf");
}

/* a before b in (size, name) order */
static int before(long long sa, const char *na, long long sb, const char *nb) {
    return sa < sb || (sa == sb && strcmp(na, nb) < 0);
}

int hflow_default_local_models(char *edge, char *cloud, size_t cap, hflow_error *err) {
    char buf[4096];
    const char *dir = models_dir(buf, sizeof buf);
    DIR *d = opendir(dir);
    if (!d)
        return hflow_error_set(err, HFLOW_ENOTFOUND,
                               "no models directory at %s (set HYBRIDFLOW_MODELS to a directory of .gguf files, "
                               "or pass --edge/--cloud)", dir);
    char small[1024] = "", large[1024] = "";
    long long s_small = 0, s_large = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!has_gguf_suffix(e->d_name)) continue;
        char path[4096 + 256];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) || !S_ISREG(st.st_mode) || strlen(e->d_name) >= sizeof small) continue;
        long long sz = (long long)st.st_size;
        if (!small[0] || before(sz, e->d_name, s_small, small)) {
            snprintf(small, sizeof small, "%s", e->d_name);
            s_small = sz;
        }
        if (!large[0] || before(s_large, large, sz, e->d_name)) {
            snprintf(large, sizeof large, "%s", e->d_name);
            s_large = sz;
        }
    }
    closedir(d);
    if (!small[0])
        return hflow_error_set(err, HFLOW_ENOTFOUND,
                               "no .gguf model in %s (set HYBRIDFLOW_MODELS to a directory of .gguf files, "
                               "or pass --edge/--cloud)", dir);
    if ((size_t)snprintf(edge, cap, "%s/%s", dir, small) >= cap || (size_t)snprintf(cloud, cap, "%s/%s", dir, large) >= cap)
        return hflow_error_set(err, HFLOW_ERANGE, "model path too long");
    return 0;
}
