"""Benchmark of a theory sweep through the one engine (``gaussdsm.error``, what ``gaussdsm error`` with several
values calls), on one core.

The sweep: 11 diffusion schemes (every scheme of VP but heun_churn, which needs EDM, and annealed Langevin) x 12
n_steps (5 ... 100) = 132 points on the power law d = 3072, theory only:

* ``population_s``: n_samples = inf (the bias and its split; no generalization kernel);
* ``diagonal_s``: n_samples = 1000, ``model='diagonal'`` (O(d) per point);
* ``full_s``: n_samples = 1000, ``model='full'`` (the O(d^2) kernel double sum per point: 132 x 9.4e6 terms);
* ``cli_s``: the command line's sweep table (``--n-samples inf``), in process.

One run each (the first call pays numba's cache loading).  Usage: ``.venv/bin/python benchmarks/bench_sweep.py
[--json] [--no-full]``.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time

from _common import main

import gaussdsm
from gaussdsm.cli import main as cli
from gaussdsm.samplers.diffusion import SCHEMES

SCHEMES_11 = [s for s in SCHEMES if s not in ("heun_churn", "annealed_langevin")][:11]  # the 11: em ... ipndm
STEPS = [5, 8, 10, 13, 16, 20, 25, 32, 40, 50, 64, 100]
FULL = "--no-full" not in sys.argv
if not FULL:
    sys.argv.remove("--no-full")


def timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def run() -> dict:
    common = dict(spectrum="power_law", d=3072, sampler="diffusion", scheme=SCHEMES_11, n_steps=STEPS, max_time=1e5)
    gaussdsm.error(**{**common, "scheme": "em", "n_steps": 10}, n_samples=1000, model="diagonal")  # warm-up
    out = {"points": len(SCHEMES_11) * len(STEPS), "d": 3072}
    out["population_s"] = timed(lambda: gaussdsm.error(**common, n_samples=float("inf")))
    out["diagonal_s"] = timed(lambda: gaussdsm.error(**common, n_samples=1000, model="diagonal"))
    args = ["error", "--sampler", "diffusion", "--d", "3072", "--n-samples", "inf", "--scheme", ",".join(SCHEMES_11),
            "--n-steps", ",".join(map(str, STEPS))]
    with contextlib.redirect_stdout(io.StringIO()):
        out["cli_s"] = timed(lambda: cli(args))
    if FULL:
        out["full_s"] = timed(lambda: gaussdsm.error(**common, n_samples=1000))
    return out


def report(r: dict) -> None:
    print(f"{r['points']} points ({len(SCHEMES_11)} schemes x 12 n_steps: {', '.join(SCHEMES_11)}), d = {r['d']}, theory only:")
    for k, what in (("population_s", "n_samples = inf"), ("diagonal_s", "N = 1000, diagonal model"),
                    ("cli_s", "gaussdsm error (table), n_samples = inf"), ("full_s", "N = 1000, full model")):
        if k in r:
            print(f"  {what:<42} {r[k]:7.2f} s")


if __name__ == "__main__":
    main(__doc__, run, report)
