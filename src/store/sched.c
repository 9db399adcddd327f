/*
 * sched.c - the front end of named leases and schedules' fire times (store.h): argument
 * checks, then the back end's transaction (sqlite_sched.c for the embedded one).
 */
#include <string.h>

#include "store/store_impl.h"

#define KEY_MAX 200

tsl_err tsl_store_lock_acquire(tsl_store *s, const char *name, int64_t lease_ms, int *held,
                               char *holder, size_t cap, tsl_diag *d) {
    tsl_err err;
    *held = 0;
    if (holder && cap) holder[0] = '\0';
    if ((err = tsl_sto_ready(s, d)) || (err = tsl_sto_check_name(d, "lock", name, 128, 0)))
        return err;
    if (lease_ms < 1)
        return tsl_diag_set(d, TSL_EINVAL, "lock %s: lease %lld ms, expected at least 1", name,
                            (long long)lease_ms);
    return s->vt->lock_acquire(s, name, lease_ms, held, holder, cap, d);
}

tsl_err tsl_store_lock_release(tsl_store *s, const char *name, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d)) || (err = tsl_sto_check_name(d, "lock", name, 128, 0)))
        return err;
    return s->vt->lock_release(s, name, d);
}

tsl_err tsl_store_schedule_last(tsl_store *s, const char *key, int64_t *at, int *found,
                                tsl_diag *d) {
    tsl_err err;
    *at = 0;
    *found = 0;
    if ((err = tsl_sto_ready(s, d)) || (err = tsl_sto_check_text(d, "schedule key", key, KEY_MAX)))
        return err;
    if (!key || !key[0]) return tsl_diag_set(d, TSL_EINVAL, "schedule key: expected a name");
    return s->vt->schedule_last(s, key, at, found, d);
}

tsl_err tsl_store_schedule_claim(tsl_store *s, const char *key, int64_t at, int *first,
                                 tsl_diag *d) {
    tsl_err err;
    *first = 0;
    if ((err = tsl_sto_ready(s, d)) || (err = tsl_sto_check_text(d, "schedule key", key, KEY_MAX)))
        return err;
    if (!key || !key[0]) return tsl_diag_set(d, TSL_EINVAL, "schedule key: expected a name");
    return s->vt->schedule_claim(s, key, at, first, d);
}
