/*
 * project.h - a tsloop project on disk: finding it, opening it, making a new one.
 *
 * A project is a directory holding tsloop.yaml (the configuration, meant to be kept in version
 * control) and .tsloop/, the data directory (the embedded store and anything else tsloop
 * writes; never in version control: it holds a .gitignore that ignores it). Every command
 * that works on a project finds it as git finds a repository: the nearest directory, from the
 * current one upwards, that holds tsloop.yaml; or the directory named by --project, which
 * must hold it. docs/projects.md is the user's description.
 */
#ifndef TSLOOP_PROJECT_H
#define TSLOOP_PROJECT_H

#include "tsloop/buf.h"
#include "tsloop/config.h"
#include "tsloop/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSL_PROJECT_CONFIG   "tsloop.yaml"
#define TSL_PROJECT_DATA_DIR ".tsloop"

typedef struct tsl_project {
    char *root;        /* absolute path of the directory holding tsloop.yaml, symlinks resolved */
    char *config_path; /* root/tsloop.yaml */
    char *data_dir;    /* root/.tsloop */
    char *store_path;  /* the SQLite store's file, absolute; NULL when the store is PostgreSQL */
    tsl_config *cfg;
} tsl_project;

/* The nearest directory from start (NULL: the current directory) upwards that holds
 * tsloop.yaml, as a new absolute path in *root. Fails with TSL_EIO "no tsloop.yaml in START or
 * any parent; run `tsloop init` or pass --project" when there is none. */
tsl_err tsl_project_find(const char *start, char **root, tsl_diag *d);

/* Opens the project in dir (which must hold tsloop.yaml) or, when dir is NULL, the one
 * tsl_project_find finds from the current directory; parses its configuration (opts as for
 * tsl_config_parse; messages name the file by its absolute path) and creates the data
 * directory when it is missing (a fresh clone of a project has none). *out is released with
 * tsl_project_free. */
tsl_err tsl_project_open(const char *dir, const tsl_config_opts *opts, tsl_project **out,
                         tsl_diag *d);

/* Releases p and its configuration; NULL is a no-op. */
void tsl_project_free(tsl_project *p);

/* A path of the configuration (an inbox folder, a SQLite file) made absolute: relative ones
 * are relative to the project root, whatever the current directory. A new string. */
char *tsl_project_path(const tsl_project *p, const char *path);

/* Makes a project in dir (created, with its parents, when missing): writes tsloop.yaml from
 * tsl_project_template (atomically) and the data directory. name NULL derives the project's
 * name from the directory's. Refuses, with TSL_EINVAL, when tsloop.yaml exists unless force
 * is set; force never touches the data directory's contents. *config_path, when not NULL,
 * receives the absolute path of the file written (a new string). */
tsl_err tsl_project_init(const char *dir, const char *name, int force, char **config_path,
                         tsl_diag *d);

/* Appends the commented starting configuration for a project called name (a valid name) to
 * out: one dataset and one forecaster, every key explained, valid as written. */
void tsl_project_template(const char *name, tsl_wbuf *out);

#ifdef __cplusplus
}
#endif
#endif
