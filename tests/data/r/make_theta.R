# Reference values for tests/unit/test_theta.c: R's forecast::thetaf() for the standard Theta
# method, and an independent implementation of OTM and DOTM (tests/data/r/otm_reference.R).
# Regenerate from the repository root (takes a few minutes: the OTM reference optimises
# slowly on purpose):  Rscript tests/data/r/make_theta.R [DATA_DIR]
# DATA_DIR holds the M1 set (m1_train.csv, m1_meta.csv; default ../shared/data); a sample of
# its series is copied into the fixture, so the tests do not need it.
# (Debian: apt-get install r-cran-forecast; made with R 4.2.2 and forecast 8.20.)
suppressMessages(library(forecast))
source("tests/data/r/otm_reference.R")
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) >= 1) args[1] else "../shared/data"
out <- "tests/data/theta"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

tr <- read.csv(file.path(dir, "m1_train.csv"))
meta <- read.csv(file.path(dir, "m1_meta.csv"))
sp <- split(tr$target, tr$item_id)
set.seed(7)
m1ids <- sample(meta$item_id, 40)
series <- list(
  air = AirPassengers,                       # seasonal, multiplicative
  www = WWWusage,                            # non-seasonal
  uk = UKgas,                                # quarterly, seasonal
  lynx10 = ts(as.numeric(lynx)[1:60], frequency = 10),
  const = ts(rep(5.5, 30), frequency = 4),   # constant: no seasonal test, flat forecast
  n2 = ts(c(10, 12)),                        # thetaf's short-series path (HoltWintersZZ)
  n3 = ts(c(10, 12, 11)),
  n5 = ts(c(10, 12, 11, 14, 13)),
  n6 = ts(c(10, 12, 11, 14, 13, 15), frequency = 2),
  n7 = ts(c(10, 12, 11, 14, 13, 15, 16))     # the first length thetaf sends to ets()
)
for (id in m1ids) {
  i <- which(meta$item_id == id)
  series[[id]] <- ts(sp[[id]], frequency = meta$season_length[i])
}
inputs <- do.call(rbind, lapply(names(series), function(s)
  data.frame(series = s, period = frequency(series[[s]]), t = seq_along(series[[s]]),
             y = fmt(as.numeric(series[[s]])))))
write.csv(inputs, file.path(out, "inputs.csv"), row.names = FALSE, quote = FALSE)

# thetaf: forecasts, 80% and 95% intervals, and the fitted quantities.
h <- 18
rows <- list(); pars <- list()
for (s in names(series)) {
  fc <- thetaf(series[[s]], h = h)
  rows[[length(rows) + 1]] <- data.frame(series = s, step = 1:h, mean = fmt(fc$mean),
    lo80 = fmt(fc$lower[, 1]), hi80 = fmt(fc$upper[, 1]),
    lo95 = fmt(fc$lower[, 2]), hi95 = fmt(fc$upper[, 2]))
  adj <- theta_adjust(series[[s]])
  pars[[length(pars) + 1]] <- data.frame(series = s, alpha = fmt(fc$model$alpha),
    drift = fmt(fc$model$drift), sigma2 = fmt(fc$model$sigma),
    seasonal = as.numeric(adj$type != "none"))
}
write.csv(do.call(rbind, rows), file.path(out, "thetaf.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, pars), file.path(out, "thetaf_pars.csv"), row.names = FALSE,
          quote = FALSE)

# OTM and DOTM from the independent implementation: estimated, and with fixed parameters.
otm_series <- c("air", "www", "uk", "lynx10", m1ids[1:12])
rows <- list(); pars <- list()
for (s in otm_series) for (model in c("otm", "dotm")) {
  y <- series[[s]]
  x1 <- theta_adjust(y)$x[1]
  for (mode in c("estimated", "fixed")) {
    fixed <- if (mode == "fixed") c(x1 * 0.9, 0.35, if (model == "otm") 2.7 else 1.8) else NULL
    fc <- otm_forecast(y, h, dynamic = model == "dotm", pars = fixed)
    rows[[length(rows) + 1]] <- data.frame(series = s, model = model, mode = mode, step = 1:h,
      mean = fmt(fc$mean), q025 = fmt(fc$quant[, 1]), q10 = fmt(fc$quant[, 2]),
      q90 = fmt(fc$quant[, 3]), q975 = fmt(fc$quant[, 4]))
    pars[[length(pars) + 1]] <- data.frame(series = s, model = model, mode = mode,
      ell0 = fmt(fc$pars[1]), alpha = fmt(fc$pars[2]), theta = fmt(fc$pars[3]),
      sse = fmt(fc$sse), sigma2 = fmt(fc$sigma2), type = fc$type)
  }
}
write.csv(do.call(rbind, rows), file.path(out, "otm.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, pars), file.path(out, "otm_pars.csv"), row.names = FALSE, quote = FALSE)
