# Reference values for tests/unit/test_metrics.c: MAE, RMSE, MAPE and MASE from R's
# forecast::accuracy(), sMAPE by the M4 formula, on a few series and their forecasts.
# Regenerate from the repository root:  Rscript tests/data/r/make_metrics.R
# (Debian: apt-get install r-cran-forecast; made with forecast 8.20 on R 4.2.2.)
suppressMessages(library(forecast))
out <- "tests/data/metrics"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

# name, training series, period, forecast function, horizon
cases <- list(
  list(name = "air", y = as.numeric(AirPassengers)[1:72], period = 12, h = 12,
       fc = function(x, h) snaive(x, h = h)),
  list(name = "www", y = as.numeric(WWWusage)[1:80], period = 1, h = 20,
       fc = function(x, h) rwf(x, h = h, drift = TRUE)),
  list(name = "lynx", y = as.numeric(lynx)[1:100], period = 10, h = 14,
       fc = function(x, h) meanf(x, h = h))
)
points <- list()
metrics <- list()
for (k in cases) {
  full <- ts(k$y, frequency = k$period)
  n <- length(k$y) - k$h
  train <- ts(k$y[1:n], frequency = k$period)
  test <- k$y[(n + 1):(n + k$h)]
  f <- k$fc(train, k$h)
  # d and D spell out the MASE scale (lag-m differences of the training data when m > 1); R
  # would otherwise take them from the frequency of `test`, a plain vector here.
  a <- accuracy(f, test, d = as.numeric(k$period == 1), D = as.numeric(k$period > 1))
  fm <- as.numeric(f$mean)
  smape <- mean(200 * abs(test - fm) / (abs(test) + abs(fm)))
  points[[length(points) + 1]] <- data.frame(series = k$name, period = k$period,
    role = c(rep("train", n), rep("test", k$h)), t = seq_len(n + k$h),
    y = k$y, f = c(rep(NA, n), fm))
  metrics[[length(metrics) + 1]] <- data.frame(series = k$name,
    metric = c("mae", "rmse", "mape", "smape", "mase"),
    value = c(a["Test set", "MAE"], a["Test set", "RMSE"], a["Test set", "MAPE"], smape,
              a["Test set", "MASE"]))
}
write.csv(do.call(rbind, points), file.path(out, "points.csv"), row.names = FALSE,
          quote = FALSE)
write.csv(do.call(rbind, metrics), file.path(out, "accuracy.csv"), row.names = FALSE,
          quote = FALSE)
