/*
 * tz.h - time zones: IANA zones read from the system's zoneinfo (TZif files, RFC 8536) and
 * fixed offsets, the UTC offset in force at an instant, and wall-clock time back to UTC.
 *
 * A zone is named as in the tz database ("Europe/Berlin", "America/New_York"), or is a fixed
 * offset: "UTC" (also "Z", "GMT"), "+05:30", "-08:00", "+0530", "+05" (east of Greenwich is
 * positive, as in ISO 8601 - the opposite of POSIX TZ strings). A named zone is the file
 * TSL_TZ_DIR/NAME; names with a ".." component or a leading '/' are refused, and so are files
 * larger than TSL_TZ_MAX_FILE. A zone holds its transitions and, for instants after the last
 * one, the rule of the file's footer (a POSIX TZ string such as
 * "CET-1CEST,M3.5.0,M10.5.0/3"), so the offset is right for any year.
 *
 * Wall-clock ("local") times are seconds since the epoch read on the local calendar: the local
 * time of instant u is u + tsl_tz_offset(tz, u).
 */
#ifndef TSLOOP_TZ_H
#define TSLOOP_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The zoneinfo folder named zones are read from. */
#define TSL_TZ_DIR "/usr/share/zoneinfo"
/* The largest TZif file read (Debian's largest is under 4 KiB). */
#define TSL_TZ_MAX_FILE (256 * 1024)
/* The longest zone name accepted. */
#define TSL_TZ_MAX_NAME 128

typedef struct tsl_tz tsl_tz;

/* Loads the zone `name` (see the header) from TSL_TZ_DIR. TSL_EINVAL for a malformed name or
 * offset, TSL_ENOTFOUND when no such file exists (the message names the folder searched),
 * TSL_ELIMIT for a file over the cap, TSL_EPARSE for a malformed TZif file. */
tsl_err tsl_tz_load(const char *name, tsl_tz **out, tsl_diag *d);

/* As tsl_tz_load, for a zone name read from the folder `dir` instead of TSL_TZ_DIR. */
tsl_err tsl_tz_load_dir(const char *dir, const char *name, tsl_tz **out, tsl_diag *d);

/* Parses a TZif file's bytes (versions 1 to 4; the 64-bit block and footer of version 2 and
 * later). `name` is the zone's name for messages and tsl_tz_name. TSL_EPARSE with the field
 * and byte offset at fault. */
tsl_err tsl_tz_parse_tzif(const unsigned char *buf, size_t len, const char *name, tsl_tz **out,
                          tsl_diag *d);

/* Parses a POSIX TZ string ("EST5EDT,M3.2.0,M11.1.0", "<+0530>-5:30") into a zone with no
 * transitions. TSL_EPARSE naming the position and what was expected. */
tsl_err tsl_tz_parse_posix(const char *s, tsl_tz **out, tsl_diag *d);

void tsl_tz_free(tsl_tz *tz);

/* The zone's name as given to the loader. */
const char *tsl_tz_name(const tsl_tz *tz);

/* The UTC offset (seconds, east positive) in force at instant utc. */
int32_t tsl_tz_offset(const tsl_tz *tz, int64_t utc);

/* The first instant after utc at which the offset may change (a transition, or a rule's change
 * in the footer), INT64_MAX when there is none. Between utc and it the offset is constant. */
int64_t tsl_tz_next_change(const tsl_tz *tz, int64_t utc);

/* The largest backward jump of the wall clock in the zone (seconds, >= 0): how much a local
 * time can repeat at a fall-back. */
int32_t tsl_tz_max_fallback(const tsl_tz *tz);

/* The instants whose wall-clock time is `local`. */
typedef struct tsl_tz_local {
    int n;           /* 0: local is in a gap (skipped); 1; 2: an overlap (it happens twice) */
    int64_t utc[2];  /* the instants, increasing */
    int64_t gap_end; /* n == 0: the first instant after the gap, the change that skipped local */
} tsl_tz_local;

/* Converts wall-clock time local to UTC (see tsl_tz_local). Assumes the zone's changes are
 * more than two days apart, as every zone's since 1900 are. */
void tsl_tz_from_local(const tsl_tz *tz, int64_t local, tsl_tz_local *out);

#ifdef __cplusplus
}
#endif
#endif
