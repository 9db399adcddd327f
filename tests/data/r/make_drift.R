# Reference values for tests/unit/test_drift.c: asymptotic Kolmogorov-Smirnov p-values as R's
# ks.test(exact = FALSE) computes them, two-sample (n training, m new values) and one-sample
# (a fully known distribution), over distances that put sqrt(n m / (n + m)) D on both sides of
# 1 (the C code switches between two series there) and far into the tail; and the average run
# lengths of the two-sided tabular CUSUM (k = 0.5, h = 5) by Monte Carlo, in-control and after
# a 1-sigma shift, as an independent check of the numbers docs/monitoring.md quotes.
# Regenerate from the repository root:  Rscript tests/data/r/make_drift.R
# (made with R 4.2.2; RNG: R's default Mersenne-Twister, set.seed below.)
out <- "tests/data/drift"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
set.seed(20261125)
f17 <- function(v) sprintf("%.17g", v)

rows <- list()
add <- function(kind, n, m, ks) {
  rows[[length(rows) + 1]] <<- data.frame(kind = kind, n = n, m = m,
                                          d = f17(unname(ks$statistic)),
                                          p = f17(ks$p.value))
}
# Two-sample: training and new values from normals whose means differ by `shift`.
for (cfg in list(c(200, 30, 0), c(200, 30, 0.3), c(500, 100, 0.2), c(1000, 168, 0.5),
                 c(1000, 168, 0), c(80, 40, 1), c(5000, 24, 0.8), c(300, 300, 0.05),
                 c(50, 50, 2), c(2000, 1000, 0.1))) {
  x <- rnorm(cfg[1]); y <- rnorm(cfg[2], mean = cfg[3])
  add("two", cfg[1], cfg[2], suppressWarnings(ks.test(x, y, exact = FALSE)))
}
# One-sample against the standard normal.
for (cfg in list(c(10, 0), c(30, 0.5), c(100, 0.1), c(1000, 0.05), c(40, 1.5), c(5, 0))) {
  y <- rnorm(cfg[1], mean = cfg[2])
  add("one", 0, cfg[1], ks.test(y, "pnorm", exact = FALSE))
}
write.csv(do.call(rbind, rows), file.path(out, "ks_pvalues.csv"), row.names = FALSE,
          quote = FALSE)

# CUSUM run lengths: standard normal residuals, a shift of `shift` sigma from the first step.
run_length <- function(shift, k = 0.5, h = 5, cap = 100000) {
  hi <- 0; lo <- 0
  for (t in 1:cap) {
    z <- rnorm(1, mean = shift)
    hi <- max(0, hi + z - k); lo <- max(0, lo - z - k)
    if (hi > h || lo > h) return(t)
  }
  cap
}
arl <- data.frame(shift = c(0, 1, 2),
                  trials = c(400, 4000, 4000))
arl$arl <- sapply(seq_len(nrow(arl)), function(i)
  mean(replicate(arl$trials[i], run_length(arl$shift[i]))))
arl$arl <- f17(arl$arl)
write.csv(arl, file.path(out, "cusum_arl.csv"), row.names = FALSE, quote = FALSE)
