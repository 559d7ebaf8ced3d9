/* eval_util.c - string and file helpers for the eval module. */
#include "eval/eval_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/strbuf.h"

char *ev_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

int ev_read_file(const char *path, char **out, size_t *len, hflow_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return hflow_error_set(err, HFLOW_EIO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) { fclose(f); return hflow_error_set(err, HFLOW_ENOMEM, "%s: out of memory", path); }
    for (;;) {
        if (cap - n < 4096) {
            char *p = realloc(buf, cap * 2);
            if (!p) { free(buf); fclose(f); return hflow_error_set(err, HFLOW_ENOMEM, "%s: out of memory", path); }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return hflow_error_set(err, HFLOW_EIO, "%s: read error", path); }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return 0;
}

int ev_line_of(const char *text, size_t off) {
    int line = 1;
    for (size_t i = 0; i < off && text[i]; i++)
        if (text[i] == '\n') line++;
    return line;
}

char *ev_lower_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++) d[i] = (char)tolower((unsigned char)s[i]);
    d[n] = '\0';
    return d;
}

char *ev_trim(char *s) {
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    size_t i = 0;
    while (isspace((unsigned char)s[i])) i++;
    if (i) memmove(s, s + i, n - i + 1);
    return s;
}

char *ev_render_question(const char *stem, const cJSON *options) {
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_puts(&b, stem ? stem : "");
    hflow_strbuf_puts(&b, "\n");
    int i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, options) {
        if (i == 0) hflow_strbuf_puts(&b, "\n");
        hflow_strbuf_printf(&b, "%c. %s\n", 'A' + i, cJSON_IsString(o) ? o->valuestring : "");
        i++;
    }
    return b.oom ? (hflow_strbuf_free(&b), NULL) : hflow_strbuf_take(&b);
}
