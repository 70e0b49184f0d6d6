#!/usr/bin/env python3
"""Golden values for em/learn_golden_test.go, computed once with

    /usr/bin/python3 em/testdata/learn_golden.py gauss > em/testdata/learn_gauss_sklearn.json
    /usr/bin/python3 em/testdata/learn_golden.py mvn   > em/testdata/learn_mvn_sklearn.json

(Debian bookworm: python3-sklearn 1.2.1, python3-scipy 1.10.1, numpy 1.24.2).

The bags are regenerated here exactly as gaussBag and mvnBag in
em/learn_helpers_test.go generate them: SplitMix64, Box-Muller, values
rounded half up to multiples of 1e-6 (so last-bit differences between Go's
and C's log and cos vanish). Each bag's sum of values is recorded so the Go
test can check that it fits the same data.

log-likelihoods are GaussianMixture.score(X) * n: the mean log-likelihood
per sample with all normalising constants, times n.
"""
import json
import math
import sys

import numpy as np
import sklearn
from sklearn.mixture import GaussianMixture

M64 = (1 << 64) - 1


class SplitMix:
    def __init__(self, s):
        self.s = s & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def unif(self):
        return float(self.next() >> 11) * 2.0**-53

    def norm(self):
        u1 = 1 - self.unif()
        u2 = self.unif()
        return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


def quantise(x):
    return math.floor(x * 1e6 + 0.5) / 1e6


def gauss_bag(b, n):
    g = SplitMix(b * 1000003 + 17)
    mean, sd, w = [0.0] * 3, [0.0] * 3, [0.0] * 3
    tot = 0.0
    for j in range(3):
        mean[j] = -6 + 12 * g.unif()
        sd[j] = 0.3 + 1.7 * g.unif()
        w[j] = 0.15 + g.unif()
        tot += w[j]
    xs = []
    for _ in range(n):
        u = g.unif() * tot
        j = 0
        while j < 2 and u >= w[j]:
            u -= w[j]
            j += 1
        xs.append(quantise(mean[j] + sd[j] * g.norm()))
    return xs


def mvn_bag(b, n, d, k):
    g = SplitMix(b * 7919 + 101)
    means = [0.0] * (k * d)
    chol = [0.0] * (k * d * d)
    w = [0.0] * k
    tot = 0.0
    for j in range(k):
        for a in range(d):
            means[j * d + a] = -4 + 8 * g.unif()
        for a in range(d):
            for c in range(d):
                chol[j * d * d + a * d + c] = -1 + 2 * g.unif()
            chol[j * d * d + a * d + a] += 0.3
        w[j] = 0.3 + g.unif()
        tot += w[j]
    xs = []
    for _ in range(n):
        u = g.unif() * tot
        j = 0
        while j < k - 1 and u >= w[j]:
            u -= w[j]
            j += 1
        z = [g.norm() for _ in range(d)]
        for a in range(d):
            v = means[j * d + a]
            for c in range(d):
                v += chol[j * d * d + a * d + c] * z[c]
            xs.append(quantise(v))
    return xs


GAUSS_BAGS, GAUSS_N = 250, 1000
MVN_BAGS, MVN_N, MVN_D, MVN_K = 4, 400, 3, 3


def gauss():
    out = {"sklearn": sklearn.__version__, "numpy": np.__version__,
           "settings": "GaussianMixture(n_components=3, tol=1e-10, reg_covar=1e-6, n_init=10, max_iter=100000, random_state=b)",
           "bags": []}
    for b in range(GAUSS_BAGS):
        xs = gauss_bag(b, GAUSS_N)
        X = np.array(xs).reshape(-1, 1)
        gm = GaussianMixture(n_components=3, tol=1e-10, reg_covar=1e-6, n_init=10,
                             max_iter=100000, random_state=b).fit(X)
        out["bags"].append({"bag": b, "sum": math.fsum(xs), "ll": gm.score(X) * len(xs),
                            "converged": bool(gm.converged_)})
        print(b, file=sys.stderr)
    json.dump(out, sys.stdout, indent=1)


def mvn():
    out = {"sklearn": sklearn.__version__, "numpy": np.__version__,
           "settings": "GaussianMixture(n_components=3, covariance_type=t, tol=1e-10, reg_covar=1e-6, n_init=10, max_iter=100000, random_state=b)",
           "bags": []}
    for b in range(MVN_BAGS):
        xs = mvn_bag(b, MVN_N, MVN_D, MVN_K)
        X = np.array(xs).reshape(-1, MVN_D)
        for t in ["full", "diag", "spherical"]:
            gm = GaussianMixture(n_components=MVN_K, covariance_type=t, tol=1e-10, reg_covar=1e-6,
                                 n_init=10, max_iter=100000, random_state=b).fit(X)
            # Canonical order: by the mean vector lexicographically.
            order = sorted(range(MVN_K), key=lambda j: tuple(gm.means_[j]))
            covs = []
            for j in order:
                if t == "full":
                    c = gm.covariances_[j]
                elif t == "diag":
                    c = np.diag(gm.covariances_[j])
                else:
                    c = np.eye(MVN_D) * gm.covariances_[j]
                covs.append(c.ravel().tolist())
            out["bags"].append({"bag": b, "covariance": t, "sum": math.fsum(xs),
                                "ll": gm.score(X) * MVN_N, "converged": bool(gm.converged_),
                                "weights": [gm.weights_[j] for j in order],
                                "means": [gm.means_[j].tolist() for j in order],
                                "covs": covs})
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    {"gauss": gauss, "mvn": mvn}[sys.argv[1]]()
