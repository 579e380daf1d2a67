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

__all__ = ["Cost", "BudgetError", "estimate", "available_mb", "check", "RATES", "StudyCost", "study_cost",
           "study_lines", "JOB_OVERHEAD_S"]

RATES = {
    "theory_full_ns_per_d2": 6.0,  # first-order kernel (R7 with F), per grid point: O(d²) compiled loop
    "theory_diag_ns_per_d": 0.05,  # diagonal / Fourier models: O(d)
    "mc_full_ns_per_d3": 0.35,  # exact fit, full model, per replicate: Wishart draw, eigh, W2 (O(d³))
    "mc_samples_ns_per_nd2": 1.0,  # N < d: the N x d training set and X^T X (GEMM)
    "mc_diag_ns_per_d": 20.0,  # diagonal / Fourier models, per replicate: chi-square draws, O(d)
    "sgd_ns_per_d2_step": 0.4,  # one SGD sample-step: 4 d² flops at ~10 GFLOP/s (benchmarks/bench_sgd.py)
    "mc_full_setting_ns_per_d3": 0.07,  # full model, per replicate and sampler setting: the law U F(mu) U^T and W2
    #   (a product and an eigvalsh; 93 min for 200 replicates x 9 settings at d = 3072 in one job)
    "law_ns_per_eval_mode": 1.0,  # a step's law, per score evaluation, mode and replicate (compiled scan, O(d))
    "sgd_law_ns_per_d3": 0.35,  # a general score matrix's law and W2 (SGD snapshots), per replicate and snapshot
    "continuous_trained_ns_per_mode": 2e4,  # a trained score's continuous-time law by quadrature, per mode and
    #   replicate (samplers.diffusion.continuous; 0.9-1.8 s for 1e5 modes measured)
}
"""Seconds of work per unit, in nanoseconds (2-core reference VM)."""
JOB_OVERHEAD_S = 0.7
"""Seconds of one job besides its work: a Python start, the imports, reading and writing its files."""
FIGURE_S = 3.0
"""Seconds of one figure job (a panel drawn and written in every format)."""


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


@dataclass(frozen=True)
class StudyCost:
    """What one study of a workflow will cost (:func:`study_cost`).

    Attributes
    ----------
    jobs : dict
        ``{rule: number of jobs}`` of the study (its figures as ``figures``).
    cpu_seconds : float
        The whole study, every job, one core each.
    job_seconds : dict
        ``{rule: seconds}``: the longest job of each Monte-Carlo rule (``fit_scores``, ``run_sampler``).
    memory_mb : float
        Estimated peak memory of a Monte-Carlo job (:func:`gaussdsm.montecarlo.peak_memory_mb`).
    """

    jobs: dict
    cpu_seconds: float
    job_seconds: dict
    memory_mb: float


def _setting_seconds(study, d: int, R: int, N: float) -> dict:
    """Seconds per fit point of each sampler setting (``{setting: s}``): its law and error for R replicates."""
    spec = study.sampler
    full = study.model == "full"
    ns = 1e-9
    out = {}
    for setting in spec.settings():
        if study.fits_scores:  # SGD snapshots: a general matrix's law per replicate and snapshot
            snaps = int(study.config["fit"]["sgd"]["n_snapshots"])
            out[setting] = R * snaps * (RATES["sgd_law_ns_per_d3"] * d**3 if full else RATES["mc_diag_ns_per_d"] * d) * ns
            continue
        per = RATES["mc_full_setting_ns_per_d3"] * d**3 if full else RATES["mc_diag_ns_per_d"] * d
        if spec.diffusion:
            smp = spec.make(setting)
            nfe = smp.nfe if math.isfinite(smp.nfe) else 1.0
            per += RATES["law_ns_per_eval_mode"] * nfe * d
            tr = getattr(smp, "training", None)
            if tr is not None and math.isinf(smp.nfe):
                per += RATES["continuous_trained_ns_per_mode"] * d
            if tr is not None and tr.noise == "drawn" and math.isfinite(N):  # gradient descent on the N points
                steps = float(tr.train_time) / float(tr.lr) if tr.lr else 0.0
                levels = len(smp.score_times())
                per += RATES["mc_samples_ns_per_nd2"] * steps * levels * N * d * d + RATES["sgd_law_ns_per_d3"] * nfe * d**3
        out[setting] = R * per * ns
    return out


def study_cost(study) -> StudyCost:
    """Estimated jobs, CPU time and memory of one study (:class:`gaussdsm.study.Study`) before it runs.

    Per Monte-Carlo chunk (:attr:`~gaussdsm.study.Study.chunk_ids`: ``montecarlo.points_per_job`` fit points times
    the values of ``montecarlo.split``): the exact fits (one draw and decomposition per replicate and N: full
    model ``mc_full_ns_per_d3 d^3``, plus the ``N x d`` training set where it is drawn; diagonal models O(d)), then
    per fit point, replicate and setting the law and its error (:data:`RATES`: ``mc_full_setting_ns_per_d3 d^3`` for
    the full model, ``law_ns_per_eval_mode`` per score evaluation and mode for a diffusion sampler, gradient descent
    on the N points for ``fit.noise: drawn``); SGD studies: the chains of ``fit_scores`` as :func:`estimate`, a
    general matrix's law per snapshot.  Every job adds :data:`JOB_OVERHEAD_S`.  Rough rates (module docstring): for
    warnings and planning to a factor of about 2, not for accounting.
    """
    from .montecarlo import peak_memory_mb

    cfg, mc = study.config, study.config["montecarlo"]
    d, R = int(study.spectrum.d), int(mc["n_replicates"])
    full = study.model == "full"
    ns = 1e-9
    draw = study.draw
    lam_min = float(max(min(study.lam), 0.0))

    def fit_seconds(N: float) -> float:  # the fits of one N (shared by the chunk's sigmas and the settings)
        if math.isinf(N) or study.fits_scores:
            return 0.0
        per = RATES["mc_full_ns_per_d3"] * d**3 if full else RATES["mc_diag_ns_per_d"] * d
        if full and (draw == "samples" or N < d):
            per += RATES["mc_samples_ns_per_nd2"] * N * d * d
        return R * per * ns

    def sgd_seconds(p: dict) -> float:  # fit_scores: one point's chains (and its exact fits)
        c = estimate(d, model=study.model, n_samples=p["n_samples"], mc=R, tau=p.get("tau", 0.0), lam_min=lam_min,
                     sigma=p.get("sigma", 0.0), loss_factor=float(cfg["fit"]["loss_factor"]))
        return c.seconds

    groups = study.setting_groups
    by_n = {}
    for p in study.fit_points:
        N = float(p["n_samples"])
        if N not in by_n:
            by_n[N] = _setting_seconds(study, d, 1 if math.isinf(N) else R, N)
    group_settings = {}
    spec = study.sampler
    names = list(spec.axes)
    for g, values in groups.items():
        group_settings[g] = [st for st in spec.settings()
                             if all(st[names.index(a)] == v for a, v in values.items())]
    run_s, fit_s = [], []
    for c in study.fit_chunk_ids:
        points = study.chunk_points(c)
        Ns = {float(p["n_samples"]) for p in points}
        fits = sum(fit_seconds(N) for N in Ns)
        for g, settings in group_settings.items():
            law = sum(by_n[float(p["n_samples"])][st] for p in points for st in settings)
            run_s.append(JOB_OVERHEAD_S + fits + law)
        if study.fits_scores:
            fit_s.append(JOB_OVERHEAD_S + sum(sgd_seconds(p) for p in points))
    n_theory = len(study.fit_points) * len(spec.settings())
    theory = JOB_OVERHEAD_S + n_theory * (RATES["theory_full_ns_per_d2"] * d * d if full
                                          else RATES["theory_diag_ns_per_d"] * d) * ns
    jobs = {"spectra": 1, "analytic_error": 1, "aggregate": 1}
    if fit_s:
        jobs["fit_scores"] = len(fit_s)
    jobs["run_sampler"] = len(run_s)
    jobs["figures"] = len(study.panels)
    cpu = sum(run_s) + sum(fit_s) + theory + 2 * JOB_OVERHEAD_S + FIGURE_S * len(study.panels)
    job_seconds = {"run_sampler": max(run_s, default=0.0)}
    if fit_s:
        job_seconds["fit_scores"] = max(fit_s)
    split = study.split_axes
    n_settings = math.prod(len(v) for a, v in spec.axes.items() if a not in split)
    finite = [n for n in study.grid["n_samples"] if math.isfinite(n)]
    memory = peak_memory_mb(d, R, n_settings, min(int(mc["points_per_job"]), len(study.fit_points)),
                            model=study.model, draw=draw, method=cfg["fit"]["method"],
                            n_samples=max(finite, default=0),
                            n_snapshots=int(cfg["fit"]["sgd"]["n_snapshots"]) if study.fits_scores else 1)
    return StudyCost(jobs, cpu, job_seconds, memory)


def _fix(study, rule: str) -> str:
    """What to change in a study whose ``rule`` jobs run too long: the config keys, most effective first."""
    mc = study.config["montecarlo"]
    hints = []
    if int(mc["points_per_job"]) > 1 and len(study.fit_points) > 1:
        hints.append("lower montecarlo.points_per_job")
    unsplit = [a for a, v in study.sampler_axes.items() if len(v) > 1 and a not in study.split_axes]
    if rule == "run_sampler" and unsplit:
        hints.append(f"add {unsplit[0]} to montecarlo.split")
    hints.append("lower montecarlo.n_replicates")
    return ", ".join(hints) + f", or raise the limit (--set-resources {rule}:runtime=MINUTES)"


def study_lines(studies, runtime_min: dict) -> list[str]:
    """The estimate of each study (one line each) and a warning for each Monte-Carlo rule whose longest job would
    exceed its time limit.

    Parameters
    ----------
    studies : sequence of gaussdsm.study.Study
    runtime_min : dict
        ``{rule: minutes}``: the time limit of ``fit_scores`` and ``run_sampler`` jobs (their ``runtime`` resource).

    Returns
    -------
    list of str
    """
    lines, warnings, costs = [], [], []
    for st in studies:
        c = study_cost(st)
        costs.append(c)
        mc_jobs = c.jobs.get("run_sampler", 0) + c.jobs.get("fit_scores", 0)
        longest = max(c.job_seconds, key=c.job_seconds.get)
        lines.append(f"estimate {st.name}: {sum(c.jobs.values())} jobs ({mc_jobs} Monte Carlo), "
                     f"{_duration(c.cpu_seconds)} CPU; Monte-Carlo job up to {_duration(c.job_seconds[longest])}, "
                     f"{c.memory_mb:,.0f} MB (mem_mb {int(st.config['montecarlo']['mem_mb'])})")
        for rule, seconds in c.job_seconds.items():
            limit = runtime_min.get(rule)
            if limit is not None and seconds > 60.0 * float(limit):
                warnings.append(f"WARNING studies.{st.name}: a {rule} job would run about {_duration(seconds)} > its "
                                f"time limit {float(limit):g} min (resource runtime); {_fix(st, rule)}")
    if len(costs) > 1:
        lines.append(f"estimate total: {sum(sum(c.jobs.values()) for c in costs)} jobs of the studies, "
                     f"{_duration(sum(c.cpu_seconds for c in costs))} CPU")
    return lines + warnings
