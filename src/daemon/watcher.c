/*
 * watcher.c - the inbox watcher: a thread that ingests files dropped into the data sets'
 * inbox folders as they arrive (docs/inbox.md; the work on one file is tsl_inbox_handle).
 *
 * One inotify instance watches every inbox folder for IN_CLOSE_WRITE (a writer closed a file
 * it wrote) and IN_MOVED_TO (a file renamed into the folder): the two moments a file may have
 * become complete. Creation alone (IN_CREATE) is not watched: a file being written is not
 * read. The thread first scans every folder, which handles what arrived while no daemon ran,
 * then handles events as they come, and rescans every RESCAN_MS: that catches a file that was
 * still held open by a second writer when its first writer closed it, a file left after a
 * store error (busy), and events lost to an inotify queue overflow. Scanning is cheap, since a
 * handled file leaves the folder.
 *
 * Two daemons (or a daemon and `tsloop inbox`) on one project would both take each file: that
 * is harmless for the data (a file is recorded by its hash, and ingesting it again changes
 * nothing) but the second one's move fails and is logged as an error. So the folders are
 * handled only while the watcher holds the store lock "inbox" under a lease it renews at each
 * wake-up (at least every RESCAN_MS); a watcher without it reads and drops its inotify events,
 * and scans every folder the moment it takes the lock over, which catches up on whatever
 * arrived meanwhile. Stopping gives the lock up, so another watcher takes over at its next
 * wake-up rather than after the lease. `tsloop inbox --once` does not take the lock: a person
 * running it beside a daemon gets the harmless double handling above.
 *
 * The thread owns its store handle. Stopping writes to a pipe the thread polls beside the
 * inotify descriptor, so stop returns within one file's work.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsloop/daemon.h"
#include "tsloop/inbox.h"
#include "tsloop/mem.h"

#define RESCAN_MS     5000
#define EVENT_BUF     65536
#define LOCK_NAME     "inbox"
#define LOCK_LEASE_MS 15000 /* three wake-ups: a busy store may delay one renewal */

typedef struct folder {
    const tsl_config_dataset *ds;
    char *dir;
    int wd;
} folder;

struct tsl_watcher {
    const tsl_project *p;
    FILE *log;
    tsl_store *s;
    folder *folders;
    size_t nfolders;
    int ifd;
    int wake[2];
    pthread_t thread;
    int started;
    int held; /* this watcher holds LOCK_NAME */
};

/* Logs what handling did (when it did anything) or the error. */
static void report(tsl_watcher *w, const folder *f, const char *name, const tsl_inbox_stats *st,
                   tsl_err rc, const tsl_diag *d) {
    if (rc) {
        tsl_daemon_log(w->log, "error", "inbox", "{s:s, s:s, s:s}", "dataset", f->ds->name, "file",
                       name ? name : "", "error", tsl_diag_msg(d));
        return;
    }
    if (st->processed || st->failed || st->moved)
        tsl_daemon_log(w->log, "info", "inbox", "{s:s, s:s, s:I, s:I, s:I, s:I}", "dataset",
                       f->ds->name, "file", name ? name : "", "processed",
                       (json_int_t)st->processed, "failed", (json_int_t)st->failed, "moved",
                       (json_int_t)st->moved, "waiting", (json_int_t)st->waiting);
}

static void scan_all(tsl_watcher *w) {
    for (size_t i = 0; i < w->nfolders; i++) {
        tsl_inbox_stats st;
        memset(&st, 0, sizeof st);
        tsl_diag d = {TSL_OK, {0}};
        tsl_err rc = tsl_inbox_scan(w->s, w->folders[i].ds, w->folders[i].dir, &st, &d);
        report(w, &w->folders[i], NULL, &st, rc, &d);
    }
}

/* Handles the events in buf[0..n). */
static void handle_events(tsl_watcher *w, const char *buf, size_t n) {
    for (size_t off = 0; off + sizeof(struct inotify_event) <= n;) {
        const struct inotify_event *e = (const struct inotify_event *)(const void *)(buf + off);
        off += sizeof *e + e->len;
        if (e->mask & IN_Q_OVERFLOW) {
            scan_all(w);
            continue;
        }
        if (!e->len || (e->mask & IN_ISDIR)) continue;
        for (size_t i = 0; i < w->nfolders; i++) {
            if (w->folders[i].wd != e->wd) continue;
            tsl_inbox_stats st;
            memset(&st, 0, sizeof st);
            tsl_diag d = {TSL_OK, {0}};
            tsl_err rc =
                tsl_inbox_handle(w->s, w->folders[i].ds, w->folders[i].dir, e->name, &st, &d);
            report(w, &w->folders[i], e->name, &st, rc, &d);
        }
    }
}

/* Takes or renews the inbox lock; returns 1 when this watcher has just taken it (it must scan
 * every folder: another watcher may have dropped what arrived before). Logs the changes; a
 * store error counts as not holding it. */
static int hold_lock(tsl_watcher *w) {
    tsl_diag d = {TSL_OK, {0}};
    int was = w->held;
    char holder[128] = "";
    if (tsl_store_lock_acquire(w->s, LOCK_NAME, LOCK_LEASE_MS, &w->held, holder, sizeof holder,
                               &d)) {
        w->held = 0;
        tsl_daemon_log(w->log, "error", "inbox lock", "{s:s}", "error", tsl_diag_msg(&d));
    }
    if (w->held != was)
        tsl_daemon_log(w->log, "info", w->held ? "inbox folders taken" : "inbox folders lost",
                       "{s:s}", "holder", holder);
    return w->held && !was;
}

static void *watcher_main(void *arg) {
    tsl_watcher *w = arg;
    /* Aligned for struct inotify_event, as inotify(7) asks. */
    static _Thread_local char buf[EVENT_BUF]
        __attribute__((aligned(__alignof__(struct inotify_event))));
    if (hold_lock(w)) scan_all(w);
    for (;;) {
        struct pollfd pf[2] = {{w->ifd, POLLIN, 0}, {w->wake[0], POLLIN, 0}};
        int k = poll(pf, 2, RESCAN_MS);
        if (k < 0 && errno == EINTR) continue;
        if (pf[1].revents) break;
        ssize_t n = k > 0 ? read(w->ifd, buf, sizeof buf) : 0;
        int taken = hold_lock(w);
        if (!w->held) continue; /* another watcher handles the folders; its events are dropped */
        if (k == 0 || taken)
            scan_all(w);
        else if (n > 0)
            handle_events(w, buf, (size_t)n);
    }
    if (w->held) {
        tsl_diag d = {TSL_OK, {0}};
        tsl_store_lock_release(w->s, LOCK_NAME, &d); /* the next watcher at its next wake-up */
        w->held = 0;
    }
    return NULL;
}

/* Frees w and everything it holds (the thread must not run). */
static void watcher_free(tsl_watcher *w) {
    for (size_t i = 0; i < w->nfolders; i++) tsl_free(w->folders[i].dir);
    tsl_free(w->folders);
    if (w->ifd >= 0) close(w->ifd);
    if (w->wake[0] >= 0) close(w->wake[0]);
    if (w->wake[1] >= 0) close(w->wake[1]);
    tsl_store_close(w->s);
    tsl_free(w);
}

tsl_err tsl_watcher_start(const tsl_project *p, FILE *log, tsl_watcher **out, tsl_diag *d) {
    tsl_watcher *w = tsl_calloc(1, sizeof *w);
    tsl_err rc = TSL_OK;
    *out = NULL;
    w->p = p;
    w->log = log ? log : stderr;
    w->ifd = w->wake[0] = w->wake[1] = -1;
    for (size_t i = 0; i < p->cfg->ndatasets; i++)
        if (p->cfg->datasets[i].inbox) w->nfolders++;
    if (!w->nfolders) {
        watcher_free(w);
        return TSL_OK; /* nothing to watch: no thread */
    }
    if (!p->store_path) {
        rc = tsl_diag_set(d, TSL_EUNSUPPORTED, "the inbox watcher needs a SQLite store");
        goto fail;
    }
    if ((rc = tsl_store_open(p->store_path, NULL, &w->s, d))) goto fail;
    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->ifd < 0 || pipe(w->wake) != 0 || fcntl(w->wake[0], F_SETFD, FD_CLOEXEC) != 0 ||
        fcntl(w->wake[1], F_SETFD, FD_CLOEXEC) != 0) {
        rc = tsl_diag_set(d, TSL_EIO, "cannot start the inbox watcher: %s", strerror(errno));
        goto fail;
    }
    w->folders = tsl_calloc(w->nfolders, sizeof *w->folders);
    size_t k = 0;
    for (size_t i = 0; i < p->cfg->ndatasets; i++) {
        const tsl_config_dataset *ds = &p->cfg->datasets[i];
        if (!ds->inbox) continue;
        folder *f = &w->folders[k++];
        f->ds = ds;
        f->dir = tsl_project_path(p, ds->inbox);
        f->wd = -1;
        if (mkdir(f->dir, 0777) != 0 && errno != EEXIST) {
            rc = tsl_diag_set(d, TSL_EIO, "datasets.%s.inbox: cannot make the folder %s: %s",
                              ds->name, f->dir, strerror(errno));
            goto fail;
        }
        f->wd = inotify_add_watch(w->ifd, f->dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR);
        if (f->wd < 0) {
            rc = tsl_diag_set(d, TSL_EIO, "datasets.%s.inbox: cannot watch %s: %s", ds->name,
                              f->dir, strerror(errno));
            goto fail;
        }
    }
    if (pthread_create(&w->thread, NULL, watcher_main, w)) {
        rc = tsl_diag_set(d, TSL_EINTERNAL, "cannot start the inbox watcher thread");
        goto fail;
    }
    w->started = 1;
    tsl_daemon_log(w->log, "info", "inbox watcher started", "{s:I}", "folders",
                   (json_int_t)w->nfolders);
    *out = w;
    return TSL_OK;
fail:
    watcher_free(w);
    return rc;
}

void tsl_watcher_stop(tsl_watcher *w) {
    if (!w) return;
    if (w->started) {
        char c = 1;
        while (write(w->wake[1], &c, 1) < 0 && errno == EINTR) {}
        pthread_join(w->thread, NULL);
    }
    watcher_free(w);
}
