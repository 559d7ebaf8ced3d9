/* log.c - stderr logger; one fprintf per line so concurrent lines don't interleave. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_level = -1; /* -1: not yet read from the environment */

static int level_from_env(void) {
    const char *s = getenv("HYBRIDFLOW_LOG");
    if (!s) return HFLOW_LOG_WARN;
    if (!strcmp(s, "error")) return HFLOW_LOG_ERROR;
    if (!strcmp(s, "info")) return HFLOW_LOG_INFO;
    if (!strcmp(s, "debug")) return HFLOW_LOG_DEBUG;
    return HFLOW_LOG_WARN;
}

void hflow_log_set_level(int level) { g_level = level; }

int hflow_log_level(void) {
    if (g_level < 0) g_level = level_from_env();
    return g_level;
}

void hflow_log(int level, const char *fmt, ...) {
    if (level > hflow_log_level()) return;
    static const char *names[] = {"error", "warn", "info", "debug"};
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "hybridflow %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], line);
}
