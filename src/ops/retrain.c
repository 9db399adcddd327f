/*
 * retrain.c - the retraining trigger reactor (retrain.h): events in, executions out.
 *
 * The reactor is a follower of the event log, not a callee of the parts that cause
 * retraining: the monitor evaluator only records alarm.state_changed, ingest only records
 * dataset.ingested, and this file reads them after its persisted cursor. That keeps every part
 * restartable on its own and lets a retraining be traced back to the event that asked for it
 * (the execution's dedupe key names the event).
 *
 * Crash safety comes from doing each (event, forecaster) in three idempotent steps, each one
 * transaction, in an order where a crash between any two is repaired by doing them all again:
 *
 *   1. decide   (store) stored per (event, forecaster); a second call returns the first answer,
 *               so the cooldown and cap are judged once, at the first reading;
 *   2. request  (pipeline) dedupe key "retrain:event:ID": a second request is a duplicate
 *               returning the first execution;
 *   3. record   (store) the execution id and the event retrain.requested, skipped when done.
 *
 * The cursor moves last, after the batch; it only saves re-reading, never decides anything.
 */
#include "tsloop/retrain.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsloop/mem.h"

#define DEFAULT_BATCH 1000

const char *tsl_retrain_outcome_name(tsl_exec_outcome how) {
    switch (how) {
    case TSL_EXEC_NEW:
        return "new";
    case TSL_EXEC_BEHIND:
        return "queued";
    case TSL_EXEC_DUPLICATE:
        return "duplicate";
    case TSL_EXEC_MERGED:
        return "merged";
    }
    return "new";
}

/* Steps 1-3 of the purpose paragraph for one (event, forecaster); counts into st. */
static tsl_err act(tsl_store *s, const tsl_config *cfg, const tsl_pipeline_opts *o,
                   const tsl_config_forecaster *f, int64_t event_id, const char *trigger,
                   const char *reason, tsl_retrain_stats *st, tsl_diag *d) {
    tsl_store_retrain_ask ask = {
        event_id, f->name, trigger, reason, f->triggers.cooldown_ms, f->triggers.max_per_day};
    tsl_store_retrain r;
    char key[64];
    int64_t id = 0;
    tsl_exec_outcome how = TSL_EXEC_NEW;
    tsl_err err = tsl_store_retrain_decide(s, &ask, &r, d);
    if (err) return err;
    if (!r.requested) {
        st->suppressed++;
        goto out;
    }
    if (r.done) {
        st->requested++;
        goto out;
    }
    snprintf(key, sizeof key, "retrain:event:%lld", (long long)event_id);
    if ((err = tsl_pipeline_request(s, cfg, f->name, trigger, key, o, &id, &how, d))) goto out;
    if ((err =
             tsl_store_retrain_record(s, event_id, f->name, id, tsl_retrain_outcome_name(how), d)))
        goto out;
    st->requested++;
out:
    tsl_store_retrain_release(&r);
    return err;
}

/* 1 when name is in list. */
static int listed(char *const *list, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], name)) return 1;
    return 0;
}

/* 1 when the payload's "actions" (the monitor's own, when the evaluator includes them) list
 * "retrain". */
static int actions_retrain(const json_t *p) {
    const json_t *a = json_object_get(p, "actions");
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *x = json_string_value(json_array_get(a, i));
        if (x && !strcmp(x, "retrain")) return 1;
    }
    return 0;
}

/* An alarm.state_changed event: a retraining of its forecaster when it went to ALARM and the
 * forecaster (or the monitor) asks for it. */
static tsl_err on_alarm(tsl_store *s, const tsl_config *cfg, const tsl_pipeline_opts *o,
                        const tsl_store_event *e, const json_t *p, tsl_retrain_stats *st,
                        tsl_diag *d) {
    const char *state = json_string_value(json_object_get(p, "state"));
    const char *monitor = json_string_value(json_object_get(p, "monitor"));
    const char *fname = json_string_value(json_object_get(p, "forecaster"));
    if (!state || strcmp(state, "ALARM") || !monitor || !fname) return TSL_OK;
    const tsl_config_forecaster *f = tsl_config_forecaster_find(cfg, fname);
    if (!f) return TSL_OK;
    const tsl_config_retrain *r = &f->triggers;
    int wanted = (r->on_alarm && (!r->nmonitors || listed(r->monitors, r->nmonitors, monitor))) ||
                 actions_retrain(p);
    if (!wanted) return TSL_OK;
    char reason[512];
    const char *why = json_string_value(json_object_get(p, "reason"));
    snprintf(reason, sizeof reason, "monitor %s went to ALARM%s%s", monitor, why ? ": " : "",
             why ? why : "");
    return act(s, cfg, o, f, e->id, "alarm", reason, st, d);
}

/* A dataset.ingested event: a retraining of each forecaster of that data set that retrains on
 * new data from this source, when the ingest changed something. */
static tsl_err on_ingest(tsl_store *s, const tsl_config *cfg, const tsl_pipeline_opts *o,
                         const tsl_store_event *e, const json_t *p, tsl_retrain_stats *st,
                         tsl_diag *d) {
    const char *ds = json_string_value(json_object_get(p, "dataset"));
    const char *source = json_string_value(json_object_get(p, "source"));
    json_int_t changed = json_integer_value(json_object_get(p, "inserted")) +
                         json_integer_value(json_object_get(p, "updated"));
    if (!ds || changed <= 0) return TSL_OK;
    int inbox = source && !strcmp(source, "inbox");
    const char *file = json_string_value(json_object_get(p, "file"));
    char reason[512];
    snprintf(reason, sizeof reason, "ingest %lld of %s%s%s: %lld observations inserted or updated",
             (long long)json_integer_value(json_object_get(p, "ingest")), ds,
             inbox ? " from the inbox file " : "", inbox && file ? file : "", (long long)changed);
    for (size_t i = 0; i < cfg->nforecasters; i++) {
        const tsl_config_forecaster *f = &cfg->forecasters[i];
        if (strcmp(f->dataset, ds) || f->triggers.on_new_data == TSL_ON_NEW_DATA_OFF ||
            (f->triggers.on_new_data == TSL_ON_NEW_DATA_INBOX && !inbox))
            continue;
        tsl_err err = act(s, cfg, o, f, e->id, "new_data", reason, st, d);
        if (err) return err;
    }
    return TSL_OK;
}

tsl_err tsl_retrain_poll(tsl_store *s, const tsl_config *cfg, const tsl_pipeline_opts *o,
                         size_t max_events, tsl_retrain_stats *st, tsl_diag *d) {
    tsl_retrain_stats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    tsl_store_event *ev = NULL;
    size_t n = 0;
    int64_t cursor = 0, done = 0;
    tsl_err err = tsl_store_retrain_cursor(s, &cursor, d);
    if (err) return err;
    if ((err =
             tsl_store_event_list(s, cursor, max_events ? max_events : DEFAULT_BATCH, &ev, &n, d)))
        return err;
    done = cursor;
    for (size_t i = 0; i < n; i++) {
        const tsl_store_event *e = &ev[i];
        int alarm = !strcmp(e->type, "alarm.state_changed");
        if (alarm || !strcmp(e->type, "dataset.ingested")) {
            json_t *p = json_loads(e->payload ? e->payload : "{}", 0, NULL);
            /* A payload that is not an object is nobody's request: skip it, as the store only
             * takes JSON and the contract says object. */
            if (json_is_object(p))
                err = alarm ? on_alarm(s, cfg, o, e, p, st, d) : on_ingest(s, cfg, o, e, p, st, d);
            json_decref(p);
            if (err) break;
        }
        st->events++;
        done = e->id;
    }
    tsl_store_event_list_free(ev, n);
    if (done > cursor) {
        /* Even after an error: the events before the failing one are dealt with. */
        tsl_diag cd = {TSL_OK, {0}};
        tsl_err cerr = tsl_store_retrain_advance(s, done, err ? &cd : d);
        if (!err) err = cerr;
    }
    return err;
}

tsl_err tsl_retrain_manual(tsl_store *s, const tsl_config *cfg, const char *forecaster,
                           const char *why, const tsl_pipeline_opts *o, int64_t *id,
                           tsl_exec_outcome *how, tsl_diag *d) {
    char subject[160];
    tsl_err err = tsl_pipeline_request(s, cfg, forecaster, "manual", NULL, o, id, how, d);
    if (err) return err;
    json_t *p = json_pack(
        "{s:s, s:s, s:s, s:I, s:s, s:s}", "forecaster", forecaster, "trigger", "manual", "reason",
        why && why[0] ? why : "requested by hand", "execution_id", (json_int_t)*id, "outcome",
        tsl_retrain_outcome_name(*how), "who", o && o->who && o->who[0] ? o->who : "tsloop");
    if (!p)
        return tsl_diag_set(d, TSL_EINVAL,
                            "retrain %s: the reason is not valid UTF-8, expected UTF-8 text "
                            "(execution %lld was requested)",
                            forecaster, (long long)*id);
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    snprintf(subject, sizeof subject, "forecaster:%s", forecaster);
    err = tsl_store_event_append(s, "retrain.requested", subject, text, NULL, d);
    free(text);
    return err;
}
