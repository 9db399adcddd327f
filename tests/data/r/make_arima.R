# Reference values for tests/unit/test_arima.c, from R's stats::arima and the forecast package.
# Regenerate from the repository root:  Rscript tests/data/r/make_arima.R
# (Debian: apt-get install r-cran-forecast; made with forecast 8.20 on R 4.2.2.) Takes about a
# minute. It reads some M1 and M4 series from ../shared/data and writes tests/data/arima/:
#   series.csv   series,period,t,y: the inputs (NA = missing)
#   fits.csv     series,order,constant,what,i,value: forecast::Arima() with the given orders
#                (order "p,d,q,P,D,Q"; constant 1 = include.constant): coef (R's order), mu (the
#                mean or drift, 0 without), loglik, aicc, sigma2 (Arima's), sigma2_exact (the same
#                without the residuals of the first d + mD observations, which R's diffuse prior
#                makes the data divided by 1000), loglik_exact (stats::arima on the differenced
#                series at the same coefficients: the exact likelihood without a diffuse prior;
#                NA with missing values) and the forecast mean, lo80, hi80, lo95, hi95 over h steps
#   auto.csv     series,stepwise,p,d,q,P,D,Q,constant,aicc,loglik,step,mean,lo80,hi80: auto.arima()
#   diffs.csv    series,period,kpss,ndiffs,strength,nsdiffs: the differencing tests
suppressMessages(library(forecast))
out <- "tests/data/arima"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

m1 <- read.csv("../shared/data/m1_train.csv", stringsAsFactors = FALSE)
m1s <- function(id) as.numeric(m1$target[m1$item_id == id])
m4 <- read.csv("../shared/data/m4weekly_train.csv", stringsAsFactors = FALSE)
m4s <- function(id) as.numeric(m4$target[m4$item_id == id])

airgap <- log(as.numeric(AirPassengers))
airgap[c(30, 31, 77, 130)] <- NA
series <- list(
  air = ts(log(as.numeric(AirPassengers)), frequency = 12),  # the airline model
  airgap = ts(airgap, frequency = 12),                        # with missing values
  usacc = ts(as.numeric(USAccDeaths), frequency = 12),
  ukgas = ts(log(as.numeric(UKgas)), frequency = 4),
  www = ts(as.numeric(WWWusage), frequency = 1),              # drift
  lh = ts(as.numeric(lh), frequency = 1),                     # stationary, with mean
  nile = ts(as.numeric(Nile), frequency = 1),
  lynx = ts(log(as.numeric(lynx)), frequency = 1),            # AR(2)-like cycles
  nottem = ts(as.numeric(nottem), frequency = 12),            # stationary seasonal
  yaf6 = ts(m1s("YAF6"), frequency = 1),                      # short yearly
  qnm2 = ts(m1s("QNM2"), frequency = 4),
  mnm30 = ts(m1s("MNM30"), frequency = 12),
  mrg5 = ts(m1s("MRG5"), frequency = 12),
  w200 = ts(m4s("W200")[1:300], frequency = 52),              # weekly (approximation)
  short8 = ts(c(5.1, 6.3, 5.8, 7.2, 7.9, 7.4, 8.8, 9.6), frequency = 1)
)
inputs <- do.call(rbind, lapply(names(series), function(s)
  data.frame(series = s, period = frequency(series[[s]]), t = seq_along(series[[s]]),
             y = fmt(as.numeric(series[[s]])))))
write.csv(inputs, file.path(out, "series.csv"), row.names = FALSE, quote = FALSE)

horizon <- function(y) if (frequency(y) > 1) min(2 * frequency(y), 24) else 10

# Fixed orders: (series, p,d,q,P,D,Q, constant)
fixed <- list(
  list("air", c(0, 1, 1, 0, 1, 1), 0),
  list("air", c(2, 1, 1, 1, 1, 0), 0),
  list("air", c(1, 0, 0, 0, 1, 1), 1),
  list("airgap", c(0, 1, 1, 0, 1, 1), 0),
  list("airgap", c(1, 1, 0, 1, 0, 0), 1),
  list("usacc", c(0, 1, 1, 0, 1, 1), 0),
  list("usacc", c(1, 0, 1, 1, 1, 0), 1),
  list("ukgas", c(1, 0, 0, 0, 1, 1), 1),
  list("ukgas", c(0, 1, 1, 0, 1, 1), 0),
  list("www", c(1, 1, 1, 0, 0, 0), 1),
  list("www", c(3, 1, 0, 0, 0, 0), 0),
  list("www", c(0, 2, 2, 0, 0, 0), 0),
  list("lh", c(1, 0, 0, 0, 0, 0), 1),
  list("lh", c(3, 0, 0, 0, 0, 0), 1),
  list("lh", c(1, 0, 1, 0, 0, 0), 1),
  list("lh", c(0, 0, 2, 0, 0, 0), 0),
  list("nile", c(1, 1, 1, 0, 0, 0), 0),
  list("lynx", c(2, 0, 0, 0, 0, 0), 1),
  list("lynx", c(4, 0, 2, 0, 0, 0), 1),
  list("nottem", c(1, 0, 0, 2, 0, 0), 1),
  list("nottem", c(1, 0, 1, 1, 1, 1), 0),
  list("qnm2", c(0, 1, 1, 0, 1, 1), 0),
  list("mnm30", c(1, 1, 0, 0, 1, 1), 0),
  list("w200", c(1, 0, 1, 0, 0, 0), 1),
  list("w200", c(1, 1, 1, 1, 0, 0), 1)
)
rows <- list()
kv <- function(s, o, cst, what, v) {
  rows[[length(rows) + 1]] <<- data.frame(series = s, order = paste(o, collapse = ";"),
                                          constant = cst, what = what, i = seq_along(v),
                                          value = fmt(as.numeric(v)))
}
for (f in fixed) {
  s <- f[[1]]; o <- f[[2]]; cst <- f[[3]]
  y <- series[[s]]
  fit <- Arima(y, order = o[1:3], seasonal = o[4:6], include.constant = cst == 1)
  k <- sum(o[c(1, 3, 4, 6)])
  co <- fit$coef
  kv(s, o, cst, "coef", if (k > 0) co[1:k] else numeric(0))
  kv(s, o, cst, "mu", if (cst == 1) co[k + 1] else 0)
  kv(s, o, cst, "loglik", fit$loglik)
  kv(s, o, cst, "aicc", fit$aicc)
  kv(s, o, cst, "sigma2", fit$sigma2)
  dd <- o[2] + o[5] * frequency(y)
  npar <- k + cst + 1
  nstar <- sum(!is.na(y)) - dd
  res <- residuals(fit)
  kept <- if (dd > 0) res[-seq_len(dd)] else res
  kv(s, o, cst, "sigma2_exact", sum(kept^2, na.rm = TRUE) / (nstar - npar + 1))
  if (!anyNA(y)) {
    # the exact likelihood: stats::arima on the differenced (and de-drifted) series
    w <- as.numeric(y)
    if (o[2] > 0) w <- diff(w, differences = o[2])
    if (o[5] > 0) w <- diff(w, lag = frequency(y), differences = o[5])
    mu <- if (cst == 1) co[k + 1] * (if (o[5] > 0) frequency(y) else 1) else 0
    g <- stats::arima(ts(w - mu, frequency = frequency(y)), order = c(o[1], 0, o[3]),
                      seasonal = list(order = c(o[4], 0, o[6]), period = frequency(y)),
                      include.mean = FALSE, fixed = if (k > 0) co[1:k] else NULL,
                      transform.pars = FALSE)
    kv(s, o, cst, "loglik_exact", g$loglik)
  } else {
    kv(s, o, cst, "loglik_exact", NA)
  }
  fc <- forecast(fit, h = horizon(y), level = c(80, 95))
  kv(s, o, cst, "mean", fc$mean)
  kv(s, o, cst, "lo80", fc$lower[, 1])
  kv(s, o, cst, "hi80", fc$upper[, 1])
  kv(s, o, cst, "lo95", fc$lower[, 2])
  kv(s, o, cst, "hi95", fc$upper[, 2])
}
write.csv(do.call(rbind, rows), file.path(out, "fits.csv"), row.names = FALSE, quote = FALSE)

auto_rows <- function(s, stepwise) {
  y <- series[[s]]
  fit <- auto.arima(y, stepwise = stepwise)
  o <- arimaorder(fit)
  if (length(o) < 6) o <- c(o, 0, 0, 0)
  fc <- forecast(fit, h = horizon(y), level = 80)
  cst <- any(c("intercept", "drift") %in% names(fit$coef))
  data.frame(series = s, stepwise = as.integer(stepwise), p = o[1], d = o[2], q = o[3], P = o[4],
             D = o[5], Q = o[6], constant = as.integer(cst), aicc = fmt(fit$aicc),
             loglik = fmt(fit$loglik), step = seq_along(fc$mean), mean = fmt(fc$mean),
             lo80 = fmt(fc$lower[, 1]), hi80 = fmt(fc$upper[, 1]))
}
auto <- do.call(rbind, lapply(names(series), function(s) auto_rows(s, TRUE)))
exh <- do.call(rbind, lapply(c("lh", "www", "ukgas", "usacc", "yaf6"), function(s)
  auto_rows(s, FALSE)))
write.csv(rbind(auto, exh), file.path(out, "auto.csv"), row.names = FALSE, quote = FALSE)

# The differencing tests, on the inputs and on random walks and seasonal walks.
set.seed(7)
extra <- list(rw = ts(cumsum(rnorm(120)), frequency = 1),
              rw2 = ts(cumsum(cumsum(rnorm(100))), frequency = 1),
              srw = ts(as.numeric(filter(rnorm(96), c(rep(0, 11), 1), method = "recursive")),
                       frequency = 12),
              noise = ts(rnorm(60), frequency = 4))
allser <- c(series, extra)
ex_inputs <- do.call(rbind, lapply(names(extra), function(s)
  data.frame(series = s, period = frequency(extra[[s]]), t = seq_along(extra[[s]]),
             y = fmt(as.numeric(extra[[s]])))))
write.csv(rbind(inputs, ex_inputs), file.path(out, "series.csv"), row.names = FALSE,
          quote = FALSE)
kpss_stat <- function(x) {
  x <- na.omit(as.numeric(x))
  urca::ur.kpss(x, type = "mu", use.lag = trunc(3 * sqrt(length(x)) / 13))@teststat
}
diffs <- do.call(rbind, lapply(names(allser), function(s) {
  y <- allser[[s]]
  m <- frequency(y)
  data.frame(series = s, period = m, kpss = fmt(kpss_stat(y)), ndiffs = ndiffs(y),
             strength = fmt(if (m > 1 && length(y) > 2 * m) forecast:::seas.heuristic(y) else NA),
             nsdiffs = if (m > 1 && length(y) > 2 * m) nsdiffs(y) else 0)
}))
write.csv(diffs, file.path(out, "diffs.csv"), row.names = FALSE, quote = FALSE)
