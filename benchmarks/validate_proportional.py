"""Deterministic equivalents of the full denoiser's error (:mod:`gaussdsm.theory.proportional`) against Monte Carlo.

For d in (200, 1000), d/N in (0.25, 0.5, 1, 2, 4), two spectra and two samplers, the relative error
(theory - Monte Carlo)/Monte Carlo of E tr C, E KL(C || Sigma), E KL(Sigma || C), the two bounds on W2^2 (sorted
spectra below, ||Sigma^1/2 - C^1/2||_F^2 above) and E W2^2, and its z-score (the difference over the combined
standard error).  W2's value is itself Monte Carlo (its fidelity term has no deterministic equivalent:
:mod:`gaussdsm.theory.proportional`); its column compares two independent Monte Carlo estimates and is shown for
completeness.

* spectra: ``power``: lambda_k = 1/k; ``grass``: the bundled ``grass`` texture's power spectrum (262144 modes,
  ``gaussdsm.spectra.spectrum('texture', image='grass')``), subsampled to d at evenly spaced ranks among its nonzero
  eigenvalues and scaled to mean 1;
* samplers: ``ula``: stationary ULA, sigma = 0.1, gamma = 0.005; ``vp``: VP, Euler, 100 steps, t_min = 1e-2.

Monte Carlo: 100 replicates at d = 200, 40 at d = 1000 (exact eigendecompositions of the empirical covariance);
W2's fidelity from 4 more draws.  One BLAS thread.  Usage:
``.venv/bin/python benchmarks/validate_proportional.py [--json] [--dims 200 1000] [--replicates 100 20]``
(about 20 min).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from threadpoolctl import threadpool_limits

from gaussdsm.samplers.spec import build
from gaussdsm.spectra import spectrum
from gaussdsm.theory.proportional import deterministic_equivalent, monte_carlo_metrics, spectral_law

RATIOS = (0.25, 0.5, 1.0, 2.0, 4.0)
METRICS = ("kl_sample_data", "kl_data_sample", "w2")
COLUMNS = ("trace_C", "kl_sample_data", "kl_data_sample", "w2_lower_bound", "w2_upper_bound", "w2")
SAMPLERS = {
    "ula": (dict(kind="ula", gamma=0.005), 0.1),
    "vp": (dict(kind="diffusion", process="vp", scheme="euler", n_steps=100, t_min=1e-2), 0.0),
}


def texture_spectrum(d: int, image: str = "grass") -> np.ndarray:
    """A bundled texture's spectrum at d evenly spaced ranks of its nonzero eigenvalues, scaled to mean 1."""
    lam = spectrum("texture", image=image).lam
    lam = lam[lam > 0]
    sub = lam[np.round(np.linspace(0, lam.size - 1, d)).astype(int)]
    return sub / sub.mean()


SPECTRA = {"power": lambda d: 1.0 / np.arange(1, d + 1), "grass": texture_spectrum}


def run(dims, replicates, verbose: bool = True) -> list[dict]:
    rows = []
    for d, R in zip(dims, replicates):
        for sname, make in SPECTRA.items():
            lam = make(d)
            for ratio in RATIOS:
                N = int(round(d / ratio))
                t = time.perf_counter()
                law = spectral_law(lam, N)
                t_law = time.perf_counter() - t
                for name, (kw, sigma) in SAMPLERS.items():
                    kw = dict(kw)
                    s = build(kw.pop("kind"), **kw)
                    t = time.perf_counter()
                    de = {m: deterministic_equivalent(lam, N, sigma, sampler=s, metric=m, law=law,
                                                      fidelity_replicates=4 if m == "w2" else 0) for m in METRICS}
                    t_de = time.perf_counter() - t
                    mc = monte_carlo_metrics(lam, N, s, sigma, n_replicates=R, seed=1)
                    row = dict(d=d, spectrum=sname, ratio=ratio, n_samples=N, sampler=name, replicates=R,
                               n_stable=mc["n_stable"], law_s=t_law, theory_s=t_de, quad_error=law.quad_error)
                    theory = {**{k: (de["w2"].parts[k], 0.0) for k in ("trace_C", "w2_lower_bound", "w2_upper_bound")},
                              **{m: (de[m].mean, de[m].stderr) for m in METRICS}}
                    for col in COLUMNS:
                        th, th_se = theory[col]
                        ref, ref_se = mc[col]
                        row[col] = dict(theory=th, theory_se=th_se, mc=ref, mc_se=ref_se,
                                        rel=(th - ref) / abs(ref), z=(th - ref) / math.hypot(th_se, ref_se))
                    rows.append(row)
                    if verbose:
                        print(_line(row), flush=True)
    return rows


HEADER = (f"{'d':>5} {'spectrum':8} {'d/N':>5} {'sampler':7} " + " ".join(f"{c[:17]:>17}" for c in COLUMNS)
          + "   (relative error theory - MC, z-score; W2: MC vs MC)")


def _line(r: dict) -> str:
    cells = " ".join(f"{r[c]['rel']:>+9.1e} ({r[c]['z']:>+5.1f})" for c in COLUMNS)
    return f"{r['d']:>5} {r['spectrum']:8} {r['ratio']:>5g} {r['sampler']:7} {cells}"


def summary(rows: list[dict]) -> str:
    out = ["", "median |relative error| over spectra, d/N and samplers:"]
    for d in sorted({r["d"] for r in rows}):
        sel = [r for r in rows if r["d"] == d]
        out.append(f"  d = {d:5d}: " + "  ".join(f"{c} {np.median([abs(r[c]['rel']) for r in sel]):.2e}"
                                               for c in COLUMNS))
    return "\n".join(out)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true")
    p.add_argument("--dims", type=int, nargs="+", default=[200, 1000])
    p.add_argument("--replicates", type=int, nargs="+", default=[100, 40])
    a = p.parse_args()
    if not a.json:
        print(HEADER)
    with threadpool_limits(1):
        rows = run(a.dims, a.replicates, verbose=not a.json)
    if a.json:
        print(json.dumps(rows, sort_keys=True))
    else:
        print(summary(rows))
