# Golden standard errors for em/stderr_test.go (TestStdErrorsGolden).
#
# Run with: Rscript em/testdata/stderr_golden.R
# Made with R 4.2.2 and numDeriv 2016.8-1.1 (Debian r-cran-numderiv).
#
# The observed information is the exact Hessian of the negative
# log-likelihood, differentiated symbolically by R's deriv(hessian = TRUE)
# per observation and summed with the counts, in the coordinates: the first
# K-1 weights (the last is 1 minus their sum), then the learned parameters.
# Each standard error is sqrt(diag(solve(H))); the last weight's is the
# delta method's sqrt(sum(V[w, w])) over the K-1 weight coordinates.
# Weights-only bags are evaluated at the mixsqp weights of
# em/mixsqp_test.go; bags with learned parameters at the maximum likelihood
# estimate found by the EM loop below, printed with %.17g so that the Go
# test evaluates at exactly the same point. As a check, the script also
# prints the largest relative difference of the standard errors from those
# of numDeriv::hessian (Richardson extrapolation, r = 6), a method
# independent of the symbolic one; it is 2e-11 to 2e-10 (numDeriv's own
# accuracy: its default r = 4 is off by up to 6e-8 on the Gaussian bag with
# learned sds).
suppressMessages(library(numDeriv))

goldenG3 <- c(-0.28, 4.12, 3.48, -0.04, 0.65, 2.73, 0.06, 2.42, 1.18, -1.05, -1.17, 0.56, -0.17, 0.97, 0.02, -1.01, 0.22, -0.74, 3.84, 3.55, -1.17, 2.86, -0.61, -1.88, 0.21, -2.16, 4.34, -0.86, -1.56, 0.13, 3.45, 0.28, 3.78, -1.69, 3.86, 1.08, 2.08, 0.12, 3.80, -0.94, -3.63, 2.95, -1.09, 2.80, 4.46, -0.20, -2.05, -0.14, 0.32, 0.54, -0.63, -1.18, 0.37, 1.09, 0.32, -1.43, 3.18, 4.02, 4.96, 3.71)
goldenG4 <- c(-2.56, 3.08, 2.66, -2.09, 0.77, 2.15, 2.12, 1.95, 0.36, -1.05, -0.45, 0.56, -2.35, 0.98, 2.03, -1.01, 0.48, -0.74, 2.89, 2.70, -1.17, 2.24, 0.77, -1.88, 2.42, -2.16, 3.23, -3.71, -1.56, -1.74, 2.64, 2.57, 2.85, -1.69, 2.91, 0.15, 1.72, -1.75, 2.87, -0.94, -3.63, 2.30, -0.40, 2.20, 3.31, 1.59, -2.05, 0.24, -1.36, 3.08, -3.25, -1.18, -1.25, 1.06, -1.35, -1.43, 2.45, 3.01, 3.64, 2.81, -0.73, -0.63, -1.55, -1.19, 2.24, -4.36, -0.58, 2.58, 0.63, -2.12, -1.44, -1.48, 2.08, 2.97, 1.49, -2.28, 1.31, -1.24, -0.03, 1.16)
goldenP3Values <- c(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 18)
goldenP3Counts <- c(8, 15, 10, 15, 8, 9, 7, 8, 7, 7, 6, 6, 3, 4, 3, 3, 1)
goldenP3bValues <- c(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12)
goldenP3bCounts <- c(9, 27, 25, 14, 14, 15, 14, 13, 12, 2, 3, 2)

p17 <- function(x) paste(sprintf("%.17g", x), collapse = ", ")

# se computes the standard errors for the expression e of the
# per-observation log-likelihood in the coordinates named by vars, at
# theta, with the data in env (vectors; cnt the counts), and compares them
# with numDeriv's.
se <- function(e, vars, theta, env, kw) {
  f <- deriv(e, vars, hessian = TRUE)
  at <- function(th) {
    en <- list2env(as.list(env))
    for (i in seq_along(vars)) assign(vars[i], th[i], envir = en)
    eval(f, en)
  }
  v <- at(theta)
  H <- -apply(attr(v, "hessian") * env$cnt, c(2, 3), sum)
  negll <- function(th) -sum(env$cnt * at(th))
  Hn <- numDeriv::hessian(negll, theta, method.args = list(r = 6))
  sev <- function(H) {
    V <- solve(H)
    s <- sqrt(diag(V))
    c(s[1:kw], sqrt(sum(V[1:kw, 1:kw])), s[-(1:kw)])
  }
  s <- sev(H)
  list(se = s, numderiv = max(abs(sev(Hn) - s) / s))
}

report <- function(name, r, k, extra = "") {
  if (name != "") cat(sprintf("%s%s\n", name, extra))
  cat(sprintf("  weights SE: %s\n", p17(r$se[1:k])))
  if (length(r$se) > k) cat(sprintf("  params SE: %s\n", p17(r$se[-(1:k)])))
  cat(sprintf("  numDeriv max rel diff: %.2g\n", r$numderiv))
}

# Weights only, K = 3: f1, f2, f3 are the component densities.
e3 <- quote(log(w1 * f1 + w2 * f2 + (1 - w1 - w2) * f3))
dens3 <- function(x, fk) sapply(1:3, function(k) fk(x, k))
w <- c(0.21249313104807629, 0.34847854374982057, 0.43902832520210316)
F <- dens3(goldenG3, function(x, k) dnorm(x, c(-2, 0, 2.5)[k], c(1, 0.5, 1.5)[k]))
r <- se(e3, c("w1", "w2"), w[1:2], list(f1 = F[, 1], f2 = F[, 2], f3 = F[, 3], cnt = rep(1, nrow(F))), 2)
report("gaussian K=3 weights only (goldenG3)", r, 3)

w <- c(0.20225026464800347, 0.39757966857696958, 0.40017006677502692)
F <- dens3(goldenP3Values, function(x, k) dpois(x, c(1, 4, 10)[k]))
r <- se(e3, c("w1", "w2"), w[1:2], list(f1 = F[, 1], f2 = F[, 2], f3 = F[, 3], cnt = goldenP3Counts), 2)
report("poisson K=3 weights only (goldenP3)", r, 3)

# Gaussian K=2 on goldenG4: EM for the weights and the learned parameters
# (means always; sds when learn_sd, else fixed), from the given start until
# no parameter moves by more than 1e-15.
gauss_em <- function(x, w, mu, s, learn_sd) {
  for (it in 1:100000) {
    d <- cbind(w[1] * dnorm(x, mu[1], s[1]), w[2] * dnorm(x, mu[2], s[2]))
    r <- d / rowSums(d)
    nk <- colSums(r)
    w2 <- nk / length(x)
    mu2 <- colSums(r * x) / nk
    s2 <- s
    if (learn_sd) s2 <- sqrt(colSums(r * (outer(x, mu2, "-"))^2) / nk)
    delta <- max(abs(c(w2 - w, mu2 - mu, s2 - s)))
    w <- w2; mu <- mu2; s <- s2
    if (delta < 1e-15) break
  }
  list(w = w, mu = mu, s = s, iter = it)
}
eg <- quote(log(w1 / (s1 * sqrt(2 * pi)) * exp(-(x - m1)^2 / (2 * s1^2)) +
  (1 - w1) / (s2 * sqrt(2 * pi)) * exp(-(x - m2)^2 / (2 * s2^2))))
learned <- function(name, fit, r) {
  cat(sprintf("%s (EM iterations %d)\n  weights: %s\n  mean: %s\n  sd: %s\n",
    name, fit$iter, p17(fit$w), p17(fit$mu), p17(fit$s)))
  report("", r, 2)
}

fit <- gauss_em(goldenG4, c(0.5, 0.5), c(-2, 2), c(1, 1), TRUE)
r <- se(eg, c("w1", "m1", "m2", "s1", "s2"), c(fit$w[1], fit$mu, fit$s),
  list(x = goldenG4, cnt = rep(1, length(goldenG4))), 1)
learned("gaussian K=2 learned means and sds (goldenG4)", fit, r)

fit <- gauss_em(goldenG4, c(0.5, 0.5), c(-2, 2), c(1, 1.5), FALSE)
r <- se(eg, c("w1", "m1", "m2"), c(fit$w[1], fit$mu),
  list(x = goldenG4, s1 = 1, s2 = 1.5, cnt = rep(1, length(goldenG4))), 1)
learned("gaussian K=2 learned means, sds fixed at 1 and 1.5 (goldenG4)", fit, r)

# Poisson K=2 on goldenP3b, rates learned.
x <- goldenP3bValues; cnt <- goldenP3bCounts
w <- c(0.5, 0.5); lam <- c(2, 6)
for (it in 1:100000) {
  d <- cbind(w[1] * dpois(x, lam[1]), w[2] * dpois(x, lam[2]))
  rr <- cnt * d / rowSums(d)
  nk <- colSums(rr)
  w2 <- nk / sum(cnt); lam2 <- colSums(rr * x) / nk
  delta <- max(abs(c(w2 - w, lam2 - lam)))
  w <- w2; lam <- lam2
  if (delta < 1e-15) break
}
ep <- quote(log(w1 * exp(-l1) * l1^x / fx + (1 - w1) * exp(-l2) * l2^x / fx))
r <- se(ep, c("w1", "l1", "l2"), c(w[1], lam), list(x = x, fx = factorial(x), cnt = cnt), 1)
cat(sprintf("poisson K=2 learned rates (goldenP3b) (EM iterations %d)\n  weights: %s\n  rate: %s\n", it, p17(w), p17(lam)))
report("", r, 2)
