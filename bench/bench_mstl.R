# R's side of bench/bench_mstl.c: forecast(mstl(msts(y, c(24, 168))), h = 168) with its default
# ETS base (as stlf()), on the 20 GEFCom2012 load zones, from the end of the training data.
#   Rscript bench/bench_mstl.R [DATA_DIR]     (default ../shared/data; R 4.2.2, forecast 8.20)
# Prints, per zone and in total, the mstl() and ETS times and the MAE, sMAPE, MASE (in-sample
# seasonal naive at lag 24) and p10-p90 coverage on the test week, as bench_mstl prints them.
suppressMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) > 0) args[1] else "../shared/data"
tr <- read.csv(gzfile(file.path(dir, "gefload_train.csv.gz")))
te <- read.csv(gzfile(file.path(dir, "gefload_test.csv.gz")))
h <- 168
res <- data.frame()
for (id in unique(tr$item_id)) {
  y <- tr$target[tr$item_id == id]
  a <- te$target[te$item_id == id][1:h]
  t0 <- proc.time()[["elapsed"]]
  fit <- mstl(msts(y, seasonal.periods = c(24, 168)))
  t1 <- proc.time()[["elapsed"]]
  fc <- forecast(fit, h = h, level = 80)
  t2 <- proc.time()[["elapsed"]]
  f <- as.numeric(fc$mean)
  scale <- mean(abs(diff(y, lag = 24)), na.rm = TRUE)
  res <- rbind(res, data.frame(id = id, method = fc$method, mstl_s = t1 - t0, base_s = t2 - t1,
    mae = mean(abs(a - f)), smape = mean(200 * abs(a - f) / (abs(a) + abs(f))),
    mase = mean(abs(a - f)) / scale, cover = mean(a >= fc$lower & a <= fc$upper)))
}
print(res, digits = 4)
cat(sprintf("R mstl+ets: %d series, %.3f s per fit (mstl %.3f, ETS %.3f), MAE %.1f, sMAPE %.3f, MASE %.3f, cover %.3f\n",
            nrow(res), mean(res$mstl_s + res$base_s), mean(res$mstl_s), mean(res$base_s),
            mean(res$mae), mean(res$smape), mean(res$mase), mean(res$cover)))
