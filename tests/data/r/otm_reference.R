# An independent R implementation of the Optimised and Dynamic Optimised Theta Models of
# Fiorucci, Pellegrini, Louzada, Petropoulos & Koehler, "Models for optimising the theta method
# and their relationship to state space models", IJF 32 (2016), written from the paper's
# equations for tsloop's tests (the forecTheta package is not in Debian). Sourced by
# make_theta.R. Deliberately plain: loops over the recursions, general-purpose optimisation
# (optim from several starts) instead of tsloop's profiled least squares, and prediction
# variances from the forecast's response to unit future errors instead of a covariance
# recursion.
#
#   y_t = mu_t + e_t
#   mu_{t+1} = l_t + (1 - 1/theta) (A_t (1 - alpha)^t + B_t (1 - (1 - alpha)^(t+1)) / alpha)
#   l_t = alpha y_t + (1 - alpha) l_{t-1}
#   OTM: A_t = A_n, B_t = B_n, the least-squares line of the whole series; mu_1 from l_0.
#   DOTM: A_t, B_t the least-squares line of y_1..y_t (mu_1 = y_1, A_1 = y_1, B_1 = 0), and
#   the criterion skips the first two errors.

# thetaf's seasonality test and multiplicative adjustment (additive when a value is <= 0,
# tsloop's choice; R's thetaf would divide regardless).
theta_adjust <- function(y) {
  n <- length(y); m <- frequency(y)
  seasonal <- FALSE
  if (m > 1 && !forecast:::is.constant(y) && n > 2 * m) {
    r <- as.numeric(acf(y, lag.max = m, plot = FALSE)$acf)[-1]
    seasonal <- abs(r[m]) / sqrt((1 + 2 * sum(r[-m]^2)) / n) > qnorm(0.95)
  }
  if (!seasonal) return(list(x = as.numeric(y), type = "none", s = rep(0, n + 1000)))
  type <- if (min(y) > 0) "multiplicative" else "additive"
  fig <- decompose(y, type = type)$figure
  if (type == "multiplicative" && any(abs(fig) < 1e-4))
    return(list(x = as.numeric(y), type = "none", s = rep(0, n + 1000)))
  s <- rep(fig, length.out = n + 1000)       # s[t] for t = 1, 2, ... past the end
  x <- if (type == "multiplicative") as.numeric(y) / s[1:n] else as.numeric(y) - s[1:n]
  list(x = x, type = type, s = s)
}

# Least-squares line of z over times 1..length(z): c(intercept, slope).
ls_line <- function(z) {
  if (length(z) < 2) return(c(z[1], 0))
  tt <- seq_along(z); tc <- tt - mean(tt)
  slope <- sum(tc * (z - mean(z))) / sum(tc^2)
  c(mean(z) - slope * mean(tt), slope)
}

# Runs the model over x (length n) and h steps beyond (fed its own forecasts, plus optional
# future errors `shock` of length h). Returns mu[1..n+h] and the criterion's sum of squares.
otm_run <- function(x, ell0, alpha, theta, dynamic, h = 0, shock = rep(0, h)) {
  n <- length(x); w <- 1 - 1 / theta
  line <- ls_line(x)
  yy <- c(x, rep(NA, h)); mu <- numeric(n + h)
  ell <- ell0
  for (t in 1:(n + h)) {            # t = index of the value being forecast
    k <- t - 1                      # values seen
    if (dynamic) {
      if (t == 1) mu[t] <- yy[1] else {
        ab <- ls_line(yy[1:k])
        mu[t] <- ell + w * (ab[1] * (1 - alpha)^k + ab[2] * (1 - (1 - alpha)^(k + 1)) / alpha)
      }
    } else {
      mu[t] <- ell + w * (line[1] * (1 - alpha)^k + line[2] * (1 - (1 - alpha)^(k + 1)) / alpha)
    }
    if (t > n) yy[t] <- mu[t] + shock[t - n]
    ell <- alpha * yy[t] + (1 - alpha) * ell
  }
  first <- if (dynamic) 3 else 1
  list(mu = mu, sse = sum((x[first:n] - mu[first:n])^2), y = yy)
}

# Least-squares estimate over (l0, alpha, theta) within forecTheta's bounds: alpha in
# [0.1, 0.99], theta in [1, 1e10]; L-BFGS-B then Nelder-Mead from several starts, best kept.
otm_estimate <- function(x, dynamic) {
  sse <- function(p) {
    if (p[2] < 0.1 || p[2] > 0.99 || p[3] < 1 || p[3] > 1e10) return(1e300)
    otm_run(x, p[1], p[2], p[3], dynamic)$sse
  }
  starts <- list(c(x[1] / 2, 0.5, 2), c(mean(x[1:min(10, length(x))]), 0.3, 1.5),
                 c(x[1], 0.8, 3), c(x[1], 0.2, 1.01), c(mean(x), 0.5, 10))
  best <- NULL
  for (p0 in starts) {
    scale <- c(max(abs(x)), 1, 1)
    o <- try(optim(p0, sse, method = "L-BFGS-B", lower = c(-Inf, 0.1, 1),
                   upper = c(Inf, 0.99, 1e10), control = list(parscale = scale, maxit = 1000,
                   factr = 1e3)), silent = TRUE)
    if (inherits(o, "try-error")) next
    o2 <- optim(o$par, sse, method = "Nelder-Mead", control = list(maxit = 5000, reltol = 1e-14,
                parscale = scale))
    if (o2$value < o$value) o <- o2
    if (is.null(best) || o$value < best$value) best <- o
  }
  best$par
}

# Forecasts with mean and Gaussian quantiles at `levels`; pars = c(l0, alpha, theta) or NULL
# to estimate. Variances: Var(Y_{n+k}) = sigma^2 (1 + sum_j c_kj^2), c_kj the response of
# Y_{n+k} to a unit error at step j < k, found by running the recursion once per j.
otm_forecast <- function(y, h, dynamic, pars = NULL, levels = c(0.025, 0.1, 0.9, 0.975)) {
  adj <- theta_adjust(y)
  x <- adj$x; n <- length(x)
  if (is.null(pars)) pars <- otm_estimate(x, dynamic)
  base <- otm_run(x, pars[1], pars[2], pars[3], dynamic, h)
  ne <- n - if (dynamic) 2 else 0
  sigma2 <- base$sse / (ne - 3)
  mu <- base$mu[n + 1:h]
  v <- rep(1, h)
  for (j in seq_len(h - 1)) {
    sh <- rep(0, h); sh[j] <- 1
    pert <- otm_run(x, pars[1], pars[2], pars[3], dynamic, h, sh)$y[n + 1:h]
    c <- pert - base$y[n + 1:h]
    k <- (j + 1):h
    v[k] <- v[k] + c[k]^2
  }
  sd <- sqrt(sigma2 * v)
  s <- adj$s[n + 1:h]
  back <- function(z) switch(adj$type, multiplicative = z * s, additive = z + s, none = z)
  q <- sapply(levels, function(p) back(mu + qnorm(p) * sd))
  list(mean = back(mu), quant = q, pars = pars, sse = base$sse, sigma2 = sigma2,
       type = adj$type)
}
