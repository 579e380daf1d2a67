"""What a computation will cost before it runs: time and memory estimates, and a clear refusal above a limit.

The CLI (``gaussdsm error``) asks :func:`estimate` first and refuses, with the estimate and what to change, a
computation that would run out of memory or run longer than ``--max-time`` (the full model is O(d³) per Monte-Carlo
replicate and O(d²) per theory point: ``--d 20000 --model full --mc 20`` is about four hours here and needs more
memory than the machine has).  The rates are rough (measured on the project's 2-core reference VM, one number per
kind of work, within a factor of about 2 elsewhere): they are for refusing hopeless runs, not for planning.

Memory: :func:`gaussdsm.montecarlo.peak_memory_mb` (the same estimate the workflow checks against
``montecarlo.mem_mb``), against the memory available now (``MemAvailable``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

__all__ = ["Cost", "BudgetError", "estimate", "available_mb", "check", "RATES"]

RATES = {
    "theory_full_ns_per_d2": 6.0,  # first-order kernel (R7 with F), per grid point: O(d²) compiled loop
    "theory_diag_ns_per_d": 0.05,  # diagonal / Fourier models: O(d)
    "mc_full_ns_per_d3": 0.35,  # exact fit, full model, per replicate: Wishart draw, eigh, W2 (O(d³))
    "mc_samples_ns_per_nd2": 1.0,  # N < d: the N x d training set and X^T X (GEMM)
    "mc_diag_ns_per_d": 20.0,  # diagonal / Fourier models, per replicate: chi-square draws, O(d)
    "sgd_ns_per_d2_step": 0.4,  # one SGD sample-step: 4 d² flops at ~10 GFLOP/s (benchmarks/bench_sgd.py)
}
"""Seconds of work per unit, in nanoseconds (2-core reference VM)."""


@dataclass(frozen=True)
class Cost:
    """Estimated wall time (s) and peak memory (MB) of a computation, with what dominates it."""

    seconds: float
    memory_mb: float
    what: str

    def __str__(self) -> str:
        return f"about {_duration(self.seconds)} and {self.memory_mb:,.0f} MB ({self.what})"


class BudgetError(ValueError):
    """A computation would exceed the memory available or the time allowed (the message says which and how much)."""


def _duration(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def available_mb() -> float:
    """Memory available now (``MemAvailable`` of /proc/meminfo; physical memory elsewhere), MB."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20


def estimate(d: int, *, model: str, n_samples: float, mc: int = 0, tau: float = 0.0, lam_min: float = 1.0,
             sigma: float = 0.0, loss_factor: float = 1.0, theory_points: int = 1) -> Cost:
    """Cost of the theory at ``theory_points`` points and of ``mc`` Monte-Carlo replicates (exact fit, or SGD).

    Parameters
    ----------
    d : int
    model : {'full', 'diagonal', 'fourier'}
    n_samples : float
        ``inf``: the population score (one deterministic replicate).
    mc : int
        Monte-Carlo replicates (0: theory only).
    tau, lam_min, sigma, loss_factor
        SGD (``tau > 0``): the chain runs about ``8 / (2 c tau (lam_min + sigma²))`` steps (:mod:`gaussdsm.sgd`).
    """
    from .montecarlo import peak_memory_mb

    ns = 1e-9
    full = model == "full"
    t_theory = theory_points * (RATES["theory_full_ns_per_d2"] * d * d if full else RATES["theory_diag_ns_per_d"] * d)
    parts = {"theory": t_theory * ns}
    N = float(n_samples)
    if mc:
        reps = 1 if math.isinf(N) else int(mc)
        if full:
            per = RATES["mc_full_ns_per_d3"] * d**3 + (RATES["mc_samples_ns_per_nd2"] * N * d * d if N < d else 0.0)
        else:
            per = RATES["mc_diag_ns_per_d"] * d
        parts["Monte Carlo"] = reps * per * ns
        if tau > 0 and not math.isinf(N):
            steps = 8.0 / (2.0 * loss_factor * tau * (lam_min + sigma**2))
            parts["SGD"] = reps * steps * RATES["sgd_ns_per_d2_step"] * (d * d if full else d) * ns
    method = "sgd" if tau > 0 and mc else "exact"
    draw = "modes" if not full else ("samples" if N < d else "wishart")
    mem = peak_memory_mb(d, max(1, int(mc)), 1, 1, model=model, draw=draw, method=method,
                         n_samples=0 if math.isinf(N) else N, n_snapshots=4 if method == "sgd" else 1)
    if not mc:  # theory: O(d) per point (the compiled kernel loop), a few arrays of the grid
        from .montecarlo import BASE_MB

        mem = BASE_MB + 64 * 8.0 * d * max(1, theory_points) / 2**20
    main = max(parts, key=parts.get)
    what = f"{main}, model {model}, d = {d}" + (f", {mc} replicates" if mc and main != "theory" else "")
    return Cost(sum(parts.values()), mem, what)


def check(cost: Cost, max_seconds: float, max_mb: float | None = None) -> None:
    """Raise :class:`BudgetError` if ``cost`` exceeds ``max_seconds`` or ``max_mb`` (default: :func:`available_mb`)."""
    max_mb = available_mb() if max_mb is None else max_mb
    if cost.memory_mb > max_mb:
        raise BudgetError(f"needs an estimated {cost.memory_mb:,.0f} MB but {max_mb:,.0f} MB are available "
                          f"({cost}); use a smaller --d or --mc, or --model diagonal / fourier (O(d) memory)")
    if cost.seconds > max_seconds:
        raise BudgetError(f"would run for {cost} > --max-time {max_seconds:g} s; raise --max-time to run it "
                          f"anyway, or use a smaller --d or --mc, or --model diagonal / fourier (O(d) time)")
