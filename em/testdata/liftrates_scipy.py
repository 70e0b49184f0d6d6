# Reference maxima for em/liftrates_test.go: learned K = 3 Poisson mixtures
# (weights and rates) on small bags whose best fit has a small positive
# rate that EM cannot reach from a rate stuck at 0.
#
# Independent of mixbatch: the mixture log-likelihood
#   l(w, r) = sum_x c_x log sum_j w_j exp(x log r_j - r_j - lgamma(x + 1))
# is maximised by scipy.optimize.minimize (L-BFGS-B with finite-difference gradients, rates
# bounded to [0, 50], weights as a softmax of 2 free logits) from 400
# seeded random starts, the best polished by Nelder-Mead (xatol, fatol
# 1e-14) and then by L-BFGS-B again; printed with repr (shortest round trip).
# Run: /usr/bin/python3 em/testdata/liftrates_scipy.py > em/testdata/liftrates_scipy.out
# (Python 3.11.2, numpy 1.24.2, scipy 1.10.1, Debian python3-scipy.)
import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, logsumexp

BAGS = {
    "777/72": ([0, 1, 2, 3, 4], [57, 21, 11, 7, 3]),
    "777/553": ([0, 1, 2, 3], [205, 41, 9, 2]),
    "777/579": ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13], [51, 11, 2, 2, 3, 1, 4, 6, 6, 1, 1, 2]),
    "777/1411": ([0, 1, 2, 3], [219, 47, 11, 3]),
}
K = 3


def negll(theta, x, c):
    a = np.concatenate([[0.0], theta[: K - 1]])
    lw = a - logsumexp(a)
    r = theta[K - 1 :]
    # x log r, 0 log 0 = 0; a rate at 0 is floored at 1e-300 (e^-690.8
    # per unit of x, nothing next to the other terms)
    xl = x[:, None] * np.log(np.maximum(r, 1e-300))[None, :]
    ld = lw[None, :] + xl - r[None, :] - gammaln(x + 1)[:, None]
    return -np.sum(c * logsumexp(ld, axis=1))


def fit(x, c, seed):
    x = np.asarray(x, float)
    c = np.asarray(c, float)
    rng = np.random.default_rng(seed)
    bounds = [(-30, 30)] * (K - 1) + [(0, 50)] * K
    best = None
    for _ in range(400):
        th0 = np.concatenate([rng.normal(0, 1, K - 1), rng.uniform(0, x.max() + 1, K)])
        r = minimize(negll, th0, args=(x, c), method="L-BFGS-B", bounds=bounds,
                     options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
        if best is None or r.fun < best.fun:
            best = r
    th = best.x
    for _ in range(3):
        nm = minimize(negll, th, args=(x, c), method="Nelder-Mead", bounds=bounds,
                      options={"xatol": 1e-14, "fatol": 1e-14, "maxiter": 200000, "maxfev": 200000})
        lb = minimize(negll, nm.x, args=(x, c), method="L-BFGS-B", bounds=bounds,
                      options={"ftol": 1e-16, "gtol": 1e-13, "maxiter": 10000})
        th = lb.x if lb.fun <= nm.fun else nm.x
    a = np.concatenate([[0.0], th[: K - 1]])
    w = np.exp(a - logsumexp(a))
    rates = th[K - 1 :]
    o = np.argsort(rates)
    return -negll(th, x, c), w[o], rates[o]


for i, (name, (x, c)) in enumerate(BAGS.items()):
    ll, w, r = fit(x, c, 1000 + i)
    print(name, repr(float(ll)), [repr(float(v)) for v in w], [repr(float(v)) for v in r])
