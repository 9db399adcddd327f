# Reference values for tests/unit/test_croston.c.
# Regenerate from the repository root:  Rscript tests/data/r/make_croston.R
# (Debian: apt-get install r-cran-forecast; made with forecast 8.20 on R 4.2.2.)
#
# Croston: forecast::croston() with its default alpha = 0.1 (forecasts and its fitted values,
# which are the one-step forecasts from every prefix). SBA: Croston's forecast times
# 1 - 0.1/2, as Syntetos & Boylan (2005) correct it. TSB (Teunter, Syntetos & Babai 2011):
# written out below, independently of tsloop's C, with tsloop's initialisation (at the first
# demand the size is that demand and the probability 1 / its position). Chosen parameters: each
# smoother's constant and initial level by least squares of its in-sample one-step errors
# (below). Classification: ADI = observed / demands, CV2 = var(sizes) / mean(sizes)^2.
suppressMessages(library(forecast))
out <- "tests/data/croston"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

set.seed(20240611)
series <- list(
  # demand in about a third of the periods, Poisson sizes
  sparse = rbinom(60, 1, 0.35) * (rpois(60, 3) + 1),
  # a run of zeros first, then sparse demand
  leading = c(rep(0, 7), rbinom(45, 1, 0.25) * (rpois(45, 6) + 1)),
  # rare and very variable sizes
  lumpy = rbinom(90, 1, 0.2) * round(rlnorm(90, 2, 1)),
  # demand in every period: Croston is then simple exponential smoothing
  dense = rpois(30, 8) + 1,
  # one demand only: R forecasts that demand over its position
  single = c(0, 0, 0, 4, 0, 0),
  # two values
  short = c(3, 0)
)
inputs <- do.call(rbind, lapply(names(series), function(s)
  data.frame(series = s, t = seq_along(series[[s]]), y = series[[s]])))
write.csv(inputs, file.path(out, "inputs.csv"), row.names = FALSE, quote = FALSE)

tsb <- function(x, a_d, a_p) {
  n <- length(x)
  fitted <- numeric(n)
  z <- NA
  p <- NA
  for (t in 1:n) {
    fitted[t] <- if (is.na(z)) 0 else z * p
    if (x[t] > 0) {
      if (is.na(z)) {
        z <- x[t]
        p <- 1 / t
      } else {
        z <- z + a_d * (x[t] - z)
        p <- p + a_p * (1 - p)
      }
    } else if (!is.na(z)) {
      p <- p + a_p * (0 - p)
    }
  }
  list(fitted = fitted, mean = if (is.na(z)) 0 else z * p)
}

h <- 12
fc <- list()
fit <- list()
for (s in names(series)) {
  y <- series[[s]]
  cr <- croston(ts(y), h = h, alpha = 0.1)
  m <- as.numeric(cr$mean)
  fv <- as.numeric(cr$fitted)
  fv[1] <- 0 # the forecast before any data: croston() leaves it NA, tsloop forecasts 0
  tb <- tsb(y, 0.1, 0.05)
  fc[[s]] <- data.frame(series = s, step = 1:h, croston = m, sba = m * (1 - 0.1 / 2),
                        tsb = tb$mean)
  fit[[s]] <- data.frame(series = s, t = seq_along(y), croston = fv, tsb = tb$fitted)
}
write.csv(do.call(rbind, fc), file.path(out, "forecasts.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, fit), file.path(out, "fitted.csv"), row.names = FALSE, quote = FALSE)

# Least-squares exponential smoothing. For a constant a, the one-step errors from an initial
# level l0 are r - w * l0, with r the errors from a zero start and w = (1 - a)^(i - 1), so l0 is
# a regression coefficient (then kept in [lo, hi]). a is the smallest point of a 0.01 grid whose
# SSE is within rounding (1e-12 of sum x^2) of the grid's best, then optimize() in the cells
# either side, kept when it improves on the grid by more than rounding.
profile <- function(x, a, lo, hi) {
  k <- length(x)
  r <- numeric(k)
  l <- 0
  for (i in 1:k) {
    r[i] <- x[i] - l
    l <- l + a * (x[i] - l)
  }
  w <- (1 - a)^(0:(k - 1))
  l0 <- min(hi, max(lo, unname(coef(lm(r ~ 0 + w)))))
  l <- l0
  sse <- 0
  for (v in x) {
    sse <- sse + (v - l)^2
    l <- l + a * (v - l)
  }
  list(l0 = l0, sse = sse)
}
fit_ses <- function(x, alo, ahi, lo, hi) {
  tol <- 1e-12 * sum(x^2)
  grid <- seq(alo, ahi, by = 0.01)
  v <- sapply(grid, function(a) profile(x, a, lo, hi)$sse)
  g <- grid[which(v <= min(v) + tol)[1]]
  o <- optimize(function(a) profile(x, a, lo, hi)$sse,
                c(max(alo, g - 0.01), min(ahi, g + 0.01)), tol = 1e-10)
  a <- if (o$objective < min(v) - tol) o$minimum else g
  list(alpha = a, init = profile(x, a, lo, hi)$l0)
}
smooth <- function(x, a, l0) {
  for (v in x) l0 <- l0 + a * (v - l0)
  l0
}
params <- list()
for (s in c("sparse", "leading", "lumpy", "dense")) {
  y <- series[[s]]
  pos <- which(y > 0)
  z <- y[pos]
  q <- diff(c(0, pos))
  d <- as.numeric(y[(pos[1] + 1):length(y)] > 0)
  fz <- fit_ses(z, 0.05, 0.3, min(z), max(z))
  fq <- fit_ses(q, 0.05, 0.3, 1, max(q))
  fp <- fit_ses(d, 0.01, 0.3, 1 / length(y), 1)
  cr <- smooth(z, fz$alpha, fz$init) / smooth(q, fq$alpha, fq$init)
  params[[s]] <- data.frame(series = s, alpha_size = fz$alpha, init_size = fz$init,
                            alpha_interval = fq$alpha, init_interval = fq$init,
                            alpha_prob = fp$alpha, init_prob = fp$init,
                            croston = cr, sba = cr * (1 - fq$alpha / 2),
                            tsb = smooth(z, fz$alpha, fz$init) * smooth(d, fp$alpha, fp$init))
}
write.csv(do.call(rbind, params), file.path(out, "params.csv"), row.names = FALSE, quote = FALSE)

classes <- do.call(rbind, lapply(names(series), function(s) {
  y <- series[[s]]
  z <- y[y > 0]
  adi <- length(y) / length(z)
  cv2 <- if (length(z) > 1) var(z) / mean(z)^2 else 0
  cls <- if (adi > 1.32) { if (cv2 > 0.49) "lumpy" else "intermittent" } else {
    if (cv2 > 0.49) "erratic" else "smooth" }
  data.frame(series = s, zeros = sum(y == 0), adi = adi, cv2 = cv2, class = cls)
}))
write.csv(classes, file.path(out, "classes.csv"), row.names = FALSE, quote = FALSE)
