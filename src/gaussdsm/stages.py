"""The workflow stages as plain functions: paths and parameter values in, NetCDF out.

Each Snakemake rule has a thin script in ``workflow/scripts/`` that unpacks
``snakemake.input/params/output`` and calls one function here with the arguments
that :class:`gaussdsm.study.Study` made from the config; everything can also be
called directly from Python (the tests do).  Variables get their ``long_name`` and
``units`` from :mod:`gaussdsm.vocabulary`; the Monte-Carlo estimator is
:func:`gaussdsm.montecarlo.estimate`.

Stage outputs (``results/<study>/``):

``spectrum.nc``         ``lam(mode)``
``fits/chunk-XXX.nc``   ``score_matrix(point, replicate, snapshot, row, col)`` learned by SGD (SGD studies only)
``sampler/chunk-XXX.nc`` ``w2sq(point, gamma, n_steps[, friction], replicate, snapshot)``, ``diverged(...)``
``theory.nc``           :func:`gaussdsm.theory.error_terms` on the whole grid
``summary.nc``          MC mean/stderr, theory terms and z-scores on the grid

W2's variables keep these names for every study; a study's other ``metrics`` (:mod:`gaussdsm.metrics`) add
``<metric>_<name>`` variables from the same draws (``kl_sample_data_draw``, ``kl_sample_data_total``,
``kl_sample_data_mc_mean``, ``kl_sample_data_theory_total``, ``kl_sample_data_zscore``, ...; vocabulary
:data:`gaussdsm.vocabulary.METRIC_TERMS`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
import traceback

import numpy as np
import xarray as xr

from . import faults, montecarlo, theory
from .interrupt import Interrupted
from .io import collect_provenance, read_dataset, write_dataset
from .progress import Progress
from .samplers.spec import ATTR_KEYS, SamplerSpec
from .schedule import resolve
from .spectra import spectrum as data_spectrum
from .study import provenance_config
from .vocabulary import attrs, dataset, metric_attrs, metric_variable

__all__ = [
    "job",
    "spectra",
    "fit_scores",
    "run_sampler",
    "analytic_error",
    "aggregate",
]

log = logging.getLogger("gaussdsm")

#: the theory's conventions that a summary carries (as theory_<name>): what figures need to redraw its lines
THEORY_ATTRS = ("model", "loss_factor", "batch_size", *ATTR_KEYS)


@contextlib.contextmanager
def job(smk, rule: str | None = None):
    """Run a Snakemake script body with logging to its ``log:`` file and BLAS pinned to its threads.

    Logs the job's parameters, the SLURM job id when running under SLURM, the
    wall time, and any exception with its traceback (then re-raises it so the
    job fails); an interrupt (:class:`gaussdsm.interrupt.Interrupted`, Ctrl-C) as one line, in the log file.  Yields the provenance attributes for the job's output files.
    The test-only fault switch (:mod:`gaussdsm.faults`) is honoured here.

    Parameters
    ----------
    smk : snakemake.script.Snakemake
        The script's ``snakemake`` object.
    rule : str, optional
        The rule's name in this workflow (``workflow/rules/*.smk``), which provenance (``snakemake_rule``, what
        ``config_json`` records), the fault switch and messages use.  A host workflow that imports gaussdsm as a
        module renames the rules (``use rule * from gaussdsm as gaussdsm_*``: ``smk.rule`` is then
        ``gaussdsm_spectra``); the scripts pass the workflow's own name so that a study gives the same bytes
        either way.  Default ``smk.rule``.
    """
    import os

    from threadpoolctl import threadpool_limits

    rule = rule or smk.rule
    handlers = [logging.StreamHandler(sys.stderr)]
    handlers[0].addFilter(lambda record: not getattr(record, "file_only", False))
    if smk.log:
        handlers.append(logging.FileHandler(smk.log[0], mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers, force=True)
    log.info("rule %s, threads %s", smk.rule if smk.rule == rule else f"{smk.rule} ({rule})", smk.threads)
    if os.environ.get("SLURM_JOB_ID"):
        log.info("SLURM_JOB_ID=%s on %s", os.environ["SLURM_JOB_ID"], os.environ.get("SLURMD_NODENAME", "?"))
    log.info("params: %s", json.dumps({k: v for k, v in smk.params.items()}, default=str)[:2000])
    t0 = time.perf_counter()
    try:
        faults.from_config(smk.config)
        faults.check(rule)
        with threadpool_limits(limits=int(smk.threads)):
            what = provenance_config(smk.config, dict(smk.wildcards.items()), rule)
            yield collect_provenance(what, rule=rule, workflow_dir=smk.scriptdir)
    except Interrupted:  # Ctrl-C: standard error has the handler's one line (gaussdsm.interrupt); the log file too
        log.error("rule %s interrupted after %.2f s", rule, time.perf_counter() - t0, extra={"file_only": True})
        raise
    except BaseException:
        log.error("rule %s failed:\n%s", rule, traceback.format_exc())
        raise
    log.info("done in %.2f s", time.perf_counter() - t0)


def _write(ds: xr.Dataset, out, provenance, title: str) -> xr.Dataset:
    """Every stage output goes through here (atomic NetCDF with provenance; the fault hook of the job's rule)."""
    rule = (provenance or {}).get("snakemake_rule")
    write_dataset(ds, out, provenance, title=title, before_replace=faults.before_replace(rule))
    return ds


def _read_spectrum(path, rule):
    """``(lam, kappa or None)`` of a spectrum file (``kappa``: stationary spectra, for ``model='fourier'``)."""
    ds = read_dataset(path, rule, required=("lam",))
    return ds["lam"].values, (ds["kappa"].values if "kappa" in ds else None)


def _stationary_spectrum(path, rule):
    """The :class:`gaussdsm.spectra.Spectrum` of a spectrum file made again from its ``spectrum_json`` (with each
    mode's place on the DFT grid, what ``fit.model: conv`` needs), checked against the file's eigenvalues."""
    ds = read_dataset(path, rule, required=("lam",))
    p = json.loads(ds.attrs["spectrum_json"])
    sp = data_spectrum(p.pop("kind"), p.pop("d", None), **p)
    if not np.array_equal(sp.lam, ds["lam"].values):
        raise ValueError(f"{path}: its eigenvalues differ from those of its spectrum_json (a stale spectrum file)")
    return sp


def spectra(spectrum: dict, out, provenance=None) -> xr.Dataset:
    """Stage ``spectra``: the data eigenvalues :math:`\\lambda` (:func:`gaussdsm.spectra.spectrum`), with, for
    stationary sources, each mode's ``frequency`` and R11 ``kappa``, and in ``source_json`` what the spectrum was
    made from (file and sha256, or bundled name and package version, ...)."""
    p = dict(spectrum)
    sp = data_spectrum(p.pop("kind"), p.pop("d", None), **p)
    data_vars = {"lam": ("mode", sp.lam)}
    if sp.kappa is not None:
        data_vars["kappa"] = ("mode", sp.kappa)
        data_vars["frequency"] = ("mode", sp.frequency)
    ds = dataset(data_vars, coords={"mode": np.arange(sp.d)},
                 attrs={"spectrum_json": json.dumps(spectrum, sort_keys=True, default=str),
                        "source_json": json.dumps(sp.info, sort_keys=True, default=str)})
    return _write(ds, out, provenance, "data spectrum")


def _n_samples_array(values) -> np.ndarray:
    """int64, or float64 when the population score (n_samples = inf) is among them."""
    arr = np.asarray(values, dtype=float)
    return arr if np.any(np.isinf(arr)) else arr.astype(np.int64)


def _point_coords(points):
    """``point`` and the fit axes of each point (``n_samples``; ``sigma``, ``tau`` for the Langevin family)."""
    out = {"point": np.arange(len(points)), "n_samples": ("point", _n_samples_array([p["n_samples"] for p in points]))}
    for k in ("sigma", "tau"):
        if k in points[0]:
            out[k] = ("point", np.array([p[k] for p in points], dtype=float))
    return out


def fit_scores(
    spectrum_path,
    points,
    *,
    seed: int,
    n_replicates: int,
    model: str = "full",
    loss_factor: float = 1.0,
    sgd: dict | None = None,
    out,
    provenance=None,
) -> xr.Dataset:
    r"""Stage ``fit_scores``: learn the score :math:`-Ay` by SGD on ``n_replicates`` training sets per fit point.

    Only SGD studies have this stage: an exact fit is cheap and drawn inside the sampler stage
    (:func:`run_sampler`, one decomposition of each training set serving every sigma and sampler setting).

    Parameters
    ----------
    spectrum_path : path
    points : list of dict
        Fit points ``{"n_samples", "sigma", "tau"}``.
    seed : int
        Base seed.  Training sets use :func:`gaussdsm.montecarlo.data_streams`
        (keyed by ``n_samples`` only: common random numbers across sigma and tau);
        SGD uses :func:`gaussdsm.montecarlo.sgd_streams` (keyed by ``(n_samples, sigma, tau)``).
    n_replicates : int
    model : {'full', 'diagonal'}
    loss_factor : float
        c of the loss :math:`c\|x - \theta y\|^2`.
    sgd : dict
        ``batch_size``, ``n_snapshots``, ``burn_in_factor``, ``spacing_factor``,
        ``max_steps``.
    out : path

    Returns
    -------
    xarray.Dataset
        Written to ``out``: ``score_matrix (point, replicate, snapshot, row, col)``, ``exact_score_matrix (point,
        replicate, row, col)`` (the exact fit of the same training sets) and ``sgd_diverged (point, replicate)``.
    """
    lam, _ = _read_spectrum(spectrum_path, "fit_scores")
    d = lam.size
    sgd = dict(sgd or {})
    n_snap = int(sgd.get("n_snapshots", 1))
    scores = np.empty((len(points), n_replicates, n_snap, d, d))
    exact = np.empty((len(points), n_replicates, d, d))
    sgd_div = np.zeros((len(points), n_replicates), dtype=np.int8)
    bar = Progress(len(points), "fit_scores (sgd)", unit="points", bar=False, logger=log)
    for j, p in enumerate(points):
        data_rngs = montecarlo.data_streams(seed, n_replicates, p["n_samples"])
        sgd_rngs = montecarlo.sgd_streams(seed, n_replicates, p["n_samples"], p["sigma"], p["tau"])
        A, A_exact, div = montecarlo.sgd_scores(
            lam, p["n_samples"], p["sigma"], p["tau"], data_rngs, sgd_rngs,
            model=model, loss_factor=loss_factor, **sgd,
        )
        scores[j], exact[j], sgd_div[j] = A, A_exact, div
        if div.any():
            log.warning("fit %s: %d SGD chain(s) diverged", montecarlo.canonical_params(**p), int(div.sum()))
        log.info("fit %s: %d replicates", montecarlo.canonical_params(**p), n_replicates)
        bar.update()
    data_vars = {"score_matrix": (("point", "replicate", "snapshot", "row", "col"), scores),
                 "exact_score_matrix": (("point", "replicate", "row", "col"), exact),
                 "sgd_diverged": (("point", "replicate"), sgd_div)}
    ds = dataset(
        data_vars,
        coords={
            **_point_coords(points),
            "replicate": np.arange(n_replicates),
            "snapshot": np.arange(n_snap),
            "row": np.arange(d),
            "col": np.arange(d),
        },
        attrs={
            "method": "sgd",
            "model": model,
            "draw": "samples",  # SGD draws the training points
            "loss_factor": float(loss_factor),
            "seed": int(seed),
            **{f"sgd_{k}": v for k, v in sorted(sgd.items())},
        },
    )
    return _write(ds, out, provenance, "learned scores")


def _drawn_noise_errors(lam, N, R, smps, seed):
    """``(w (1, S, R), diverged)`` as :func:`gaussdsm.montecarlo.exact_fit_errors` gives them, for samplers whose
    Monte Carlo trains with the noise drawn (:func:`gaussdsm.montecarlo.drawn_noise_errors`; per setting, the
    training noise keyed by (N, train_time, lr))."""
    w, dv = np.full((1, len(smps), R), np.nan), np.zeros((1, len(smps), R), dtype=bool)
    for i, s in enumerate(smps):
        tr = s.training
        noise = montecarlo.train_noise_streams(seed, R, N, tr.train_time, tr.lr)
        data = montecarlo.data_streams(seed, R, N)  # fresh generators: every setting sees the same training sets
        w[0, i], dv[0, i] = montecarlo.drawn_noise_errors(lam, N, data, noise, s)[:2]
    return w, dv


def _extra_metrics(metrics) -> list[str]:
    """The metrics besides W2 (whose variables are always written, under their historical names), registry-checked."""
    from .metrics import get

    return [get(m).name for m in (metrics or ("w2",)) if m != "w2"]


def run_sampler(spectrum_path, fits_path=None, *, sampler: dict, points=None, seed=None, n_replicates=None,
                draw: str = "wishart", model: str = "full", metrics=("w2",), kernel_size=None, out,
                provenance=None) -> xr.Dataset:
    """Stage ``run_sampler``: W2 error of the sampler's law for every fitted score and every sampler setting.

    Parameters
    ----------
    spectrum_path : path
    fits_path : path, optional
        SGD studies: the learned score matrices (``fit_scores``); the law of a general score matrix
        (:meth:`gaussdsm.samplers.LangevinSampler.law`), and for SGD snapshots the paired optimization error.
        Exact fits (``fits_path`` None): each replicate's empirical covariance is drawn here
        (:func:`gaussdsm.montecarlo.exact_fit`, same streams as a separate fit would use) and its
        eigendecomposition serves every setting (:func:`gaussdsm.montecarlo.exact_errors`).
    sampler : dict
        ``{"kind", "axes": {name: values}, "params": {name: value}}`` (:attr:`gaussdsm.study.Study.sampler`).
    points, seed, n_replicates, draw, model
        Exact fits: the chunk's fit points and what determines the training sets.
    metrics : sequence of str
        :data:`gaussdsm.metrics.METRICS` names (the study's ``metrics``).  W2's variables are always written; every
        other metric ``m`` adds ``m_draw``, ``m_draw_diverged`` (and for SGD ``m_exact``, ``m_opt_excess``,
        ``m_diverged_exact``), from the same draws (the same streams: W2's numbers do not change).
    kernel_size : int, optional
        ``model='conv'``: the filter's width (:func:`gaussdsm.conv.conv_errors`, the same streams for every metric).

    Returns
    -------
    xarray.Dataset
        Written to ``out``: ``w2sq (point, gamma, n_steps[, friction], replicate, snapshot)``, ``diverged``
        (unstable draws are recorded, their ``w2sq`` is NaN, never dropped); ``used (point, replicate)`` (the
        population score, n_samples = inf, has one deterministic replicate); for SGD also ``w2sq_exact``,
        ``opt_excess``, ``diverged_exact``.
    """
    lam, kappa = _read_spectrum(spectrum_path, "run_sampler")
    spec = resolve(SamplerSpec.from_dict(sampler), lam, kappa=kappa, model=model)  # sampler.grid: optimal
    axes = {k: np.asarray(v) for k, v in spec.axes.items()}
    shape = tuple(v.size for v in axes.values())
    settings = spec.settings()
    smps = [spec.make(st) for st in settings]  # a sampler does not depend on the point
    adims = tuple(axes)
    extras = _extra_metrics(metrics)
    more = {}  # metric -> {term: array}
    if fits_path is None:
        P, R = len(points), int(n_replicates)
        w2sq = np.full((P, *shape, R, 1), np.nan)
        diverged = np.zeros((P, *shape, R, 1), dtype=bool)
        for m in extras:
            more[m] = {"draw": np.full((P, *shape, R, 1), np.nan), "draw_diverged": np.zeros((P, *shape, R, 1), bool)}
        used = np.ones((P, R), dtype=bool)
        by_n = {}  # the training sets depend on N only: one draw and decomposition serve the chunk's sigmas
        for j, p in enumerate(points):
            by_n.setdefault(p["n_samples"], []).append(j)
        bar = Progress(sum(1 if np.isinf(float(N)) else R for N in by_n), "run_sampler (exact fits)",
                       unit="training sets", bar=False, logger=log)
        for N, idx in by_n.items():
            oracle = np.isinf(float(N))
            rngs = [] if oracle else montecarlo.data_streams(seed, R, N)
            drawn = not oracle and any(getattr(s, "training", None) is not None and s.training.noise == "drawn"
                                       for s in smps)
            if model == "conv":
                from . import conv

                sp = _stationary_spectrum(spectrum_path, "run_sampler")
                sig = [points[j].get("sigma", 0.0) for j in idx]
                per = [conv.conv_errors(sp, N, [] if oracle else montecarlo.data_streams(seed, R, N), sig, smps,
                                        kernel_size, metric=m) for m in ["w2", *extras]]
                w, dv = per[0]
                w_more, dv_more = [p[0] for p in per[1:]], [p[1] for p in per[1:]]
                bar.update(1 if oracle else R)
            elif drawn:  # every level's denoiser trained with the noise drawn: the training points themselves
                if extras:
                    raise ValueError(f"metrics {extras} need exact or expected-loss fits; fit.noise: drawn is "
                                     "computed for w2 only")
                w, dv = _drawn_noise_errors(lam, N, R, smps, seed)
                bar.update(R)
            elif extras:  # every metric from the same fits
                w, dv = montecarlo.exact_fit_errors(lam, N, rngs, [points[j].get("sigma", 0.0) for j in idx], smps,
                                                    model=model, draw=draw, kappa=kappa, progress=bar,
                                                    metric=["w2", *extras])
                w_more, dv_more = w[1:], dv[1:]
                w, dv = w[0], dv[0]
            else:
                w, dv = montecarlo.exact_fit_errors(lam, N, rngs, [points[j].get("sigma", 0.0) for j in idx], smps,
                                                    model=model, draw=draw, kappa=kappa, progress=bar)
            n = w.shape[-1]
            for g, j in enumerate(idx):
                w2sq[j, ..., :n, 0] = w[g].reshape(*shape, n)
                diverged[j, ..., :n, 0] = dv[g].reshape(*shape, n)
                for k, m in enumerate(extras):
                    more[m]["draw"][j, ..., :n, 0] = w_more[k][g].reshape(*shape, n)
                    more[m]["draw_diverged"][j, ..., :n, 0] = dv_more[k][g].reshape(*shape, n)
                if oracle:
                    used[j, 1:] = False
                log.info("sampler %s: %d replicates x %d settings", montecarlo.canonical_params(**points[j]), n,
                         len(settings))
        dims = ("point", *adims, "replicate", "snapshot")
        data_vars = {"w2sq": (dims, w2sq), "diverged": (dims, diverged.astype(np.int8), "draw_diverged"),
                     "used": (("point", "replicate"), used.astype(np.int8))}
        coords = {**_point_coords(points), "replicate": np.arange(R), "snapshot": np.arange(1), **axes}
        ds_attrs = {"method": "exact", "model": model, "draw": draw, "seed": int(seed)}
        if model == "conv":
            ds_attrs["kernel_size"] = int(kernel_size)
    else:
        fits = read_dataset(fits_path, "run_sampler", required=("score_matrix",))
        A = fits["score_matrix"].values
        P, R, S, d = A.shape[:4]
        w2sq = np.empty((P, *shape, R, S))
        diverged = np.empty((P, *shape, R, S), dtype=bool)
        paired = "exact_score_matrix" in fits
        if paired:
            A0 = fits["exact_score_matrix"].values
            w2sq0 = np.empty((P, *shape, R))
            div0 = np.empty((P, *shape, R), dtype=bool)
            excess = np.empty((P, *shape, R, S))
        for m in extras:
            more[m] = {"draw": np.empty((P, *shape, R, S)), "draw_diverged": np.empty((P, *shape, R, S), bool)}
            if paired:
                more[m].update(exact=np.empty((P, *shape, R)), diverged_exact=np.empty((P, *shape, R), bool),
                               opt_excess=np.empty((P, *shape, R, S)))
        bar = Progress(P, "run_sampler (SGD fits)", unit="points", bar=False, logger=log)
        for j in range(P):
            for idx, smp in zip(np.ndindex(shape), smps):
                at = (j, *idx)
                for m in extras:  # each metric of the same score matrices
                    mm = more[m]
                    if paired and float(fits["tau"][j]) > 0:
                        pe = montecarlo.paired_errors(A[j], A0[j], lam, smp, metric=m)
                        mm["draw"][at], mm["draw_diverged"][at] = pe.w2sq, pe.diverged
                        mm["exact"][at], mm["diverged_exact"][at] = pe.w2sq_exact, pe.diverged_exact
                        mm["opt_excess"][at] = pe.excess
                    else:
                        w, dv = montecarlo.langevin_errors(A[j].reshape(R * S, d, d), lam, smp, metric=m)
                        mm["draw"][at], mm["draw_diverged"][at] = w.reshape(R, S), dv.reshape(R, S)
                        if paired:
                            mm["exact"][at], mm["diverged_exact"][at] = w[::S], dv[::S]
                            mm["opt_excess"][at] = 0.0
                if paired and float(fits["tau"][j]) > 0:
                    pe = montecarlo.paired_errors(A[j], A0[j], lam, smp)  # each law solved once
                    w2sq[at], diverged[at] = pe.w2sq, pe.diverged
                    w2sq0[at], div0[at], excess[at] = pe.w2sq_exact, pe.diverged_exact, pe.excess
                    continue
                w, dv = montecarlo.langevin_errors(A[j].reshape(R * S, d, d), lam, smp)
                w2sq[at], diverged[at] = w.reshape(R, S), dv.reshape(R, S)
                if paired:  # tau = 0: the snapshots are the exact fit itself
                    w2sq0[at], div0[at] = w[::S], dv[::S]
                    excess[at] = 0.0
            bar.update()
        dims = ("point", *adims, "replicate", "snapshot")
        data_vars = {"w2sq": (dims, w2sq), "diverged": (dims, diverged.astype(np.int8), "draw_diverged")}
        if paired:
            data_vars["w2sq_exact"] = (dims[:-1], w2sq0)
            data_vars["opt_excess"] = (dims, excess)
            data_vars["diverged_exact"] = (dims[:-1], div0.astype(np.int8))
        coords = {**{k: v for k, v in fits.coords.items() if k not in ("row", "col")}, **axes}
        ds_attrs = {k: fits.attrs[k] for k in ("method", "model", "draw", "seed") if k in fits.attrs}
    for m, arrays in more.items():
        for term, values in arrays.items():
            vd = dims[:-1] if term in ("exact", "diverged_exact") else dims
            values = values.astype(np.int8) if values.dtype == bool else values
            data_vars[metric_variable(m, term)] = xr.DataArray(values, dims=vd, attrs=metric_attrs(m, term))
    ds = dataset(data_vars, coords=coords, attrs={**ds_attrs, "sampler": sampler["kind"]})
    return _write(ds, out, provenance, "sampler W2 errors per replicate")


METRIC_THEORY_TERMS = ("bias", "generalization", "optimization", "total", "valid", "in_regime",
                       "optimization_available", "bias_init", "bias_discretization", "bias_stopping")
"""The theory variables a metric other than W2 adds (as ``<metric>_<term>``)."""


def analytic_error(spectrum_path, grid: dict, *, sampler: dict | None = None, model="full", loss_factor=1.0,
                   batch_size=1, metrics=("w2",), kernel_size=None, theory_kind: str = "expansion", out,
                   provenance=None):
    """Stage ``analytic_error``: the closed-form expansion on the whole grid in one vectorised call (R5-R9,
    :func:`gaussdsm.theory.error_terms`, for the study's sampler).

    ``grid``: the fit axes (``n_samples``; ``sigma``, ``tau``); ``sampler``: ``{"kind", "axes", "params"}``;
    ``metrics``: W2's terms keep their names, every other metric ``m`` adds ``m_bias``, ``m_generalization``,
    ``m_optimization``, ``m_total``, ... (:data:`METRIC_THEORY_TERMS`).  ``model='conv'`` (``kernel_size``): its
    terms on the same grid (:func:`gaussdsm.conv.fill_terms`).  ``theory_kind``: a kind of
    :data:`gaussdsm.theory.kinds.CHOICES` (``theory.kind``); other than ``expansion``, its values are written beside
    the expansion's, which stay as they are: ``<kind>_total``, ``<kind>_p_unstable``, ``<kind>_quad_error``,
    ``<kind>_reason`` (``exact_total``, ...; other metrics ``m_exact_total``, ...), NaN with the reason where the
    kind does not apply (``auto``: where the expansion alone serves).  Attribute ``theory``: the kind.
    """
    lam, kappa = _read_spectrum(spectrum_path, "analytic_error")
    conv_spectrum = _stationary_spectrum(spectrum_path, "analytic_error") if model == "conv" else None
    spec = SamplerSpec.from_dict(sampler) if sampler is not None else SamplerSpec(
        "ula", {"gamma": grid["gamma"], "n_steps": [np.inf]}, {"init_var": 1.0})
    spec = resolve(spec, lam, kappa=kappa, model=model)  # sampler.grid: optimal
    N = np.asarray(grid["n_samples"], dtype=float)
    def terms(metric):
        if model == "conv":  # on the Fourier model's grid
            from . import conv

            return conv.fill_terms(terms_of("fourier", metric), conv_spectrum, spec, kernel_size, metric)
        return terms_of(model, metric)

    def terms_of(model, metric):
        if spec.diffusion:
            return theory.error_terms(lam, N, model=model, kappa=kappa, metric=metric, **spec.theory_kwargs())
        return theory.error_terms(lam, N, np.asarray(grid["sigma"], dtype=float),
                                  tau=np.asarray(grid["tau"], dtype=float), loss_factor=loss_factor,
                                  batch_size=batch_size, model=model, kappa=kappa, metric=metric,
                                  **spec.theory_kwargs())

    ds = terms("w2")
    for m in _extra_metrics(metrics):
        dm = terms(m)
        for k in METRIC_THEORY_TERMS:
            if k in dm:
                ds[metric_variable(m, k)] = dm[k].assign_attrs(metric_attrs(m, k))
    ds.attrs["theory"] = theory_kind
    if theory_kind != "expansion":
        ds = _theory_kinds(ds, lam, kappa, spec, model, metrics, theory_kind)
    return _write(ds, out, provenance, "first-order theory")


KIND_TERMS = ("total", "p_unstable", "quad_error", "reason", "in_regime")
"""A theory kind's variables in ``theory.nc`` (``<kind>_<term>``, :func:`analytic_error`)."""


def _theory_kinds(ds: xr.Dataset, lam, kappa, spec, model: str, metrics, theory: str) -> xr.Dataset:
    """The values of the theory kinds other than the expansion that ``theory`` takes at the points of ``ds``
    (:func:`gaussdsm.theory.kinds.evaluate`), per metric, written beside the expansion."""
    from .theory.kinds import AUTO, THEORIES, applies, evaluate

    shape, dims = ds["total"].shape, ds["total"].dims
    tau = ds["tau"].broadcast_like(ds["total"]).values if "tau" in ds.coords else np.zeros(shape)
    kinds = [theory] if theory != "auto" else [k for k in AUTO if k != "expansion"]
    for kind in kinds:
        if theory == "auto" and not any(applies(kind, model, float(t)) for t in tau.flat):
            continue
        for m in metrics:
            vals = evaluate(kind, ds, lam, spec, model=model, kappa=kappa, metric=m)
            for term in KIND_TERMS:
                name = metric_variable(m, f"{kind}_{term}")
                long_name = (f"{THEORIES[kind].description}: " if term == "total" else f"theory {kind}: ") + (
                    {"total": f"expected {m}, conditioned on stability", "p_unstable": "P(a replicate is unstable)",
                     "quad_error": "estimated relative error of the quadrature",
                     "reason": "why the value is infinite, NaN or not converged, or how a part of it was estimated "
                               "(empty: nothing to say)",
                     "in_regime": "1 where the value is defined and the kind's own conditions hold (0: see reason)"
                     }[term])
                value = vals[term]
                if term == "in_regime":  # finite and the kind's condition (a deterministic equivalent's d)
                    value = (value & np.isfinite(vals["total"])).astype(np.int8)
                ds[name] = xr.DataArray(value, dims=dims, attrs={"long_name": long_name, "units": "1"})
    return ds


def _point_key(ds: xr.Dataset) -> tuple:
    """The fit points of a sampler chunk (its point coordinates' values): the chunks that share them."""
    return tuple((k, tuple(ds[k].values.tolist())) for k in ("n_samples", "sigma", "tau") if k in ds.coords)


def _merge_settings(group: list[xr.Dataset], axes: dict | None) -> xr.Dataset:
    """Sampler chunks of the same fit points, each over some of the settings, as one dataset over all of them (in
    the order of ``axes``, else of first appearance); their values are copied, never recomputed."""
    first = group[0]
    dims = [a for a in (axes or {}) if a in first.dims] or [
        a for a in first.dims if a not in ("point", "replicate", "snapshot")]
    target = {}
    for a in dims:
        values = list(axes[a]) if axes and a in axes else list(dict.fromkeys(v for ds in group for v in ds[a].values.tolist()))
        target[a] = values
    fill = {k: (-1 if v.dtype.kind in "iu" else np.nan) for k, v in first.data_vars.items()}
    out = first.reindex(target, fill_value=fill)
    for ds in group[1:]:
        for k, v in ds.data_vars.items():
            where = {a: ds[a].values for a in dims if a in v.dims}
            if where:
                out[k].loc[where] = v.transpose(*out[k].dims).values
    if bool((out["diverged"] < 0).any()):
        raise ValueError("Monte-Carlo results do not cover the whole grid (a sampler chunk is missing)")
    return out


def _reassemble(parts: list[xr.Dataset], axes: dict | None) -> xr.Dataset:
    """The sampler chunks as one dataset over ``point`` and the sampler's axes, whatever the chunking.

    Chunks of the same fit points (split over sampler settings, ``montecarlo.split``) are merged along the sampler's
    axes, then put in the sampler's order (``axes``, :attr:`gaussdsm.study.Study.sampler_axes`); the fit chunks are
    concatenated along ``point`` in their order.  Only the values' places move: every number is the chunk's.

    Raises
    ------
    ValueError
        If the chunks of a fit chunk do not cover every setting (a chunk is missing).
    """
    groups: dict[tuple, list] = {}
    for ds in parts:
        groups.setdefault(_point_key(ds), []).append(ds)
    merged = []
    for group in groups.values():
        merged.append(_merge_settings(group, axes) if len(group) > 1 or axes else group[0])
    return xr.concat(merged, dim="point", data_vars="all", coords="different", compat="equals", join="outer")


def _kind_summary(summ: xr.Dataset, th: xr.Dataset, metrics) -> None:
    """The theory kinds' values of ``theory.nc`` (:func:`_theory_kinds`) in the summary: ``theory_<kind>_<term>``
    and ``zscore_<kind>`` (Monte Carlo against that kind's total), per metric of the Monte Carlo (``metrics``);
    attribute ``theory``."""
    from .theory.kinds import THEORIES

    summ.attrs["theory"] = th.attrs.get("theory", "expansion")
    for kind in THEORIES:
        for m in metrics:
            total = metric_variable(m, f"{kind}_total")
            if total not in th:
                continue
            for term in KIND_TERMS:
                summ[metric_variable(m, f"theory_{kind}_{term}")] = th[metric_variable(m, f"{kind}_{term}")]
            summ[metric_variable(m, f"zscore_{kind}")] = montecarlo.zscore(
                summ[metric_variable(m, "mc_mean")], summ[metric_variable(m, "mc_stderr")],
                th[total]).assign_attrs({"long_name": f"(Monte-Carlo mean - theory {kind} total) / standard "
                                                      f"error, {m}", "units": "1"})


def aggregate(spectrum_path, theory_path, sampler_paths, *, metrics=("w2",), axes: dict | None = None, out,
              provenance=None) -> xr.Dataset:
    """Stage ``aggregate``: Monte-Carlo mean, standard error and z-score against theory, on the grid.

    W2's variables keep their names; every other metric ``m`` of the sampler chunks adds ``m_mc_mean``,
    ``m_mc_stderr``, ``m_mc_n``, ``m_n_diverged``, ``m_theory_<term>``, ``m_zscore`` (and the SGD ``m_mc_opt_*``,
    ``m_zscore_opt``).  ``metrics``: the study's list; unless it is ``[w2]`` it is recorded in the ``metrics``
    attribute (space-separated, the figures' default is its first).  ``axes``: the sampler's axes ``{name:
    values}`` in the study's order when its chunks are split over them (``montecarlo.split``): each fit chunk's
    chunks are merged back into the whole grid of settings (:func:`_reassemble`).

    ``mc_mean`` is the mean over replicates whose chain is stable
    (:math:`\\mathbb E[W_2^2 \\mid \\text{stable}]`, §7.2 note 5);
    ``zscore = (mc_mean - theory_total) / mc_stderr``.

    Raises
    ------
    ValueError
        If a replicate not flagged diverged has a non-finite error (listed per
        grid point), or if the Monte-Carlo results do not cover the grid.
    """
    spec = read_dataset(spectrum_path, "aggregate", required=("lam",))
    lam = spec["lam"].values
    th = read_dataset(theory_path, "aggregate", required=("total", "bias", "generalization", "optimization"))
    parts = [read_dataset(p, "aggregate", required=("w2sq", "diverged")) for p in sampler_paths]
    mc = _reassemble(parts, axes)
    mc = mc.assign_coords(point=np.arange(mc.sizes["point"]))
    used = mc["used"].astype(bool) if "used" in mc else None
    exact = np.isinf(mc["n_samples"].astype(float)) if used is not None else None
    est = montecarlo.estimate(mc["w2sq"], mc["diverged"].astype(bool), used=used, deterministic=exact)
    data = {"mc_mean": est["mean"], "mc_stderr": est["stderr"], "mc_n": est["n"], "n_diverged": est["n_diverged"]}
    if "opt_excess" in mc:  # per replicate: mean over its snapshots where every chain involved is stable
        opt = montecarlo.estimate(mc["opt_excess"], ~np.isfinite(mc["opt_excess"]))
        data.update(mc_opt_mean=opt["mean"], mc_opt_stderr=opt["stderr"])
    data = {k: v.assign_attrs(attrs(k)) for k, v in data.items()}
    from .metrics import NAMES

    extras = [m for m in NAMES if m != "w2" and metric_variable(m, "draw") in mc]  # the study's other metrics
    for m in extras:
        e = montecarlo.estimate(mc[metric_variable(m, "draw")], mc[metric_variable(m, "draw_diverged")].astype(bool),
                                used=used, deterministic=exact)
        for term, key in (("mc_mean", "mean"), ("mc_stderr", "stderr"), ("mc_n", "n"), ("n_diverged", "n_diverged")):
            data[metric_variable(m, term)] = e[key].assign_attrs(metric_attrs(m, term))
        if metric_variable(m, "opt_excess") in mc:
            x = mc[metric_variable(m, "opt_excess")]
            o = montecarlo.estimate(x, ~np.isfinite(x))
            data[metric_variable(m, "mc_opt_mean")] = o["mean"].assign_attrs(metric_attrs(m, "mc_opt_mean"))
            data[metric_variable(m, "mc_opt_stderr")] = o["stderr"].assign_attrs(metric_attrs(m, "mc_opt_stderr"))
    summ = xr.Dataset(data)
    point_axes = [k for k in ("n_samples", "sigma", "tau") if k in mc.coords]
    if len(point_axes) > 1:
        summ = summ.set_index(point=point_axes).unstack("point")
    else:
        summ = summ.swap_dims(point=point_axes[0]).drop_vars("point").sortby(point_axes[0])
    for name in point_axes:
        summ[name].attrs.update(attrs(name))
    order = [n for n in theory.AXES if n in summ.dims]
    summ = summ.transpose(*order)
    th = th.transpose(*order)
    missing = summ["mc_n"].isnull() if summ["mc_n"].dtype.kind == "f" else None
    if missing is not None and bool(missing.any()):
        raise ValueError("Monte-Carlo results do not cover the whole grid (a sampler chunk is missing)")
    try:
        summ, th = xr.align(summ, th, join="exact")
    except ValueError as err:
        raise ValueError(f"theory and Monte-Carlo grids differ: {err}") from None
    for k in ("mc_n", "n_diverged", *(metric_variable(m, t) for m in extras for t in ("mc_n", "n_diverged"))):
        summ[k] = summ[k].astype(np.int64)
    for k in ("total", "bias", "generalization", "optimization", "valid", "n_samples_scale", "in_regime",
              "optimization_available", "bias_init", "bias_discretization", "bias_stopping", "nfe", "second_order",
              "reason"):
        if k in th:
            summ[f"theory_{k}"] = th[k].assign_attrs(th[k].attrs)
    summ["zscore"] = montecarlo.zscore(summ["mc_mean"], summ["mc_stderr"], summ["theory_total"]).assign_attrs(
        attrs("zscore"))
    _kind_summary(summ, th, ["w2", *extras])
    if "mc_opt_mean" in summ:
        summ["zscore_opt"] = montecarlo.zscore(
            summ["mc_opt_mean"], summ["mc_opt_stderr"], summ["theory_optimization"]).assign_attrs(attrs("zscore_opt"))
    for m in extras:
        for k in METRIC_THEORY_TERMS:
            if metric_variable(m, k) in th:
                summ[metric_variable(m, f"theory_{k}")] = th[metric_variable(m, k)]
        summ[metric_variable(m, "zscore")] = montecarlo.zscore(
            summ[metric_variable(m, "mc_mean")], summ[metric_variable(m, "mc_stderr")],
            summ[metric_variable(m, "theory_total")]).assign_attrs(metric_attrs(m, "zscore"))
        if metric_variable(m, "mc_opt_mean") in summ:
            summ[metric_variable(m, "zscore_opt")] = montecarlo.zscore(
                summ[metric_variable(m, "mc_opt_mean")], summ[metric_variable(m, "mc_opt_stderr")],
                summ[metric_variable(m, "theory_optimization")]).assign_attrs(metric_attrs(m, "zscore_opt"))
    summ["diverged"] = (summ["n_diverged"] > 0).astype(np.int8).assign_attrs(attrs("diverged"))
    summ["lam"] = xr.DataArray(lam, dims="mode", attrs=attrs("lam"))
    for k in ("kappa", "frequency"):  # stationary spectra
        if k in spec:
            summ[k] = xr.DataArray(spec[k].values, dims="mode", attrs=attrs(k))
    if "source_json" in spec.attrs:
        summ.attrs["spectrum_source_json"] = spec.attrs["source_json"]
    summ = summ.assign_coords(mode=("mode", np.arange(lam.size), attrs("mode")))
    summ.attrs.update({k: v for k, v in mc.attrs.items() if k in ("method", "model", "draw", "seed", "kernel_size")})
    if "kernel_size" in mc.attrs:  # fit.model conv: its figures make the spectrum's DFT grid again
        summ.attrs["spectrum_json"] = spec.attrs["spectrum_json"]
    summ.attrs.update({f"theory_{k}": v for k, v in th.attrs.items() if k in THEORY_ATTRS})
    if list(metrics) != ["w2"]:  # W2-only summaries keep their historical attributes
        summ.attrs["metrics"] = " ".join(metrics)
    return _write(summ, out, provenance, "study summary: Monte Carlo vs theory")
