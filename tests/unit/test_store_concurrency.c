/*
 * test_store_concurrency.c - several processes on one store at once, as issue 4 asks: two
 * ingests into the same data set (overlapping items, small batches so that their transactions
 * interleave), a reader loading the data set over and over, and a pipeline worker requesting,
 * claiming and finishing executions - all forked, each with its own handle. None may fail
 * (no "database is locked"), every snapshot a reader sees must be consistent and never go
 * backwards, and the final state must be exactly the union of what was ingested: the same
 * counts and the same content hash as a data set that received the rows one file after the
 * other. A writer holding the lock past the busy timeout gives TSL_EBUSY; within it, waiting.
 */
#include "testutil.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tsloop/buf.h"
#include "tsloop/mem.h"
#include "tsloop/store.h"

#define DAYS    200
#define BATCH   400
#define WORKERS 40

/* Rows of items [lo, hi), DAYS days each, value item * 1000 + day, item-major. */
static char *rows(int lo, int hi) {
    tsl_wbuf b;
    tsl_wbuf_init(&b);
    tsl_wbuf_puts(&b, "item_id,timestamp,target_value\n");
    for (int i = lo; i < hi; i++) {
        for (int day = 0; day < DAYS; day++) {
            char when[32];
            tsl_time_format(1672531200 + (int64_t)day * 86400, 1, when, sizeof when);
            tsl_wbuf_printf(&b, "item%03d,%s,%d\n", i, when, i * 1000 + day);
        }
    }
    char *text = tsl_strdup(tsl_wbuf_cstr(&b));
    tsl_wbuf_release(&b);
    return text;
}

/* Child: ingests text into dataset in small batches. Exit status 0 on success. */
static int ingester(const char *path, const char *dataset, const char *text) {
    tsl_store *s = NULL;
    tsl_csv *c = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_receipt r;
    tsl_store_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.batch_rows = BATCH;
    o.source = dataset;
    if (tsl_store_open(path, NULL, &s, &d) ||
        tsl_csv_open_mem("rows.csv", text, strlen(text), NULL, &c, &d) ||
        tsl_store_ingest_csv(s, dataset, c, &o, &r, &d)) {
        fprintf(stderr, "ingester: %s\n", d.msg);
        return 10 + (int)d.code;
    }
    tsl_csv_close(c);
    tsl_store_receipt_release(&r);
    tsl_store_close(s);
    return 0;
}

/* The points of a data set that hold a value. */
static size_t points(const tsl_dataset *ds) {
    size_t n = 0;
    for (size_t i = 0; i < ds->nseries; i++)
        for (size_t k = 0; k < ds->series[i].n; k++) n += !isnan(ds->series[i].y[k]);
    return n;
}

/* Child: loads the data set until `done` exists; every snapshot must hold whole, increasing
 * states. Exit status 0 on success. */
static int reader(const char *path, const char *done) {
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    size_t last = 0, loads = 0;
    if (tsl_store_open(path, NULL, &s, &d)) {
        fprintf(stderr, "reader: %s\n", d.msg);
        return 10 + (int)d.code;
    }
    while (access(done, F_OK) != 0 || loads == 0) {
        tsl_dataset *ds = NULL;
        char hash[65];
        tsl_err e = tsl_store_dataset_load(s, "load", NULL, 0, 0, &ds, hash, &d);
        if (e == TSL_ESHORT) continue; /* nothing ingested yet */
        if (e) {
            fprintf(stderr, "reader: %s\n", d.msg);
            return 10 + (int)e;
        }
        size_t n = points(ds);
        tsl_dataset_free(ds);
        if (n < last) {
            fprintf(stderr, "reader: a snapshot went backwards (%zu after %zu)\n", n, last);
            return 2;
        }
        last = n;
        loads++;
        tsl_store_dataset info;
        if ((e = tsl_store_dataset_get(s, "load", &info, &d))) {
            fprintf(stderr, "reader: %s\n", d.msg);
            return 10 + (int)e;
        }
        tsl_store_dataset_release(&info);
    }
    tsl_store_close(s);
    return 0;
}

/* Child: a pipeline worker running WORKERS one-step executions end to end. */
static int worker(const char *path) {
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_open(path, NULL, &s, &d)) goto fail;
    for (int k = 0; k < WORKERS; k++) {
        tsl_exec_request r;
        memset(&r, 0, sizeof r);
        r.forecaster = "busy";
        r.trigger = "data";
        int64_t id = 0;
        tsl_store_exec e;
        int claimed = 0, attempt = 0;
        if (tsl_store_exec_request(s, &r, &id, NULL, &d) ||
            tsl_store_exec_claim(s, "busy", &e, &claimed, &d))
            goto fail;
        if (!claimed || e.id != id) {
            fprintf(stderr, "worker: claimed nothing or another execution\n");
            return 3;
        }
        tsl_store_exec_release(&e);
        if (tsl_store_step_begin(s, id, "fit", &attempt, NULL, &d) ||
            tsl_store_step_succeed(s, id, "fit", NULL, NULL, 0, &d) ||
            tsl_store_exec_finish(s, id, TSL_EXEC_SUCCEEDED, NULL, &d) ||
            tsl_store_event_append(s, "worker.tick", NULL, NULL, NULL, &d))
            goto fail;
    }
    tsl_store_close(s);
    return 0;
fail:
    fprintf(stderr, "worker: %s\n", d.msg);
    return 10 + (int)d.code;
}

static pid_t spawn(int (*fn)(const char *, const char *, const char *), const char *a,
                   const char *b, const char *c) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(fn(a, b, c));
    return pid;
}

static int run_ingester(const char *path, const char *dataset, const char *text) {
    return ingester(path, dataset, text);
}

static int run_reader(const char *path, const char *done, const char *unused) {
    (void)unused;
    return reader(path, done);
}

static int run_worker(const char *path, const char *unused1, const char *unused2) {
    (void)unused1;
    (void)unused2;
    return worker(path);
}

static void expect_exit_0(pid_t pid, const char *what) {
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s failed (status %d, exit code %d)", what, status,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void test_processes_at_once(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), path[4096], done[4096];
    snprintf(path, sizeof path, "%s/store.db", dir);
    snprintf(done, sizeof done, "%s/done", dir);
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_freq day = {TSL_FREQ_DAY, 1, 0};
    assert_int_equal(tsl_store_open(path, NULL, &s, &d), TSL_OK);
    assert_int_equal(tsl_store_dataset_create(s, "load", day, NULL, 0, NULL, &d), TSL_OK);
    assert_int_equal(tsl_store_dataset_create(s, "reference", day, NULL, 0, NULL, &d), TSL_OK);
    char *a = rows(0, 40), *b = rows(20, 60);

    pid_t pr = spawn(run_reader, path, done, NULL);
    pid_t pw = spawn(run_worker, path, NULL, NULL);
    pid_t pa = spawn(run_ingester, path, "load", a);
    pid_t pb = spawn(run_ingester, path, "load", b);
    expect_exit_0(pa, "ingester A");
    expect_exit_0(pb, "ingester B");
    FILE *fp = fopen(done, "w");
    assert_non_null(fp);
    fclose(fp);
    expect_exit_0(pr, "reader");
    expect_exit_0(pw, "worker");

    /* The union, exactly once. */
    tsl_store_dataset ds;
    assert_int_equal(tsl_store_dataset_get(s, "load", &ds, &d), TSL_OK);
    assert_int_equal(ds.items, 60);
    assert_int_equal(ds.observations, 60 * DAYS);
    char hash[65];
    memcpy(hash, ds.hash, sizeof hash);
    tsl_store_dataset_release(&ds);
    int ok = 0;
    assert_int_equal(tsl_store_dataset_verify(s, "load", &ok, &d), TSL_OK);
    assert_true(ok);
    tsl_store_ingest_info *ing = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_ingest_list(s, "load", 0, &ing, &n, &d), TSL_OK);
    assert_int_equal(n, 2);
    uint64_t inserted = 0, unchanged = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ing[i].status, TSL_INGEST_COMPLETE);
        assert_int_equal(ing[i].receipt.read, 40 * DAYS);
        assert_int_equal(ing[i].receipt.updated + ing[i].receipt.rejected, 0);
        inserted += ing[i].receipt.inserted;
        unchanged += ing[i].receipt.unchanged;
    }
    assert_int_equal(inserted, 60 * DAYS);
    assert_int_equal(unchanged, 20 * DAYS);
    tsl_store_ingest_info_list_free(ing, n);

    tsl_csv *c = NULL;
    tsl_store_receipt r;
    const char *texts[] = {b, a};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(tsl_csv_open_mem("r.csv", texts[k], strlen(texts[k]), NULL, &c, &d),
                         TSL_OK);
        assert_int_equal(tsl_store_ingest_csv(s, "reference", c, NULL, &r, &d), TSL_OK);
        tsl_csv_close(c);
        tsl_store_receipt_release(&r);
    }
    assert_int_equal(tsl_store_dataset_get(s, "reference", &ds, &d), TSL_OK);
    assert_string_equal(ds.hash, hash);
    tsl_store_dataset_release(&ds);

    /* The worker's executions all ran, one at a time. */
    tsl_store_exec *ex = NULL;
    assert_int_equal(tsl_store_exec_list(s, "busy", 0, &ex, &n, &d), TSL_OK);
    assert_int_equal(n, WORKERS);
    for (size_t i = 0; i < n; i++) assert_int_equal(ex[i].status, TSL_EXEC_SUCCEEDED);
    tsl_store_exec_list_free(ex, n);

    tsl_store_close(s);
    tsl_free(a);
    tsl_free(b);
    tu_rmtree(dir);
    tsl_free(dir);
}

/* Two processes open a fresh store at the same moment: both migrate or wait, neither fails. */
static void test_concurrent_creation(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/store.db", dir);
    pid_t pids[4];
    fflush(NULL);
    for (int k = 0; k < 4; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            tsl_store *s = NULL;
            tsl_diag d = {TSL_OK, {0}};
            char name[16];
            snprintf(name, sizeof name, "ds%d", k);
            tsl_freq none = {TSL_FREQ_NONE, 0, 0};
            if (tsl_store_open(path, NULL, &s, &d) ||
                tsl_store_dataset_create(s, name, none, NULL, 0, NULL, &d)) {
                fprintf(stderr, "opener %d: %s\n", k, d.msg);
                _exit(10 + (int)d.code);
            }
            tsl_store_close(s);
            _exit(0);
        }
    }
    for (int k = 0; k < 4; k++) expect_exit_0(pids[k], "opener");
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_open(path, NULL, &s, &d), TSL_OK);
    tsl_store_dataset *list = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_dataset_list(s, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 4);
    tsl_store_dataset_list_free(list, n);
    tsl_store_migration *m = NULL;
    assert_int_equal(tsl_store_migrations(s, &m, &n, &d), TSL_OK);
    for (size_t i = 0; i < n; i++) assert_true(m[i].applied);
    tsl_free(m);
    tsl_store_close(s);
    tu_rmtree(dir);
    tsl_free(dir);
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Another process holds the write lock: an operation waits for it up to the busy timeout,
 * succeeds when the lock comes back in time, and fails with TSL_EBUSY - not "database is
 * locked" from deep inside - when it does not. */
static void test_busy_timeout(void **state) {
    (void)state;
    char *dir = tu_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/store.db", dir);
    tsl_store *s = NULL;
    tsl_diag d = {TSL_OK, {0}};
    tsl_store_opts o;
    memset(&o, 0, sizeof o);
    o.busy_timeout_ms = 300;
    assert_int_equal(tsl_store_open(path, &o, &s, &d), TSL_OK);

    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    double t0 = mono();
    assert_int_equal(tsl_store_param_set(s, "k", "1", "t", "", NULL, &d), TSL_EBUSY);
    double waited = mono() - t0;
    assert_true(waited >= 0.25 && waited < 5);
    assert_non_null(strstr(d.msg, "still locked"));
    /* Readers are not blocked by a writer. */
    tsl_store_event *ev = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_event_list(s, 0, 0, &ev, &n, &d), TSL_OK);
    tsl_store_event_list_free(ev, n);
    assert_int_equal(sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);

    /* A writer that lets go within the timeout is simply waited for. */
    tsl_store_close(s);
    o.busy_timeout_ms = 10000;
    assert_int_equal(tsl_store_open(path, &o, &s, &d), TSL_OK);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *db = NULL;
        if (sqlite3_open(path, &db) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            _exit(3);
        if (write(ready[1], "x", 1) != 1) _exit(4);
        usleep(300000);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(db);
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    t0 = mono();
    assert_int_equal(tsl_store_param_set(s, "k", "2", "t", "", NULL, &d), TSL_OK);
    assert_true(mono() - t0 >= 0.2);
    expect_exit_0(pid, "lock holder");
    close(ready[0]);
    close(ready[1]);
    tsl_store_close(s);
    tu_rmtree(dir);
    tsl_free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_processes_at_once),
        cmocka_unit_test(test_concurrent_creation),
        cmocka_unit_test(test_busy_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
