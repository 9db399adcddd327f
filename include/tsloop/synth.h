/*
 * synth.h - realistic synthetic data for demos and tests.
 *
 * Hourly solar power of a few sites: the daily cycle from the sun's elevation at each site's
 * latitude and longitude, day length that follows the season, weather that persists for days
 * (clear, broken cloud, overcast) shared partly between neighbouring sites, passing clouds hour
 * to hour, and exactly zero at night. Deterministic for a given seed.
 */
#ifndef TSLOOP_SYNTH_H
#define TSLOOP_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "tsloop/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsl_solar_site {
    char name[32];
    char region[32];
    double lat, lon;    /* degrees */
    double capacity_kw; /* peak output */
} tsl_solar_site;

typedef struct tsl_solar_opts {
    size_t sites;  /* 1..64; default 4 */
    size_t days;   /* 1..3660; default 120 */
    int64_t start; /* first hour, UTC, a midnight; default 2026-03-01 */
    uint64_t seed; /* default 42 */
} tsl_solar_opts;

void tsl_solar_opts_init(tsl_solar_opts *o);

/* Fills sites[0..o->sites) and y (o->sites * o->days * 24 values, site-major: y[s * hours + t]
 * is site s at hour start + t, in kW). */
tsl_err tsl_synth_solar(const tsl_solar_opts *o, tsl_solar_site *sites, double *y, tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
