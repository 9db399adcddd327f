# Reference values for tests/unit/test_mstl.c, from R's forecast::mstl() and the forecasts of
# forecast() on its result (forecast.stl: the last cycle of every seasonal component added to a
# non-seasonal forecast of the seasonally adjusted series).
# Regenerate from the repository root:  Rscript tests/data/r/make_mstl.R
# (Debian: apt-get install r-cran-forecast; made with R 4.2.2 and forecast 8.20.)
# Writes tests/data/mstl/:
#   inputs.csv     series,periods,robust,t,y: the inputs; periods as "48;336", robust 0/1
#   mstl.csv       series,t,trend,s1,s2,remainder: mstl()'s components (s2 NA with one period)
#   kept.csv       series,periods,strength: the periods mstl() kept and each component's
#                  seasonal strength as forecast:::seas.heuristic computes it (";"-separated)
#   forecasts.csv  series,method,name,step,mean,lo80,hi80,lo95,hi95: forecast(mstl(x), method);
#                  name is R's method without spaces, commas as ";" ("STL+ETS(A;Ad;N)")
# Components are written with 15 significant digits, inputs with 17.
suppressMessages(library(forecast))
out <- "tests/data/mstl"
dir.create(out, showWarnings = FALSE, recursive = TRUE)
fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
fmt15 <- function(x) ifelse(is.na(x), "NA", sprintf("%.15g", x))  # outputs: smaller files

set.seed(20240612)
# Hourly: a daily profile, a weekend dip, a slow trend and noise; five weeks.
nh <- 24 * 7 * 5
th <- seq_len(nh) - 1
hod <- th %% 24
dow <- (th %/% 24) %% 7
hourly <- 1000 + 0.05 * th + 80 * sin(2 * pi * hod / 24) + 30 * cos(4 * pi * hod / 24) -
  60 * (dow >= 5) + 15 * sin(2 * pi * th / 168) + rnorm(nh, sd = 8)
hourly_gap <- hourly
hourly_gap[c(100:130, 400, 401, 555, 700:712, nh - 1, nh)] <- NA
# Daily: a weekly pattern and a yearly cycle over three years.
nd <- 3 * 365
td <- seq_len(nd) - 1
daily <- 500 + 0.1 * td + 25 * c(3, 2, 1, 0, -1, -6, 1)[td %% 7 + 1] +
  90 * sin(2 * pi * td / 365) + 20 * cos(4 * pi * td / 365) + rnorm(nd, sd = 10)
taylor_gap <- as.numeric(taylor)[1:2016]
taylor_gap[c(10:40, 1000, 1500:1530, 1999)] <- NA
short_gap <- hourly[1:60]
short_gap[c(5, 6, 20:27, 40, 41, 50)] <- NA

series <- list(
  taylor = list(y = as.numeric(taylor), p = c(48, 336)),        # the classic example
  taylorgap = list(y = taylor_gap, p = c(48, 336)),              # six weeks, na.interp's fill
  hourly = list(y = hourly, p = c(24, 168)),
  hourlygap = list(y = hourly_gap, p = c(24, 168)),              # gaps, two at the very end
  hourlyrobust = list(y = hourly, p = c(24, 168), robust = TRUE),
  daily = list(y = daily, p = c(7, 365)),
  drop = list(y = hourly[1:300], p = c(24, 168)),                # 168 >= n / 2: dropped
  single = list(y = as.numeric(AirPassengers), p = 12),          # one period: one STL pass
  shortgap = list(y = short_gap, p = 24)                         # linear na.interp
)
as_input <- function(s) {
  if (length(s$p) > 1) msts(s$y, seasonal.periods = s$p) else ts(s$y, frequency = s$p)
}
robust_of <- function(s) isTRUE(s$robust)
fit_of <- function(s) mstl(as_input(s), robust = robust_of(s))

inputs <- do.call(rbind, lapply(names(series), function(k) {
  s <- series[[k]]
  data.frame(series = k, periods = paste(s$p, collapse = ";"), robust = as.integer(robust_of(s)),
             t = seq_along(s$y), y = fmt(s$y))
}))
write.csv(inputs, file.path(out, "inputs.csv"), row.names = FALSE, quote = FALSE)

rows <- list(); kept <- list()
for (k in names(series)) {
  fit <- suppressWarnings(fit_of(series[[k]]))
  cols <- grep("Seasonal", colnames(fit))
  s2 <- if (length(cols) > 1) fit[, cols[2]] else rep(NA, nrow(fit))
  rows[[k]] <- data.frame(series = k, t = seq_len(nrow(fit)), trend = fmt15(fit[, "Trend"]),
                          s1 = fmt15(fit[, cols[1]]), s2 = fmt15(s2),
                          remainder = fmt15(fit[, "Remainder"]))
  # forecast:::seas.heuristic's strength of each component, on this fit.
  vare <- var(fit[, "Remainder"], na.rm = TRUE)
  st <- sapply(cols, function(j)
    max(0, min(1, 1 - vare / var(fit[, "Remainder"] + fit[, j], na.rm = TRUE))))
  kept[[k]] <- data.frame(series = k,
                          periods = paste(sub("Seasonal", "", colnames(fit)[cols]), collapse = ";"),
                          strength = paste(fmt(st), collapse = ";"))
}
write.csv(do.call(rbind, rows), file.path(out, "mstl.csv"), row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, kept), file.path(out, "kept.csv"), row.names = FALSE, quote = FALSE)

# Forecasts: naive and drift are deterministic, so they check the whole model (the seasonal
# cycles added back, the intervals) to rounding; ETS on the adjusted series is an optimiser's
# result, compared within the band in the tests.
horizon <- c(taylor = 336, hourly = 168, daily = 60, single = 24)
rows <- list()
for (k in names(horizon)) for (method in c("naive", "rwdrift", "ets")) {
  fc <- forecast(fit_of(series[[k]]), method = method, h = horizon[[k]], level = c(80, 95))
  rows[[paste(k, method)]] <- data.frame(series = k, method = method,
    name = gsub(",", ";", gsub(" ", "", fc$method)), step = seq_len(horizon[[k]]), mean = fmt(fc$mean),
    lo80 = fmt(fc$lower[, 1]), hi80 = fmt(fc$upper[, 1]), lo95 = fmt(fc$lower[, 2]),
    hi95 = fmt(fc$upper[, 2]))
}
write.csv(do.call(rbind, rows), file.path(out, "forecasts.csv"), row.names = FALSE, quote = FALSE)
