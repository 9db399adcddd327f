/*
 * registry.h - the model registry as the pipeline and the commands see it: which registry
 * entry a forecaster's model group is registered under, how a version is named on the
 * command line, the versions that belong to a forecaster, and the side-by-side comparison of
 * two versions. The store keeps the versions themselves (store.h: register, statuses, audit
 * log, champion); docs/registry.md is the user's description.
 *
 * Entries. A forecaster without split_by registers its versions under its own name. With
 * split_by, every model group is an entry of its own (its own versions, approvals and
 * champion), named FORECASTER.V1.V2... after the group's dimension values, each value reduced
 * to letters, digits, '_' and '-'. When that reduction changed anything, or the name would
 * pass TSL_STORE_NAME_MAX bytes, the values are cut short and "-" plus 8 hex digits of the
 * SHA-256 of the exact group key are appended, so distinct groups keep distinct entries:
 * region "north" of forecaster solar is solar.north; "Île de France" becomes
 * solar.-le-de-France-fc9a0673.
 *
 * Group keys identify a group exactly: the JSON array of its dimension values in split_by
 * order (["north","12"]), or "" for a forecaster without split_by.
 */
#ifndef TSLOOP_REGISTRY_H
#define TSLOOP_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/buf.h"
#include "tsloop/err.h"
#include "tsloop/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Appends the group key of these dimension values (n of them) to out: "" when n is 0. */
void tsl_registry_group_key(const char *const *values, size_t n, tsl_wbuf *out);

/* Writes the registry entry of forecaster's group with these values (n == 0: the forecaster's
 * own entry) into out (TSL_STORE_NAME_MAX + 1 bytes). TSL_EINVAL when forecaster is not a
 * valid name or too long to leave room for a group (more than 55 bytes with split_by). */
tsl_err tsl_registry_entry_name(const char *forecaster, const char *const *values, size_t n,
                                char *out, tsl_diag *d);

/* Parses a version reference, "ENTRY/VERSION" or "ENTRY" (then *version is 0: the latest).
 * name gets TSL_STORE_NAME_MAX + 1 bytes. TSL_EINVAL with what was expected. */
tsl_err tsl_registry_ref_parse(const char *text, char *name, int *version, tsl_diag *d);

/* The versions belonging to forecaster - its own entry's and its groups' (entries whose
 * versions' metrics name it as their forecaster) - newest first; NULL: every version. */
tsl_err tsl_registry_versions(tsl_store *s, const char *forecaster, tsl_store_model **out,
                              size_t *n, tsl_diag *d);

/* One series in a comparison of two versions: its choice, fitted model and backtest score
 * in each (NULL / NaN where the version does not forecast it). */
typedef struct tsl_registry_diff_row {
    char *item;
    char *a_choice, *a_model;
    double a_score;
    char *b_choice, *b_model;
    double b_score;
} tsl_registry_diff_row;

/* A number of the metrics, in each version (NaN where absent): "score", "champion.score",
 * "auto.mase", ... (the numeric leaves of the metrics JSON, dotted, arrays left out). */
typedef struct tsl_registry_diff_metric {
    char *name;
    double a, b;
} tsl_registry_diff_metric;

typedef struct tsl_registry_diff {
    tsl_store_model a, b;
    size_t nmetrics;
    tsl_registry_diff_metric *metrics; /* by name */
    size_t nrows;
    tsl_registry_diff_row *rows; /* by item */
    size_t same;                 /* series with the same choice and model in both */
    size_t changed;              /* in both, with another choice or model */
    size_t only_a, only_b;
} tsl_registry_diff;

/* Compares version a_version of a_entry with b_version of b_entry (0: the latest). */
tsl_err tsl_registry_diff_make(tsl_store *s, const char *a_entry, int a_version,
                               const char *b_entry, int b_version, tsl_registry_diff *out,
                               tsl_diag *d);

void tsl_registry_diff_release(tsl_registry_diff *df);

#ifdef __cplusplus
}
#endif
#endif
