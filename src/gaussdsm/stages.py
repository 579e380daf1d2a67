"""The workflow stages as plain functions: paths and parameter values in, NetCDF out.

Each Snakemake rule has a thin script in ``workflow/scripts/`` that unpacks
``snakemake.input/params/output`` and calls one function here; everything can
also be called directly from Python (the tests do).

Stage outputs (``results/<study>/``):

``spectrum.nc``         ``lam(mode)``
``fits/chunk-XXX.nc``   ``score_matrix(point, replicate, row, col)`` learned by DSM
``langevin/chunk-XXX.nc`` ``w2sq(point, gamma, replicate)``, ``diverged(...)``
``theory.nc``           :func:`gaussdsm.theory.error_terms` on the whole grid
``summary.nc``          MC mean/stderr, theory terms and z-scores on the grid
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
import traceback

import numpy as np
import xarray as xr

from . import montecarlo, theory
from .io import collect_provenance, read_dataset, write_dataset
from .spectra import make_spectrum
from .theory import PARAM_ATTRS

__all__ = [
    "job",
    "spectra",
    "fit_scores",
    "run_langevin",
    "analytic_error",
    "aggregate",
]

log = logging.getLogger("gaussdsm")

MODE_ATTRS = {"long_name": "eigen/Fourier mode index (eigenvalues sorted descending)", "units": "1"}
REP_ATTRS = {"long_name": "Monte-Carlo replicate (independent training set)", "units": "1"}
POINT_ATTRS = {"long_name": "fit point index within the chunk", "units": "1"}


@contextlib.contextmanager
def job(smk):
    """Run a Snakemake script body with logging to its ``log:`` file and BLAS pinned to its threads.

    Logs the job's parameters, the SLURM job id when running under SLURM, the
    wall time, and any exception with its traceback (then re-raises it so the
    job fails).
    """
    from threadpoolctl import threadpool_limits

    handlers = [logging.StreamHandler(sys.stderr)]
    if smk.log:
        handlers.append(logging.FileHandler(smk.log[0], mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers, force=True)
    log.info("rule %s, threads %s", smk.rule, smk.threads)
    fault = (smk.config or {}).get("fault_injection")
    if fault:  # the config switch for tests is the same as the environment variable
        os.environ["GAUSSDSM_FAULT"] = fault["rule"] if fault.get("mode", "fail") == "fail" else f"sigkill:{fault['rule']}"
    if os.environ.get("SLURM_JOB_ID"):
        log.info("SLURM_JOB_ID=%s on %s", os.environ["SLURM_JOB_ID"], os.environ.get("SLURMD_NODENAME", "?"))
    log.info("params: %s", json.dumps({k: v for k, v in smk.params.items()}, default=str)[:2000])
    t0 = time.perf_counter()
    try:
        with threadpool_limits(limits=int(smk.threads)):
            yield collect_provenance(smk.config, rule=smk.rule, workflow_dir=smk.scriptdir)
    except BaseException:
        log.error("rule %s failed:\n%s", smk.rule, traceback.format_exc())
        raise
    log.info("done in %.2f s", time.perf_counter() - t0)


def _fault(name: str) -> None:
    """Test hook: ``GAUSSDSM_FAULT=<stage>`` (or config ``fault_injection: {rule: <stage>}``) makes that stage
    fail (fault injection for workflow tests)."""
    if os.environ.get("GAUSSDSM_FAULT") == name:
        raise RuntimeError(f"fault injected into stage {name!r} (GAUSSDSM_FAULT)")


def _read_lam(path, rule):
    return read_dataset(path, rule, required=("lam",))["lam"].values


def spectra(spectrum: dict, out, provenance=None) -> xr.Dataset:
    """Stage ``spectra``: the data eigenvalues :math:`\\lambda` (see :func:`gaussdsm.spectra.make_spectrum`)."""
    p = dict(spectrum)
    lam = make_spectrum(p.pop("kind"), p.pop("d"), **p)
    ds = xr.Dataset(
        {"lam": ("mode", lam, {"long_name": "data covariance eigenvalue lambda (power spectrum)", "units": "1"})},
        coords={"mode": ("mode", np.arange(lam.size), MODE_ATTRS)},
        attrs={"spectrum_json": json.dumps(spectrum, sort_keys=True, default=str)},
    )
    write_dataset(ds, out, provenance, title="data spectrum")
    return ds


def _point_coords(points):
    return {
        "point": ("point", np.arange(len(points)), POINT_ATTRS),
        "n_samples": ("point", np.array([p["n_samples"] for p in points], dtype=np.int64), PARAM_ATTRS["n_samples"]),
        "sigma": ("point", np.array([p["sigma"] for p in points], dtype=float), PARAM_ATTRS["sigma"]),
        "tau": ("point", np.array([p["tau"] for p in points], dtype=float), PARAM_ATTRS["tau"]),
    }


def fit_scores(
    spectrum_path,
    points,
    *,
    seed: int,
    n_replicates: int,
    method: str = "exact",
    model: str = "full",
    draw: str = "wishart",
    loss_factor: float = 1.0,
    sgd: dict | None = None,
    out,
    provenance=None,
) -> xr.Dataset:
    r"""Stage ``fit_scores``: learn the score :math:`-Ay` on ``n_replicates`` training sets per fit point.

    Parameters
    ----------
    spectrum_path : path
    points : list of dict
        Fit points ``{"n_samples", "sigma", "tau"}``.
    seed : int
        Base seed.  Training sets use the ``"data"`` stream keyed by ``n_samples``
        only (common random numbers across sigma and tau); SGD uses the ``"sgd"``
        stream keyed by ``(n_samples, sigma, tau)``
        (:func:`gaussdsm.montecarlo.replicate_rngs`).
    n_replicates : int
    method : {'exact', 'sgd'}
        ``'exact'``: :math:`\hat A = (\hat\Sigma + \sigma^2 I)^{-1}` (R3/R11);
        ``'sgd'``: stationary snapshots of constant-step SGD (R6), see
        :func:`gaussdsm.montecarlo.sgd_scores`.
    model : {'full', 'diagonal'}
    draw : {'wishart', 'samples'}
        Exact fits only; SGD always draws the training points.
    loss_factor : float
        c of the loss :math:`c\|x - \theta y\|^2` (SGD only).
    sgd : dict
        ``batch_size``, ``n_snapshots``, ``burn_in_factor``, ``spacing_factor``,
        ``max_steps`` (``allow_unstable`` is a config check only).
    out : path

    Output
    ------
    ``score_matrix (point, replicate, snapshot, row, col)``; for SGD also
    ``exact_score_matrix (point, replicate, row, col)`` (same training sets) and
    ``sgd_diverged (point, replicate)``.
    """
    _fault("fit_scores")
    lam = _read_lam(spectrum_path, "fit_scores")
    if method not in ("exact", "sgd"):
        raise ValueError(f"fit.method must be 'exact' or 'sgd', got {method!r}")
    d = lam.size
    sgd = dict(sgd or {})
    sgd.pop("allow_unstable", None)
    n_snap = int(sgd.get("n_snapshots", 1)) if method == "sgd" else 1
    scores = np.empty((len(points), n_replicates, n_snap, d, d))
    data_vars = {}
    if method == "sgd":
        exact = np.empty((len(points), n_replicates, d, d))
        sgd_div = np.zeros((len(points), n_replicates), dtype=np.int8)
    for j, p in enumerate(points):
        data_rngs = montecarlo.replicate_rngs(seed, "data", n_replicates, n_samples=p["n_samples"])
        if method == "exact":
            scores[j, :, 0] = montecarlo.exact_scores(lam, p["n_samples"], p["sigma"], data_rngs, model=model, draw=draw)
        else:
            sgd_rngs = montecarlo.replicate_rngs(seed, "sgd", n_replicates, **p)
            A, A_exact, div = montecarlo.sgd_scores(
                lam, p["n_samples"], p["sigma"], p["tau"], data_rngs, sgd_rngs,
                model=model, loss_factor=loss_factor, **sgd,
            )
            scores[j], exact[j], sgd_div[j] = A, A_exact, div
            if div.any():
                log.warning("fit %s: %d SGD chain(s) diverged", montecarlo.canonical_params(**p), int(div.sum()))
        log.info("fit %s: %d replicates", montecarlo.canonical_params(**p), n_replicates)
    data_vars["score_matrix"] = (
        ("point", "replicate", "snapshot", "row", "col"),
        scores,
        {"long_name": "learned score matrix A (score = -A y)", "units": "1"},
    )
    if method == "sgd":
        data_vars["exact_score_matrix"] = (
            ("point", "replicate", "row", "col"),
            exact,
            {"long_name": "exact DSM score matrix of the same training set (paired baseline)", "units": "1"},
        )
        data_vars["sgd_diverged"] = (
            ("point", "replicate"),
            sgd_div,
            {"long_name": "1 if the SGD chain diverged", "units": "1"},
        )
    ds = xr.Dataset(
        data_vars,
        coords={
            **_point_coords(points),
            "replicate": ("replicate", np.arange(n_replicates), REP_ATTRS),
            "snapshot": ("snapshot", np.arange(n_snap), {"long_name": "stationary SGD snapshot index", "units": "1"}),
            "row": ("row", np.arange(d), MODE_ATTRS),
            "col": ("col", np.arange(d), MODE_ATTRS),
        },
        attrs={
            "method": method,
            "model": model,
            "draw": "samples" if method == "sgd" else draw,
            "loss_factor": float(loss_factor),
            "seed": int(seed),
            **({f"sgd_{k}": v for k, v in sorted(sgd.items())} if method == "sgd" else {}),
        },
    )
    write_dataset(ds, out, provenance, title="learned scores")
    return ds


def run_langevin(spectrum_path, fits_path, gamma, *, out, provenance=None) -> xr.Dataset:
    """Stage ``run_langevin``: W2 error of the ULA stationary law for every fitted score and every ``gamma``.

    Unstable draws are recorded in ``diverged`` (their ``w2sq`` is NaN), never dropped.
    For SGD fits the exact fit of the same training set is evaluated too
    (``w2sq_exact``), for the paired optimization-error estimate.
    """
    _fault("run_langevin")
    lam = _read_lam(spectrum_path, "run_langevin")
    fits = read_dataset(fits_path, "run_langevin", required=("score_matrix",))
    A = fits["score_matrix"].values
    gamma = np.asarray(sorted(float(g) for g in gamma))
    P, R, S, d = A.shape[:4]
    w2sq = np.empty((P, gamma.size, R, S))
    diverged = np.empty((P, gamma.size, R, S), dtype=bool)
    paired = "exact_score_matrix" in fits
    if paired:
        A0 = fits["exact_score_matrix"].values
        w2sq0 = np.empty((P, gamma.size, R))
        div0 = np.empty((P, gamma.size, R), dtype=bool)
        excess = np.empty((P, gamma.size, R, S))
    for j in range(P):
        for k, g in enumerate(gamma):
            if paired and float(fits["tau"][j]) > 0:
                pe = montecarlo.paired_errors(A[j], A0[j], lam, g)  # each stationary law solved once
                w2sq[j, k], diverged[j, k] = pe.w2sq, pe.diverged
                w2sq0[j, k], div0[j, k], excess[j, k] = pe.w2sq_exact, pe.diverged_exact, pe.excess
                continue
            w, dv = montecarlo.langevin_errors(A[j].reshape(R * S, d, d), lam, g)
            w2sq[j, k], diverged[j, k] = w.reshape(R, S), dv.reshape(R, S)
            if paired:  # tau = 0: the snapshots are the exact fit itself
                w2sq0[j, k], div0[j, k] = w[::S], dv[::S]
                excess[j, k] = 0.0
    dims = ("point", "gamma", "replicate", "snapshot")
    data_vars = {
        "w2sq": (dims, w2sq, {"long_name": "squared W2 distance of the ULA stationary law to the data law", "units": "1"}),
        "diverged": (
            dims,
            diverged.astype(np.int8),
            {"long_name": "1 if the ULA chain has no stationary law (unstable step or diverged SGD)", "units": "1"},
        ),
    }
    if paired:
        data_vars["w2sq_exact"] = (
            dims[:3],
            w2sq0,
            {"long_name": "squared W2 error with the exact fit of the same training set", "units": "1"},
        )
        data_vars["opt_excess"] = (
            dims,
            excess,
            {
                "long_name": "W2^2(SGD) - W2^2(exact fit, same data) minus its zero-mean linear part "
                "(control variate); NaN where a chain involved diverged",
                "units": "1",
            },
        )
        data_vars["diverged_exact"] = (
            dims[:3],
            div0.astype(np.int8),
            {"long_name": "1 if the ULA chain with the exact fit is unstable", "units": "1"},
        )
    ds = xr.Dataset(
        data_vars,
        coords={
            **{k: v for k, v in fits.coords.items() if k not in ("row", "col")},
            "gamma": ("gamma", gamma, PARAM_ATTRS["gamma"]),
        },
        attrs={k: fits.attrs[k] for k in ("method", "model", "draw", "seed") if k in fits.attrs},
    )
    write_dataset(ds, out, provenance, title="Langevin W2 errors per replicate")
    return ds


def analytic_error(spectrum_path, grid: dict, *, model="full", loss_factor=1.0, batch_size=1, out, provenance=None):
    """Stage ``analytic_error``: the closed-form expansion on the whole grid in one vectorised call (R5-R9)."""
    _fault("analytic_error")
    lam = _read_lam(spectrum_path, "analytic_error")
    ds = theory.error_terms(
        lam,
        np.asarray(grid["n_samples"]),
        np.asarray(grid["sigma"], dtype=float),
        np.asarray(grid["gamma"], dtype=float),
        np.asarray(grid["tau"], dtype=float),
        loss_factor=loss_factor,
        batch_size=batch_size,
        model=model,
    )
    write_dataset(ds, out, provenance, title="first-order theory")
    return ds


def aggregate(spectrum_path, theory_path, langevin_paths, *, out, provenance=None) -> xr.Dataset:
    """Stage ``aggregate``: Monte-Carlo mean, standard error and z-score against theory, on the grid.

    ``mc_mean`` is the mean over replicates whose chain is stable
    (:math:`\\mathbb E[W_2^2 \\mid \\text{stable}]`, §7.2 note 5);
    ``zscore = (mc_mean - theory_total) / mc_stderr``.

    Raises
    ------
    ValueError
        If a replicate not flagged diverged has a non-finite error (listed per
        grid point), or if the Monte-Carlo results do not cover the grid.
    """
    _fault("aggregate")
    lam = _read_lam(spectrum_path, "aggregate")
    th = read_dataset(theory_path, "aggregate", required=("total", "bias", "generalization", "optimization"))
    parts = [read_dataset(p, "aggregate", required=("w2sq", "diverged")) for p in langevin_paths]
    mc = xr.concat(parts, dim="point", data_vars="all", coords="different", compat="equals", join="outer")
    mc = mc.assign_coords(point=np.arange(mc.sizes["point"]))
    div = mc["diverged"].astype(bool)
    w = mc["w2sq"].where(~div)
    bad = ((~div) & ~np.isfinite(mc["w2sq"])).any("snapshot")
    if bool(bad.any()):
        n_bad = bad.sum("replicate")
        where = [
            f"n_samples={int(mc.n_samples[p])}, sigma={float(mc.sigma[p]):g}, tau={float(mc.tau[p]):g}, "
            f"gamma={float(mc.gamma[g]):g}: {int(n_bad[p, g])} replicate(s)"
            for p, g in zip(*np.nonzero(n_bad.values))
        ]
        raise ValueError("non-finite W2 errors in replicates not flagged diverged:\n  " + "\n  ".join(where))
    # A replicate's value is the mean over its stable snapshots (one chain per replicate);
    # the standard error is over replicates (independent chains).
    rep_ok = (~div).any("snapshot")
    rep = w.mean("snapshot", skipna=True).where(rep_ok)
    n_ok = rep_ok.sum("replicate")
    mean = rep.mean("replicate")
    std = rep.std("replicate", ddof=1)
    stderr = std / np.sqrt(n_ok.where(n_ok > 1))
    n_div = div.sum(("replicate", "snapshot"))
    data = {
        "mc_mean": mean.assign_attrs(
            long_name="Monte-Carlo mean of squared W2 error over stable replicates", units="1"
        ),
        "mc_stderr": stderr.assign_attrs(long_name="standard error of mc_mean", units="1"),
        "mc_n": n_ok.astype(np.int64).assign_attrs(long_name="number of stable replicates", units="1"),
        "n_diverged": n_div.astype(np.int64).assign_attrs(
            long_name="number of draws (replicate x snapshot) whose ULA chain or SGD chain diverged", units="1"
        ),
    }
    if "opt_excess" in mc:
        # per replicate: mean over its snapshots where every chain involved is stable
        ex = mc["opt_excess"]
        ok = np.isfinite(ex).any("snapshot")
        diff = ex.mean("snapshot", skipna=True).where(ok)
        n_pair = ok.sum("replicate")
        data["mc_opt_mean"] = diff.mean("replicate").assign_attrs(
            long_name="Monte-Carlo optimization error: mean of W2^2(SGD) - W2^2(exact fit, same data), with a "
            "zero-mean control variate (gaussdsm.montecarlo.optimization_excess)",
            units="1",
        )
        data["mc_opt_stderr"] = (diff.std("replicate", ddof=1) / np.sqrt(n_pair.where(n_pair > 1))).assign_attrs(
            long_name="standard error of mc_opt_mean", units="1"
        )
    summ = xr.Dataset(data)
    summ = summ.set_index(point=["n_samples", "sigma", "tau"]).unstack("point")
    for name in ("n_samples", "sigma", "tau"):
        summ[name].attrs.update(PARAM_ATTRS[name])
    summ = summ.transpose("n_samples", "sigma", "gamma", "tau")
    th = th.transpose("n_samples", "sigma", "gamma", "tau")
    missing = summ["mc_n"].isnull() if summ["mc_n"].dtype.kind == "f" else None
    if missing is not None and bool(missing.any()):
        raise ValueError("Monte-Carlo results do not cover the whole grid (a langevin chunk is missing)")
    try:
        summ, th = xr.align(summ, th, join="exact")
    except ValueError as err:
        raise ValueError(f"theory and Monte-Carlo grids differ: {err}") from None
    for k in ("mc_n", "n_diverged"):
        summ[k] = summ[k].astype(np.int64)
    for k in ("total", "bias", "generalization", "optimization", "valid", "n_samples_scale"):
        summ[f"theory_{k}"] = th[k].assign_attrs(th[k].attrs)
    summ["zscore"] = ((summ["mc_mean"] - summ["theory_total"]) / summ["mc_stderr"]).assign_attrs(
        long_name="(mc_mean - theory_total) / mc_stderr", units="1"
    )
    if "mc_opt_mean" in summ:
        summ["zscore_opt"] = ((summ["mc_opt_mean"] - summ["theory_optimization"]) / summ["mc_opt_stderr"]).assign_attrs(
            long_name="(mc_opt_mean - theory_optimization) / mc_opt_stderr (NaN at tau = 0, where both are 0)",
            units="1",
        )
    summ["diverged"] = (summ["n_diverged"] > 0).astype(np.int8).assign_attrs(
        long_name="1 if any replicate diverged at this grid point (excluded from theory fits)", units="1"
    )
    summ["lam"] = xr.DataArray(
        lam, dims="mode", attrs={"long_name": "data covariance eigenvalue lambda (power spectrum)", "units": "1"}
    )
    summ = summ.assign_coords(mode=("mode", np.arange(lam.size), MODE_ATTRS))
    summ.attrs.update({k: v for k, v in mc.attrs.items() if k in ("method", "model", "draw", "seed")})
    summ.attrs.update({f"theory_{k}": v for k, v in th.attrs.items() if k in ("model", "loss_factor", "batch_size")})
    write_dataset(summ, out, provenance, title="study summary: Monte Carlo vs theory")
    return summ
