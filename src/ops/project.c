/*
 * project.c - finding, opening and making projects (see project.h).
 *
 * Discovery walks up from the current directory the way git looks for .git: a directory holds
 * a project when tsloop.yaml in it is a file (a symlink to one counts). The walk works on the
 * path with symlinks resolved (realpath), so ".." always means the parent the user sees in
 * `pwd -P`, and stops at "/". A directory that cannot be examined (no permission) is passed
 * over rather than ending the search: the project is usually further up.
 *
 * The data directory is made with mode 0700: the store will hold observations, captured
 * forecasts and API token hashes, which other users of a shared machine have no business
 * reading. A .gitignore of "*" inside it keeps it, and itself, out of version control while
 * tsloop.yaml beside it is committed.
 */
#include "tsloop/project.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/text.h"
#include "tsloop/mem.h"
#include "tsloop/output.h"

/* The commented starting configuration; {{name}} is replaced by the project's name. It must
 * stay valid as written (test_config parses it) and document every key (docs/config.md is the
 * long form). */
static const char template_text[] =
    "# tsloop.yaml - configuration of the tsloop project \"{{name}}\".\n"
    "#\n"
    "# tsloop commands find this file from the current directory upwards (or take\n"
    "# --project DIR) and keep their state in .tsloop/ beside it. Every key is described in\n"
    "# docs/config.md; an unknown or misspelt key is an error, never ignored. Any value may read\n"
    "# the environment: ${VAR}, or ${VAR:-default} when VAR may be unset ($$ is a literal $).\n"
    "# Check this file with `tsloop config`.\n"
    "\n"
    "version: 1                    # format of this file\n"
    "name: {{name}}                # the project's name: letters, digits, _ . -\n"
    "\n"
    "# Where state is kept (observations, model versions, approvals, forecasts): the embedded\n"
    "# SQLite file below (relative to this directory), or a PostgreSQL URI such as\n"
    "# postgresql://tsloop@db.internal/forecasts?password=${PGPASSWORD}.\n"
    "store: sqlite:.tsloop/store.db\n"
    "\n"
    "# Datasets: named collections of series. Each input row is one observation: an item, a\n"
    "# timestamp, a target value, and optional dimension columns that describe the item.\n"
    "datasets:\n"
    "  sales:\n"
    "    columns:\n"
    "      item: item_id           # the series key (default item_id)\n"
    "      timestamp: timestamp    # dates, date-times or epoch seconds (default timestamp)\n"
    "      target: target_value    # the value to forecast (default target_value, else target)\n"
    "      # dimensions: [store]   # columns describing an item; when listed, split_by may\n"
    "                              # name only these (default: any column)\n"
    "    # frequency: D            # 15min, H, D, W, M (MS, ME), Q, Y, with a multiple: 2H;\n"
    "                              # inferred from the data when left out\n"
    "    timezone: UTC             # for display only: UTC, Europe/Berlin, +05:30, ...\n"
    "    # inbox: inbox/sales      # a folder watched for new files (default: none)\n"
    "    non_negative: true        # the target is never negative: ingest refuses negative\n"
    "                              # values (default false)\n"
    "\n"
    "# Forecasters: what to forecast from a dataset, how to choose models, and how a new model\n"
    "# version becomes the approved one.\n"
    "forecasters:\n"
    "  sales_daily:\n"
    "    dataset: sales            # one of the datasets above (required)\n"
    "    horizon: 14               # steps to forecast (required)\n"
    "    quantiles: [0.1, 0.5, 0.9]  # forecast quantiles (default 0.1, 0.5, 0.9)\n"
    "    metric: mase              # selection metric: mase (default), smape, mape, rmse, mae,\n"
    "                              # wape, mean_wql\n"
    "    candidates: [naive, snaive, drift, ets, arima, theta, dotm]\n"
    "                              # models compared per series, as `tsloop forecast --models`\n"
    "                              # takes them (leave out for the default set)\n"
    "    season_length: 7          # seasonal period, or several: [24, 168] (default: from\n"
    "                              # the frequency)\n"
    "    backtest_windows: 3       # rolling-origin windows that score candidates (1-32)\n"
    "    ensembles: true           # also try combinations of the best candidates (default)\n"
    "    # split_by: [store]       # one model group per value of these dimension columns\n"
    "                              # (default: one group)\n"
    "    approval:\n"
    "      policy: manual          # manual (default): a person approves each new version;\n"
    "                              # auto: approved when better than the approved version\n"
    "      # margin: 0.05          # auto only: the relative improvement needed (default 0)\n"
    "      approvers: [forecasting@example.com]\n"
    "                              # told about each new version and how to approve it\n"
    "    schedule:                 # crontab expressions, in UTC (default: none):\n"
    "                              # minute hour day-of-month month day-of-week\n"
    "      retrain: \"0 3 * * 1\"    # retrain on Mondays at 03:00 UTC\n"
    "      forecast: \"0 10 * * *\"  # forecast every day at 10:00 UTC\n";

void tsl_project_template(const char *name, tsl_wbuf *out) {
    const char *p = template_text, *hit;
    while ((hit = strstr(p, "{{name}}"))) {
        tsl_wbuf_put(out, p, (size_t)(hit - p));
        tsl_wbuf_puts(out, name);
        p = hit + 8;
    }
    tsl_wbuf_puts(out, p);
}

/* dir + "/" + name, a new string (no doubled slash when dir is "/"). */
static char *join(const char *dir, const char *name) {
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl == 0 || dir[dl - 1] != '/';
    char *s = tsl_malloc(dl + (size_t)slash + nl + 1);
    memcpy(s, dir, dl);
    if (slash) s[dl] = '/';
    memcpy(s + dl + (size_t)slash, name, nl + 1);
    return s;
}

/* 1 when path is (or links to) a regular file. */
static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The absolute, resolved form of dir (NULL: the current directory), a new string. */
static tsl_err resolve_dir(const char *dir, const char *what, char **out, tsl_diag *d) {
    char buf[PATH_MAX];
    if (!realpath(dir ? dir : ".", buf))
        return tsl_diag_set(d, TSL_EIO, "%s %s: %s", what, dir ? dir : ".", strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return tsl_diag_set(d, TSL_EIO, "%s %s is not a directory, expected a project directory",
                            what, dir ? dir : ".");
    *out = tsl_strdup(buf);
    return TSL_OK;
}

tsl_err tsl_project_find(const char *start, char **root, tsl_diag *d) {
    char *dir = NULL;
    tsl_err rc = resolve_dir(start, "cannot search from", &dir, d);
    if (rc) return rc;
    char *origin = tsl_strdup(dir);
    for (;;) {
        char *cfg = join(dir, TSL_PROJECT_CONFIG);
        int found = is_file(cfg);
        tsl_free(cfg);
        if (found) {
            *root = dir;
            dir = NULL;
            goto out;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir) {
            if (!strcmp(dir, "/")) break;
            dir[1] = '\0'; /* up to "/" itself */
            continue;
        }
        *slash = '\0';
    }
    rc = tsl_diag_set(d, TSL_EIO, "no %s in %s or any parent; run `tsloop init` or pass --project",
                      TSL_PROJECT_CONFIG, origin);
out:
    tsl_free(dir);
    tsl_free(origin);
    return rc;
}

/* Makes dir with mode 0700 unless it exists as a directory; then writes .gitignore ("*") in it
 * when it has none. */
static tsl_err make_data_dir(const char *dir, tsl_diag *d) {
    struct stat st;
    if (mkdir(dir, 0700) != 0) {
        if (errno != EEXIST)
            return tsl_diag_set(d, TSL_EIO, "cannot create %s: %s", dir, strerror(errno));
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return tsl_diag_set(d, TSL_EIO,
                                "%s exists and is not a directory, expected the "
                                "project's data directory",
                                dir);
    }
    char *ignore = join(dir, ".gitignore");
    tsl_err rc = TSL_OK;
    if (!is_file(ignore)) {
        tsl_outfile o;
        if (!(rc = tsl_outfile_open(&o, ignore, d))) {
            fputs("# tsloop's data directory: never in version control.\n*\n", o.f);
            rc = tsl_outfile_commit(&o, d);
        }
    }
    tsl_free(ignore);
    return rc;
}

tsl_err tsl_project_open(const char *dir, const tsl_config_opts *opts, tsl_project **out,
                         tsl_diag *d) {
    tsl_project *p = tsl_calloc(1, sizeof *p);
    tsl_err rc;
    if (dir) {
        if ((rc = resolve_dir(dir, "project directory", &p->root, d))) goto out;
        p->config_path = join(p->root, TSL_PROJECT_CONFIG);
        if (!is_file(p->config_path)) {
            rc = tsl_diag_set(d, TSL_EIO,
                              "no %s in %s, expected a project directory; run `tsloop init %s` "
                              "to make one",
                              TSL_PROJECT_CONFIG, p->root, dir);
            goto out;
        }
    } else {
        if ((rc = tsl_project_find(NULL, &p->root, d))) goto out;
        p->config_path = join(p->root, TSL_PROJECT_CONFIG);
    }
    if ((rc = tsl_config_load(p->config_path, opts, &p->cfg, d))) goto out;
    p->data_dir = join(p->root, TSL_PROJECT_DATA_DIR);
    if ((rc = make_data_dir(p->data_dir, d))) goto out;
    if (p->cfg->store.kind == TSL_STORE_SQLITE)
        p->store_path = tsl_project_path(p, p->cfg->store.location);
    *out = p;
    p = NULL;
out:
    tsl_project_free(p);
    return rc;
}

void tsl_project_free(tsl_project *p) {
    if (!p) return;
    tsl_free(p->root);
    tsl_free(p->config_path);
    tsl_free(p->data_dir);
    tsl_free(p->store_path);
    tsl_config_free(p->cfg);
    tsl_free(p);
}

char *tsl_project_path(const tsl_project *p, const char *path) {
    if (path[0] == '/') return tsl_strdup(path);
    return join(p->root, path);
}

/* Makes dir and its missing parents (mode 0777 less the umask, as mkdir -p). */
static tsl_err make_dirs(const char *dir, tsl_diag *d) {
    char *path = tsl_strdup(dir);
    tsl_err rc = TSL_OK;
    for (char *s = path + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        struct stat st;
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            rc = tsl_diag_set(d, TSL_EIO, "cannot create %s: %s", path, strerror(errno));
            goto out;
        }
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = tsl_diag_set(d, TSL_EIO, "%s exists and is not a directory", path);
            goto out;
        }
        *s = c;
        if (!c) break;
    }
out:
    tsl_free(path);
    return rc;
}

/* A project name from a directory's base name: the characters a name allows, from the first
 * letter or digit on, at most TSL_CONFIG_MAX_NAME; "tsloop" when nothing is left. */
static void name_from_dir(const char *root, char *name, size_t cap) {
    const char *base = strrchr(root, '/');
    base = base ? base + 1 : root;
    size_t o = 0;
    for (const char *c = base; *c && o + 1 < cap && o < TSL_CONFIG_MAX_NAME; c++) {
        int alnum =
            (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9');
        if (alnum || (o > 0 && (*c == '_' || *c == '.' || *c == '-')))
            name[o++] = *c;
        else if (o > 0 && *c == ' ')
            name[o++] = '-';
    }
    name[o] = '\0';
    if (!o) tsl_strlcpy(name, "tsloop", cap);
}

tsl_err tsl_project_init(const char *dir, const char *name, int force, char **config_path,
                         tsl_diag *d) {
    char *root = NULL, *cfg_path = NULL, *data = NULL;
    char derived[TSL_CONFIG_MAX_NAME + 1];
    tsl_wbuf text;
    tsl_wbuf_init(&text);
    tsl_err rc;
    if (name && !tsl_config_name_valid(name)) {
        char q[TSL_TEXT_QUOTE_CAP];
        rc = tsl_diag_set(d, TSL_EINVAL,
                          "project name %s is not valid, expected letters, digits, '_', '.' or "
                          "'-', starting with a letter or digit, at most %d characters",
                          tsl_text_quote(q, sizeof q, name, strlen(name)), TSL_CONFIG_MAX_NAME);
        goto out;
    }
    if (!dir || !dir[0]) dir = ".";
    if ((rc = make_dirs(dir, d))) goto out;
    if ((rc = resolve_dir(dir, "project directory", &root, d))) goto out;
    cfg_path = join(root, TSL_PROJECT_CONFIG);
    struct stat st;
    if (lstat(cfg_path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            rc = tsl_diag_set(d, TSL_EINVAL, "%s is a directory, expected no file or a file",
                              cfg_path);
            goto out;
        }
        if (!force) {
            rc = tsl_diag_set(d, TSL_EINVAL,
                              "%s already exists, expected a directory without a project; pass "
                              "--force to overwrite it (the data in %s/ is kept)",
                              cfg_path, TSL_PROJECT_DATA_DIR);
            goto out;
        }
    }
    if (!name) {
        name_from_dir(root, derived, sizeof derived);
        name = derived;
    }
    tsl_project_template(name, &text);
    tsl_outfile o;
    if ((rc = tsl_outfile_open(&o, cfg_path, d))) goto out;
    if (fwrite(text.data, 1, text.len, o.f) != text.len) {
        tsl_outfile_abort(&o);
        rc = tsl_diag_set(d, TSL_EIO, "cannot write %s: %s", cfg_path, strerror(errno));
        goto out;
    }
    if ((rc = tsl_outfile_commit(&o, d))) goto out;
    data = join(root, TSL_PROJECT_DATA_DIR);
    if ((rc = make_data_dir(data, d))) goto out;
    if (config_path) {
        *config_path = cfg_path;
        cfg_path = NULL;
    }
out:
    tsl_wbuf_release(&text);
    tsl_free(root);
    tsl_free(cfg_path);
    tsl_free(data);
    return rc;
}
