"""Benchmark of the exact-at-every-N theory (:func:`gaussdsm.theory.exact_n.exact_error`), on one core.

d = 196608 (a 256 x 256 x 3 texture's size), diagonal model, power-law spectrum lambda_k = 1/k; the time of one grid
point (one sampler setting, one N, W2), one run each (the machine is shared: times scatter), for N in (1, 16, 4096)
and every sampler:

* ``ula``: ULA, gamma = 0.01, sigma = 0.3 (stationary); ``uld``: the same with friction 1;
* ``diffusion:<scheme>``: VP, 100 steps (annealed Langevin: 20 levels), t_min = 1e-2, exact scores, every scheme
  of the registry (heun_churn: EDM, t_min = 2e-3); ``trained``: Heun with scores trained by gradient flow for tau = 3.

The default path integrates a few modes and interpolates the others in log lambda (``interpolate=None``); the old
path integrates every mode (``interpolate=False``).  The old path is timed at N = 16 for ula, uld, diffusion:heun
and trained (its cost grows with the quadrature points: N = 1 is 5-10 times slower) and the speed-up given; both
values are printed with their relative difference.  Target: <= 1 s per grid point.
Usage: ``.venv/bin/python benchmarks/bench_exact_n.py [--json]``.
"""

from __future__ import annotations

import time

import numpy as np
from _common import main

from gaussdsm.samplers.diffusion import SCHEMES
from gaussdsm.theory.exact_n import exact_error

D = 196608
NS = (1, 16, 4096)
DIFFUSION = dict(sampler="diffusion", process="vp", n_steps=100, t_min=1e-2)
OWN = {"annealed_langevin": {"n_steps": 20}, "heun_churn": {"process": "edm", "t_min": 2e-3}}
"""Schemes' own settings (annealed Langevin: levels of 100 steps each; EDM's stochastic sampler: its process)."""
SAMPLERS = {
    "ula": dict(sampler="ula", gamma=0.01, sigma=0.3),
    "uld": dict(sampler="uld", gamma=0.01, sigma=0.3, friction=1.0),
    **{f"diffusion:{k}": dict(DIFFUSION, scheme=k, **OWN.get(k, {})) for k in SCHEMES},
    "trained": dict(DIFFUSION, scheme="heun", fit_method="gradient_flow", train_time=3.0),
}
OLD = ("ula", "uld", "diffusion:heun", "trained")
OLD_N = 16


def _timed(**kw):
    t = time.perf_counter()
    r = exact_error(**kw)
    return time.perf_counter() - t, r


def run() -> dict:
    lam = 1.0 / np.arange(1, D + 1)
    out = {"d": D, "samplers": list(SAMPLERS)}
    for name, kw in SAMPLERS.items():
        for n in NS:
            try:
                t, r = _timed(lam=lam, n_samples=n, **kw)
            except ValueError as err:  # a setting the sampler refuses
                out[f"{name}_error"] = str(err)
                break
            out[f"{name}_N{n}_s"], out[f"{name}_N{n}_mean"] = t, r.mean
            out[f"{name}_N{n}_quad_error"], out[f"{name}_N{n}_reason"] = r.quad_error, r.reason
        if name in OLD and f"{name}_error" not in out:
            t, r = _timed(lam=lam, n_samples=OLD_N, interpolate=False, **kw)
            out[f"{name}_old_N{OLD_N}_s"] = t
            out[f"{name}_old_N{OLD_N}_rel_diff"] = abs(r.mean / out[f"{name}_N{OLD_N}_mean"] - 1)
    return out


def report(res: dict) -> None:
    print(f"exact_error at d = {res['d']} (one core), seconds per grid point (estimated relative error)")
    worst = 0.0
    for name in res["samplers"]:
        if f"{name}_error" in res:
            print(f"  {name:30s}  refused: {res[f'{name}_error']}")
            continue
        times = [res[f"{name}_N{n}_s"] for n in NS]
        worst = max(worst, *times)
        line = f"  {name:30s}" + "".join(
            f"  N={n}: {res[f'{name}_N{n}_s']:6.3f} s ({res[f'{name}_N{n}_quad_error']:.0e})" for n in NS)
        if f"{name}_old_N{OLD_N}_s" in res:
            old = res[f"{name}_old_N{OLD_N}_s"]
            line += (f"  | every mode, N={OLD_N}: {old:.2f} s, speed-up {old / res[f'{name}_N{OLD_N}_s']:.0f}x, "
                     f"relative difference {res[f'{name}_old_N{OLD_N}_rel_diff']:.1e}")
        reasons = {res[f"{name}_N{n}_reason"] for n in NS} - {""}
        print(line + ("" if not reasons else "  note: " + "; ".join(reasons)))
    print(f"slowest point: {worst:.3f} s")


if __name__ == "__main__":
    main(__doc__, run, report)
