"""Benchmark of the diffusion samplers' exact laws, on one core.

* ``grid_s``: the population-score error E W2^2 (bias) of 6 schemes (em, ei, ddpm, euler, heun, rk4; VP) x 4
  n_steps (10, 100, 300, 1000) x 4 t_min (1e-4, 1e-3, 1e-2, 1e-1) x 2 initialisations (standard, exact) at d = 3072
  (power law): ``Diffusion.affine`` (compiled loop over the steps, vectorised over the eigenvalues; the law is
  affine in the start variance, so one pass serves both initialisations);
* ``loop_s``: the same 192 settings by a straightforward loop over the steps with numpy over the eigenvalues
  (``a = 1/(m2 lam + s2); alpha = ...; v = alpha^2 v + beta^2``, one pass per initialisation, the per-step
  coefficients given), and ``ratio = loop_s / grid_s``;
* ``steps_1e6_s``: one variance map with n_steps = 10^6 (VP, em) at d = 1000.

Best of 3 repeats.  Usage: ``.venv/bin/python benchmarks/bench_diffusion.py [--json]``.
"""

from __future__ import annotations

import itertools

import numpy as np
from _common import best, main

from gaussdsm.samplers import Diffusion
from gaussdsm.wasserstein import w2_squared_commuting

SCHEMES = ("em", "ei", "ddpm", "euler", "heun", "rk4")
KS, TMINS, INITS = (10, 100, 300, 1000), (1e-4, 1e-3, 1e-2, 1e-1), ("standard", "exact")


def engine(lam):
    out = []
    for sch, K, tm in itertools.product(SCHEMES, KS, TMINS):
        s = Diffusion("vp", sch, "uniform", K, tm)
        Phi, Psi, _ = s.affine(lam)
        for init in INITS:
            s.init = init
            F = Phi * s._start(lam) + Psi
            out.append(w2_squared_commuting(F, lam))
    return np.array(out)


def _alpha(scheme, c, k, lam):
    a = 1.0 / (c[k, 0] * lam + c[k, 1])
    if scheme in ("em", "ei", "ddpm"):
        return c[k, 6] - c[k, 7] * a
    h = c[k, 8]
    pk = c[k, 9] - c[k, 10] * a
    if scheme == "euler":
        return 1.0 + h * pk
    pn = c[k, 11] - c[k, 12] / (c[k, 2] * lam + c[k, 3])
    if scheme == "heun":
        return 1.0 + 0.5 * h * (pk + pn * (1.0 + h * pk))
    pm = c[k, 13] - c[k, 14] / (c[k, 4] * lam + c[k, 5])
    c2 = pm * (1.0 + 0.5 * h * pk)
    c3 = pm * (1.0 + 0.5 * h * c2)
    c4 = pn * (1.0 + h * c3)
    return 1.0 + h / 6.0 * (pk + 2.0 * c2 + 2.0 * c3 + c4)


def loop(lam):
    out = []
    for sch, K, tm in itertools.product(SCHEMES, KS, TMINS):
        s = Diffusion("vp", sch, "uniform", K, tm)
        c = s.coefficients()
        for init in INITS:
            s.init = init
            v = np.broadcast_to(np.asarray(s._start(lam), dtype=float), lam.shape).copy()
            for k in range(c.shape[0]):
                al = _alpha(sch, c, k, lam)
                v = al * al * v + c[k, 15]
            out.append(w2_squared_commuting(v, lam))
    return np.array(out)


def run() -> dict:
    lam = 1.0 / np.arange(1, 3073)
    engine(lam[:10])  # compile
    a, b = engine(lam), loop(lam)
    np.testing.assert_allclose(a, b, rtol=1e-9)
    res = {"grid_s": best(lambda: engine(lam)), "loop_s": best(lambda: loop(lam), repeats=1)}
    res["ratio"] = res["loop_s"] / res["grid_s"]
    lam1 = 1.0 / np.arange(1, 1001)
    s = Diffusion("vp", "em", "uniform", 10**6, 1e-3)
    res["steps_1e6_s"] = best(lambda: s.variance(lam1))
    return res


def report(res: dict) -> None:
    print(f"6 schemes x 4 n_steps x 4 t_min x 2 inits at d = 3072: {res['grid_s']:.3f} s (target <= 0.5 s); "
          f"straightforward numpy loop {res['loop_s']:.2f} s: {res['ratio']:.1f}x (target >= 10x)")
    print(f"n_steps = 1e6 at d = 1000: {res['steps_1e6_s']:.2f} s (target <= 2 s)")


if __name__ == "__main__":
    main(__doc__, run, report)
