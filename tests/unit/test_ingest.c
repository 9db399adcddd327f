/*
 * test_ingest.c - ingest.h: files into a project's data set as tsloop.yaml declares it. A good
 * file creates the data set with the declared frequency and dimensions and its receipt counts
 * every row once (negative values of a non_negative data set rejected with line and reason);
 * the same file again changes nothing; and each unusable file - every row bad, the declared
 * dimension missing, no target column, only a header, too many rejects, a frequency that
 * disagrees with the stored one - fails with its message and leaves the store exactly as it
 * was: no data set, no ingest record, no event.
 */
#include "testutil.h"

#include <string.h>

#include "tsloop/config.h"
#include "tsloop/ingest.h"
#include "tsloop/mem.h"
#include "tsloop/store.h"

typedef struct fixture {
    char *dir;
    char path[4096];
    tsl_store *s;
    tsl_config *cfg;
} fixture;

static const char config_text[] = "name: t\n"
                                  "datasets:\n"
                                  "  sales:\n"
                                  "    columns: {item: sku, timestamp: day, target: units,\n"
                                  "              dimensions: [region]}\n"
                                  "    frequency: D\n"
                                  "    non_negative: true\n"
                                  "  other:\n"
                                  "    frequency: H\n";

static int setup(void **state) {
    fixture *f = tsl_calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
    tsl_diag d = {TSL_OK, {0}};
    if (tsl_store_open(f->path, NULL, &f->s, &d)) fail_msg("%s", d.msg);
    if (tsl_config_parse(config_text, strlen(config_text), "tsloop.yaml", NULL, &f->cfg, &d))
        fail_msg("%s", d.msg);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    tsl_store_close(f->s);
    tsl_config_free(f->cfg);
    tu_rmtree(f->dir);
    tsl_free(f->dir);
    tsl_free(f);
    return 0;
}

/* Writes text as dir/name and returns its path (a static buffer per call slot). */
static const char *write_file(const fixture *f, const char *name, const char *text) {
    static char paths[4][4096];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, 4096, "%s/%s", f->dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return p;
}

/* Events recorded so far. */
static size_t events(tsl_store *s) {
    tsl_store_event *ev = NULL;
    size_t n = 0;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_event_list(s, 0, 0, &ev, &n, &d), TSL_OK);
    tsl_store_event_list_free(ev, n);
    return n;
}

/* The store has no data set called name and recorded nothing. */
static void untouched(tsl_store *s, const char *name, size_t events_before) {
    tsl_store_dataset ds;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_store_dataset_get(s, name, &ds, &d), TSL_ENOTFOUND);
    tsl_store_ingest_info *list = NULL;
    size_t n = 0;
    assert_int_equal(tsl_store_ingest_list(s, NULL, 0, &list, &n, &d), TSL_OK);
    assert_int_equal(n, 0);
    tsl_store_ingest_info_list_free(list, n);
    assert_int_equal(events(s), events_before);
}

static void test_good_file(void **state) {
    fixture *f = *state;
    const tsl_config_dataset *ds = tsl_config_dataset_find(f->cfg, "sales");
    const char *file = write_file(f, "sales.csv",
                                  "sku,day,region,units\n"
                                  "a,2026-01-01,east,3\n"
                                  "a,2026-01-02,east,-1\n"
                                  "a,2026-01-03,east,4\n"
                                  "b,2026-01-01,west,oops\n"
                                  "b,2026-01-02,west,7\n"
                                  "b,2026-01-03,west,NA\n");
    tsl_store_receipt r;
    int created = 0;
    tsl_diag d = {TSL_OK, {0}};
    tsl_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.who = "tester";
    assert_int_equal(tsl_ingest_file(f->s, ds, file, &o, &r, &created, &d), TSL_OK);
    assert_true(created);
    assert_int_equal(r.read, 6);
    assert_int_equal(r.inserted, 4);
    assert_int_equal(r.rejected, 2);
    assert_int_equal(r.new_items, 2);
    assert_int_equal(r.nrejects, 2);
    assert_int_equal(r.rejects[0].line, 3);
    assert_non_null(strstr(r.rejects[0].reason, "column 'units': -1 is negative"));
    assert_non_null(strstr(r.rejects[0].reason, "non_negative"));
    assert_int_equal(r.rejects[1].line, 5);
    assert_non_null(strstr(r.rejects[1].reason, "oops"));
    char hash[TSL_STORE_HASH_HEX + 1];
    tsl_strlcpy(hash, r.hash, sizeof hash);
    tsl_store_receipt_release(&r);

    tsl_store_dataset sd;
    assert_int_equal(tsl_store_dataset_get(f->s, "sales", &sd, &d), TSL_OK);
    assert_int_equal(sd.freq.unit, TSL_FREQ_DAY);
    assert_int_equal(sd.ndims, 1);
    assert_string_equal(sd.dim_names[0], "region");
    tsl_store_dataset_release(&sd);

    /* Again: nothing changes. */
    assert_int_equal(tsl_ingest_file(f->s, ds, file, &o, &r, &created, &d), TSL_OK);
    assert_false(created);
    assert_int_equal(r.unchanged, 4);
    assert_int_equal(r.inserted + r.updated, 0);
    assert_string_equal(r.hash, hash);
    tsl_store_receipt_release(&r);

    /* A stored frequency the declaration disagrees with: refused before anything. */
    tsl_config_dataset other = *ds;
    other.freq.unit = TSL_FREQ_HOUR;
    size_t before = events(f->s);
    assert_int_equal(tsl_ingest_file(f->s, &other, file, &o, &r, NULL, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "stored with frequency D, but tsloop.yaml declares H"));
    assert_int_equal(events(f->s), before);
}

static void test_unusable_files(void **state) {
    fixture *f = *state;
    const tsl_config_dataset *ds = tsl_config_dataset_find(f->cfg, "sales");
    tsl_store_receipt r;
    tsl_diag d = {TSL_OK, {0}};
    size_t ev0 = events(f->s);

    /* Every row bad. */
    const char *bad = write_file(f, "bad.csv",
                                 "sku,day,region,units\n"
                                 "a,not a date,east,3\n"
                                 "a,2026-01-02,east,-4\n");
    assert_int_equal(tsl_ingest_file(f->s, ds, bad, NULL, &r, NULL, &d), TSL_EPARSE);
    assert_non_null(strstr(d.msg, "none of its 2 rows could be ingested"));
    assert_non_null(strstr(d.msg, "line 2"));
    assert_non_null(strstr(d.msg, "nothing was changed"));
    assert_int_equal(r.read, 2);
    assert_int_equal(r.rejected, 2);
    assert_int_equal(r.nrejects, 2);
    assert_int_equal(r.ingest_id, 0);
    tsl_store_receipt_release(&r);
    untouched(f->s, "sales", ev0);

    /* The declared dimension column is missing. */
    const char *nodim = write_file(f, "nodim.csv", "sku,day,units\na,2026-01-01,3\n");
    assert_int_equal(tsl_ingest_file(f->s, ds, nodim, NULL, &r, NULL, &d), TSL_EINVAL);
    assert_non_null(strstr(d.msg, "dimension columns none, expected region"));
    tsl_store_receipt_release(&r);
    untouched(f->s, "sales", ev0);

    /* No target column. */
    const char *notarget = write_file(f, "notarget.csv", "sku,day,region\na,2026-01-01,east\n");
    assert_int_equal(tsl_ingest_file(f->s, ds, notarget, NULL, &r, NULL, &d), TSL_EPARSE);
    assert_non_null(strstr(d.msg, "notarget.csv"));
    tsl_store_receipt_release(&r);
    untouched(f->s, "sales", ev0);

    /* Only a header. */
    const char *empty = write_file(f, "empty.csv", "sku,day,region,units\n");
    assert_int_equal(tsl_ingest_file(f->s, ds, empty, NULL, &r, NULL, &d), TSL_EPARSE);
    assert_non_null(strstr(d.msg, "no data rows"));
    tsl_store_receipt_release(&r);
    untouched(f->s, "sales", ev0);

    /* Too many rejects before any good row. */
    const char *many = write_file(f, "many.csv",
                                  "sku,day,region,units\n"
                                  "a,x,east,1\n"
                                  "a,y,east,1\n"
                                  "a,2026-01-01,east,1\n");
    tsl_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.max_rejects = 1;
    assert_int_equal(tsl_ingest_file(f->s, ds, many, &o, &r, NULL, &d), TSL_EPARSE);
    assert_non_null(strstr(d.msg, "more than 1 rows rejected"));
    tsl_store_receipt_release(&r);
    untouched(f->s, "sales", ev0);

    /* A missing file. */
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/nowhere.csv", f->dir);
    assert_int_equal(tsl_ingest_file(f->s, ds, missing, NULL, &r, NULL, &d), TSL_EIO);
    assert_non_null(strstr(d.msg, "nowhere.csv"));
    tsl_store_receipt_release(&r);
    untouched(f->s, "sales", ev0);

    /* Rejected rows before the first good one are all in the receipt, in order. */
    o.max_rejects = 0;
    assert_int_equal(tsl_ingest_file(f->s, ds, many, &o, &r, NULL, &d), TSL_OK);
    assert_int_equal(r.read, 3);
    assert_int_equal(r.inserted, 1);
    assert_int_equal(r.rejected, 2);
    assert_int_equal(r.nrejects, 2);
    assert_int_equal(r.rejects[0].line, 2);
    assert_int_equal(r.rejects[1].line, 3);
    tsl_store_receipt_release(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
