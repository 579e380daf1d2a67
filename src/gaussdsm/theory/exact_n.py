r"""The expected error at every N for the diagonal and Fourier denoisers, by quadrature against the chi-square law.

For ``model='diagonal'`` (R11, real eigenbasis) the empirical mode variances are independent,
:math:`\hat\mu_k = \lambda_k\chi^2_{\nu_k}/\nu_k` with :math:`\nu_k = N`.  For ``model='fourier'`` the two real
directions of a conjugate pair (R11 factor :math:`\kappa_k = 1`) share one variance
:math:`\lambda_k\chi^2_{2N}/(2N)` (:math:`\nu_k = 2N`), a self-conjugate mode (:math:`\kappa_k = 2`) has
:math:`\nu_k = N` (exactly the law :func:`gaussdsm.montecarlo.training.mode_variances` draws).  An exact fit's
sampled law is :math:`\mathrm{diag}\,F(\hat\mu)` (the sampler's variance map, any sampler, exact or trained
diffusion fits) and every metric is a sum over modes :math:`g_k(\hat\mu_k) = m(F(\hat\mu_k), \lambda_k)`
(``Metric.per_mode``).

What is computed is what the Monte Carlo estimates (:func:`gaussdsm.montecarlo.estimator.estimate`): the mean
over replicates whose chain is stable in every mode, i.e. :math:`\mathbb E[\sum_k g_k \mid S]`,
:math:`S = \cap_k S_k`, :math:`S_k = \{\hat\mu_k \text{ stable and } g_k < \infty\}`.  The groups of modes that
share a variance (a mode, or a conjugate pair) are independent, so

.. math::

    \mathbb E\Big[\sum_k g_k \,\Big|\, S\Big] = \sum_k \mathbb E[g_k \mid S_k]
      = \sum_k \frac{\mathbb E[g_k\,1_{S_k}]}{P(S_k)},
    \qquad P(\text{unstable}) = 1 - \prod_{\text{groups}} P(S_k),

each a one-dimensional integral.  With :math:`u = \nu\hat\mu/(2\lambda) \sim \mathrm{Gamma}(\nu/2, 1)` and
:math:`s = \log u`, the density of :math:`s`, :math:`e^{as - e^s}/\Gamma(a)` (:math:`a = \nu/2`), is smooth and
decays (double-)exponentially: the trapezoidal rule in :math:`s` converges geometrically for integrands analytic
near the real axis (Trefethen & Weideman, SIAM Rev. 56 (2014) §5), including the :math:`\sqrt{\hat\mu}` of W2 and
the :math:`\log\hat\mu` of KL, which defeat a polynomial (Gauss–Laguerre) rule.  The range is
:math:`[\log u_{\epsilon}, \log u_{1-\epsilon}]`, :math:`\epsilon = 10^{-20}`; the weights are normalised.  Where
the stable set is :math:`\{\hat\mu > \mu_c\}`, :math:`\mu_c > 0` (e.g. ULA with :math:`\gamma/2 > \sigma^2`),
:math:`P(S_k)` is the regularised upper incomplete gamma function at :math:`\nu\mu_c/(2\lambda_k)` and the
truncated integral uses Gauss–Legendre in :math:`s` on :math:`[\log u_c, \log u_{1-\epsilon}]`; the integrand may be
unbounded at :math:`\mu_c` (a Langevin chain's variance diverges there): growing like
:math:`(\mu - \mu_c)^{-p}`, :math:`p \ge 1` (W2, KL(sample || data)), the conditional mean is infinite (reported
``inf`` with its reason; the Monte Carlo mean then has no finite limit either); a logarithmic growth (KL(data ||
sample)) is integrable but the rule then converges only algebraically.

The SGD term (tau > 0) is not included: exact fits and trained (gradient-flow / gradient-descent) diffusion fits
only.  Cost O(d Q) per setting, Q quadrature points, in blocks of bounded memory.

Many modes (more than :data:`INTERP_MIN_MODES`, no stability threshold; ``interpolate=True`` forces it): the
sampler's variance map is interpolated in :math:`\log\mu` (:class:`_InterpolatedMap`, piecewise Chebyshev, checked
to 1e-13) and the per-mode means are integrated on a log-lambda grid and interpolated to every mode
(:func:`_group_interpolated`, a cubic spline checked at the grid's midpoints: estimated error of the total at most
:data:`INTERP_RTOL`); where either check fails, every mode is integrated with the sampler's own map.  A texture's
d = 196608 then costs 0.02-0.5 s per setting (``benchmarks/bench_exact_n.py``).  Where the variance map nearly
vanishes at some :math:`\mu^*` (a coarse scheme's discretised flow changing sign: :math:`\sqrt F` has a near-kink),
each mode's integral is split there (:func:`_dip`, :func:`_split_rule`: tanh-sinh on both sides).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _checks

__all__ = ["ExactError", "exact_error", "chi2_rule", "mode_dof", "N_QUAD", "STEP", "N_MIN", "TAIL"]

STEP = 0.25
"""Default trapezoidal step in :math:`s = \\log u` (points ``max(N_MIN, range / STEP)``): measured relative error
below 1e-12 at every N >= 1 (tests/unit/test_exact_n.py); the error falls like :math:`e^{-\\pi^2/h}`."""
N_MIN = 32
"""Fewest quadrature points (a chi-square law with many degrees of freedom is narrow in s)."""
REFINE_RTOL = 1e-10
"""The step is halved until the total changes by at most this (relative)."""
MAX_REFINE = 5
"""At most this many halvings (32 times the points)."""
N_QUAD = None
"""Default ``n_quad``: chosen from the range and :data:`STEP`."""
TAIL = 1e-20
"""Probability mass left out in each tail of the chi-square law."""
BLOCK_ELEMENTS = 1 << 21
"""Modes x points evaluated at once (16 MB per array)."""


@dataclass(frozen=True)
class ExactError:
    """The exact expected error at one setting.

    ``mean``: :math:`\\mathbb E[\\text{error} \\mid \\text{stable}]` (what the Monte Carlo estimates);
    ``p_unstable``: the probability that some mode of a replicate is unstable (or its metric infinite);
    ``per_mode (d,)``: :math:`\\mathbb E[g_k \\mid S_k]`; ``p_stable_mode (d,)``: :math:`P(S_k)`; ``reason``: why
    ``mean`` is infinite or NaN, or not converged ('' otherwise); ``quad_error``: the estimated relative error of
    the quadrature (the change in the last halving of the step).
    """

    mean: float
    p_unstable: float
    per_mode: np.ndarray
    p_stable_mode: np.ndarray
    reason: str = ""
    quad_error: float = 0.0


def mode_dof(n_samples: int, d: int, model: str = "diagonal", kappa=None) -> np.ndarray:
    """Degrees of freedom :math:`\\nu_k` of each mode's empirical variance, shape ``(d,)``: N (diagonal model, or a
    self-conjugate Fourier mode, kappa = 2), 2N (a direction of a conjugate pair, kappa = 1)."""
    _checks.choice("model", model, ("diagonal", "fourier"))
    if model == "diagonal":
        return np.full(d, float(n_samples))
    if kappa is None:
        raise ValueError("model 'fourier' needs the spectrum's kappa (R11 factors, 1 or 2 per mode)")
    kappa = np.asarray(kappa, dtype=float)
    if kappa.shape != (d,) or not np.all((kappa == 1) | (kappa == 2)):
        raise ValueError(f"kappa must have shape ({d},) with values 1 or 2")
    return np.where(kappa == 1, 2.0 * n_samples, float(n_samples))


def _log_range(a: float, tail: float = TAIL) -> tuple[float, float]:
    """:math:`[\\log u_\\epsilon, \\log u_{1-\\epsilon}]` of :math:`u \\sim \\mathrm{Gamma}(a)`."""
    from scipy import special, stats  # here: scipy.stats costs 0.4 s to import, every workflow job would pay it

    lo = stats.gamma.ppf(tail, a)
    hi = stats.gamma.isf(tail, a)
    lo = math.log(lo) if lo > 0 else (math.log(tail) + special.gammaln(a + 1)) / a  # P(u < x) ~ x^a / Gamma(a + 1)
    return lo, math.log(hi)


def _log_density(s, a: float):
    from scipy import special

    return a * s - np.exp(s) - special.gammaln(a)


def chi2_rule(nu: float, n_quad: int | None = N_QUAD) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights (summing to 1) for :math:`\\mathbb E f(X)`, :math:`X \\sim \\chi^2_\\nu/\\nu`: the trapezoidal
    rule in :math:`s = \\log(\\nu X/2)`, shapes ``(Q,)``."""
    a = 0.5 * nu
    lo, hi = _log_range(a)
    if n_quad is None:
        n_quad = max(N_MIN, math.ceil((hi - lo) / STEP) + 1)
    s = np.linspace(lo, hi, n_quad)
    w = np.exp(_log_density(s, a))
    w[[0, -1]] *= 0.5
    return np.exp(s) / a, w / w.sum()


def _truncated_rule(nu: float, u_c: np.ndarray, n_quad: int | None):
    """Per mode, Gauss–Legendre in s on ``[log u_c, log u_hi]``: nodes X ``(Q, m)`` of chi2/nu, weights ``(Q, m)``
    summing to :math:`P(u > u_c)`."""
    a = 0.5 * nu
    lo, hi = _log_range(a)
    lo_k = np.maximum(lo, np.log(np.maximum(u_c, 1e-300)))
    if n_quad is None:
        n_quad = max(N_MIN, math.ceil((hi - lo) / STEP) + 1)
    t, wt = np.polynomial.legendre.leggauss(n_quad)
    y = 0.5 * (t[:, None] + 1.0)  # s = lo + L y^GRADE: nodes graded towards the threshold, where g may be singular
    L = hi - lo_k
    s = lo_k + L * y**GRADE
    w = 0.5 * wt[:, None] * GRADE * L * y ** (GRADE - 1) * np.exp(_log_density(s, a))
    return np.exp(s) / a, w


def _sampler(sampler, gamma, params):
    from ..samplers import Sampler
    from ..samplers.spec import build

    if isinstance(sampler, Sampler):
        return sampler
    if sampler == "diffusion":
        return build(sampler, **params)
    return build(sampler, gamma=0.0 if gamma is None else gamma, **params)


def _threshold(s, sigma, lam_max: float) -> float:
    r""":math:`\mu_c`: the stable set is assumed :math:`\{\mu > \mu_c\}`; located on a geometric grid (one
    vectorised call of the variance map), then narrowed on finer geometric grids to 1e-15 (relative)."""
    def ok(mu):
        with np.errstate(all="ignore"):
            return np.asarray(s.variance_and_stable(np.asarray(mu, dtype=float), sigma)[1], dtype=bool)

    hi = lam_max
    while not ok([hi])[0]:
        hi *= 4.0
        if hi > 1e300:
            return math.inf
    mus = hi * 4.0 ** -np.arange(0.0, math.floor(math.log(hi / 1e-300, 4.0)) + 1)
    good = ok(mus)
    if good.all():
        return 0.0
    j = int(np.argmin(good))  # the first unstable value, going down
    lo, hi = mus[j], mus[j - 1]
    while hi / lo - 1 >= 1e-15:
        grid = np.geomspace(lo, hi, 65)
        g = ok(grid)
        i = int(np.argmax(g))  # the first stable value, going up
        lo, hi = grid[i - 1], grid[i]
        if i == 0 or g[i - 1]:  # not monotone at this scale: stop here
            break
    return hi


GRADE = 4
"""Truncated rule: :math:`s = \\log u_c + L y^4`, Gauss–Legendre in y (a logarithmic singularity of the integrand at
the threshold becomes :math:`y^3\\log y`)."""
SINGULAR_ORDER = 0.99
"""The per-mode error grows like :math:`(\\mu - \\mu_c)^{-p}` at the stability threshold; :math:`p` at least this is
not integrable: the conditional mean is infinite."""


def _singular_order(s, sigma, m, mu_c: float, lam) -> np.ndarray:
    """The order p of the metric's growth at the threshold, per mode, from two points 1e-8 and 1e-12 above it."""
    mu = mu_c * (1.0 + np.array([1e-8, 1e-12]))[:, None] * np.ones_like(lam)
    with np.errstate(all="ignore"):
        g = m.per_mode(s.variance_and_stable(mu, sigma)[0], lam)
        return np.log(np.abs(g[1]) / np.abs(g[0])) / math.log(1e4)


SPLIT_T = 3.0
"""Split rule (:func:`_split_rule`): the tanh-sinh variable runs over ``[-SPLIT_T, SPLIT_T]`` (the weights left out
beyond are below 1e-16 of the total)."""
DIP_RATIO = 1e-2
r"""A variance map whose :math:`F(\mu)/\mu` falls inside the range below this fraction of its values at both ends
"nearly vanishes" (:func:`_dip`): the quadrature is split there."""


def _dip(s, sigma, mu_lo: float, mu_hi: float):
    r"""The :math:`\mu^*` where the variance map nearly vanishes (an interior minimum of :math:`F(\mu)/\mu` below
    :data:`DIP_RATIO` of its values at both ends of ``[mu_lo, mu_hi]``, then the minimum of F, located to 1e-12 in
    log mu), or None.  There :math:`\sqrt F` (W2) or :math:`\log F` (KL) has a near-kink or a narrow peak that
    the trapezoidal rule resolves only algebraically."""
    from scipy.optimize import minimize_scalar

    t = np.linspace(math.log(mu_lo), math.log(mu_hi), 4001)
    with np.errstate(all="ignore"):
        F, ok = s.variance_and_stable(np.exp(t), sigma)
    F = np.asarray(F, dtype=float)
    if not (np.all(ok) and np.all(np.isfinite(F))):
        return None
    r = F / np.exp(t)
    j = int(np.argmin(r))
    if j in (0, t.size - 1) or not r[j] < DIP_RATIO * min(r[0], r[-1]):
        return None
    j = int(np.argmin(F[max(j - 50, 0):j + 51])) + max(j - 50, 0)  # F's own minimum, near F/mu's

    def f(x):
        with np.errstate(all="ignore"):
            return float(np.asarray(s.variance_and_stable(np.array([math.exp(x)]), sigma)[0]).ravel()[0])

    lo, hi = t[max(j - 1, 0)], t[min(j + 1, t.size - 1)]
    res = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return math.exp(res.x)


def _split_rule(nu: float, u_star: np.ndarray, n_quad: int):
    r"""Per mode, the tanh-sinh rule (Takahasi & Mori 1974) in s on ``[lo, log u*]`` and on ``[log u*, hi]``: nodes
    cluster double-exponentially at :math:`\log u^*`, where the integrand has a near-kink, and the rule converges
    geometrically on each side.  Nodes X ``(2Q, m)`` of chi2/nu and weights ``(2Q, m)`` summing to 1."""
    a = 0.5 * nu
    lo, hi = _log_range(a)
    ss = np.clip(np.log(np.maximum(u_star, 1e-300)), lo, hi)
    t = np.linspace(-SPLIT_T, SPLIT_T, n_quad)[:, None]
    h = t[1, 0] - t[0, 0]
    y = 0.5 * (1.0 + np.tanh(0.5 * math.pi * np.sinh(t)))  # in (0, 1)
    dy = h * 0.25 * math.pi * np.cosh(t) / np.cosh(0.5 * math.pi * np.sinh(t)) ** 2
    s = np.concatenate([lo + (ss - lo) * y, ss + (hi - ss) * y])
    w = np.concatenate([dy * (ss - lo), dy * (hi - ss)]) * np.exp(_log_density(s, a))
    return np.exp(s) / a, w / w.sum(axis=0)


def _group(s, sigma, m, lam, nu: float, mu_c: float, q: int, mu_split=None):
    """``(E[g_k | S_k], P(S_k))`` for modes of one degrees of freedom ``nu``, ``q`` points, in blocks; ``mu_split``
    (no threshold only): the rule split there (:func:`_split_rule`, 2q points)."""
    per_mode, p_stable = np.empty(lam.size), np.empty(lam.size)
    if mu_c == 0.0 and mu_split is None:
        x, w = chi2_rule(nu, q)
    step = max(1, BLOCK_ELEMENTS // (q if mu_split is None else 2 * q))
    for j in range(0, lam.size, step):
        lk = lam[j:j + step]
        if mu_c == 0.0 and mu_split is not None:
            X, W = _split_rule(nu, 0.5 * nu * mu_split / lk, q)
            p = np.ones(lk.size)
        elif mu_c == 0.0:
            X, W = x[:, None], w[:, None]
            p = np.ones(lk.size)
        else:
            u_c = 0.5 * nu * mu_c / lk
            X, W = _truncated_rule(nu, u_c, q)
            from scipy import special

            p = special.gammaincc(0.5 * nu, u_c)
        with np.errstate(all="ignore"):
            F, ok = s.variance_and_stable(X * lk, sigma)
            g = m.per_mode(F, lk)
        good = ok & np.isfinite(g)
        # nodes flagged though above the threshold (a metric infinite there): their mass counts as unstable
        p = p - np.sum(np.where(good, 0.0, W), axis=0)
        with np.errstate(all="ignore"):
            per_mode[j:j + step] = np.sum(np.where(good, W * g, 0.0), axis=0) / p
        p_stable[j:j + step] = p
    return per_mode, p_stable


def _group_refined(s, sigma, m, lam, nu: float, mu_c: float, q: int, refine: bool, mu_split=None):
    """:func:`_group` with the step halved until the total changes by at most :data:`REFINE_RTOL`:
    ``(E[g_k | S_k], P(S_k), the last relative change)``."""
    prev, change = None, 0.0
    for _ in range(MAX_REFINE + 1 if refine else 1):
        pm, ps = _group(s, sigma, m, lam, nu, mu_c, q, mu_split)
        total = float(np.sum(pm))
        if prev is not None:
            with np.errstate(invalid="ignore"):
                change = abs(total - prev) / max(abs(total), np.finfo(float).tiny)
            if not change > REFINE_RTOL:  # converged (or infinite/NaN: nothing to refine)
                break
        prev, q = total, 2 * q - 1
    return pm, ps, change


INTERP_MIN_MODES = 4096
"""Groups of more modes than this (and no stability threshold) take :func:`_group_interpolated` by default."""
INTERP_START = 33
"""Points of the first log-lambda grid of :func:`_group_interpolated`."""
INTERP_RTOL = 1e-9
"""Largest estimated relative error of the total from the interpolated per-mode means (checked at the grid's
midpoints, the final spline has twice the points: its error is about 16 times smaller)."""
INTERP_MAX = 4097
"""Most grid points before :func:`_group_interpolated` gives up (then every mode is integrated)."""


def _group_interpolated(s, sigma, m, lam, nu: float, q: int, refine: bool, mu_split=None):
    r"""The per-mode means :math:`h(\lambda) = \mathbb E\,m(F(\lambda X), \lambda)`, :math:`X \sim
    \chi^2_\nu/\nu`, of many modes from a few: :math:`h` is smooth (analytic) in :math:`\log\lambda` (the
    sampler's variance map F and the metric are), so it is integrated (:func:`_group_refined`) on a uniform grid of
    :math:`\log\lambda` over the modes' range, and a cubic spline through those values is checked against the
    integrals at the grid's midpoints: the estimated error of the total,
    :math:`\sum_j n_j|\text{spline} - h|(\text{midpoint}_j) / \sum_k h_k` (:math:`n_j` modes in interval j),
    must be at most :data:`INTERP_RTOL`, else the midpoints join the grid and the check is repeated.  The spline
    through every point (grid and midpoints) is then evaluated at the modes.  Cost O(M Q + d) evaluations instead
    of O(d Q) (M grid points, a few hundred for a spectrum over 5 decades).

    Returns ``(E[g_k], P(S_k) = 1, estimated relative error)`` or None where it does not apply (some mode unstable
    or its metric infinite on the grid, or no convergence below :data:`INTERP_MAX` points): the caller then
    integrates every mode."""
    from scipy.interpolate import CubicSpline

    x = np.log(lam)
    lo, hi = float(x.min()), float(x.max())

    def means(grid):
        pm, ps, change = _group_refined(s, sigma, m, np.exp(grid), nu, 0.0, q, refine, mu_split)
        ok = np.all(ps == 1.0) and np.all(np.isfinite(pm))
        return (pm, change) if ok else (None, change)

    if hi - lo < 1e-9 * max(1.0, abs(hi)):  # one eigenvalue: one integral
        y, change = means(np.array([lo]))
        return None if y is None else (np.full(lam.size, y[0]), np.ones(lam.size), change)
    grid = np.linspace(lo, hi, INTERP_START)
    y, change = means(grid)
    while y is not None and grid.size <= INTERP_MAX:
        mid = 0.5 * (grid[:-1] + grid[1:])
        ym, ch = means(mid)
        if ym is None:
            return None
        change = max(change, ch)
        spline = CubicSpline(grid, y)
        total = float(np.sum(spline(x)))
        counts = np.histogram(x, bins=grid)[0]
        err = float(np.sum(counts * np.abs(spline(mid) - ym))) / max(abs(total), np.finfo(float).tiny)
        both = np.empty(2 * grid.size - 1)
        both[0::2], both[1::2] = grid, mid
        yb = np.empty_like(both)
        yb[0::2], yb[1::2] = y, ym
        grid, y = both, yb
        if err <= INTERP_RTOL:  # the spline through every point is the more accurate one
            return np.maximum(CubicSpline(grid, y)(x), 0.0), np.ones(lam.size), max(change, err / 16)
    return None


MAP_PANEL = 1.0
"""Interpolated variance map (:class:`_InterpolatedMap`): first panels of this width in log mu."""
MAP_DEGREE = 16
"""Chebyshev degree per panel."""
MAP_RTOL = 1e-13
"""Largest difference of the interpolated log F from log F at the check points (between the nodes) of a panel;
a panel above it is halved."""
MAP_MAX_PANELS = 8192
"""Most panels before the interpolation is given up (the variance map itself is used)."""


class _InterpolatedMap:
    r"""A sampler's variance map :math:`\mu \mapsto F(\mu)` on ``[mu_lo, mu_hi]`` by piecewise Chebyshev
    interpolation of :math:`\log F` in :math:`\log\mu` (degree :data:`MAP_DEGREE`, panels halved until the
    interpolant is within :data:`MAP_RTOL` of :math:`\log F` at the midpoints between its nodes): the quadrature
    then evaluates F at M x Q points for the price of a few thousand evaluations of the sampler's law.  It stands
    for the sampler in :func:`_group` (``variance_and_stable``; every point stable).  :meth:`build` returns None
    where it does not apply (an unstable point, F <= 0 or not finite, or too many panels)."""

    def __init__(self, edges: np.ndarray, coefs: np.ndarray):
        self.edges, self.coefs = edges, coefs  # (P + 1,), (P, MAP_DEGREE + 1)

    @classmethod
    def build(cls, s, sigma, mu_lo: float, mu_hi: float):
        deg = MAP_DEGREE
        x = np.cos(np.pi * np.arange(deg + 1) / deg)  # Chebyshev–Lobatto nodes on [-1, 1]
        xc = np.cos(np.pi * (np.arange(deg) + 0.5) / deg)  # between them: the check points
        inv = np.linalg.inv(np.polynomial.chebyshev.chebvander(x, deg))
        vc = np.polynomial.chebyshev.chebvander(xc, deg)
        lo, hi = math.log(mu_lo), math.log(mu_hi)
        n = max(1, math.ceil((hi - lo) / MAP_PANEL))
        todo = np.linspace(lo, hi, n + 1)
        todo = np.stack([todo[:-1], todo[1:]], axis=1)  # (n, 2) panels to fit
        done_a, done_c = [], []
        while todo.size:
            if len(done_a) + todo.shape[0] > MAP_MAX_PANELS:
                return None
            a, b = todo[:, :1], todo[:, 1:]
            t = np.concatenate([0.5 * (a + b) + 0.5 * (b - a) * x, 0.5 * (a + b) + 0.5 * (b - a) * xc], axis=1)
            with np.errstate(all="ignore"):
                F, ok = s.variance_and_stable(np.exp(t), sigma)
            F = np.asarray(F, dtype=float)
            if not (np.all(ok) and np.all(np.isfinite(F)) and np.all(F > 0)):
                return None
            y = np.log(F)
            c = y[:, :deg + 1] @ inv.T
            err = np.max(np.abs(c @ vc.T - y[:, deg + 1:]), axis=1)
            good = err <= MAP_RTOL * np.maximum(1.0, np.max(np.abs(y), axis=1))
            done_a += list(todo[good, 0])
            done_c += list(c[good])
            bad = todo[~good]
            mid = 0.5 * (bad[:, 0] + bad[:, 1])
            todo = np.concatenate([np.stack([bad[:, 0], mid], 1), np.stack([mid, bad[:, 1]], 1)])
        order = np.argsort(done_a)
        starts = np.asarray(done_a)[order]
        return cls(np.append(starts, hi), np.asarray(done_c)[order])

    def variance_and_stable(self, mu, sigma=None):
        """``(F(mu), True)`` for ``mu`` of any shape inside the range."""
        t = np.log(mu)
        i = np.clip(np.searchsorted(self.edges, t, side="right") - 1, 0, self.coefs.shape[0] - 1)
        a, b = self.edges[i], self.edges[i + 1]
        x2 = 2.0 * (2.0 * (t - a) / (b - a) - 1.0)
        b1 = np.zeros_like(t)
        b2 = np.zeros_like(t)
        for k in range(self.coefs.shape[1] - 1, 0, -1):  # Clenshaw
            b1, b2 = self.coefs[i, k] + x2 * b1 - b2, b1
        y = self.coefs[i, 0] + 0.5 * x2 * b1 - b2
        return np.exp(y), np.ones(t.shape, dtype=bool)


def exact_error(lam, n_samples, sigma=None, gamma=None, *, sampler="ula", model: str = "diagonal", kappa=None,
                metric: str = "w2", n_quad: int | None = N_QUAD, refine: bool = True,
                interpolate: bool | None = None, split: bool = True, **params) -> ExactError:
    r"""The exact expected error :math:`\mathbb E[\sum_k m(F(\hat\mu_k), \lambda_k) \mid \text{stable}]` at any N.

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
        The data spectrum (> 0).
    n_samples : int >= 1 or inf
        ``inf``: the population score (the bias alone).
    sigma : float, optional
        DSM noise of a Langevin sampler's score (diffusion scores ignore it).
    gamma : float, optional
        Langevin step.
    sampler : str or gaussdsm.samplers.Sampler
        A kind (``ula``, ``uld``, ``diffusion``) built with ``gamma`` and ``**params`` (e.g. ``n_steps``,
        ``t_min``, ``scheme``, and a diffusion fit's ``fit_method``, ``train_time``, ...), or one setting.
    model : {'diagonal', 'fourier'}
    kappa : array_like, shape ``(d,)``, optional
        ``model='fourier'``: the spectrum's R11 factors (1: a direction of a conjugate pair, 2: self-conjugate).
    metric : str
        A :data:`gaussdsm.metrics.METRICS` name.
    n_quad : int, optional
        Initial quadrature points per mode (default: from the chi-square law's range in log scale and :data:`STEP`);
        halved steps until :data:`REFINE_RTOL`.
    refine : bool
        False: one pass with ``n_quad`` points (to study the rule's convergence).
    interpolate : bool, optional
        Integrate a few modes and interpolate the others in :math:`\log\lambda` (:func:`_group_interpolated`,
        relative error <= :data:`INTERP_RTOL`, checked; where it does not apply every mode is integrated).  None
        (default): for groups of more than :data:`INTERP_MIN_MODES` modes without a stability threshold.
    split : bool
        Where the variance map nearly vanishes at some :math:`\mu^*` inside the range (:func:`_dip`), integrate
        each mode on both sides of it (:func:`_split_rule`); False: the trapezoidal rule throughout.

    Returns
    -------
    ExactError
        (module docstring for the formulas and the conditioning on stability).
    """
    from ..metrics import get

    m = get(metric)
    lam = _checks.spectrum(lam, allow_zero=True)
    d = lam.size
    s = _sampler(sampler, gamma, params)
    if s.shape not in ((),):
        raise ValueError("exact_error takes one sampler setting (broadcast grids: call it per point)")
    sg = 0.0 if sigma is None else float(sigma)
    if np.any(lam == 0):
        return _with_zero_modes(lam, n_samples, sg, s, m, model, kappa, dict(
            metric=metric, n_quad=n_quad, refine=refine, interpolate=interpolate, split=split))
    if math.isinf(float(n_samples)):
        with np.errstate(all="ignore"):
            F, ok = s.variance_and_stable(lam, sg)
            g = m.per_mode(F, lam)
        good = ok & np.isfinite(g)
        return ExactError(float(g.sum()) if good.all() else math.nan, 0.0 if good.all() else 1.0,
                          np.where(good, g, np.nan), good.astype(float))
    N = _checks.integer("n_samples", n_samples)
    if N < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
    nu = mode_dof(N, d, model, kappa)
    mu_c = _threshold(s, sg, float(lam.max()))
    per_mode = np.empty(d)
    p_stable = np.empty(d)
    if math.isinf(mu_c):
        per_mode[:], p_stable[:] = math.nan, 0.0
    quad_error = 0.0
    smp = s  # the sampler's variance map, or its interpolant (many modes, no stability threshold)
    if mu_c == 0.0 and (interpolate is True or (interpolate is None and d > INTERP_MIN_MODES)):
        rng = [(math.exp(b) / (0.5 * v) for b in _log_range(0.5 * v)) for v in np.unique(nu)]
        x_lo, x_hi = (np.array(r) for r in zip(*rng))
        smp = _InterpolatedMap.build(s, sg, 0.5 * float(x_lo.min() * lam.min()), 2.0 * float(x_hi.max() * lam.max()))
        smp = s if smp is None else smp
    for v in np.unique(nu):
        idx = np.flatnonzero(nu == v)
        q = n_quad or max(N_MIN, math.ceil(np.subtract(*_log_range(0.5 * v)[::-1]) / STEP) + 1)
        if math.isinf(mu_c):
            break
        done, mu_split = None, None
        if mu_c == 0.0 and split is not False:
            x_lo, x_hi = (math.exp(b) / (0.5 * v) for b in _log_range(0.5 * v))
            mu_split = _dip(s, sg, x_lo * float(lam[idx].min()), x_hi * float(lam[idx].max()))
        if mu_c == 0.0 and (interpolate is True or (interpolate is None and idx.size > INTERP_MIN_MODES)):
            done = _group_interpolated(smp, sg, m, lam[idx], v, q, refine, mu_split)
        pm, ps, change = done if done is not None else _group_refined(smp, sg, m, lam[idx], v, mu_c, q, refine,
                                                                       mu_split)
        per_mode[idx], p_stable[idx] = pm, ps
        if np.isfinite(change):
            quad_error = max(quad_error, change)
    reason = ""
    if 0.0 < mu_c < math.inf:
        singular = (_singular_order(s, sg, m, mu_c, lam) >= SINGULAR_ORDER) & (p_stable > 0)
        if np.any(singular):
            per_mode[singular] = math.inf
            reason = (f"the error grows without bound at the stability threshold mu = {mu_c:.6g}, which the "
                      "empirical variances reach with positive density: E[error | stable] is infinite")
    c = np.where(nu == 2.0 * N, 0.5, 1.0) if model == "fourier" else np.ones(d)  # a pair: one independent group
    with np.errstate(divide="ignore"):
        log_p = float(np.sum(c * np.log(np.clip(p_stable, 0.0, 1.0))))
    p_unstable = max(0.0, -math.expm1(log_p))
    if np.all(p_stable > 0):
        mean = float(per_mode.sum())
    else:
        mean = math.nan
        reason = "some mode is never stable"
    if quad_error > REFINE_RTOL and not reason:
        reason = (f"quadrature not converged to {REFINE_RTOL:g} after {MAX_REFINE} refinements (estimated relative "
                  f"error {quad_error:.2g}): the error is not smooth in log mu (the variance map nearly vanishes?)")
    return ExactError(mean, p_unstable, per_mode, p_stable, reason, quad_error)


def _with_zero_modes(lam, n_samples, sigma, s, m, model, kappa, options) -> ExactError:
    """:func:`exact_error` of a spectrum with zero eigenvalues: a zero-variance mode's empirical variance is 0 in
    every training set (every sample is 0 along it), so its term is the deterministic :math:`m(F(0), 0)` (W2:
    :math:`F(0)`; a KL divergence: infinite, the data covariance being singular); the other modes as usual."""
    zero = lam == 0
    with np.errstate(all="ignore"):
        F0, ok0 = s.variance_and_stable(np.zeros(1), sigma)
        g0 = float(np.asarray(m.per_mode(np.asarray(F0, dtype=float), np.zeros(1))).ravel()[0])
    stable0 = bool(np.all(ok0))
    ok0 = stable0 and np.isfinite(g0)
    per_mode, p_stable = np.full(lam.size, g0 if ok0 else math.nan), np.full(lam.size, 1.0 if ok0 else 0.0)
    rest = None
    if not zero.all():
        kap = None if kappa is None else np.asarray(kappa, dtype=float)[~zero]
        rest = exact_error(lam[~zero], n_samples, sigma, sampler=s, model=model, kappa=kap, **options)
        per_mode[~zero], p_stable[~zero] = rest.per_mode, rest.p_stable_mode
    if not ok0:
        why = (m.singular_reason(np.ones(lam.size), lam) or "the zero-variance modes' term is not finite") if \
            stable0 else "the sampler is unstable at the zero-variance modes (empirical variance 0)"
        return ExactError(math.inf if "infinite" in why else math.nan, 0.0 if "infinite" in why else 1.0,
                          per_mode, p_stable, why, 0.0 if rest is None else rest.quad_error)
    if rest is None:
        return ExactError(float(per_mode.sum()), 0.0, per_mode, p_stable, "", 0.0)
    return ExactError(rest.mean + g0 * int(zero.sum()), rest.p_unstable, per_mode, p_stable, rest.reason,
                      rest.quad_error)
