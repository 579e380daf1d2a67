"""The validated configuration turned into every stage's arguments: studies, grid points, chunks, targets.

:class:`Study` is one study (``studies.<name>``): its spectrum, grid, fit points and chunks, and the arguments
of each stage (``spectrum_args``, ``fit_args(chunk)``, ``sampler_args``, ``theory_args``); :class:`Plan` is the
whole configuration: the studies and comparisons to run and the files ``rule all`` asks for.  The workflow's
``common.smk`` only maps wildcards to these; every value reaches the jobs through ``params:``.

The grid is the Cartesian product of ``grid.n_samples x grid.sigma x grid.gamma
x grid.tau``.  The learned score does not depend on the Langevin step, so the
Monte-Carlo work is organised by **fit points** ``(n_samples, sigma, tau)``:
``fit_scores`` learns the scores of a chunk of fit points once, and
``run_langevin`` evaluates every ``gamma`` on them (common random numbers across
``gamma``; the training sets also only depend on ``n_samples``, so curves in
``sigma`` share them too).

Cross-field checks that the JSON schema cannot express live in
:func:`check_config`; they run when the Snakefile is parsed, before any job.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .figures import PANELS, comparison_panels, study_panels
from .spectra import make_spectrum

__all__ = ["ConfigError", "Study", "Plan", "check_config"]

SPECTRUM_KEYS = ("alpha", "scale", "beta", "omega0", "values", "file")


class ConfigError(ValueError):
    """An invalid study configuration; the message names the config key(s) and the allowed range."""


def _fmt(x: float) -> str:
    return format(float(x), ".6g")


@dataclass(frozen=True)
class FitPoint:
    n_samples: int
    sigma: float
    tau: float

    def as_dict(self) -> dict:
        return {"n_samples": int(self.n_samples), "sigma": float(self.sigma), "tau": float(self.tau)}


class Study:
    """Grid points and chunks of one study of a validated configuration (defaults filled by the schema).

    Parameters
    ----------
    name : str
        The study's key under ``studies:``.
    config : dict
        That study's section (``spectrum``, ``grid``, ``fit``, ...).
    seed : int
        The configuration's base seed (top-level ``seed``).
    """

    def __init__(self, name: str, config: dict, seed: int = 0):
        self.name = name
        self.config = config
        self.seed = int(seed)

    @property
    def spectrum_params(self) -> dict:
        sp = self.config["spectrum"]
        out = {"kind": sp["kind"], "d": int(sp["d"])}
        out.update({k: sp[k] for k in SPECTRUM_KEYS if sp.get(k) is not None})
        return out

    @cached_property
    def lam(self) -> np.ndarray:
        p = dict(self.spectrum_params)
        return make_spectrum(p.pop("kind"), p.pop("d"), **p)

    @property
    def grid(self) -> dict[str, list]:
        g = self.config["grid"]
        return {
            "n_samples": sorted(int(n) for n in g["n_samples"]),
            "sigma": sorted(float(s) for s in g["sigma"]),
            "gamma": sorted(float(s) for s in g["gamma"]),
            "tau": sorted(float(s) for s in g["tau"]),
        }

    @property
    def fit_points(self) -> list[FitPoint]:
        g = self.grid
        return [FitPoint(*p) for p in itertools.product(g["n_samples"], g["sigma"], g["tau"])]

    @property
    def chunk_ids(self) -> list[str]:
        n = len(self.fit_points)
        per = int(self.config["montecarlo"]["points_per_job"])
        return [f"{j:03d}" for j in range((n + per - 1) // per)]

    def chunk_points(self, chunk_id: str) -> list[dict]:
        per = int(self.config["montecarlo"]["points_per_job"])
        j = int(chunk_id)
        return [p.as_dict() for p in self.fit_points[j * per : (j + 1) * per]]

    @property
    def panels(self) -> list[str]:
        return list(self.config["panels"])

    # ----------------------------------------------------------------- arguments of the stages (gaussdsm.stages)

    def spectrum_args(self) -> dict:
        """Keyword arguments of :func:`gaussdsm.stages.spectra` (besides the output)."""
        return {"spectrum": self.spectrum_params}

    def fit_args(self, chunk_id: str) -> dict:
        """Keyword arguments of :func:`gaussdsm.stages.fit_scores`: the chunk's points and everything that
        determines the learned scores (not the sampler's parameters: scores are shared across them)."""
        fit, mc = self.config["fit"], self.config["montecarlo"]
        return {
            "points": self.chunk_points(chunk_id),
            "seed": self.seed,
            "n_replicates": int(mc["n_replicates"]),
            "draw": mc["draw"],
            "method": fit["method"],
            "model": fit["model"],
            "loss_factor": float(fit["loss_factor"]),
            "sgd": {k: v for k, v in fit["sgd"].items() if k != "allow_unstable"},  # a config check only
        }

    def sampler_args(self) -> dict:
        """Keyword arguments of :func:`gaussdsm.stages.run_langevin`."""
        return {"gamma": self.grid["gamma"]}

    def theory_args(self) -> dict:
        """Keyword arguments of :func:`gaussdsm.stages.analytic_error`."""
        fit = self.config["fit"]
        return {"grid": self.grid, "model": fit["model"], "loss_factor": float(fit["loss_factor"]),
                "batch_size": int(fit["sgd"]["batch_size"])}


def _stability_errors(study: Study, where: str) -> list[str]:
    lam_min = float(study.lam.min())
    errors = []
    allow = study.config["sampler"]["allow_unstable"]
    if not allow:
        bad = [
            (s, g)
            for s in study.grid["sigma"]
            for g in study.grid["gamma"]
            if g >= 2.0 * (lam_min + s**2)
        ]
        if bad:
            pairs = ", ".join(f"(sigma={_fmt(s)}, gamma={_fmt(g)}: bound {_fmt(2 * (lam_min + s**2))})" for s, g in bad[:4])
            errors.append(
                f"{where}.grid.gamma: ULA is unstable for gamma >= 2 (lam_min + sigma^2) with lam_min = {_fmt(lam_min)}; "
                f"offending {pairs}{' ...' if len(bad) > 4 else ''}. Lower grid.gamma, raise grid.sigma, or set "
                f"{where}.sampler.allow_unstable: true to record these points as diverged"
            )
    return errors


def _sgd_errors(study: Study, where: str) -> list[str]:
    """SGD stability (R6b, §7.1 batch formula) on the population spectrum, for every (sigma, tau > 0)."""
    from .theory import sgd_is_stable

    fit = study.config["fit"]
    sgd = fit["sgd"]
    if sgd["allow_unstable"]:
        return []
    bad = [
        (s, t)
        for s in study.grid["sigma"]
        for t in study.grid["tau"]
        if t > 0
        and not bool(sgd_is_stable(study.lam, s, t, fit["loss_factor"], sgd["batch_size"], fit["model"]))
    ]
    if not bad:
        return []
    pairs = ", ".join(f"(sigma={_fmt(s)}, tau={_fmt(t)})" for s, t in bad[:4])
    return [
        f"{where}.grid.tau: SGD is unstable (second moments diverge: c tau S >= 1 with S = sum_j s_j / (1 - 2 c tau s_j), "
        f"s = lam + sigma^2, R6b; batch formula of theory.md §7.1 for fit.sgd.batch_size > 1) at {pairs}"
        f"{' ...' if len(bad) > 4 else ''}. Lower grid.tau, or set {where}.fit.sgd.allow_unstable: true to record "
        f"these points as diverged"
    ]


def _check_study(name: str, cfg: dict, seed: int) -> tuple[Study, list[str]]:
    where = f"studies.{name}"
    errors = []
    study = Study(name, cfg, seed)
    try:
        study.lam
    except ValueError as err:
        return study, [f"{where}.{err}"]
    method = cfg["fit"]["method"]
    taus = study.grid["tau"]
    if method == "exact" and any(t != 0 for t in taus):
        errors.append(
            f"{where}.grid.tau must be [0.0] when fit.method is 'exact' (the exact fit has no SGD step); "
            f"got {taus}. Use fit.method: sgd to study the optimization error"
        )
    if method == "sgd":
        errors += _sgd_errors(study, where)
    errors += _stability_errors(study, where)
    for panel in cfg["panels"]:
        p = PANELS.get(panel)
        why = f"unknown panel {panel!r}; known: {study_panels()}" if p is None or p.kind != "study" else (
            p.check(cfg) if p.check else None)
        if why:
            errors.append(f"{where}.panels: {why}")
    return study, errors


def check_config(config: dict) -> dict[str, Study]:
    """Cross-field checks of a schema-validated configuration.

    Returns
    -------
    dict
        ``{name: Study}`` for every study under ``studies:``.

    Raises
    ------
    ConfigError
        Listing every problem, each naming the config key (``studies.<name>.<key>``) and the allowed range.
    """
    errors = []
    studies = {}
    for name, cfg in config["studies"].items():
        studies[name], errs = _check_study(name, cfg, config.get("seed", 0))
        errors += errs
    if "comparisons" in studies:
        errors.append("studies.comparisons: the name 'comparisons' is reserved (results/comparisons/ holds comparison figures)")
    for cname, comp in config.get("comparisons", {}).items():
        missing = [s for s in comp["studies"] if s not in studies]
        if missing:
            errors.append(f"comparisons.{cname}.studies names unknown studies {missing}; known: {sorted(studies)}")
        p = PANELS.get(comp["panel"])
        if p is None or p.kind != "comparison":
            errors.append(f"comparisons.{cname}.panel: unknown comparison {comp['panel']!r}; known: {comparison_panels()}")
        elif p.check and not missing:
            why = p.check([studies[s].config for s in comp["studies"]])
            if why:
                errors.append(f"comparisons.{cname}: {why}")
    unknown = [s for s in config.get("run_studies", []) if s not in studies]
    if unknown:
        errors.append(f"run_studies names unknown studies {unknown}; known: {sorted(studies)}")
    if errors:
        raise ConfigError("Invalid config:\n  - " + "\n  - ".join(errors))
    return studies


class Plan:
    """A whole validated configuration: its studies and comparisons, what ``snakemake`` runs and produces.

    Runs :func:`check_config` (raises :class:`ConfigError` before any job).  Paths follow the workflow's layout:
    ``results/<study>/...`` and ``results/comparisons/<name>/...``.
    """

    def __init__(self, config: dict):
        self.config = config
        self.studies = check_config(config)
        self.run_studies = list(config.get("run_studies") or self.studies)
        self.comparisons = dict(config.get("comparisons", {}))
        self.run_comparisons = [
            c for c, v in self.comparisons.items() if all(s in self.run_studies for s in v["studies"])
        ]
        self.formats = list(config["figures"]["formats"])
        self.dpi = int(config["figures"]["dpi"])

    def figure_files(self, stem: str) -> list[str]:
        """``<stem>.nc`` (the data) and ``<stem>.<format>`` for every figure format."""
        return [f"{stem}.nc"] + [f"{stem}.{ext}" for ext in self.formats]

    def langevin_chunks(self, study: str) -> list[str]:
        return [f"results/{study}/langevin/chunk-{c}.nc" for c in self.studies[study].chunk_ids]

    def comparison_summaries(self, name: str) -> list[str]:
        return [f"results/{s}/summary.nc" for s in self.comparisons[name]["studies"]]

    def targets(self) -> list[str]:
        """Every file ``rule all`` asks for: each run study's summary and figures, each runnable comparison."""
        out = []
        for name in self.run_studies:
            out.append(f"results/{name}/summary.nc")
            for panel in self.studies[name].panels:
                out += self.figure_files(f"results/{name}/figures/{panel}")
        for name in self.run_comparisons:
            out += self.figure_files(f"results/comparisons/{name}/{self.comparisons[name]['panel']}")
        return out
