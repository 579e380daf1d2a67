"""Benchmark of the exact-at-every-N theory (:func:`gaussdsm.theory.exact_n.exact_error`), on one core.

d = 196608 (a 256 x 256 x 3 texture's size), diagonal model, power-law spectrum lambda_k = 1/k; the time of one grid
point (one sampler setting, one N, one metric), one run each (the machine is shared: times scatter), for N in
(1, 16, 4096) and:

* ``ula``: ULA, gamma = 0.01, sigma = 0.3 (stationary);
* ``diffusion``: VP, Heun, 100 steps, t_min = 1e-2 (exact scores).

Also the estimated relative quadrature error of each.  Target: <= 1 s per grid point.
Usage: ``.venv/bin/python benchmarks/bench_exact_n.py [--json]``.
"""

from __future__ import annotations

import numpy as np
from _common import best, main

from gaussdsm.theory.exact_n import exact_error

D = 196608
NS = (1, 16, 4096)
SAMPLERS = {
    "ula": dict(sampler="ula", gamma=0.01, sigma=0.3),
    "diffusion": dict(sampler="diffusion", process="vp", scheme="heun", n_steps=100, t_min=1e-2),
}


def run() -> dict:
    lam = 1.0 / np.arange(1, D + 1)
    out = {"d": D}
    for name, kw in SAMPLERS.items():
        for n in NS:
            res = []
            out[f"{name}_N{n}_s"] = best(lambda: res.append(exact_error(lam, n, **kw)), repeats=1)
            res = res[0]
            out[f"{name}_N{n}_quad_error"] = res.quad_error
    return out


def report(res: dict) -> None:
    print(f"exact_error at d = {res['d']} (one core), seconds per grid point (estimated quadrature error)")
    for name in SAMPLERS:
        print(f"  {name:10s}" + "".join(f"  N={n}: {res[f'{name}_N{n}_s']:.3f} s ({res[f'{name}_N{n}_quad_error']:.1e})"
                                      for n in NS))


if __name__ == "__main__":
    main(__doc__, run, report)
