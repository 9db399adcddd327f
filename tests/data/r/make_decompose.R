# Reference values for tests/unit/test_decompose.c, from R's stats::decompose() and stats::stl()
# and the seasonality test of forecast::thetaf().
# Regenerate from the repository root:  Rscript tests/data/r/make_decompose.R
# (Debian: apt-get install r-cran-forecast; made with R 4.2.2 and forecast 8.20.)
suppressMessages(library(forecast))
out <- "tests/data/decompose"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

set.seed(20240611)
odd7 <- ts(100 + 0.3 * (1:75) + rep(c(5, -3, 8, 0, -6, 2, -6), length.out = 75) +
           rnorm(75, sd = 2), frequency = 7)
# Missing values: R's decompose() and stl() refuse interior NAs, tsloop fills them by linear
# interpolation, so the reference is R on the interpolated series with NA remainders at the gaps.
# decompose() does take leading and trailing NAs, and so does tsloop (classical only).
gaps <- c(30, 31, 77)
air_gap <- AirPassengers
air_gap[gaps] <- NA
air_fill <- ts(approx(seq_along(air_gap), air_gap, xout = seq_along(air_gap))$y,
               start = start(air_gap), frequency = 12)
air_edge <- AirPassengers
air_edge[c(1, 2, 3, 143, 144)] <- NA
series <- list(
  air = AirPassengers,                               # multiplicative monthly, n = 144
  nottem = nottem,                                   # additive monthly temperatures, n = 240
  co2 = co2,                                         # long (468), strong trend
  uk = UKgas,                                        # quarterly
  odd7 = odd7,                                       # odd period
  short = ts(as.numeric(AirPassengers)[1:27], frequency = 12),  # just over two seasons
  airgap = air_gap,                                  # interior gaps
  airedge = air_edge                                 # leading and trailing NAs (classical)
)
reference <- function(s) if (s == "airgap") air_fill else series[[s]]
gap_na <- function(s, r) { if (s == "airgap") r[gaps] <- NA; r }
inputs <- do.call(rbind, lapply(names(series), function(s)
  data.frame(series = s, period = frequency(series[[s]]), t = seq_along(series[[s]]),
             y = fmt(as.numeric(series[[s]])))))
write.csv(inputs, file.path(out, "inputs.csv"), row.names = FALSE, quote = FALSE)

# Classical decomposition, both types.
rows <- list(); figs <- list()
for (s in names(series)) for (type in c("additive", "multiplicative")) {
  dc <- decompose(reference(s), type = type)
  rows[[length(rows) + 1]] <- data.frame(series = s, type = type, t = seq_along(dc$x),
    trend = fmt(as.numeric(dc$trend)), seasonal = fmt(as.numeric(dc$seasonal)),
    remainder = fmt(gap_na(s, as.numeric(dc$random))))
  figs[[length(figs) + 1]] <- data.frame(series = s, type = type, j = seq_along(dc$figure),
    figure = fmt(dc$figure))
}
write.csv(do.call(rbind, rows), file.path(out, "classical.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, figs), file.path(out, "figure.csv"), row.names = FALSE, quote = FALSE)

# STL in several configurations.
variants <- list(
  periodic = list(s.window = "periodic"),
  periodic_robust = list(s.window = "periodic", robust = TRUE),
  sw7 = list(s.window = 7),
  sw7_robust = list(s.window = 7, robust = TRUE),
  sw11_deg1 = list(s.window = 11, s.degree = 1, t.window = 15, l.window = 13),
  sw9_jump1 = list(s.window = 9, s.jump = 1, t.jump = 1, l.jump = 1),
  sw8_inner3 = list(s.window = 8, inner = 3, outer = 2, t.degree = 0)
)
rows <- list()
for (s in setdiff(names(series), "airedge")) for (v in names(variants)) {
  if (s == "co2" && !(v %in% c("periodic", "sw7_robust"))) next  # keeps the fixture small
  fit <- do.call(stl, c(list(reference(s)), variants[[v]]))
  ts3 <- fit$time.series
  rows[[length(rows) + 1]] <- data.frame(series = s, variant = v, t = seq_len(nrow(ts3)),
    seasonal = fmt(ts3[, "seasonal"]), trend = fmt(ts3[, "trend"]),
    remainder = fmt(gap_na(s, as.numeric(ts3[, "remainder"]))), weights = fmt(fit$weights))
}
write.csv(do.call(rbind, rows), file.path(out, "stl.csv"), row.names = FALSE, quote = FALSE)

# The seasonality decision of thetaf() (its code, verbatim in logic), with the statistic.
seas_test <- function(x) {
  n <- length(x); m <- frequency(x)
  if (m > 1 && !is.constant(x) && n > 2 * m) {
    r <- as.numeric(acf(x, lag.max = m, plot = FALSE)$acf)[-1]
    stat <- sqrt((1 + 2 * sum(r[-m]^2)) / n)
    c(stat = abs(r[m]) / stat, seasonal = as.numeric(abs(r[m]) / stat > qnorm(0.95)))
  } else c(stat = NA, seasonal = 0)
}
tests <- do.call(rbind, lapply(setdiff(names(series), c("airgap", "airedge")), function(s) {
  r <- seas_test(series[[s]])
  data.frame(series = s, stat = fmt(r[["stat"]]), seasonal = r[["seasonal"]])
}))
write.csv(tests, file.path(out, "seastest.csv"), row.names = FALSE, quote = FALSE)

# Strength of seasonality and trend (Wang, Smith & Hyndman 2006) on the STL and classical
# additive decompositions, as feasts computes them: max(0, 1 - var(R) / var(S + R)).
strength <- function(tr, se, re) {
  ok <- !is.na(tr) & !is.na(se) & !is.na(re)
  c(fs = max(0, 1 - var(re[ok]) / var(se[ok] + re[ok])),
    ft = max(0, 1 - var(re[ok]) / var(tr[ok] + re[ok])))
}
st <- do.call(rbind, lapply(setdiff(names(series), c("airgap", "airedge")), function(s) {
  fit <- stl(series[[s]], s.window = "periodic")$time.series
  a <- strength(fit[, "trend"], fit[, "seasonal"], fit[, "remainder"])
  dm <- decompose(series[[s]], type = "multiplicative")
  b <- strength(log(dm$trend), log(dm$seasonal), log(dm$random))
  data.frame(series = s, stl_fs = fmt(a[["fs"]]), stl_ft = fmt(a[["ft"]]),
             mult_fs = fmt(b[["fs"]]), mult_ft = fmt(b[["ft"]]))
}))
write.csv(st, file.path(out, "strength.csv"), row.names = FALSE, quote = FALSE)
