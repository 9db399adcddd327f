/*
 * synth.c - the synthetic solar-power generator (see synth.h).
 *
 * Physics, simplified but honest: the solar declination follows Cooper's formula, the hour
 * angle comes from solar time (UTC shifted by longitude), and clear-sky output is proportional
 * to sin(elevation)^1.15, a crude stand-in for the longer air mass at low sun. Each hour's value
 * is the average of four quarter-hour evaluations, so sunrise and sunset hours are partial.
 * Weather is a three-state Markov chain per region with multi-day persistence; each site
 * follows its region's day type with probability 0.8, otherwise draws its own, and broken-cloud
 * days get an AR(1) hour-to-hour cloud factor. A little measurement noise rides on daylight
 * hours; night is exactly zero, as inverters report.
 */
#include "tsloop/synth.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tsloop/mem.h"
#include "tsloop/time.h"

static const tsl_solar_site known_sites[] = {
    {"lisbon", "iberia", 38.72, -9.14, 850.0}, {"seville", "iberia", 37.39, -5.98, 1200.0},
    {"lyon", "alps", 45.76, 4.84, 640.0},      {"munich", "alps", 48.14, 11.58, 980.0},
    {"hamburg", "north", 53.55, 9.99, 520.0},  {"copenhagen", "north", 55.68, 12.57, 450.0},
    {"naples", "italy", 40.85, 14.27, 700.0},  {"palermo", "italy", 38.12, 13.36, 760.0},
};
#define NKNOWN (sizeof known_sites / sizeof known_sites[0])

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double rng_unif(rng *r) {
    return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double rng_norm(rng *r) {
    double u = rng_unif(r), v = rng_unif(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

void tsl_solar_opts_init(tsl_solar_opts *o) {
    o->sites = 4;
    o->days = 120;
    o->start = tsl_time_from_civil(2026, 3, 1, 0, 0, 0);
    o->seed = 42;
    o->fault = TSL_SOLAR_FAULT_NONE;
    o->fault_site = 0;
    o->fault_day = 0;
    o->fault_factor = 1.0;
}

/* The share of a healthy site's output that a degraded one delivers on day `day`. */
static double fault_share(const tsl_solar_opts *o, size_t s, size_t day) {
    if (o->fault == TSL_SOLAR_FAULT_NONE || s != o->fault_site || day < o->fault_day) return 1.0;
    if (o->fault == TSL_SOLAR_FAULT_INVERTER) return o->fault_factor;
    double share = pow(o->fault_factor, (double)(day - o->fault_day + 1));
    return share < 0.5 ? 0.5 : share;
}

/* Clear-sky output fraction of capacity at time t (seconds, UTC) at a site. */
static double clear_sky(const tsl_solar_site *s, double t) {
    int64_t ti = (int64_t)floor(t);
    int year, month, day, hour, min, sec;
    tsl_time_civil(ti, &year, &month, &day, &hour, &min, &sec);
    double jan1 = (double)tsl_time_from_civil(year, 1, 1, 0, 0, 0);
    double day_of_year = (t - jan1) / 86400.0 + 1.0;
    double decl = 23.44 * M_PI / 180.0 * sin(2.0 * M_PI * (284.0 + day_of_year) / 365.0);
    double utc_hours = fmod(t - jan1, 86400.0) / 3600.0;
    double solar_hours = utc_hours + s->lon / 15.0;
    double omega = (solar_hours - 12.0) * 15.0 * M_PI / 180.0;
    double lat = s->lat * M_PI / 180.0;
    double sin_elev = sin(lat) * sin(decl) + cos(lat) * cos(decl) * cos(omega);
    return sin_elev > 0 ? pow(sin_elev, 1.15) : 0.0;
}

tsl_err tsl_synth_solar(const tsl_solar_opts *o, tsl_solar_site *sites, double *y, tsl_diag *d) {
    if (o->sites < 1 || o->sites > 64)
        return tsl_diag_set(d, TSL_EINVAL, "sites must be 1..64, got %zu", o->sites);
    if (o->days < 1 || o->days > 3660)
        return tsl_diag_set(d, TSL_EINVAL, "days must be 1..3660, got %zu", o->days);
    if (o->fault != TSL_SOLAR_FAULT_NONE) {
        if (o->fault_site >= o->sites || o->fault_day >= o->days)
            return tsl_diag_set(d, TSL_EINVAL,
                                "the degraded site (%zu) and day (%zu) must be below %zu sites and "
                                "%zu days",
                                o->fault_site, o->fault_day, o->sites, o->days);
        if (!(o->fault_factor > 0.0 && o->fault_factor <= 1.0))
            return tsl_diag_set(d, TSL_EINVAL, "fault factor must be in (0, 1], got %g",
                                o->fault_factor);
    }
    for (size_t s = 0; s < o->sites; s++) {
        sites[s] = known_sites[s % NKNOWN];
        if (s >= NKNOWN) {
            char name[32];
            snprintf(name, sizeof name, "%.20s-%u", known_sites[s % NKNOWN].name,
                     (unsigned)(s / NKNOWN + 1) % 100u);
            tsl_strlcpy(sites[s].name, name, sizeof sites[s].name);
            sites[s].lat += 0.3 * (double)(s / NKNOWN);
            sites[s].capacity_kw *= 0.9;
        }
    }
    /* Day types: 0 clear, 1 broken cloud, 2 overcast. Rows: from, columns: to. */
    static const double trans[3][3] = {{0.70, 0.22, 0.08}, {0.30, 0.45, 0.25}, {0.20, 0.35, 0.45}};
    size_t hours = o->days * 24;
    size_t nregions = NKNOWN;
    int *regional = tsl_calloc(nregions, sizeof *regional);
    int *local = tsl_calloc(o->sites, sizeof *local);
    double *cloud_ar = tsl_calloc(o->sites, sizeof *cloud_ar);
    rng r = {o->seed * 0x2545f4914f6cdd1dULL + 1};
    for (size_t day = 0; day < o->days; day++) {
        for (size_t g = 0; g < nregions; g++) {
            double u = rng_unif(&r), acc = 0;
            int next = 2;
            for (int k = 0; k < 3; k++) {
                acc += trans[regional[g]][k];
                if (u < acc) {
                    next = k;
                    break;
                }
            }
            regional[g] = next;
        }
        for (size_t s = 0; s < o->sites; s++) {
            size_t g = 0;
            for (size_t k = 0; k < NKNOWN; k++)
                if (!strcmp(known_sites[k].region, sites[s].region)) {
                    g = k;
                    break;
                }
            local[s] = rng_unif(&r) < 0.8 ? regional[g] : (int)(rng_unif(&r) * 3.0) % 3;
            /* A day's cloud level within its type. */
            double base = local[s] == 0   ? 0.92 + 0.06 * rng_unif(&r)
                          : local[s] == 1 ? 0.55 + 0.25 * rng_unif(&r)
                                          : 0.12 + 0.2 * rng_unif(&r);
            for (size_t hr = 0; hr < 24; hr++) {
                size_t t = day * 24 + hr;
                double t0 = (double)o->start + 3600.0 * (double)t;
                double cs = 0;
                for (int q = 0; q < 4; q++) cs += clear_sky(&sites[s], t0 + 900.0 * q + 450.0);
                cs /= 4.0;
                double factor = base;
                if (local[s] == 1) {
                    cloud_ar[s] = 0.6 * cloud_ar[s] + 0.25 * rng_norm(&r);
                    factor = base * exp(cloud_ar[s]);
                } else {
                    factor *= 1.0 + 0.03 * rng_norm(&r);
                }
                if (factor > 1.0) factor = 1.0;
                if (factor < 0.03) factor = 0.03;
                double v = cs > 0 ? sites[s].capacity_kw * 0.85 * cs * factor : 0.0;
                v *= fault_share(o, s, day);
                y[s * hours + t] = round(v * 100.0) / 100.0;
            }
        }
    }
    tsl_free(regional);
    tsl_free(local);
    tsl_free(cloud_ar);
    return TSL_OK;
}
