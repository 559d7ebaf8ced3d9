/* plan_parse.c - an incremental scanner over the planner's output.
 *
 * Design: unconsumed bytes sit in one buffer; each feed scans forward for the
 * next '<' and decides what the tag is only once enough bytes are there.
 * Anything that is not a Step, think or </Plan> tag is chatter and skipped
 * byte by byte, so stray '<' in prose ("a < b") never derails the parser.
 * Quotes are only honoured inside a Step tag and only right after '=', so an
 * apostrophe in prose cannot swallow the rest of the stream. */
#include "flow/plan_parse.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"

/* A tag still open after this many bytes is garbage: give up on it so the
 * buffer cannot grow without bound. */
#define TAG_MAX_BYTES 65536

struct flow_plan_parser {
    flow_plan_step_cb cb;
    void *user;
    hflow_strbuf buf;
    size_t pos;        /* consumed prefix of buf */
    int in_think;
    int in_body;       /* inside <Step ...> ... </Step> */
    char *body_attrs;  /* attributes of the open long-form Step */
    int stopped;       /* callback asked to stop, or </Plan> seen */
    int count;
};

flow_plan_parser *flow_plan_parser_create(flow_plan_step_cb cb, void *user) {
    flow_plan_parser *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->cb = cb;
    p->user = user;
    hflow_strbuf_init(&p->buf);
    return p;
}

void flow_plan_parser_free(flow_plan_parser *p) {
    if (!p) return;
    hflow_strbuf_free(&p->buf);
    free(p->body_attrs);
    free(p);
}

int flow_plan_parser_count(const flow_plan_parser *p) { return p->count; }

static long find_ci(const char *s, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && tolower((unsigned char)s[i + k]) == needle[k]) k++;
        if (k == m) return (long)i;
    }
    return -1;
}

static int name_is(const char *s, size_t n, const char *name) {
    if (strlen(name) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != name[i]) return 0;
    return 1;
}

static void put_utf8(hflow_strbuf *b, unsigned long cp) {
    if (cp == 0 || cp > 0x10FFFF) cp = 0xFFFD;
    if (cp < 0x80) {
        hflow_strbuf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        hflow_strbuf_putc(b, (char)(0xC0 | (cp >> 6)));
        hflow_strbuf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        hflow_strbuf_putc(b, (char)(0xE0 | (cp >> 12)));
        hflow_strbuf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        hflow_strbuf_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        hflow_strbuf_putc(b, (char)(0xF0 | (cp >> 18)));
        hflow_strbuf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        hflow_strbuf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        hflow_strbuf_putc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* Decodes one escape starting at s[0] == '&'; returns bytes consumed or 0. */
static size_t decode_escape(const char *s, size_t n, hflow_strbuf *out) {
    static const struct { const char *name; char c; } named[] = {
        {"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        size_t m = strlen(named[i].name);
        if (n >= m + 1 && !memcmp(s + 1, named[i].name, m)) {
            hflow_strbuf_putc(out, named[i].c);
            return m + 1;
        }
    }
    if (n < 4 || s[1] != '#') return 0;
    int hex = s[2] == 'x' || s[2] == 'X';
    size_t i = hex ? 3 : 2, start = i;
    unsigned long cp = 0;
    while (i < n && i < start + 8 && (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i]))) {
        int c = (unsigned char)s[i];
        cp = cp * (hex ? 16 : 10) + (unsigned long)(isdigit(c) ? c - '0' : tolower(c) - 'a' + 10);
        i++;
    }
    if (i == start || i >= n || s[i] != ';') return 0;
    put_utf8(out, cp);
    return i + 1;
}

char *flow_xml_unescape(const char *s, size_t n) {
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_strbuf_reserve(&b, n);
    for (size_t i = 0; i < n;) {
        size_t used = s[i] == '&' ? decode_escape(s + i, n - i, &b) : 0;
        if (used) {
            i += used;
        } else {
            hflow_strbuf_putc(&b, s[i]);
            i++;
        }
    }
    if (b.oom) {
        hflow_strbuf_free(&b);
        return NULL;
    }
    if (!b.data) return calloc(1, 1);
    return hflow_strbuf_take(&b);
}

/* First run of digits in [s, s+n) as a positive int; 0 when none. */
static int first_int(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && !isdigit((unsigned char)s[i])) i++;
    long v = 0;
    while (i < n && isdigit((unsigned char)s[i]) && v < 100000000) v = v * 10 + (s[i++] - '0');
    return (int)v;
}

static void parse_rely(const char *s, size_t n, flow_raw_step *st) {
    for (size_t i = 0; i < n;) {
        if (!isdigit((unsigned char)s[i])) {
            i++;
            continue;
        }
        long v = 0;
        while (i < n && isdigit((unsigned char)s[i])) {
            if (v < 100000000) v = v * 10 + (s[i] - '0');
            i++;
        }
        if (st->n_rely < FLOW_PLAN_MAX_RELY) st->rely[st->n_rely++] = (int)v;
    }
}

static char *trim_dup(const char *s, size_t n) {
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    return flow_xml_unescape(s, n);
}

/* Parses the attributes of a Step tag (text after "<Step", without '>') and
 * emits the step; `body` (may be NULL) is the long form's text. */
static int emit_step(flow_plan_parser *p, const char *a, size_t n, const char *body, size_t body_n) {
    flow_raw_step st;
    memset(&st, 0, sizeof st);
    char *task = NULL;
    size_t i = 0;
    while (i < n) {
        while (i < n && (isspace((unsigned char)a[i]) || a[i] == '/')) i++;
        size_t ns = i;
        while (i < n && (isalnum((unsigned char)a[i]) || a[i] == '_' || a[i] == '-' || a[i] == ':')) i++;
        size_t name_n = i - ns;
        if (!name_n) {
            i++; /* junk byte */
            continue;
        }
        while (i < n && isspace((unsigned char)a[i])) i++;
        const char *v = "";
        size_t vn = 0;
        if (i < n && a[i] == '=') {
            i++;
            while (i < n && isspace((unsigned char)a[i])) i++;
            if (i < n && (a[i] == '"' || a[i] == '\'')) {
                char q = a[i++];
                v = a + i;
                while (i < n && a[i] != q) i++;
                vn = (size_t)(a + i - v);
                if (i < n) i++;
            } else {
                v = a + i;
                while (i < n && !isspace((unsigned char)a[i])) i++;
                vn = (size_t)(a + i - v);
                if (vn && v[vn - 1] == '/' && i == n) vn--; /* <Step ID=1/> */
            }
        }
        const char *nm = a + ns;
        if (name_is(nm, name_n, "id")) {
            st.id = first_int(v, vn);
        } else if (name_is(nm, name_n, "task") || name_is(nm, name_n, "description")) {
            free(task);
            task = trim_dup(v, vn);
            if (!task) return -1;
        } else if (name_is(nm, name_n, "rely") || name_is(nm, name_n, "deps") || name_is(nm, name_n, "depends") ||
                   name_is(nm, name_n, "dependencies")) {
            parse_rely(v, vn, &st);
        } else if (name_is(nm, name_n, "difficulty")) {
            st.difficulty = first_int(v, vn);
        } else if (name_is(nm, name_n, "token") || name_is(nm, name_n, "tokens")) {
            st.tokens = first_int(v, vn);
        }
    }
    if (!task && body) {
        task = trim_dup(body, body_n);
        if (!task) return -1;
    }
    st.task = task ? task : "";
    p->count++;
    if (p->cb && p->cb(p->user, &st)) p->stopped = 1;
    free(task);
    return 0;
}

/* Index of the '>' closing a Step tag that starts at s (after the name), or -1
 * when it is not in the buffer yet. A '<' outside quotes also ends it: the
 * model started a new tag without closing this one. */
static long find_tag_end(const char *s, size_t n, int *broken) {
    char quote = 0, prev = 0;
    *broken = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (quote) {
            if (c == quote) quote = 0;
            continue;
        }
        if ((c == '"' || c == '\'') && prev == '=') {
            quote = c;
        } else if (c == '>') {
            return (long)i;
        } else if (c == '<') {
            *broken = 1;
            return (long)i;
        }
        if (!isspace((unsigned char)c)) prev = c;
    }
    return -1;
}

/* Handles the tag at s[0] == '<'. Returns bytes consumed, 0 to wait for more
 * input, or -1 on allocation failure. */
static long handle_tag(flow_plan_parser *p, const char *s, size_t n) {
    size_t j = 1;
    int closing = 0;
    if (j < n && s[j] == '/') closing = 1, j++;
    size_t ns = j;
    while (j < n && isalpha((unsigned char)s[j]) && j - ns < 16) j++;
    if (j == n) return 0; /* name not complete yet */
    const char *name = s + ns;
    size_t name_n = j - ns;
    char c = s[j];
    int delim = isspace((unsigned char)c) || c == '/' || c == '>';
    if (!closing && delim && name_is(name, name_n, "think")) {
        const char *gt = memchr(s + j, '>', n - j);
        if (!gt) return 0;
        p->in_think = 1;
        return gt - s + 1;
    }
    if (closing && delim && name_is(name, name_n, "plan")) {
        if (p->count > 0) p->stopped = 1; /* a "</Plan>" in chatter before any step is not the end */
        return (long)j;
    }
    if (!closing && delim && name_is(name, name_n, "step")) {
        int broken;
        long end = find_tag_end(s + j, n - j, &broken);
        if (end < 0) return n > TAG_MAX_BYTES ? 1 : 0;
        const char *attrs = s + j;
        size_t an = (size_t)end;
        int self_closing = broken || (an > 0 && attrs[an - 1] == '/');
        if (self_closing) {
            if (emit_step(p, attrs, an, NULL, 0) < 0) return -1;
            return (long)(j + (size_t)end + (broken ? 0 : 1));
        }
        p->body_attrs = malloc(an + 1);
        if (!p->body_attrs) return -1;
        memcpy(p->body_attrs, attrs, an);
        p->body_attrs[an] = '\0';
        p->in_body = 1;
        return (long)(j + (size_t)end + 1);
    }
    return 1; /* not ours: skip the '<' */
}

static int process(flow_plan_parser *p) {
    while (!p->stopped) {
        const char *s = p->buf.data + p->pos;
        size_t n = p->buf.len - p->pos;
        if (!n) break;
        if (p->in_think) {
            long idx = find_ci(s, n, "</think>");
            if (idx < 0) {
                if (n > 7) p->pos += n - 7; /* keep a possible partial "</think" */
                break;
            }
            p->pos += (size_t)idx + 8;
            p->in_think = 0;
            continue;
        }
        if (p->in_body) {
            long idx = find_ci(s, n, "</step");
            if (idx < 0) {
                if (n > TAG_MAX_BYTES) { /* runaway body: drop the step */
                    free(p->body_attrs);
                    p->body_attrs = NULL;
                    p->in_body = 0;
                }
                break;
            }
            int rc = emit_step(p, p->body_attrs, strlen(p->body_attrs), s, (size_t)idx);
            free(p->body_attrs);
            p->body_attrs = NULL;
            p->in_body = 0;
            if (rc < 0) return -1;
            p->pos += (size_t)idx + 6;
            continue;
        }
        const char *lt = memchr(s, '<', n);
        if (!lt) {
            p->pos = p->buf.len;
            break;
        }
        p->pos += (size_t)(lt - s);
        long used = handle_tag(p, lt, n - (size_t)(lt - s));
        if (used < 0) return -1;
        if (used == 0) break;
        p->pos += (size_t)used;
    }
    if (p->stopped) p->pos = p->buf.len;
    /* Compact so a long stream does not keep its consumed prefix. */
    if (p->pos > 0 && (p->pos == p->buf.len || p->pos > 4096)) {
        memmove(p->buf.data, p->buf.data + p->pos, p->buf.len - p->pos);
        p->buf.len -= p->pos;
        p->buf.data[p->buf.len] = '\0';
        p->pos = 0;
    }
    return 0;
}

int flow_plan_parser_feed(flow_plan_parser *p, const char *data, size_t len) {
    if (p->stopped || !len) return 0;
    hflow_strbuf_append(&p->buf, data, len);
    if (p->buf.oom) return -1;
    return process(p);
}

void flow_plan_parser_finish(flow_plan_parser *p) {
    /* Whatever is still buffered is an unterminated tag or body: dropped. */
    hflow_strbuf_reset(&p->buf);
    p->pos = 0;
    free(p->body_attrs);
    p->body_attrs = NULL;
    p->in_body = 0;
    p->stopped = 1;
}
