r"""Deterministic equivalents of the full (d x d) denoiser's error in the proportional regime (d, N large, d/N fixed).

The exact DSM fit on N samples depends on the data only through the empirical covariance with known zero mean and
divisor N, :math:`\hat\Sigma = \frac1N\sum_n x_nx_n^\top = U\,\mathrm{diag}(\hat\mu)\,U^\top`
(:func:`gaussdsm.dsm.empirical_covariance`), and every sampler's law is :math:`C = F(\hat\Sigma) =
U\,\mathrm{diag}(F(\hat\mu))\,U^\top` with the sampler's per-mode variance map F (``Sampler.variance_and_stable``,
the law :mod:`gaussdsm.theory.exact_n` integrates against the chi-square law).  With
:math:`\Sigma = \mathrm{diag}(\lambda)`, :math:`c = d/N` and :math:`\langle g\rangle = \frac1d\sum_k g(\lambda_k)`:

**Spectral law** (Marchenko & Pastur 1967; Silverstein & Bai 1995, J. Multivariate Anal. 54, eq. 1.4).  The
Stieltjes transform :math:`\tilde m(z)` of the companion matrix :math:`X^\top\Sigma X/N` solves

.. math:: z = -\frac{1}{\tilde m} + c\,\Big\langle\frac{\lambda}{1 + \lambda\tilde m}\Big\rangle,
    \qquad \operatorname{Im} z > 0 \Rightarrow \operatorname{Im}\tilde m > 0,

and the density of the eigenvalues of :math:`\hat\Sigma` at :math:`x > 0` is
:math:`f(x) = \operatorname{Im}\tilde m(x + i0)/(\pi c)`; for :math:`c > 1` an atom of mass :math:`1 - 1/c` sits at 0.
The equation is the finite-d one (the actual :math:`\lambda_k`, not a limit law): its solution is the deterministic
equivalent at this d.  Solved per x by Newton's method (continuation along an increasing log grid; from a large
imaginary part down to :math:`\operatorname{Im} z = 10^{-12}x` where continuation fails), compiled.

**Overlaps** (Ledoit & Péché 2011, PTRF 151, Thm. 2): for a function g of the population eigenvalues,
:math:`\Theta_g(z) = \frac1d\mathrm{tr}[(\hat\Sigma - z)^{-1}g(\Sigma)] \to
\langle g/(\lambda(1 - c - cz\,m) - z)\rangle = -\frac1z\langle g/(1 + \lambda\tilde m)\rangle`, and
:math:`\frac1\pi\operatorname{Im}\Theta_g(x + i0)` is the density of :math:`\frac1d\sum_j u_j^\top g(\Sigma)u_j\,
\delta_{\hat\mu_j}`.  By the equation itself, for :math:`x > 0`,

.. math::

    w_\lambda(x) = \frac{\operatorname{Im}\tilde m}{\pi c\,x\,|\tilde m|^2},\qquad
    w_{1/\lambda}(x) = \frac1\pi\Big[\Big(1 - \frac1c\Big)\frac{\operatorname{Im}\tilde m}{x}
        - \frac{\operatorname{Im}\tilde m^2}{c}\Big],

and at the atom (c > 1) the null space carries :math:`\langle g/(1 + \lambda\tilde m_0)\rangle`, :math:`\tilde m_0 > 0`
the root of :math:`c\langle\lambda\tilde m_0/(1 + \lambda\tilde m_0)\rangle = 1` (:math:`\lim_{z\to0} -z\Theta_g`).

**Deterministic equivalents** (:math:`a_0 = (1 - 1/c)_+` the atom's mass)

.. math::

    \tfrac1d\,\mathbb E\,\mathrm{tr}\,C &\simeq \int F f\,dx + a_0F(0), \qquad
    \tfrac1d\,\mathbb E\log\det C \simeq \int \log F\, f\,dx + a_0\log F(0),\\
    \tfrac1d\,\mathbb E\,\mathrm{tr}\,\Sigma^{-1}C &\simeq \int F w_{1/\lambda}\,dx
        + F(0)\langle 1/(\lambda(1 + \lambda\tilde m_0))\rangle,\qquad
    \tfrac1d\,\mathbb E\,\mathrm{tr}\,\Sigma C^{-1} \simeq \int w_\lambda/F\,dx
        + \langle\lambda/(1 + \lambda\tilde m_0)\rangle/F(0),

whence :math:`\mathrm{KL}(C\|\Sigma) = \frac12[\mathrm{tr}\,\Sigma^{-1}C - d - \log\det C + \log\det\Sigma]` and
:math:`\mathrm{KL}(\Sigma\|C) = \frac12[\mathrm{tr}\,\Sigma C^{-1} - d + \log\det C - \log\det\Sigma]`.  The
integrals use the trapezoidal rule in :math:`\log x` on the grid; ``quad_error`` is the largest error of the three
exact sum rules :math:`\int f + a_0 = 1`, :math:`\frac1d\sum_ju_j^\top\Sigma^{\pm1}u_j = \langle\lambda^{\pm1}\rangle`.

**W2.** :math:`W_2^2 = \mathrm{tr}\,\Sigma + \mathrm{tr}\,C - 2\,\mathrm{tr}(\Sigma^{1/2}C\Sigma^{1/2})^{1/2}`.  The
first two terms are the above; the fidelity term is **not** derived here: it is a spectral statistic of
:math:`C^{1/2}\Sigma C^{1/2}`, whose entries in the eigenbasis of :math:`\hat\Sigma`,
:math:`\sqrt{F(\hat\mu_i)F(\hat\mu_j)}\,u_i^\top\Sigma u_j`, involve the off-diagonal overlaps
:math:`u_i^\top\Sigma u_j` jointly; Ledoit–Péché give only the diagonal ones.  For a linear F the matrix is
:math:`\Sigma^{1/2}(W + s\Sigma^{-2})\Sigma^{1/2}`-type free sums (W white Wishart, free from Σ), and for rational F
(stationary ULA: :math:`F(\mu) = (\mu + \sigma^2)^2/(\mu + \sigma^2 - \gamma/2)`) a linearisation and
operator-valued subordination would give it, but no general-F deterministic equivalent is derived.  The fidelity
is therefore estimated by **Monte Carlo** (``fidelity_replicates`` draws of :math:`\hat\Sigma` at this d, exact
eigendecompositions), flagged in ``methods['fidelity'] = 'monte_carlo'`` with its standard error.  Its draws move
with those of :math:`\mathrm{tr}\,C` (both O(1) absolute fluctuations, strongly correlated), so the estimate is the
mean of :math:`\mathrm{tr}(\Sigma^{1/2}C\Sigma^{1/2})^{1/2} - \frac12\mathrm{tr}\,C` plus half the deterministic
:math:`\mathrm{tr}\,C` (a control variate): the reported :math:`W_2^2` is then exactly the Monte Carlo mean of
:math:`W_2^2` over those draws, i.e. **W2 is a Monte Carlo value**, not a deterministic equivalent.  What is
deterministic is a bracket (:func:`_w2_bounds`): below, the sorted-spectra value
:math:`\sum_i(\sqrt{\lambda_{(i)}} - \sqrt{c_{(i)}})^2` (``parts['w2_lower_bound']``), above,
:math:`\|\Sigma^{1/2} - C^{1/2}\|_F^2` through the overlaps of :math:`g = \sqrt\lambda`
(``parts['w2_upper_bound']``; 2-14 % above W2 on the validation grid at d = 200, the lower bound at 4-78 % of it).

**Renormalised noise level** (Wang, Zavatone-Veth & Pehlevan, arXiv 2602.02908; equivalently
:math:`\kappa(z) = 1/\tilde m(-z)`): :math:`\mathbb E[\hat\Sigma(\hat\Sigma + z)^{-1}] \simeq
\Sigma(\Sigma + \kappa(z))^{-1}` with :math:`\kappa - z = c\,\langle\kappa\lambda/(\kappa + \lambda)\rangle`
(:func:`renormalised_noise`); the mean learned denoiser at noise :math:`\sigma^2` (ULA's score) is
:math:`\mathrm{diag}\,\lambda/(\lambda + \kappa(\sigma^2))`, and a diffusion's at level t, :math:`m_t\hat\Sigma(m_t^2
\hat\Sigma + \sigma_t^2)^{-1}`, has mean :math:`m_t^{-1}\lambda/(\lambda + \kappa(\sigma_t^2/m_t^2))`
(:func:`mean_denoiser`).

**Regime.**  Every value is a deterministic equivalent: exact as d, N → ∞ at fixed d/N, with relative errors
O(1/d) for the linear spectral statistics (their mean's CLT correction is O(1) absolute; Bai & Silverstein 2004).
``regime='proportional'``; ``regime_note`` says when d < :data:`MIN_D`.  Stability is decided on the support: if F
is unstable or infinite on it (or at the atom), the expected error is not defined (``reason``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import _checks

__all__ = ["DeterministicEquivalent", "SpectralLaw", "deterministic_equivalent", "spectral_law",
           "renormalised_noise", "mean_denoiser", "monte_carlo_metrics", "fidelity_monte_carlo", "MIN_D", "N_GRID",
           "ETA", "REFINE_TOL"]

MIN_D = 100
"""Below this d the O(1/d) corrections of the deterministic equivalents may exceed a few per cent (``regime_note``)."""
N_GRID = 1000
"""Points of the initial log grid in x."""
REFINE_TOL = 2e-7
"""An interval is bisected while the trapezoidal rule's local error estimate on it (its change departing from the
neighbouring intervals', times its width, for each of the three normalised integrals) exceeds this."""
MAX_REFINE = 12
"""At most this many rounds of bisection."""
MAX_NODES = 200_000
"""No refinement beyond this many nodes."""
ETA = 1e-12
"""Relative imaginary part of z on the real axis."""
FIDELITY_REPLICATES = 4
"""Default Monte Carlo draws for the W2 fidelity term."""


def _kernel():
    import numba

    @numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp"}, error_model="numpy")
    def sums(b, m):
        # <1/(b + m)> and <1/(b + m)^2> in real arithmetic (vectorised): with p = b + Re m, v = Im m,
        # q = 1/(p^2 + v^2): 1/(b + m) = (p - iv) q and 1/(b + m)^2 = (p^2 - v^2 - 2ipv) q^2
        u = m.real
        v = m.imag
        v2 = v * v
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        a4 = 0.0
        a5 = 0.0
        for k in range(b.size):
            p = b[k] + u
            q = 1.0 / (p * p + v2)
            pq = p * q
            a1 += pq
            a2 += q
            a3 += pq * pq
            a4 += q * q
            a5 += pq * q
        n = b.size
        return complex(a1, -v * a2) / n, complex(a3 - v2 * a4, -2.0 * v * a5) / n

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def newton(b, c, z, m, max_iter):
        for _ in range(max_iter):
            s1, s2 = sums(b, m)
            if m == 0j:
                return m, False
            f = -1.0 / m + c * s1 - z
            if abs(f) <= 1e-15 * (abs(1.0 / m) + abs(z)):  # at the rounding level of its terms
                return m, True
            fp = 1.0 / (m * m) - c * s2
            if fp == 0j:  # cancelled to zero (far below the support): no Newton step
                return m, False
            dm = f / fp
            step = 1.0
            mn = m - dm
            while mn.imag < 0.0 and step > 1e-6:
                step *= 0.5
                mn = m - step * dm
            if mn.imag < 0.0:
                return m, False
            m = mn
            if abs(dm) * step <= 1e-13 * abs(m):
                return m, True
        return m, abs(dm) <= 1e-9 * abs(m)

    @numba.njit(cache=True, nogil=True, error_model="numpy")
    def solve(b, c, mean_lam, x, eta, guess, out, flag):
        """Per node j: Newton from ``guess[j]`` (NaN: from the previous node's solution), else from far above the
        axis down to it."""
        have = False
        m = 0j
        for j in range(x.size):
            z = complex(x[j], eta * x[j])
            ok = False
            start = guess[j]
            if start == start:  # not NaN
                m = start
                have = True
            if have:
                mn, ok = newton(b, c, z, m, 60)
                if ok:
                    if mn.imag < 1e-8 * abs(mn):  # a real root: only the one with dx/dm > 0 is the transform
                        s1, s2 = sums(b, complex(mn.real, 0.0))
                        ok = mn.real != 0.0 and 1.0 / (mn.real * mn.real) - c * s2.real > 0.0
                if ok:
                    m = mn
            if not ok:  # from far above the axis down to it
                e = 4.0 * x[j] + c * mean_lam
                mm = 1.0 / (-complex(x[j], e) + c * mean_lam)
                for _ in range(200):
                    s1, s2 = sums(b, mm)
                    den = -complex(x[j], e) + c * s1
                    if den == 0j:
                        break
                    mn = 1.0 / den
                    if abs(mn - mm) <= 1e-12 * abs(mn):
                        mm = mn
                        break
                    mm = mn
                conv = True
                while e > eta * x[j]:
                    e = max(e * 0.1, eta * x[j])
                    mm, conv = newton(b, c, complex(x[j], e), mm, 80)
                    if not conv:
                        break
                m = mm
                ok = conv
            out[j] = m
            flag[j] = ok
            have = ok
        return out

    @numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "arcp"}, error_model="numpy")
    def overlap(lam, g, x, m, out):
        # (1/pi) Im Theta_g(x + i0) = -(1/(pi x)) Im <g/(1 + lam m)> = (Im m/(pi x)) <g lam/|1 + lam m|^2>
        n = lam.size
        for j in range(x.size):
            u = m[j].real
            v = m[j].imag
            acc = 0.0
            for k in range(n):
                p = 1.0 + lam[k] * u
                q = lam[k] * v
                acc += g[k] * lam[k] / (p * p + q * q)
            out[j] = v * acc / (n * np.pi * x[j])
        return out

    return solve, overlap


_SOLVE = None


def _solver():
    global _SOLVE
    if _SOLVE is None:
        _SOLVE = _kernel()
    return _SOLVE[0]


def overlap_weights(law: "SpectralLaw", lam, g) -> tuple[np.ndarray, float]:
    r"""Quadrature weights of :math:`\frac1d\sum_j u_j^\top g(\Sigma)u_j\,h(\hat\mu_j) \approx \sum_i h(x_i)w_i +
    h(0)\,w_0` for any g (Ledoit & Péché 2011: the density :math:`\frac1\pi\operatorname{Im}\Theta_g(x + i0)`,
    module docstring): ``(w (G,), w_0)``, ``g (d,)`` the values :math:`g(\lambda_k)`.  O(G d) compiled."""
    lam = np.asarray(lam, dtype=float)
    g = np.asarray(g, dtype=float)
    _solver()
    dens = np.empty(law.x.size)
    _SOLVE[1](lam, g, law.x, np.where(law.density > 0, law.m, law.m.real + 0j), dens)
    w0 = float(np.mean(g / (1.0 + lam * law.m0))) if law.atom > 0 else 0.0
    return dens * law.q, w0


@dataclass(frozen=True)
class SpectralLaw:
    """The deterministic equivalent of the spectrum of :math:`\\hat\\Sigma` with its overlap weights.

    ``x (G,)``: the log grid; ``density``, ``w_lam``, ``w_inv (G,)``: quadrature weights (the trapezoidal rule in
    log x times the densities f, :math:`w_\\lambda`, :math:`w_{1/\\lambda}`), so that
    :math:`\\int h f\\,dx \\approx \\sum_j h(x_j)\\,\\mathrm{density}_j`; ``atom``: the mass at 0, ``atom_lam``,
    ``atom_inv``: the null space's :math:`\\langle\\lambda^{\\pm1}/(1 + \\lambda\\tilde m_0)\\rangle`;
    ``m (G,)``: :math:`\\tilde m(x + i\\eta x)`; ``c = d/N``; ``quad_error``: the largest relative error of the three
    sum rules; ``converged``: Newton converged at every node; ``q (G,)``: the trapezoidal weights in x (log-x rule
    times x); ``m0``: :math:`\\tilde m_0` (c > 1; NaN otherwise).
    """

    x: np.ndarray
    density: np.ndarray
    w_lam: np.ndarray
    w_inv: np.ndarray
    atom: float
    atom_lam: float
    atom_inv: float
    m: np.ndarray
    c: float
    quad_error: float
    converged: bool
    q: np.ndarray | None = None
    m0: float = math.nan


def _m0(lam, c) -> float:
    """:math:`\\tilde m_0`: the root of :math:`c\\langle\\lambda m/(1 + \\lambda m)\\rangle = 1` (c > 1), by Newton
    in log m (the left side increases from 0 to c)."""
    from scipy.optimize import brentq

    def g(t):
        m = math.exp(t)
        return c * float(np.mean(lam * m / (1.0 + lam * m))) - 1.0

    lo, hi = -math.log(lam.max()) - 5.0, -math.log(lam.min()) + 5.0
    while g(lo) > 0:
        lo -= 10.0
    while g(hi) < 0:
        hi += 10.0
    return math.exp(brentq(g, lo, hi, xtol=1e-15, rtol=1e-15))


def _densities(lam, c, x, m):
    r"""f, w_lam, w_inv at the nodes (module docstring), from :math:`\tilde m(x + i\eta x)`."""
    im = np.maximum(m.imag, 0.0)
    im = np.where(im > 1e-9 * np.abs(m), im, 0.0)  # outside the support: the eta part only
    f = im / (math.pi * c)
    wl = im / (math.pi * c * x * np.abs(m) ** 2)
    wi = np.maximum(((1.0 - 1.0 / c) * im / x - np.where(im > 0, (m * m).imag, 0.0) / c) / math.pi, 0.0)
    return f, wl, wi


def _solve(lam, c, x, guess):
    m = np.empty(x.size, dtype=complex)
    ok = np.empty(x.size, dtype=np.bool_)
    _solver()(1.0 / lam, c, float(lam.mean()), x, ETA, np.asarray(guess, dtype=complex), m, ok)
    return m, ok


def spectral_law(lam, n_samples, n_grid: int = N_GRID, tol: float = REFINE_TOL) -> SpectralLaw:
    r"""The deterministic equivalent of the eigenvalue law of :math:`\hat\Sigma` and its overlap weights (module
    docstring), for population spectrum ``lam (d,)`` (> 0) and ``n_samples`` N.

    A log grid of ``n_grid`` nodes on :math:`[\tfrac12\lambda_{\min}\max((1 - \sqrt c)^2, 10^{-12}),
    1.05\lambda_{\max}(1 + \sqrt c)^2]` (the support's bounds), then intervals where the trapezoidal rule's local
    error estimate exceeds ``tol`` for any of the three normalised integrals (:data:`REFINE_TOL`; edges, isolated
    eigenvalues' narrow bumps) are bisected (in log x), at most :data:`MAX_REFINE` times; the trapezoidal rule in
    log x on the final nodes.  The square-root edges limit its order: sum rules to about 1e-5 (``quad_error``).
    Below d/N = 1/4 the tolerance shrinks in proportion to d/N: the part of an error that depends on N (what
    distinguishes the equivalent from the population value) shrinks so, and the quadrature's error must with it.
    Cost O(nodes d) compiled.
    """
    lam = _checks.spectrum(lam, allow_zero=False)
    N = _checks.integer("n_samples", n_samples)
    if N < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
    d = lam.size
    c = d / N
    lo = float(lam.min()) * max((1.0 - math.sqrt(c)) ** 2, 1e-12) * 0.5
    hi = float(lam.max()) * (1.0 + math.sqrt(c)) ** 2 * 1.05
    x = np.geomspace(lo, hi, int(n_grid))
    m, ok = _solve(lam, c, x, np.full(x.size, np.nan + 0j))
    scale = np.array([1.0, 1.0 / lam.mean(), 1.0 / np.mean(1.0 / lam)])
    tol = tol * min(1.0, 4.0 * c)  # the N-dependent part of an error shrinks like d/N: so must the quadrature's
    for _ in range(MAX_REFINE):
        v = np.stack(_densities(lam, c, x, m)) * x * scale[:, None]  # (3, G): densities in log x, normalised
        h = np.diff(np.log(x))
        dv = np.diff(v, axis=1)  # (3, G - 1)
        # the trapezoid's local error: how far each interval's change departs from its neighbours' (per unit h)
        bend = np.zeros_like(dv)
        bend[:, 1:] = np.abs(dv[:, 1:] - dv[:, :-1] * (h[1:] / h[:-1]))
        bend[:, :-1] = np.maximum(bend[:, :-1], np.abs(dv[:, :-1] - dv[:, 1:] * (h[:-1] / h[1:])))
        local = (h * bend).max(axis=0)
        split = np.flatnonzero(local > tol)
        if split.size == 0 or x.size + split.size > MAX_NODES:
            break
        xn = np.sqrt(x[split] * x[split + 1])
        mn, okn = _solve(lam, c, xn, m[split])
        order = np.argsort(np.concatenate([x, xn]), kind="stable")
        x = np.concatenate([x, xn])[order]
        m = np.concatenate([m, mn])[order]
        ok = np.concatenate([ok, okn])[order]
    f, wl, wi = _densities(lam, c, x, m)
    lx = np.log(x)
    q = np.empty(x.size)
    q[1:-1] = 0.5 * (lx[2:] - lx[:-2])
    q[0], q[-1] = 0.5 * (lx[1] - lx[0]), 0.5 * (lx[-1] - lx[-2])
    q *= x
    m0 = math.nan
    if c > 1.0:
        m0 = _m0(lam, c)
        atom = 1.0 - 1.0 / c
        atom_lam = float(np.mean(lam / (1.0 + lam * m0)))
        atom_inv = float(np.mean(1.0 / (lam * (1.0 + lam * m0))))
    else:
        atom = atom_lam = atom_inv = 0.0
    dens, w_lam, w_inv = q * f, q * wl, q * wi
    errs = (abs(dens.sum() + atom - 1.0),
            abs(w_lam.sum() + atom_lam - lam.mean()) / lam.mean(),
            abs(w_inv.sum() + atom_inv - np.mean(1.0 / lam)) / np.mean(1.0 / lam))
    return SpectralLaw(x, dens, w_lam, w_inv, atom, atom_lam, atom_inv, m, c, float(max(errs)), bool(ok.all()), q, m0)


# --------------------------------------------------------------------------------------------- the error


@dataclass(frozen=True)
class DeterministicEquivalent:
    """The expected error of the full denoiser at one setting, in the proportional regime.

    The first six fields are those of :class:`gaussdsm.theory.exact_n.ExactError`: ``mean`` (the error's deterministic
    equivalent; for W2 with the fidelity term by Monte Carlo, see ``methods``), ``p_unstable`` (0 or 1: whether the
    sampler is unstable somewhere on the limiting support, where every large-d replicate has eigenvalues),
    ``per_mode`` and ``p_stable_mode`` (None: the full model's error does not split over modes), ``reason`` (why
    ``mean`` is NaN or infinite, '' otherwise), ``quad_error`` (the largest relative error of the quadrature's sum
    rules, :class:`SpectralLaw`).

    Beyond them: ``regime`` ('proportional'), ``regime_note`` (why the value may be off: small d, a part by Monte
    Carlo), ``parts`` (``trace_C``, ``trace_Sigma``, ``logdet_C``, ``logdet_Sigma``, ``trace_inv_Sigma_C``
    = tr Σ⁻¹C, ``trace_Sigma_inv_C`` = tr ΣC⁻¹, ``fidelity`` = tr(Σ^½CΣ^½)^½; ``trace_C``, ``logdet_C`` and the two
    overlap traces are deterministic equivalents of the expectations), ``methods`` (part -> 'deterministic_equivalent'
    or 'monte_carlo'), ``stderr`` (the Monte Carlo standard error of ``mean``; 0 when nothing is estimated).
    """

    mean: float
    p_unstable: float
    per_mode: np.ndarray | None = None
    p_stable_mode: np.ndarray | None = None
    reason: str = ""
    quad_error: float = 0.0
    regime: str = "proportional"
    regime_note: str = ""
    parts: dict = field(default_factory=dict)
    methods: dict = field(default_factory=dict)
    stderr: float = 0.0


def _sampler(sampler, gamma, params):
    """The sampler of one setting: a :class:`gaussdsm.samplers.Sampler`, or a kind built with ``gamma`` and ``params``
    (as :func:`gaussdsm.theory.exact_n.exact_error`)."""
    from ..samplers import Sampler
    from ..samplers.spec import build

    if isinstance(sampler, Sampler):
        return sampler
    if sampler == "diffusion":
        return build(sampler, **params)
    return build(sampler, gamma=0.0 if gamma is None else gamma, **params)


def fidelity_monte_carlo(lam, n_samples: int, sampler, sigma: float = 0.0, n_replicates: int = FIDELITY_REPLICATES,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Monte Carlo draws of :math:`\mathrm{tr}(\Sigma^{1/2}C\Sigma^{1/2})^{1/2}` and of :math:`\mathrm{tr}\,C` for the
    exact fit, :math:`C = U\mathrm{diag}(F(\hat\mu))U^\top`: ``n_replicates`` draws of :math:`\hat\Sigma` (streams
    :func:`gaussdsm.montecarlo.streams.replicate_rngs` ``(seed, 'proportional-fidelity', n_replicates,
    n_samples=N)``), each one ``eigh`` of :math:`\hat\Sigma` and one ``eigvalsh`` of :math:`BB^\top`,
    :math:`B = \Sigma^{1/2}U F^{1/2}`.  Returns ``(fidelity (R',), trace_C (R',))`` over the R' replicates whose
    chain is stable."""
    from ..montecarlo.streams import replicate_rngs
    from ..montecarlo.training import exact_fit

    lam = np.asarray(lam, dtype=float)
    fid, tr = [], []
    for rng in replicate_rngs(seed, "proportional-fidelity", n_replicates, n_samples=n_samples):
        mu, U = exact_fit(lam, n_samples, [rng])
        with np.errstate(all="ignore"):
            F, ok = sampler.variance_and_stable(mu[0], sigma)
        if not np.all(ok):
            continue
        F = np.asarray(F, dtype=float)
        B = np.sqrt(lam)[:, None] * U[0] * np.sqrt(F)[None, :]
        fid.append(float(np.sqrt(np.clip(np.linalg.eigvalsh(B @ B.T), 0.0, None)).sum()))
        tr.append(float(F.sum()))
    return np.asarray(fid), np.asarray(tr)


QUANTILE_POINTS = 16
"""Points per eigenvalue of the u grid on which :func:`_w2_bounds` matches the two quantile functions."""


def _w2_bounds(lam, L: SpectralLaw, F, F0: float) -> dict:
    r"""Deterministic equivalents of two bounds on :math:`W_2^2` (per replicate, hence on its mean):

    * lower (``w2_lower_bound``): :math:`\sum_i(\sqrt{\lambda_{(i)}} - \sqrt{c_{(i)}})^2`, both spectra sorted alike
      (:math:`\mathrm{tr}(\Sigma^{1/2}C\Sigma^{1/2})^{1/2} = \|\Sigma^{1/2}C^{1/2}\|_* \le \sum_i
      \sigma_i(\Sigma^{1/2})\sigma_i(C^{1/2})`, Horn's inequality): d times
      :math:`\int_0^1(\sqrt{Q_\lambda(u)} - \sqrt{Q_C(u)})^2du`, :math:`Q_C` the quantile function of F(x) under the
      spectral law (the atom included), on a grid of :data:`QUANTILE_POINTS` d points.  The eigenvalues'
      fluctuations enter this bound quadratically: its finite-d bias is larger than the other equivalents' (up to
      ~20 % of a small bound at d = 200);
    * upper (``w2_upper_bound``): :math:`\|\Sigma^{1/2} - C^{1/2}\|_F^2 = \mathrm{tr}\,\Sigma + \mathrm{tr}\,C -
      2\,\mathrm{tr}\,\Sigma^{1/2}C^{1/2}` (the coupling :math:`y = C^{1/2}\Sigma^{-1/2}x`), with
      :math:`\mathrm{tr}\,\Sigma^{1/2}C^{1/2} = \sum_j\sqrt{F(\hat\mu_j)}\,u_j^\top\Sigma^{1/2}u_j` from the
      overlap weights of :math:`g = \sqrt\lambda` (:func:`overlap_weights`).
    """
    d = lam.size
    vals = np.concatenate([F, [F0]]) if L.atom > 0 else np.asarray(F)
    mass = np.concatenate([L.density, [L.atom]]) if L.atom > 0 else L.density
    order = np.argsort(vals)
    cdf = np.cumsum(mass[order])
    cdf /= cdf[-1]
    K = QUANTILE_POINTS * d
    u = (np.arange(K) + 0.5) / K
    qc = vals[order][np.minimum(np.searchsorted(cdf, u), vals.size - 1)]
    ql = np.sort(lam)[np.minimum((u * d).astype(int), d - 1)]
    lower = d * float(np.mean((np.sqrt(ql) - np.sqrt(qc)) ** 2))
    w, w0 = overlap_weights(L, lam, np.sqrt(lam))
    cross = d * (float(np.sum(w * np.sqrt(F))) + (w0 * math.sqrt(F0) if L.atom > 0 else 0.0))
    trace_c = d * (float(np.sum(L.density * F)) + (L.atom * F0 if L.atom > 0 else 0.0))
    return {"w2_lower_bound": lower, "w2_upper_bound": float(lam.sum()) + trace_c - 2.0 * cross,
            "trace_sqrt_Sigma_sqrt_C": cross}


def deterministic_equivalent(lam, n_samples, sigma=None, gamma=None, *, sampler="ula", model: str = "full",
                             metric: str = "w2", fidelity_replicates: int = FIDELITY_REPLICATES, seed: int = 0,
                             n_grid: int = N_GRID,
                             tol: float = REFINE_TOL, law: SpectralLaw | None = None,
                             **params) -> DeterministicEquivalent:
    r"""The deterministic equivalent of :math:`\mathbb E[\text{metric}(\mathcal N(0, C), \mathcal N(0, \Sigma))]` for the
    full (d x d) denoiser fitted exactly on N samples, :math:`C = F(\hat\Sigma)` (module docstring).

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
        The data spectrum (> 0).
    n_samples : int >= 1
    sigma : float, optional
        DSM noise of a Langevin sampler's score (diffusion scores ignore it).
    gamma : float, optional
        Langevin step.
    sampler : str or gaussdsm.samplers.Sampler
        As :func:`gaussdsm.theory.exact_n.exact_error`: a kind built with ``gamma`` and ``**params`` (``n_steps``,
        ``t_min``, ``scheme``, a diffusion fit's ``fit_method``, ``train_time``, ...), or one setting.
    model : {'full'}
        The full d x d denoiser only (the diagonal and Fourier models' modes decouple: their exact error at every N is
        :func:`gaussdsm.theory.exact_n.exact_error`).
    metric : {'w2', 'kl_sample_data', 'kl_data_sample'}
    fidelity_replicates : int
        W2 only: Monte Carlo draws for the fidelity term (not derived; module docstring).  Fewer than 2: not
        estimated (the W2 mean is then NaN, its other parts are returned).
    seed : int
        Seed of those draws.
    n_grid, tol
        :func:`spectral_law`'s initial grid and refinement tolerance.
    law : SpectralLaw, optional
        A precomputed :func:`spectral_law` of ``(lam, n_samples)`` (to share it between settings and metrics).

    Returns
    -------
    DeterministicEquivalent
    """
    from ..metrics import get

    m = get(metric)
    if model != "full":
        raise ValueError(f"model must be 'full' for deterministic_equivalent, got {model!r} (the diagonal and fourier "
                         "models are exact at every N: gaussdsm.theory.exact_error)")
    lam = _checks.spectrum(lam, allow_zero=False)
    d = lam.size
    N = _checks.integer("n_samples", n_samples)
    if N < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
    s = _sampler(sampler, gamma, params)
    if s.shape not in ((),):
        raise ValueError("deterministic_equivalent takes one sampler setting (broadcast grids: call it per point)")
    sg = 0.0 if sigma is None else float(sigma)
    L = spectral_law(lam, N, n_grid, tol) if law is None else law
    if law is not None and (L.c != d / N):
        raise ValueError(f"law was computed for d/N = {L.c:g}, not {d / N:g}")
    notes = []
    if d < MIN_D:
        notes.append(f"d = {d} < {MIN_D}: the deterministic equivalent neglects O(1/d) corrections that may exceed a "
                     "few per cent here")
    on = L.density > 0  # the support
    xs = np.concatenate([L.x, [0.0]]) if L.atom > 0 else L.x
    with np.errstate(all="ignore"):
        F_all, ok_all = s.variance_and_stable(xs, sg)
    F_all, ok_all = np.asarray(F_all, dtype=float), np.asarray(ok_all, dtype=bool)
    F, ok = F_all[:L.x.size], ok_all[:L.x.size]
    F0, ok0 = (float(F_all[-1]), bool(ok_all[-1])) if L.atom > 0 else (math.nan, True)
    base = dict(per_mode=None, p_stable_mode=None, quad_error=L.quad_error, regime="proportional")
    bad = on & ~(ok & np.isfinite(F))
    if np.any(bad) or not ok0 or (L.atom > 0 and not np.isfinite(F0)):
        where = (f"at x = {L.x[bad].min():.4g}..{L.x[bad].max():.4g} of the sample spectrum" if np.any(bad)
                 else "at the sample eigenvalue 0 (N < d)")
        return DeterministicEquivalent(math.nan, 1.0, reason=f"the sampler is unstable (or its variance infinite) "
                                       f"{where}, which every large-d replicate reaches", regime_note="; ".join(notes),
                                       **base)
    Fs = np.where(on, F, 1.0)
    trace_sigma, logdet_sigma = float(lam.sum()), float(np.log(lam).sum())
    with np.errstate(divide="ignore"):
        log_F0 = math.log(F0) if L.atom > 0 and F0 > 0 else (-math.inf if L.atom > 0 else 0.0)
        inv_F0 = 1.0 / F0 if L.atom > 0 and F0 > 0 else (math.inf if L.atom > 0 else 0.0)
        logF = np.log(Fs)
    parts = {
        "trace_C": d * (float(np.sum(L.density * Fs)) + (L.atom * F0 if L.atom > 0 else 0.0)),
        "trace_Sigma": trace_sigma,
        "logdet_C": d * (float(np.sum(L.density * logF)) + (L.atom * log_F0 if L.atom > 0 else 0.0)),
        "logdet_Sigma": logdet_sigma,
        "trace_inv_Sigma_C": d * (float(np.sum(L.w_inv * Fs)) + (L.atom_inv * F0 if L.atom > 0 else 0.0)),
        "trace_Sigma_inv_C": d * (float(np.sum(L.w_lam / Fs)) + (L.atom_lam * inv_F0 if L.atom > 0 else 0.0)),
    }
    if m.name == "w2":
        parts.update(_w2_bounds(lam, L, Fs, F0))
    methods = {k: "deterministic_equivalent" for k in parts}
    methods["trace_Sigma"] = methods["logdet_Sigma"] = "exact"
    stderr, reason = 0.0, ""
    if m.name == "kl_sample_data":
        mean = 0.5 * (parts["trace_inv_Sigma_C"] - d - parts["logdet_C"] + logdet_sigma)
    elif m.name == "kl_data_sample":
        mean = 0.5 * (parts["trace_Sigma_inv_C"] - d + parts["logdet_C"] - logdet_sigma)
    elif m.name == "w2":
        fid, tr = fidelity_monte_carlo(lam, N, s, sg, fidelity_replicates, seed) if fidelity_replicates > 0 else ((), ())
        if len(fid) >= 2:
            # control variate: fid - tr C / 2 fluctuates far less than fid (the two move together)
            y = np.asarray(fid) - 0.5 * np.asarray(tr)
            fid_mean, fid_se = float(y.mean()) + 0.5 * parts["trace_C"], float(y.std(ddof=1) / math.sqrt(y.size))
            parts["fidelity"] = fid_mean
            methods["fidelity"] = "monte_carlo"
            mean, stderr = trace_sigma + parts["trace_C"] - 2.0 * fid_mean, 2.0 * fid_se
            notes.append(f"W2 is a Monte Carlo estimate ({len(fid)} draws): its fidelity term tr(Sigma^1/2 C "
                         "Sigma^1/2)^1/2 has no deterministic equivalent here, and it is estimated as the mean of "
                         "fidelity - tr C/2 plus half the deterministic tr C, so that the W2 value equals the Monte "
                         "Carlo mean of W2 over those draws")
        else:
            mean = math.nan
            reason = ("the W2 fidelity term (no deterministic equivalent) needs fidelity_replicates >= 2 stable "
                      "Monte Carlo draws")
    else:  # a metric the registry gains later
        raise ValueError(f"deterministic_equivalent has no formula for metric {m.name!r}")
    if not math.isfinite(mean) and not reason:
        reason = "the sampled covariance is singular (a zero variance): the KL divergence is infinite"
    if not L.converged:
        notes.append("the Stieltjes transform's Newton solve did not converge at some node")
    return DeterministicEquivalent(float(mean), 0.0, reason=reason, regime_note="; ".join(notes), parts=parts,
                                   methods=methods, stderr=float(stderr), **base)


# --------------------------------------------------------------------------------------------- the denoiser's mean


def renormalised_noise(lam, n_samples, z):
    r"""The renormalised noise level :math:`\kappa(z)` of Wang, Zavatone-Veth & Pehlevan (arXiv 2602.02908):
    the root :math:`\kappa \ge z` of :math:`\kappa - z = \frac dN\cdot\frac1d\sum_k\kappa\lambda_k/(\kappa + \lambda_k)`,
    so that :math:`\mathbb E[\hat\Sigma(\hat\Sigma + z)^{-1}] \simeq \Sigma(\Sigma + \kappa(z))^{-1}`
    (:math:`\kappa(z) = 1/\tilde m(-z)`).

    The left side minus the right is convex in :math:`\kappa` and negative at :math:`\kappa = z`: Newton's method
    from above converges monotonically.

    Parameters
    ----------
    lam : array_like, shape ``(d,)``, > 0
    n_samples : int >= 1
    z : float or array_like, >= 0 (``z = 0`` with N > d: :math:`\kappa = 0`)

    Returns
    -------
    kappa : ndarray, the shape of ``z``
    """
    lam = _checks.spectrum(lam, allow_zero=False)
    N = _checks.integer("n_samples", n_samples)
    c = lam.size / N
    z = np.asarray(z, dtype=float)
    if np.any(z < 0) or not np.all(np.isfinite(z)):
        raise ValueError("z must be finite and >= 0")
    zf = z.reshape(-1)
    k = zf + c * float(lam.mean()) + 1e-300  # above the root: kappa - z <= c <lam>
    for _ in range(200):
        r = lam[None, :] / (k[:, None] + lam[None, :])
        g = k - zf - c * np.mean(k[:, None] * r, axis=1)
        gp = 1.0 - c * np.mean(r * r, axis=1)
        kn = np.maximum(k - g / gp, zf)
        if np.all(np.abs(kn - k) <= 1e-15 * np.maximum(kn, 1e-300)):
            k = kn
            break
        k = kn
    return k.reshape(z.shape)


def mean_denoiser(lam, n_samples, noise_var, signal_scale=1.0):
    r"""Deterministic equivalent of the mean learned (exact DSM) denoiser in the data eigenbasis,
    :math:`\mathbb E\,[m\hat\Sigma(m^2\hat\Sigma + s^2)^{-1}]_{kk} \simeq m^{-1}\lambda_k/(\lambda_k +
    \kappa(s^2/m^2))` (:func:`renormalised_noise`), off-diagonal entries 0 by symmetry.

    Parameters
    ----------
    lam : array_like, shape ``(d,)``
    n_samples : int
    noise_var : float or array_like, shape ``(L,)``
        :math:`s^2` (:math:`\sigma^2` of a Langevin score, :math:`\sigma_t^2` of a diffusion level).
    signal_scale : float or array_like, shape ``(L,)``
        :math:`m` (1 for a Langevin score, :math:`m_t` for a diffusion level).

    Returns
    -------
    theta : ndarray, shape ``(d,)`` or ``(L, d)``
    """
    lam = _checks.spectrum(lam, allow_zero=False)
    s2 = np.asarray(noise_var, dtype=float)
    mt = np.asarray(signal_scale, dtype=float)
    s2, mt = np.broadcast_arrays(s2, mt)
    kap = renormalised_noise(lam, n_samples, s2 / mt**2)
    return (lam / (lam + kap[..., None])) / mt[..., None]


def monte_carlo_metrics(lam, n_samples: int, sampler, sigma: float = 0.0, *, n_replicates: int = 20, seed: int = 0,
                        metrics=("w2", "kl_sample_data", "kl_data_sample")) -> dict:
    r"""Monte Carlo reference of :func:`deterministic_equivalent`: per replicate (streams
    :func:`gaussdsm.montecarlo.streams.data_streams`), :math:`\hat\Sigma`'s eigendecomposition and the exact
    metrics (:func:`gaussdsm.montecarlo.errors.exact_errors`) and :math:`\mathrm{tr}\,C`.

    Returns
    -------
    dict
        ``{name: (mean, standard error)}`` for ``trace_C``, the two W2 bounds of :func:`_w2_bounds` and each
        metric, over the stable replicates, and ``n_stable``.
    """
    from ..montecarlo.errors import exact_errors
    from ..montecarlo.streams import data_streams
    from ..montecarlo.training import exact_fit

    lam = np.asarray(lam, dtype=float)
    vals = {k: [] for k in ("trace_C", "w2_lower_bound", "w2_upper_bound", *metrics)}
    root = np.sqrt(lam)
    root_sorted = np.sort(root)
    for rng in data_streams(seed, n_replicates, n_samples):
        mu, U = exact_fit(lam, n_samples, [rng])
        with np.errstate(all="ignore"):
            F, ok = sampler.variance_and_stable(mu, sigma)
        if not np.all(ok):
            continue
        F = np.asarray(F, dtype=float)[0]
        vals["trace_C"].append(float(np.sum(F)))
        vals["w2_lower_bound"].append(float(np.sum((root_sorted - np.sort(np.sqrt(F))) ** 2)))
        vals["w2_upper_bound"].append(float(lam.sum() + F.sum() - 2.0 * np.sum(np.sqrt(F) * ((U[0] ** 2).T @ root))))
        for name in metrics:
            vals[name].append(float(exact_errors(lam, mu, U, sigma, sampler, metric=name)[0][0]))
    out = {}
    for k, v in vals.items():
        v = np.asarray(v)
        out[k] = (float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))) if v.size > 1 else (math.nan, math.nan)
    out["n_stable"] = len(vals["trace_C"])
    return out
