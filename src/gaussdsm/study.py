"""The validated configuration turned into every stage's arguments: studies, grid points, chunks, targets.

:class:`Study` is one study (``studies.<name>``): its spectrum, grid, fit points and chunks, and the arguments
of each stage (``spectrum_args``, ``fit_args(chunk)``, ``sampler_args``, ``theory_args``); :class:`Plan` is the
whole configuration: the studies and comparisons to run and the files ``rule all`` asks for.  The workflow's
``common.smk`` only maps wildcards to these; every value reaches the jobs through ``params:``.

The grid is the Cartesian product of ``grid.n_samples x grid.sigma x grid.gamma x grid.tau`` and of the
sampler's own axes (``sampler.n_steps``, and ``sampler.friction`` for ULD).  The learned score does not depend
on the sampler, so the Monte-Carlo work is organised by **fit points** ``(n_samples, sigma, tau)``: a chunk of
fit points is fitted once and ``run_sampler`` evaluates the sampler's settings on it (common random numbers
across the sampler's settings; the training sets also only depend on ``n_samples``, so curves in ``sigma``
share them too), one job per value of the axes of ``montecarlo.split`` (:attr:`Study.chunk_ids`: ``000.n_steps-30``;
ids name values, never positions, so a new value adds jobs and changes no other).  SGD fits are learned in a stage of their own (``fit_scores``, expensive, stored); exact fits
are drawn inside ``run_sampler`` itself (one eigendecomposition of the empirical covariance per replicate serves
every sigma and setting; nothing of size ``R x d x d`` is stored).

Cross-field checks that the JSON schema cannot express live in
:func:`check_config`; they run when the Snakefile is parsed, before any job.
"""

from __future__ import annotations

import itertools
import math
from functools import cached_property

import numpy as np

from . import _checks, rules, samplers
from .samplers.spec import SamplerSpec
from .figures import PANELS, comparison_panels, study_panels
from .spectra import PARAM_KEYS, spectrum

__all__ = ["ConfigError", "Study", "Plan", "check_config", "provenance_config"]

FILE_KEYS = ("file", "image", "data")
"""Spectrum keys that may name an input file (then an input of the ``spectra`` rule: editing the file reruns it)."""
KERNEL_PANEL_MAX_D = 4096
"""The ``kernel`` panel draws d x d matrices: at most this d."""


DEFAULT_SPLIT = {"ula": [], "uld": [], "diffusion": ["n_steps"]}
"""``montecarlo.split`` by sampler kind when not given: a diffusion sampler's cost grows with its step count (one
job per ``n_steps`` value: a study of a few fit points uses every core, and a new step count runs only its own
jobs); the Langevin family's settings share each replicate's eigendecomposition (one job for all of them)."""
SPLIT_AXES = {"ula": ("gamma", "n_steps"), "uld": ("gamma", "n_steps", "friction"),
              "diffusion": ("scheme", "init", "n_steps", "t_min", "train_time")}
"""The axes ``montecarlo.split`` may name, by sampler kind."""


def _value_name(v) -> str:
    """A setting value in a chunk id: strings as they are, numbers as the random streams' keys write them."""
    from .montecarlo.streams import canonical_value

    return canonical_value(v if isinstance(v, str) else float(v))


class ConfigError(ValueError):
    """An invalid study configuration; the message names the config key(s) and the allowed range."""




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
        out = {"kind": sp["kind"]}
        if sp.get("d") is not None:
            out["d"] = int(sp["d"])
        out.update({k: sp[k] for k in PARAM_KEYS if sp.get(k) is not None})
        return out

    @cached_property
    def spectrum(self):
        """The study's :class:`gaussdsm.spectra.Spectrum` (computed once; data-derived kinds read their data)."""
        p = dict(self.spectrum_params)
        return spectrum(p.pop("kind"), p.pop("d", None), **p)

    @property
    def lam(self) -> np.ndarray:
        return self.spectrum.lam

    @property
    def spectrum_files(self) -> list[str]:
        """Files the spectrum is read from (inputs of the ``spectra`` rule)."""
        sp = self.config["spectrum"]
        from .spectra.data import is_file_name

        return [str(sp[k]) for k in FILE_KEYS if isinstance(sp.get(k), str) and is_file_name(sp[k])]

    @property
    def model(self) -> str:
        return self.config["fit"]["model"]

    @property
    def draw(self) -> str:
        """``montecarlo.draw``; ``auto``: ``modes`` for the Fourier model (its only draw), ``wishart`` otherwise."""
        d = self.config["montecarlo"].get("draw", "auto")
        return ("modes" if self.model in ("fourier", "conv") else "wishart") if d == "auto" else d

    @property
    def diffusion(self) -> bool:
        return self.config["sampler"]["kind"] == "diffusion"

    @property
    def grid(self) -> dict[str, list]:
        """The grid's lists (sorted; ``n_samples`` may hold inf; ``tau`` [0.0] by default)."""
        g = self.config["grid"]
        out = {"n_samples": sorted(_checks.count(n) for n in g["n_samples"])}
        for k in ("sigma", "gamma", "tau"):
            if k in g:
                out[k] = sorted(float(x) for x in g[k])
        return out

    @property
    def fit_axes(self) -> dict[str, list]:
        """The axes the learned score depends on: ``n_samples``, and ``sigma``, ``tau`` for the Langevin family
        (diffusion scores are the exact minimisers at every noise level: N only)."""
        g = self.grid
        return {"n_samples": g["n_samples"]} if self.diffusion else {k: g[k] for k in ("n_samples", "sigma", "tau")}

    @cached_property
    def sampler(self) -> SamplerSpec:
        """The sampler (:class:`gaussdsm.samplers.spec.SamplerSpec`: kind, grid axes, fixed parameters)."""
        return SamplerSpec.from_config(self.config["sampler"], self.grid.get("gamma", []), self.config["fit"])

    @property
    def sampler_axes(self) -> dict[str, list]:
        """The sampler's grid axes and their values."""
        return self.sampler.axes

    @property
    def fits_scores(self) -> bool:
        """True if the scores are learned in a stage of their own (SGD); exact fits are drawn in the sampler stage."""
        return self.config["fit"]["method"] == "sgd"

    @property
    def fit_points(self) -> list[dict]:
        axes = self.fit_axes
        return [dict(zip(axes, p)) for p in itertools.product(*axes.values())]

    @property
    def split_axes(self) -> list[str]:
        """``montecarlo.split``: the sampler axes whose values get Monte-Carlo jobs of their own (in the sampler's
        axis order); default :data:`DEFAULT_SPLIT` of the sampler kind."""
        split = self.config["montecarlo"].get("split")
        split = DEFAULT_SPLIT[self.sampler.kind] if split is None else split
        return [a for a in self.sampler_axes if a in split]

    @property
    def setting_groups(self) -> dict[str, dict]:
        """The sampler settings' share of the chunks: ``{suffix: {axis: value}}``, one per combination of the
        values of :attr:`split_axes` (``{"": {}}`` when nothing is split).

        The suffix names the values (``.n_steps-30``, ``.scheme-heun.n_steps-30``; numbers as
        :func:`gaussdsm.montecarlo.canonical_params` writes them), never their positions: adding a value to an axis
        adds chunks and leaves every other chunk's id and arguments unchanged.
        """
        axes = self.sampler_axes
        split = self.split_axes
        out = {}
        for combo in itertools.product(*(axes[a] for a in split)):
            out["".join(f".{a}-{_value_name(v)}" for a, v in zip(split, combo))] = dict(zip(split, combo))
        return out

    @property
    def fit_chunk_ids(self) -> list[str]:
        """Chunks of ``montecarlo.points_per_job`` fit points (``000``, ``001``, ...): the ``fit_scores`` jobs."""
        n = len(self.fit_points)
        per = int(self.config["montecarlo"]["points_per_job"])
        return [f"{j:03d}" for j in range((n + per - 1) // per)]

    @property
    def chunk_ids(self) -> list[str]:
        """The ``run_sampler`` jobs: every fit chunk times every setting group (``000.n_steps-30``, or ``000`` when
        nothing is split), fit chunk first."""
        groups = list(self.setting_groups)
        return [f"{c}{g}" for c in self.fit_chunk_ids for g in groups]

    @staticmethod
    def fit_chunk(chunk_id: str) -> str:
        """The fit chunk (``000``) of a sampler chunk id (``000.n_steps-30``)."""
        return chunk_id.split(".", 1)[0]

    def chunk_points(self, chunk_id: str) -> list[dict]:
        per = int(self.config["montecarlo"]["points_per_job"])
        j = int(self.fit_chunk(chunk_id))
        return [{k: (v if k != "n_samples" or math.isinf(v) else int(v)) for k, v in p.items()}
                for p in self.fit_points[j * per : (j + 1) * per]]

    def chunk_sampler(self, chunk_id: str) -> dict:
        """The sampler of one chunk (:meth:`SamplerSpec.as_dict`): the split axes reduced to the chunk's values."""
        out = self.sampler.as_dict()
        suffix = chunk_id[len(self.fit_chunk(chunk_id)):]
        groups = self.setting_groups
        if suffix not in groups:
            raise KeyError(f"unknown chunk {chunk_id!r} of study {self.name!r}; known: {self.chunk_ids}")
        for a, v in groups[suffix].items():
            out["axes"][a] = [v]
        return out

    @property
    def panels(self) -> list[str]:
        return list(self.config["panels"])

    @property
    def metrics(self) -> list[str]:
        """``metrics``: the error metrics reported (:data:`gaussdsm.metrics.METRICS`; default ``[w2]``); the first
        is the one the figures plot."""
        return list(self.config.get("metrics", ["w2"]))

    # ----------------------------------------------------------------- arguments of the stages (gaussdsm.stages)

    def spectrum_args(self) -> dict:
        """Keyword arguments of :func:`gaussdsm.stages.spectra` (besides the output)."""
        return {"spectrum": self.spectrum_params}

    def fit_args(self, chunk_id: str) -> dict:
        """Keyword arguments of :func:`gaussdsm.stages.fit_scores` (SGD studies): the chunk's points and everything
        that determines the learned scores (not the sampler's parameters: scores are shared across them)."""
        fit, mc = self.config["fit"], self.config["montecarlo"]
        return {
            "points": self.chunk_points(chunk_id),
            "seed": self.seed,
            "n_replicates": int(mc["n_replicates"]),
            "model": fit["model"],
            "loss_factor": float(fit["loss_factor"]),
            "sgd": {k: v for k, v in fit["sgd"].items() if k != "allow_unstable"},  # a config check only
        }

    def sampler_args(self, chunk_id: str) -> dict:
        """Keyword arguments of :func:`gaussdsm.stages.run_sampler`: the sampler's settings and, for exact fits
        (drawn in that stage), the chunk's points and what determines the training sets."""
        out = {"sampler": self.chunk_sampler(chunk_id)}
        if not self.fits_scores:
            mc = self.config["montecarlo"]
            out.update(points=self.chunk_points(chunk_id), seed=self.seed, n_replicates=int(mc["n_replicates"]),
                       draw=self.draw, model=self.model)
            if self.model == "conv":
                out["kernel_size"] = int(self.config["fit"]["kernel_size"])
        out["metrics"] = self.metrics
        return out

    def aggregate_args(self) -> dict:
        """Keyword arguments of :func:`gaussdsm.stages.aggregate`: the metrics in the study's order (the first is
        the one its figures plot)."""
        out = {"metrics": self.metrics}
        if self.split_axes:  # the chunks' settings are reassembled in the sampler's order
            out["axes"] = {a: list(v) for a, v in self.sampler_axes.items()}
        return out

    def theory_args(self) -> dict:
        """Keyword arguments of :func:`gaussdsm.stages.analytic_error`: the fit axes, the sampler, the conventions."""
        fit = self.config["fit"]
        out = {"grid": self.fit_axes, "sampler": self.sampler.as_dict(), "model": fit["model"],
               "loss_factor": float(fit["loss_factor"]), "batch_size": int(fit["sgd"]["batch_size"]),
               "metrics": self.metrics}
        if fit["model"] == "conv":
            out["kernel_size"] = int(fit["kernel_size"])
        if self.theory_kind != "expansion":  # (the default: the job's parameters as before)
            out["theory_kind"] = self.theory_kind
        return out

    @property
    def theory_kind(self) -> str:
        """``theory.kind``: the theory computed beside the expansion (:data:`gaussdsm.theory.kinds.CHOICES`)."""
        return (self.config.get("theory") or {}).get("kind", "expansion")


def _sampler_errors(study: Study, where: str) -> list[str]:
    """The sampler's own checks of its section (:meth:`gaussdsm.samplers.Sampler.config_errors`)."""
    return samplers.KINDS[study.sampler.kind].config_errors(study, where)


def _split_errors(study: Study, where: str) -> list[str]:
    """``montecarlo.split`` names axes of the study's sampler."""
    split = study.config["montecarlo"].get("split") or []
    kind = study.sampler.kind
    bad = [a for a in split if a not in SPLIT_AXES[kind] or a not in study.sampler_axes]
    if not bad:
        return []
    allowed = [a for a in SPLIT_AXES[kind] if a in study.sampler_axes]
    return [f"{where}.montecarlo.split: {', '.join(bad)} is not an axis of this study's {kind} sampler; allowed: "
            f"{allowed}"]


def _model_errors(study: Study, where: str) -> list[str]:
    """The denoiser model against the spectrum, the fit and the draw; the kernel panel's size."""
    from .montecarlo import DIAGONAL_MODELS

    cfg, errors = study.config, []
    model, draw = study.model, study.draw
    if model == "fourier":
        why = rules.fourier_spectrum(model, cfg["spectrum"]["kind"], study.spectrum.kappa is not None)
        if why:
            errors.append(f"{where}.{why}")
        if cfg["fit"]["method"] != "exact":
            errors.append(f"{where}.fit.method must be exact with fit.model: fourier (the SGD term R8 is derived for "
                          "the full and diagonal models only)")
        if draw != "modes":
            errors.append(f"{where}.montecarlo.draw must be modes (or auto) with fit.model: fourier")
    why = rules.conv_model(model, cfg["fit"].get("kernel_size"), cfg["spectrum"]["kind"], study.spectrum.grid,
                           cfg["fit"]["method"], any(t != 0 for t in study.grid.get("tau", [0.0])),
                           cfg["fit"].get("depth", 1))
    if why:
        errors.append(f"{where}.{why}")
    if model == "conv" and draw != "modes":
        errors.append(f"{where}.montecarlo.draw must be modes (or auto) with fit.model: conv")
    if model == "conv" and not why:
        from .conv import PANELS, check_sampler

        other = [pn for pn in cfg["panels"] if pn not in PANELS or study.diffusion]
        if other:
            errors.append(f"{where}.panels: {', '.join(other)} not available with fit.model: conv (its theory lines "
                          f"are drawn by {', '.join(PANELS)} for ula and uld); set panels: [] or those")

        for combo in study.sampler.settings():
            try:
                check_sampler(study.sampler.make(combo))
            except ValueError as err:
                errors.append(f"{where}.{err}")
                break
    if draw == "modes" and model not in (*DIAGONAL_MODELS, "conv"):
        errors.append(f"{where}.montecarlo.draw: modes draws the empirical mode variances, for fit.model: diagonal or "
                      f"fourier; the full model needs wishart or samples")
    if "kernel" in cfg["panels"] and study.spectrum.d > KERNEL_PANEL_MAX_D:
        errors.append(f"{where}.panels: kernel draws d x d matrices; d = {study.spectrum.d} > {KERNEL_PANEL_MAX_D}")
    return errors


def _theory_errors(study: Study, where: str) -> list[str]:
    """``theory.kind`` applies to the study's model at every ``tau`` of its grid (``auto`` always does)."""
    from .theory.kinds import resolve

    for tau in study.grid.get("tau", [0.0]):
        try:
            resolve(study.theory_kind, study.model, float(tau), key=f"{where}.theory.kind")
        except ValueError as err:
            return [str(err)]
    return []


def _memory_errors(study: Study, where: str) -> list[str]:
    """The estimated peak memory of the study's Monte-Carlo jobs against ``montecarlo.mem_mb``."""
    from .montecarlo import peak_memory_mb

    cfg, mc = study.config, study.config["montecarlo"]
    limit = float(mc["mem_mb"])
    split = study.split_axes  # a job evaluates the settings of its own values of the split axes
    n_settings = math.prod(len(v) for a, v in study.sampler_axes.items() if a not in split)
    finite = [n for n in study.grid["n_samples"] if math.isfinite(n)]
    snapshots = int(cfg["fit"]["sgd"]["n_snapshots"]) if study.fits_scores else 1
    def need(points):
        return peak_memory_mb(study.spectrum.d, int(mc["n_replicates"]), n_settings, points, model=study.model,
                              draw=study.draw, method=cfg["fit"]["method"], n_samples=max(finite, default=0),
                              n_snapshots=snapshots)

    peak = need(min(int(mc["points_per_job"]), len(study.fit_points)))
    if peak <= limit:
        return []
    hints = ["raise montecarlo.mem_mb"]
    if need(1) <= limit:
        hints.append("lower montecarlo.points_per_job")
    hints.append("use fit.model: diagonal with montecarlo.draw: modes (O(d) per replicate)" if study.model == "full"
                 else "use montecarlo.draw: modes" if study.draw != "modes" else "use fewer sampler settings")
    return [f"{where}.montecarlo.mem_mb: a Monte-Carlo job of this study needs an estimated {peak:.0f} MB (d = "
            f"{study.spectrum.d}, model {study.model}, draw {study.draw}, {mc['n_replicates']} replicates, "
            f"{n_settings} sampler settings, points_per_job {mc['points_per_job']}) but mem_mb = {limit:.0f}; "
            + ", ".join(hints[:-1]) + " or " + hints[-1]]


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
    pairs = ", ".join(f"(sigma={_checks.fmt(s)}, tau={_checks.fmt(t)})" for s, t in bad[:4])
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
    if method == "exact" and any(t != 0 for t in taus) and not study.diffusion:
        errors.append(
            f"{where}.grid.tau must be [0.0] when fit.method is 'exact' (the exact fit has no SGD step); "
            f"got {taus}. Use fit.method: sgd to study the optimization error"
        )
    if method in ("gradient_flow", "gd") and not study.diffusion:
        errors.append(f"{where}.fit.method {method} trains the denoiser of every noise level: it needs "
                      "sampler.kind: diffusion (Langevin studies: exact or sgd)")
    fit = cfg["fit"]
    if not (study.diffusion and method in ("gradient_flow", "gd")):  # else the sampler's Training states it
        why = rules.fit_depth(fit.get("depth", 1), method, fit.get("init", "zero"), fit.get("init_scale"))
        if why:
            errors.append(f"{where}.{why}")
    if method == "sgd" and not study.diffusion:
        errors += _sgd_errors(study, where)
        why = rules.population_learns_nothing(study.grid["n_samples"], "fit.method: sgd")
        if why:
            errors.append(f"{where}.{why}")
    others = [m for m in study.metrics if m != "w2"]
    if others and float(np.min(study.lam)) <= 0:
        errors.append(f"{where}.metrics: {', '.join(others)} is infinite for a spectrum with a zero eigenvalue (the "
                      "data covariance is singular); use metrics: [w2] or a spectrum with lam > 0")
    if others and cfg["fit"].get("noise") == "drawn":
        errors.append(f"{where}.metrics: {', '.join(others)} not available with fit.noise: drawn (its Monte Carlo "
                      "computes w2 only); use metrics: [w2] or fit.noise: expected")
    errors += _sampler_errors(study, where)
    errors += _split_errors(study, where)
    errors += _model_errors(study, where)
    errors += _theory_errors(study, where)
    if not errors:
        errors += _memory_errors(study, where)
    for panel in cfg["panels"]:
        p = PANELS.get(panel)
        why = f"unknown panel {panel!r}; known: {study_panels()}" if p is None or p.kind != "study" else (
            p.check(cfg) if p.check else None)
        if why:
            errors.append(f"{where}.panels: {why}")
    return study, errors


def check_config(config: dict) -> dict[str, Study]:
    """Cross-field checks of a schema-validated configuration.

    Only the studies that run (``run_studies``, default all) are checked: the others' data are not read.

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
    run = set(config.get("run_studies") or config["studies"])
    for name, cfg in config["studies"].items():
        if name in run:  # a study that does not run is checked when it does (its data are not read here)
            studies[name], errs = _check_study(name, cfg, config.get("seed", 0))
            errors += errs
        else:
            studies[name] = Study(name, cfg, config.get("seed", 0))
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

    def estimate_lines(self, runtime_min: dict) -> list[str]:
        """Each running study's estimated jobs, CPU time and memory per job, and a warning for every Monte-Carlo
        rule whose jobs would outlast their time limit ``runtime_min`` ``{rule: minutes}``
        (:func:`gaussdsm.budget.study_lines`)."""
        from .budget import study_lines

        return study_lines([self.studies[n] for n in self.run_studies], runtime_min)

    def figure_files(self, stem: str) -> list[str]:
        """``<stem>.nc`` (the data) and ``<stem>.<format>`` for every figure format."""
        return [f"{stem}.nc"] + [f"{stem}.{ext}" for ext in self.formats]

    def sampler_chunks(self, study: str) -> list[str]:
        return [f"results/{study}/sampler/chunk-{c}.nc" for c in self.studies[study].chunk_ids]

    def sampler_inputs(self, study: str, chunk: str) -> dict[str, str]:
        """The sampler stage's inputs: the spectrum, and the chunk's learned scores for an SGD study."""
        out = {"spectrum": f"results/{study}/spectrum.nc"}
        if self.studies[study].fits_scores:
            out["fits"] = f"results/{study}/fits/chunk-{Study.fit_chunk(chunk)}.nc"
        return out

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


def provenance_config(config: dict, wildcards: dict, rule: str) -> dict:
    """What determined one job's output: the part of the validated config that its provenance records.

    The study's own resolved section (``studies.<study>``, defaults filled) and the top-level keys it uses
    (``seed``; ``figures`` for a figure file); for a comparison, its section and each of its studies'.  Not the
    rest of the config: the same study gives the same bytes whichever overlay or ``run_studies`` selected it.

    Parameters
    ----------
    config : dict
        The validated configuration.
    wildcards : dict
        The job's wildcards (``study`` or ``comparison``, ``chunk``).
    rule : str
        The job's rule (``figure_<panel>`` rules also record ``figures``).

    Returns
    -------
    dict
        ``{"seed", "studies": {name: section}, ["comparisons": {name: section}], ["figures"]}``.
    """
    out = {"seed": config.get("seed", 0)}
    names = [wildcards["study"]] if "study" in wildcards else []
    if "comparison" in wildcards:
        name = wildcards["comparison"]
        out["comparisons"] = {name: config["comparisons"][name]}
        names = list(config["comparisons"][name]["studies"])
    out["studies"] = {n: config["studies"][n] for n in names}
    if rule.startswith("figure_"):
        out["figures"] = config["figures"]
    return out
