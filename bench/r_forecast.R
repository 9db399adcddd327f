# R's forecast package on the same series as tsloop, for bench/run.sh.
# usage: Rscript r_forecast.R TRAIN.csv META.csv METHOD OUT.csv
#   METHOD: ets | thetaf | arima | comb (the equal-weight mean of ets, arima and thetaf)
# Writes item_id,step,mean,p10,p90 (80% interval) and prints "seconds=<fit+forecast time>".
# Single-threaded: run with OPENBLAS_NUM_THREADS=1 (bench/run.sh does).
suppressMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
train <- read.csv(args[1], stringsAsFactors = FALSE)
meta <- read.csv(args[2], stringsAsFactors = FALSE)
method <- args[3]
out <- args[4]
series <- split(train$target, factor(train$item_id, levels = unique(train$item_id)))
meta <- meta[meta$item_id %in% names(series), ]

fit_one <- function(y, h, m) {
  x <- ts(y, frequency = m)
  f <- switch(method,
    ets = forecast(ets(x), h = h, level = 80),
    thetaf = thetaf(x, h = h, level = 80),
    arima = forecast(auto.arima(x), h = h, level = 80),
    comb = {
      a <- forecast(ets(x), h = h, level = 80)
      b <- forecast(auto.arima(x), h = h, level = 80)
      c <- thetaf(x, h = h, level = 80)
      list(mean = (a$mean + b$mean + c$mean) / 3,
           lower = (a$lower + b$lower + c$lower) / 3,
           upper = (a$upper + b$upper + c$upper) / 3)
    },
    stop("unknown method ", method))
  data.frame(step = 1:h, mean = as.numeric(f$mean), p10 = as.numeric(f$lower),
             p90 = as.numeric(f$upper))
}

rows <- vector("list", nrow(meta))
elapsed <- 0
for (i in seq_len(nrow(meta))) {
  id <- meta$item_id[i]
  y <- series[[id]]
  t0 <- proc.time()[["elapsed"]]
  r <- tryCatch(fit_one(y, meta$h[i], meta$season_length[i]), error = function(e) {
    # As the M4 benchmarks do when a method fails: the naive forecast.
    data.frame(step = 1:meta$h[i], mean = tail(y, 1), p10 = tail(y, 1), p90 = tail(y, 1))
  })
  elapsed <- elapsed + proc.time()[["elapsed"]] - t0
  r$item_id <- id
  rows[[i]] <- r
}
res <- do.call(rbind, rows)[, c("item_id", "step", "mean", "p10", "p90")]
write.csv(res, out, row.names = FALSE, quote = FALSE)
cat(sprintf("seconds=%.3f\n", elapsed))
