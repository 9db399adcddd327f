/*
 * notifier.c - the notifier: one thread per notification channel that follows the event log
 * and delivers what the channel routes (docs/notifications.md; rendering and delivery are
 * notify.c's).
 *
 * One thread per channel, because a channel's target can be slow or down for hours: its
 * retries and timeouts must never delay another channel, nor anything else in the daemon.
 * Each thread owns its store handle and keeps its whole state in the store (migration 7):
 *
 *   - the cursor: every event up to it is handled. It moves only after the event was
 *     delivered (or dead-lettered, or is not routed to the channel): delivery is at least
 *     once, and a restart resumes exactly there. A webhook receiver drops duplicates by the
 *     X-Tsloop-Delivery id, the same on every attempt.
 *   - the failed attempts at the event after the cursor, and when to try again: attempt k
 *     waits backoff_ms * 2^(k-1), capped at max_backoff_ms, so a restart neither forgets the
 *     count nor hammers the target. After retries failed retries the event is dead-lettered:
 *     notification.failed is recorded and the cursor moves on. A success records
 *     notification.sent. Either event is appended in the same transaction as the cursor move.
 *
 * Events are delivered in order, one at a time per channel (a channel is a queue): a newer
 * alarm never overtakes an older one on its way to the same person.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tsloop/daemon.h"
#include "tsloop/mem.h"
#include "tsloop/notify.h"

#define POLL_MS 200
/* A channel delivers only while its daemon holds the channel's lock in the store, so that two
 * daemons on one project (one of them serving only) never both send a message; the other takes
 * over once the lease runs out. */
#define LOCK_LEASE_MS 15000
#define BATCH         256

typedef struct chan_thread {
    struct tsl_notifier *n;
    const tsl_channel *c;
    tsl_store *s;
    pthread_t thread;
    int started;
    char lock[80]; /* "notify.CHANNEL" */
    int held;      /* this thread holds it (as of its last round) */
} chan_thread;

struct tsl_notifier {
    const tsl_project *p;
    FILE *log;
    chan_thread *ch;
    size_t nch;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms or until stopped; returns 1 when stopping. */
static int nap(struct tsl_notifier *n, int64_t ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&n->mu);
    while (!n->stop && pthread_cond_timedwait(&n->cv, &n->mu, &until) != ETIMEDOUT) {}
    int stop = n->stop;
    pthread_mutex_unlock(&n->mu);
    return stop;
}

static int stopping(struct tsl_notifier *n) {
    pthread_mutex_lock(&n->mu);
    int stop = n->stop;
    pthread_mutex_unlock(&n->mu);
    return stop;
}

/* The payload of notification.sent/failed about event e. */
static char *outcome(const tsl_channel *c, const tsl_store_event *e, int attempts,
                     const char *error) {
    json_t *o =
        json_pack("{s:s, s:I, s:s, s:i, s:s?}", "channel", c->name, "event_id", (json_int_t)e->id,
                  "event_type", e->type, "attempts", attempts, "error", error);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *copy = tsl_strdup(s);
    free(s);
    return copy;
}

/* One round: the channel's state, then the events after its cursor, until one must wait.
 * *idle is set when there was nothing to do. */
static tsl_err round_once(chan_thread *t, int64_t *wait_ms, tsl_diag *d) {
    struct tsl_notifier *n = t->n;
    const tsl_channel *c = t->c;
    tsl_store_notify_state st;
    tsl_store_event *ev = NULL;
    size_t nev = 0;
    char *payload = NULL;
    *wait_ms = POLL_MS;
    tsl_err rc = tsl_store_notify_get(t->s, c->name, &st, d);
    if (rc) return rc;
    int64_t now = wall_ms();
    if (st.event_id && st.next_ms > now) {
        *wait_ms = st.next_ms - now < POLL_MS ? st.next_ms - now : POLL_MS;
        goto out;
    }
    if ((rc = tsl_store_event_list(t->s, st.cursor, BATCH, &ev, &nev, d))) goto out;
    int64_t skipped = 0; /* the last event passed over that is not routed here */
    for (size_t i = 0; i < nev && !stopping(n); i++) {
        const tsl_store_event *e = &ev[i];
        if (!tsl_notify_routes(c, e)) {
            skipped = e->id;
            continue;
        }
        if (skipped && (rc = tsl_store_notify_advance(t->s, c->name, skipped, NULL, NULL, d)))
            goto out;
        skipped = 0;
        int attempts = (st.event_id == e->id ? st.attempts : 0) + 1;
        tsl_diag dd = {TSL_OK, {0}};
        tsl_err drc = tsl_notify_deliver(c, e, n->p->cfg->name, &dd);
        if (!drc) {
            payload = outcome(c, e, attempts, NULL);
            if ((rc = tsl_store_notify_advance(t->s, c->name, e->id, "notification.sent", payload,
                                               d)))
                goto out;
            tsl_daemon_log(n->log, "info", "notification sent", "{s:s, s:I, s:s, s:i}", "channel",
                           c->name, "event", (json_int_t)e->id, "type", e->type, "attempts",
                           attempts);
        } else if (attempts > c->retries) {
            payload = outcome(c, e, attempts, tsl_diag_msg(&dd));
            if ((rc = tsl_store_notify_advance(t->s, c->name, e->id, "notification.failed", payload,
                                               d)))
                goto out;
            tsl_daemon_log(n->log, "error", "notification dead-lettered",
                           "{s:s, s:I, s:s, s:i, s:s}", "channel", c->name, "event",
                           (json_int_t)e->id, "type", e->type, "attempts", attempts, "error",
                           tsl_diag_msg(&dd));
        } else {
            int64_t wait = tsl_notify_backoff_ms(c, attempts);
            if ((rc = tsl_store_notify_fail(t->s, c->name, e->id, attempts, wall_ms() + wait,
                                            tsl_diag_msg(&dd), d)))
                goto out;
            tsl_daemon_log(n->log, "warn", "notification failed, will retry",
                           "{s:s, s:I, s:i, s:I, s:s}", "channel", c->name, "event",
                           (json_int_t)e->id, "attempts", attempts, "retry_in_ms", (json_int_t)wait,
                           "error", tsl_diag_msg(&dd));
            *wait_ms = wait < POLL_MS ? wait : POLL_MS;
            goto out;
        }
        tsl_free(payload);
        payload = NULL;
        st.event_id = 0;
    }
    if (skipped && (rc = tsl_store_notify_advance(t->s, c->name, skipped, NULL, NULL, d))) goto out;
    if (nev == BATCH) *wait_ms = 0;
out:
    tsl_free(payload);
    tsl_store_event_list_free(ev, nev);
    tsl_store_notify_state_release(&st);
    return rc;
}

static void *channel_main(void *arg) {
    chan_thread *t = arg;
    int64_t wait = 0;
    while (!stopping(t->n)) {
        tsl_diag d = {TSL_OK, {0}};
        int was = t->held;
        if (tsl_store_lock_acquire(t->s, t->lock, LOCK_LEASE_MS, &t->held, NULL, 0, &d)) {
            t->held = 0;
        } else if (t->held != was) {
            tsl_daemon_log(t->n->log, "info",
                           t->held ? "notifier channel taken" : "notifier channel lost", "{s:s}",
                           "channel", t->c->name);
        }
        if (!t->held) {
            if (nap(t->n, 1000)) break;
            continue;
        }
        if (round_once(t, &wait, &d)) {
            tsl_daemon_log(t->n->log, "error", "notifier", "{s:s, s:s}", "channel", t->c->name,
                           "error", tsl_diag_msg(&d));
            wait = POLL_MS;
        }
        if (wait > 0 && nap(t->n, wait)) break;
    }
    return NULL;
}

void tsl_notifier_stop(tsl_notifier *n) {
    if (!n) return;
    pthread_mutex_lock(&n->mu);
    n->stop = 1;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    for (size_t i = 0; i < n->nch; i++) {
        if (n->ch[i].started) pthread_join(n->ch[i].thread, NULL);
        if (n->ch[i].held) {
            tsl_diag d = {TSL_OK, {0}};
            tsl_store_lock_release(n->ch[i].s, n->ch[i].lock, &d); /* the next daemon at once */
        }
        tsl_store_close(n->ch[i].s);
    }
    tsl_free(n->ch);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    tsl_free(n);
}

tsl_err tsl_notifier_start(const tsl_project *p, FILE *log, tsl_notifier **out, tsl_diag *d) {
    *out = NULL;
    const tsl_config_notify *cfg = p->cfg->notify;
    if (!cfg || !cfg->nchannels) return TSL_OK;
    if (!p->store_path)
        return tsl_diag_set(d, TSL_EUNSUPPORTED, "the notifier needs a SQLite store");
    tsl_notifier *n = tsl_calloc(1, sizeof *n);
    tsl_err rc = TSL_OK;
    n->p = p;
    n->log = log ? log : stderr;
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, NULL);
    n->ch = tsl_calloc(cfg->nchannels, sizeof *n->ch);
    n->nch = cfg->nchannels;
    for (size_t i = 0; i < n->nch; i++) {
        chan_thread *t = &n->ch[i];
        t->n = n;
        t->c = &cfg->channels[i];
        snprintf(t->lock, sizeof t->lock, "notify.%s", t->c->name);
        if ((rc = tsl_store_open(p->store_path, NULL, &t->s, d))) goto fail;
        /* The channel's cursor is placed (at the end of the log, for a new channel) now, so
         * that events recorded from here on reach it even when its thread starts late. */
        tsl_store_notify_state st;
        if ((rc = tsl_store_notify_get(t->s, t->c->name, &st, d))) goto fail;
        tsl_store_notify_state_release(&st);
    }
    for (size_t i = 0; i < n->nch; i++) {
        if (pthread_create(&n->ch[i].thread, NULL, channel_main, &n->ch[i])) {
            rc = tsl_diag_set(d, TSL_EINTERNAL, "cannot start the notifier thread of channel %s",
                              n->ch[i].c->name);
            goto fail;
        }
        n->ch[i].started = 1;
    }
    tsl_daemon_log(n->log, "info", "notifier started", "{s:I}", "channels", (json_int_t)n->nch);
    *out = n;
    return TSL_OK;
fail:
    tsl_notifier_stop(n);
    return rc;
}
