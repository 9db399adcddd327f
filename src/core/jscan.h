/*
 * jscan.h - finding a few members in a large JSON text without parsing the rest (internal;
 * jscan.c says why). Used by the daemon's served versions (the settings of a bundle's
 * metadata, each series' training end) and by the monitors (the data baseline inside a
 * bundle's metadata, one series at a time).
 */
#ifndef TSLOOP_CORE_JSCAN_H
#define TSLOOP_CORE_JSCAN_H

#include <stddef.h>

/* One member of a JSON object being walked: *at is where the walk stands (just after the '{',
 * or after the member before). Sets the key's bytes between its quotes (escapes left as they
 * are) and the value's bounds [*v, *vend). 1: a member; 0: the object ended (*at past its
 * '}'); -1: malformed or truncated. Brackets inside values are matched by counting, not checked
 * for their grammar: what a caller keeps of a value it parses with jansson. */
int tsl_jscan_next(const char **at, const char *end, const char **key, size_t *klen, const char **v,
                   const char **vend);

/* One element of a JSON array being walked: *at is where the walk stands (just after the '[',
 * or after the element before). Sets the element's bounds [*v, *vend). 1: an element; 0: the
 * array ended (*at past its ']'); -1: malformed or truncated. */
int tsl_jscan_element(const char **at, const char *end, const char **v, const char **vend);

/* The value of member name (compared with the key's bytes as written, escapes and all) of
 * the object text [p, end): 1 found, its bounds in [*v, *vend); 0 absent; -1 malformed or not
 * an object. The first of duplicate keys wins. */
int tsl_jscan_member(const char *p, const char *end, const char *name, const char **v,
                     const char **vend);

#endif
