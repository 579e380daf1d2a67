"""Benchmark of the sampler family's variance maps and of the generic theory, on one core.

Measures, in one run with BLAS pinned to one thread:

* ``ula_k1e12_ms``, ``uld_k1e12_ms``: one grid point of the variance map with its two derivatives
  (``gaussdsm.theory.variance_map``: F, D, D', D'') at d = 1000 and K = 10^12 (ULA step 1e-3; ULD step 1e-3,
  friction 2), milliseconds per grid point, timed over a batch of 100 grid points;
* ``grid_1e4_s``: ``gaussdsm.theory.error_terms`` on a 100 x 100 grid of (gamma, n_steps), finite K from 10 to
  10^6, d = 64 (power law), ULA: the bias and the compiled O(d^2) generalization kernel at 10^4 points;
* ``loop_ratio``: a straightforward loop over the K steps with numpy over the eigenvalues
  (``v = (1 - gamma a)^2 v + 2 gamma``, values only), at d = 1000 and K = 10^4, against the closed form at the
  same d and K (values only): time(loop) / time(closed form).

Each timing is the best of five repeats (the machine may be shared).

Usage::

    .venv/bin/python benchmarks/bench_samplers.py          # table
    .venv/bin/python benchmarks/bench_samplers.py --json   # {"ula_k1e12_ms": .., "uld_k1e12_ms": .., "grid_1e4_s": .., "loop_ratio": ..}
"""

from __future__ import annotations

import numpy as np
from _common import best, main

from gaussdsm import samplers, theory


def run() -> dict:
    lam = 1.0 / np.arange(1, 1001)
    P = 100
    g = np.full(P, 1e-3)
    res = {}
    for kind, kw in (("ula", {}), ("uld", {"friction": np.full(P, 2.0)})):
        s = samplers.make(kind, gamma=g, n_steps=np.full(P, 1e12), **kw)
        theory.variance_map(lam, 0.1, sampler=s)  # warm-up
        res[f"{kind}_k1e12_ms"] = 1e3 * best(lambda: theory.variance_map(lam, 0.1, sampler=s), repeats=5) / P
    lam64 = 1.0 / np.arange(1, 65)
    gam, K = np.linspace(1e-3, 1e-2, 100), np.geomspace(10, 1e6, 100).round()
    theory.error_terms(lam64, 1000, 0.2, gam[:2], n_steps=K[:2])  # compile the kernel loop
    res["grid_1e4_s"] = best(lambda: theory.error_terms(lam64, 1000, 0.2, gam, n_steps=K), repeats=3)
    a = 1.0 / (lam + 0.01)
    gamma, steps = 1e-3, 10_000

    def loop():
        v = np.ones_like(a)
        b2 = (1 - gamma * a) ** 2
        for _ in range(steps):
            v = b2 * v + 2 * gamma
        return v

    closed = samplers.ULA(gamma, n_steps=steps)
    np.testing.assert_allclose(closed.score_variance(a), loop(), rtol=1e-10)
    res["loop_ratio"] = best(loop, repeats=3) / best(lambda: closed.score_variance(a), repeats=5)
    return res


def report(res: dict) -> None:
    print(f"variance map + 2 derivatives, d = 1000, K = 1e12, per grid point: ULA {res['ula_k1e12_ms']:.3f} ms, "
          f"ULD {res['uld_k1e12_ms']:.3f} ms (target <= 1 ms)")
    print(f"theory on 1e4 grid points (gamma x n_steps), d = 64, ULA: {res['grid_1e4_s']:.3f} s (target <= 1 s)")
    print(f"closed form vs a per-step loop (d = 1000, K = 1e4): {res['loop_ratio']:.0f}x faster")


if __name__ == "__main__":
    main(__doc__, run, report)
