# Reference values for tests/unit/test_baseline.c: the data baseline (counts, mean, sd, range,
# shares, type-7 deciles, bucket counts, the day-of-week profile) of a small daily data set,
# and the drift statistics of new samples against it (PSI over the baseline's buckets, the
# Kolmogorov-Smirnov distance to the decile sketch, the Wasserstein distance to the sketch and
# Evidently's normalisation of it). Base R only; the sketch's distribution function is written
# here in the x domain, independently of the C code's quantile-domain integral, and the KS
# distance is both found by brute force and, for series whose deciles are distinct, taken from
# R's own ks.test().
# Regenerate from the repository root:  Rscript tests/data/r/make_baseline.R
# (made with R 4.2.2; RNG: R's default Mersenne-Twister, set.seed below.)
out <- "tests/data/baseline"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
set.seed(20240601)
f17 <- function(v) ifelse(is.na(v), "NA", sprintf("%.17g", v))

# The data set: daily, the grid of each series from its first to its last date.
day0 <- as.Date("2024-01-01") # a Monday
mk <- function(start, y) list(dates = start + seq_along(y) - 1, y = y)
a <- 50 + rep(c(5, 3, 0, -1, -2, 8, 12), length.out = 120) + rnorm(120, sd = 4)
a[c(10, 33, 34, 35, 80)] <- NA
b <- rpois(90, 0.7)
b[c(5, 60)] <- NA
cc <- rlnorm(60, meanlog = 2, sdlog = 0.5)
series <- list(a = mk(day0, a), b = mk(day0 + 7, b), c = mk(day0 + 2, cc),
               d = mk(day0 + 5, rep(NA_real_, 10)))
# Rows left out of the file (gaps the reader fills with missing values) and rows written NA.
absent <- list(a = c(34, 35), b = integer(0), c = integer(0), d = integer(0))
rows <- list()
for (nm in names(series)) {
  s <- series[[nm]]
  keep <- setdiff(seq_along(s$y), absent[[nm]])
  rows[[nm]] <- data.frame(item_id = nm, timestamp = format(s$dates[keep]),
                           target_value = f17(s$y[keep]))
}
write.csv(do.call(rbind, rows), file.path(out, "input.csv"), row.names = FALSE, quote = FALSE)

period <- 7
pos_of <- function(dates) (as.POSIXlt(dates)$wday + 6) %% 7 # 0 = Monday
deciles <- function(x) quantile(x, seq(0, 1, 0.1), type = 7, names = FALSE)
bucket_counts <- function(x, q) {
  le <- sapply(q[2:10], function(e) sum(x <= e))
  diff(c(0, le, length(x)))
}
profile <- function(y, dates) {
  ok <- !is.na(y)
  p <- rep(NA_real_, period)
  if (!any(ok)) return(p)
  m <- tapply(y[ok], factor(pos_of(dates[ok]), levels = 0:(period - 1)), mean)
  s <- if (sum(ok) >= 2) sd(y[ok]) else NA
  mbar <- mean(m, na.rm = TRUE)
  p <- if (is.na(s) || s == 0) ifelse(is.na(m), NA, 0) else (m - mbar) / s
  as.numeric(p)
}
stat_rows <- function(name, y, prof) {
  x <- y[!is.na(y)]
  n <- length(y)
  cnt <- length(x)
  q <- if (cnt) deciles(x) else rep(NA_real_, 11)
  bk <- if (cnt) bucket_counts(x, q) else rep(0, 10)
  v <- c(n = n, count = cnt, zeros = sum(x == 0), mean = if (cnt) mean(x) else NA,
         sd = if (cnt >= 2) sd(x) else NA, min = if (cnt) min(x) else NA,
         max = if (cnt) max(x) else NA, missing_share = (n - cnt) / n,
         zero_share = if (cnt) sum(x == 0) / cnt else NA)
  v <- c(v, setNames(q, paste0("d", 0:10)), setNames(bk, paste0("b", 0:9)),
         setNames(prof, paste0("p", 0:(period - 1))))
  data.frame(series = name, stat = names(v), value = f17(v))
}
stats <- list()
profiles <- list()
for (nm in names(series)) {
  s <- series[[nm]]
  profiles[[nm]] <- profile(s$y, s$dates)
  stats[[nm]] <- stat_rows(nm, s$y, profiles[[nm]])
}
pooled <- unlist(lapply(series, function(s) s$y))
overall_prof <- rowMeans(do.call(cbind, profiles), na.rm = TRUE)
overall_prof[is.nan(overall_prof)] <- NA
stats[["overall"]] <- stat_rows("overall", pooled, overall_prof)
write.csv(do.call(rbind, stats), file.path(out, "stats.csv"), row.names = FALSE, quote = FALSE)

# New samples and the drift statistics against each series' baseline.
new <- list(a = 55 + rnorm(40, sd = 5), b = rpois(50, 1.2), c = rlnorm(35, 2.3, 0.5))
sketch_cdf <- function(q, v, left = FALSE) {
  sapply(v, function(x) {
    if (if (left) x <= q[1] else x < q[1]) return(0)
    if (if (left) x > q[11] else x >= q[11]) return(1)
    k <- if (left) max(which(q < x)) else max(which(q <= x)) # 1-based decile index
    (k - 1 + (x - q[k]) / (q[k + 1] - q[k])) / 10
  })
}
drift <- list()
newrows <- list()
for (nm in names(new)) {
  s <- series[[nm]]
  x <- s$y[!is.na(s$y)]
  q <- deciles(x)
  y <- new[[nm]]
  newrows[[nm]] <- data.frame(series = nm, y = f17(y))
  pb <- bucket_counts(x, q) / length(x)
  pn <- bucket_counts(y, q) / length(y)
  pb[pb == 0] <- 1e-4
  pn[pn == 0] <- 1e-4
  psi <- sum((pn - pb) * log(pn / pb))
  # KS by brute force: the gap at every sample point and decile, on both sides.
  Fn <- ecdf(y)
  eps <- 1e-9 * max(abs(c(q, y)))
  pts <- sort(unique(c(y, q)))
  ks <- max(abs(Fn(pts) - sketch_cdf(q, pts)), abs(Fn(pts - eps) - sketch_cdf(q, pts, TRUE)))
  ks_r <- NA
  if (!any(duplicated(q))) {
    Fs <- approxfun(q, seq(0, 1, 0.1), yleft = 0, yright = 1)
    ks_r <- suppressWarnings(ks.test(y, Fs)$statistic)
  }
  # Wasserstein in the x domain: on each interval between consecutive breakpoints the
  # empirical function is constant and the sketch linear; integrate |difference| exactly.
  w <- 0
  for (i in seq_len(length(pts) - 1)) {
    lo <- pts[i]; hi <- pts[i + 1]
    c0 <- Fn(lo)
    a0 <- c0 - sketch_cdf(q, lo); a1 <- c0 - sketch_cdf(q, hi, TRUE)
    w <- w + if (a0 * a1 >= 0) (hi - lo) * abs(a0 + a1) / 2 else
      (hi - lo) * (a0^2 + a1^2) / (2 * (abs(a0) + abs(a1)))
  }
  sd_pop <- sqrt(mean((x - mean(x))^2))
  drift[[nm]] <- data.frame(series = nm, psi = f17(psi), ks = f17(ks), ks_r = f17(ks_r),
                            wasserstein = f17(w), wasserstein_norm = f17(w / max(sd_pop, 0.001)))
}
write.csv(do.call(rbind, newrows), file.path(out, "new.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, drift), file.path(out, "drift.csv"), row.names = FALSE, quote = FALSE)
