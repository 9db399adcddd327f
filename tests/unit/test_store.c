/*
 * test_store.c - the store's data side and bookkeeping (store.h): opening and migrations,
 * data sets, upsert semantics and receipts, rejected rows, revisions, the content hash (it
 * changes exactly when the state does, whatever the order and batching), loading (the same
 * data set the file reader builds), the model registry and its audit log, parameters and
 * events, and the ingest spans (per ingest and item, the range of the points it wrote) after
 * fresh, unchanged, corrected, partly rejected, rolled-back and crashed ingests. The pinned hash
 * comes from tests/data/store/hash_reference.py. Executions are in test_store_exec.c, several
 * processes at once in test_store_concurrency.c.
 */
#include "testutil.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "store/store_impl.h"
#include "tsloop/buf.h"
#include "tsloop/csv.h"
#include "tsloop/dataset.h"
#include "tsloop/mem.h"
#include "tsloop/store.h"

/* The hash of the "pin" data set in test_hash_order_independent, as computed by the
 * independent reference tests/data/store/hash_reference.py. */
#define PIN_HASH "e19417a4c952da19599ef22e04fc7d5c0e5002f4e7534a252b9bc4fadf8d5709"

/* ---- helpers ---- */

typedef struct fixture {
    char *dir;
    char path[4096];
    tsl_store *s;
} fixture;

static tsl_store *open_at(const char *path, const tsl_store_opts *o) {
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_open(path, o, &s, &d)) fail_msg("opening %s: %s", path, d.msg);
    return s;
}

static int setup(void **state) {
    fixture *f = tsl_calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
    f->s = open_at(f->path, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    tsl_store_close(f->s);
    tu_rmtree(f->dir);
    tsl_free(f->dir);
    tsl_free(f);
    return 0;
}

/* Ingests CSV text into dataset; fails the test on error. */
static void ingest_text(tsl_store *s, const char *dataset, const char *text,
                        const tsl_store_ingest_opts *o, tsl_store_receipt *r) {
    tsl_csv *c = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_csv_open_mem("t.csv", text, strlen(text), NULL, &c, &d)) fail_msg("csv: %s", d.msg);
    if (tsl_store_ingest_csv(s, dataset, c, o, r, &d)) fail_msg("ingest: %s", d.msg);
    tsl_csv_close(c);
}

/* The same, expecting error code `code`. */
static void ingest_fails(tsl_store *s, const char *dataset, const char *text,
                         const tsl_store_ingest_opts *o, tsl_err code, const char *needle) {
    tsl_csv *c = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_receipt r;
    if (tsl_csv_open_mem("t.csv", text, strlen(text), NULL, &c, &d)) fail_msg("csv: %s", d.msg);
    tsl_err e = tsl_store_ingest_csv(s, dataset, c, o, &r, &d);
    tsl_csv_close(c);
    if (e != code) fail_msg("expected code %d, got %d (%s)", code, e, d.msg);
    if (needle && !strstr(d.msg, needle)) fail_msg("message '%s' lacks '%s'", d.msg, needle);
}

static void create_ds(tsl_store *s, const char *name, const char *freq) {
    tsl_freq f = {TSL_FREQ_NONE, 0, 0};
    tsl_diag d = {TSL_OK, {0}};
    if (freq && tsl_freq_parse(freq, &f, &d)) fail_msg("freq: %s", d.msg);
    if (tsl_store_dataset_create(s, name, f, NULL, 0, NULL, &d)) fail_msg("create: %s", d.msg);
}

static void get_hash(tsl_store *s, const char *name, char *hash) {
    tsl_store_dataset ds;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_dataset_get(s, name, &ds, &d)) fail_msg("get: %s", d.msg);
    memcpy(hash, ds.hash, TSL_STORE_HASH_HEX + 1);
    tsl_store_dataset_release(&ds);
}

static void expect_verified(tsl_store *s, const char *name) {
    int ok = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_dataset_verify(s, name, &ok, &d)) fail_msg("verify: %s", d.msg);
    if (!ok) fail_msg("the stored hash of %s differs from the recomputed one", name);
}

static int64_t ts(const char *text) {
    int64_t t = 0;
    if (tsl_time_parse(text, strlen(text), &t, NULL)) fail_msg("bad time %s", text);
    return t;
}

/* Counts the events of type `type`. */
static size_t count_events(tsl_store *s, const char *type) {
    tsl_store_event *ev = NULL;
    size_t n = 0, k = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_event_list(s, 0, 0, &ev, &n, &d)) fail_msg("events: %s", d.msg);
    for (size_t i = 0; i < n; i++) k += !strcmp(ev[i].type, type);
    tsl_store_event_list_free(ev, n);
    return k;
}

/* Runs SQL on the file directly (to fake what tsloop itself never does). */
static int raw_sql(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) fail_msg("raw open %s", path);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

/* ---- opening and migrations ---- */

static void test_open_and_migrations(void **state) {
    fixture *f = *state;
    tsl_store_migration *m = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_string_equal(tsl_store_backend(f->s), "sqlite");
    assert_string_equal(tsl_store_location(f->s), f->path);
    assert_int_equal(tsl_store_migrations(f->s, &m, &n, &d), TSL_OK);
    assert_true(n >= 5);
    int64_t first_applied = m[0].applied_ms;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(m[i].version, (int)i + 1);
        assert_true(m[i].applied);
        assert_true(m[i].applied_ms > 0);
        assert_true(strlen(m[i].description) > 5);
    }
    tsl_free(m);

    /* Re-opening is idempotent: nothing is applied again. */
    tsl_store_close(f->s);
    char url[4200];
    snprintf(url, sizeof url, "sqlite:%s", f->path);
    f->s = open_at(url, NULL);
    assert_int_equal(tsl_store_migrations(f->s, &m, &n, &d), TSL_OK);
    assert_int_equal(m[0].applied_ms, first_applied);
    tsl_free(m);
    int applied = -1;
    assert_int_equal(tsl_store_migrate(f->s, &applied, &d), TSL_OK);
    assert_int_equal(applied, 0);

    tsl_store *s = NULL;
    tsl_store_opts o;
    memset(&o, 0, sizeof o);
    o.no_create = 1;
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/none.db", f->dir);
    assert_int_equal(tsl_store_open(missing, &o, &s, &d), TSL_ENOTFOUND);
    assert_null(s);
    assert_int_equal(access(missing, F_OK), -1);
    assert_int_equal(tsl_store_open("postgres://db/x", NULL, &s, &d), TSL_EUNSUPPORTED);
    assert_int_equal(tsl_store_open("ftp://x", NULL, &s, &d), TSL_EUNSUPPORTED);
    assert_int_equal(tsl_store_open("sqlite:", NULL, &s, &d), TSL_EINVAL);

    /* A file that is not a database, and a database that is not a store. */
    char other[4200];
    snprintf(other, sizeof other, "%s/text.db", f->dir);
    FILE *fp = fopen(other, "w");
    fputs("this is not a database, just a line of text that is long enough to matter\n", fp);
    fclose(fp);
    assert_int_equal(tsl_store_open(other, NULL, &s, &d), TSL_ECORRUPT);
    assert_non_null(strstr(d.msg, "not a tsloop store"));
    snprintf(other, sizeof other, "%s/other.db", f->dir);
    assert_int_equal(raw_sql(other, "CREATE TABLE t(x)"), SQLITE_OK);
    assert_int_equal(tsl_store_open(other, NULL, &s, &d), TSL_ECORRUPT);
    assert_non_null(strstr(d.msg, "not a tsloop store"));
}

static void test_partial_and_newer_schema(void **state) {
    fixture *f = *state;
    tsl_store *s = NULL;
    tsl_store_migration *m = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    char path[4200];
    snprintf(path, sizeof path, "%s/partial.db", f->dir);
    tsl_store_opts o;
    memset(&o, 0, sizeof o);
    o.no_migrate = 1;
    s = open_at(path, &o);
    assert_int_equal(tsl_store_migrations(s, &m, &n, &d), TSL_OK);
    for (size_t i = 0; i < n; i++) assert_false(m[i].applied);
    tsl_free(m);
    tsl_store_dataset *list = NULL;
    assert_int_equal(tsl_store_dataset_list(s, &list, &n, &d), TSL_EVERSION);
    assert_non_null(strstr(d.msg, "tsloop migrate"));
    assert_int_equal(tsl_sto_sqlite_migrate_to(s, 2, &d), TSL_OK);
    assert_int_equal(tsl_store_migrations(s, &m, &n, &d), TSL_OK);
    for (size_t i = 0; i < n; i++) assert_int_equal(m[i].applied, m[i].version <= 2);
    tsl_free(m);
    tsl_store_close(s);

    /* A plain open applies the rest. */
    s = open_at(path, NULL);
    assert_int_equal(tsl_store_migrations(s, &m, &n, &d), TSL_OK);
    for (size_t i = 0; i < n; i++) assert_true(m[i].applied);
    tsl_free(m);
    create_ds(s, "after", "D");
    tsl_store_close(s);

    /* A store from a newer tsloop is refused, not damaged. */
    assert_int_equal(raw_sql(path, "INSERT INTO schema_migrations VALUES (999, 'future', 1)"),
                     SQLITE_OK);
    s = NULL;
    assert_int_equal(tsl_store_open(path, NULL, &s, &d), TSL_EVERSION);
    assert_null(s);
    assert_non_null(strstr(d.msg, "newer"));
}

/* ---- data sets ---- */

static void test_dataset_create_get_list(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_freq m15 = {TSL_FREQ_MINUTE, 15, 0}, mend = {TSL_FREQ_MONTH, 1, TSL_FREQ_MONTH_END};
    const char *dims[] = {"region", "store"};
    int64_t id1 = 0, id2 = 0;
    assert_int_equal(tsl_store_dataset_create(f->s, "power", m15, NULL, 0, &id1, &d), TSL_OK);
    assert_int_equal(tsl_store_dataset_create(f->s, "sales", mend, dims, 2, &id2, &d), TSL_OK);
    assert_true(id1 > 0 && id2 > id1);
    assert_int_equal(tsl_store_dataset_create(f->s, "power", m15, NULL, 0, NULL, &d),
                     TSL_ECONFLICT);
    assert_non_null(strstr(d.msg, "already exists"));
    assert_int_equal(tsl_store_dataset_create(f->s, "bad name", m15, NULL, 0, NULL, &d),
                     TSL_EINVAL);
    assert_int_equal(tsl_store_dataset_create(f->s, "-x", m15, NULL, 0, NULL, &d), TSL_EINVAL);
    const char *twice[] = {"a", "a"};
    assert_int_equal(tsl_store_dataset_create(f->s, "dup", m15, twice, 2, NULL, &d), TSL_EINVAL);

    tsl_store_dataset ds;
    assert_int_equal(tsl_store_dataset_get(f->s, "sales", &ds, &d), TSL_OK);
    assert_int_equal(ds.id, id2);
    assert_string_equal(ds.name, "sales");
    assert_int_equal(ds.freq.unit, TSL_FREQ_MONTH);
    assert_int_equal(ds.freq.mult, 1);
    assert_int_equal(ds.freq.anchor, TSL_FREQ_MONTH_END);
    assert_int_equal(ds.ndims, 2);
    assert_string_equal(ds.dim_names[1], "store");
    assert_int_equal(ds.items, 0);
    assert_int_equal(ds.observations, 0);
    assert_true(ds.created_ms > 0);
    /* The empty state's hash: all lanes zero. */
    for (int i = 0; i < TSL_STORE_HASH_HEX; i++) assert_int_equal(ds.hash[i], '0');
    tsl_store_dataset_release(&ds);
    tsl_store_dataset_release(&ds); /* released twice is harmless */
    assert_int_equal(tsl_store_dataset_get(f->s, "nope", &ds, &d), TSL_ENOTFOUND);
    assert_non_null(strstr(d.msg, "'nope'"));

    tsl_store_dataset *list = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_dataset_list(f->s, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "power");
    assert_int_equal(list[0].freq.unit, TSL_FREQ_MINUTE);
    assert_int_equal(list[0].freq.mult, 15);
    assert_string_equal(list[1].name, "sales");
    tsl_store_dataset_list_free(list, n);
    assert_int_equal(count_events(f->s, "dataset.created"), 2);
}

/* ---- upserts ---- */

static const char DAY1[] = "item_id,timestamp,target_value\n"
                           "a,2024-01-01,1\n"
                           "a,2024-01-02,2\n"
                           "b,2024-01-01,10\n"
                           "b,2024-01-02,NA\n";

static void test_upsert_semantics(void **state) {
    fixture *f = *state;
    tsl_store_receipt r;
    tsl_diag d = {TSL_OK, {0}};
    char h0[65], h1[65], h2[65], h3[65];
    create_ds(f->s, "sales", "D");
    get_hash(f->s, "sales", h0);

    ingest_text(f->s, "sales", DAY1, NULL, &r);
    assert_true(r.ingest_id > 0);
    assert_int_equal(r.read, 4);
    assert_int_equal(r.inserted, 4);
    assert_int_equal(r.updated + r.unchanged + r.rejected, 0);
    assert_int_equal(r.new_items, 2);
    get_hash(f->s, "sales", h1);
    assert_string_equal(r.hash, h1);
    assert_string_not_equal(h0, h1);
    tsl_store_receipt_release(&r);

    /* The same rows again: nothing changes, the hash included. */
    ingest_text(f->s, "sales", DAY1, NULL, &r);
    assert_int_equal(r.read, 4);
    assert_int_equal(r.unchanged, 4);
    assert_int_equal(r.inserted + r.updated + r.rejected + r.new_items, 0);
    assert_string_equal(r.hash, h1);
    tsl_store_receipt_release(&r);

    /* A changed value, a new point, a missing value that replaces a number, a number that
     * replaces a missing value, an unchanged one, and a point repeated in the file (the last
     * wins, and the first counts as an update of it). */
    ingest_text(f->s, "sales",
                "item_id,timestamp,target_value\n"
                "a,2024-01-01,1.5\n"
                "a,2024-01-03,3\n"
                "b,2024-01-01,\n"
                "b,2024-01-02,20\n"
                "a,2024-01-02,2\n"
                "c,2024-01-01,7\n"
                "c,2024-01-01,8\n",
                NULL, &r);
    assert_int_equal(r.read, 7);
    assert_int_equal(r.inserted, 2); /* a@03, c@01 */
    assert_int_equal(r.updated, 4);  /* a@01, b@01, b@02, c@01 again */
    assert_int_equal(r.unchanged, 1);
    assert_int_equal(r.rejected, 0);
    assert_int_equal(r.new_items, 1);
    get_hash(f->s, "sales", h2);
    assert_string_not_equal(h1, h2);
    expect_verified(f->s, "sales");
    int64_t third = r.ingest_id;
    tsl_store_receipt_release(&r);

    /* Every replaced value is kept. */
    tsl_store_revision *rev = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_revision_list(f->s, "sales", NULL, 0, 0, &rev, &n, &d), TSL_OK);
    assert_int_equal(n, 4);
    assert_string_equal(rev[0].item_id, "a");
    assert_int_equal(rev[0].t, ts("2024-01-01"));
    assert_true(rev[0].old_value == 1 && rev[0].new_value == 1.5);
    assert_int_equal(rev[0].ingest_id, third);
    assert_true(rev[1].old_value == 10 && isnan(rev[1].new_value));
    assert_true(isnan(rev[2].old_value) && rev[2].new_value == 20);
    assert_string_equal(rev[3].item_id, "c");
    assert_true(rev[3].old_value == 7 && rev[3].new_value == 8);
    int64_t last = rev[1].id;
    tsl_store_revision_list_free(rev, n);
    assert_int_not_equal(raw_sql(f->path, "UPDATE revisions SET old_value = 1"), SQLITE_OK);
    assert_int_equal(tsl_store_revision_list(f->s, "sales", "b", 0, 0, &rev, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    tsl_store_revision_list_free(rev, n);
    assert_int_equal(tsl_store_revision_list(f->s, "sales", NULL, last, 1, &rev, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rev[0].item_id, "b");
    tsl_store_revision_list_free(rev, n);

    /* Putting the old values back restores the old hash: it is a function of the state. */
    ingest_text(f->s, "sales",
                "item_id,timestamp,target_value\n"
                "a,2024-01-01,1\n"
                "b,2024-01-01,10\n"
                "b,2024-01-02,NA\n",
                NULL, &r);
    assert_int_equal(r.updated, 3);
    tsl_store_receipt_release(&r);
    get_hash(f->s, "sales", h3);
    assert_string_not_equal(h3, h1); /* a@03 and c are still there */
    expect_verified(f->s, "sales");

    tsl_store_dataset ds;
    assert_int_equal(tsl_store_dataset_get(f->s, "sales", &ds, &d), TSL_OK);
    assert_int_equal(ds.items, 3);
    assert_int_equal(ds.observations, 6);
    assert_int_equal(ds.t_min, ts("2024-01-01"));
    assert_int_equal(ds.t_max, ts("2024-01-03"));
    tsl_store_dataset_release(&ds);

    /* The ingest records and their events. */
    tsl_store_ingest_info *ing = NULL;
    assert_int_equal(tsl_store_ingest_list(f->s, "sales", 0, &ing, &n, &d), TSL_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ing[1].id, third); /* newest first */
    assert_int_equal(ing[1].status, TSL_INGEST_COMPLETE);
    assert_string_equal(ing[1].source, "-");
    assert_int_equal(ing[1].receipt.read, 7);
    assert_int_equal(ing[1].receipt.updated, 4);
    assert_string_equal(ing[1].receipt.hash, h2);
    tsl_store_ingest_info_list_free(ing, n);
    assert_int_equal(tsl_store_ingest_list(f->s, NULL, 2, &ing, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    tsl_store_ingest_info_list_free(ing, n);
    assert_int_equal(count_events(f->s, "dataset.ingested"), 4);
}

static void test_upsert_through_the_row_api(void **state) {
    fixture *f = *state;
    tsl_store_ingest *in = NULL;
    tsl_store_receipt r;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.create = 1;
    o.source = "api";
    o.who = "tester";
    assert_int_equal(tsl_store_ingest_begin(f->s, "live", NULL, 0, &o, &in, &d), TSL_OK);
    tsl_csv_row row;
    memset(&row, 0, sizeof row);
    row.item = "x";
    row.item_len = 1;
    row.time = 3600;
    row.value = -0.0;
    row.line = 1;
    assert_int_equal(tsl_store_ingest_add(in, &row, &d), TSL_OK);
    row.time = 7200;
    row.value = INFINITY;
    row.line = 2;
    assert_int_equal(tsl_store_ingest_add(in, &row, &d), TSL_OK);
    row.item = "";
    row.item_len = 0;
    row.value = 1;
    row.line = 3;
    assert_int_equal(tsl_store_ingest_add(in, &row, &d), TSL_OK);
    row.item = "\xff\xfe";
    row.item_len = 2;
    row.line = 4;
    assert_int_equal(tsl_store_ingest_add(in, &row, &d), TSL_OK);
    row.item = "x";
    row.item_len = 1;
    row.time = TSL_TIME_MAX + 1;
    row.line = 5;
    assert_int_equal(tsl_store_ingest_add(in, &row, &d), TSL_OK);
    assert_int_equal(tsl_store_ingest_reject(in, 6, "the caller's own reason", &d), TSL_OK);
    assert_int_equal(tsl_store_ingest_end(in, &r, &d), TSL_OK);
    assert_int_equal(r.read, 6);
    assert_int_equal(r.inserted, 1);
    assert_int_equal(r.rejected, 5);
    assert_int_equal(r.nrejects, 5);
    assert_int_equal(r.rejects[0].line, 2);
    assert_non_null(strstr(r.rejects[0].reason, "finite"));
    assert_int_equal(r.rejects[1].line, 3);
    assert_non_null(strstr(r.rejects[1].reason, "item id"));
    assert_int_equal(r.rejects[4].line, 6);
    assert_string_equal(r.rejects[4].reason, "the caller's own reason");
    tsl_store_receipt_release(&r);

    /* -0 was stored as 0: sending 0 changes nothing. */
    assert_int_equal(tsl_store_ingest_begin(f->s, "live", NULL, 0, NULL, &in, &d), TSL_OK);
    row.time = 3600;
    row.value = 0.0;
    assert_int_equal(tsl_store_ingest_add(in, &row, &d), TSL_OK);
    assert_int_equal(tsl_store_ingest_end(in, &r, &d), TSL_OK);
    assert_int_equal(r.unchanged, 1);
    tsl_store_receipt_release(&r);

    /* An aborted ingest is recorded as failed; what it committed stays. */
    o.batch_rows = 1;
    assert_int_equal(tsl_store_ingest_begin(f->s, "live", NULL, 0, &o, &in, &d), TSL_OK);
    row.time = 10800;
    row.value = 5;
    assert_int_equal(tsl_store_ingest_add(in, &row, &d), TSL_OK); /* commits: batch of one */
    tsl_store_ingest_abort(in, "the client went away");
    tsl_store_ingest_info *ing = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_ingest_list(f->s, "live", 1, &ing, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ing[0].status, TSL_INGEST_FAILED);
    assert_string_equal(ing[0].error, "the client went away");
    assert_int_equal(ing[0].receipt.inserted, 1);
    tsl_store_ingest_info_list_free(ing, n);
    tsl_store_dataset ds;
    assert_int_equal(tsl_store_dataset_get(f->s, "live", &ds, &d), TSL_OK);
    assert_int_equal(ds.observations, 2);
    tsl_store_dataset_release(&ds);
    assert_int_equal(count_events(f->s, "dataset.ingest_failed"), 1);
    expect_verified(f->s, "live");

    /* No such data set, without create. */
    assert_int_equal(tsl_store_ingest_begin(f->s, "ghost", NULL, 0, NULL, &in, &d), TSL_ENOTFOUND);
    assert_null(in);
}

static void test_rejected_rows(void **state) {
    fixture *f = *state;
    tsl_store_receipt r;
    tsl_diag d = {TSL_OK, {0}};
    create_ds(f->s, "h", "H");
    ingest_text(f->s, "h",
                "item_id,timestamp,target_value\n"
                "a,2024-01-01 00:00,1\n"
                "a,2024-01-01 01:00,oops\n"
                "a,not a time,3\n"
                "a,2024-01-01 02:30,4\n"
                "a,2024-01-01 03:00,5,extra\n"
                "a,2024-01-01 04:00,6\n"
                "b,2024-01-01 00:30,1\n"
                "b,2024-01-01 01:30,2\n"
                "b,2024-01-01 02:00,3\n",
                NULL, &r);
    assert_int_equal(r.read, 9);
    assert_int_equal(r.inserted, 4);
    assert_int_equal(r.rejected, 5);
    assert_int_equal(r.nrejects, 5);
    /* The reader's rejections come first (they precede the batch), in line order. */
    assert_int_equal(r.rejects[0].line, 3);
    assert_non_null(strstr(r.rejects[0].reason, "t.csv:3"));
    assert_non_null(strstr(r.rejects[0].reason, "oops"));
    assert_int_equal(r.rejects[1].line, 4);
    assert_int_equal(r.rejects[2].line, 6);
    /* Then the rows off their item's grid: b's grid starts at 00:30. */
    assert_int_equal(r.rejects[3].line, 5);
    assert_non_null(strstr(r.rejects[3].reason, "2024-01-01T02:30:00Z"));
    assert_non_null(strstr(r.rejects[3].reason, "hourly grid"));
    assert_int_equal(r.rejects[4].line, 10);
    assert_non_null(strstr(r.rejects[4].reason, "item 'b'"));
    int64_t id = r.ingest_id;
    tsl_store_receipt_release(&r);

    tsl_store_ingest_info info;
    assert_int_equal(tsl_store_ingest_get(f->s, id, &info, &d), TSL_OK);
    assert_int_equal(info.receipt.rejected, 5);
    assert_int_equal(info.receipt.nrejects, 5);
    assert_int_equal(info.receipt.rejects[3].line, 5);
    assert_string_equal(info.dataset, "h");
    tsl_store_ingest_info_release(&info);
    assert_int_equal(tsl_store_ingest_get(f->s, 9999, &info, &d), TSL_ENOTFOUND);

    /* Past max_rejects the ingest fails and the batch in progress is not applied. */
    char before[65], after[65];
    get_hash(f->s, "h", before);
    tsl_store_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.max_rejects = 1;
    ingest_fails(f->s, "h",
                 "item_id,timestamp,target_value\n"
                 "c,2024-01-01 00:00,1\n"
                 "c,x,2\n"
                 "c,y,3\n",
                 &o, TSL_EPARSE, "more than 1 rows rejected");
    get_hash(f->s, "h", after);
    assert_string_equal(before, after);
    o.max_rejects = 2;
    ingest_fails(f->s, "h",
                 "item_id,timestamp,target_value\n"
                 "c,2024-01-01 00:00,1\n"
                 "c,2024-01-01 00:10,2\n"
                 "c,2024-01-01 00:20,3\n"
                 "c,2024-01-01 00:25,3\n",
                 &o, TSL_EPARSE, "grid");
    get_hash(f->s, "h", after);
    assert_string_equal(before, after);
    tsl_store_ingest_info *ing = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_ingest_list(f->s, "h", 1, &ing, &n, &d), TSL_OK);
    assert_int_equal(ing[0].status, TSL_INGEST_FAILED);
    assert_non_null(strstr(ing[0].error, "rejected"));
    tsl_store_ingest_info_list_free(ing, n);
}

/* ---- ingest spans ---- */

/* The spans of ingest id, read from the file, as "item:lo-hi ..." in hours since 2024-01-01. */
static void spans_of(const char *path, int64_t id, char *out, size_t cap) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t base = ts("2024-01-01 00:00");
    size_t len = 0;
    out[0] = '\0';
    if (sqlite3_open(path, &db) != SQLITE_OK) fail_msg("raw open %s", path);
    if (sqlite3_prepare_v2(db,
                           "SELECT i.item_id, s.t_min, s.t_max FROM ingest_spans s JOIN items i "
                           "ON i.id = s.item WHERE s.ingest_id = ?1 ORDER BY i.item_id",
                           -1, &st, NULL) != SQLITE_OK)
        fail_msg("spans: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int w = snprintf(out + len, cap - len, "%s%s:%lld-%lld", len ? " " : "",
                         (const char *)sqlite3_column_text(st, 0),
                         (long long)((sqlite3_column_int64(st, 1) - base) / 3600),
                         (long long)((sqlite3_column_int64(st, 2) - base) / 3600));
        assert_true(w > 0 && (size_t)w < cap - len);
        len += (size_t)w;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Checks tsl_store_ingest_points(id) against a full scan of observations by ingest_id (what
 * the spans replace), in the same order; returns the number of points. */
static size_t points_match_scan(tsl_store *s, const char *path, int64_t id) {
    tsl_store_point *p = NULL;
    size_t n = 0, k = 0;
    tsl_diag d = {TSL_OK, {0}};
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (tsl_store_ingest_points(s, id, &p, &n, &d)) fail_msg("points: %s", d.msg);
    if (sqlite3_open(path, &db) != SQLITE_OK) fail_msg("raw open %s", path);
    if (sqlite3_prepare_v2(db,
                           "SELECT i.item_id, o.t, o.value FROM observations o JOIN items i ON "
                           "i.id = o.item WHERE o.ingest_id = ?1 ORDER BY i.item_id, o.t",
                           -1, &st, NULL) != SQLITE_OK)
        fail_msg("scan: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, id);
    for (; sqlite3_step(st) == SQLITE_ROW; k++) {
        assert_true(k < n);
        assert_string_equal(p[k].item, (const char *)sqlite3_column_text(st, 0));
        assert_int_equal(p[k].t, sqlite3_column_int64(st, 1));
        if (sqlite3_column_type(st, 2) == SQLITE_NULL)
            assert_true(isnan(p[k].value));
        else
            assert_true(p[k].value == sqlite3_column_double(st, 2));
    }
    assert_int_equal(k, n);
    sqlite3_finalize(st);
    sqlite3_close(db);
    tsl_store_point_list_free(p, n);
    return n;
}

/* The id of the latest ingest into dataset. */
static int64_t last_ingest(tsl_store *s, const char *dataset) {
    tsl_store_ingest_info *ing = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_ingest_list(s, dataset, 1, &ing, &n, &d) || n != 1)
        fail_msg("ingest list: %s", d.msg);
    int64_t id = ing[0].id;
    tsl_store_ingest_info_list_free(ing, n);
    return id;
}

/* The child of test_ingest_spans' crash: ingests 10 hours of item d in batches of 4 rows and
 * dies without ending the ingest (or closing the store), so 8 rows are committed. */
static int crash_ingester(const char *path) {
    tsl_store *s = NULL;
    tsl_store_ingest *in = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.batch_rows = 4;
    if (tsl_store_open(path, NULL, &s, &d) || tsl_store_ingest_begin(s, "h", NULL, 0, &o, &in, &d))
        return 1;
    for (int k = 0; k < 10; k++) {
        tsl_csv_row row = {"d",
                           1,
                           ts("2024-01-01 00:00") + 3600 * (int64_t)k,
                           1.0 + k,
                           NULL,
                           NULL,
                           (uint64_t)k + 2};
        if (tsl_store_ingest_add(in, &row, &d)) return 2;
    }
    _exit(0);
}

static void test_ingest_spans(void **state) {
    fixture *f = *state;
    tsl_store_receipt r;
    char got[512];
    create_ds(f->s, "h", "H");

    /* Fresh: every point written. */
    const char *fresh = "item_id,timestamp,target_value\n"
                        "a,2024-01-01 00:00,1\n"
                        "a,2024-01-01 01:00,2\n"
                        "a,2024-01-01 02:00,3.5\n"
                        "a,2024-01-01 04:00,NA\n"
                        "b,2024-01-01 01:00,1\n"
                        "b,2024-01-01 02:00,2\n";
    ingest_text(f->s, "h", fresh, NULL, &r);
    int64_t first = r.ingest_id;
    tsl_store_receipt_release(&r);
    spans_of(f->path, first, got, sizeof got);
    assert_string_equal(got, "a:0-4 b:1-2");
    assert_int_equal(points_match_scan(f->s, f->path, first), 6);

    /* Unchanged: nothing written, no span. */
    ingest_text(f->s, "h", fresh, NULL, &r);
    int64_t same = r.ingest_id;
    assert_int_equal(r.unchanged, 6);
    tsl_store_receipt_release(&r);
    spans_of(f->path, same, got, sizeof got);
    assert_string_equal(got, "");
    assert_int_equal(points_match_scan(f->s, f->path, same), 0);

    /* Corrected: a changed value and a new point widen only their own items' spans; the
     * unchanged rows around them do not. The first ingest keeps its span, but its rewritten
     * point is no longer its own. */
    ingest_text(f->s, "h",
                "item_id,timestamp,target_value\n"
                "a,2024-01-01 00:00,1\n"
                "a,2024-01-01 01:00,20\n"
                "a,2024-01-01 04:00,NA\n"
                "b,2024-01-01 01:00,1\n"
                "b,2024-01-01 03:00,3\n"
                "b,2024-01-01 05:00,5\n",
                NULL, &r);
    int64_t fix = r.ingest_id;
    assert_int_equal(r.updated, 1);
    assert_int_equal(r.inserted, 2);
    tsl_store_receipt_release(&r);
    spans_of(f->path, fix, got, sizeof got);
    assert_string_equal(got, "a:1-1 b:3-5");
    assert_int_equal(points_match_scan(f->s, f->path, fix), 3);
    spans_of(f->path, first, got, sizeof got);
    assert_string_equal(got, "a:0-4 b:1-2");
    assert_int_equal(points_match_scan(f->s, f->path, first), 5);

    /* Partly rejected: rows off a's grid (at either end) or unreadable are not in the span. */
    ingest_text(f->s, "h",
                "item_id,timestamp,target_value\n"
                "a,2024-01-01 05:00,1\n"
                "a,2024-01-01 00:30,9\n"
                "a,2024-01-01 03:00,oops\n"
                "a,2024-01-01 06:00,2\n"
                "a,2024-01-01 07:30,9\n",
                NULL, &r);
    int64_t partial = r.ingest_id;
    assert_int_equal(r.inserted, 2);
    assert_int_equal(r.rejected, 3);
    tsl_store_receipt_release(&r);
    spans_of(f->path, partial, got, sizeof got);
    assert_string_equal(got, "a:5-6");
    assert_int_equal(points_match_scan(f->s, f->path, partial), 2);

    /* A rolled-back batch (past max_rejects) leaves no span. */
    tsl_store_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.max_rejects = 1;
    ingest_fails(f->s, "h",
                 "item_id,timestamp,target_value\n"
                 "c,2024-01-01 07:00,1\n"
                 "e,2024-01-01 00:00,1\n"
                 "c,x,2\n"
                 "c,y,3\n",
                 &o, TSL_EPARSE, "more than 1 rows rejected");
    int64_t failed = last_ingest(f->s, "h");
    assert_true(failed > partial);
    spans_of(f->path, failed, got, sizeof got);
    assert_string_equal(got, "");
    assert_int_equal(points_match_scan(f->s, f->path, failed), 0);

    /* A crash between batches: the spans are those of the committed batches, merged. */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(crash_ingester(f->path));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int64_t crashed = last_ingest(f->s, "h");
    assert_true(crashed > failed);
    spans_of(f->path, crashed, got, sizeof got);
    assert_string_equal(got, "d:0-7");
    assert_int_equal(points_match_scan(f->s, f->path, crashed), 8);
}

/* ---- the content hash ---- */

/* n rows of `items` daily items, value i*1000+k, as CSV; in file order when reverse is 0,
 * else backwards. */
static char *make_rows(size_t items, size_t days, int reverse) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_puts(&b, "item_id,timestamp,target_value\n");
    size_t n = items * days;
    for (size_t r = 0; r < n; r++) {
        size_t k = reverse ? n - 1 - r : r;
        size_t i = k / days, day = k % days;
        char when[32];
        tsl_time_format(ts("2023-01-01") + (int64_t)day * 86400, 1, when, sizeof when);
        tsl_wbuf_printf(&b, "item%zu,%s,%zu\n", i, when, i * 1000 + day);
    }
    char *text = tsl_strdup(tsl_wbuf_cstr(&b));
    tsl_wbuf_release(&b);
    return text;
}

static void test_hash_order_independent(void **state) {
    fixture *f = *state;
    tsl_store_receipt r;
    char a[65], b[65], c[65];
    char *fwd = make_rows(7, 30, 0), *bwd = make_rows(7, 30, 1);
    create_ds(f->s, "one", "D");
    create_ds(f->s, "two", "D");
    create_ds(f->s, "three", NULL);
    ingest_text(f->s, "one", fwd, NULL, &r);
    tsl_store_receipt_release(&r);
    tsl_store_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.batch_rows = 7; /* many small batches, each item split across them */
    ingest_text(f->s, "two", bwd, &o, &r);
    assert_int_equal(r.inserted, 210);
    tsl_store_receipt_release(&r);
    /* Three: first half, then everything with a few values wrong, then the right ones. */
    char *half = make_rows(4, 30, 0);
    ingest_text(f->s, "three", half, NULL, &r);
    tsl_store_receipt_release(&r);
    ingest_text(f->s, "three",
                "item_id,timestamp,target_value\n"
                "item1,2023-01-05,-1\n"
                "item6,2023-01-09,NA\n",
                NULL, &r);
    tsl_store_receipt_release(&r);
    ingest_text(f->s, "three", bwd, &o, &r);
    assert_int_equal(r.updated, 2);
    tsl_store_receipt_release(&r);
    get_hash(f->s, "one", a);
    get_hash(f->s, "two", b);
    get_hash(f->s, "three", c);
    assert_string_equal(a, b);
    assert_string_equal(a, c);
    expect_verified(f->s, "one");
    expect_verified(f->s, "two");
    expect_verified(f->s, "three");

    /* Pinned: the hash is part of the stored format and must not drift between releases. */
    create_ds(f->s, "pin", NULL);
    ingest_text(f->s, "pin",
                "item_id,timestamp,target_value,region\n"
                "a,2024-01-01,1.5,north\n"
                "a,2024-01-02,NA,north\n"
                "b,2024-01-01,-2,south\n",
                NULL, &r);
    assert_string_equal(r.hash, PIN_HASH);
    tsl_store_receipt_release(&r);
    tsl_free(fwd);
    tsl_free(bwd);
    tsl_free(half);
}

/* ---- dimensions and loading ---- */

static const char WITH_DIMS[] = "item_id,timestamp,target_value,region,kind\n"
                                "s1,2024-01-01,1,north,x\n"
                                "s1,2024-01-02,2,north,x\n"
                                "s1,2024-01-04,4,north,x\n"
                                "s2,2024-01-02,5,south,y\n"
                                "s2,2024-01-03,,south,y\n"
                                "s0,2024-01-01,9,east,z\n";

static void test_dimensions(void **state) {
    fixture *f = *state;
    tsl_store_receipt r;
    tsl_diag d = {TSL_OK, {0}};
    create_ds(f->s, "shop", "D");
    ingest_text(f->s, "shop", WITH_DIMS, NULL, &r); /* declares region, kind */
    assert_int_equal(r.dim_conflicts, 0);
    tsl_store_receipt_release(&r);
    tsl_store_dataset ds;
    assert_int_equal(tsl_store_dataset_get(f->s, "shop", &ds, &d), TSL_OK);
    assert_int_equal(ds.ndims, 2);
    assert_string_equal(ds.dim_names[0], "region");
    tsl_store_dataset_release(&ds);

    /* Columns in another order are fine; a conflicting value is counted, the first kept. */
    ingest_text(f->s, "shop",
                "kind,item_id,timestamp,target_value,region\n"
                "x,s1,2024-01-05,5,north\n"
                "x,s1,2024-01-06,6,west\n"
                "q,s3,2024-01-01,1,west\n"
                "r,s3,2024-01-02,2,west\n",
                NULL, &r);
    assert_int_equal(r.dim_conflicts, 2);
    assert_int_equal(r.inserted, 4);
    tsl_store_receipt_release(&r);
    tsl_store_item *items = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_item_list(f->s, "shop", &items, &n, &d), TSL_OK);
    assert_int_equal(n, 4);
    assert_string_equal(items[0].item_id, "s0");
    assert_string_equal(items[1].item_id, "s1");
    assert_string_equal(items[1].dims[0], "north");
    assert_string_equal(items[1].dims[1], "x");
    assert_int_equal(items[1].observations, 5);
    assert_int_equal(items[1].t_min, ts("2024-01-01"));
    assert_int_equal(items[1].t_max, ts("2024-01-06"));
    assert_string_equal(items[3].item_id, "s3");
    assert_string_equal(items[3].dims[1], "q");
    tsl_store_item_list_free(items, n);

    /* Other columns than the data set's are refused, naming both. */
    ingest_fails(f->s, "shop",
                 "item_id,timestamp,target_value,region\n"
                 "s1,2024-01-07,7,north\n",
                 NULL, TSL_EINVAL, "'region', 'kind'");
    ingest_fails(f->s, "shop", "item_id,timestamp,target_value\ns1,2024-01-07,7\n", NULL,
                 TSL_EINVAL, "none");
    expect_verified(f->s, "shop");
}

/* The store's data set equals what the file reader makes of the same rows. */
static void expect_same_dataset(const tsl_dataset *a, const tsl_dataset *b) {
    assert_int_equal(a->nseries, b->nseries);
    assert_int_equal(a->freq.unit, b->freq.unit);
    assert_int_equal(a->freq.mult, b->freq.mult);
    assert_int_equal(a->period, b->period);
    assert_int_equal(a->ndims, b->ndims);
    for (size_t j = 0; j < a->ndims; j++) assert_string_equal(a->dim_names[j], b->dim_names[j]);
    for (size_t i = 0; i < a->nseries; i++) {
        const tsl_series *x = &a->series[i], *y = &b->series[i];
        assert_string_equal(x->item_id, y->item_id);
        assert_int_equal(x->start, y->start);
        assert_int_equal(x->n, y->n);
        for (size_t k = 0; k < x->n; k++) {
            if (isnan(y->y[k]))
                assert_true(isnan(x->y[k]));
            else
                assert_true(x->y[k] == y->y[k]);
        }
        for (size_t j = 0; j < a->ndims; j++) assert_string_equal(x->dims[j], y->dims[j]);
    }
}

static void test_load(void **state) {
    fixture *f = *state;
    tsl_store_receipt r;
    tsl_diag d = {TSL_OK, {0}};
    tsl_dataset *got = NULL, *want = NULL;
    char hash[65], now[65];
    create_ds(f->s, "shop", NULL);
    ingest_text(f->s, "shop", WITH_DIMS, NULL, &r);
    tsl_store_receipt_release(&r);
    assert_int_equal(tsl_dataset_read_mem("w.csv", WITH_DIMS, strlen(WITH_DIMS), NULL, &want, &d),
                     TSL_OK);
    assert_int_equal(tsl_store_dataset_load(f->s, "shop", NULL, 0, 0, &got, hash, &d), TSL_OK);
    expect_same_dataset(got, want);
    assert_int_equal(got->freq.unit, TSL_FREQ_DAY); /* inferred: the data set declares none */
    get_hash(f->s, "shop", now);
    assert_string_equal(hash, now);
    tsl_dataset_free(got);
    tsl_dataset_free(want);

    /* A subset of items, in the order of the data set. */
    const char *pick[] = {"s2", "s0"};
    assert_int_equal(tsl_store_dataset_load(f->s, "shop", pick, 2, 3, &got, NULL, &d), TSL_OK);
    assert_int_equal(got->nseries, 2);
    assert_string_equal(got->series[0].item_id, "s0");
    assert_string_equal(got->series[1].item_id, "s2");
    assert_int_equal(got->series[1].n, 2);
    assert_true(isnan(got->series[1].y[1]));
    assert_string_equal(got->series[1].dims[0], "south");
    assert_int_equal(got->period, 3);
    tsl_dataset_free(got);
    const char *ghost[] = {"s9"};
    assert_int_equal(tsl_store_dataset_load(f->s, "shop", ghost, 1, 0, &got, NULL, &d),
                     TSL_ENOTFOUND);
    assert_null(got);
    create_ds(f->s, "empty", "D");
    assert_int_equal(tsl_store_dataset_load(f->s, "empty", NULL, 0, 0, &got, NULL, &d), TSL_ESHORT);

    /* A larger set round-trips too, with a declared frequency. */
    char *rows = make_rows(40, 50, 1);
    create_ds(f->s, "big", "D");
    ingest_text(f->s, "big", rows, NULL, &r);
    tsl_store_receipt_release(&r);
    assert_int_equal(tsl_dataset_read_mem("b.csv", rows, strlen(rows), NULL, &want, &d), TSL_OK);
    assert_int_equal(tsl_store_dataset_load(f->s, "big", NULL, 0, 0, &got, NULL, &d), TSL_OK);
    expect_same_dataset(got, want);
    tsl_dataset_free(got);
    tsl_dataset_free(want);
    tsl_free(rows);
}

/* ---- registry ---- */

static void register_version(tsl_store *s, const char *fc, const char *blob, tsl_model_status st,
                             int want_version) {
    tsl_store_model_new m;
    memset(&m, 0, sizeof m);
    m.forecaster = fc;
    m.metrics = "{\"wql\":0.12,\"mase\":0.9}";
    m.choices = "{\"a\":\"ets\",\"b\":\"theta\"}";
    m.dataset = "sales";
    m.dataset_hash = "00ff";
    m.config_hash = "c0ffee";
    m.artifact = blob;
    m.artifact_len = strlen(blob);
    m.status = st;
    m.who = "pipeline";
    m.why = "trained";
    int64_t id = 0;
    int version = 0;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_model_register(s, &m, &id, &version, &d)) fail_msg("register: %s", d.msg);
    assert_true(id > 0);
    assert_int_equal(version, want_version);
}

static void test_registry(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_model m;
    register_version(f->s, "solar", "abc", TSL_MODEL_PENDING, 1);
    register_version(f->s, "solar", "second artifact", TSL_MODEL_PENDING, 2);
    register_version(f->s, "wind", "w", TSL_MODEL_APPROVED, 1);

    assert_int_equal(tsl_store_model_get(f->s, "solar", 1, &m, &d), TSL_OK);
    assert_string_equal(m.forecaster, "solar");
    assert_int_equal(m.version, 1);
    assert_int_equal(m.status, TSL_MODEL_PENDING);
    assert_string_equal(m.metrics, "{\"wql\":0.12,\"mase\":0.9}");
    assert_string_equal(m.dataset_hash, "00ff");
    assert_string_equal(m.program_version, TSL_VERSION);
    assert_int_equal(m.artifact_len, 3);
    assert_int_equal(m.artifact_crc32, 0x352441c2); /* CRC-32 of "abc" */
    assert_string_equal(m.artifact_sha256,
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(m.approved_ms, 0);
    tsl_store_model_release(&m);
    assert_int_equal(tsl_store_model_get(f->s, "solar", 3, &m, &d), TSL_ENOTFOUND);

    void *blob = NULL;
    size_t len = 0;
    assert_int_equal(tsl_store_model_artifact(f->s, "solar", 2, &blob, &len, &d), TSL_OK);
    assert_int_equal(len, 15);
    assert_memory_equal(blob, "second artifact", 15);
    tsl_free(blob);

    tsl_store_model *list = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_model_list(f->s, "solar", &list, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].version, 2);
    tsl_store_model_list_free(list, n);
    assert_int_equal(tsl_store_model_list(f->s, NULL, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 3);
    tsl_store_model_list_free(list, n);

    /* The champion is the Approved version approved last. */
    int found = 1;
    assert_int_equal(tsl_store_model_champion(f->s, "solar", &m, &found, &d), TSL_OK);
    assert_int_equal(found, 0);
    assert_int_equal(tsl_store_model_champion(f->s, "wind", &m, &found, &d), TSL_OK);
    assert_int_equal(found, 1);
    assert_int_equal(m.version, 1);
    tsl_store_model_release(&m);
    assert_int_equal(
        tsl_store_model_set_status(f->s, "solar", 2, TSL_MODEL_APPROVED, "ana", "better wQL", &d),
        TSL_OK);
    usleep(2000);
    assert_int_equal(
        tsl_store_model_set_status(f->s, "solar", 1, TSL_MODEL_APPROVED, "ben", "rollback", &d),
        TSL_OK);
    assert_int_equal(tsl_store_model_champion(f->s, "solar", &m, &found, &d), TSL_OK);
    assert_int_equal(m.version, 1);
    tsl_store_model_release(&m);
    assert_int_equal(
        tsl_store_model_set_status(f->s, "solar", 1, TSL_MODEL_REJECTED, "ben", "bad idea", &d),
        TSL_OK);
    assert_int_equal(tsl_store_model_champion(f->s, "solar", &m, &found, &d), TSL_OK);
    assert_int_equal(m.version, 2);
    assert_true(m.approved_ms > 0);
    tsl_store_model_release(&m);

    /* Transitions that make no sense, and anonymous ones, are refused. */
    assert_int_equal(
        tsl_store_model_set_status(f->s, "solar", 2, TSL_MODEL_PENDING, "ana", "undo", &d),
        TSL_ECONFLICT);
    assert_non_null(strstr(d.msg, "cannot become"));
    assert_int_equal(
        tsl_store_model_set_status(f->s, "solar", 2, TSL_MODEL_APPROVED, "ana", "again", &d),
        TSL_ECONFLICT);
    assert_int_equal(tsl_store_model_set_status(f->s, "solar", 2, TSL_MODEL_REJECTED, "", "x", &d),
                     TSL_EINVAL);
    assert_int_equal(tsl_store_model_set_status(f->s, "solar", 9, TSL_MODEL_REJECTED, "a", "", &d),
                     TSL_ENOTFOUND);

    /* The audit log: every change, in order, with who and why. */
    tsl_store_audit *au = NULL;
    assert_int_equal(tsl_store_model_audit(f->s, "solar", 0, &au, &n, &d), TSL_OK);
    assert_int_equal(n, 5);
    assert_false(au[0].has_from);
    assert_int_equal(au[0].to, TSL_MODEL_PENDING);
    assert_string_equal(au[0].who, "pipeline");
    assert_true(au[2].has_from);
    assert_int_equal(au[2].version, 2);
    assert_int_equal(au[2].from, TSL_MODEL_PENDING);
    assert_int_equal(au[2].to, TSL_MODEL_APPROVED);
    assert_string_equal(au[2].who, "ana");
    assert_string_equal(au[2].why, "better wQL");
    assert_int_equal(au[4].from, TSL_MODEL_APPROVED);
    assert_int_equal(au[4].to, TSL_MODEL_REJECTED);
    assert_true(au[4].at_ms >= au[3].at_ms);
    tsl_store_audit_list_free(au, n);
    assert_int_equal(tsl_store_model_audit(f->s, "solar", 1, &au, &n, &d), TSL_OK);
    assert_int_equal(n, 3);
    tsl_store_audit_list_free(au, n);
    assert_int_equal(count_events(f->s, "model.registered"), 3);
    /* A version registered as Approved announces it too (from null). */
    assert_int_equal(count_events(f->s, "model.approved"), 3);
    assert_int_equal(count_events(f->s, "model.rejected"), 1);

    /* Invalid JSON is refused before it reaches the store. */
    tsl_store_model_new bad;
    memset(&bad, 0, sizeof bad);
    bad.forecaster = "solar";
    bad.metrics = "{wql: 1}";
    assert_int_equal(tsl_store_model_register(f->s, &bad, NULL, NULL, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "metrics"));
    tsl_model_status st;
    assert_int_equal(tsl_model_status_parse("approved", &st, &d), TSL_OK);
    assert_int_equal(st, TSL_MODEL_APPROVED);
    assert_int_equal(tsl_model_status_parse("pending", &st, &d), TSL_OK);
    assert_int_equal(st, TSL_MODEL_PENDING);
    assert_int_equal(tsl_model_status_parse("maybe", &st, &d), TSL_EINVAL);
}

static void test_registry_tamper(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    register_version(f->s, "solar", "abc", TSL_MODEL_PENDING, 1);
    assert_int_equal(
        tsl_store_model_set_status(f->s, "solar", 1, TSL_MODEL_APPROVED, "ana", "", &d), TSL_OK);
    /* The log, the artifacts and a version's contents refuse changes. */
    assert_int_not_equal(raw_sql(f->path, "UPDATE model_audit SET who = 'mallory'"), SQLITE_OK);
    assert_int_not_equal(raw_sql(f->path, "DELETE FROM model_audit"), SQLITE_OK);
    assert_int_not_equal(raw_sql(f->path, "UPDATE artifacts SET data = x'00'"), SQLITE_OK);
    assert_int_not_equal(raw_sql(f->path, "UPDATE models SET metrics = '{}'"), SQLITE_OK);
    assert_int_not_equal(raw_sql(f->path, "DELETE FROM events"), SQLITE_OK);
    /* Past the triggers (someone editing the file by hand), the checksum still catches it. */
    assert_int_equal(raw_sql(f->path, "DROP TRIGGER artifacts_no_update;"
                                      "UPDATE artifacts SET data = CAST('abd' AS BLOB)"),
                     SQLITE_OK);
    void *blob = NULL;
    size_t len = 0;
    assert_int_equal(tsl_store_model_artifact(f->s, "solar", 1, &blob, &len, &d), TSL_ECORRUPT);
    assert_null(blob);
    assert_non_null(strstr(d.msg, "SHA-256"));
}

/* ---- parameters and events ---- */

static void test_params(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_param p;
    int v = 0;
    assert_int_equal(tsl_store_param_set(f->s, "solar/threshold", "0.25", "ana", "first", &v, &d),
                     TSL_OK);
    assert_int_equal(v, 1);
    assert_int_equal(
        tsl_store_param_set(f->s, "solar/threshold", "0.2", "bot", "v2 approved", &v, &d), TSL_OK);
    assert_int_equal(v, 2);
    assert_int_equal(tsl_store_param_set(f->s, "alpha", "x", NULL, NULL, &v, &d), TSL_OK);
    assert_int_equal(v, 1);
    assert_int_equal(tsl_store_param_get(f->s, "solar/threshold", 0, &p, &d), TSL_OK);
    assert_int_equal(p.version, 2);
    assert_string_equal(p.value, "0.2");
    assert_string_equal(p.who, "bot");
    tsl_store_param_release(&p);
    assert_int_equal(tsl_store_param_get(f->s, "solar/threshold", 1, &p, &d), TSL_OK);
    assert_string_equal(p.value, "0.25");
    assert_string_equal(p.why, "first");
    tsl_store_param_release(&p);
    assert_int_equal(tsl_store_param_get(f->s, "solar/threshold", 3, &p, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_param_get(f->s, "nope", 0, &p, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_param_get(f->s, "bad key!", 0, &p, &d), TSL_EINVAL);
    tsl_store_param *list = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_param_history(f->s, "solar/threshold", &list, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].version, 1);
    assert_int_equal(list[1].version, 2);
    tsl_store_param_list_free(list, n);
    assert_int_equal(tsl_store_param_history(f->s, "nope", &list, &n, &d), TSL_ENOTFOUND);
    assert_int_equal(tsl_store_param_list(f->s, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].key, "alpha");
    assert_string_equal(list[1].key, "solar/threshold");
    assert_int_equal(list[1].version, 2);
    tsl_store_param_list_free(list, n);
    assert_int_equal(count_events(f->s, "param.set"), 3);
    assert_int_not_equal(raw_sql(f->path, "UPDATE params SET value = '1'"), SQLITE_OK);
}

static void test_events(void **state) {
    fixture *f = *state;
    tsl_diag d = {TSL_OK, {0}};
    int64_t a = 0, b = 0;
    assert_int_equal(
        tsl_store_event_append(f->s, "data.validated", "dataset:x", "{\"ok\":true}", &a, &d),
        TSL_OK);
    create_ds(f->s, "x", "D"); /* records dataset.created between the two */
    assert_int_equal(tsl_store_event_append(f->s, "notification.sent", NULL, NULL, &b, &d), TSL_OK);
    assert_true(b > a + 1);
    tsl_store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_event_list(f->s, a, 0, &ev, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].type, "dataset.created");
    assert_string_equal(ev[0].subject, "dataset:x");
    assert_non_null(strstr(ev[0].payload, "\"freq\":\"D\""));
    assert_int_equal(ev[1].id, b);
    assert_string_equal(ev[1].payload, "{}");
    assert_string_equal(ev[1].subject, "");
    assert_true(ev[1].at_ms >= ev[0].at_ms);
    tsl_store_event_list_free(ev, n);
    assert_int_equal(tsl_store_event_list(f->s, 0, 1, &ev, &n, &d), TSL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].id, a);
    assert_string_equal(ev[0].payload, "{\"ok\":true}");
    tsl_store_event_list_free(ev, n);
    assert_int_equal(tsl_store_event_list(f->s, b, 10, &ev, &n, &d), TSL_OK);
    assert_int_equal(n, 0);
    assert_null(ev);
    assert_int_equal(tsl_store_event_append(f->s, "Bad Type", NULL, NULL, NULL, &d), TSL_EINVAL);
    assert_int_equal(tsl_store_event_append(f->s, "ok", NULL, "{", NULL, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "JSON"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_and_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_and_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_create_get_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_through_the_row_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_spans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_order_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dimensions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
