"""Benchmark of the best grid for a spectrum (:func:`gaussdsm.schedule.optimal_grid`), on one core.

* ``population_s``: a 10-step grid for a d = 3072 power-law spectrum (alpha = 1), the population score (bias
  alone, W2), for the schemes euler, ddim, em and heun on VP (each: the seconds, the value and the best baseline's);
  target <= 5 s each;
* ``finite_s``: the same for euler at N = 10^4 (bias + generalization of the first-order theory, full model).

Best of 1 repeat (the optimiser is deterministic).  Usage: ``.venv/bin/python benchmarks/bench_schedule.py [--json]``.
"""

from __future__ import annotations

import numpy as np
from _common import best, main

from gaussdsm.schedule import optimal_grid

LAM = 1.0 / np.arange(1, 3073)
SCHEMES = ("euler", "ddim", "em", "heun")


def _one(scheme, n_samples):
    out = {}

    def f():
        out["r"] = optimal_grid(LAM, n_samples=n_samples, process="vp", scheme=scheme, n_steps=10, t_min=1e-3)

    s = best(f, repeats=1)
    r = out["r"]
    base = min(v for v in r.baselines.values() if v is not None)
    return {"seconds": s, "value": r.value, "best_baseline": base, "nfev": r.nfev, "start": r.start}  # start: the grid the optimiser began from


def run() -> dict:
    return {"population_s": {s: _one(s, np.inf) for s in SCHEMES}, "finite_s": {"euler": _one("euler", 1e4)}}


def report(res: dict) -> None:
    for part, rows in res.items():
        for scheme, r in rows.items():
            print(f"{part:13} {scheme:6} {r['seconds']:7.2f} s  value {r['value']:.4e}  best baseline "
                  f"{r['best_baseline']:.4e}, started from {r['start']}, {r['nfev']} evaluations")


if __name__ == "__main__":
    main(__doc__, run, report)
