/*
 * config.c - tsloop.yaml: YAML through libyaml, checked against tsloop's schema (config.h).
 *
 * Reading happens in two passes over the text. The first streams libyaml's events only to
 * bound what the second will build: nesting depth and node count are capped, so a hostile
 * file (a megabyte of '[', or of tiny list items) is refused with a message before any
 * document exists. The second loads the document (libyaml's node tree, with the line and
 * column of every node) and walks it by the schema, never generically: each mapping's keys are
 * looked up in the list of keys valid there, every value is converted to its type with the
 * node's position at hand for the message. The walk only descends where the schema does (four
 * levels), so YAML aliases, which libyaml shares rather than copies, can at worst make the
 * walk revisit a list it already read, and every list has a cap: the work stays proportional
 * to the caps, not to an alias fan-out.
 *
 * Messages: "FILE:LINE:COL: PATH: what was wrong, expected what", where PATH is the dotted key
 * path (forecasters.daily.horizon). Only the first mistake is reported, as every command does.
 *
 * The normalised text (tsl_config_normalize) is itself tsloop.yaml: every string is written
 * double-quoted with YAML escapes (and '$' doubled, so that re-reading it does not interpolate
 * again), numbers in their shortest form that reads back to the same double. The hashes are
 * SHA-256 (libsodium) of such texts.
 */
#include "tsloop/config.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/text.h"
#include "ops/config_impl.h"
#include "tsloop/notify.h"
#include "ops/config_monitors.h"
#include "tsloop/backtest.h"
#include "tsloop/mem.h"

/* Bounds checked by the first pass (see the purpose paragraph). */
#define MAX_DEPTH 32
#define MAX_NODES 200000

/* Longest environment variable name in ${NAME}. */
#define MAX_VAR_NAME 128

/* Longest key path in messages ("forecasters.NAME.approval.approvers"). */
#define PATH_CAP 192

typedef tsl_cfg_parser parser;

/* The top-level sections that are reserved for later and refused with "not supported yet". */
static const char *const reserved_sections[] = {"parameters", NULL};

/* ------------------------------------------------------------------------------------------ */
/* Messages                                                                                   */

/* Records "FILE:LINE:COL: message" in the parser's diag and returns code (line and column
 * 0-based as libyaml gives them, printed 1-based). */
static tsl_err fail_pos(parser *p, size_t line, size_t col, tsl_err code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static tsl_err fail_pos(parser *p, size_t line, size_t col, tsl_err code, const char *fmt, ...) {
    char msg[TSL_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tsl_diag_set(p->d, code, "%s:%zu:%zu: %s", p->file, line + 1, col + 1, msg);
}

/* fail_pos at node n's start. */
static tsl_err fail_at(parser *p, const yaml_node_t *n, tsl_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tsl_err fail_at(parser *p, const yaml_node_t *n, tsl_err code, const char *fmt, ...) {
    char msg[TSL_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail_pos(p, n->start_mark.line, n->start_mark.column, code, "%s", msg);
}

/* Line and column of byte offset off of the input (libyaml's reader errors give offsets). */
static void offset_pos(const parser *p, size_t off, size_t *line, size_t *col) {
    size_t l = 0, c = 0;
    for (size_t i = 0; i < off && i < p->len; i++) {
        if (p->text[i] == '\n') {
            l++;
            c = 0;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* Turns libyaml's error state into a message. */
static tsl_err fail_yaml(parser *p, const yaml_parser_t *yp) {
    if (yp->error == YAML_MEMORY_ERROR) tsl_oom(0);
    size_t line, col;
    if (yp->error == YAML_READER_ERROR) {
        offset_pos(p, yp->problem_offset, &line, &col);
        return fail_pos(p, line, col, TSL_EPARSE, "not valid YAML: %s, expected UTF-8 text",
                        yp->problem ? yp->problem : "unreadable input");
    }
    line = yp->problem_mark.line;
    col = yp->problem_mark.column;
    size_t at = yp->problem_mark.index;
    const char *expect = "expected well-formed YAML";
    if (at < p->len && p->text[at] == '\t')
        expect = "expected well-formed YAML, indented with spaces (never tabs)";
    if (yp->context)
        return fail_pos(p, line, col, TSL_EPARSE, "not valid YAML: %s (%s at line %zu), %s",
                        yp->problem ? yp->problem : "syntax error", yp->context,
                        yp->context_mark.line + 1, expect);
    return fail_pos(p, line, col, TSL_EPARSE, "not valid YAML: %s, %s",
                    yp->problem ? yp->problem : "syntax error", expect);
}

/* "a mapping", "a list" or "a value", for "got X, expected Y". */
static const char *node_kind(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a value";
    }
}

/* Edit distance of two short strings (capped at 32 bytes each), for "did you mean". */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32) return 99;
    size_t row[33];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Appends "a, b, c" of the NULL-terminated list to buf (capacity cap). */
static void join_list(char *buf, size_t cap, const char *const *list) {
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; list[i] && o < cap; i++) {
        int k = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", list[i]);
        if (k < 0) break;
        o += (size_t)k;
    }
}

/* Writes "base.key" (or base alone when key is NULL) into dst, of capacity PATH_CAP,
 * truncated when it does not fit (names are capped, so only a bug can make it). */
static void join_path(char *dst, const char *base, const char *key) {
    size_t n = tsl_strlcpy(dst, base, PATH_CAP);
    if (!key || n + 1 >= PATH_CAP) return;
    dst[n] = '.';
    tsl_strlcpy(dst + n + 1, key, PATH_CAP - n - 1);
}

/* "PATH: " for messages, or "" at the top level. */
static const char *path_prefix(char *buf, size_t cap, const char *path) {
    if (!path[0]) return "";
    snprintf(buf, cap, "%s: ", path);
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
/* Scalars                                                                                    */

/* Characters of environment variable names: a letter or '_' first, then digits too. */
static int is_var_start(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_var_char(char c) {
    return is_var_start(c) || (c >= '0' && c <= '9');
}

/* Expands ${NAME}, ${NAME:-default} and $$ in scalar node n into out. */
static tsl_err interpolate(parser *p, const yaml_node_t *n, const char *path, tsl_wbuf *out) {
    char pb[PATH_CAP + 2], q[TSL_TEXT_QUOTE_CAP];
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    const char *shape = "expected ${NAME} or ${NAME:-default}, or $$ for a literal $";
    for (size_t i = 0; i < len;) {
        if (s[i] != '$' || i + 1 == len || (s[i + 1] != '$' && s[i + 1] != '{')) {
            tsl_wbuf_putc(out, s[i++]);
            continue;
        }
        if (s[i + 1] == '$') {
            tsl_wbuf_putc(out, '$');
            i += 2;
            continue;
        }
        const char *body = s + i + 2, *end = memchr(body, '}', len - i - 2);
        if (!end)
            return fail_at(p, n, TSL_EINVAL, "%sunterminated %s, %s",
                           path_prefix(pb, sizeof pb, path),
                           tsl_text_quote(q, sizeof q, s + i, len - i), shape);
        size_t nl = 0;
        while (body + nl < end && is_var_char(body[nl])) nl++;
        const char *rest = body + nl;
        int has_default = end - rest >= 2 && rest[0] == ':' && rest[1] == '-';
        if (nl == 0 || !is_var_start(body[0]) || (rest != end && !has_default))
            return fail_at(p, n, TSL_EINVAL, "%sbad variable reference %s, %s",
                           path_prefix(pb, sizeof pb, path),
                           tsl_text_quote(q, sizeof q, s + i, (size_t)(end - s - i) + 1), shape);
        if (nl > MAX_VAR_NAME)
            return fail_at(p, n, TSL_EINVAL,
                           "%svariable name of %zu characters, expected at most %d",
                           path_prefix(pb, sizeof pb, path), nl, MAX_VAR_NAME);
        char name[MAX_VAR_NAME + 1];
        memcpy(name, body, nl);
        name[nl] = '\0';
        const char *v =
            p->opts && p->opts->getenv ? p->opts->getenv(p->opts->getenv_ctx, name) : getenv(name);
        if (has_default && (!v || !v[0]))
            tsl_wbuf_put(out, rest + 2, (size_t)(end - rest - 2));
        else if (v)
            tsl_wbuf_puts(out, v);
        else
            return fail_at(p, n, TSL_EINVAL,
                           "%senvironment variable %s is not set, expected it set or a default "
                           "as in ${%s:-value}",
                           path_prefix(pb, sizeof pb, path), name, name);
        if (out->len > TSL_CONFIG_MAX_VALUE) break;
        i = (size_t)(end - s) + 1;
    }
    return TSL_OK;
}

/* The value of scalar node n, interpolated, in a new string; *out = NULL when it is empty or a
 * YAML null ("not given"). Fails when n is a list or mapping, or the value is not text. */
static tsl_err value(parser *p, const yaml_node_t *n, const char *path, char **out) {
    char pb[PATH_CAP + 2];
    *out = NULL;
    if (n->type != YAML_SCALAR_NODE)
        return fail_at(p, n, TSL_EINVAL, "%sgot %s, expected a single value",
                       path_prefix(pb, sizeof pb, path), node_kind(n));
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
         !strcmp(s, "NULL")))
        return TSL_OK;
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_err rc = interpolate(p, n, path, &b);
    if (rc) goto out;
    if (b.len > TSL_CONFIG_MAX_VALUE) {
        rc = fail_at(p, n, TSL_ELIMIT, "%svalue of %zu bytes or more, expected at most %d",
                     path_prefix(pb, sizeof pb, path), b.len, TSL_CONFIG_MAX_VALUE);
        goto out;
    }
    if (b.len && memchr(b.data, '\0', b.len)) {
        rc = fail_at(p, n, TSL_EINVAL, "%sthe value holds a NUL character, expected text",
                     path_prefix(pb, sizeof pb, path));
        goto out;
    }
    if (!tsl_text_utf8_valid((const char *)b.data, b.len)) {
        rc = fail_at(p, n, TSL_EINVAL,
                     "%sthe value (after interpolation) is not valid UTF-8, expected UTF-8 text",
                     path_prefix(pb, sizeof pb, path));
        goto out;
    }
    if (b.len) *out = tsl_strndup((const char *)b.data, b.len);
out:
    tsl_wbuf_release(&b);
    return rc;
}

/* An integer in [lo, hi]; *out keeps its value when n is NULL or empty. */
static tsl_err get_int(parser *p, const yaml_node_t *n, const char *path, long lo, long hi,
                       int *out) {
    if (!n) return TSL_OK;
    char *s = NULL, q[TSL_TEXT_QUOTE_CAP];
    tsl_err rc = value(p, n, path, &s);
    if (rc || !s) goto out;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) {
        rc = fail_at(p, n, TSL_EINVAL, "%s: %s, expected an integer from %ld to %ld", path,
                     tsl_text_quote(q, sizeof q, s, strlen(s)), lo, hi);
        goto out;
    }
    *out = (int)v;
out:
    tsl_free(s);
    return rc;
}

/* A finite number of scalar node n (not NULL, not empty) in [lo, hi] (or [lo, hi) when
 * hi_open); what describes the expectation in the message. */
static tsl_err get_number(parser *p, const yaml_node_t *n, const char *path, double lo, double hi,
                          int hi_open, const char *what, double *out) {
    char *s = NULL, q[TSL_TEXT_QUOTE_CAP];
    tsl_err rc = value(p, n, path, &s);
    if (rc) return rc;
    if (!s) return fail_at(p, n, TSL_EINVAL, "%s: no value, expected %s", path, what);
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi || (hi_open && v == hi)) {
        rc = fail_at(p, n, TSL_EINVAL, "%s: %s, expected %s", path,
                     tsl_text_quote(q, sizeof q, s, strlen(s)), what);
        goto out;
    }
    *out = v;
out:
    tsl_free(s);
    return rc;
}

/* true or false (YAML 1.2's spellings); *out keeps its value when n is NULL or empty. */
static tsl_err get_bool(parser *p, const yaml_node_t *n, const char *path, int *out) {
    if (!n) return TSL_OK;
    char *s = NULL, q[TSL_TEXT_QUOTE_CAP];
    tsl_err rc = value(p, n, path, &s);
    if (rc || !s) goto out;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        *out = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        *out = 0;
    else
        rc = fail_at(p, n, TSL_EINVAL, "%s: %s, expected true or false", path,
                     tsl_text_quote(q, sizeof q, s, strlen(s)));
out:
    tsl_free(s);
    return rc;
}

/* A string with no control characters; *out stays NULL when n is NULL or empty. */
static tsl_err get_text(parser *p, const yaml_node_t *n, const char *path, char **out) {
    if (!n) return TSL_OK;
    tsl_err rc = value(p, n, path, out);
    if (rc || !*out) return rc;
    for (const char *c = *out; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            char q[TSL_TEXT_QUOTE_CAP];
            rc = fail_at(p, n, TSL_EINVAL, "%s: %s holds a control character, expected text", path,
                         tsl_text_quote(q, sizeof q, *out, strlen(*out)));
            tsl_free(*out);
            *out = NULL;
            return rc;
        }
    }
    return TSL_OK;
}

/* 1 when s is a valid project, dataset or forecaster name. */
static int name_valid(const char *s, size_t len) {
    if (len == 0 || len > TSL_CONFIG_MAX_NAME) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) return 0;
    }
    return 1;
}

int tsl_config_name_valid(const char *s) {
    return name_valid(s, strlen(s));
}

static tsl_err fail_name(parser *p, const yaml_node_t *n, const char *what, const char *s,
                         size_t len) {
    char q[TSL_TEXT_QUOTE_CAP];
    return fail_at(p, n, TSL_EINVAL,
                   "%s %s is not a valid name, expected letters, digits, '_', '.' or '-', "
                   "starting with a letter or digit, at most %d characters",
                   what, tsl_text_quote(q, sizeof q, s, len), TSL_CONFIG_MAX_NAME);
}

/* The items of list node n (NULL or empty: none), each a non-empty value, at most max of them,
 * into a new array *items (NULL when none) of *count new strings. */
static tsl_err get_list(parser *p, const yaml_node_t *n, const char *path, size_t max,
                        const char *example, char ***items, size_t *count) {
    *items = NULL;
    *count = 0;
    if (!n) return TSL_OK;
    if (n->type == YAML_SCALAR_NODE) {
        char *s = NULL;
        tsl_err rc = value(p, n, path, &s);
        if (rc || !s) return rc;
        tsl_free(s);
        return fail_at(p, n, TSL_EINVAL, "%s: got a single value, expected a list like %s", path,
                       example);
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail_at(p, n, TSL_EINVAL, "%s: got %s, expected a list like %s", path, node_kind(n),
                       example);
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (k > max)
        return fail_at(p, n, TSL_ELIMIT, "%s: %zu items, expected at most %zu", path, k, max);
    if (k == 0) return TSL_OK;
    char **v = tsl_calloc(k, sizeof *v);
    tsl_err rc = TSL_OK;
    size_t i = 0;
    for (; i < k; i++) {
        yaml_node_t *item = yaml_document_get_node(&p->doc, n->data.sequence.items.start[i]);
        assert(item);
        if ((rc = get_text(p, item, path, &v[i]))) break;
        if (!v[i]) {
            rc = fail_at(p, item, TSL_EINVAL, "%s: an empty item, expected a list like %s", path,
                         example);
            break;
        }
    }
    if (rc) {
        for (size_t j = 0; j < k; j++) tsl_free(v[j]);
        tsl_free(v);
        return rc;
    }
    *items = v;
    *count = k;
    return TSL_OK;
}

/* The index of the first of v[0..i) equal to v[i], or -1. */
static long find_dup(char *const *v, size_t i) {
    for (size_t j = 0; j < i; j++)
        if (!strcmp(v[j], v[i])) return (long)j;
    return -1;
}

/* Frees n strings and their array; NULL with n == 0 is a no-op. */
static void free_strings(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) tsl_free(v[i]);
    tsl_free(v);
}

/* ------------------------------------------------------------------------------------------ */
/* Mappings                                                                                   */

/* The helpers of config_impl.h, for the sections parsed in files of their own. */
tsl_err tsl_cfg_get_int(parser *p, const yaml_node_t *n, const char *path, long lo, long hi,
                        int *out) {
    return get_int(p, n, path, lo, hi, out);
}

tsl_err tsl_cfg_get_text(parser *p, const yaml_node_t *n, const char *path, char **out) {
    return get_text(p, n, path, out);
}

tsl_err tsl_cfg_fail_at(parser *p, const yaml_node_t *n, tsl_err code, const char *fmt, ...) {
    char msg[TSL_DIAG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail_at(p, n, code, "%s", msg);
}

/* Reads the keys of mapping n (NULL or a YAML null: no keys) against the NULL-terminated
 * valid list: vals[i] = the value node of valid[i], keys[i] its key node (NULL when absent).
 * Unknown keys are errors naming the valid keys and the closest one; keys in reserved (which
 * may be NULL) are refused as not supported yet; a repeated key is an error. `what` names the
 * mapping in messages ("forecasters.daily", "" at the top). */
static tsl_err read_map(parser *p, const yaml_node_t *n, const char *what, const char *const *valid,
                        const char *const *reserved, yaml_node_t **vals, yaml_node_t **keys) {
    char pb[PATH_CAP + 2], q[TSL_TEXT_QUOTE_CAP];
    size_t nvalid = 0;
    while (valid[nvalid]) nvalid++;
    for (size_t i = 0; i < nvalid; i++) vals[i] = keys[i] = NULL;
    if (!n) return TSL_OK;
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        n->data.scalar.length == 0)
        return TSL_OK; /* "columns:" with nothing after it */
    char list[512];
    join_list(list, sizeof list, valid);
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(p, n, TSL_EINVAL, "%sgot %s, expected a mapping with keys %s",
                       path_prefix(pb, sizeof pb, what), node_kind(n), list);
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(&p->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(&p->doc, pr->value);
        assert(k && v);
        if (k->type != YAML_SCALAR_NODE)
            return fail_at(p, k, TSL_EINVAL, "%sgot %s as a key, expected one of %s",
                           path_prefix(pb, sizeof pb, what), node_kind(k), list);
        const char *ks = (const char *)k->data.scalar.value;
        size_t kl = k->data.scalar.length;
        size_t i = 0;
        while (i < nvalid && (strlen(valid[i]) != kl || memcmp(valid[i], ks, kl))) i++;
        if (i < nvalid) {
            if (keys[i])
                return fail_at(p, k, TSL_EINVAL,
                               "%sduplicate key '%s' (first at line %zu), expected each key "
                               "once",
                               path_prefix(pb, sizeof pb, what), valid[i],
                               keys[i]->start_mark.line + 1);
            keys[i] = k;
            vals[i] = v;
            continue;
        }
        for (size_t r = 0; reserved && reserved[r]; r++)
            if (strlen(reserved[r]) == kl && !memcmp(reserved[r], ks, kl))
                return fail_at(p, k, TSL_EUNSUPPORTED,
                               "section '%s' is not supported yet, expected one of %s", reserved[r],
                               list);
        const char *best = NULL;
        size_t bestd = 3;
        if (kl <= 32 && !memchr(ks, '\0', kl)) {
            for (size_t j = 0; j < nvalid; j++) {
                size_t dist = edit_distance(ks, valid[j]);
                if (dist < bestd && dist < strlen(valid[j])) bestd = dist, best = valid[j];
            }
        }
        char hint[64] = "";
        if (best) snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
        return fail_at(p, k, TSL_EINVAL, "%sunknown key %s%s, expected one of %s",
                       path_prefix(pb, sizeof pb, what), tsl_text_quote(q, sizeof q, ks, kl), hint,
                       list);
    }
    return TSL_OK;
}

/* Checks that n is a mapping of names (or empty): *pairs and *npairs describe its entries.
 * Names must be valid and unique; at most max of them. */
tsl_err tsl_cfg_read_map(parser *p, const yaml_node_t *n, const char *what,
                         const char *const *valid, yaml_node_t **vals, yaml_node_t **keys) {
    return read_map(p, n, what, valid, NULL, vals, keys);
}

static tsl_err read_named(parser *p, const yaml_node_t *n, const char *what, const char *one,
                          size_t max, yaml_node_pair_t **pairs, size_t *npairs) {
    *pairs = NULL;
    *npairs = 0;
    if (!n) return TSL_OK;
    if (n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        n->data.scalar.length == 0)
        return TSL_OK;
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(p, n, TSL_EINVAL,
                       "%s: got %s, expected a mapping of %s names to their "
                       "settings",
                       what, node_kind(n), one);
    size_t k = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (k > max)
        return fail_at(p, n, TSL_ELIMIT, "%s: %zu entries, expected at most %zu", what, k, max);
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *key = yaml_document_get_node(&p->doc, n->data.mapping.pairs.start[i].key);
        assert(key);
        if (key->type != YAML_SCALAR_NODE)
            return fail_at(p, key, TSL_EINVAL, "%s: got %s as a key, expected a %s name", what,
                           node_kind(key), one);
        const char *s = (const char *)key->data.scalar.value;
        size_t len = key->data.scalar.length;
        if (!name_valid(s, len)) return fail_name(p, key, one, s, len);
        for (size_t j = 0; j < i; j++) {
            yaml_node_t *prev = yaml_document_get_node(&p->doc, n->data.mapping.pairs.start[j].key);
            if (prev->data.scalar.length == len && !memcmp(prev->data.scalar.value, s, len))
                return fail_at(p, key, TSL_EINVAL,
                               "duplicate %s '%s' (first at line %zu), expected unique names", one,
                               s, prev->start_mark.line + 1);
        }
    }
    *pairs = n->data.mapping.pairs.start;
    *npairs = k;
    return TSL_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Sections                                                                                   */

/* store: "sqlite:PATH", a bare PATH, or a postgres:// / postgresql:// URI. */
static tsl_err parse_store(parser *p, const yaml_node_t *n, tsl_config_store *st) {
    st->kind = TSL_STORE_SQLITE;
    char *s = NULL;
    tsl_err rc = n ? get_text(p, n, "store", &s) : TSL_OK;
    if (rc) return rc;
    if (!s) {
        st->location = tsl_strdup(".tsloop/store.db");
        return TSL_OK;
    }
    const char *expect = "expected sqlite:PATH (e.g. sqlite:.tsloop/store.db) or "
                         "postgresql://USER@HOST/DB";
    size_t scheme = 0;
    while (s[scheme] &&
           ((s[scheme] >= 'a' && s[scheme] <= 'z') ||
            (scheme > 0 && ((s[scheme] >= '0' && s[scheme] <= '9') || s[scheme] == '+' ||
                            s[scheme] == '.' || s[scheme] == '-'))))
        scheme++;
    if (scheme > 1 && s[scheme] == ':') {
        if (!strncmp(s, "sqlite:", 7)) {
            if (!s[7]) {
                rc = fail_at(p, n, TSL_EINVAL, "store: no file after 'sqlite:', %s", expect);
                goto out;
            }
            st->location = tsl_strdup(s + 7);
        } else if (!strncmp(s, "postgres://", 11) || !strncmp(s, "postgresql://", 13)) {
            st->kind = TSL_STORE_POSTGRES;
            st->location = s;
            s = NULL;
        } else {
            /* Never quote a URI here: it may hold a password. */
            rc = fail_at(p, n, TSL_EINVAL, "store: unknown scheme '%.*s', %s", (int)scheme, s,
                         expect);
        }
        goto out;
    }
    st->location = s;
    s = NULL;
out:
    tsl_free(s);
    return rc;
}

/* A column name: non-empty text (any characters but control ones). */
static tsl_err get_column(parser *p, const yaml_node_t *n, const char *path, const char *def,
                          char **out) {
    tsl_err rc = get_text(p, n, path, out);
    if (rc) return rc;
    if (!*out && def) *out = tsl_strdup(def);
    return TSL_OK;
}

/* timezone: "UTC", an offset (+05:30, -0800, +01) or an IANA-shaped name (Area/Location). */
static int timezone_valid(const char *s) {
    size_t n = strlen(s);
    if (s[0] == '+' || s[0] == '-') {
        int h, m = 0;
        const char *t = s + 1;
        if (n == 3 || n == 5 || n == 6) {
            for (size_t i = 1; i < n; i++)
                if (n == 6 && i == 3 ? s[i] != ':' : !(s[i] >= '0' && s[i] <= '9')) return 0;
            h = (t[0] - '0') * 10 + (t[1] - '0');
            if (n > 3) m = (t[n - 3] - '0') * 10 + (t[n - 2] - '0');
            return h * 60 + m <= 18 * 60 && m < 60;
        }
        return 0;
    }
    if (n > 64) return 0;
    int seg_start = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        int other = (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+';
        if (seg_start) {
            if (!alpha) return 0;
            seg_start = 0;
        } else if (c == '/') {
            seg_start = 1;
        } else if (!alpha && !other) {
            return 0;
        }
    }
    return !seg_start;
}

static const char *const dataset_keys[] = {"columns", "frequency",    "timezone",
                                           "inbox",   "non_negative", NULL};
static const char *const column_keys[] = {"item", "timestamp", "target", "dimensions", NULL};

static tsl_err parse_dataset(parser *p, const yaml_node_t *key, const yaml_node_t *n,
                             tsl_config_dataset *ds) {
    char path[PATH_CAP], sub[PATH_CAP], q[TSL_TEXT_QUOTE_CAP];
    yaml_node_t *v[6], *k[6], *cv[5], *ck[5];
    char *freq = NULL;
    tsl_err rc;
    ds->name = tsl_strndup((const char *)key->data.scalar.value, key->data.scalar.length);
    ds->line = (int)key->start_mark.line + 1;
    snprintf(path, sizeof path, "datasets.%s", ds->name);
    if ((rc = read_map(p, n, path, dataset_keys, NULL, v, k))) goto out;
    join_path(sub, path, "columns");
    if ((rc = read_map(p, v[0], sub, column_keys, NULL, cv, ck))) goto out;
    join_path(sub, path, "columns.item");
    if ((rc = get_column(p, cv[0], sub, "item_id", &ds->item_col))) goto out;
    join_path(sub, path, "columns.timestamp");
    if ((rc = get_column(p, cv[1], sub, "timestamp", &ds->time_col))) goto out;
    join_path(sub, path, "columns.target");
    if ((rc = get_column(p, cv[2], sub, NULL, &ds->target_col))) goto out;
    const char *cols[3] = {ds->item_col, ds->time_col, ds->target_col};
    const yaml_node_t *cnodes[3] = {cv[0], cv[1], cv[2]};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < i; j++)
            if (cols[i] && cols[j] && !strcmp(cols[i], cols[j])) {
                rc = fail_at(p, cnodes[i] ? cnodes[i] : n, TSL_EINVAL,
                             "%s.columns: %s names column '%s' already named by %s, expected "
                             "three different columns",
                             path, column_keys[i], cols[i], column_keys[j]);
                goto out;
            }
    join_path(sub, path, "columns.dimensions");
    if ((rc = get_list(p, cv[3], sub, TSL_CONFIG_MAX_DIMS, "[region, store]", &ds->dims,
                       &ds->ndims)))
        goto out;
    for (size_t i = 0; i < ds->ndims; i++) {
        yaml_node_t *item = yaml_document_get_node(&p->doc, cv[3]->data.sequence.items.start[i]);
        long dup = find_dup(ds->dims, i);
        if (dup >= 0) {
            rc = fail_at(p, item, TSL_EINVAL, "%s: '%s' is listed twice, expected each once", sub,
                         ds->dims[i]);
            goto out;
        }
        for (int c = 0; c < 3; c++)
            if (cols[c] && !strcmp(cols[c], ds->dims[i])) {
                rc = fail_at(p, item, TSL_EINVAL,
                             "%s: '%s' is the %s column, expected the other columns that "
                             "describe an item",
                             sub, ds->dims[i], column_keys[c]);
                goto out;
            }
    }
    join_path(sub, path, "frequency");
    if ((rc = get_text(p, v[1], sub, &freq))) goto out;
    ds->freq.unit = TSL_FREQ_NONE;
    if (freq) {
        tsl_diag fd = {TSL_OK, {0}};
        if (tsl_freq_parse(freq, &ds->freq, &fd)) {
            rc = fail_at(p, v[1], TSL_EINVAL, "%s: %s", sub, fd.msg);
            goto out;
        }
    }
    join_path(sub, path, "timezone");
    if ((rc = get_text(p, v[2], sub, &ds->timezone))) goto out;
    if (!ds->timezone) {
        ds->timezone = tsl_strdup("UTC");
    } else if (!timezone_valid(ds->timezone)) {
        rc = fail_at(p, v[2], TSL_EINVAL,
                     "%s: %s is not a time zone, expected UTC, an IANA name such as "
                     "Europe/Berlin, or an offset such as +05:30",
                     sub, tsl_text_quote(q, sizeof q, ds->timezone, strlen(ds->timezone)));
        goto out;
    }
    join_path(sub, path, "inbox");
    if ((rc = get_text(p, v[3], sub, &ds->inbox))) goto out;
    join_path(sub, path, "non_negative");
    rc = get_bool(p, v[4], sub, &ds->non_negative);
out:
    tsl_free(freq);
    return rc;
}

/* quantiles: a list of distinct probabilities, sorted on the way in. */
static tsl_err parse_quantiles(parser *p, const yaml_node_t *n, const char *path,
                               tsl_config_forecaster *f) {
    const char *example = "[0.1, 0.5, 0.9]";
    if (!n) return TSL_OK; /* defaults set by the caller */
    if (n->type != YAML_SEQUENCE_NODE) {
        char *s = NULL;
        tsl_err rc = n->type == YAML_SCALAR_NODE ? value(p, n, path, &s) : TSL_OK;
        if (rc || (n->type == YAML_SCALAR_NODE && !s)) return rc;
        tsl_free(s);
        return fail_at(p, n, TSL_EINVAL, "%s: got %s, expected a list like %s", path, node_kind(n),
                       example);
    }
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (k == 0)
        return fail_at(p, n, TSL_EINVAL, "%s: an empty list, expected a list like %s", path,
                       example);
    if (k > TSL_METRICS_MAX_LEVELS)
        return fail_at(p, n, TSL_ELIMIT, "%s: %zu levels, expected at most %d", path, k,
                       TSL_METRICS_MAX_LEVELS);
    double lv[TSL_METRICS_MAX_LEVELS];
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *item = yaml_document_get_node(&p->doc, n->data.sequence.items.start[i]);
        tsl_err rc = get_number(p, item, path, 0.0, 1.0, 1,
                                "a probability strictly between 0 and 1, such as 0.9", &lv[i]);
        if (rc) return rc;
        if (lv[i] <= 0.0)
            return fail_at(p, item, TSL_EINVAL,
                           "%s: %g, expected a probability strictly between 0 and 1, such as "
                           "0.9",
                           path, lv[i]);
        /* Insertion sort keeps the file's positions at hand for the duplicate message. */
        for (size_t j = 0; j < i; j++)
            if (lv[j] == lv[i])
                return fail_at(p, item, TSL_EINVAL,
                               "%s: %g is listed twice, expected each level once", path, lv[i]);
    }
    for (size_t i = 1; i < k; i++) {
        double x = lv[i];
        size_t j = i;
        for (; j > 0 && lv[j - 1] > x; j--) lv[j] = lv[j - 1];
        lv[j] = x;
    }
    memcpy(f->levels, lv, k * sizeof *lv);
    f->nq = k;
    assert(tsl_quantile_levels_check(f->levels, f->nq, TSL_METRICS_MAX_LEVELS, NULL) == TSL_OK);
    return TSL_OK;
}

/* season_length: one integer or a list of up to TSL_MAX_PERIODS, sorted on the way in. */
static tsl_err parse_periods(parser *p, const yaml_node_t *n, const char *path,
                             tsl_config_forecaster *f) {
    if (!n) return TSL_OK;
    if (n->type == YAML_SCALAR_NODE) {
        int v = 0;
        tsl_err rc = get_int(p, n, path, 1, TSL_CONFIG_MAX_PERIOD, &v);
        if (rc || v == 0) return rc;
        f->periods[0] = v;
        f->nperiods = 1;
        return TSL_OK;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail_at(p, n, TSL_EINVAL, "%s: got %s, expected an integer or a list like [24, 168]",
                       path, node_kind(n));
    size_t k = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (k > TSL_MAX_PERIODS)
        return fail_at(p, n, TSL_ELIMIT, "%s: %zu season lengths, expected at most %d", path, k,
                       TSL_MAX_PERIODS);
    for (size_t i = 0; i < k; i++) {
        yaml_node_t *item = yaml_document_get_node(&p->doc, n->data.sequence.items.start[i]);
        int v = 0;
        tsl_err rc = get_int(p, item, path, 1, TSL_CONFIG_MAX_PERIOD, &v);
        if (rc) return rc;
        if (v == 0)
            return fail_at(p, item, TSL_EINVAL,
                           "%s: an empty item, expected an integer from 1 to %d", path,
                           TSL_CONFIG_MAX_PERIOD);
        for (size_t j = 0; j < i; j++)
            if (f->periods[j] == v)
                return fail_at(p, item, TSL_EINVAL, "%s: %d is listed twice, expected each once",
                               path, v);
        size_t j = i;
        for (; j > 0 && f->periods[j - 1] > v; j--) f->periods[j] = f->periods[j - 1];
        f->periods[j] = v;
    }
    f->nperiods = k;
    return TSL_OK;
}

/* candidates: model names as tsl_model_spec_parse reads them, kept in canonical text. */
static tsl_err parse_candidates(parser *p, const yaml_node_t *n, const char *path,
                                tsl_config_forecaster *f) {
    tsl_err rc = get_list(p, n, path, TSL_CONFIG_MAX_CANDIDATES, "[ets, theta, snaive]",
                          &f->candidates, &f->ncandidates);
    if (rc || !n) return rc;
    if (f->ncandidates == 0)
        return fail_at(p, n, TSL_EINVAL,
                       "%s: an empty list, expected at least one model (or leave the key out "
                       "for the default set)",
                       path);
    for (size_t i = 0; i < f->ncandidates; i++) {
        yaml_node_t *item = yaml_document_get_node(&p->doc, n->data.sequence.items.start[i]);
        tsl_model_spec spec;
        tsl_diag md = {TSL_OK, {0}};
        if (tsl_model_spec_parse(f->candidates[i], 1, &spec, &md))
            return fail_at(p, item, TSL_EINVAL, "%s: %s", path, md.msg);
        char canon[64];
        size_t cl = tsl_model_spec_format(&spec, canon, sizeof canon);
        if (cl < sizeof canon) {
            tsl_free(f->candidates[i]);
            f->candidates[i] = tsl_strdup(canon);
        }
        if (find_dup(f->candidates, i) >= 0)
            return fail_at(p, item, TSL_EINVAL, "%s: '%s' is listed twice, expected each once",
                           path, f->candidates[i]);
    }
    return TSL_OK;
}

/* 1 when s looks like an e-mail address: local@domain, a dot in the domain, no spaces. */
static int email_valid(const char *s) {
    const char *at = strchr(s, '@');
    size_t n = strlen(s);
    if (!at || at == s || n > 254 || (size_t)(at - s) > 64 || strchr(at + 1, '@')) return 0;
    for (const char *c = s; c < at; c++)
        if (*c == ' ' || *c == '"' || *c == '(' || *c == ')' || *c == ',' || *c == ';' ||
            *c == '<' || *c == '>' || *c == '[' || *c == ']' || *c == '\\')
            return 0;
    const char *dom = at + 1;
    size_t label = 0;
    int dots = 0;
    for (const char *c = dom; *c; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 *c == '-';
        if (*c == '.') {
            if (label == 0) return 0;
            dots++;
            label = 0;
            continue;
        }
        if (!ok || ++label > 63) return 0;
    }
    return dots > 0 && label > 0;
}

static const char *const approval_keys[] = {"policy", "margin", "approvers", NULL};

/* approval: manual | auto, or a mapping {policy, margin, approvers}. */
static tsl_err parse_approval(parser *p, const yaml_node_t *n, const char *path,
                              tsl_config_forecaster *f) {
    char sub[PATH_CAP], q[TSL_TEXT_QUOTE_CAP];
    yaml_node_t *v[3] = {NULL, NULL, NULL}, *k[3];
    const yaml_node_t *policy = NULL;
    char *s = NULL;
    tsl_err rc = TSL_OK;
    if (!n) return TSL_OK;
    if (n->type == YAML_SCALAR_NODE) {
        policy = n;
        join_path(sub, path, NULL);
    } else {
        if ((rc = read_map(p, n, path, approval_keys, NULL, v, k))) return rc;
        policy = v[0];
        join_path(sub, path, "policy");
    }
    if (policy && (rc = get_text(p, policy, sub, &s))) return rc;
    if (s && !strcmp(s, "auto")) {
        f->approval = TSL_APPROVAL_AUTO;
    } else if (s && strcmp(s, "manual")) {
        rc = fail_at(p, policy, TSL_EINVAL, "%s: %s, expected manual or auto", sub,
                     tsl_text_quote(q, sizeof q, s, strlen(s)));
        goto out;
    }
    if (v[1]) {
        join_path(sub, path, "margin");
        if (f->approval != TSL_APPROVAL_AUTO) {
            rc = fail_at(p, v[1], TSL_EINVAL,
                         "%s: a margin applies to automatic approval, expected policy: auto "
                         "with it, or no margin",
                         sub);
            goto out;
        }
        if ((rc = get_number(p, v[1], sub, 0.0, 1.0, 1,
                             "a relative improvement from 0 up to 1, such as 0.05 for 5%",
                             &f->margin)))
            goto out;
    }
    join_path(sub, path, "approvers");
    if ((rc = get_list(p, v[2], sub, TSL_CONFIG_MAX_APPROVERS, "[ana@example.com]", &f->approvers,
                       &f->napprovers)))
        goto out;
    for (size_t i = 0; i < f->napprovers; i++) {
        yaml_node_t *item = yaml_document_get_node(&p->doc, v[2]->data.sequence.items.start[i]);
        if (!email_valid(f->approvers[i])) {
            rc =
                fail_at(p, item, TSL_EINVAL,
                        "%s: %s, expected an e-mail address like "
                        "ana@example.com",
                        sub, tsl_text_quote(q, sizeof q, f->approvers[i], strlen(f->approvers[i])));
            goto out;
        }
        if (find_dup(f->approvers, i) >= 0) {
            rc = fail_at(p, item, TSL_EINVAL, "%s: '%s' is listed twice, expected each once", sub,
                         f->approvers[i]);
            goto out;
        }
    }
out:
    tsl_free(s);
    return rc;
}

static const char *const schedule_keys[] = {"retrain", "forecast", "timezone", NULL};

static tsl_err parse_schedule(parser *p, const yaml_node_t *n, const char *path,
                              tsl_config_forecaster *f) {
    char sub[PATH_CAP];
    yaml_node_t *v[3], *k[3];
    tsl_err rc = read_map(p, n, path, schedule_keys, NULL, v, k);
    if (rc) return rc;
    /* The zone is loaded now, so that an unknown one is refused at load, with its position. */
    join_path(sub, path, "timezone");
    if (v[2] && (rc = get_text(p, v[2], sub, &f->schedule_timezone))) return rc;
    if (!f->schedule_timezone) f->schedule_timezone = tsl_strdup("UTC");
    tsl_diag zd = {TSL_OK, {0}};
    if (tsl_tz_load(f->schedule_timezone, &f->schedule_tz, &zd))
        return v[2] ? fail_at(p, v[2], zd.code, "%s: %s", sub, zd.msg)
                    : tsl_diag_set(p->d, zd.code, "%s: %s", sub, zd.msg);
    char **text[2] = {&f->retrain_cron, &f->forecast_cron};
    tsl_cron *cron[2] = {&f->retrain, &f->forecast};
    for (int i = 0; i < 2; i++) {
        join_path(sub, path, schedule_keys[i]);
        if (!v[i]) continue;
        if ((rc = get_text(p, v[i], sub, text[i]))) return rc;
        if (!*text[i]) continue;
        tsl_diag cd = {TSL_OK, {0}};
        if (tsl_cron_parse(*text[i], cron[i], &cd))
            return fail_at(p, v[i], TSL_EINVAL, "%s: %s", sub, cd.msg);
    }
    return TSL_OK;
}

/* A duration: a whole number followed by s, m, h or d ("6h"); "0" is none. */
static tsl_err get_duration(parser *p, const yaml_node_t *n, const char *path, int64_t *out_ms) {
    if (!n) return TSL_OK;
    char *s = NULL, q[TSL_TEXT_QUOTE_CAP];
    tsl_err rc = value(p, n, path, &s);
    if (rc || !s) goto out;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int64_t unit = 0;
    if (end != s && !errno && v >= 0 && v <= 366LL * 86400) {
        if (!strcmp(end, "s") || (!*end && v == 0))
            unit = 1000;
        else if (!strcmp(end, "m"))
            unit = 60000;
        else if (!strcmp(end, "h"))
            unit = 3600000;
        else if (!strcmp(end, "d"))
            unit = 86400000;
    }
    if (!unit || v * unit > 366LL * 86400000) {
        rc = fail_at(p, n, TSL_EINVAL,
                     "%s: %s, expected a duration of at most a year such as 90s, 30m, 6h or "
                     "1d (0: none)",
                     path, tsl_text_quote(q, sizeof q, s, strlen(s)));
        goto out;
    }
    *out_ms = (int64_t)v * unit;
out:
    tsl_free(s);
    return rc;
}

static const char *const retrain_keys[] = {"on_alarm", "on_new_data", "cooldown", "max_per_day",
                                           NULL};

/* retrain: {on_alarm: true | false | [MONITOR...], on_new_data: true | false | inbox,
 * cooldown: DURATION, max_per_day: N}. Monitor names are not checked against the monitors
 * section: monitors may be declared by another section's parser, and an alarm of an unknown
 * monitor simply never comes. */
static tsl_err parse_retrain(parser *p, const yaml_node_t *n, const char *path,
                             tsl_config_retrain *r) {
    char sub[PATH_CAP], q[TSL_TEXT_QUOTE_CAP];
    yaml_node_t *v[4], *k[4];
    char *s = NULL;
    tsl_err rc = read_map(p, n, path, retrain_keys, NULL, v, k);
    if (rc) return rc;
    join_path(sub, path, "on_alarm");
    if (v[0] && v[0]->type == YAML_SEQUENCE_NODE) {
        if ((rc = get_list(p, v[0], sub, TSL_CONFIG_MAX_NAME, "[accuracy, drift]", &r->monitors,
                           &r->nmonitors)))
            goto out;
        for (size_t i = 0; i < r->nmonitors; i++)
            if (!name_valid(r->monitors[i], strlen(r->monitors[i])) ||
                find_dup(r->monitors, i) >= 0) {
                rc = fail_at(p, v[0], TSL_EINVAL,
                             "%s: %s is not a valid monitor name or is listed twice, expected "
                             "monitor names, each once",
                             sub,
                             tsl_text_quote(q, sizeof q, r->monitors[i], strlen(r->monitors[i])));
                goto out;
            }
        r->on_alarm = r->nmonitors > 0;
    } else if ((rc = get_bool(p, v[0], sub, &r->on_alarm))) {
        goto out;
    }
    join_path(sub, path, "on_new_data");
    if ((rc = get_text(p, v[1], sub, &s))) goto out;
    if (s) {
        if (!strcmp(s, "inbox"))
            r->on_new_data = TSL_ON_NEW_DATA_INBOX;
        else if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
            r->on_new_data = TSL_ON_NEW_DATA_ANY;
        else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
            r->on_new_data = TSL_ON_NEW_DATA_OFF;
        else {
            rc = fail_at(p, v[1], TSL_EINVAL, "%s: %s, expected true, false or inbox", sub,
                         tsl_text_quote(q, sizeof q, s, strlen(s)));
            goto out;
        }
    }
    join_path(sub, path, "cooldown");
    if ((rc = get_duration(p, v[2], sub, &r->cooldown_ms))) goto out;
    join_path(sub, path, "max_per_day");
    rc = get_int(p, v[3], sub, 0, 10000, &r->max_per_day);
out:
    tsl_free(s);
    return rc;
}

static const char *const compare_keys[] = {"windows", "metric", "shadow", NULL};
static const char *const shadow_keys[] = {"endpoint", "windows", NULL};

/* compare.shadow: {endpoint: NAME, windows: N} (windows 0: compare.windows). */
static tsl_err parse_compare_shadow(parser *p, const yaml_node_t *n, const char *path,
                                    tsl_config_forecaster *f) {
    char sub[PATH_CAP];
    yaml_node_t *v[2], *k[2];
    tsl_err rc = read_map(p, n, path, shadow_keys, NULL, v, k);
    if (rc) return rc;
    join_path(sub, path, "endpoint");
    if (!v[0])
        return fail_at(p, n, TSL_EINVAL, "%s: the endpoint to run in shadow on is required", path);
    if ((rc = get_text(p, v[0], sub, &f->shadow_endpoint))) return rc;
    if (!f->shadow_endpoint || !tsl_config_name_valid(f->shadow_endpoint))
        return fail_at(p, v[0], TSL_EINVAL, "%s: expected an endpoint name", sub);
    join_path(sub, path, "windows");
    return get_int(p, v[1], sub, 1, 10000, &f->shadow_windows);
}

/* compare: {windows: N, metric: NAME, shadow: {...}}, after the forecaster's metric (its
 * default). */
static tsl_err parse_compare(parser *p, const yaml_node_t *n, const char *path,
                             tsl_config_forecaster *f) {
    char sub[PATH_CAP];
    yaml_node_t *v[3], *k[3];
    char *metric = NULL;
    f->compare_windows = 7;
    f->compare_metric = f->metric;
    tsl_err rc = read_map(p, n, path, compare_keys, NULL, v, k);
    if (rc) return rc;
    join_path(sub, path, "windows");
    if ((rc = get_int(p, v[0], sub, 1, 1000, &f->compare_windows))) goto out;
    join_path(sub, path, "shadow");
    if (v[2] && (rc = parse_compare_shadow(p, v[2], sub, f))) goto out;
    join_path(sub, path, "metric");
    if ((rc = get_text(p, v[1], sub, &metric)) || !metric) goto out;
    tsl_diag md = {TSL_OK, {0}};
    if (tsl_metric_parse(metric, &f->compare_metric, &md) ||
        f->compare_metric == TSL_METRIC_COVERAGE) {
        rc =
            fail_at(p, v[1], TSL_EINVAL,
                    "%s: %s, expected mase, smape, mape, rmse, mae, wape or mean_wql", sub, metric);
        goto out;
    }
out:
    tsl_free(metric);
    return rc;
}

static const char *const forecaster_keys[] = {
    "dataset",       "horizon",          "quantiles", "metric",   "candidates",
    "season_length", "backtest_windows", "ensembles", "split_by", "approval",
    "schedule",      "retrain",          "compare",   NULL};

enum {
    FK_DATASET,
    FK_HORIZON,
    FK_QUANTILES,
    FK_METRIC,
    FK_CANDIDATES,
    FK_SEASON,
    FK_WINDOWS,
    FK_ENSEMBLES,
    FK_SPLIT,
    FK_APPROVAL,
    FK_SCHEDULE,
    FK_RETRAIN,
    FK_COMPARE,
    FK_COUNT
};

static tsl_err parse_forecaster(parser *p, const yaml_node_t *key, const yaml_node_t *n,
                                const tsl_config *cfg, tsl_config_forecaster *f) {
    char path[PATH_CAP], sub[PATH_CAP], q[TSL_TEXT_QUOTE_CAP];
    yaml_node_t *v[FK_COUNT], *k[FK_COUNT];
    char *metric = NULL;
    tsl_err rc;
    f->name = tsl_strndup((const char *)key->data.scalar.value, key->data.scalar.length);
    f->line = (int)key->start_mark.line + 1;
    f->levels[0] = 0.1;
    f->levels[1] = 0.5;
    f->levels[2] = 0.9;
    f->nq = 3;
    f->metric = TSL_METRIC_MASE;
    f->windows = 3;
    f->ensembles = 1;
    f->approval = TSL_APPROVAL_MANUAL;
    snprintf(path, sizeof path, "forecasters.%s", f->name);
    if ((rc = read_map(p, n, path, forecaster_keys, NULL, v, k))) goto out;

    join_path(sub, path, "dataset");
    if ((rc = get_text(p, v[FK_DATASET], sub, &f->dataset))) goto out;
    if (!f->dataset) {
        rc = fail_at(p, v[FK_DATASET] ? v[FK_DATASET] : key, TSL_EINVAL,
                     "%s: no dataset, expected dataset: NAME, one of the datasets defined "
                     "under datasets",
                     path);
        goto out;
    }
    size_t di = 0;
    while (di < cfg->ndatasets && strcmp(cfg->datasets[di].name, f->dataset)) di++;
    if (di == cfg->ndatasets) {
        char names[256] = "";
        size_t o = 0;
        for (size_t i = 0; i < cfg->ndatasets && o < sizeof names; i++) {
            int w =
                snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "", cfg->datasets[i].name);
            if (w < 0) break;
            o += (size_t)w;
        }
        rc = fail_at(p, v[FK_DATASET], TSL_EINVAL, "%s: dataset %s is not defined, expected %s%s",
                     sub, tsl_text_quote(q, sizeof q, f->dataset, strlen(f->dataset)),
                     cfg->ndatasets ? "one of " : "a dataset defined under datasets",
                     cfg->ndatasets ? names : "");
        goto out;
    }
    f->dataset_index = di;
    const tsl_config_dataset *ds = &cfg->datasets[di];

    join_path(sub, path, "horizon");
    if ((rc = get_int(p, v[FK_HORIZON], sub, 1, TSL_CONFIG_MAX_HORIZON, &f->horizon))) goto out;
    if (f->horizon == 0) {
        rc = fail_at(p, v[FK_HORIZON] ? v[FK_HORIZON] : key, TSL_EINVAL,
                     "%s: no horizon, expected horizon: STEPS, the number of steps to forecast",
                     path);
        goto out;
    }
    join_path(sub, path, "quantiles");
    if ((rc = parse_quantiles(p, v[FK_QUANTILES], sub, f))) goto out;
    join_path(sub, path, "metric");
    if ((rc = get_text(p, v[FK_METRIC], sub, &metric))) goto out;
    if (metric) {
        tsl_diag md = {TSL_OK, {0}};
        if (tsl_metric_parse(metric, &f->metric, &md)) {
            rc = fail_at(p, v[FK_METRIC], TSL_EINVAL, "%s: %s", sub, md.msg);
            goto out;
        }
        if (f->metric == TSL_METRIC_COVERAGE) {
            rc = fail_at(p, v[FK_METRIC], TSL_EINVAL,
                         "%s: coverage measures intervals and cannot rank models, expected "
                         "mase, smape, mape, rmse, mae, wape or mean_wql",
                         sub);
            goto out;
        }
    }
    join_path(sub, path, "candidates");
    if ((rc = parse_candidates(p, v[FK_CANDIDATES], sub, f))) goto out;
    join_path(sub, path, "season_length");
    if ((rc = parse_periods(p, v[FK_SEASON], sub, f))) goto out;
    join_path(sub, path, "backtest_windows");
    if ((rc = get_int(p, v[FK_WINDOWS], sub, 1, TSL_BT_MAX_WINDOWS, &f->windows))) goto out;
    join_path(sub, path, "ensembles");
    if ((rc = get_bool(p, v[FK_ENSEMBLES], sub, &f->ensembles))) goto out;

    join_path(sub, path, "split_by");
    if ((rc = get_list(p, v[FK_SPLIT], sub, TSL_CONFIG_MAX_SPLIT, "[region]", &f->split_by,
                       &f->nsplit)))
        goto out;
    for (size_t i = 0; i < f->nsplit; i++) {
        yaml_node_t *item =
            yaml_document_get_node(&p->doc, v[FK_SPLIT]->data.sequence.items.start[i]);
        const char *c = f->split_by[i];
        if (find_dup(f->split_by, i) >= 0) {
            rc = fail_at(p, item, TSL_EINVAL, "%s: '%s' is listed twice, expected each once", sub,
                         c);
            goto out;
        }
        if (!strcmp(c, ds->item_col) || !strcmp(c, ds->time_col) ||
            (ds->target_col && !strcmp(c, ds->target_col))) {
            rc = fail_at(p, item, TSL_EINVAL,
                         "%s: '%s' is an item, timestamp or target column of dataset '%s', "
                         "expected a dimension column",
                         sub, c, ds->name);
            goto out;
        }
        if (ds->ndims) {
            size_t j = 0;
            while (j < ds->ndims && strcmp(ds->dims[j], c)) j++;
            if (j == ds->ndims) {
                char names[256] = "";
                size_t o = 0;
                for (size_t m = 0; m < ds->ndims && o < sizeof names; m++) {
                    int w =
                        snprintf(names + o, sizeof names - o, "%s%s", m ? ", " : "", ds->dims[m]);
                    if (w < 0) break;
                    o += (size_t)w;
                }
                rc = fail_at(p, item, TSL_EINVAL,
                             "%s: '%s' is not a dimension of dataset '%s', expected one of %s", sub,
                             c, ds->name, names);
                goto out;
            }
        }
    }
    join_path(sub, path, "approval");
    if ((rc = parse_approval(p, v[FK_APPROVAL], sub, f))) goto out;
    join_path(sub, path, "schedule");
    if ((rc = parse_schedule(p, v[FK_SCHEDULE], sub, f))) goto out;
    join_path(sub, path, "retrain");
    if ((rc = parse_retrain(p, v[FK_RETRAIN], sub, &f->triggers))) goto out;
    join_path(sub, path, "compare");
    rc = parse_compare(p, v[FK_COMPARE], sub, f);
out:
    tsl_free(metric);
    return rc;
}

const char *tsl_auto_deploy_name(tsl_auto_deploy a) {
    switch (a) {
    case TSL_AUTO_DEPLOY_ON_APPROVAL:
        return "on_approval";
    case TSL_AUTO_DEPLOY_ON_REGISTER:
        return "on_register";
    case TSL_AUTO_DEPLOY_OFF:
        break;
    }
    return "off";
}

static const char *const endpoint_keys[] = {"forecaster", "requires_approval", "auto_deploy", NULL};

/* One endpoint: {forecaster, requires_approval, auto_deploy}. Forecasters are parsed first. */
static tsl_err parse_endpoint(parser *p, const yaml_node_t *key, const yaml_node_t *n,
                              const tsl_config *cfg, tsl_config_endpoint *e) {
    char path[PATH_CAP], sub[PATH_CAP], q[TSL_TEXT_QUOTE_CAP];
    yaml_node_t *v[3], *k[3];
    char *ad = NULL;
    tsl_err rc;
    e->name = tsl_strndup((const char *)key->data.scalar.value, key->data.scalar.length);
    e->line = (int)key->start_mark.line + 1;
    e->requires_approval = 1;
    snprintf(path, sizeof path, "endpoints.%s", e->name);
    if ((rc = read_map(p, n, path, endpoint_keys, NULL, v, k))) return rc;
    join_path(sub, path, "forecaster");
    if ((rc = get_text(p, v[0], sub, &e->forecaster))) return rc;
    if (e->forecaster) {
        size_t fi = 0;
        while (fi < cfg->nforecasters && strcmp(cfg->forecasters[fi].name, e->forecaster)) fi++;
        if (fi == cfg->nforecasters)
            return fail_at(p, v[0], TSL_EINVAL,
                           "%s: %s, expected one of the forecasters defined under forecasters:",
                           sub, tsl_text_quote(q, sizeof q, e->forecaster, strlen(e->forecaster)));
        e->forecaster_index = fi;
    }
    join_path(sub, path, "requires_approval");
    if ((rc = get_bool(p, v[1], sub, &e->requires_approval))) return rc;
    join_path(sub, path, "auto_deploy");
    if ((rc = get_text(p, v[2], sub, &ad))) return rc;
    if (ad) {
        if (!strcmp(ad, "on_approval"))
            e->auto_deploy = TSL_AUTO_DEPLOY_ON_APPROVAL;
        else if (!strcmp(ad, "on_register"))
            e->auto_deploy = TSL_AUTO_DEPLOY_ON_REGISTER;
        else if (strcmp(ad, "off")) {
            rc = fail_at(p, v[2], TSL_EINVAL, "%s: %s, expected off, on_approval or on_register",
                         sub, tsl_text_quote(q, sizeof q, ad, strlen(ad)));
            goto out;
        }
    }
    if (e->auto_deploy && !e->forecaster) {
        rc = fail_at(p, v[2], TSL_EINVAL,
                     "%s: automatic deployment needs to know what to deploy, expected "
                     "forecaster: NAME in %s",
                     sub, path);
        goto out;
    }
    if (e->auto_deploy == TSL_AUTO_DEPLOY_ON_REGISTER && e->requires_approval) {
        rc = fail_at(p, v[2], TSL_EINVAL,
                     "%s: on_register deploys versions before anyone approves them, expected "
                     "requires_approval: false with it (or auto_deploy: on_approval)",
                     sub);
        goto out;
    }
out:
    tsl_free(ad);
    return rc;
}

static const char *const root_keys[] = {"version",     "name",      "store",    "datasets",
                                        "forecasters", "endpoints", "monitors", "notifications",
                                        "server",      NULL};

/* The whole file: top-level keys, then datasets, then forecasters (which refer to them).
 * cfg may be partly filled on failure; tsl_config_free releases it. */
static tsl_err parse_root(parser *p, const yaml_node_t *root, tsl_config *cfg) {
    yaml_node_t *v[9], *k[9];
    yaml_node_pair_t *pairs;
    size_t np;
    char *name = NULL;
    tsl_err rc;
    if (root->type != YAML_MAPPING_NODE) {
        char list[128];
        join_list(list, sizeof list, root_keys);
        return fail_at(p, root, TSL_EINVAL, "the file holds %s, expected a mapping with keys %s",
                       node_kind(root), list);
    }
    if ((rc = read_map(p, root, "", root_keys, reserved_sections, v, k))) return rc;
    cfg->version = 1;
    if ((rc = get_int(p, v[0], "version", 1, 1000000, &cfg->version))) return rc;
    if (cfg->version != 1)
        return fail_at(p, v[0], TSL_EUNSUPPORTED,
                       "version: %d is newer than this tsloop reads, expected 1", cfg->version);
    if ((rc = get_text(p, v[1], "name", &name))) return rc;
    if (!name)
        return fail_at(p, v[1] ? v[1] : root, TSL_EINVAL,
                       "no project name, expected name: NAME at the top of the file");
    if (!name_valid(name, strlen(name))) {
        rc = fail_name(p, v[1], "project name", name, strlen(name));
        tsl_free(name);
        return rc;
    }
    cfg->name = name;
    if ((rc = parse_store(p, v[2], &cfg->store))) return rc;

    if ((rc = read_named(p, v[3], "datasets", "dataset", TSL_CONFIG_MAX_DATASETS, &pairs, &np)))
        return rc;
    if (np) cfg->datasets = tsl_calloc(np, sizeof *cfg->datasets);
    for (size_t i = 0; i < np; i++) {
        cfg->ndatasets = i + 1; /* counted before parsing, so a failure still frees it */
        if ((rc =
                 parse_dataset(p, yaml_document_get_node(&p->doc, pairs[i].key),
                               yaml_document_get_node(&p->doc, pairs[i].value), &cfg->datasets[i])))
            return rc;
        const tsl_config_dataset *ds = &cfg->datasets[i];
        for (size_t j = 0; ds->inbox && j < i; j++)
            if (cfg->datasets[j].inbox && !strcmp(cfg->datasets[j].inbox, ds->inbox))
                return fail_at(p, yaml_document_get_node(&p->doc, pairs[i].key), TSL_EINVAL,
                               "datasets.%s.inbox: '%s' is already the inbox of dataset '%s', "
                               "expected a folder of its own",
                               ds->name, ds->inbox, cfg->datasets[j].name);
    }
    if ((rc = read_named(p, v[4], "forecasters", "forecaster", TSL_CONFIG_MAX_FORECASTERS, &pairs,
                         &np)))
        return rc;
    if (np) cfg->forecasters = tsl_calloc(np, sizeof *cfg->forecasters);
    for (size_t i = 0; i < np; i++) {
        cfg->nforecasters = i + 1;
        if ((rc = parse_forecaster(p, yaml_document_get_node(&p->doc, pairs[i].key),
                                   yaml_document_get_node(&p->doc, pairs[i].value), cfg,
                                   &cfg->forecasters[i])))
            return rc;
    }
    if ((rc = read_named(p, v[5], "endpoints", "endpoint", TSL_CONFIG_MAX_ENDPOINTS, &pairs, &np)))
        return rc;
    if (np) cfg->endpoints = tsl_calloc(np, sizeof *cfg->endpoints);
    for (size_t i = 0; i < np; i++) {
        cfg->nendpoints = i + 1;
        if ((rc = parse_endpoint(p, yaml_document_get_node(&p->doc, pairs[i].key),
                                 yaml_document_get_node(&p->doc, pairs[i].value), cfg,
                                 &cfg->endpoints[i])))
            return rc;
    }
    if ((rc = tsl_config_monitors_parse(&p->doc, v[6], p->file, cfg, p->d))) return rc;
    if ((rc = tsl_config_notify_parse(p, v[7], &cfg->notify))) return rc;
    return tsl_cfg_parse_server(p, v[8], &cfg->server);
}

/* First pass: refuses input nested deeper than MAX_DEPTH or with more than MAX_NODES nodes,
 * and reports YAML syntax errors. */
static tsl_err prescan(parser *p) {
    yaml_parser_t yp;
    yaml_event_t ev;
    size_t depth = 0, nodes = 0;
    tsl_err rc = TSL_OK;
    yaml_parser_initialize(&yp);
    yaml_parser_set_input_string(&yp, (const unsigned char *)p->text, p->len);
    for (;;) {
        if (!yaml_parser_parse(&yp, &ev)) {
            rc = fail_yaml(p, &yp);
            break;
        }
        yaml_event_type_t t = ev.type;
        size_t line = ev.start_mark.line, col = ev.start_mark.column;
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT) break;
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > MAX_DEPTH) {
                rc = fail_pos(p, line, col, TSL_ELIMIT,
                              "nested more than %d levels deep, expected a configuration "
                              "(which nests four)",
                              MAX_DEPTH);
                break;
            }
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
        if ((t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
             t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) &&
            ++nodes > MAX_NODES) {
            rc = fail_pos(p, line, col, TSL_ELIMIT, "more than %d YAML nodes, expected fewer",
                          MAX_NODES);
            break;
        }
    }
    yaml_parser_delete(&yp);
    return rc;
}

/* Frees what a dataset holds (the struct itself belongs to the array). */
static void dataset_release(tsl_config_dataset *ds) {
    tsl_free(ds->name);
    tsl_free(ds->item_col);
    tsl_free(ds->time_col);
    tsl_free(ds->target_col);
    free_strings(ds->dims, ds->ndims);
    tsl_free(ds->timezone);
    tsl_free(ds->inbox);
}

/* Frees what a forecaster holds (the struct itself belongs to the array). */
static void forecaster_release(tsl_config_forecaster *f) {
    tsl_free(f->name);
    tsl_free(f->dataset);
    free_strings(f->candidates, f->ncandidates);
    free_strings(f->split_by, f->nsplit);
    free_strings(f->approvers, f->napprovers);
    tsl_free(f->retrain_cron);
    tsl_free(f->shadow_endpoint);
    tsl_free(f->forecast_cron);
    tsl_free(f->schedule_timezone);
    tsl_tz_free(f->schedule_tz);
    free_strings(f->triggers.monitors, f->triggers.nmonitors);
}

void tsl_config_free(tsl_config *cfg) {
    if (!cfg) return;
    tsl_free(cfg->name);
    tsl_free(cfg->store.location);
    for (size_t i = 0; i < cfg->ndatasets; i++) dataset_release(&cfg->datasets[i]);
    tsl_free(cfg->datasets);
    for (size_t i = 0; i < cfg->nforecasters; i++) forecaster_release(&cfg->forecasters[i]);
    tsl_free(cfg->forecasters);
    for (size_t i = 0; i < cfg->nendpoints; i++) {
        tsl_free(cfg->endpoints[i].name);
        tsl_free(cfg->endpoints[i].forecaster);
    }
    tsl_free(cfg->endpoints);
    tsl_config_notify_free(cfg->notify);
    tsl_cfg_server_release(&cfg->server);
    tsl_config_monitors_free(cfg);
    tsl_free(cfg);
}

tsl_err tsl_config_parse(const char *text, size_t len, const char *filename,
                         const tsl_config_opts *opts, tsl_config **out, tsl_diag *d) {
    parser p;
    memset(&p, 0, sizeof p);
    p.file = filename ? filename : "tsloop.yaml";
    p.text = text;
    p.len = len;
    p.opts = opts;
    p.d = d;
    yaml_parser_t yp;
    tsl_config *cfg = NULL;
    int loaded = 0;
    tsl_err rc;
    if (len > TSL_CONFIG_MAX_BYTES)
        return tsl_diag_set(d, TSL_ELIMIT, "%s: %zu bytes, expected at most %d", p.file, len,
                            TSL_CONFIG_MAX_BYTES);
    if ((rc = prescan(&p))) return rc;
    yaml_parser_initialize(&yp);
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    if (!yaml_parser_load(&yp, &p.doc)) {
        rc = fail_yaml(&p, &yp);
        goto out;
    }
    loaded = 1;
    yaml_node_t *root = yaml_document_get_root_node(&p.doc);
    if (!root) {
        rc = fail_pos(&p, 0, 0, TSL_EINVAL,
                      "the file is empty, expected a configuration with name, datasets and "
                      "forecasters (tsloop init writes one)");
        goto out;
    }
    yaml_document_t next;
    if (!yaml_parser_load(&yp, &next)) {
        rc = fail_yaml(&p, &yp);
        goto out;
    }
    yaml_node_t *extra = yaml_document_get_root_node(&next);
    if (extra) {
        rc = fail_at(&p, extra, TSL_EINVAL,
                     "a second YAML document, expected the configuration as one document");
        yaml_document_delete(&next);
        goto out;
    }
    yaml_document_delete(&next);
    cfg = tsl_calloc(1, sizeof *cfg);
    if ((rc = parse_root(&p, root, cfg))) goto out;
    *out = cfg;
    cfg = NULL;
out:
    tsl_config_free(cfg);
    if (loaded) yaml_document_delete(&p.doc);
    yaml_parser_delete(&yp);
    return rc;
}

tsl_err tsl_config_load(const char *path, const tsl_config_opts *opts, tsl_config **out,
                        tsl_diag *d) {
    FILE *f = fopen(path, "rb");
    if (!f) return tsl_diag_set(d, TSL_EIO, "cannot open %s: %s", path, strerror(errno));
    tsl_err rc = TSL_OK;
    size_t cap = 8192, n = 0;
    char *buf = tsl_malloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap > TSL_CONFIG_MAX_BYTES) break;
            buf = tsl_realloc(buf, cap *= 2);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0) break;
        n += got;
    }
    if (ferror(f)) {
        rc = tsl_diag_set(d, TSL_EIO, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (n > TSL_CONFIG_MAX_BYTES) {
        rc = tsl_diag_set(d, TSL_ELIMIT, "%s: more than %d bytes, expected a smaller file", path,
                          TSL_CONFIG_MAX_BYTES);
        goto out;
    }
    rc = tsl_config_parse(buf, n, path, opts, out, d);
out:
    fclose(f);
    tsl_free(buf);
    return rc;
}

const tsl_config_dataset *tsl_config_dataset_find(const tsl_config *cfg, const char *name) {
    for (size_t i = 0; i < cfg->ndatasets; i++)
        if (!strcmp(cfg->datasets[i].name, name)) return &cfg->datasets[i];
    return NULL;
}

const tsl_config_forecaster *tsl_config_forecaster_find(const tsl_config *cfg, const char *name) {
    for (size_t i = 0; i < cfg->nforecasters; i++)
        if (!strcmp(cfg->forecasters[i].name, name)) return &cfg->forecasters[i];
    return NULL;
}

const tsl_config_endpoint *tsl_config_endpoint_find(const tsl_config *cfg, const char *name) {
    for (size_t i = 0; i < cfg->nendpoints; i++)
        if (!strcmp(cfg->endpoints[i].name, name)) return &cfg->endpoints[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Normalised text and hashes                                                                 */

/* Appends s as a YAML double-quoted string that reads back to s without interpolation. */
static void put_str(tsl_wbuf *b, const char *s) {
    tsl_wbuf_putc(b, '"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            tsl_wbuf_printf(b, "\\%c", *c);
        else if (*c == '$')
            tsl_wbuf_puts(b, "$$");
        else if (*c < 0x20 || *c == 0x7f)
            tsl_wbuf_printf(b, "\\x%02x", *c);
        else
            tsl_wbuf_putc(b, (char)*c);
    }
    tsl_wbuf_putc(b, '"');
}

/* Appends the shortest decimal form of v that strtod reads back as v. */
static void put_num(tsl_wbuf *b, double v) {
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    tsl_wbuf_puts(b, buf);
}

/* Appends "INDENTkey: [\"a\", \"b\"]\n"; nothing for an empty list (the key's default). */
static void put_list(tsl_wbuf *b, const char *indent, const char *key, char *const *v, size_t n) {
    if (!n) return;
    tsl_wbuf_printf(b, "%s%s: [", indent, key);
    for (size_t i = 0; i < n; i++) {
        if (i) tsl_wbuf_puts(b, ", ");
        put_str(b, v[i]);
    }
    tsl_wbuf_puts(b, "]\n");
}

/* The frequency with its anchor: "M", "MS", "ME", "2QS", ... (tsl_freq_parse's spelling). */
static void put_freq(tsl_wbuf *b, tsl_freq f) {
    char buf[32];
    tsl_freq_format(f, buf, sizeof buf);
    int calendar =
        f.unit == TSL_FREQ_MONTH || f.unit == TSL_FREQ_QUARTER || f.unit == TSL_FREQ_YEAR;
    const char *suffix = !calendar                        ? ""
                         : f.anchor == 1                  ? "S"
                         : f.anchor == TSL_FREQ_MONTH_END ? "E"
                                                          : "";
    tsl_wbuf_putc(b, '"');
    tsl_wbuf_puts(b, buf);
    tsl_wbuf_puts(b, suffix);
    tsl_wbuf_putc(b, '"');
}

/* A dataset's settings at indent ind; full = 0 keeps only what shapes models. */
static void put_dataset(tsl_wbuf *b, const char *ind, const tsl_config_dataset *ds, int full) {
    tsl_wbuf_printf(b, "%scolumns:\n%s  item: ", ind, ind);
    put_str(b, ds->item_col);
    tsl_wbuf_printf(b, "\n%s  timestamp: ", ind);
    put_str(b, ds->time_col);
    tsl_wbuf_putc(b, '\n');
    if (ds->target_col) {
        tsl_wbuf_printf(b, "%s  target: ", ind);
        put_str(b, ds->target_col);
        tsl_wbuf_putc(b, '\n');
    }
    char sub[32];
    snprintf(sub, sizeof sub, "%s  ", ind);
    put_list(b, sub, "dimensions", ds->dims, ds->ndims);
    if (ds->freq.unit != TSL_FREQ_NONE) {
        tsl_wbuf_printf(b, "%sfrequency: ", ind);
        put_freq(b, ds->freq);
        tsl_wbuf_putc(b, '\n');
    }
    if (full) {
        tsl_wbuf_printf(b, "%stimezone: ", ind);
        put_str(b, ds->timezone);
        tsl_wbuf_putc(b, '\n');
        if (ds->inbox) {
            tsl_wbuf_printf(b, "%sinbox: ", ind);
            put_str(b, ds->inbox);
            tsl_wbuf_putc(b, '\n');
        }
    }
    tsl_wbuf_printf(b, "%snon_negative: %s\n", ind, ds->non_negative ? "true" : "false");
}

/* A forecaster's settings at indent ind; full = 0 keeps only what shapes models. */
static void put_forecaster(tsl_wbuf *b, const char *ind, const tsl_config_forecaster *f, int full) {
    if (full) {
        tsl_wbuf_printf(b, "%sdataset: ", ind);
        put_str(b, f->dataset);
        tsl_wbuf_putc(b, '\n');
    }
    tsl_wbuf_printf(b, "%shorizon: %d\n%squantiles: [", ind, f->horizon, ind);
    for (size_t i = 0; i < f->nq; i++) {
        if (i) tsl_wbuf_puts(b, ", ");
        put_num(b, f->levels[i]);
    }
    tsl_wbuf_printf(b, "]\n%smetric: \"%s\"\n", ind, tsl_metric_name(f->metric));
    put_list(b, ind, "candidates", f->candidates, f->ncandidates);
    if (f->nperiods) {
        tsl_wbuf_printf(b, "%sseason_length: [", ind);
        for (size_t i = 0; i < f->nperiods; i++)
            tsl_wbuf_printf(b, "%s%d", i ? ", " : "", f->periods[i]);
        tsl_wbuf_puts(b, "]\n");
    }
    tsl_wbuf_printf(b, "%sbacktest_windows: %d\n%sensembles: %s\n", ind, f->windows, ind,
                    f->ensembles ? "true" : "false");
    put_list(b, ind, "split_by", f->split_by, f->nsplit);
    if (!full) return;
    tsl_wbuf_printf(b, "%sapproval:\n%s  policy: \"%s\"\n", ind, ind,
                    f->approval == TSL_APPROVAL_AUTO ? "auto" : "manual");
    if (f->approval == TSL_APPROVAL_AUTO) {
        tsl_wbuf_printf(b, "%s  margin: ", ind);
        put_num(b, f->margin);
        tsl_wbuf_putc(b, '\n');
    }
    char sub[32];
    snprintf(sub, sizeof sub, "%s  ", ind);
    put_list(b, sub, "approvers", f->approvers, f->napprovers);
    /* The zone is written only when not UTC, so that configurations without one keep their
     * hash. */
    int zoned = f->schedule_timezone && strcmp(f->schedule_timezone, "UTC");
    if (f->retrain_cron || f->forecast_cron || zoned) {
        char cron[160];
        tsl_wbuf_printf(b, "%sschedule:\n", ind);
        if (zoned) {
            tsl_wbuf_printf(b, "%s  timezone: ", ind);
            put_str(b, f->schedule_timezone);
            tsl_wbuf_putc(b, '\n');
        }
        if (f->retrain_cron) {
            tsl_cron_format(&f->retrain, cron, sizeof cron);
            tsl_wbuf_printf(b, "%s  retrain: \"%s\"\n", ind, cron);
        }
        if (f->forecast_cron) {
            tsl_cron_format(&f->forecast, cron, sizeof cron);
            tsl_wbuf_printf(b, "%s  forecast: \"%s\"\n", ind, cron);
        }
    }
    /* Written only when set, so that configurations without them keep their hash. */
    const tsl_config_retrain *r = &f->triggers;
    static const char *const on_data[] = {"false", "true", "\"inbox\""};
    if (r->on_alarm || r->on_new_data || r->cooldown_ms || r->max_per_day) {
        tsl_wbuf_printf(b, "%sretrain:\n", ind);
        if (r->nmonitors)
            put_list(b, sub, "on_alarm", r->monitors, r->nmonitors);
        else
            tsl_wbuf_printf(b, "%s  on_alarm: %s\n", ind, r->on_alarm ? "true" : "false");
        tsl_wbuf_printf(b, "%s  on_new_data: %s\n%s  cooldown: \"%llds\"\n%s  max_per_day: %d\n",
                        ind, on_data[r->on_new_data], ind, (long long)(r->cooldown_ms / 1000), ind,
                        r->max_per_day);
    }
    if (f->compare_windows != 7 || f->compare_metric != f->metric || f->shadow_endpoint)
        tsl_wbuf_printf(b, "%scompare:\n%s  windows: %d\n%s  metric: \"%s\"\n", ind, ind,
                        f->compare_windows, ind, tsl_metric_name(f->compare_metric));
    if (f->shadow_endpoint)
        tsl_wbuf_printf(b, "%s  shadow:\n%s    endpoint: \"%s\"\n%s    windows: %d\n", ind, ind,
                        f->shadow_endpoint, ind, f->shadow_windows);
}

/* qsort orders of dataset and forecaster pointers by name (bytewise). */
static int cmp_dataset_ptr(const void *a, const void *b) {
    return strcmp((*(const tsl_config_dataset *const *)a)->name,
                  (*(const tsl_config_dataset *const *)b)->name);
}

static int cmp_forecaster_ptr(const void *a, const void *b) {
    return strcmp((*(const tsl_config_forecaster *const *)a)->name,
                  (*(const tsl_config_forecaster *const *)b)->name);
}

static int cmp_endpoint_ptr(const void *a, const void *b) {
    return strcmp((*(const tsl_config_endpoint *const *)a)->name,
                  (*(const tsl_config_endpoint *const *)b)->name);
}

void tsl_config_normalize(const tsl_config *cfg, tsl_wbuf *out) {
    tsl_wbuf_printf(out, "version: %d\nname: ", cfg->version);
    put_str(out, cfg->name);
    tsl_wbuf_putc(out, '\n');
    if (cfg->ndatasets) {
        const tsl_config_dataset **ds = tsl_malloc(cfg->ndatasets * sizeof *ds);
        for (size_t i = 0; i < cfg->ndatasets; i++) ds[i] = &cfg->datasets[i];
        qsort(ds, cfg->ndatasets, sizeof *ds, cmp_dataset_ptr);
        tsl_wbuf_puts(out, "datasets:\n");
        for (size_t i = 0; i < cfg->ndatasets; i++) {
            tsl_wbuf_puts(out, "  ");
            put_str(out, ds[i]->name);
            tsl_wbuf_puts(out, ":\n");
            put_dataset(out, "    ", ds[i], 1);
        }
        tsl_free(ds);
    }
    if (cfg->nforecasters) {
        const tsl_config_forecaster **fs = tsl_malloc(cfg->nforecasters * sizeof *fs);
        for (size_t i = 0; i < cfg->nforecasters; i++) fs[i] = &cfg->forecasters[i];
        qsort(fs, cfg->nforecasters, sizeof *fs, cmp_forecaster_ptr);
        tsl_wbuf_puts(out, "forecasters:\n");
        for (size_t i = 0; i < cfg->nforecasters; i++) {
            tsl_wbuf_puts(out, "  ");
            put_str(out, fs[i]->name);
            tsl_wbuf_puts(out, ":\n");
            put_forecaster(out, "    ", fs[i], 1);
        }
        tsl_free(fs);
    }
    if (cfg->nendpoints) {
        const tsl_config_endpoint **es = tsl_malloc(cfg->nendpoints * sizeof *es);
        for (size_t i = 0; i < cfg->nendpoints; i++) es[i] = &cfg->endpoints[i];
        qsort(es, cfg->nendpoints, sizeof *es, cmp_endpoint_ptr);
        tsl_wbuf_puts(out, "endpoints:\n");
        for (size_t i = 0; i < cfg->nendpoints; i++) {
            tsl_wbuf_puts(out, "  ");
            put_str(out, es[i]->name);
            tsl_wbuf_puts(out, ":\n");
            if (es[i]->forecaster) {
                tsl_wbuf_puts(out, "    forecaster: ");
                put_str(out, es[i]->forecaster);
                tsl_wbuf_putc(out, '\n');
            }
            tsl_wbuf_printf(out, "    requires_approval: %s\n    auto_deploy: \"%s\"\n",
                            es[i]->requires_approval ? "true" : "false",
                            tsl_auto_deploy_name(es[i]->auto_deploy));
        }
        tsl_free(es);
    }
}

/* SHA-256 of b's bytes as hex. */
static void sha256_hex(const tsl_wbuf *b, char hex[TSL_CONFIG_HASH_HEX + 1]) {
    /* sodium_init is idempotent and thread-safe; SHA-256 needs nothing else from it. */
    if (sodium_init() < 0) {
        fputs("tsloop: libsodium could not be initialised\n", stderr);
        abort();
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, b->data ? b->data : (const unsigned char *)"", b->len);
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof h; i++) {
        hex[2 * i] = digits[h[i] >> 4];
        hex[2 * i + 1] = digits[h[i] & 15];
    }
    hex[TSL_CONFIG_HASH_HEX] = '\0';
}

void tsl_config_hash(const tsl_config *cfg, char hex[TSL_CONFIG_HASH_HEX + 1]) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_config_normalize(cfg, &b);
    sha256_hex(&b, hex);
    tsl_wbuf_release(&b);
}

void tsl_config_forecaster_hash(const tsl_config *cfg, const tsl_config_forecaster *f,
                                char hex[TSL_CONFIG_HASH_HEX + 1]) {
    assert(f->dataset_index < cfg->ndatasets);
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    /* A header of its own, so this text can never equal a whole configuration's. */
    tsl_wbuf_puts(&b, "# tsloop forecaster settings 1\ndataset:\n");
    put_dataset(&b, "  ", &cfg->datasets[f->dataset_index], 0);
    tsl_wbuf_puts(&b, "forecaster:\n");
    put_forecaster(&b, "  ", f, 0);
    sha256_hex(&b, hex);
    tsl_wbuf_release(&b);
}

/* More helpers of config_impl.h (config_notify.c). */
tsl_err tsl_cfg_read_named(parser *p, const yaml_node_t *n, const char *what, const char *one,
                           size_t max, yaml_node_pair_t **pairs, size_t *npairs) {
    return read_named(p, n, what, one, max, pairs, npairs);
}

yaml_node_t *tsl_cfg_node(parser *p, int index) {
    return yaml_document_get_node(&p->doc, index);
}

tsl_err tsl_cfg_get_bool(parser *p, const yaml_node_t *n, const char *path, int *out) {
    return get_bool(p, n, path, out);
}

tsl_err tsl_cfg_get_list(parser *p, const yaml_node_t *n, const char *path, size_t max,
                         const char *example, char ***items, size_t *count) {
    return get_list(p, n, path, max, example, items, count);
}
