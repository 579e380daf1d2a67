"""Benchmark of the diffusion samplers' exact laws, on one core.

* ``grid_s``: the population-score error E W2^2 (bias) of 6 schemes (em, ei, ddpm, euler, heun, rk4; VP) x 4
  n_steps (10, 100, 300, 1000) x 4 t_min (1e-4, 1e-3, 1e-2, 1e-1) x 2 initialisations (standard, exact) at d = 3072
  (power law): ``Diffusion.affine`` (compiled loop over the steps, vectorised over the eigenvalues; the law is
  affine in the start variance, so one pass serves both initialisations);
* ``loop_s``: the same 192 settings by a straightforward loop over the steps with numpy over the eigenvalues
  (``a = 1/(m2 lam + s2); alpha = ...; v = alpha^2 v + beta^2``, one pass per initialisation, the per-step
  coefficients given), and ``ratio = loop_s / grid_s``;
* ``solvers_s``, ``solvers_loop_s``, ``solvers_ratio``: the same for the practitioners' solvers, ddim, dpm_2 and
  dpmpp_2m on VP, cosine VP and flow matching, heun_churn on EDM (its grid), 4 n_steps x 4 t_min x 2 inits;
* ``steps_1e6_s``: one variance map with n_steps = 10^6 (VP, em) at d = 1000;
* ``law_s``, ``law_ratio``: the grid of ``grid_s`` and of ``solvers_s`` by the law derived from each scheme's step
  (``Diffusion.affine(compiled=False)``, :mod:`gaussdsm.samplers.diffusion.law`) instead of the compiled fast path,
  and its cost relative to it; ``law_jets_ratio`` the same for one law with derivatives (the theory's path), d = 3072,
  K = 100, every scheme with a fast path.

Best of 3 repeats.  Usage: ``.venv/bin/python benchmarks/bench_diffusion.py [--json]``.
"""

from __future__ import annotations

import itertools

import numpy as np
from _common import best, main

from gaussdsm.samplers import Diffusion
from gaussdsm.samplers.diffusion import layout as L
from gaussdsm.samplers.diffusion import compatible
from gaussdsm.wasserstein import w2_squared_commuting

SCHEMES = tuple(("vp", s) for s in ("em", "ei", "ddpm", "euler", "heun", "rk4"))
SOLVERS = tuple((p, s) for p in ("vp", "vp_cosine", "flow", "edm") for s in ("ddim", "dpm_2", "dpmpp_2m", "heun_churn")
                if compatible(p, s))
KS, TMINS, INITS = (10, 100, 300, 1000), (1e-4, 1e-3, 1e-2, 1e-1), ("standard", "exact")


def _sampler(process, scheme, K, tm):
    return Diffusion(process, scheme, "edm" if process == "edm" else "uniform", K, tm)


def engine(lam, settings=SCHEMES, compiled=None):
    out = []
    for (process, sch), K, tm in itertools.product(settings, KS, TMINS):
        s = _sampler(process, sch, K, tm)
        Phi, Psi, _ = s.affine(lam, compiled=compiled)
        for init in INITS:
            s.init = init
            F = Phi * s.start_variance(lam) + Psi
            out.append(w2_squared_commuting(F, lam))
    return np.array(out)


def _a(c, k, jm, js, lam):
    return 1.0 / (c[k, jm] * lam + c[k, js])


def _phi(c, k, where, lam):
    jm, js, j0, j1 = {"k": (L.M2K, L.S2K, L.Q0K, L.Q1K), "n": (L.M2N, L.S2N, L.Q0N, L.Q1N),
                      "m": (L.M2M, L.S2M, L.Q0M, L.Q1M)}[where]
    return (c[k, j0] * lam + c[k, j1]) * _a(c, k, jm, js, lam)


def _alpha(family, c, k, lam):
    a = _a(c, k, L.M2K, L.S2K, lam)
    if family == L.LINEAR:
        return c[k, L.A0] - (c[k, L.A1] - c[k, L.A2] * lam) * a
    if family == L.DPM2:
        return c[k, L.A0] - c[k, L.A1] * _a(c, k, L.M2M, L.S2M, lam) * (c[k, L.U0] * lam + c[k, L.U1]) * a
    h, pk, pn = c[k, L.H], _phi(c, k, "k", lam), _phi(c, k, "n", lam)
    if family == L.HEUN:
        return 1.0 + 0.5 * h * (pk + pn * (1.0 + h * pk))
    pm = _phi(c, k, "m", lam)
    c2 = pm * (1.0 + 0.5 * h * pk)
    c3 = pm * (1.0 + 0.5 * h * c2)
    c4 = pn * (1.0 + h * c3)
    return 1.0 + h / 6.0 * (pk + 2.0 * c2 + 2.0 * c3 + c4)


def loop(lam, settings=SCHEMES):
    out = []
    for (process, sch), K, tm in itertools.product(settings, KS, TMINS):
        s = _sampler(process, sch, K, tm)
        c, fam = s.coefficients(), s.record.fast.family
        for init in INITS:
            s.init = init
            v0 = np.broadcast_to(np.asarray(s.start_variance(lam), dtype=float), lam.shape)
            if fam == L.MULTISTEP:  # y_k = x_k y_0 with a two-term recurrence
                x, xp = np.ones_like(lam), np.zeros_like(lam)
                for k in range(c.shape[0]):
                    x, xp = ((c[k, L.A0] + c[k, L.A1] * lam * _a(c, k, L.M2K, L.S2K, lam)) * x
                             + c[k, L.A2] * lam * _a(c, k, L.M2P, L.S2P, lam) * xp), x
                v = x * x * v0
            else:
                v = v0.copy()
                for k in range(c.shape[0]):
                    al = _alpha(fam, c, k, lam)
                    v = al * al * (v + c[k, L.PRE]) + c[k, L.NOISE]
            out.append(w2_squared_commuting(v, lam))
    return np.array(out)


def run() -> dict:
    lam = 1.0 / np.arange(1, 3073)
    engine(lam[:10])  # compile
    a, b = engine(lam), loop(lam)
    np.testing.assert_allclose(a, b, rtol=1e-9)
    res = {"grid_s": best(lambda: engine(lam)), "loop_s": best(lambda: loop(lam), repeats=1)}
    res["ratio"] = res["loop_s"] / res["grid_s"]
    engine(lam[:10], SOLVERS)
    a, b = engine(lam, SOLVERS), loop(lam, SOLVERS)
    np.testing.assert_allclose(a, b, rtol=1e-9)
    res["solvers_s"] = best(lambda: engine(lam, SOLVERS))
    res["solvers_loop_s"] = best(lambda: loop(lam, SOLVERS), repeats=1)
    res["solvers_ratio"] = res["solvers_loop_s"] / res["solvers_s"]
    lam1 = 1.0 / np.arange(1, 1001)
    s = Diffusion("vp", "em", "uniform", 10**6, 1e-3)
    res["steps_1e6_s"] = best(lambda: s.variance(lam1))
    both = SCHEMES + SOLVERS
    engine(lam[:10], both, compiled=False)
    np.testing.assert_allclose(engine(lam, both, compiled=False), engine(lam, both), rtol=1e-9)
    res["law_s"] = best(lambda: engine(lam, both, compiled=False), repeats=1)
    res["law_ratio"] = res["law_s"] / (res["grid_s"] + res["solvers_s"])
    from gaussdsm import _jet

    x = _jet.variable(lam)
    ratios = []
    for process, sch in both:
        smp = _sampler(process, sch, 100, 1e-3)
        ratios.append(best(lambda: smp.affine(x, compiled=False)) / best(lambda: smp.affine(x, compiled=True)))
    res["law_jets_ratio"] = float(np.median(ratios))
    res["law_jets_ratio_max"] = float(np.max(ratios))
    return res


def report(res: dict) -> None:
    print(f"6 schemes x 4 n_steps x 4 t_min x 2 inits at d = 3072: {res['grid_s']:.3f} s (target <= 0.5 s); "
          f"straightforward numpy loop {res['loop_s']:.2f} s: {res['ratio']:.1f}x (target >= 10x)")
    n = len(SOLVERS) * len(KS) * len(TMINS) * len(INITS)
    print(f"{len(SOLVERS)} solver x process pairs ({', '.join('/'.join(p) for p in SOLVERS)}) x 4 n_steps x 4 t_min x "
          f"2 inits = {n} laws at d = 3072: {res['solvers_s']:.3f} s; numpy loop {res['solvers_loop_s']:.2f} s: "
          f"{res['solvers_ratio']:.1f}x (target >= 10x)")
    print(f"n_steps = 1e6 at d = 1000: {res['steps_1e6_s']:.2f} s (target <= 2 s)")
    print(f"the same {len(SCHEMES + SOLVERS) * len(KS) * len(TMINS)} laws derived from the schemes' steps (no compiled "
          f"fast path): {res['law_s']:.2f} s, {res['law_ratio']:.1f}x the fast path's time (target <= 2x); with "
          f"derivatives (d = 3072, K = 100): median {res['law_jets_ratio']:.1f}x, max {res['law_jets_ratio_max']:.1f}x")


if __name__ == "__main__":
    main(__doc__, run, report)
