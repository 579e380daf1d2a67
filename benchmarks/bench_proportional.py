"""Benchmark of the full denoiser's deterministic equivalents (:func:`gaussdsm.theory.proportional.deterministic_equivalent`),
on one core.

d = 3072 (a 32 x 32 x 3 image's size), power-law spectrum lambda_k = 1/k; the time of one grid point (one sampler
setting, one N, one metric: the spectral law solved afresh, then the metric), best of 3, for d/N in (0.25, 1, 4),
both KL metrics (deterministic equivalents; W2's fidelity term is Monte Carlo and not timed here), and:

* ``ula``: ULA, gamma = 0.005, sigma = 0.1 (stationary);
* ``vp``: VP, Euler, 100 steps, t_min = 1e-2 (exact scores).

Also the nodes of the spectral grid and the quadrature's sum-rule error.  Target: <= 1 s per grid point.
The first call compiles the solver (numba, cached on disk): a warm-up call is made first.
Usage: ``.venv/bin/python benchmarks/bench_proportional.py [--json]``.
"""

from __future__ import annotations

import numpy as np
from _common import best, main

from gaussdsm.samplers.spec import build
from gaussdsm.theory.proportional import deterministic_equivalent, spectral_law

D = 3072
RATIOS = (0.25, 1.0, 4.0)
METRICS = ("kl_sample_data", "kl_data_sample")
SAMPLERS = {
    "ula": (build("ula", gamma=0.005), 0.1),
    "vp": (build("diffusion", process="vp", scheme="euler", n_steps=100, t_min=1e-2), 0.0),
}


def run() -> dict:
    lam = 1.0 / np.arange(1, D + 1)
    deterministic_equivalent(lam[:64], 32, 0.1, sampler=SAMPLERS["ula"][0], metric="kl_sample_data")  # compile
    out = {"d": D}
    for ratio in RATIOS:
        N = int(round(D / ratio))
        law = spectral_law(lam, N)
        out[f"r{ratio:g}_nodes"] = int(law.x.size)
        out[f"r{ratio:g}_quad_error"] = law.quad_error
        for name, (s, sigma) in SAMPLERS.items():
            for metric in METRICS:
                out[f"r{ratio:g}_{name}_{metric}_s"] = best(
                    lambda: deterministic_equivalent(lam, N, sigma, sampler=s, metric=metric), repeats=3)
    return out


def report(res: dict) -> None:
    print(f"deterministic_equivalent at d = {res['d']} (one core), seconds per grid point")
    for ratio in RATIOS:
        cells = "  ".join(f"{name}/{metric}: {res[f'r{ratio:g}_{name}_{metric}_s']:.3f} s"
                          for name in SAMPLERS for metric in METRICS)
        print(f"  d/N = {ratio:<5g} ({res[f'r{ratio:g}_nodes']} nodes, sum rules {res[f'r{ratio:g}_quad_error']:.1e})"
              f"  {cells}")


if __name__ == "__main__":
    main(__doc__, run, report)
