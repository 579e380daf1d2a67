"""Optimal DSM noise amplitude :math:`\\sigma^\\star` (theory.md R9, R10; figure P5).

The expected error of the pipeline DSM -> SGD -> ULA is, to first order in
:math:`1/N` and :math:`\\tau` (R9, cross terms :math:`\\tau/N` neglected, §7.2 note 7),

.. math::

    \\mathcal E(\\sigma) = \\mathcal B(\\sigma, \\gamma)
        + \\frac1N\\sum_{i,k}K_N(\\lambda_i, \\lambda_k)
        + \\sum_{i,k}K_\\tau(\\lambda_i, \\lambda_k)

with the bias :math:`\\mathcal B` of R5, the generalization kernel :math:`K_N` of
R7 (R11 for the diagonal model) and the optimization kernel :math:`K_\\tau` of
R8.  The formulas live in :mod:`gaussdsm.theory`; this module only evaluates
and minimises them over :math:`\\sigma`:

* :func:`total_error` -- :math:`\\mathcal E` at given parameters, ``inf`` outside
  the stability region (so that a minimiser never picks such a point);
* :func:`optimal_sigma` -- numerical :math:`\\sigma^\\star = \\arg\\min_\\sigma \\mathcal E`
  (log-grid bracket, then vectorised zooms and a parabola);
* :func:`optimal_sigma_grid` -- the same over a :math:`(\\gamma, \\tau)` grid, as
  an :class:`xarray.DataArray`;
* :func:`r10_coefficients`, :func:`sigma_star_asymptotes` -- the R10 small-parameter
  asymptotes (leading terms of R9, valid for :math:`\\sigma^2, \\gamma \\ll \\lambda_{\\min}`).

R10 is a *derived illustration* (theory.md: "not the paper's statement"); the
figure P5 built on it is a proposal of the reproduction, not from the paper.

Validity of the underlying expansion (theory.md §7.2): the R8 term is accurate to
~5 % only for :math:`c_\\ell\\tau/\\sigma^2 \\lesssim 0.01` (note 6), and the 1/N term
needs :math:`N \\gg d` and :math:`N \\gg 2(\\lambda_{\\max}/\\tilde u_{\\min})^2` (note 5).
:math:`\\sigma^\\star` is the minimiser of the *first-order* R9 expression; where
these conditions fail it is the minimiser of the model, not of the true error.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from . import _checks, theory
from .samplers import ULA
from .vocabulary import attrs

__all__ = [
    "OptimalSigmaWarning",
    "total_error",
    "optimal_sigma",
    "optimal_sigma_status",
    "optimal_sigma_grid",
    "r10_coefficients",
    "sigma_star_asymptotes",
]

#: Relative margin above the ULA stability limit :math:`\sqrt{\gamma/2 - \lambda_{\min}}`.
ULA_MARGIN = 1e-6

_ON_BOUND = ("warn", "bound", "nan")


class OptimalSigmaWarning(RuntimeWarning):
    """:math:`\\sigma^\\star` sits at the edge of the search range, or nothing is admissible."""


# --------------------------------------------------------------------------- R9 total


def _check_options(lam, model, n_grid, on_bound) -> np.ndarray:
    """Validate the options shared by :func:`optimal_sigma` and :func:`optimal_sigma_grid`; return ``lam``."""
    _checks.choice("on_bound", on_bound, _ON_BOUND)
    _checks.choice("model", model, theory.SGD_MODELS)
    _checks.integer("n_grid", n_grid, ge=3)
    return _checks.spectrum(lam)


def _check_scalars(n_samples, gamma, tau):
    return (
        _checks.number("n_samples", n_samples, ge=1, allow_inf=True),
        _checks.number("gamma", gamma, ge=0),
        _checks.number("tau", tau, ge=0),
    )


def _total_1d(lam, sigma, n_samples, gamma, tau, loss_factor, batch_size, model, max_elements=4_000_000):
    """R9 total for a 1-D array of ``sigma`` at scalar ``(N, gamma, tau)``; ``inf`` where inadmissible."""
    sigma = np.asarray(sigma, dtype=float)
    out = np.full(sigma.shape, np.inf)
    d = lam.size
    ok = np.isfinite(sigma) & (sigma >= 0) & (gamma < ULA.max_step(lam.min(), sigma))  # R4 stability
    if tau > 0:
        ok &= sigma > 0
        ok &= theory.sgd_is_stable(lam, sigma, tau, loss_factor, batch_size, model)  # R6b / §7.1 note 3
    idx = np.flatnonzero(ok)
    step = max(1, max_elements // d)
    for j in range(0, idx.size, step):
        sl = idx[j : j + step]
        sg = sigma[sl]
        val = theory.bias(lam, sg, gamma)  # R5
        if np.isfinite(n_samples):
            val = val + theory.generalization_sum(lam, sg, gamma, model) / n_samples  # R7/R11, O(d) memory
        if tau > 0:
            val = val + theory.optimization_sum(lam, sg, gamma, tau, loss_factor, batch_size, model)  # R8
        out[sl] = np.where(np.isfinite(val), val, np.inf)
    return out


def total_error(lam, sigma, n_samples, gamma, tau, loss_factor=1.0, batch_size=1, model="full"):
    """First-order total error :math:`\\mathbb E W_2^2` of R9 at one point (or several ``sigma``).

    .. math::

        \\mathcal E(\\sigma;N,\\gamma,\\tau) = \\mathcal B(\\sigma,\\gamma)
            + \\frac1N\\sum_{i,k}K_N(\\lambda_i,\\lambda_k)
            + \\sum_{i,k}K_\\tau(\\lambda_i,\\lambda_k)

    (R5 + R7/R11 + R8 = R9; evaluated with :func:`gaussdsm.theory.bias`,
    :func:`gaussdsm.theory.kernel_generalization` and
    :func:`gaussdsm.theory.kernel_optimization`; the same sum as
    :func:`gaussdsm.theory.error_terms` ``total``, without its xarray overhead).

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
        Data spectrum :math:`\\lambda_i > 0`.
    sigma : float or array_like
        DSM noise amplitude(s) :math:`\\sigma \\ge 0`.
    n_samples : float
        Number of training samples :math:`N \\ge 1`; ``np.inf`` drops the
        generalization term.
    gamma, tau : float
        ULA step :math:`\\gamma \\ge 0` and SGD step :math:`\\tau \\ge 0` (``tau = 0``:
        exact minimisation, no optimization term).
    loss_factor : float
        :math:`c_\\ell` (:math:`\\tau' = c_\\ell\\tau`).
    batch_size : int
        SGD mini-batch size :math:`B`.
    model : {'full', 'diagonal'}
        Full-matrix (R7) or eigen-diagonal (R11) denoiser.

    Returns
    -------
    float or ndarray (shape of ``sigma``)
        The R9 total; ``np.inf`` outside the stability region: ULA unstable,
        :math:`\\gamma \\ge 2(\\lambda_{\\min}+\\sigma^2)` (R4), or, for :math:`\\tau > 0`,
        SGD without finite stationary second moments
        (:func:`gaussdsm.theory.sgd_is_stable`) or :math:`\\sigma = 0`.
    """
    lam = _checks.spectrum(lam)
    n_samples, gamma, tau = _check_scalars(n_samples, gamma, tau)
    _checks.choice("model", model, theory.SGD_MODELS)
    sig = np.asarray(sigma, dtype=float)
    out = _total_1d(lam, sig.ravel(), n_samples, gamma, tau, loss_factor, batch_size, model).reshape(sig.shape)
    return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------- numerical sigma*


def _sgd_sigma_max(lam, tau, loss_factor, batch_size, model, lo, hi):
    """Largest sigma in ``[lo, hi]`` with stable SGD (stability is monotone: it worsens as sigma grows).

    Returns ``hi`` if SGD is stable there, ``nan`` if unstable already at ``lo``.
    """
    if tau == 0:
        return hi

    def stable(s):
        return bool(theory.sgd_is_stable(lam, s, tau, loss_factor, batch_size, model))

    if stable(hi):
        return hi
    if not stable(lo):
        return np.nan
    a, b = np.log(lo), np.log(hi)  # stable at a, unstable at b
    for _ in range(200):
        m = 0.5 * (a + b)
        if m <= a or m >= b:
            break
        if stable(np.exp(m)):
            a = m
        else:
            b = m
    return float(np.exp(a))


REFINE_POINTS, REFINE_ZOOMS = 33, 3
"""The minimiser is refined by :data:`REFINE_ZOOMS` zooms of :data:`REFINE_POINTS` points each, then one parabola."""


def _refine(total, grid, f, i):
    r"""Refine the grid minimum ``grid[i]`` of ``f = total(grid)``: returns ``(sigma, total(sigma))``.

    Zooms on the bracket :math:`[\sigma_{i-1}, \sigma_{i+1}]` in :math:`\log\sigma`: each zoom evaluates
    ``total`` on :data:`REFINE_POINTS` points at once (one vectorised call) and keeps the two cells around its
    minimum (the bracket shrinks 16-fold); a parabola through the last three points gives the vertex, kept if it
    is lower.  Three zooms from a 200-point grid over :math:`[10^{-4}, 10]` leave a spacing of :math:`3\cdot10^{-5}`
    in :math:`\log\sigma`; the vertex is then at the round-off floor of a quadratic minimum
    (:math:`\sqrt{\epsilon}` relative), as bounded Brent (``xatol = 1e-10``) was, with
    four vectorised calls instead of about twelve scalar ones.
    """
    best_x, best_f = float(np.log(grid[i])), float(f[i])
    a, b = np.log(grid[max(i - 1, 0)]), np.log(grid[min(i + 1, grid.size - 1)])
    for _ in range(REFINE_ZOOMS):
        xs = np.linspace(a, b, REFINE_POINTS)
        fs = total(np.exp(xs))
        k = int(np.argmin(fs))
        if fs[k] < best_f:
            best_x, best_f = float(xs[k]), float(fs[k])
        a, b = xs[max(k - 1, 0)], xs[min(k + 1, REFINE_POINTS - 1)]
    if 0 < k < REFINE_POINTS - 1 and np.all(np.isfinite(fs[k - 1 : k + 2])):
        h, (f0, f1, f2) = xs[1] - xs[0], fs[k - 1 : k + 2]
        curv = f0 - 2 * f1 + f2
        if curv > 0:
            x = float(xs[k] + 0.5 * h * (f0 - f2) / curv)
            fx = float(total(np.array([np.exp(x)]))[0])
            if fx < best_f:
                best_x, best_f = x, fx
    return float(np.exp(best_x)), best_f


def _optimal_sigma(lam, n_samples, gamma, tau, sigma_bounds, loss_factor, batch_size, model, n_grid):
    """Core of :func:`optimal_sigma`: returns ``(sigma_star, status, message)``.

    ``status`` is ``'ok'``, ``'lower'``/``'upper'`` (minimum at that edge of the
    search range) or ``'none'`` (nothing admissible).
    """
    s_min, s_max = (float(x) for x in sigma_bounds)
    if not (0 < s_min < s_max and np.isfinite(s_max)):
        raise ValueError(f"sigma_bounds must satisfy 0 < low < high < inf, got {sigma_bounds!r}")
    ula_floor = np.sqrt(max(0.0, 0.5 * gamma - lam.min())) * (1.0 + ULA_MARGIN)
    lo = max(s_min, ula_floor)
    if not lo < s_max:
        return np.nan, "none", (
            f"no admissible sigma: ULA stability needs sigma > sqrt(gamma/2 - lam_min) = {ula_floor:.4g} "
            f">= upper bound {s_max:g}"
        )
    hi = _sgd_sigma_max(lam, tau, loss_factor, batch_size, model, lo, s_max)
    if not hi > lo:  # nan or degenerate
        return np.nan, "none", (
            f"no admissible sigma: SGD (tau={tau:g}, c_l={loss_factor:g}, B={batch_size}) is unstable "
            f"for every sigma >= {lo:.4g}"
        )
    grid = np.geomspace(lo, hi, int(n_grid))
    f = _total_1d(lam, grid, n_samples, gamma, tau, loss_factor, batch_size, model)
    finite = np.isfinite(f)
    if not finite.any():
        return np.nan, "none", f"no admissible sigma: the R9 total is not finite on [{lo:.4g}, {hi:.4g}]"
    i = int(np.argmin(f))  # inf never wins while a finite value exists
    x, fx = _refine(lambda s: _total_1d(lam, s, n_samples, gamma, tau, loss_factor, batch_size, model), grid, f, i)
    rel = 1e-6  # closer than this (relative) to an edge counts as "at the edge"
    if i == 0 and x <= grid[0] * (1 + rel):
        return float(grid[0]), "lower", (
            f"sigma* at the lower edge of the search range ({grid[0]:.4g}; "
            f"{'ULA stability limit' if lo > s_min else 'sigma_bounds[0]'}): the R9 total still decreases there"
        )
    if i == grid.size - 1 and x >= grid[-1] * (1 - rel):
        return float(grid[-1]), "upper", (
            f"sigma* at the upper edge of the search range ({grid[-1]:.4g}; "
            f"{'SGD stability limit' if hi < s_max else 'sigma_bounds[1]'}): the R9 total still decreases there"
        )
    return x, "ok", ""


def optimal_sigma(
    lam,
    n_samples,
    gamma,
    tau,
    *,
    sigma_bounds=(1e-4, 10.0),
    loss_factor=1.0,
    batch_size=1,
    model="full",
    n_grid: int = 200,
    on_bound: str = "warn",
) -> float:
    """Noise amplitude minimising the first-order R9 total, :math:`\\sigma^\\star = \\arg\\min_\\sigma \\mathcal E(\\sigma)`.

    Algorithm:

    1. admissible range :math:`[\\sigma_{lo}, \\sigma_{hi}]` with
       :math:`\\sigma_{lo} = \\max(\\text{sigma\\_bounds}[0], \\sqrt{\\max(0, \\gamma/2-\\lambda_{\\min})}\\,(1+10^{-6}))`
       (ULA stable, R4) and :math:`\\sigma_{hi}` = ``sigma_bounds[1]`` lowered to the
       largest :math:`\\sigma` with stable SGD (bisection on
       :func:`gaussdsm.theory.sgd_is_stable`, which is monotone in :math:`\\sigma`);
    2. :func:`total_error` on ``n_grid`` log-spaced points of that range, argmin :math:`i`;
    3. refinement in :math:`\\log\\sigma` on :math:`[\\sigma_{i-1}, \\sigma_{i+1}]`: three zooms of 33 points
       and a parabola through the last three (:func:`_refine`).

    The bracket assumes the grid resolves the basin of the global minimum.  R9
    had a single local minimum in :math:`\\sigma` on a 3000-point grid over
    :math:`[10^{-4}, 10]` in all 960 settings scanned (power laws
    :math:`\\alpha \\in \\{0.5, 1, 1.5, 2\\}`, d = 4, 16, N = 50, 1000, inf,
    :math:`\\gamma \\in [0, 1]`, :math:`\\tau \\in [0, 10^{-3}]`, both models); a second,
    narrower basin between two grid points could in principle be missed.

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    n_samples : float
        :math:`N`, or ``np.inf`` (no generalization term).
    gamma, tau : float
        ULA and SGD steps (``tau = 0``: no optimization term).
    sigma_bounds : (float, float)
        Search range for :math:`\\sigma`, ``0 < low < high < inf``.
    loss_factor, batch_size, model
        As in :func:`total_error`.
    n_grid : int
        Number of points of the bracketing grid.
    on_bound : {'warn', 'bound', 'nan'}
        What to do when the minimum sits at an edge of the search range (the R9
        total still decreases there, e.g. :math:`\\tau = 0`, :math:`N = \\infty`,
        :math:`\\gamma = 0`, where :math:`\\sigma^\\star \\to 0`): ``'warn'``
        (default) returns the edge value and issues an
        :class:`OptimalSigmaWarning`; ``'bound'`` returns it silently; ``'nan'``
        returns ``nan`` silently.  An edge set by a stability limit cannot be a
        minimum in practice, since the error blows up there.

    Returns
    -------
    float
        :math:`\\sigma^\\star` (not :math:`\\sigma^{\\star 2}`).  It satisfies
        :math:`2(\\lambda_{\\min}+\\sigma^{\\star2}) > \\gamma`.  ``nan``, with an
        :class:`OptimalSigmaWarning` stating the reason, if no :math:`\\sigma` in
        the range is admissible (ULA or SGD unstable everywhere).
    """
    lam = _check_options(lam, model, n_grid, on_bound)
    n_samples, gamma, tau = _check_scalars(n_samples, gamma, tau)
    x, status, msg = _optimal_sigma(lam, n_samples, gamma, tau, sigma_bounds, loss_factor, batch_size, model, n_grid)
    if status == "none":
        warnings.warn(msg, OptimalSigmaWarning, stacklevel=2)
        return np.nan
    if status in ("lower", "upper"):
        if on_bound == "nan":
            return np.nan
        if on_bound == "warn":
            warnings.warn(msg, OptimalSigmaWarning, stacklevel=2)
    return x


def optimal_sigma_status(lam, n_samples, gamma, tau, *, sigma_bounds=(1e-4, 10.0), loss_factor=1.0, batch_size=1,
                         model="full", n_grid: int = 200) -> tuple[float, str]:
    """:func:`optimal_sigma` and where it sits, silently: ``(sigma, status)``.

    ``status``: ``'ok'`` (an interior minimum of R9), ``'lower'`` (the R9 total still decreases at the lower edge
    of the search range: :math:`\\sigma^\\star \\to 0`, or the ULA stability limit when
    :math:`\\gamma/2 > \\lambda_{\\min}`), ``'upper'`` (at the upper edge) or ``'none'`` (nothing admissible;
    sigma is NaN).  Same arguments as :func:`optimal_sigma`.
    """
    lam = _check_options(lam, model, n_grid, "nan")
    n_samples, gamma, tau = _check_scalars(n_samples, gamma, tau)
    x, status, _ = _optimal_sigma(lam, n_samples, gamma, tau, sigma_bounds, loss_factor, batch_size, model, n_grid)
    return x, status


def optimal_sigma_grid(
    lam,
    n_samples,
    gammas,
    taus,
    *,
    sigma_bounds=(1e-4, 10.0),
    loss_factor=1.0,
    batch_size=1,
    model="full",
    n_grid: int = 200,
    on_bound: str = "warn",
) -> xr.DataArray:
    """:func:`optimal_sigma` over a grid of ULA steps and SGD steps.

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    n_samples : float
        :math:`N` (``np.inf`` allowed), one value for the whole grid.
    gammas, taus : float or 1-D array_like
        Grid values (scalars become length-1 dimensions).
    sigma_bounds, loss_factor, batch_size, model, n_grid
        As in :func:`optimal_sigma`.
    on_bound : {'warn', 'bound', 'nan'}
        As in :func:`optimal_sigma`, but with one summary warning for the grid.

    Returns
    -------
    xarray.DataArray
        :math:`\\sigma^\\star` with dims ``('gamma', 'tau')``; attrs ``long_name``,
        ``units``, the conventions (``n_samples``, ``loss_factor``, ``batch_size``,
        ``model``, ``sigma_bounds``) and the counts ``n_at_bound`` (points whose
        minimum sits at an edge of the search range) and ``n_inadmissible``
        (``nan``: nothing admissible).
    """
    lam = _check_options(lam, model, n_grid, on_bound)
    g = np.atleast_1d(np.asarray(gammas, dtype=float))
    t = np.atleast_1d(np.asarray(taus, dtype=float))
    if g.ndim != 1 or t.ndim != 1:
        raise ValueError("gammas and taus must be scalars or 1-D arrays")
    out = np.full((g.size, t.size), np.nan)
    n_bound = n_none = 0
    for a, gm in enumerate(g):
        for b, tu in enumerate(t):
            N, gm_, tu_ = _check_scalars(n_samples, gm, tu)
            x, status, _ = _optimal_sigma(lam, N, gm_, tu_, sigma_bounds, loss_factor, batch_size, model, n_grid)
            if status == "none":
                n_none += 1
            elif status in ("lower", "upper"):
                n_bound += 1
                out[a, b] = np.nan if on_bound == "nan" else x
            else:
                out[a, b] = x
    if n_none:
        warnings.warn(f"{n_none} grid point(s) have no admissible sigma (ULA or SGD unstable): nan",
                      OptimalSigmaWarning, stacklevel=2)
    if n_bound and on_bound == "warn":
        warnings.warn(f"{n_bound} grid point(s) have sigma* at an edge of the search range {tuple(sigma_bounds)}",
                      OptimalSigmaWarning, stacklevel=2)
    return xr.DataArray(
        out,
        dims=("gamma", "tau"),
        coords={
            "gamma": ("gamma", g, attrs("gamma")),
            "tau": ("tau", t, attrs("tau")),
        },
        name="sigma_star",
        attrs={
            "long_name": "optimal DSM noise amplitude sigma* (numerical minimiser of the first-order R9 total)",
            "units": "1",
            "n_samples": float(n_samples),
            "loss_factor": float(loss_factor),
            "batch_size": int(batch_size),
            "model": str(model),
            "sigma_bounds": [float(x) for x in sigma_bounds],
            "n_at_bound": int(n_bound),
            "n_inadmissible": int(n_none),
        },
    )


# --------------------------------------------------------------------------- R10 asymptotes


def r10_coefficients(lam, loss_factor=1.0, batch_size=1):
    """Coefficients of the leading-term R9 total used by R10.

    In the regime :math:`\\sigma^2, \\gamma \\ll \\lambda_{\\min}` (full model, :math:`N = \\infty`)

    .. math::

        \\mathcal E \\approx a\\,(\\sigma^2 + \\gamma/2)^2 + \\frac{\\tau\\,b}{2\\sigma^2},\\qquad
        a = \\sum_i\\frac1{4\\lambda_i},\\qquad
        b = \\frac{c_\\ell}{B}\\,b_\\tau,\\qquad
        b_\\tau = \\sum_{i,k}(1+\\delta_{ik})\\frac{\\lambda_i^2\\lambda_k^2(\\lambda_i^2+\\lambda_k^2)}{(\\lambda_i+\\lambda_k)^3}

    (R5 small-parameter limit and the :math:`1/\\sigma^2` term of R8/R9).
    :math:`b_\\tau` is theory.md's double sum; the returned ``b`` folds in
    :math:`c_\\ell` (and, at leading order in :math:`\\tau'`, the mini-batch factor
    :math:`1/B` of §7.1 note 3), because only the product :math:`c_\\ell\\tau b_\\tau/B`
    enters R10.  With the defaults ``b`` equals :math:`b_\\tau`.

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    loss_factor : float
        :math:`c_\\ell`.
    batch_size : int
        :math:`B`.

    Returns
    -------
    a, b : float
    """
    lam = _checks.spectrum(lam)
    li, lk = lam[:, None], lam[None, :]
    b_tau = float(((1.0 + np.eye(lam.size)) * li**2 * lk**2 * (li**2 + lk**2) / (li + lk) ** 3).sum())
    return float((0.25 / lam).sum()), float(loss_factor) / float(batch_size) * b_tau


def sigma_star_asymptotes(lam, gamma, tau, loss_factor=1.0, batch_size=1) -> dict:
    """R10: :math:`\\sigma^{\\star2}` from the leading terms of R9 (valid for :math:`\\sigma^2, \\gamma \\ll \\lambda_{\\min}`, :math:`N=\\infty`).

    With :math:`x = \\sigma^2` and :math:`a, b` from :func:`r10_coefficients`,
    :math:`\\mathcal E(x) \\approx a(x+\\gamma/2)^2 + \\tau b/(2x)`, and
    :math:`d\\mathcal E/dx = 2a(x+\\gamma/2) - \\tau b/(2x^2) = 0` gives the R10 cubic

    .. math::

        2a\\,x^2\\,(x + \\gamma/2) = \\frac{c_\\ell\\tau b_\\tau}{2}
        \\quad\\Longleftrightarrow\\quad x^3 + \\frac\\gamma2 x^2 = p,\\qquad p = \\frac{\\tau b}{4a},

    and its limits

    .. math::

        x \\approx \\Big(\\frac{c_\\ell\\tau b_\\tau}{4a}\\Big)^{1/3}\\ (\\gamma \\ll x),\\qquad
        x \\approx \\Big(\\frac{c_\\ell\\tau b_\\tau}{2a\\gamma}\\Big)^{1/2}\\ (\\gamma \\gg x).

    This re-derivation agrees with theory.md R10 exactly (no constant-factor
    discrepancy).  The cubic has exactly one positive root (one sign change);
    it is found by Newton's method started at the smaller of the two limits,
    which both bound it from above (the cubic is convex for :math:`x > 0`, so
    the iteration decreases monotonically onto the root).

    Beyond leading order the true minimiser of R9 exceeds the cubic root by a
    relative :math:`\\approx x\\,\\sum_i\\lambda_i^{-2}/(4\\sum_i\\lambda_i^{-1})` at
    :math:`\\gamma = 0` (next term :math:`-x^3\\sum_i 1/(8\\lambda_i^2)` of the bias), i.e.
    the relative error is :math:`O(\\sigma^{\\star 2}/\\lambda_{\\min}) = O(\\tau^{1/3})`.
    For power-law spectra with :math:`\\lambda_{\\min} \\ll \\sigma^2` R10 does not
    apply: use :func:`optimal_sigma`.  R4 stability additionally requires
    :math:`x > \\gamma/2 - \\lambda_{\\min}` (key ``stability_floor``).

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    gamma, tau : float or array_like (broadcast together)
    loss_factor, batch_size
        :math:`c_\\ell` and :math:`B`, see :func:`r10_coefficients`.

    Returns
    -------
    dict of float or ndarray
        All values are :math:`\\sigma^{\\star2}` (take the square root for :math:`\\sigma^\\star`):
        ``'small_gamma'`` :math:`(c_\\ell\\tau b_\\tau/(4a))^{1/3}`;
        ``'large_gamma'`` :math:`(c_\\ell\\tau b_\\tau/(2a\\gamma))^{1/2}` (``inf`` at :math:`\\gamma = 0`);
        ``'cubic'`` the positive root of the R10 cubic (0 at :math:`\\tau = 0`);
        ``'stability_floor'`` :math:`\\max(0, \\gamma/2 - \\lambda_{\\min})`.
    """
    lam = _checks.spectrum(lam)
    a, b = r10_coefficients(lam, loss_factor, batch_size)
    gamma, tau = np.broadcast_arrays(np.asarray(gamma, dtype=float), np.asarray(tau, dtype=float))
    if np.any(gamma < 0) or np.any(tau < 0):
        raise ValueError("gamma and tau must be >= 0")
    h = 0.5 * gamma
    p = tau * b / (4.0 * a)
    small = np.cbrt(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        large = np.where(gamma > 0, np.sqrt(p / np.where(gamma > 0, h, 1.0)), np.inf)
    x = np.minimum(small, large)
    pos = x > 0
    xs = np.where(pos, x, 1.0)
    for _ in range(100):
        step = (xs**3 + h * xs**2 - p) / (3.0 * xs**2 + 2.0 * h * xs)
        step = np.where(pos, step, 0.0)
        xs = xs - step
        if np.all(np.abs(step) <= 4 * np.finfo(float).eps * xs):
            break
    cubic = np.where(pos, np.minimum(xs, x), 0.0)  # the root never exceeds either limit (guards roundoff)
    floor = np.maximum(0.0, h - lam.min())

    def out(v):
        v = np.asarray(v, dtype=float)
        return float(v) if v.ndim == 0 else v

    return {"small_gamma": out(small), "large_gamma": out(large), "cubic": out(cubic), "stability_floor": out(floor)}
