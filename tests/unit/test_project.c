/*
 * test_project.c - projects on disk: init (the files it writes, refusing to overwrite, --force
 * keeping the data, derived names), discovery from nested directories, opening by directory,
 * the data directory made on open, path resolution and the messages when there is no project.
 * Each test works in its own temporary directory.
 */
#include "testutil.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsloop/mem.h"
#include "tsloop/project.h"

/* A fresh temporary directory, resolved (macOS-style /tmp symlinks do not upset paths). */
static char *temp_dir(void) {
    char tmpl[] = "/tmp/tsl_project_XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char buf[PATH_MAX];
    assert_non_null(realpath(tmpl, buf));
    return tsl_strdup(buf);
}

/* dir/rel, a new string. */
static char *path_of(const char *dir, const char *rel) {
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *s = tsl_malloc(n);
    snprintf(s, n, "%s/%s", dir, rel);
    return s;
}

/* Writes text as the whole of path. */
static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* 1 when path is a directory. */
static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Removes the files and directories the tests make (a known, shallow layout). */
static void remove_tree(const char *dir) {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_init(void **state) {
    (void)state;
    char *tmp = temp_dir();
    char *dir = path_of(tmp, "new/shop floor");
    char *written = NULL;
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_project_init(dir, NULL, 0, &written, &d), TSL_OK);
    char *cfg_path = path_of(dir, "tsloop.yaml");
    assert_string_equal(written, cfg_path);
    char *data = path_of(dir, ".tsloop");
    assert_true(is_dir(data));
    struct stat st;
    assert_int_equal(stat(data, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char *ignore = path_of(data, ".gitignore");
    size_t len;
    char *text = tu_slurp(ignore, &len);
    assert_non_null(strstr(text, "\n*\n"));
    tsl_free(text);

    /* The name comes from the directory; the file is the template, valid. */
    tsl_config *cfg = NULL;
    assert_int_equal(tsl_config_load(cfg_path, NULL, &cfg, &d), TSL_OK);
    assert_string_equal(cfg->name, "shop-floor");
    tsl_config_free(cfg);

    /* Again: refused, the file untouched. */
    write_file(cfg_path, "name: edited\n");
    assert_int_equal(tsl_project_init(dir, NULL, 0, NULL, &d), TSL_EINVAL);
    char want[PATH_MAX + 200];
    snprintf(want, sizeof want,
             "%s already exists, expected a directory without a project; pass --force to "
             "overwrite it (the data in .tsloop/ is kept)",
             cfg_path);
    assert_string_equal(d.msg, want);
    text = tu_slurp(cfg_path, &len);
    assert_string_equal(text, "name: edited\n");
    tsl_free(text);

    /* --force: a new file, the data directory's contents kept. */
    char *keep = path_of(data, "store.db");
    write_file(keep, "data");
    assert_int_equal(tsl_project_init(dir, "renamed", 1, NULL, &d), TSL_OK);
    assert_int_equal(tsl_config_load(cfg_path, NULL, &cfg, &d), TSL_OK);
    assert_string_equal(cfg->name, "renamed");
    tsl_config_free(cfg);
    text = tu_slurp(keep, &len);
    assert_string_equal(text, "data");
    tsl_free(text);

    assert_int_equal(tsl_project_init(dir, "bad name", 1, NULL, &d), TSL_EINVAL);
    assert_string_equal(d.msg, "project name \"bad name\" is not valid, expected letters, "
                               "digits, '_', '.' or '-', starting with a letter or digit, at "
                               "most 64 characters");
    /* A data directory that is a file. */
    char *other = path_of(tmp, "other");
    assert_int_equal(mkdir(other, 0755), 0);
    char *other_data = path_of(other, ".tsloop");
    write_file(other_data, "");
    assert_int_equal(tsl_project_init(other, "x", 0, NULL, &d), TSL_EIO);
    snprintf(want, sizeof want,
             "%s exists and is not a directory, expected the project's data directory", other_data);
    assert_string_equal(d.msg, want);
    /* A directory whose name leaves nothing usable. */
    char *odd = path_of(tmp, "__");
    assert_int_equal(tsl_project_init(odd, NULL, 0, NULL, &d), TSL_OK);
    char *odd_cfg = path_of(odd, "tsloop.yaml");
    assert_int_equal(tsl_config_load(odd_cfg, NULL, &cfg, &d), TSL_OK);
    assert_string_equal(cfg->name, "tsloop");
    tsl_config_free(cfg);

    tsl_free(odd_cfg);
    tsl_free(odd);
    tsl_free(other_data);
    tsl_free(other);
    tsl_free(keep);
    tsl_free(ignore);
    tsl_free(data);
    tsl_free(cfg_path);
    tsl_free(written);
    tsl_free(dir);
    remove_tree(tmp);
    tsl_free(tmp);
}

static void test_find_and_open(void **state) {
    (void)state;
    char *tmp = temp_dir();
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    tsl_diag d = {TSL_OK, {0}};
    assert_int_equal(tsl_project_init(tmp, "shop", 0, NULL, &d), TSL_OK);
    char *sub = path_of(tmp, "a/b/c");
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", sub);
    assert_int_equal(system(cmd), 0);

    char *root = NULL;
    assert_int_equal(tsl_project_find(sub, &root, &d), TSL_OK);
    assert_string_equal(root, tmp);
    tsl_free(root);

    /* From the current directory, with the data directory missing (a fresh clone). */
    char *data = path_of(tmp, ".tsloop");
    remove_tree(data);
    assert_int_equal(chdir(sub), 0);
    tsl_project *p = NULL;
    assert_int_equal(tsl_project_open(NULL, NULL, &p, &d), TSL_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_string_equal(p->root, tmp);
    char *cfg_path = path_of(tmp, "tsloop.yaml");
    assert_string_equal(p->config_path, cfg_path);
    assert_string_equal(p->data_dir, data);
    assert_true(is_dir(data));
    char *store = path_of(tmp, ".tsloop/store.db");
    assert_string_equal(p->store_path, store);
    assert_string_equal(p->cfg->name, "shop");
    char *inbox = tsl_project_path(p, "inbox/sales");
    char *want_inbox = path_of(tmp, "inbox/sales");
    assert_string_equal(inbox, want_inbox);
    char *abs = tsl_project_path(p, "/srv/in");
    assert_string_equal(abs, "/srv/in");
    tsl_project_free(p);

    /* By directory: the project's own, not searched upwards. */
    assert_int_equal(tsl_project_open(tmp, NULL, &p, &d), TSL_OK);
    tsl_project_free(p);
    assert_int_equal(tsl_project_open(sub, NULL, &p, &d), TSL_EIO);
    char want[PATH_MAX * 2 + 200];
    snprintf(want, sizeof want,
             "no tsloop.yaml in %s, expected a project directory; run `tsloop init %s` to make "
             "one",
             sub, sub);
    assert_string_equal(d.msg, want);
    char *missing = path_of(tmp, "nope");
    assert_int_equal(tsl_project_open(missing, NULL, &p, &d), TSL_EIO);
    snprintf(want, sizeof want, "project directory %s: No such file or directory", missing);
    assert_string_equal(d.msg, want);

    /* Another store location; PostgreSQL has no file. */
    write_file(cfg_path, "name: shop\nstore: sqlite:/var/tmp/elsewhere.db\n");
    assert_int_equal(tsl_project_open(tmp, NULL, &p, &d), TSL_OK);
    assert_string_equal(p->store_path, "/var/tmp/elsewhere.db");
    tsl_project_free(p);
    write_file(cfg_path, "name: shop\nstore: postgresql://db/x\n");
    assert_int_equal(tsl_project_open(tmp, NULL, &p, &d), TSL_OK);
    assert_null(p->store_path);
    tsl_project_free(p);

    /* A broken configuration: the message names the file by its absolute path. */
    write_file(cfg_path, "name: shop\nhorizon: 3\n");
    assert_int_equal(tsl_project_open(tmp, NULL, &p, &d), TSL_EINVAL);
    snprintf(want, sizeof want,
             "%s:2:1: unknown key \"horizon\", expected one of version, name, store, datasets, "
             "forecasters, endpoints, monitors, notifications, server",
             cfg_path);
    assert_string_equal(d.msg, want);

    /* No project anywhere above: the temporary directory's parents hold none. */
    remove(cfg_path);
    assert_int_equal(tsl_project_find(sub, &root, &d), TSL_EIO);
    snprintf(want, sizeof want,
             "no tsloop.yaml in %s or any parent; run `tsloop init` or pass --project", sub);
    assert_string_equal(d.msg, want);

    tsl_free(missing);
    tsl_free(abs);
    tsl_free(want_inbox);
    tsl_free(inbox);
    tsl_free(store);
    tsl_free(cfg_path);
    tsl_free(data);
    tsl_free(sub);
    remove_tree(tmp);
    tsl_free(tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_find_and_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
