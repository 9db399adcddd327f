/*
 * store.c - the store's front end (see store.h): opening by URL, argument checks, the tables of
 * status names and transitions, the retry policy, deciding whether a worker is alive, the
 * content hash, and freeing results. Every public operation checks its arguments here and then
 * calls its back end through the vtable of store_impl.h, so a back end only ever sees valid
 * names, JSON texts and statuses.
 *
 * Liveness. An execution's worker holds a lease: an expiry time it pushes forward with every
 * call. A worker whose lease expired is gone, whatever the reason (killed, hung, partitioned
 * away); that rule alone is sound across machines, as long as clocks roughly agree. On the same
 * host we can tell sooner, and without waiting for the lease: the lease records the worker's
 * host name, the kernel's boot id, its pid and the process's start time (from /proc), so a
 * process that no longer exists - or a pid that now belongs to a younger process, or a boot id
 * that changed - means the worker is gone at once. That is what lets `kill -9` during a step be
 * noticed by the very next claim.
 *
 * The content hash. A data set's state is a set: its items (id, dimension values) and its
 * observations (item, timestamp, value), each (item, timestamp) at most once. Its hash is the
 * lane-wise sum modulo 2^64 of a 256-bit pseudo-random value per element, in the manner of the
 * additive multiset hashes of Clarke, Devadas, van Dijk, Gassend and Suh, "Incremental Multiset
 * Hash Functions and Their Application to Memory Integrity Checking" (ASIACRYPT 2003). Addition
 * is commutative and associative, so the sum depends only on which elements are present, never
 * on the order they arrived in; and it is invertible, so an upsert keeps it current in O(1): an
 * insert adds the new element's value, an update subtracts the old one's and adds the new
 * one's, an unchanged row does nothing. Two different states differ by a non-empty signed
 * combination of element values, which sums to zero in a lane with probability about 2^-64 for
 * values that behave randomly. The element values come from a fixed, seedless mixing function
 * (splitmix64's finaliser over little-endian words), so the same data hashes the same in every
 * store, on every machine; it is not meant to resist someone crafting collisions on purpose.
 */
#include "store/store_impl.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/text.h"
#include "tsloop/buf.h"
#include "tsloop/mem.h"

#define DEFAULT_BUSY_MS  30000
#define DEFAULT_LEASE_MS 30000

/* The retry policy's defaults: the first retry after 1 s, doubling, 5 attempts, at most 5 min. */
#define RETRY_ATTEMPTS         5
#define RETRY_FIRST_MS         1000
#define RETRY_FACTOR           2.0
#define RETRY_CAP_MS           300000
#define RETRY_MAX_ATTEMPTS_CAP 100

/* ---- names ---- */

static const char *const exec_names[] = {"Queued",  "Executing", "Stopping",
                                         "Stopped", "Failed",    "Succeeded"};
static const char *const model_names[] = {"PendingManualApproval", "Approved", "Rejected"};
static const char *const step_names[] = {"Running", "Succeeded", "Failed"};
static const char *const ingest_names[] = {"running", "complete", "failed", "interrupted"};

const char *tsl_exec_status_name(tsl_exec_status st) {
    return (unsigned)st <= TSL_EXEC_SUCCEEDED ? exec_names[st] : "?";
}

int tsl_exec_status_terminal(tsl_exec_status st) {
    return st == TSL_EXEC_STOPPED || st == TSL_EXEC_FAILED || st == TSL_EXEC_SUCCEEDED;
}

const char *tsl_model_status_name(tsl_model_status st) {
    return (unsigned)st <= TSL_MODEL_REJECTED ? model_names[st] : "?";
}

const char *tsl_step_status_name(tsl_step_status st) {
    return (unsigned)st <= TSL_STEP_FAILED ? step_names[st] : "?";
}

const char *tsl_ingest_status_name(tsl_ingest_status st) {
    return (unsigned)st <= TSL_INGEST_INTERRUPTED ? ingest_names[st] : "?";
}

tsl_err tsl_model_status_parse(const char *s, tsl_model_status *out, tsl_diag *d) {
    for (int i = 0; i <= (int)TSL_MODEL_REJECTED; i++) {
        if (tsl_text_ieq(s, model_names[i])) {
            *out = (tsl_model_status)i;
            return TSL_OK;
        }
    }
    if (tsl_text_ieq(s, "pending")) {
        *out = TSL_MODEL_PENDING;
        return TSL_OK;
    }
    char q[TSL_TEXT_QUOTE_CAP];
    return tsl_diag_set(d, TSL_EINVAL,
                        "model status %s: expected PendingManualApproval, Approved or Rejected",
                        tsl_text_quote(q, sizeof q, s, strlen(s)));
}

tsl_err tsl_sto_exec_status_parse(const char *s, tsl_exec_status *out) {
    for (int i = 0; i <= (int)TSL_EXEC_SUCCEEDED; i++) {
        if (!strcmp(s, exec_names[i])) {
            *out = (tsl_exec_status)i;
            return TSL_OK;
        }
    }
    return TSL_ECORRUPT;
}

tsl_err tsl_sto_step_status_parse(const char *s, tsl_step_status *out) {
    for (int i = 0; i <= (int)TSL_STEP_FAILED; i++) {
        if (!strcmp(s, step_names[i])) {
            *out = (tsl_step_status)i;
            return TSL_OK;
        }
    }
    return TSL_ECORRUPT;
}

/* ---- the state machine and the retry policy ---- */

int tsl_sto_exec_transition_ok(tsl_exec_status from, tsl_exec_status to) {
    switch (from) {
    case TSL_EXEC_QUEUED:
        return to == TSL_EXEC_EXECUTING || to == TSL_EXEC_STOPPED;
    case TSL_EXEC_EXECUTING:
        return to == TSL_EXEC_STOPPING || tsl_exec_status_terminal(to);
    case TSL_EXEC_STOPPING:
        /* A step that completes after the stop request may still finish the execution. */
        return tsl_exec_status_terminal(to);
    default:
        return 0;
    }
}

int64_t tsl_sto_retry_delay(const tsl_store_retry *r, int attempt) {
    assert(attempt >= 1);
    double delay = (double)r->first_delay_ms;
    for (int k = 1; k < attempt && delay < (double)r->max_delay_ms; k++) delay *= r->factor;
    if (delay > (double)r->max_delay_ms) delay = (double)r->max_delay_ms;
    return (int64_t)delay;
}

/* Fills the zeros of r with the defaults and checks the rest. */
static tsl_err retry_resolve(tsl_store_retry *r, tsl_diag *d) {
    if (r->max_attempts == 0) r->max_attempts = RETRY_ATTEMPTS;
    if (r->first_delay_ms == 0) r->first_delay_ms = RETRY_FIRST_MS;
    if (r->factor == 0) r->factor = RETRY_FACTOR;
    if (r->max_delay_ms == 0) r->max_delay_ms = RETRY_CAP_MS;
    if (r->max_attempts < 1 || r->max_attempts > RETRY_MAX_ATTEMPTS_CAP)
        return tsl_diag_set(d, TSL_EINVAL, "retry policy: max_attempts %d: expected 1 to %d",
                            r->max_attempts, RETRY_MAX_ATTEMPTS_CAP);
    if (r->first_delay_ms < 0 || r->max_delay_ms < 0)
        return tsl_diag_set(d, TSL_EINVAL, "retry policy: delays must not be negative");
    if (!(r->factor >= 1.0 && r->factor <= 100.0))
        return tsl_diag_set(d, TSL_EINVAL, "retry policy: factor %g: expected 1 to 100", r->factor);
    if (r->max_delay_ms < r->first_delay_ms)
        return tsl_diag_set(d, TSL_EINVAL,
                            "retry policy: max_delay_ms %lld is below first_delay_ms %lld",
                            (long long)r->max_delay_ms, (long long)r->first_delay_ms);
    return TSL_OK;
}

/* ---- liveness ---- */

/* State and start time (field 22, clock ticks since boot) of process pid, from /proc. */
static int proc_stat(int64_t pid, char *state, int64_t *start) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) is in parentheses and may hold anything: skip to the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p++;
    int field = 2;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        field++;
        if (field == 3) *state = tok[0];
        if (field == 22) {
            char *end = NULL;
            errno = 0;
            long long v = strtoll(tok, &end, 10);
            if (errno || end == tok) return -1;
            *start = v;
            return 0;
        }
    }
    return -1;
}

/* The kernel's boot id into out (cap bytes), or "" when unknown. */
static void read_boot_id(char *out, size_t cap) {
    out[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f) return;
    if (fgets(out, (int)cap, f)) out[strcspn(out, "\r\n")] = '\0';
    fclose(f);
}

/* This process's identity for leases, with a fresh random token. */
static void owner_init(tsl_store_owner *o, const char *host) {
    memset(o, 0, sizeof *o);
    if (host)
        tsl_strlcpy(o->host, host, sizeof o->host);
    else if (gethostname(o->host, sizeof o->host - 1) != 0)
        tsl_strlcpy(o->host, "localhost", sizeof o->host);
    read_boot_id(o->boot, sizeof o->boot);
    o->pid = (int64_t)getpid();
    char state = 0;
    if (proc_stat(o->pid, &state, &o->start) != 0) o->start = 0;
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(o->token, sizeof o->token, raw, sizeof raw);
}

int tsl_sto_owner_dead(const tsl_store *s, const char *host, const char *boot, int64_t pid,
                       int64_t start, int64_t lease_until, int64_t now) {
    if (lease_until <= now) return 1;
    if (!host || strcmp(host, s->self.host)) return 0; /* another machine: only its lease tells */
    if (boot && boot[0] && s->self.boot[0] && strcmp(boot, s->self.boot)) return 1;
    if (pid == s->self.pid) return 0;
    if (pid <= 0 || pid > INT32_MAX) return 0;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 1;
    char state = 0;
    int64_t st = 0;
    if (proc_stat(pid, &state, &st) != 0) return 0; /* no /proc: trust the lease */
    if (state == 'Z' || state == 'X') return 1;     /* exited, not yet reaped */
    return start && st != start;                    /* the pid now belongs to another process */
}

int64_t tsl_sto_now(const tsl_store *s) {
    if (s->clock_ms) return s->clock_ms(s->clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the content hash ---- */

#define GOLDEN   UINT64_C(0x9e3779b97f4a7c15)
#define ITEM_TAG UINT64_C(0x6974656d2d747331) /* "item-ts1" */
#define OBS_TAG  UINT64_C(0x6f62732d2d747331) /* "obs--ts1" */
/* Any NaN pattern is free: stored values are never NaN (a missing value is its own state). */
#define MISSING_BITS UINT64_C(0x7ff80000deadbeef)

static const uint64_t lane_seed[4] = {UINT64_C(0x243f6a8885a308d3), UINT64_C(0x13198a2e03707344),
                                      UINT64_C(0xa4093822299f31d0), UINT64_C(0x082efa98ec4e6c89)};

/* splitmix64's finaliser: a bijection on 64 bits with full avalanche. */
static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* n <= 8 bytes at p as a little-endian word, whatever the host's byte order. */
static uint64_t load_le(const unsigned char *p, size_t n) {
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++) w |= (uint64_t)p[i] << (8 * i);
    return w;
}

/* Hash of s[0..n) under seed; the length enters first, so zero padding is unambiguous. */
static uint64_t hash_str(const char *s, size_t n, uint64_t seed) {
    const unsigned char *p = (const unsigned char *)s;
    uint64_t h = mix(seed ^ ((uint64_t)n * GOLDEN));
    for (; n >= 8; p += 8, n -= 8) h = mix(h ^ load_le(p, 8));
    return mix(h ^ load_le(p, n) ^ GOLDEN);
}

void tsl_sto_item_key(const char *id, size_t len, uint64_t key[4]) {
    for (int j = 0; j < 4; j++) key[j] = hash_str(id, len, lane_seed[j]);
}

void tsl_sto_item_hash(const uint64_t key[4], const char *const *dims, size_t ndims,
                       uint64_t out[4]) {
    for (int j = 0; j < 4; j++) {
        uint64_t h = mix(key[j] ^ ITEM_TAG);
        for (size_t i = 0; i < ndims; i++)
            h = mix(h + hash_str(dims[i], strlen(dims[i]), lane_seed[j] ^ ((i + 1) * GOLDEN)));
        out[j] = h;
    }
}

void tsl_sto_obs_hash(const uint64_t key[4], int64_t t, double v, uint64_t out[4]) {
    uint64_t bits = MISSING_BITS;
    if (v == 0)
        bits = 0; /* +0 and -0 are one value */
    else if (!isnan(v))
        memcpy(&bits, &v, sizeof bits);
    for (int j = 0; j < 4; j++) out[j] = mix(mix((key[j] ^ OBS_TAG) + (uint64_t)t * GOLDEN) ^ bits);
}

void tsl_sto_hash_add(uint64_t acc[4], const uint64_t h[4]) {
    for (int j = 0; j < 4; j++) acc[j] += h[j];
}

void tsl_sto_hash_sub(uint64_t acc[4], const uint64_t h[4]) {
    for (int j = 0; j < 4; j++) acc[j] -= h[j];
}

void tsl_sto_hash_hex(const uint64_t h[4], char *out) {
    for (int j = 0; j < 4; j++) snprintf(out + 16 * j, 17, "%016llx", (unsigned long long)h[j]);
}

char *tsl_sto_json(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    json_t *j = json_vpack_ex(NULL, 0, fmt, ap);
    va_end(ap);
    assert(j && "event payloads are built from checked strings");
    if (!j) return tsl_strdup("{}");
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    assert(text);
    char *copy = tsl_strdup(text ? text : "{}");
    free(text);
    return copy;
}

/* ---- argument checks ---- */

/* A name: 1..max bytes of [A-Za-z0-9_.-] (and '/' when slash), starting with a letter or
 * digit. */
tsl_err tsl_sto_check_name(tsl_diag *d, const char *what, const char *name, size_t max, int slash) {
    if (!name || !name[0]) return tsl_diag_set(d, TSL_EINVAL, "%s: a name is required", what);
    size_t n = strlen(name);
    int ok = n <= max;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        ok = alnum || (i > 0 && (c == '_' || c == '.' || c == '-' || (slash && c == '/')));
    }
    if (ok) return TSL_OK;
    char q[TSL_TEXT_QUOTE_CAP];
    return tsl_diag_set(d, TSL_EINVAL,
                        "%s %s: expected 1 to %zu characters of A-Z a-z 0-9 _ . -%s, starting "
                        "with a letter or digit",
                        what, tsl_text_quote(q, sizeof q, name, n), max, slash ? " /" : "");
}

/* Free text (who, why, a source, a reason): valid UTF-8 of at most max bytes; NULL is fine. */
tsl_err tsl_sto_check_text(tsl_diag *d, const char *what, const char *s, size_t max) {
    if (!s) return TSL_OK;
    size_t n = strlen(s);
    if (n > max)
        return tsl_diag_set(d, TSL_EINVAL, "%s: %zu bytes, at most %zu allowed", what, n, max);
    if (!tsl_text_utf8_valid(s, n)) return tsl_diag_set(d, TSL_EINVAL, "%s: not valid UTF-8", what);
    return TSL_OK;
}

/* A JSON text (NULL is fine: the default). */
static tsl_err check_json(tsl_diag *d, const char *what, const char *s) {
    if (!s) return TSL_OK;
    json_error_t je;
    json_t *j = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (j) {
        json_decref(j);
        return TSL_OK;
    }
    return tsl_diag_set(d, TSL_EINVAL, "%s: not valid JSON (line %d, column %d: %s)", what, je.line,
                        je.column, je.text);
}

/* An event type: 1-64 bytes of [a-z0-9_.]. */
static tsl_err check_event_type(tsl_diag *d, const char *type) {
    size_t n = type ? strlen(type) : 0;
    int ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        char c = type[i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    }
    if (ok) return TSL_OK;
    return tsl_diag_set(d, TSL_EINVAL, "event type %s: expected 1 to 64 characters of a-z 0-9 _ .",
                        type ? type : "(none)");
}

#define TEXT_MAX 4096

/* Whether the handle may serve operations (its schema is current). */
tsl_err tsl_sto_ready(const tsl_store *s, tsl_diag *d) {
    if (s->schema_current) return TSL_OK;
    return tsl_diag_set(d, TSL_EVERSION,
                        "store %s: the schema has pending migrations; run `tsloop migrate`",
                        s->location);
}

/* ---- opening ---- */

tsl_err tsl_store_open(const char *url, const tsl_store_opts *opts, tsl_store **out, tsl_diag *d) {
    static const tsl_store_opts defaults;
    tsl_err err = TSL_OK;
    tsl_store *s = NULL;
    *out = NULL;
    if (!opts) opts = &defaults;
    if (!url || !url[0]) return tsl_diag_set(d, TSL_EINVAL, "store: no location given");
    const char *path = url;
    if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13))
        return tsl_diag_set(d, TSL_EUNSUPPORTED,
                            "store %s: this build has no PostgreSQL back end (use a path or "
                            "sqlite:PATH)",
                            url);
    if (!strncmp(url, "sqlite://", 9))
        path = url + 9;
    else if (!strncmp(url, "sqlite:", 7))
        path = url + 7;
    else if (strstr(url, "://"))
        return tsl_diag_set(d, TSL_EUNSUPPORTED,
                            "store %s: unknown scheme; expected a path or sqlite:PATH", url);
    if (!path[0]) return tsl_diag_set(d, TSL_EINVAL, "store %s: the path is empty", url);
    if (opts->busy_timeout_ms < 0 || opts->lease_ms < 0)
        return tsl_diag_set(d, TSL_EINVAL, "store %s: timeouts must not be negative", url);
    if ((err = tsl_sto_check_text(d, "store: host name", opts->host, 255))) return err;
    if (sodium_init() < 0)
        return tsl_diag_set(d, TSL_EINTERNAL, "store %s: libsodium failed to start", url);

    s = tsl_calloc(1, sizeof *s);
    s->url = tsl_strdup(url);
    s->location = tsl_strdup(path);
    s->busy_ms = opts->busy_timeout_ms ? opts->busy_timeout_ms : DEFAULT_BUSY_MS;
    s->lease_ms = opts->lease_ms ? opts->lease_ms : DEFAULT_LEASE_MS;
    s->sync_normal = opts->sync_normal;
    s->clock_ms = opts->clock_ms;
    s->clock_ctx = opts->clock_ctx;
    owner_init(&s->self, opts->host);
    s->opts = *opts;
    s->opts.host = s->self.host;
    if ((err = tsl_sto_sqlite_open(s, path, opts, d))) goto out;
    *out = s;
    s = NULL;
out:
    if (s) {
        tsl_free(s->url);
        tsl_free(s->location);
        tsl_free(s);
    }
    return err;
}

tsl_err tsl_store_open_sibling(const tsl_store *s, tsl_store **out, tsl_diag *d) {
    tsl_err err;
    tsl_store *sib = NULL;
    *out = NULL;
    if ((err = tsl_store_open(s->url, &s->opts, &sib, d))) return err;
    /* The same worker: its token, so leases s holds are this handle's too. */
    sib->self = s->self;
    *out = sib;
    return TSL_OK;
}

void tsl_store_close(tsl_store *s) {
    if (!s) return;
    if (s->vt) s->vt->close(s);
    tsl_free(s->url);
    tsl_free(s->location);
    tsl_free(s);
}

const char *tsl_store_backend(const tsl_store *s) {
    return s->vt->name;
}

const char *tsl_store_location(const tsl_store *s) {
    return s->location;
}

tsl_err tsl_store_migrations(tsl_store *s, tsl_store_migration **out, size_t *n, tsl_diag *d) {
    *out = NULL;
    *n = 0;
    return s->vt->migrations(s, out, n, d);
}

tsl_err tsl_store_migrate(tsl_store *s, int *applied, tsl_diag *d) {
    int count = 0;
    tsl_err err = s->vt->migrate(s, 0, &count, d);
    if (!err) s->schema_current = 1;
    if (applied) *applied = count;
    return err;
}

/* ---- data sets ---- */

/* Checks ndims dimension names: non-empty UTF-8, distinct. */
tsl_err tsl_sto_check_dims(tsl_diag *d, const char *const *dims, size_t ndims) {
    if (ndims && !dims) return tsl_diag_set(d, TSL_EINVAL, "dimension names are missing");
    for (size_t i = 0; i < ndims; i++) {
        if (!dims[i] || !dims[i][0])
            return tsl_diag_set(d, TSL_EINVAL, "dimension %zu: the name is empty", i + 1);
        tsl_err err = tsl_sto_check_text(d, "dimension name", dims[i], 1024);
        if (err) return err;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(dims[i], dims[j]))
                return tsl_diag_set(d, TSL_EINVAL, "dimension '%s' is named twice", dims[i]);
    }
    return TSL_OK;
}

tsl_err tsl_store_dataset_create(tsl_store *s, const char *name, tsl_freq freq,
                                 const char *const *dim_names, size_t ndims, int64_t *id,
                                 tsl_diag *d) {
    tsl_err err;
    int64_t got = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "data set", name, TSL_STORE_NAME_MAX, 0)) ||
        (err = tsl_sto_check_dims(d, dim_names, ndims)))
        return err;
    if (freq.unit != TSL_FREQ_NONE && (freq.unit > TSL_FREQ_YEAR || freq.mult < 1 ||
                                       freq.anchor < TSL_FREQ_MONTH_END || freq.anchor > 31))
        return tsl_diag_set(d, TSL_EINVAL, "data set '%s': invalid frequency", name);
    if (freq.unit == TSL_FREQ_NONE) freq = (tsl_freq){TSL_FREQ_NONE, 0, 0};
    err = s->vt->dataset_create(s, name, freq, dim_names, ndims, &got, d);
    if (!err && id) *id = got;
    return err;
}

tsl_err tsl_store_dataset_get(tsl_store *s, const char *name, tsl_store_dataset *out, tsl_diag *d) {
    tsl_err err;
    memset(out, 0, sizeof *out);
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "data set", name, TSL_STORE_NAME_MAX, 0)))
        return err;
    return s->vt->dataset_get(s, name, out, d);
}

tsl_err tsl_store_dataset_list(tsl_store *s, tsl_store_dataset **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->dataset_list(s, out, n, d);
}

tsl_err tsl_store_dataset_verify(tsl_store *s, const char *name, int *ok, tsl_diag *d) {
    tsl_err err;
    uint64_t stored[4] = {0}, computed[4] = {0};
    *ok = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "data set", name, TSL_STORE_NAME_MAX, 0)))
        return err;
    if ((err = s->vt->dataset_rehash(s, name, stored, computed, d))) return err;
    *ok = !memcmp(stored, computed, sizeof stored);
    return TSL_OK;
}

tsl_err tsl_store_item_list(tsl_store *s, const char *dataset, tsl_store_item **out, size_t *n,
                            tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "data set", dataset, TSL_STORE_NAME_MAX, 0)))
        return err;
    return s->vt->item_list(s, dataset, out, n, d);
}

tsl_err tsl_store_dataset_load(tsl_store *s, const char *name, const char *const *items,
                               size_t nitems, int period, tsl_dataset **out, char *hash,
                               tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "data set", name, TSL_STORE_NAME_MAX, 0)))
        return err;
    if (items) {
        for (size_t i = 0; i < nitems; i++)
            if (!items[i] || !items[i][0])
                return tsl_diag_set(d, TSL_EINVAL, "data set '%s': item %zu of the list is empty",
                                    name, i + 1);
    }
    return s->vt->dataset_load(s, name, items, nitems, period, out, hash, d);
}

tsl_err tsl_store_ingest_get(tsl_store *s, int64_t id, tsl_store_ingest_info *out, tsl_diag *d) {
    tsl_err err;
    memset(out, 0, sizeof *out);
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->ingest_get(s, id, out, d);
}

tsl_err tsl_store_ingest_list(tsl_store *s, const char *dataset, size_t limit,
                              tsl_store_ingest_info **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (dataset && (err = tsl_sto_check_name(d, "data set", dataset, TSL_STORE_NAME_MAX, 0)))
        return err;
    return s->vt->ingest_list(s, dataset, limit, out, n, d);
}

tsl_err tsl_store_revision_list(tsl_store *s, const char *dataset, const char *item,
                                int64_t after_id, size_t limit, tsl_store_revision **out, size_t *n,
                                tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "data set", dataset, TSL_STORE_NAME_MAX, 0)))
        return err;
    return s->vt->revision_list(s, dataset, item, after_id, limit, out, n, d);
}

/* ---- registry ---- */

tsl_err tsl_store_model_register(tsl_store *s, const tsl_store_model_new *m, int64_t *id,
                                 int *version, tsl_diag *d) {
    tsl_err err;
    int64_t got_id = 0;
    int got_version = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "forecaster", m->forecaster, TSL_STORE_NAME_MAX, 0)) ||
        (err = check_json(d, "metrics", m->metrics)) ||
        (err = check_json(d, "per-series choices", m->choices)) ||
        (err = tsl_sto_check_text(d, "who", m->who, TEXT_MAX)) ||
        (err = tsl_sto_check_text(d, "why", m->why, TEXT_MAX)) ||
        (err = tsl_sto_check_text(d, "dataset hash", m->dataset_hash, 256)) ||
        (err = tsl_sto_check_text(d, "config hash", m->config_hash, 256)) ||
        (err = tsl_sto_check_text(d, "program version", m->program_version, 256)))
        return err;
    if (m->dataset && (err = tsl_sto_check_name(d, "data set", m->dataset, TSL_STORE_NAME_MAX, 0)))
        return err;
    if (!m->artifact && m->artifact_len)
        return tsl_diag_set(d, TSL_EINVAL, "forecaster '%s': the artifact is missing",
                            m->forecaster);
    if ((unsigned)m->status > TSL_MODEL_REJECTED)
        return tsl_diag_set(d, TSL_EINVAL, "forecaster '%s': invalid status", m->forecaster);
    unsigned char digest[crypto_hash_sha256_BYTES];
    char sha[65];
    crypto_hash_sha256(digest, m->artifact ? m->artifact : (const void *)"", m->artifact_len);
    sodium_bin2hex(sha, sizeof sha, digest, sizeof digest);
    uint32_t crc = tsl_crc32(0, m->artifact, m->artifact_len);
    err = s->vt->model_register(s, m, crc, sha, &got_id, &got_version, d);
    if (!err) {
        if (id) *id = got_id;
        if (version) *version = got_version;
    }
    return err;
}

/* Checks a (forecaster, version) pair. */
static tsl_err check_version(tsl_diag *d, const char *forecaster, int version) {
    tsl_err err = tsl_sto_check_name(d, "forecaster", forecaster, TSL_STORE_NAME_MAX, 0);
    if (err) return err;
    if (version < 1)
        return tsl_diag_set(d, TSL_EINVAL, "forecaster '%s': version %d: expected 1 or more",
                            forecaster, version);
    return TSL_OK;
}

tsl_err tsl_store_model_get(tsl_store *s, const char *forecaster, int version, tsl_store_model *out,
                            tsl_diag *d) {
    tsl_err err;
    memset(out, 0, sizeof *out);
    if ((err = tsl_sto_ready(s, d)) || (err = check_version(d, forecaster, version))) return err;
    return s->vt->model_get(s, forecaster, version, out, d);
}

tsl_err tsl_store_model_list(tsl_store *s, const char *forecaster, tsl_store_model **out, size_t *n,
                             tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (forecaster &&
        (err = tsl_sto_check_name(d, "forecaster", forecaster, TSL_STORE_NAME_MAX, 0)))
        return err;
    return s->vt->model_list(s, forecaster, out, n, d);
}

tsl_err tsl_store_model_artifact(tsl_store *s, const char *forecaster, int version, void **data,
                                 size_t *len, tsl_diag *d) {
    tsl_err err;
    void *bytes = NULL;
    size_t n = 0;
    char want[65] = {0};
    *data = NULL;
    *len = 0;
    if ((err = tsl_sto_ready(s, d)) || (err = check_version(d, forecaster, version))) return err;
    if ((err = s->vt->model_artifact(s, forecaster, version, &bytes, &n, want, d))) return err;
    unsigned char digest[crypto_hash_sha256_BYTES];
    char got[65];
    crypto_hash_sha256(digest, bytes ? bytes : (const void *)"", n);
    sodium_bin2hex(got, sizeof got, digest, sizeof digest);
    if (strcmp(got, want)) {
        tsl_free(bytes);
        return tsl_diag_set(d, TSL_ECORRUPT,
                            "store %s: the artifact of %s version %d fails its SHA-256 check "
                            "(stored %s, computed %s)",
                            s->location, forecaster, version, want, got);
    }
    *data = bytes;
    *len = n;
    return TSL_OK;
}

tsl_err tsl_store_model_set_status(tsl_store *s, const char *forecaster, int version,
                                   tsl_model_status status, const char *who, const char *why,
                                   tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d)) || (err = check_version(d, forecaster, version)) ||
        (err = tsl_sto_check_text(d, "who", who, TEXT_MAX)) ||
        (err = tsl_sto_check_text(d, "why", why, TEXT_MAX)))
        return err;
    if ((unsigned)status > TSL_MODEL_REJECTED)
        return tsl_diag_set(d, TSL_EINVAL, "%s version %d: invalid status", forecaster, version);
    if (!who || !who[0])
        return tsl_diag_set(d, TSL_EINVAL,
                            "%s version %d: a status change needs who makes it (for the audit "
                            "log)",
                            forecaster, version);
    return s->vt->model_set_status(s, forecaster, version, status, who, why ? why : "", d);
}

tsl_err tsl_store_model_audit(tsl_store *s, const char *forecaster, int version,
                              tsl_store_audit **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (forecaster &&
        (err = tsl_sto_check_name(d, "forecaster", forecaster, TSL_STORE_NAME_MAX, 0)))
        return err;
    if (version < 0)
        return tsl_diag_set(d, TSL_EINVAL, "audit: version %d: expected 0 (all) or more", version);
    return s->vt->model_audit(s, forecaster, version, out, n, d);
}

tsl_err tsl_store_model_champion(tsl_store *s, const char *forecaster, tsl_store_model *out,
                                 int *found, tsl_diag *d) {
    tsl_err err;
    *found = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "forecaster", forecaster, TSL_STORE_NAME_MAX, 0)))
        return err;
    tsl_store_model m;
    memset(&m, 0, sizeof m);
    if ((err = s->vt->model_champion(s, forecaster, &m, found, d))) return err;
    if (*found) *out = m;
    return TSL_OK;
}

/* ---- executions ---- */

tsl_err tsl_store_exec_request(tsl_store *s, const tsl_exec_request *r, int64_t *id,
                               tsl_exec_outcome *how, tsl_diag *d) {
    tsl_err err;
    char key[64];
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "forecaster", r->forecaster, TSL_STORE_NAME_MAX, 0)) ||
        (err = check_json(d, "execution parameters", r->params)) ||
        (err = tsl_sto_check_text(d, "who", r->who, TEXT_MAX)) ||
        (err = tsl_sto_check_text(d, "dedupe key", r->dedupe_key, 512)))
        return err;
    if (!r->trigger || !r->trigger[0])
        return tsl_diag_set(d, TSL_EINVAL, "forecaster '%s': the request has no trigger",
                            r->forecaster);
    if ((err = tsl_sto_check_name(d, "trigger", r->trigger, TSL_STORE_NAME_MAX, 0))) return err;
    if (r->dedupe_key && !r->dedupe_key[0])
        return tsl_diag_set(d, TSL_EINVAL, "forecaster '%s': the dedupe key is empty",
                            r->forecaster);
    tsl_exec_request req = *r;
    if ((err = retry_resolve(&req.retry, d))) return err;
    if (!req.dedupe_key) {
        /* A key nobody else can have: the request then never coalesces by key. */
        unsigned char raw[12];
        char hex[25];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
        snprintf(key, sizeof key, "unique:%s", hex);
        req.dedupe_key = key;
    }
    if (!req.params) req.params = "{}";
    if (!req.who) req.who = "";
    int64_t got = 0;
    tsl_exec_outcome o = TSL_EXEC_NEW;
    if ((err = s->vt->exec_request(s, &req, &got, &o, d))) return err;
    if (id) *id = got;
    if (how) *how = o;
    return TSL_OK;
}

tsl_err tsl_store_exec_get(tsl_store *s, int64_t id, tsl_store_exec *out, tsl_diag *d) {
    tsl_err err;
    memset(out, 0, sizeof *out);
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->exec_get(s, id, out, d);
}

tsl_err tsl_store_exec_list(tsl_store *s, const char *forecaster, size_t limit,
                            tsl_store_exec **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (forecaster &&
        (err = tsl_sto_check_name(d, "forecaster", forecaster, TSL_STORE_NAME_MAX, 0)))
        return err;
    return s->vt->exec_list(s, forecaster, limit, out, n, d);
}

tsl_err tsl_store_exec_claim(tsl_store *s, const char *forecaster, tsl_store_exec *out,
                             int *claimed, tsl_diag *d) {
    tsl_err err;
    *claimed = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    if (forecaster &&
        (err = tsl_sto_check_name(d, "forecaster", forecaster, TSL_STORE_NAME_MAX, 0)))
        return err;
    tsl_store_exec e;
    memset(&e, 0, sizeof e);
    if ((err = s->vt->exec_claim(s, forecaster, &e, claimed, d))) return err;
    if (*claimed) *out = e;
    return TSL_OK;
}

tsl_err tsl_store_exec_heartbeat(tsl_store *s, int64_t id, tsl_exec_status *status, tsl_diag *d) {
    tsl_err err;
    tsl_exec_status st = TSL_EXEC_EXECUTING;
    if ((err = tsl_sto_ready(s, d)) || (err = s->vt->exec_heartbeat(s, id, &st, d))) return err;
    if (status) *status = st;
    return TSL_OK;
}

tsl_err tsl_store_step_begin(tsl_store *s, int64_t id, const char *step, int *attempt,
                             tsl_exec_status *status, tsl_diag *d) {
    tsl_err err;
    *attempt = 0;
    tsl_exec_status st = TSL_EXEC_EXECUTING;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "step", step, TSL_STORE_NAME_MAX, 0)) ||
        (err = s->vt->step_begin(s, id, step, attempt, &st, d)))
        return err;
    if (status) *status = st;
    return TSL_OK;
}

tsl_err tsl_store_step_succeed(tsl_store *s, int64_t id, const char *step, const char *output,
                               const void *blob, size_t blob_len, tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "step", step, TSL_STORE_NAME_MAX, 0)) ||
        (err = check_json(d, "step output", output)))
        return err;
    if (!blob && blob_len)
        return tsl_diag_set(d, TSL_EINVAL, "step '%s': the blob is missing", step);
    return s->vt->step_succeed(s, id, step, output ? output : "{}", blob, blob_len, d);
}

tsl_err tsl_store_step_fail(tsl_store *s, int64_t id, const char *step, const char *error,
                            int retryable, int64_t *retry_at_ms, tsl_diag *d) {
    tsl_err err;
    int64_t at = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "step", step, TSL_STORE_NAME_MAX, 0)) ||
        (err = tsl_sto_check_text(d, "step error", error, TEXT_MAX)))
        return err;
    if (!error || !error[0])
        return tsl_diag_set(d, TSL_EINVAL, "step '%s': a failure needs its error", step);
    if ((err = s->vt->step_fail(s, id, step, error, retryable, &at, d))) return err;
    if (retry_at_ms) *retry_at_ms = at;
    return TSL_OK;
}

tsl_err tsl_store_step_output(tsl_store *s, int64_t id, const char *step, char **json, void **blob,
                              size_t *blob_len, tsl_diag *d) {
    tsl_err err;
    char *j = NULL;
    void *b = NULL;
    size_t n = 0;
    if (json) *json = NULL;
    if (blob) *blob = NULL;
    if (blob_len) *blob_len = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "step", step, TSL_STORE_NAME_MAX, 0)) ||
        (err = s->vt->step_output(s, id, step, &j, &b, &n, d)))
        return err;
    if (json)
        *json = j;
    else
        tsl_free(j);
    if (blob)
        *blob = b;
    else
        tsl_free(b);
    if (blob_len) *blob_len = n;
    return TSL_OK;
}

tsl_err tsl_store_exec_finish(tsl_store *s, int64_t id, tsl_exec_status status, const char *reason,
                              tsl_diag *d) {
    tsl_err err;
    if ((err = tsl_sto_ready(s, d)) || (err = tsl_sto_check_text(d, "reason", reason, TEXT_MAX)))
        return err;
    if (!tsl_exec_status_terminal(status))
        return tsl_diag_set(d, TSL_EINVAL,
                            "execution %lld: finishing as %s; expected Succeeded, Failed or "
                            "Stopped",
                            (long long)id, tsl_exec_status_name(status));
    if (status == TSL_EXEC_FAILED && (!reason || !reason[0]))
        return tsl_diag_set(d, TSL_EINVAL, "execution %lld: a failure needs its reason",
                            (long long)id);
    return s->vt->exec_finish(s, id, status, reason, d);
}

tsl_err tsl_store_exec_stop(tsl_store *s, int64_t id, const char *who, const char *why,
                            tsl_exec_status *status, tsl_diag *d) {
    tsl_err err;
    tsl_exec_status st = TSL_EXEC_STOPPED;
    if ((err = tsl_sto_ready(s, d)) || (err = tsl_sto_check_text(d, "who", who, TEXT_MAX)) ||
        (err = tsl_sto_check_text(d, "why", why, TEXT_MAX)) ||
        (err = s->vt->exec_stop(s, id, who ? who : "", why ? why : "", &st, d)))
        return err;
    if (status) *status = st;
    return TSL_OK;
}

tsl_err tsl_store_exec_recover(tsl_store *s, size_t *recovered, tsl_diag *d) {
    tsl_err err;
    size_t n = 0;
    if ((err = tsl_sto_ready(s, d)) || (err = s->vt->exec_recover(s, &n, d))) return err;
    if (recovered) *recovered = n;
    return TSL_OK;
}

/* ---- parameters ---- */

tsl_err tsl_store_param_set(tsl_store *s, const char *key, const char *value, const char *who,
                            const char *why, int *version, tsl_diag *d) {
    tsl_err err;
    int v = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "parameter", key, TSL_STORE_KEY_MAX, 1)) ||
        (err = tsl_sto_check_text(d, "parameter value", value, (size_t)1 << 20)) ||
        (err = tsl_sto_check_text(d, "who", who, TEXT_MAX)) ||
        (err = tsl_sto_check_text(d, "why", why, TEXT_MAX)))
        return err;
    if (!value) return tsl_diag_set(d, TSL_EINVAL, "parameter '%s': no value given", key);
    if ((err = s->vt->param_set(s, key, value, who ? who : "", why ? why : "", &v, d))) return err;
    if (version) *version = v;
    return TSL_OK;
}

tsl_err tsl_store_param_get(tsl_store *s, const char *key, int version, tsl_store_param *out,
                            tsl_diag *d) {
    tsl_err err;
    memset(out, 0, sizeof *out);
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "parameter", key, TSL_STORE_KEY_MAX, 1)))
        return err;
    if (version < 0)
        return tsl_diag_set(
            d, TSL_EINVAL, "parameter '%s': version %d: expected 0 (latest) or more", key, version);
    return s->vt->param_get(s, key, version, out, d);
}

tsl_err tsl_store_param_history(tsl_store *s, const char *key, tsl_store_param **out, size_t *n,
                                tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d)) ||
        (err = tsl_sto_check_name(d, "parameter", key, TSL_STORE_KEY_MAX, 1)))
        return err;
    return s->vt->param_history(s, key, out, n, d);
}

tsl_err tsl_store_param_list(tsl_store *s, tsl_store_param **out, size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->param_list(s, out, n, d);
}

/* ---- events ---- */

tsl_err tsl_store_event_append(tsl_store *s, const char *type, const char *subject,
                               const char *payload, int64_t *id, tsl_diag *d) {
    tsl_err err;
    int64_t got = 0;
    if ((err = tsl_sto_ready(s, d)) || (err = check_event_type(d, type)) ||
        (err = tsl_sto_check_text(d, "event subject", subject, 512)) ||
        (err = check_json(d, "event payload", payload)))
        return err;
    if ((err = s->vt->event_append(s, type, subject ? subject : "", payload ? payload : "{}", &got,
                                   d)))
        return err;
    if (id) *id = got;
    return TSL_OK;
}

tsl_err tsl_store_event_list(tsl_store *s, int64_t after_id, size_t limit, tsl_store_event **out,
                             size_t *n, tsl_diag *d) {
    tsl_err err;
    *out = NULL;
    *n = 0;
    if ((err = tsl_sto_ready(s, d))) return err;
    return s->vt->event_list(s, after_id, limit, out, n, d);
}

/* ---- freeing results ---- */

/* Frees an array of n owned strings and the array. */
static void free_strv(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++) tsl_free(v[i]);
    tsl_free(v);
}

void tsl_store_dataset_release(tsl_store_dataset *ds) {
    if (!ds) return;
    tsl_free(ds->name);
    free_strv(ds->dim_names, ds->ndims);
    memset(ds, 0, sizeof *ds);
}

void tsl_store_dataset_list_free(tsl_store_dataset *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_store_dataset_release(&list[i]);
    tsl_free(list);
}

void tsl_store_item_list_free(tsl_store_item *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) {
        tsl_free(list[i].item_id);
        free_strv(list[i].dims, list[i].ndims);
    }
    tsl_free(list);
}

void tsl_store_receipt_release(tsl_store_receipt *r) {
    if (!r) return;
    for (size_t i = 0; i < r->nrejects; i++) tsl_free(r->rejects[i].reason);
    tsl_free(r->rejects);
    memset(r, 0, sizeof *r);
}

void tsl_store_ingest_info_release(tsl_store_ingest_info *in) {
    if (!in) return;
    tsl_free(in->dataset);
    tsl_free(in->source);
    tsl_free(in->who);
    tsl_free(in->error);
    tsl_store_receipt_release(&in->receipt);
    memset(in, 0, sizeof *in);
}

void tsl_store_ingest_info_list_free(tsl_store_ingest_info *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_store_ingest_info_release(&list[i]);
    tsl_free(list);
}

void tsl_store_revision_list_free(tsl_store_revision *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_free(list[i].item_id);
    tsl_free(list);
}

void tsl_store_model_release(tsl_store_model *m) {
    if (!m) return;
    tsl_free(m->forecaster);
    tsl_free(m->metrics);
    tsl_free(m->choices);
    tsl_free(m->dataset);
    tsl_free(m->dataset_hash);
    tsl_free(m->config_hash);
    tsl_free(m->program_version);
    memset(m, 0, sizeof *m);
}

void tsl_store_model_list_free(tsl_store_model *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_store_model_release(&list[i]);
    tsl_free(list);
}

void tsl_store_audit_list_free(tsl_store_audit *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) {
        tsl_free(list[i].forecaster);
        tsl_free(list[i].who);
        tsl_free(list[i].why);
    }
    tsl_free(list);
}

/* Frees what one step of an execution holds. */
static void step_release(tsl_store_step *st) {
    tsl_free(st->name);
    tsl_free(st->output);
    for (size_t i = 0; i < st->nattempts; i++) {
        tsl_free(st->attempts[i].error);
        tsl_free(st->attempts[i].worker);
    }
    tsl_free(st->attempts);
    memset(st, 0, sizeof *st);
}

void tsl_store_exec_release(tsl_store_exec *e) {
    if (!e) return;
    tsl_free(e->forecaster);
    tsl_free(e->trigger);
    tsl_free(e->dedupe_key);
    tsl_free(e->params);
    tsl_free(e->who);
    tsl_free(e->reason);
    tsl_free(e->owner);
    for (size_t i = 0; i < e->nsteps; i++) step_release(&e->steps[i]);
    tsl_free(e->steps);
    memset(e, 0, sizeof *e);
}

void tsl_store_exec_list_free(tsl_store_exec *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_store_exec_release(&list[i]);
    tsl_free(list);
}

void tsl_store_param_release(tsl_store_param *p) {
    if (!p) return;
    tsl_free(p->key);
    tsl_free(p->value);
    tsl_free(p->who);
    tsl_free(p->why);
    memset(p, 0, sizeof *p);
}

void tsl_store_param_list_free(tsl_store_param *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) tsl_store_param_release(&list[i]);
    tsl_free(list);
}

void tsl_store_event_list_free(tsl_store_event *list, size_t n) {
    if (!list) return;
    for (size_t i = 0; i < n; i++) {
        tsl_free(list[i].type);
        tsl_free(list[i].subject);
        tsl_free(list[i].payload);
    }
    tsl_free(list);
}

void tsl_sto_result_reject(tsl_ingest_result *r, uint64_t line, const char *reason) {
    if (r->nrejects == r->rejects_cap) {
        r->rejects_cap = r->rejects_cap ? 2 * r->rejects_cap : 16;
        r->rejects = tsl_reallocarray(r->rejects, r->rejects_cap, sizeof *r->rejects);
    }
    r->rejects[r->nrejects].line = line;
    r->rejects[r->nrejects].reason = tsl_strdup(reason);
    r->nrejects++;
    r->rejected++;
}

void tsl_sto_result_clear(tsl_ingest_result *r) {
    for (size_t i = 0; i < r->nrejects; i++) tsl_free(r->rejects[i].reason);
    tsl_free(r->rejects);
    memset(r, 0, sizeof *r);
}
