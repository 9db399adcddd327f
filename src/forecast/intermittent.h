/*
 * intermittent.h - what croston.c offers beyond the model interface: the demand classification
 * AutoML uses to decide when the intermittent-demand models are worth trying, and fitting
 * Croston, SBA or TSB with given smoothing constants (the default fit chooses them itself).
 *
 * Classification (Syntetos, Boylan & Croston, JORS 56, 2005): ADI is the average interval
 * between demands, CV2 the squared coefficient of variation of the non-zero demand sizes; the
 * cut-offs 1.32 and 0.49 split series into smooth, erratic, intermittent and lumpy. Both are
 * computed over the observed values only (NaN is skipped, as the models skip it).
 */
#ifndef TSLOOP_INTERMITTENT_H
#define TSLOOP_INTERMITTENT_H

#include <stddef.h>

#include "tsloop/err.h"
#include "tsloop/model.h"

#define TSL_ADI_CUTOFF 1.32
#define TSL_CV2_CUTOFF 0.49

typedef enum tsl_demand_class {
    TSL_DEMAND_UNDEFINED = 0, /* no observed value, or a negative one: not a demand series */
    TSL_DEMAND_ZERO,          /* observed values all zero */
    TSL_DEMAND_SMOOTH,        /* ADI <= 1.32, CV2 <= 0.49 */
    TSL_DEMAND_ERRATIC,       /* ADI <= 1.32, CV2 >  0.49 */
    TSL_DEMAND_INTERMITTENT,  /* ADI >  1.32, CV2 <= 0.49 */
    TSL_DEMAND_LUMPY          /* ADI >  1.32, CV2 >  0.49 */
} tsl_demand_class;

typedef struct tsl_intermittency {
    size_t observed;   /* values that are not NaN */
    size_t zeros;      /* observed values equal to 0 */
    size_t demands;    /* observed values > 0 */
    size_t negatives;  /* observed values < 0 (any makes the class UNDEFINED) */
    double zero_share; /* zeros / observed; NaN when nothing was observed */
    /* observed / demands: the mean number of periods per demand, counting the periods before
     * the first demand and after the last; +inf without demand, NaN without observations. */
    double adi;
    /* sample variance / mean^2 of the demand sizes (n - 1 denominator); 0 with fewer than two
     * demands, where no variation was seen; NaN without demand. */
    double cv2;
    tsl_demand_class cls;
    /* 1 when the intermittent-demand models should be among AutoML's candidates: the class is
     * intermittent, lumpy or all-zero (ADI > 1.32 means at least ~24% of periods are zero,
     * where Syntetos & Boylan found the Croston family more accurate than smoothing). */
    int consider;
} tsl_intermittency;

/* Classifies y[0..n) (NaN = missing). Never fails: a series that is not a demand series gets
 * the class TSL_DEMAND_UNDEFINED and consider = 0. */
void tsl_intermittent_classify(const double *y, size_t n, tsl_intermittency *out);

/* Lower-case name of a class ("lumpy"), or "unknown". */
const char *tsl_demand_class_name(tsl_demand_class cls);

/* Smoothing constants and initial levels of a Croston-family model. An initial level of NaN
 * means R's forecast::croston() initialisation: the first demand and its position. */
typedef struct tsl_intermittent_params {
    double alpha_size; /* demand sizes, in (0, 1] */
    /* Croston and SBA: the intervals between demands; TSB: the probability of a demand in a
     * period. In (0, 1]. */
    double alpha_rate;
    double init_size; /* size level the first demand updates; NaN or > 0 */
    /* Croston and SBA: interval level the first demand's interval updates, NaN or > 0; TSB:
     * the probability of demand just after the first demand, NaN (1 / its position) or in
     * (0, 1]. */
    double init_rate;
} tsl_intermittent_params;

/* Fits spec (kind TSL_MODEL_CROSTON, SBA or TSB) on y[0..n) as tsl_model_fit does, but with
 * the parameters p instead of choosing them. With both constants at 0.1 and NaN initial levels,
 * Croston reproduces R's forecast::croston(). Fails with TSL_EINVAL for another kind or a
 * parameter out of range. */
tsl_err tsl_intermittent_fit(const tsl_model_spec *spec, const tsl_intermittent_params *p,
                             const double *y, size_t n, tsl_model **out, tsl_diag *d);

/* The parameters of a fitted Croston, SBA or TSB model. Fails with TSL_EINVAL for another
 * kind of model. */
tsl_err tsl_intermittent_params_of(const tsl_model *m, tsl_intermittent_params *out, tsl_diag *d);

#endif
