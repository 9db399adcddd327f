/*
 * cfgwatch.c - a background thread's own copy of tsloop.yaml, loaded again when the file
 * changes.
 *
 * The daemon's threads that act on the configuration (the retrain trigger, the evaluator) keep
 * a private copy rather than share the HTTP side's, which is replaced under a lock on SIGHUP:
 * a copy per thread needs no lock, and reading the file's modification time once per poll is
 * cheap. A file that no longer loads keeps the last good copy, and the reason is logged once
 * per change of the file, so an edit in progress never stops the loop.
 */
#include <sys/stat.h>

#include "daemon/daemon_impl.h"

/* The file's modification time in nanoseconds, 0 when it cannot be read. */
static int64_t mtime_ns(const char *path) {
    struct stat sb;
    if (stat(path, &sb)) return 0;
    return (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
}

int tsl_daemon_config_refresh(const char *path, FILE *log, const char *who, tsl_config **cfg,
                              int64_t *seen) {
    int64_t m = mtime_ns(path);
    if (*cfg && m == *seen) return 0;
    tsl_config *fresh = NULL;
    tsl_diag d = {TSL_OK, {0}};
    *seen = m;
    if (tsl_config_load(path, NULL, &fresh, &d)) {
        tsl_daemon_log(log, "error", "cannot load the configuration again", "{s:s, s:s}", "thread",
                       who, "error", tsl_diag_msg(&d));
        return 0;
    }
    int reloaded = *cfg != NULL;
    tsl_config_free(*cfg);
    *cfg = fresh;
    if (reloaded) tsl_daemon_log(log, "info", "configuration loaded again", "{s:s}", "thread", who);
    return 1;
}
