"""Benchmark of the SGD engine (gaussdsm.sgd.fit_sgd, full model) on one core.

Measures, in one run with BLAS pinned to one thread (threadpoolctl.threadpool_limits(1)):

* ``engine``: effective GFLOP/s of :func:`gaussdsm.sgd.fit_sgd` (one replicate, B = 1, init
  "exact", one snapshot), counting 4 d^2 flops per sample-step (the two rank-1 operations of a
  plain step) and timing the whole call, random numbers included;
* ``naive``: the straightforward per-sample loop ``r = theta @ y - x; theta -= 2 c tau * np.outer(r, y)``,
  with the samples drawn 256 steps at a time by the engine's own sampler ``gaussdsm.sgd._draw``
  (so both include the same random-number cost);
* ``matmul``: numpy's (d x d) @ (d x 64) product rate, 2 d^2 64 flops per product;
* (table only) ``rng share``: ``1 - engine / engine_kernel``, the share of the engine's time spent
  outside the block arithmetic (drawing indices and d normals per sample, forming y = x + sigma w);
* (table and JSON, extra) ``engine_kernel`` and ``naive_kernel``: the same two updates on pre-drawn
  samples (x, y), i.e. the arithmetic alone, without the random numbers that both pay equally.

Each measurement is calibrated to ~0.3 s; all of them run round-robin, five rounds, the best of each kept
(the machine may be shared).

Usage::

    .venv/bin/python benchmarks/bench_sgd.py            # table
    .venv/bin/python benchmarks/bench_sgd.py --json     # {"d": {"64": {"engine_gflops": ..., ...}}}
    .venv/bin/python benchmarks/bench_sgd.py --dims 64 128 --seconds 1.0
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from gaussdsm.dsm import empirical_covariance
from gaussdsm.sgd import _draw, _full_blocks, default_block, fit_sgd
from gaussdsm.ziggurat import NO_WORDS, TABLES, NormalStream

SIGMA = 0.5
LOSS_FACTOR = 1.0


def _problem(d: int, seed: int = 0):
    lam = 1.0 / np.arange(1, d + 1)
    X = np.random.default_rng(seed).standard_normal((4 * d, d)) * np.sqrt(lam)
    s = np.linalg.eigvalsh(empirical_covariance(X)) + SIGMA**2
    tau = 0.05 / s.sum()  # well inside the R6b stability bound tau' S < 1
    return X, tau, float(s.min())


def _engine_time(X, tau, s_min, steps: int, block=None) -> tuple[float, int]:
    burn_in_factor = steps * 2 * LOSS_FACTOR * tau * s_min * (1 - 1e-12)
    t = time.perf_counter()
    res = fit_sgd(X, SIGMA, tau, [np.random.default_rng(1)], burn_in_factor=burn_in_factor,
                  loss_factor=LOSS_FACTOR, block=block)
    el = time.perf_counter() - t
    assert not res.diverged[0]
    return el, int(res.n_steps[0])


def _naive_time(X, tau, steps: int) -> tuple[float, int]:
    idx_rng, noise = np.random.default_rng(2), NormalStream(2)
    N, d = X.shape
    theta = np.zeros((d, d))
    c2t = 2 * LOSS_FACTOR * tau
    done = 0
    t = time.perf_counter()
    while done < steps:
        k = min(256, steps - done)
        xb, Y = _draw(idx_rng, noise, X, k, SIGMA)  # the engine's own sampler: same random-number cost
        for j in range(k):
            y = Y[j]
            r = theta @ y - xb[j]
            theta -= c2t * np.outer(r, y)
        done += k
    return time.perf_counter() - t, done


def _predrawn(X, n: int, seed: int = 6):
    rng = np.random.default_rng(seed)
    idx = rng.integers(X.shape[0], size=n)
    xb = X[idx]
    return idx, xb, xb + SIGMA * rng.standard_normal(xb.shape)


def _engine_kernel_time(X, tau, steps: int, block=None) -> tuple[float, int]:
    """The engine's compiled block loop (gaussdsm.sgd._full_blocks) on pre-drawn samples: arithmetic only."""
    d = X.shape[1]
    block = block or default_block(d)
    n = min(steps, 16384)
    idx, _, ys = _predrawn(X, n)
    theta = np.zeros((d, d), order="F")
    kappa = 2 * LOSS_FACTOR * tau
    t = time.perf_counter()
    for j in range(0, steps, n):
        m = min(n, steps - j)
        _full_blocks(theta.ravel(order="F"), X, idx[:m], NO_WORDS, ys[:m], SIGMA, kappa, m, 1, block, *TABLES)
    return time.perf_counter() - t, steps


def _naive_kernel_time(X, tau, steps: int) -> tuple[float, int]:
    """The straightforward per-sample loop on pre-drawn samples: arithmetic only."""
    n = min(steps, 16384)
    _, xs, ys = _predrawn(X, n)
    theta = np.zeros((X.shape[1], X.shape[1]))
    c2t = 2 * LOSS_FACTOR * tau
    t = time.perf_counter()
    for k in range(steps):
        y = ys[k % n]
        r = theta @ y - xs[k % n]
        theta -= c2t * np.outer(r, y)
    return time.perf_counter() - t, steps


def _matmul_time(d: int, reps: int) -> float:
    rng = np.random.default_rng(3)
    A, B = rng.standard_normal((d, d)), rng.standard_normal((d, 64))
    t = time.perf_counter()
    for _ in range(reps):
        A @ B
    return time.perf_counter() - t


def _calibrate(timer, seconds: float) -> int:
    """Unit count that makes ``timer`` run about ``seconds``, from short trials."""
    units = 64
    while True:
        el, done = timer(units)
        if el > 0.1:
            return max(1, int(done * seconds / el))
        units *= 4


def _rates(timers: dict, seconds: float, repeats: int) -> dict:
    """GFLOP/s of each ``name: (flops_per_unit, timer)``, best of ``repeats`` rounds.

    The timers run round-robin (engine, naive, matmul, ... then again), so that a burst of load from
    another process on this shared machine slows all of them alike instead of one measurement.
    """
    units = {k: _calibrate(t, seconds) for k, (_, t) in timers.items()}
    best = dict.fromkeys(timers, 0.0)
    for _ in range(repeats):
        for k, (flops, timer) in timers.items():
            el, done = timer(units[k])
            best[k] = max(best[k], flops * done / el / 1e9)
    return best


def measure(d: int, seconds: float, repeats: int = 5) -> dict:
    X, tau, s_min = _problem(d)
    _engine_time(X, tau, s_min, 256)  # load the compiled code before calibrating
    _engine_kernel_time(X, tau, 256)
    r = _rates({
        "engine_gflops": (4 * d * d, lambda n: _engine_time(X, tau, s_min, n)),
        "naive_gflops": (4 * d * d, lambda n: _naive_time(X, tau, n)),
        "matmul_gflops": (2 * d * d * 64, lambda n: (_matmul_time(d, n), n)),
        "engine_kernel_gflops": (4 * d * d, lambda n: _engine_kernel_time(X, tau, n)),
        "naive_kernel_gflops": (4 * d * d, lambda n: _naive_kernel_time(X, tau, n)),
    }, seconds, repeats)
    r["_rng_share"] = 1.0 - r["engine_gflops"] / r["engine_kernel_gflops"]  # time outside the block arithmetic
    return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--seconds", type=float, default=0.3, help="target duration of one measurement")
    ap.add_argument("--repeats", type=int, default=5, help="rounds of measurements (best kept)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args(argv)
    out = {}
    with threadpool_limits(1):
        for d in args.dims:
            out[str(d)] = measure(d, args.seconds, args.repeats)
            if not args.json:
                r = out[str(d)]
                if len(out) == 1:
                    print(f"{'d':>5} {'engine':>9} {'naive':>9} {'matmul':>9} {'eng/naive':>10} {'eng/matmul':>11}"
                          f" {'rng share':>10} {'kernels: eng':>13} {'naive':>7} {'ratio':>6}"
                          "   (GFLOP/s, 1 thread; rng share = 1 - engine/kernel: drawing the samples;"
                          " kernels = the updates on pre-drawn samples)")
                print(f"{d:>5} {r['engine_gflops']:>9.2f} {r['naive_gflops']:>9.2f} {r['matmul_gflops']:>9.2f} "
                      f"{r['engine_gflops'] / r['naive_gflops']:>10.1f} {r['engine_gflops'] / r['matmul_gflops']:>11.2f}"
                      f" {r['_rng_share']:>10.0%} {r['engine_kernel_gflops']:>13.2f} {r['naive_kernel_gflops']:>7.2f}"
                      f" {r['engine_kernel_gflops'] / r['naive_kernel_gflops']:>6.1f}", flush=True)
    if args.json:
        print(json.dumps({"d": {k: {n: x for n, x in v.items() if not n.startswith("_")} for k, v in out.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
