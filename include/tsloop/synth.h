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

typedef enum tsl_solar_fault {
    TSL_SOLAR_FAULT_NONE = 0,
    TSL_SOLAR_FAULT_INVERTER, /* from fault_day on, output is multiplied by fault_factor */
    TSL_SOLAR_FAULT_SOILING   /* output loses (1 - fault_factor) more each day from fault_day,
                                 down to at most half of it */
} tsl_solar_fault;

typedef struct tsl_solar_opts {
    size_t sites;  /* 1..64; default 4 */
    size_t days;   /* 1..3660; default 120 */
    int64_t start; /* first hour, UTC, a midnight; default 2026-03-01 */
    uint64_t seed; /* default 42 */
    /* Degradation of one site (default: none). The weather draws do not depend on it, so a
     * degraded data set equals the healthy one everywhere but on that site after fault_day. */
    tsl_solar_fault fault;
    size_t fault_site;   /* index of the site, < sites */
    size_t fault_day;    /* first day affected, < days */
    double fault_factor; /* in (0, 1]: INVERTER's remaining share, SOILING's daily retention */
} tsl_solar_opts;

void tsl_solar_opts_init(tsl_solar_opts *o);

/* Fills sites[0..o->sites) and y (o->sites * o->days * 24 values, site-major: y[s * hours + t]
 * is site s at hour start + t, in kW). */
tsl_err tsl_synth_solar(const tsl_solar_opts *o, tsl_solar_site *sites, double *y, tsl_diag *d);

#ifdef __cplusplus
}
#endif
#endif
