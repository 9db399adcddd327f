# Times R forecast's auto.arima() on every series of a benchmark set, single-threaded, for
# comparison with bench_arima.c (tsloop's automatic ARIMA on the same series). Writes one row per
# series: the chosen orders and constant, AICc and log-likelihood, the fit's CPU time (user +
# system, as bench_arima.c measures its own), and the point
# forecasts and 80% limits (the p10 and p90 quantiles) over the competition horizon, each
# ';'-separated. Rows are appended as series finish, so a partial file is usable.
#   Rscript bench/bench_arima.R [DATA_DIR] [SET] [OUT_CSV]
# DATA_DIR defaults to ../shared/data, SET to m1 (SET_train.csv and SET_meta.csv are read; m1 or
# m4weekly), OUT_CSV to build/bench/arima_r_SET.csv. BENCH_ONLY=PERIOD in the environment keeps
# the series of that seasonal period only; BENCH_SHARD=K/N runs one of N shards (BENCH_RESUME,
# BENCH_DONE and BENCH_REVERSE below let shards resume and help each other). Made with forecast 8.20 on R 4.2.2 (Debian
# r-cran-forecast); all of M4-weekly takes R about seven hours of one core (72 s per series on
# average for the first ones, the longest).
suppressMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args) >= 1) args[1] else "../shared/data"
set <- if (length(args) >= 2) args[2] else "m1"
out <- if (length(args) >= 3) args[3] else sprintf("build/bench/arima_r_%s.csv", set)
train <- read.csv(file.path(dir, paste0(set, "_train.csv")), stringsAsFactors = FALSE)
meta <- read.csv(file.path(dir, paste0(set, "_meta.csv")), stringsAsFactors = FALSE)
only <- as.integer(Sys.getenv("BENCH_ONLY", "0"))
if (only > 0) meta <- meta[meta$season_length == only, ]
# BENCH_SHARD=K/N keeps every N-th series starting at the K-th (1-based), so that N processes
# can share a long run; concatenate their files (one header) afterwards.
shard <- Sys.getenv("BENCH_SHARD", "")
if (nzchar(shard)) {
  kn <- as.integer(strsplit(shard, "/", fixed = TRUE)[[1]])
  meta <- meta[seq(kn[1], nrow(meta), by = kn[2]), ]
}
by_id <- split(train$target, train$item_id)
fmt <- function(v) paste(format(as.numeric(v), digits = 15), collapse = ";")
# One row per series, appended as it is done, so that a long run can be read before it ends.
dir.create(dirname(out), showWarnings = FALSE, recursive = TRUE)
# BENCH_RESUME=1 keeps the rows of an earlier, interrupted run of the same command and does
# only the series it lacks: all of M4-weekly is about seven hours of one core for R.
done_ids <- character(0)
if (Sys.getenv("BENCH_RESUME", "") == "1" && file.exists(out)) {
  done_ids <- read.csv(out, stringsAsFactors = FALSE)$item_id
} else {
  cat("item_id,p,d,q,P,D,Q,constant,aicc,loglik,seconds,mean,lo80,hi80\n", file = out)
}
# BENCH_DONE=F1,F2,... also skips the series already in those files (another shard's output),
# and BENCH_REVERSE=1 takes the series last first: a core that finished its own shard can then
# work through a slower shard from its other end without repeating it.
# The other files are read again before each series, as their process goes on too.
done_files <- Filter(nzchar, strsplit(Sys.getenv("BENCH_DONE", ""), ",", fixed = TRUE)[[1]])
done_elsewhere <- function() {
  ids <- character(0)
  for (f in done_files) {
    # The file may be mid-append: a torn last line only costs that series being done twice.
    got <- tryCatch(read.csv(f, stringsAsFactors = FALSE)$item_id, error = function(e) NULL)
    ids <- c(ids, got)
  }
  ids
}
meta <- meta[!(meta$item_id %in% c(done_ids, done_elsewhere())), ]
if (Sys.getenv("BENCH_REVERSE", "") == "1") meta <- meta[rev(seq_len(nrow(meta))), ]
total <- 0
n_done <- 0
for (i in seq_len(nrow(meta))) {
  id <- meta$item_id[i]
  if (length(done_files) && id %in% done_elsewhere()) next
  y <- ts(by_id[[id]], frequency = meta$season_length[i])
  t0 <- proc.time()
  fit <- auto.arima(y)
  dt <- sum((proc.time() - t0)[c("user.self", "sys.self")])
  total <- total + dt
  n_done <- n_done + 1
  fc <- forecast(fit, h = meta$h[i], level = 80)
  o <- arimaorder(fit)
  if (length(o) < 6) o <- c(o, 0, 0, 0)
  constant <- any(c("intercept", "drift") %in% names(fit$coef))
  cat(paste(id, o[1], o[2], o[3], o[4], o[5], o[6], as.integer(constant),
            if (is.null(fit$aicc)) NA else fit$aicc, if (is.null(fit$loglik)) NA else fit$loglik,
            dt, fmt(fc$mean), fmt(fc$lower[, 1]), fmt(fc$upper[, 1]), sep = ","), "\n",
      file = out, append = TRUE, sep = "")
}
cat(sprintf("R auto.arima(): %s, %d series in %.2f s (%.2f ms per series)\n", set, n_done,
            total, 1000 * total / max(n_done, 1)))
