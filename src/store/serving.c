/*
 * serving.c - the store's front end for serving: endpoints and deployments, API tokens,
 * captured forecasts, series tails and jobs (store.h states the contracts).
 *
 * As in store.c, this file checks arguments and owns everything that does not depend on how
 * data is kept - role names, making tokens and hashing them, freeing results - and hands the
 * checked call to the back end's table.
 *
 * Tokens. 32 bytes from the system's CSPRNG (libsodium's randombytes_buf), shown once as "tsl_"
 * and their unpadded base64url form; the store keeps BLAKE2b-256 of the text. A token carries
 * 256 bits of entropy, so the slow, salted password hashes (Argon2) would add nothing against
 * guessing but would cost milliseconds per request: a fast hash and an index lookup are the
 * right tool for a bearer secret (the same reasoning as GitHub's and Stripe's API keys).
 */
#include <assert.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "store/store_impl.h"
#include "tsloop/mem.h"

#define TEXT_MAX 4096

/* Makes sure libsodium is initialised (idempotent and thread-safe). */
static tsl_err sodium_ready(tsl_diag *d) {
    if (sodium_init() < 0)
        return tsl_diag_set(d, TSL_EINTERNAL, "libsodium could not be initialised");
    return TSL_OK;
}

/* ---- deployments ---- */

/* The checks every endpoint-naming call shares. */
static tsl_err check_endpoint(const tsl_store *s, const char *endpoint, tsl_diag *d) {
    tsl_err err = tsl_sto_ready(s, d);
    if (!err) err = tsl_sto_check_name(d, "endpoint", endpoint, TSL_STORE_NAME_MAX, 0);
    return err;
}

tsl_err tsl_store_deploy(tsl_store *s, const char *endpoint, const char *forecaster, int version,
                         int require_approved, const char *who, const char *why,
                         tsl_store_deployment *out, tsl_diag *d) {
    tsl_store_deployment got = {0};
    tsl_err err;
    if (out) memset(out, 0, sizeof *out);
    if ((err = check_endpoint(s, endpoint, d)) ||
        (err = tsl_sto_check_name(d, "forecaster", forecaster, TSL_STORE_NAME_MAX, 0)) ||
        (err = tsl_sto_check_text(d, "who", who, TEXT_MAX)) ||
        (err = tsl_sto_check_text(d, "why", why, TEXT_MAX)))
        return err;
    if (version < 0)
        return tsl_diag_set(d, TSL_EINVAL, "%s: version %d: expected 0 (latest) or more",
                            forecaster, version);
    if ((err = s->vt->deploy(s, endpoint, forecaster, version, require_approved, who ? who : "",
                             why ? why : "", &got, d)))
        return err;
    if (out)
        *out = got;
    else
        tsl_store_deployment_release(&got);
    return TSL_OK;
}

tsl_err tsl_store_rollback(tsl_store *s, const char *endpoint, const char *who, const char *why,
                           tsl_store_deployment *out, tsl_diag *d) {
    tsl_store_deployment got = {0};
    tsl_err err;
    if (out) memset(out, 0, sizeof *out);
    if ((err = check_endpoint(s, endpoint, d)) ||
        (err = tsl_sto_check_text(d, "who", who, TEXT_MAX)) ||
        (err = tsl_sto_check_text(d, "why", why, TEXT_MAX)))
        return err;
    if ((err = s->vt->rollback(s, endpoint, who ? who : "", why ? why : "", &got, d))) return err;
    if (out)
        *out = got;
    else
        tsl_store_deployment_release(&got);
    return TSL_OK;
}

tsl_err tsl_store_endpoint_list(tsl_store *s, tsl_store_deployment **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->endpoint_list(s, out, n, d);
}

tsl_err tsl_store_endpoint_get(tsl_store *s, const char *endpoint, tsl_store_deployment *out,
                               tsl_diag *d) {
    tsl_err err;
    memset(out, 0, sizeof *out);
    if ((err = check_endpoint(s, endpoint, d))) return err;
    return s->vt->endpoint_get(s, endpoint, out, d);
}

tsl_err tsl_store_deployment_history(tsl_store *s, const char *endpoint, size_t limit,
                                     tsl_store_deployment **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = check_endpoint(s, endpoint, d))) return err;
    return s->vt->deployment_history(s, endpoint, limit, out, n, d);
}

void tsl_store_deployment_release(tsl_store_deployment *dp) {
    if (!dp) return;
    tsl_free(dp->endpoint);
    tsl_free(dp->forecaster);
    tsl_free(dp->who);
    tsl_free(dp->why);
    memset(dp, 0, sizeof *dp);
}

void tsl_store_deployment_list_free(tsl_store_deployment *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_store_deployment_release(&list[i]);
    tsl_free(list);
}

/* ---- tokens ---- */

static const char *const role_names[] = {NULL, "reader", "writer", "approver", "admin"};

const char *tsl_role_name(tsl_role r) {
    return r >= TSL_ROLE_READER && r <= TSL_ROLE_ADMIN ? role_names[r] : "unknown";
}

tsl_err tsl_role_parse(const char *s, tsl_role *out, tsl_diag *d) {
    for (int r = TSL_ROLE_READER; r <= TSL_ROLE_ADMIN; r++)
        if (s && !strcasecmp(s, role_names[r])) {
            *out = (tsl_role)r;
            return TSL_OK;
        }
    return tsl_diag_set(d, TSL_EINVAL, "role '%s': expected reader, writer, approver or admin",
                        s ? s : "");
}

void tsl_token_hash(const char *token, size_t len, unsigned char out[TSL_TOKEN_HASH]) {
    /* crypto_generichash (BLAKE2b) needs no initialisation and does not fail for these sizes. */
    crypto_generichash(out, TSL_TOKEN_HASH, (const unsigned char *)token, len, NULL, 0);
}

tsl_err tsl_store_token_create(tsl_store *s, const char *name, tsl_role role, const char *who,
                               char *token, int64_t *id, tsl_diag *d) {
    unsigned char raw[32], hash[TSL_TOKEN_HASH];
    char text[TSL_TOKEN_CHARS + 8];
    int64_t got = 0;
    tsl_err err;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "token", name, TSL_STORE_NAME_MAX, 0)) ||
        (err = tsl_sto_check_text(d, "who", who, TEXT_MAX)) || (err = sodium_ready(d)))
        return err;
    if (role < TSL_ROLE_READER || role > TSL_ROLE_ADMIN)
        return tsl_diag_set(d, TSL_EINVAL, "token '%s': invalid role", name);
    randombytes_buf(raw, sizeof raw);
    memcpy(text, "tsl_", 4);
    sodium_bin2base64(text + 4, sizeof text - 4, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert(strlen(text) == TSL_TOKEN_CHARS);
    tsl_token_hash(text, TSL_TOKEN_CHARS, hash);
    sodium_memzero(raw, sizeof raw);
    if ((err = s->vt->token_create(s, name, role, who ? who : "", hash, &got, d))) goto out;
    memcpy(token, text, TSL_TOKEN_CHARS + 1);
    if (id) *id = got;
out:
    sodium_memzero(text, sizeof text);
    return err;
}

tsl_err tsl_store_token_list(tsl_store *s, tsl_store_token **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->token_list(s, out, n, d);
}

tsl_err tsl_store_token_revoke(tsl_store *s, const char *name, const char *who, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "token", name, TSL_STORE_NAME_MAX, 0)) ||
        (err = tsl_sto_check_text(d, "who", who, TEXT_MAX)))
        return err;
    return s->vt->token_revoke(s, name, who ? who : "", d);
}

tsl_err tsl_store_token_verify(tsl_store *s, const char *token, tsl_store_token *out, tsl_diag *d) {
    unsigned char hash[TSL_TOKEN_HASH];
    tsl_err err;
    memset(out, 0, sizeof *out);
    if ((err = tsl_sto_ready(s, d))) return err;
    if (!token || strlen(token) != TSL_TOKEN_CHARS || strncmp(token, "tsl_", 4))
        return tsl_diag_set(d, TSL_ENOTFOUND,
                            "not a tsloop token (expected tsl_ and 43 "
                            "characters)");
    tsl_token_hash(token, TSL_TOKEN_CHARS, hash);
    return s->vt->token_find(s, hash, out, d);
}

void tsl_store_token_release(tsl_store_token *t) {
    if (!t) return;
    tsl_free(t->name);
    tsl_free(t->who);
    memset(t, 0, sizeof *t);
}

void tsl_store_token_list_free(tsl_store_token *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_store_token_release(&list[i]);
    tsl_free(list);
}

/* ---- the tail of a series ---- */

tsl_err tsl_store_item_tail(tsl_store *s, const char *dataset, const char *item, int64_t after,
                            int64_t **t, double **v, size_t *n, tsl_diag *d) {
    tsl_err err;
    *t = NULL;
    *v = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "data set", dataset, TSL_STORE_NAME_MAX, 0)))
        return err;
    if (!item || !item[0]) return tsl_diag_set(d, TSL_EINVAL, "an item id is required");
    return s->vt->item_tail(s, dataset, item, after, t, v, n, d);
}

/* ---- captures ---- */

tsl_err tsl_store_capture_add(tsl_store *s, const tsl_store_capture_new *v, size_t n, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d))) return err;
    for (size_t i = 0; i < n; i++) {
        const tsl_store_capture_new *x = &v[i];
        if (!x->inference_id || !x->inference_id[0] || strlen(x->inference_id) > 128)
            return tsl_diag_set(d, TSL_EINVAL, "capture %zu: inference id: expected 1-128 bytes",
                                i);
        if ((err = tsl_sto_check_name(d, "endpoint", x->endpoint, TSL_STORE_NAME_MAX, 0)) ||
            (err = tsl_sto_check_text(d, "capture item", x->item, 65536)))
            return err;
        if (!x->item || !x->item[0])
            return tsl_diag_set(d, TSL_EINVAL, "capture %zu: an item id is required", i);
        if (x->steps < 1 || x->steps > TSL_CAPTURE_MAX_STEPS || x->nq > TSL_CAPTURE_MAX_Q)
            return tsl_diag_set(d, TSL_EINVAL,
                                "capture %zu: %zu steps and %zu quantiles: expected 1-%d steps "
                                "and at most %d quantiles",
                                i, x->steps, x->nq, TSL_CAPTURE_MAX_STEPS, TSL_CAPTURE_MAX_Q);
        if (!x->targets || !x->mean || (x->nq && (!x->levels || !x->quant)))
            return tsl_diag_set(d, TSL_EINVAL, "capture %zu: its arrays are missing", i);
    }
    if (!n) return TSL_OK;
    return s->vt->capture_add(s, v, n, d);
}

tsl_err tsl_store_capture_list(tsl_store *s, const char *endpoint, const char *inference_id,
                               int64_t after_id, size_t limit, tsl_store_capture **out, size_t *n,
                               tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (endpoint && (err = tsl_sto_check_name(d, "endpoint", endpoint, TSL_STORE_NAME_MAX, 0)))
        return err;
    return s->vt->capture_list(s, endpoint, inference_id, after_id, limit, out, n, d);
}

tsl_err tsl_store_capture_span(tsl_store *s, const char *endpoint, int shadow, int64_t t_from,
                               int64_t t_to, tsl_store_capture **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "endpoint", endpoint, TSL_STORE_NAME_MAX, 0)))
        return err;
    if (t_from > t_to)
        return tsl_diag_set(d, TSL_EINVAL,
                            "capture span: from %lld after to %lld: expected from <= to",
                            (long long)t_from, (long long)t_to);
    return s->vt->capture_span(s, endpoint, shadow ? 1 : 0, t_from, t_to, out, n, d);
}

tsl_err tsl_store_capture_bounds(tsl_store *s, const char *endpoint, int shadow, int64_t *min_last,
                                 int64_t *max_last, int *found, tsl_diag *d) {
    tsl_err err;
    *found = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "endpoint", endpoint, TSL_STORE_NAME_MAX, 0)))
        return err;
    return s->vt->capture_bounds(s, endpoint, shadow ? 1 : 0, min_last, max_last, found, d);
}

void tsl_store_capture_release(tsl_store_capture *c) {
    if (!c) return;
    tsl_free(c->inference_id);
    tsl_free(c->endpoint);
    tsl_free(c->forecaster);
    tsl_free(c->item);
    tsl_free(c->targets);
    tsl_free(c->levels);
    tsl_free(c->mean);
    tsl_free(c->quant);
    memset(c, 0, sizeof *c);
}

void tsl_store_capture_list_free(tsl_store_capture *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_store_capture_release(&list[i]);
    tsl_free(list);
}

/* ---- jobs ---- */

const char *tsl_job_status_name(tsl_job_status st) {
    static const char *const names[] = {"Queued", "Running", "Failed", "Succeeded"};
    return (unsigned)st <= TSL_JOB_SUCCEEDED ? names[st] : "unknown";
}

/* A job kind: 1-64 bytes of [a-z0-9_.]. */
static tsl_err check_kind(const char *kind, tsl_diag *d) {
    size_t n = kind ? strlen(kind) : 0;
    int ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (kind[i] >= 'a' && kind[i] <= 'z') || (kind[i] >= '0' && kind[i] <= '9') ||
             kind[i] == '_' || kind[i] == '.';
    if (!ok)
        return tsl_diag_set(d, TSL_EINVAL, "job kind '%s': expected 1-64 of a-z 0-9 _ .",
                            kind ? kind : "");
    return TSL_OK;
}

/* text must be a JSON text (NULL allowed). */
static tsl_err check_json_text(const char *what, const char *text, tsl_diag *d) {
    if (!text) return TSL_OK;
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j) return tsl_diag_set(d, TSL_EINVAL, "%s is not JSON: %s", what, je.text);
    json_decref(j);
    return TSL_OK;
}

tsl_err tsl_store_job_create(tsl_store *s, const char *kind, const char *endpoint,
                             const char *request, const char *who, int64_t *id, tsl_diag *d) {
    tsl_err err;
    int64_t got = 0;
    if ((err = tsl_sto_ready(s, d)) || (err = check_kind(kind, d)) ||
        (err = check_json_text("the job's request", request, d)) ||
        (err = tsl_sto_check_text(d, "who", who, TEXT_MAX)) ||
        (endpoint && (err = tsl_sto_check_name(d, "endpoint", endpoint, TSL_STORE_NAME_MAX, 0))))
        return err;
    if ((err = s->vt->job_create(s, kind, endpoint, request ? request : "{}", who ? who : "", &got,
                                 d)))
        return err;
    if (id) *id = got;
    return TSL_OK;
}

tsl_err tsl_store_job_get(tsl_store *s, int64_t id, tsl_store_job *out, tsl_diag *d) {
    tsl_err err;
    memset(out, 0, sizeof *out);
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->job_get(s, id, out, d);
}

tsl_err tsl_store_job_claim(tsl_store *s, const char *kind, tsl_store_job *out, int *claimed,
                            tsl_diag *d) {
    tsl_err err;
    *claimed = 0;
    if ((err = tsl_sto_ready(s, d)) || (kind && (err = check_kind(kind, d)))) return err;
    return s->vt->job_claim(s, kind, out, claimed, d);
}

tsl_err tsl_store_job_heartbeat(tsl_store *s, int64_t id, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->job_heartbeat(s, id, d);
}

tsl_err tsl_store_job_finish(tsl_store *s, int64_t id, const char *result, const char *error,
                             tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d)) || (err = check_json_text("the job's result", result, d)) ||
        (err = tsl_sto_check_text(d, "job error", error, TEXT_MAX)))
        return err;
    return s->vt->job_finish(s, id, result ? result : "{}", error, d);
}

void tsl_store_job_release(tsl_store_job *j) {
    if (!j) return;
    tsl_free(j->kind);
    tsl_free(j->endpoint);
    tsl_free(j->request);
    tsl_free(j->result);
    tsl_free(j->error);
    tsl_free(j->who);
    memset(j, 0, sizeof *j);
}

tsl_err tsl_store_status_counts(tsl_store *s, uint64_t jobs[4], uint64_t executions[6],
                                tsl_diag *d) {
    tsl_err err;
    memset(jobs, 0, 4 * sizeof *jobs);
    memset(executions, 0, 6 * sizeof *executions);
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->status_counts(s, jobs, executions, d);
}
