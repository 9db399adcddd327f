# Reference values for tests/unit/test_ets.c, from R's forecast package.
# Regenerate from the repository root:  Rscript tests/data/r/make_ets.R
# (Debian: apt-get install r-cran-forecast; made with forecast 8.20 on R 4.2.)
# It reads two M1 series from ../shared/data/m1_train.csv (the M1 competition data) and
# writes tests/data/ets/:
#   series.csv      series,period,t,y: the inputs
#   forms.csv       series,form,what,i,value: for every form R fits on every series, R's
#                   parameters (par: alpha, beta, gamma, phi; NA when absent), initial and
#                   final states (R's layout: l, b, s1..sm), loglik, aicc, sigma2, and the
#                   forecast mean and 80%/95% limits over h steps
#   auto.csv        series,spec,form,loglik,aicc,step,mean,lo80,hi80,lo95,hi95: R's ets(y)
#   short.csv       the same for ets() on very short series (R's Holt-Winters fallback),
#                   with a requested form (spec) for some
#   admissible.csv  alpha,beta,gamma,phi,m,ok: R's admissible() on random parameters
suppressMessages(library(forecast))
out <- "tests/data/ets"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

m1 <- read.csv("../shared/data/m1_train.csv", stringsAsFactors = FALSE)
m1s <- function(id) as.numeric(m1$target[m1$item_id == id])

series <- list(
  air = ts(as.numeric(AirPassengers), frequency = 12),
  ukgas = ts(as.numeric(UKgas), frequency = 4),
  ldeaths = ts(as.numeric(ldeaths), frequency = 12),
  yaf6 = ts(m1s("YAF6"), frequency = 1),
  qnm2 = ts(m1s("QNM2"), frequency = 4),
  short = ts(as.numeric(UKgas)[1:10], frequency = 4),
  www = ts(as.numeric(WWWusage)[1:30], frequency = 1)
)
inputs <- do.call(rbind, lapply(names(series), function(s)
  data.frame(series = s, period = frequency(series[[s]]), t = seq_along(series[[s]]),
             y = as.numeric(series[[s]]))))
write.csv(inputs, file.path(out, "series.csv"), row.names = FALSE, quote = FALSE)

horizon <- function(y) if (frequency(y) > 1) 2 * frequency(y) else 10
fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

rows <- list()
kv <- function(s, form, what, v) {
  rows[[length(rows) + 1]] <<- data.frame(series = s, form = form, what = what,
                                          i = seq_along(v), value = fmt(as.numeric(v)))
}
forms <- expand.grid(e = c("A", "M"), t = c("N", "A", "Ad", "M", "Md"), s = c("N", "A", "M"),
                     stringsAsFactors = FALSE)
set.seed(1)
for (s in names(series)) {
  y <- series[[s]]
  h <- horizon(y)
  for (k in seq_len(nrow(forms))) {
    e <- forms$e[k]; tr <- forms$t[k]; se <- forms$s[k]
    if (frequency(y) == 1 && se != "N") next
    if (e == "A" && (substr(tr, 1, 1) == "M" || se == "M")) next
    if (e == "M" && substr(tr, 1, 1) == "M" && se == "A") next
    damped <- nchar(tr) == 2
    model <- paste0(e, substr(tr, 1, 1), se)
    fit <- tryCatch(ets(y, model = model, damped = damped), error = function(err) NULL)
    if (is.null(fit) || is.null(fit$loglik)) next
    name <- paste0(e, tr, se)
    p <- fit$par
    kv(s, name, "par", c(p["alpha"], if (is.na(p["beta"])) NA else p["beta"],
                         if (is.na(p["gamma"])) NA else p["gamma"],
                         if (is.na(p["phi"])) NA else p["phi"]))
    kv(s, name, "init", fit$states[1, ])
    kv(s, name, "final", fit$states[nrow(fit$states), ])
    kv(s, name, "loglik", fit$loglik)
    kv(s, name, "aicc", fit$aicc)
    kv(s, name, "sigma2", fit$sigma2)
    fc <- forecast(fit, h = h, level = c(80, 95))
    kv(s, name, "mean", fc$mean)
    kv(s, name, "lo80", fc$lower[, 1])
    kv(s, name, "hi80", fc$upper[, 1])
    kv(s, name, "lo95", fc$lower[, 2])
    kv(s, name, "hi95", fc$upper[, 2])
  }
}
write.csv(do.call(rbind, rows), file.path(out, "forms.csv"), row.names = FALSE, quote = FALSE)

fc_rows <- function(s, y, model = "ZZZ") {
  fit <- if (model == "ZZZ") ets(y) else ets(y, model = model)
  fc <- forecast(fit, h = horizon(y), level = c(80, 95))
  data.frame(series = s, spec = model, form = gsub("ETS|[(),]", "", fit$method),
             loglik = fmt(if (is.null(fit$loglik)) NA else fit$loglik),
             aicc = fmt(if (is.null(fit$aicc)) NA else fit$aicc),
             step = seq_along(fc$mean), mean = fmt(as.numeric(fc$mean)),
             lo80 = fmt(as.numeric(fc$lower[, 1])), hi80 = fmt(as.numeric(fc$upper[, 1])),
             lo95 = fmt(as.numeric(fc$lower[, 2])), hi95 = fmt(as.numeric(fc$upper[, 2])))
}
auto <- do.call(rbind, lapply(names(series), function(s) fc_rows(s, series[[s]])))
write.csv(auto, file.path(out, "auto.csv"), row.names = FALSE, quote = FALSE)

# Very short series: ets() falls back to Holt-Winters least squares (no likelihood).
shorts <- list()
base <- c(112, 118, 132, 129, 121, 135)
for (n in 2:6) shorts[[paste0("n", n)]] <- ts(base[1:n], frequency = 1)
shorts$q6 <- ts(base, frequency = 4)
short <- do.call(rbind, lapply(names(shorts), function(s) fc_rows(s, shorts[[s]])))
# Explicit seasonal forms on three seasons: Holt-Winters with a season.
uk12 <- ts(as.numeric(UKgas)[1:12], frequency = 4)
short <- rbind(short, fc_rows("uk12", uk12, "AAA"), fc_rows("uk12", uk12, "MAM"))
write.csv(short, file.path(out, "short.csv"), row.names = FALSE, quote = FALSE)

# The admissible region, on random points of the usual region and beyond.
adm <- forecast:::admissible
pts <- data.frame(alpha = runif(400, 0, 1), beta = runif(400, 0, 0.5), gamma = runif(400, 0, 1),
                  phi = runif(400, 0.8, 1), m = sample(c(2, 4, 7, 12, 24), 400, replace = TRUE))
pts$ok <- mapply(function(a, b, g, p, m) adm(a, b, g, p, m), pts$alpha, pts$beta, pts$gamma,
                 pts$phi, pts$m)
pts[] <- lapply(pts, fmt)
write.csv(pts, file.path(out, "admissible.csv"), row.names = FALSE, quote = FALSE)
