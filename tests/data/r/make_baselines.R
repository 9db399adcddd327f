# Reference values for tests/unit/test_baselines.c, from R's forecast package.
# Regenerate from the repository root:  Rscript tests/data/r/make_baselines.R
# (Debian: apt-get install r-cran-forecast; made with forecast 8.20 on R 4.2.)
suppressMessages(library(forecast))
out <- "tests/data/baselines"
dir.create(out, showWarnings = FALSE, recursive = TRUE)

series <- list(
  air = ts(as.numeric(AirPassengers)[1:60], frequency = 12),
  www = ts(as.numeric(WWWusage), frequency = 1),
  lynx = ts(as.numeric(lynx)[1:50], frequency = 10)
)
inputs <- do.call(rbind, lapply(names(series), function(s)
  data.frame(series = s, t = seq_along(series[[s]]), y = as.numeric(series[[s]]))))
write.csv(inputs, file.path(out, "inputs.csv"), row.names = FALSE, quote = FALSE)

h <- 15
rows <- list()
add <- function(s, model, fc) {
  rows[[length(rows) + 1]] <<- data.frame(series = s, model = model, step = 1:h,
    mean = as.numeric(fc$mean),
    lo80 = as.numeric(fc$lower[, 1]), hi80 = as.numeric(fc$upper[, 1]),
    lo95 = as.numeric(fc$lower[, 2]), hi95 = as.numeric(fc$upper[, 2]))
}
for (s in names(series)) {
  y <- series[[s]]
  add(s, "naive", naive(y, h = h))
  add(s, "snaive", snaive(y, h = h))
  add(s, "mean", meanf(y, h = h))
  add(s, "drift", rwf(y, h = h, drift = TRUE))
}
res <- do.call(rbind, rows)
write.csv(res, file.path(out, "forecasts.csv"), row.names = FALSE,
          quote = FALSE)
