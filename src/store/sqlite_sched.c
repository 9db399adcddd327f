/*
 * sqlite_sched.c - named leases (the scheduler's lock) and schedules' last fire times in the
 * SQLite back end.
 *
 * A lock row names its holder by the handle's token and process identity and carries a lease
 * end. Taking it is one write transaction: free, expired, or held by a process that is gone
 * (tsl_sto_owner_dead: a restarted daemon on the same host need not wait out its predecessor's
 * lease) - so two handles never both believe they hold it. A fire time is claimed by raising
 * the schedule's recorded last fire time in one conditional UPDATE: the first claimant of a
 * time wins, every later one (a restart, a second daemon that took the lock over) sees it
 * taken. That makes a fire time run at most once; one whose run is interrupted is not retried.
 */
#include "store/sqlite_be.h"

#include <stdio.h>
#include <string.h>

#include "tsloop/mem.h"

static const char SQL_LOCK_GET[] =
    "SELECT token, host, boot, pid, start, lease_until_ms FROM locks WHERE name = ?1";
static const char SQL_LOCK_PUT[] =
    "INSERT INTO locks(name, token, host, boot, pid, start, lease_until_ms, acquired_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(name) DO UPDATE SET token = ?2, "
    "host = ?3, boot = ?4, pid = ?5, start = ?6, lease_until_ms = ?7, acquired_ms = ?8";
static const char SQL_LOCK_RENEW[] = "UPDATE locks SET lease_until_ms = ?2 WHERE name = ?1";
static const char SQL_LOCK_DROP[] = "DELETE FROM locks WHERE name = ?1 AND token = ?2";
static const char SQL_FIRE_LAST[] = "SELECT last_fire FROM schedule_fires WHERE key = ?1";
static const char SQL_FIRE_CLAIM[] =
    "INSERT INTO schedule_fires(key, last_fire, fired_ms) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(key) DO UPDATE SET last_fire = ?2, fired_ms = ?3 WHERE last_fire < ?2";

typedef struct lock_ctx {
    const char *name;
    int64_t lease_ms;
    int held;
    char *holder;
    size_t cap;
} lock_ctx;

/* The transaction of tsl_sq_lock_acquire. */
static tsl_err acquire_body(sq *q, void *vctx, tsl_diag *d) {
    lock_ctx *c = vctx;
    const tsl_store_owner *me = &q->s->self;
    sqlite3_stmt *st;
    int row = 0, take = 1, mine = 0;
    tsl_err err;
    int64_t now = tsl_sto_now(q->s);
    c->held = 0;
    if ((err = tsl_sq_prepare(q, SQL_LOCK_GET, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->name);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    if (row) {
        const char *token = (const char *)sqlite3_column_text(st, 0);
        const char *host = (const char *)sqlite3_column_text(st, 1);
        const char *boot = (const char *)sqlite3_column_text(st, 2);
        int64_t pid = sqlite3_column_int64(st, 3), start = sqlite3_column_int64(st, 4);
        int64_t until = sqlite3_column_int64(st, 5);
        mine = token && !strcmp(token, me->token);
        take = mine || tsl_sto_owner_dead(q->s, host, boot, pid, start, until, now);
        if (c->holder && c->cap)
            snprintf(c->holder, c->cap, "%s:%lld", host ? host : "?", (long long)pid);
        sqlite3_reset(st);
    }
    if (!take) return TSL_OK;
    if (mine) {
        if ((err = tsl_sq_prepare(q, SQL_LOCK_RENEW, &st, d))) return err;
        tsl_sq_bind_text(q, st, 1, c->name);
        tsl_sq_bind_int(q, st, 2, now + c->lease_ms);
    } else {
        if ((err = tsl_sq_prepare(q, SQL_LOCK_PUT, &st, d))) return err;
        tsl_sq_bind_text(q, st, 1, c->name);
        tsl_sq_bind_text(q, st, 2, me->token);
        tsl_sq_bind_text(q, st, 3, me->host);
        tsl_sq_bind_text(q, st, 4, me->boot);
        tsl_sq_bind_int(q, st, 5, me->pid);
        tsl_sq_bind_int(q, st, 6, me->start);
        tsl_sq_bind_int(q, st, 7, now + c->lease_ms);
        tsl_sq_bind_int(q, st, 8, now);
    }
    if ((err = tsl_sq_exec(q, st, d))) return err;
    c->held = 1;
    if (c->holder && c->cap) snprintf(c->holder, c->cap, "%s:%lld", me->host, (long long)me->pid);
    return TSL_OK;
}

tsl_err tsl_sq_lock_acquire(tsl_store *s, const char *name, int64_t lease_ms, int *held,
                            char *holder, size_t cap, tsl_diag *d) {
    lock_ctx c = {.name = name, .lease_ms = lease_ms, .holder = holder, .cap = cap};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, acquire_body, NULL, &c, d);
    *held = err ? 0 : c.held;
    return err;
}

/* The transaction of tsl_sq_lock_release. */
static tsl_err release_body(sq *q, void *vctx, tsl_diag *d) {
    lock_ctx *c = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_LOCK_DROP, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->name);
    tsl_sq_bind_text(q, st, 2, q->s->self.token);
    return tsl_sq_exec(q, st, d);
}

tsl_err tsl_sq_lock_release(tsl_store *s, const char *name, tsl_diag *d) {
    lock_ctx c = {.name = name};
    return tsl_sq_tx(sq_of(s), 1, release_body, NULL, &c, d);
}

typedef struct fire_ctx {
    const char *key;
    int64_t at;
    int found;
} fire_ctx;

/* The transaction of tsl_sq_schedule_last. */
static tsl_err last_body(sq *q, void *vctx, tsl_diag *d) {
    fire_ctx *c = vctx;
    sqlite3_stmt *st;
    int row = 0;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_FIRE_LAST, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->key);
    if ((err = tsl_sq_step(q, st, &row, d))) return err;
    c->found = row;
    if (row) c->at = sqlite3_column_int64(st, 0);
    if (row) sqlite3_reset(st);
    return TSL_OK;
}

tsl_err tsl_sq_schedule_last(tsl_store *s, const char *key, int64_t *at, int *found, tsl_diag *d) {
    fire_ctx c = {.key = key};
    tsl_err err = tsl_sq_tx(sq_of(s), 0, last_body, NULL, &c, d);
    *found = err ? 0 : c.found;
    *at = c.found ? c.at : 0;
    return err;
}

/* The transaction of tsl_sq_schedule_claim. */
static tsl_err claim_body(sq *q, void *vctx, tsl_diag *d) {
    fire_ctx *c = vctx;
    sqlite3_stmt *st;
    tsl_err err;
    if ((err = tsl_sq_prepare(q, SQL_FIRE_CLAIM, &st, d))) return err;
    tsl_sq_bind_text(q, st, 1, c->key);
    tsl_sq_bind_int(q, st, 2, c->at);
    tsl_sq_bind_int(q, st, 3, tsl_sto_now(q->s));
    if ((err = tsl_sq_exec(q, st, d))) return err;
    c->found = sqlite3_changes(q->db) > 0;
    return TSL_OK;
}

tsl_err tsl_sq_schedule_claim(tsl_store *s, const char *key, int64_t at, int *first, tsl_diag *d) {
    fire_ctx c = {.key = key, .at = at};
    tsl_err err = tsl_sq_tx(sq_of(s), 1, claim_body, NULL, &c, d);
    *first = err ? 0 : c.found;
    return err;
}
