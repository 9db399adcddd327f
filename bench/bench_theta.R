# Times R's forecast::thetaf() on the M1 series, as build/bench/bench_theta times tsloop's
# Theta, and compares the two sets of forecasts when given tsloop's output.
#
#   build/bench/bench_theta --out /tmp/theta_tsl.csv
#   Rscript bench/bench_theta.R [/tmp/theta_tsl.csv] [DATA_DIR]
#
# R is single-threaded here (no BLAS in thetaf's path). Made with R 4.2.2, forecast 8.20.
suppressMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
ours <- if (length(args) >= 1) args[1] else NA
dir <- if (length(args) >= 2) args[2] else Sys.getenv("TSL_SHARED_DATA", "../shared/data")
tr <- read.csv(file.path(dir, "m1_train.csv"))
meta <- read.csv(file.path(dir, "m1_meta.csv"))
sp <- split(tr$target, tr$item_id)
ys <- lapply(seq_len(nrow(meta)), function(i)
  ts(sp[[meta$item_id[i]]], frequency = meta$season_length[i]))
best <- Inf
for (r in 1:3) {
  t0 <- proc.time()[["elapsed"]]
  fc <- lapply(seq_along(ys), function(i) thetaf(ys[[i]], h = meta$h[i]))
  best <- min(best, proc.time()[["elapsed"]] - t0)
}
cat(sprintf("thetaf: %d series, best of 3: %.1f ms total, %.0f us per series\n",
            length(ys), 1e3 * best, 1e6 * best / length(ys)))
if (!is.na(ours)) {
  o <- read.csv(ours)
  rel <- function(a, b) abs(a - b) / pmax(abs(b), 1e-8)
  worst <- do.call(rbind, lapply(seq_along(ys), function(i) {
    f <- fc[[i]]; oi <- o[o$item_id == meta$item_id[i], ]
    clamp <- function(v) if (min(ys[[i]]) >= 0) pmax(0, v) else v
    data.frame(item_id = meta$item_id[i],
               mean = max(rel(oi$mean, clamp(as.numeric(f$mean)))),
               lo95 = max(rel(oi$lo95, clamp(as.numeric(f$lower[, 2])))),
               hi95 = max(rel(oi$hi95, clamp(as.numeric(f$upper[, 2])))))
  }))
  worst$any <- pmax(worst$mean, worst$lo95, worst$hi95)
  cat("largest relative difference per series, quantiles over the series:\n")
  print(quantile(worst$any, c(0.5, 0.9, 0.99, 1)))
  for (tol in c(1e-12, 1e-9, 1e-6, 1e-3))
    cat(sprintf("  within %g: %d of %d\n", tol, sum(worst$any <= tol), nrow(worst)))
  print(head(worst[order(-worst$any), ], 10))
}
