/*
 * jscan.c - finding a few members in a large JSON text without parsing the rest.
 *
 * A served version needs two small things from two large documents: the settings from the
 * bundle's metadata (which also carries the data set's baseline statistics, about 700 bytes
 * of text per series) and each series' training end from the version's choices; a monitor
 * needs the baseline out of that metadata, and of it perhaps only a few series. jansson would
 * build a tree of the whole text first, at about six times its size (440 MB of nodes for the
 * 75 MB metadata of 100,000 series: the daemon's memory peak while loading, see
 * docs/daemon-status.md). These functions walk the text in place instead, skipping values by
 * matching brackets outside strings, and hand back the bounds of the values asked for, which
 * the caller gives to jansson (json_loadb) - so whatever is kept is still checked by a real
 * parser, and what is skipped costs neither memory nor recursion.
 */
#include <assert.h>
#include <string.h>

#include "core/jscan.h"

/* p past JSON white space (at most up to end). */
static const char *js_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* The end of the string whose opening quote is at p (past its closing quote), or NULL when
 * it is not terminated before end. */
static const char *js_string(const char *p, const char *end) {
    assert(p < end && *p == '"');
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++; /* the escaped character, whatever it is */
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

/* The end of the JSON value at p, or NULL when the text ends first. Brackets are matched by
 * counting (strings skipped), not checked for their grammar: what a caller keeps of a value is
 * parsed by jansson, which checks it. Iterative, so deep nesting costs no stack. */
static const char *js_skip(const char *p, const char *end) {
    if (p >= end) return NULL;
    if (*p == '"') return js_string(p, end);
    if (*p != '{' && *p != '[') {
        const char *q = p;
        while (q < end && !strchr(",:}] \t\n\r", *q)) q++;
        /* Inside an object a scalar is always followed by something: one that runs into the
         * end of the text may have been cut short. */
        return q > p && q < end ? q : NULL;
    }
    size_t depth = 0;
    while (p < end) {
        if (*p == '"') {
            if (!(p = js_string(p, end))) return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

/* Contract in jscan.h. A ',' before the member is taken as the separator. */
int tsl_jscan_next(const char **at, const char *end, const char **key, size_t *klen, const char **v,
                   const char **vend) {
    const char *p = js_ws(*at, end);
    if (p < end && *p == ',') p = js_ws(p + 1, end);
    if (p < end && *p == '}') {
        *at = p + 1;
        return 0;
    }
    const char *ke = p < end && *p == '"' ? js_string(p, end) : NULL;
    if (!ke) return -1;
    *key = p + 1;
    *klen = (size_t)(ke - 1 - *key);
    p = js_ws(ke, end);
    if (p >= end || *p != ':') return -1;
    *v = js_ws(p + 1, end);
    if (!(*vend = js_skip(*v, end))) return -1;
    *at = *vend;
    return 1;
}

/* Contract in jscan.h. A ',' before the element is taken as the separator. */
int tsl_jscan_element(const char **at, const char *end, const char **v, const char **vend) {
    const char *p = js_ws(*at, end);
    if (p < end && *p == ',') p = js_ws(p + 1, end);
    if (p < end && *p == ']') {
        *at = p + 1;
        return 0;
    }
    *v = p;
    if (p >= end || !(*vend = js_skip(p, end))) return -1;
    *at = *vend;
    return 1;
}

/* Contract in jscan.h. */
int tsl_jscan_member(const char *p, const char *end, const char *name, const char **v,
                     const char **vend) {
    p = js_ws(p, end);
    if (p >= end || *p != '{') return -1;
    p++;
    size_t nlen = strlen(name);
    const char *key = NULL;
    size_t klen = 0;
    int r;
    while ((r = tsl_jscan_next(&p, end, &key, &klen, v, vend)) == 1)
        if (klen == nlen && !memcmp(key, name, nlen)) return 1;
    return r;
}
