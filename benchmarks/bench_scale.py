"""Cost and peak memory against d: theory and Monte Carlo, diagonal and full models, on one core.

Each measurement runs in a fresh child process (its peak RSS is its own):

* ``diag theory``: :func:`gaussdsm.theory.error_terms`, diagonal model, 4 grid points (sigma 0.05 ... 0.2, gamma
  1e-3, tau 1e-4, N = 1e4), time per grid point;
* ``diag mc``: :func:`gaussdsm.montecarlo.monte_carlo_error`, diagonal model, ``draw='modes'``, 100 replicates;
* ``full theory``: the same 4 points, full model (compiled R7 and R8 double sums);
* ``full mc``: one replicate, full model (Wishart draw, ``eigh``, Gram product, ``eigvalsh``), against numpy's
  ``eigh`` + ``eigvalsh`` of a d x d matrix timed in the same child, best of ``ROUNDS`` alternated rounds:
  ``ratio``.

Prints the table with the fitted exponents of time against d, or (``--json``) one object with the issue's points:
``diag_theory_s`` and ``diag_mc100_s`` at d = 196608, ``diag_rss_gb`` (the larger of the two), ``full_theory_s``
(per grid point) and ``full_rss_gb`` at d = 3072, ``full_mc_ratio`` at d = 3072.
Usage: ``.venv/bin/python benchmarks/bench_scale.py [--json] [--quick]`` (``--quick``: the two largest d only).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

DIAG_D = (4096, 16384, 65536, 196608)
FULL_D = (384, 768, 1536, 3072)
SIGMAS = [0.05, 0.1, 0.15, 0.2]


ROUNDS = 2
"""Full Monte Carlo: best of this many alternated rounds of the replicate and of the reference."""


def child(kind: str, d: int) -> dict:
    """One measurement (in this process): ``{"s": seconds, "rss_gb": peak RSS, ...}``."""
    import resource
    import time

    from threadpoolctl import threadpool_limits

    from gaussdsm import montecarlo, theory

    lam = 1.0 / np.arange(1, d + 1)
    out = {}
    with threadpool_limits(1):
        theory.error_terms(lam[:8], 100, 0.1, 0.001, 1e-4)  # compile (cached) outside the timing
        t = time.perf_counter()
        if kind.endswith("theory"):
            model = "diagonal" if kind.startswith("diag") else "full"
            theory.error_terms(lam, 1e4, SIGMAS, 0.001, 1e-4, model=model)
            out["s"] = (time.perf_counter() - t) / len(SIGMAS)
        elif kind == "diag_mc":
            montecarlo.monte_carlo_error(lam, 1000, 0.1, 0.001, n_replicates=100, model="diagonal", draw="modes")
            out["s"] = time.perf_counter() - t
        else:  # best of ROUNDS, the replicate and the reference alternated (the machine's speed drifts)
            S = np.cov(np.random.default_rng(0).standard_normal((d, 2 * d)))
            mc, ref = [], []
            for _ in range(ROUNDS):
                t = time.perf_counter()
                montecarlo.monte_carlo_error(lam, 10 * d, 0.1, 0.001, n_replicates=1)
                mc.append(time.perf_counter() - t)
                t = time.perf_counter()
                np.linalg.eigh(S)
                np.linalg.eigvalsh(S)
                ref.append(time.perf_counter() - t)
            out["s"], out["ref_s"] = min(mc), min(ref)
            out["ratio"] = out["s"] / out["ref_s"]
    out["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def measure(kind: str, d: int) -> dict:
    res = subprocess.run([sys.executable, __file__, "--child", kind, str(d)], capture_output=True, text=True,
                         check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def exponent(ds, ts) -> float:
    return float(np.polyfit(np.log(ds), np.log(ts), 1)[0])


def run(quick: bool = False) -> dict:
    table = {}
    for kind, ds in (("diag_theory", DIAG_D), ("diag_mc", DIAG_D), ("full_theory", FULL_D), ("full_mc", FULL_D)):
        table[kind] = {d: measure(kind, d) for d in (ds[-2:] if quick else ds)}
    return table


def summary(table: dict) -> dict:
    dt, dm = table["diag_theory"][196608], table["diag_mc"][196608]
    ft, fm = table["full_theory"][3072], table["full_mc"][3072]
    return {"diag_theory_s": dt["s"], "diag_mc100_s": dm["s"], "diag_rss_gb": max(dt["rss_gb"], dm["rss_gb"]),
            "full_theory_s": ft["s"], "full_rss_gb": max(ft["rss_gb"], fm["rss_gb"]), "full_mc_ratio": fm["ratio"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="the two largest d only")
    p.add_argument("--child", nargs=2, metavar=("KIND", "D"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    table = run(args.quick)
    if args.json:
        print(json.dumps(summary(table), sort_keys=True))
        return
    print(f"{'measurement':<13} {'d':>7} {'time (s)':>10} {'peak RSS (GB)':>14} {'ratio':>7}")
    for kind, rows in table.items():
        for d, r in rows.items():
            ratio = f"{r['ratio']:7.2f}" if "ratio" in r else ""
            print(f"{kind:<13} {d:>7} {r['s']:>10.4f} {r['rss_gb']:>14.3f} {ratio}")
        ds = sorted(rows)
        print(f"{'':<13} fitted exponent of time in d: {exponent(ds, [rows[d]['s'] for d in ds]):.2f}")
    s = summary(table)
    print(f"targets: diag theory {s['diag_theory_s']:.3f} s/point (<= 0.1), diag MC 100 replicates "
          f"{s['diag_mc100_s']:.2f} s (<= 5), diag RSS {s['diag_rss_gb']:.2f} GB (<= 1); full theory "
          f"{s['full_theory_s']:.3f} s/point (<= 0.3), full RSS {s['full_rss_gb']:.2f} GB (<= 2), full MC "
          f"{s['full_mc_ratio']:.2f} x eigh + eigvalsh (<= 1.3)")


if __name__ == "__main__":
    main()
