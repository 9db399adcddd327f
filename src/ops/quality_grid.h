/*
 * quality_grid.h - the grid arithmetic of the data-quality checks (internal), shared by the
 * checks of a whole data set before training (quality.c) and the checks of newly arrived data
 * (quality_arrival.c), so that "off the grid" and "steps missing" mean the same in both.
 */
#ifndef TSLOOP_OPS_QUALITY_GRID_H
#define TSLOOP_OPS_QUALITY_GRID_H

#include <stdint.h>

#include "tsloop/time.h"

/* The phase of a grid of f through t: two timestamps lie on one grid of f exactly when their
 * phases are equal (fixed units: t modulo the step; calendar units: the month within the step,
 * the day unless anchored, and the time of day). f must be valid. */
int64_t tsl_quality_grid_phase(tsl_freq f, int64_t t);

/* Whole steps of f from a to b (a <= b), or an estimate from the step's nominal length when b
 * is not on a's grid. f must be valid. */
int64_t tsl_quality_steps_between(tsl_freq f, int64_t a, int64_t b);

#endif
