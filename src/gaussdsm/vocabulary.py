"""The NetCDF vocabulary: ``long_name`` and ``units`` of every variable and coordinate the package writes.

Every result file is built by :func:`dataset` (or annotated by :func:`annotate`), which looks a variable's
attributes up here by its name, or by an explicit *term* where one name means different things in different
files (``diverged`` is per draw in a sampler chunk and per grid point in a summary).  A term may be a template
(``"{study}"`` is filled in).  :func:`gaussdsm.io.write_dataset` refuses a variable without ``units`` and
``long_name``, so a new variable needs exactly one new line here.

All quantities are in units of the data (variance units for W2^2 and covariances): ``units = "1"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

__all__ = ["TERMS", "METRIC_TERMS", "attrs", "metric_attrs", "metric_variable", "dataset", "annotate"]

_MODE = "eigen/Fourier mode index (eigenvalues sorted descending)"

#: term -> long_name (units are "1" unless listed in :data:`UNITS`)
TERMS: dict[str, str] = {
    # grid parameters and index coordinates
    "n_samples": "number of training samples N",
    "sigma": "DSM noise amplitude sigma",
    "gamma": "ULA step size gamma",
    "tau": "SGD step size tau",
    "n_steps": "number of sampler steps K (inf: the stationary law)",
    "friction": "ULD friction gamma_f",
    "scheme": "diffusion scheme (sampler.scheme: a reverse-SDE, probability-flow ODE or annealed Langevin sampler)",
    "init": "diffusion initialisation (standard: the reference Gaussian; exact: p_T)",
    "t_min": "diffusion stopping time t_min",
    "train_time": "training time tau of the denoiser of every noise level (gradient flow; gd: lr x steps)",
    "nfe": "number of score evaluations (NFE)",
    "bias_init": "initialisation part of the bias: W2^2(sampler, exactly initialised sampler)",
    "bias_discretization": "discretization part of the bias: W2^2(exactly initialised sampler, p_t_min)",
    "bias_stopping": "stopping part of the bias: W2^2(p_t_min, p_0)",
    "mode": _MODE,
    "row": _MODE,
    "col": _MODE,
    "replicate": "Monte-Carlo replicate (independent training set)",
    "point": "fit point index within the chunk",
    "snapshot": "stationary SGD snapshot index",
    # spectra
    "lam": "data covariance eigenvalue lambda (power spectrum)",
    "kappa": "R11 variance factor of the mode's empirical variance (1: a direction of a conjugate pair, 2: self-conjugate)",
    "frequency": "angular DFT frequency |omega| of the mode",
    # fit_scores
    "score_matrix": "learned score matrix A (score = -A y)",
    "exact_score_matrix": "exact DSM score matrix of the same training set (paired baseline)",
    "sgd_diverged": "1 if the SGD chain diverged",
    # run_langevin
    "w2sq": "squared W2 distance of the ULA stationary law to the data law",
    "draw_diverged": "1 if the ULA chain has no stationary law (unstable step or diverged SGD)",
    "w2sq_exact": "squared W2 error with the exact fit of the same training set",
    "opt_excess": "W2^2(SGD) - W2^2(exact fit, same data) minus its zero-mean linear part (control variate); "
    "NaN where a chain involved diverged",
    "diverged_exact": "1 if the ULA chain with the exact fit is unstable",
    "used": "1 for a replicate that was drawn (the population score, n_samples = inf, draws one)",
    # analytic_error (gaussdsm.theory.error_terms)
    "bias": "bias error B(sigma, gamma) (R5)",
    "generalization": "generalization error (1/N) sum K_N (R7)",
    "optimization": "optimization error sum K_tau (R8)",
    "total": "expected squared W2 error, first order (R9)",
    "valid": "1 where the expansion is defined (stable sampler and SGD, sigma > 0 if tau > 0, R8 available)",
    "in_regime": "1 where the first-order expansion holds: valid, second_order <= 0.05 total (then within 10 %), "
    "c tau / sigma^2 <= 0.01",
    "optimization_available": "1 where the SGD term is derived for the sampler (stationary ULA) or tau = 0",
    "n_samples_scale": "2 (lam_max / (lam_min + sigma^2 - gamma/2))^2: the 1/N expansion needs N >> this",
    "second_order": "estimate of the O(1/N^2) term the expansion neglects: sum_i 3/4 nu_i^2 g''(lam_i)^2 / N^2, "
    "g = sqrt F, nu_i = lam_i (2 lam_i + sum_k!=i min(lam_i, lam_k)) (full model) or kappa_i lam_i^2 (diagonal models)",
    # aggregate (the Monte-Carlo estimator, gaussdsm.montecarlo.estimate)
    "mc_mean": "Monte-Carlo mean of squared W2 error over stable replicates",
    "mc_stderr": "standard error of mc_mean",
    "mc_n": "number of stable replicates",
    "n_diverged": "number of draws (replicate x snapshot) whose ULA chain or SGD chain diverged",
    "mc_opt_mean": "Monte-Carlo optimization error: mean of W2^2(SGD) - W2^2(exact fit, same data), with a "
    "zero-mean control variate (gaussdsm.montecarlo.optimization_excess)",
    "mc_opt_stderr": "standard error of mc_opt_mean",
    "zscore": "(mc_mean - theory_total) / mc_stderr",
    "zscore_opt": "(mc_opt_mean - theory_optimization) / mc_opt_stderr (NaN at tau = 0, where both are 0)",
    "diverged": "1 if any replicate diverged at this grid point (excluded from theory fits)",
    # figure data (gaussdsm.figures)
    "theory_line_n": "theory R9 on a dense N grid",
    "theory_total_line_tau": "theory R9 on a dense tau grid",
    "theory_optimization_line_tau": "theory R8 on a dense tau grid",
    "theory_line_gamma": "theory R9 on a dense gamma grid (NaN beyond the stability bound)",
    "theory_line_sigma": "theory R9 on a dense sigma grid",
    "stability_bound": "ULA stability bound 2(lam_min+sigma^2)",
    "theory_sigma_star": "argmin over the dense sigma grid of theory R9",
    "sigma_star_theory": "theory sigma* (numerical minimiser of R9; NaN unless an interior minimum)",
    "sigma_star_status": "where the R9 minimiser sits: 0 interior, 1 lower edge of the search range (sigma* -> 0, or "
    "the ULA stability limit), 2 upper edge, 3 no admissible sigma",
    "sigma_star_theory_gamma0": "theory sigma* at gamma = 0 (continuous time; off the log gamma axis)",
    "sigma_star_theory_tau0": "theory sigma* at tau = 0 (the exact fit; off the log tau axis)",
    "mc_sigma_star": "Monte-Carlo argmin of the error over the sigma grid",
    "r10_sigma_star": "R10 asymptote of sigma* ({branch}), NaN outside its regime",
    "n_limit": "N of the theory line",
    "n_limit_mc": "N of the Monte-Carlo points",
    "gamma_dense": "Langevin step gamma (dense)",
    "tau_dense": "SGD step tau (dense)",
    "sigma_dense": "DSM noise amplitude sigma (dense)",
    "n_dense": "number of training samples N (dense)",
    "contribution": "lam_i lam_k K(i,k) of R9 (not symmetric)",
    "bias_row": "bias contribution of mode i (R5)",
    "generalization_row": "row sum of K_N/N (R7)",
    "optimization_row": "row sum of K_tau (R8)",
    "lam_i": "eigenvalue lambda_i",
    "mode_i": _MODE,
    "mode_k": _MODE,
    "mc_mean_point": "Monte-Carlo E W2^2 at this point",
    "study_theory_term": "theory {term} for study {study}",
    "study_mc_mean": "MC mean for study {study}",
    "study_mc_stderr": "MC s.e. for study {study}",
    "study_theory_line": "theory for study {study}",
    "study_mc_mean_n": "MC mean, study {study}",
    "study_mc_stderr_n": "MC s.e., study {study}",
    "study_sigma": "DSM noise amplitude sigma of study {study}",
    "study_n_samples": "number of training samples N of study {study}",
    "study_diverged": "1 if any replicate diverged, study {study}",
    "study_stationary": "theory at K = inf (stationary law) for study {study}",
    "study_best_gamma": "step gamma minimising the theory at each K, study {study}",
    "study_best_error": "theory at the best step gamma*(K), study {study}",
    "study_gamma": "sampler step gamma of study {study}",
    "theory_line_nfe": "theory (bias + generalization) on a dense n_steps grid",
    "floor_nfe": "theory (bias + generalization) of the continuous-time law (n_steps = inf) of what the scheme "
                 "integrates, same process and t_min",
    "integrates": "what the scheme integrates as n_steps -> inf: sde (the reverse SDE), ode (the probability-flow ODE)",
    "discretization_w2sq": "W2^2 of the discretization part (exact initialisation, population score)",
    "initialisation_w2sq": "W2^2 of the initialisation part (standard initialisation, population score)",
    "stopping_w2sq": "W2^2 of the stopping part W2^2(p_t_min, p_0)",
    "theory_line_t_min": "theory (bias + generalization) on a dense t_min grid",
    "theory_line_train_time": "theory (bias + generalization) on a dense grid of training times",
    "theory_exact_fit": "theory (bias + generalization) with the exact DSM fit (training time inf)",
    "theory_exact_line_train_time": "exact theory at every N (chi-square quadrature per mode) on a grid of training "
    "times",
    "theory_exact_exact_fit": "exact theory at every N with the exact DSM fit (training time inf)",
    "t_min_star": "optimal stopping time t_min*(N): minimiser of the theory on the dense grid",
    "t_min_star_slope": "fitted slope of log t_min* against log N",
    "w2_path": "W2 between the law of y_k and p_t_k along the reverse trajectory (population score)",
    "t_path": "time t_k of reverse step k",
    "step": "reverse step index k",
    "condition_number": "condition number lam_max / lam_min of the study's spectrum",
    "ula_best": "theory for ULA run NFE steps from N(0, I) at its best step (population score)",
    "uld_best": "theory for ULD run NFE steps from N(0, I) at its best step and friction (population score)",
    "diffusion_at_budget": "theory (= Monte Carlo, population score) for the diffusion scheme at this NFE",
    "theory_at_nfe": "theory (bias + generalization) of the scheme at this NFE (n_steps = NFE / evaluations per step)",
    "rank_at_nfe": "rank of the scheme's theory among the schemes at this NFE (1: the lowest; NaN: undefined)",
    "best_schemes": "the schemes of lowest theory at this NFE, by place (empty: fewer defined)",
    "place": "place in the ranking (1: the lowest theory)",
    "metric": "error metric (gaussdsm.metrics: w2, kl_sample_data, kl_data_sample)",
    "study_name": "study",
    "study_ring_frequency": "mean |omega| of a ring of DFT frequencies, study {study}",
    "study_ring_power": "mean eigenvalue (power) in a ring of |omega|, study {study}",
    "study_ring_fit": "fitted power law A |omega|^-beta at the ring frequency, study {study}",
    "study_n_steps": "number of sampler steps K of study {study}",
    # gaussdsm.error (the front door)
    "z": "(mc_mean - total) / mc_stderr: Monte Carlo against the theory, in standard errors",
    "z_opt": "(mc_opt_mean - optimization) / mc_opt_stderr: the paired optimization error against R8",
    "mc_opt_n": "number of stable replicates of mc_opt_mean",
    "mc_opt_n_diverged": "number of diverged draws of mc_opt_mean",
    "mc_note": "why the point's Monte-Carlo values are NaN (empty: they are defined; one sentence per line)",
    "mc_drawn_mean": "Monte-Carlo E W2^2 with every level's denoiser trained by gd with the noise drawn",
    "mc_drawn_stderr": "standard error of mc_drawn_mean",
    "mc_drawn_n": "number of stable replicates of mc_drawn_mean",
    "mc_drawn_n_diverged": "number of diverged replicates of mc_drawn_mean",
    "mc_drawn_difference": "paired mean of W2^2(noise drawn) - W2^2(expected loss), same training sets",
    "mc_drawn_difference_stderr": "standard error of mc_drawn_difference",
    "theory": "the theory of total (gaussdsm.theory.kinds: expansion, exact, ...)",
    "total_expansion": "expected error, first order (R9): bias + generalization + optimization",
    "total_by_theory": "expected error by the theory of variable theory (exact: at every N, conditioned on stability)",
    "p_unstable": "probability that a replicate's chain is unstable (the expected error is conditioned on stability)",
    "quad_error": "estimated relative error of the theory's quadrature",
    "exact_total": "expected error at every N, exact (chi-square quadrature per mode), conditioned on stability",
    "theory_exact_total": "expected error at every N, exact (chi-square quadrature per mode), conditioned on stability",
    "exact_p_unstable": "probability that a replicate's chain is unstable (exact theory)",
    "exact_quad_error": "estimated relative error of the exact theory's quadrature",
    "exact_reason": "why the exact theory's value is infinite, NaN or not converged (empty: it is defined)",
    "zscore_exact": "(mc_mean - theory_exact_total) / mc_stderr",
    "reason": "why the point's theory is not defined (empty: every term is; one sentence per line)",
    "regime_note": "why the point is outside the first-order regime (empty: it is inside; one sentence per line)",
}

#: per-metric variables of a metric other than W2 (whose variables keep the historical names above): the variable
#: ``<metric>_<term>`` (e.g. ``kl_sample_data_mc_mean``) has the long_name ``METRIC_TERMS[term]`` with ``{metric}`` the
#: metric's long_name (:data:`gaussdsm.metrics.METRICS`)
METRIC_TERMS: dict[str, str] = {
    # run_sampler
    "draw": "{metric} of the sampler's law to the data law, per draw (inf: a singular covariance)",
    "draw_diverged": "1 if the draw is left out: the chain has no stationary law, or the {metric} is infinite",
    "exact": "{metric} with the exact fit of the same training set",
    "opt_excess": "{metric}(SGD) - {metric}(exact fit, same data) minus its zero-mean linear part (control "
    "variate); NaN where a chain involved diverged",
    "diverged_exact": "1 if the exact fit's draw is left out (unstable chain or infinite {metric})",
    # analytic_error
    "bias": "bias of the {metric} at N = inf, tau -> 0",
    "generalization": "generalization term of the {metric}, first order in 1/N",
    "optimization": "optimization (SGD) term of the {metric}, first order in tau",
    "total": "expected {metric}, first order",
    "valid": "1 where the {metric} expansion is defined and finite",
    "in_regime": "1 where the first-order expansion of the {metric} holds (as in_regime)",
    "optimization_available": "1 where the SGD term of the {metric} is derived for the sampler or tau = 0",
    "bias_init": "initialisation part of the bias: {metric}(sampler, exactly initialised sampler)",
    "bias_discretization": "discretization part of the bias: {metric}(exactly initialised sampler, p_t_min)",
    "bias_stopping": "stopping part of the bias: {metric}(p_t_min, p_0)",
    # aggregate
    "mc_mean": "Monte-Carlo mean of the {metric} over stable replicates",
    "mc_stderr": "standard error of the Monte-Carlo mean of the {metric}",
    "mc_n": "number of stable replicates with a finite {metric}",
    "n_diverged": "number of draws left out of the {metric}'s mean (diverged chain or infinite {metric})",
    "mc_opt_mean": "Monte-Carlo optimization term of the {metric} (paired with the exact fit, control variate)",
    "mc_opt_stderr": "standard error of the Monte-Carlo optimization term of the {metric}",
    "zscore": "(Monte-Carlo mean - theory total) / standard error, {metric}",
    "zscore_opt": "(Monte-Carlo optimization - theory optimization) / standard error, {metric}",
}

#: terms whose units are not "1"
UNITS: dict[str, str] = {"frequency": "radian per pixel"}


def attrs(term: str, /, **fmt) -> dict[str, str]:
    """``{"long_name": ..., "units": ...}`` of a term (templates filled with ``fmt``).

    Raises
    ------
    KeyError
        For a term the vocabulary does not define (add it to :data:`TERMS`).
    """
    try:
        long_name = TERMS[term]
    except KeyError:
        raise KeyError(f"no NetCDF vocabulary entry {term!r}: add it to gaussdsm.vocabulary.TERMS") from None
    return {"long_name": long_name.format(**fmt) if fmt else long_name, "units": UNITS.get(term, "1")}


def metric_variable(metric: str, term: str) -> str:
    """The NetCDF name of a metric's variable: W2's historical name (``term``; ``w2sq`` per draw) or
    ``<metric>_<term>``."""
    if metric == "w2":
        return {"draw": "w2sq", "draw_diverged": "diverged", "exact": "w2sq_exact"}.get(term, term)
    return f"{metric}_{term}"


def metric_attrs(metric: str, term: str) -> dict[str, str]:
    """``{"long_name", "units"}`` of the variable :func:`metric_variable` names (a metric other than W2; units
    "1": every metric is dimensionless in units of the data)."""
    from .metrics import get

    m = get(metric)
    return {"long_name": METRIC_TERMS[term].format(metric=m.long_name), "units": m.units}


def _variable(name, spec):
    """``spec``: a DataArray, or ``(dims, values)``, ``(dims, values, term)`` or ``(dims, values, (term, fmt))``."""
    if isinstance(spec, xr.DataArray):
        da = spec
        if not {"long_name", "units"} <= set(da.attrs):
            da = da.assign_attrs({**attrs(str(name)), **da.attrs})
        return da
    dims, values, *term = spec
    term = term[0] if term else name
    fmt = {}
    if isinstance(term, tuple):
        term, fmt = term
    return xr.Variable(dims, np.asarray(values), attrs(term, **fmt))


def dataset(data_vars: Mapping, coords: Mapping | None = None, attrs: Mapping | None = None) -> xr.Dataset:
    """An :class:`xarray.Dataset` whose variables and coordinates carry the vocabulary's attributes.

    Parameters
    ----------
    data_vars, coords : mapping name -> spec
        A spec is a DataArray (attributes filled by name where missing), ``(dims, values)`` (term = name),
        ``(dims, values, term)`` or ``(dims, values, (term, fmt))``.  A coordinate may also be a 1-D array:
        the dimension coordinate of that name.
    attrs : mapping, optional
        Global attributes.
    """
    cvars = {}
    for name, spec in (coords or {}).items():
        if not isinstance(spec, (tuple, xr.DataArray)):
            spec = (name, spec)
        cvars[name] = _variable(name, spec)
    dvars = {name: _variable(name, spec) for name, spec in data_vars.items()}
    return annotate(xr.Dataset(dvars, coords=cvars, attrs=dict(attrs or {})))


def annotate(ds: xr.Dataset) -> xr.Dataset:
    """Fill missing ``long_name``/``units`` of every variable and coordinate whose name is a vocabulary term."""
    for name, var in ds.variables.items():
        if not {"long_name", "units"} <= set(var.attrs) and str(name) in TERMS:
            var.attrs = {**attrs(str(name)), **var.attrs}
    return ds
