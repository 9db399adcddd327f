# Times R forecast's automatic ets() on every M1 series, single-threaded, for comparison with
# bench_ets.c (our automatic ETS on the same series). Writes one row per series: the chosen
# form ("MAdN"), its log-likelihood and AICc, the fit time and the point forecasts over the
# competition horizon (';'-separated).
#   Rscript bench/bench_ets.R [DATA_DIR] [OUT_CSV]
# DATA_DIR defaults to ../shared/data (m1_train.csv, m1_meta.csv); OUT_CSV to
# build/bench/ets_r.csv. Made with forecast 8.20 on R 4.2 (Debian r-cran-forecast).
suppressMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) >= 1) args[1] else "../shared/data"
out <- if (length(args) >= 2) args[2] else "build/bench/ets_r.csv"
train <- read.csv(file.path(dir, "m1_train.csv"), stringsAsFactors = FALSE)
meta <- read.csv(file.path(dir, "m1_meta.csv"), stringsAsFactors = FALSE)
by_id <- split(train$target, train$item_id)
rows <- vector("list", nrow(meta))
total <- 0
for (i in seq_len(nrow(meta))) {
  id <- meta$item_id[i]
  y <- ts(by_id[[id]], frequency = meta$season_length[i])
  t0 <- proc.time()[["elapsed"]]
  fit <- ets(y)
  dt <- proc.time()[["elapsed"]] - t0
  total <- total + dt
  fc <- forecast(fit, h = meta$h[i], level = c(80, 95), PI = FALSE)
  rows[[i]] <- data.frame(item_id = id, form = gsub("ETS|[(),]", "", fit$method),
                          loglik = if (is.null(fit$loglik)) NA else fit$loglik,
                          aicc = if (is.null(fit$aicc)) NA else fit$aicc,
                          seconds = dt,
                          mean = paste(format(as.numeric(fc$mean), digits = 15), collapse = ";"))
}
res <- do.call(rbind, rows)
dir.create(dirname(out), showWarnings = FALSE, recursive = TRUE)
write.csv(res, out, row.names = FALSE, quote = FALSE)
cat(sprintf("R ets(): %d series in %.2f s (%.2f ms per series)\n", nrow(meta), total,
            1000 * total / nrow(meta)))
