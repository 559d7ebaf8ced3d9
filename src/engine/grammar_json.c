/* grammar_json.c - the "json" language: one JSON object (RFC 8259), what
 * OpenAI's response_format {"type": "json_object"} promises.
 *
 * A byte machine (grammar.h) with a fixed-size state: the nesting is a bit
 * stack (object or array per level) of at most JSON_MAX_DEPTH levels, so
 * the state copies with memcpy like any other. Two limits keep a small model
 * from wandering off while staying inside the language: nesting deeper than
 * JSON_MAX_DEPTH is not allowed, and whitespace between tokens is at most
 * one line break plus JSON_MAX_WS spaces or tabs (pretty-printing fits; a
 * model that loves blank lines cannot stall in them), with none before the
 * object. None of this creates a dead end: a container can always be
 * closed, a string always ended, a number always finished. Strings hold
 * Unicode text: escapes are checked (a \u escape of a UTF-16 high surrogate
 * must be followed by one of a low surrogate, and a low one never stands
 * alone, as strict parsers demand), control bytes are refused, and UTF-8
 * sequences must be well formed (lead byte, then the right number of
 * continuation bytes). The text is complete when the top-level object
 * closes; nothing may follow. */
#include <string.h>

#include "hybridflow/grammar.h"

#define JSON_MAX_DEPTH 32
#define JSON_MAX_WS 16

enum {
    M_START,     /* before the top-level object: whitespace or '{' */
    M_VALUE,     /* a value must start */
    M_ARR_FIRST, /* after '[': a value or ']' */
    M_OBJ_FIRST, /* after '{': a key or '}' */
    M_OBJ_KEY,   /* after ',' in an object: a key */
    M_COLON,     /* after a key */
    M_AFTER,     /* after a value: ',' or the container's close */
    M_STR,       /* inside a string */
    M_ESC,       /* after a backslash */
    M_HEX,       /* inside \uXXXX */
    M_LOW_BS,    /* after a high surrogate's escape: the low one's backslash */
    M_LOW_U,     /* its 'u' */
    M_NUM_MINUS, /* "-" */
    M_NUM_ZERO,  /* "0" or "-0": no more integer digits */
    M_NUM_INT,   /* integer digits */
    M_NUM_DOT,   /* "." needs a digit */
    M_NUM_FRAC,  /* fraction digits */
    M_NUM_E,     /* "e" needs a sign or digit */
    M_NUM_ESIGN, /* "e+" needs a digit */
    M_NUM_EXP,   /* exponent digits */
    M_LIT,       /* inside true / false / null */
    M_DONE       /* the object closed */
};

typedef struct json_state {
    uint32_t objects;  /* bit d: the container at depth d+1 is an object */
    uint8_t mode;
    uint8_t depth;     /* open containers */
    uint8_t ws;        /* spaces and tabs in the current whitespace run */
    uint8_t ws_nl;     /* the run holds its one line break ('\r' may precede it) */
    uint8_t pending;   /* UTF-8 continuation bytes or \u hex digits still due */
    uint8_t hex;       /* \u escape flags: HEX_* */
    uint8_t is_key;    /* the string being read is an object key */
    uint8_t lit;       /* which literal (index into LITERALS) */
    uint8_t lit_pos;   /* bytes of it matched */
} json_state;

enum { HEX_FIRST_D = 1, HEX_HIGH = 2, HEX_LOW = 4 }; /* first digit D; a high surrogate; a low one is due */

static const char *const LITERALS[3] = {"true", "false", "null"};

static int in_object(const json_state *s) { return s->depth && ((s->objects >> (s->depth - 1)) & 1); }

static int is_ws(unsigned char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

static void json_init(const void *config, void *state) {
    (void)config;
    memset(state, 0, sizeof(json_state));
}

/* A value just ended: back in its container, or the whole text is done. */
static void value_done(json_state *s) { s->mode = s->depth ? M_AFTER : M_DONE; }

static int open_container(json_state *s, int object) {
    if (s->depth >= JSON_MAX_DEPTH) return 0;
    s->objects = object ? s->objects | (1u << s->depth) : s->objects & ~(1u << s->depth);
    s->depth++;
    s->mode = object ? M_OBJ_FIRST : M_ARR_FIRST;
    return 1;
}

static int close_container(json_state *s, unsigned char c) {
    if (!s->depth || (c == '}') != in_object(s)) return 0;
    s->depth--;
    value_done(s);
    return 1;
}

static int start_value(json_state *s, unsigned char c) {
    switch (c) {
    case '{': return open_container(s, 1);
    case '[': return open_container(s, 0);
    case '"': s->mode = M_STR; s->is_key = 0; return 1;
    case '-': s->mode = M_NUM_MINUS; return 1;
    case '0': s->mode = M_NUM_ZERO; return 1;
    case 't': case 'f': case 'n':
        s->lit = c == 't' ? 0 : c == 'f' ? 1 : 2;
        s->lit_pos = 1;
        s->mode = M_LIT;
        return 1;
    default:
        if (c >= '1' && c <= '9') {
            s->mode = M_NUM_INT;
            return 1;
        }
        return 0;
    }
}

/* Whitespace between tokens: at most one line break, JSON_MAX_WS spaces/tabs. */
static int whitespace(json_state *s, unsigned char c) {
    if (s->mode == M_START) return 0;
    if (c == '\n' || c == '\r') {
        if (s->ws_nl == 2 || (s->ws_nl == 1 && c == '\r')) return 0;
        s->ws_nl = c == '\r' ? 1 : 2; /* 1: '\r' seen, only '\n' may complete the break */
        return 1;
    }
    if (s->ws_nl == 1) return 0; /* a lone '\r' */
    return ++s->ws <= JSON_MAX_WS;
}

/* A byte between tokens: whitespace (bounded), or what the mode allows. */
static int structural(json_state *s, unsigned char c) {
    if (is_ws(c)) return whitespace(s, c);
    if (s->ws_nl == 1) return 0; /* '\r' must be followed by '\n' */
    s->ws = s->ws_nl = 0;
    switch (s->mode) {
    case M_START: return c == '{' && open_container(s, 1);
    case M_VALUE: return start_value(s, c);
    case M_ARR_FIRST: return c == ']' ? close_container(s, c) : start_value(s, c);
    case M_OBJ_FIRST:
    case M_OBJ_KEY:
        if (c == '}' && s->mode == M_OBJ_FIRST) return close_container(s, c);
        if (c != '"') return 0;
        s->mode = M_STR;
        s->is_key = 1;
        return 1;
    case M_COLON:
        if (c != ':') return 0;
        s->mode = M_VALUE;
        return 1;
    case M_AFTER:
        if (c == ',') {
            s->mode = in_object(s) ? M_OBJ_KEY : M_VALUE;
            return 1;
        }
        return (c == '}' || c == ']') && close_container(s, c);
    default: return 0;
    }
}

static int is_hex(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

static int string_byte(json_state *s, unsigned char c) {
    if (s->pending) { /* inside a multi-byte UTF-8 sequence */
        if ((c & 0xC0) != 0x80) return 0;
        s->pending--;
        return 1;
    }
    if (c == '"') {
        if (s->is_key) s->mode = M_COLON;
        else value_done(s);
        return 1;
    }
    if (c == '\\') {
        s->mode = M_ESC;
        return 1;
    }
    if (c < 0x20 || c == 0x7F) return 0;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) s->pending = 1;
    else if (c >= 0xE0 && c <= 0xEF) s->pending = 2;
    else if (c >= 0xF0 && c <= 0xF4) s->pending = 3;
    else return 0; /* a stray continuation byte or an invalid lead */
    return 1;
}

/* A digit of \uXXXX. Surrogates are decided by the first two digits:
 * D8-DB is a high one (a low escape must follow), DC-DF a low one (only
 * right after a high). */
static int hex_digit(json_state *s, unsigned char c) {
    if (!is_hex(c)) return 0;
    int v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    if (s->pending == 4) {
        if ((s->hex & HEX_LOW) && v != 0xD) return 0;
        s->hex = (uint8_t)((s->hex & HEX_LOW) | (v == 0xD ? HEX_FIRST_D : 0));
    } else if (s->pending == 3 && (s->hex & HEX_FIRST_D)) {
        int low = v >= 0xC, high = v >= 0x8 && v < 0xC;
        if ((s->hex & HEX_LOW) ? !low : low) return 0;
        if (high) s->hex |= HEX_HIGH;
    }
    if (--s->pending) return 1;
    s->mode = (s->hex & HEX_HIGH) ? M_LOW_BS : M_STR;
    s->hex = (s->hex & HEX_HIGH) ? HEX_LOW : 0;
    return 1;
}

/* In a number that may end here: a digit-class continuation, or the byte
 * belongs to what follows the number. */
static int number_or_after(json_state *s, unsigned char c, int digits_ok, int dot_ok, int exp_ok) {
    if (digits_ok && c >= '0' && c <= '9') return 1;
    if (dot_ok && c == '.') { s->mode = M_NUM_DOT; return 1; }
    if (exp_ok && (c == 'e' || c == 'E')) { s->mode = M_NUM_E; return 1; }
    s->mode = M_AFTER; /* numbers only occur inside containers */
    return structural(s, c);
}

static int json_step(const void *config, void *state, unsigned char c) {
    (void)config;
    json_state *s = state;
    int digit = c >= '0' && c <= '9';
    switch (s->mode) {
    case M_STR: return string_byte(s, c);
    case M_ESC:
        if (c == 'u') {
            s->mode = M_HEX;
            s->pending = 4;
            return 1;
        }
        if (!strchr("\"\\/bfnrt", c) || !c) return 0;
        s->mode = M_STR;
        return 1;
    case M_HEX: return hex_digit(s, c);
    case M_LOW_BS:
    case M_LOW_U:
        if (c != (s->mode == M_LOW_BS ? '\\' : 'u')) return 0;
        s->mode = s->mode == M_LOW_BS ? M_LOW_U : M_HEX;
        s->pending = 4;
        return 1;
    case M_NUM_MINUS:
        if (!digit) return 0;
        s->mode = c == '0' ? M_NUM_ZERO : M_NUM_INT;
        return 1;
    case M_NUM_ZERO: return number_or_after(s, c, 0, 1, 1);
    case M_NUM_INT: return number_or_after(s, c, 1, 1, 1);
    case M_NUM_DOT:
    case M_NUM_ESIGN:
        if (!digit) return 0;
        s->mode = s->mode == M_NUM_DOT ? M_NUM_FRAC : M_NUM_EXP;
        return 1;
    case M_NUM_FRAC: return number_or_after(s, c, 1, 0, 1);
    case M_NUM_E:
        if (c == '+' || c == '-') {
            s->mode = M_NUM_ESIGN;
            return 1;
        }
        if (!digit) return 0;
        s->mode = M_NUM_EXP;
        return 1;
    case M_NUM_EXP: return number_or_after(s, c, 1, 0, 0);
    case M_LIT: {
        const char *lit = LITERALS[s->lit];
        if (c != (unsigned char)lit[s->lit_pos]) return 0;
        if (!lit[++s->lit_pos]) value_done(s);
        return 1;
    }
    case M_DONE: return 0;
    default: return structural(s, c);
    }
}

static int json_accepting(const void *config, const void *state) {
    (void)config;
    return ((const json_state *)state)->mode == M_DONE;
}

static const hflow_byte_machine JSON_MACHINE = {"json", sizeof(json_state), 0, json_init, json_step, json_accepting};

const hflow_byte_machine *hflow_json_machine(void) { return &JSON_MACHINE; }

int hflow_grammar_create_json(const hflow_token_texts *texts, hflow_grammar **out, hflow_error *err) {
    return hflow_grammar_create(&JSON_MACHINE, NULL, texts, out, err);
}
