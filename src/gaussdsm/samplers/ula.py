"""ULA: the Unadjusted Langevin Algorithm with a linear score (theory.md §2 step 3, R4; samplers.md §2).

With the score :math:`s(y) = -A y` the ULA chain is

.. math:: y_{j+1} = (I - \\gamma A)\\,y_j + \\sqrt{2\\gamma}\\,z_j,\\qquad z_j \\sim \\mathcal N(0, I),

whose stationary law is :math:`\\mathcal N(0, C)` with
:math:`C = (I-\\gamma A)C(I-\\gamma A)^\\top + 2\\gamma I` (discrete Lyapunov
equation).  It exists iff the spectral radius of :math:`I - \\gamma A` is
below 1.  At :math:`\\gamma = 0` (continuous-time Langevin) it solves
:math:`AC + CA^\\top = 2I` and exists iff every eigenvalue of :math:`A` has a
positive real part.
"""

from __future__ import annotations

import numpy as np

from .. import _checks
from .. import _jet
from ._base import LangevinSampler, col
from ._laws import DivergedError, doubling, is_symmetric

__all__ = [
    "ULA",
    "DivergedError",
    "ula_is_stable",
    "ula_mode_variance",
    "ula_stationary_cov",
    "run_ula",
]


def _check_gamma(gamma) -> float:
    return _checks.number("gamma", gamma, ge=0)


BOUND_RTOL = 16 * np.finfo(float).eps
"""Relative distance to the stability bound :math:`\\gamma a = 2` below which a mode counts as unstable (round-off:
:math:`2(0 + 0.1^2)` is 0.020000000000000004, so :math:`\\gamma = 0.02` would pass a strict test)."""


def ula_is_stable(A, gamma) -> np.ndarray:
    """Whether ULA with score :math:`-Ay` and step ``gamma`` has a stationary law.

    Parameters
    ----------
    A : array_like, shape ``(..., d, d)``
    gamma : float, ``>= 0``

    Returns
    -------
    stable : ndarray of bool, shape ``(...)``
        ``gamma > 0``: :math:`\\rho(I - \\gamma A) < 1`;
        ``gamma = 0``: :math:`\\min \\mathrm{Re}\\,\\mathrm{eig}(A) > 0`.
        Non-finite matrices are unstable.
    """
    gamma = _check_gamma(gamma)
    A = np.asarray(A, dtype=float)
    finite = np.all(np.isfinite(A), axis=(-2, -1))
    A_safe = np.where(finite[..., None, None], A, 0.0)
    if is_symmetric(A_safe):
        ev = np.linalg.eigvalsh(0.5 * (A_safe + np.swapaxes(A_safe, -1, -2))).astype(complex)
    else:
        ev = np.linalg.eigvals(A_safe)
    if gamma == 0:
        ok = np.min(ev.real, axis=-1) > 0
    else:
        ok = np.max(np.abs(1.0 - gamma * ev), axis=-1) < 1.0
    return ok & finite


def ula_mode_variance(a, gamma) -> np.ndarray:
    """Stationary ULA variance of one mode with score eigenvalue ``a`` (R4).

    .. math:: c = \\frac{2\\gamma}{1 - (1-\\gamma a)^2} = \\frac{1}{a\\,(1 - \\gamma a/2)}

    Parameters
    ----------
    a : array_like
        Eigenvalues of a symmetric score matrix, e.g. :math:`a_i = 1/(\\lambda_i + \\sigma^2)`.
    gamma : float, ``>= 0``

    Returns
    -------
    c : ndarray
        ``nan`` where the mode is unstable (:math:`\\gamma a \\ge 2` or :math:`a \\le 0`);
        callers check :func:`ula_is_stable` first.
    """
    a = np.asarray(a, dtype=float)
    gamma = _check_gamma(gamma)
    stable = (a > 0) & (gamma * a < 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(stable, 1.0 / (a * (1.0 - 0.5 * gamma * a)), np.nan)


def ula_stationary_cov(A, gamma, *, symmetric: bool | None = None) -> np.ndarray:
    """Stationary covariance of ULA with the linear score :math:`-Ay` (R4).

    For symmetric :math:`A = V\\,\\mathrm{diag}(a)\\,V^\\top` (the exact DSM fit):

    .. math:: C = A^{-1}\\big(I - \\tfrac{\\gamma}{2}A\\big)^{-1} = V\\,\\mathrm{diag}\\Big(\\frac{1}{a_i(1-\\gamma a_i/2)}\\Big)V^\\top .

    For general :math:`A` (SGD output) the discrete Lyapunov equation
    :math:`C = (I-\\gamma A)C(I-\\gamma A)^\\top + 2\\gamma I` is solved
    (``scipy.linalg.solve_discrete_lyapunov``), or :math:`AC + CA^\\top = 2I`
    at ``gamma = 0`` (``solve_continuous_lyapunov``).

    Parameters
    ----------
    A : array_like, shape ``(..., d, d)``
        Score matrices (leading axes are a batch).
    gamma : float, ``>= 0``
        Langevin step; 0 means continuous time.
    symmetric : bool, optional
        Use the closed form.  Detected from ``A`` when not given.

    Returns
    -------
    C : ndarray, shape ``(..., d, d)``

    Raises
    ------
    DivergedError
        If any matrix of the batch gives an unstable chain (the Lyapunov solver
        itself would silently return an indefinite matrix, theory.md §7.3
        note 10).  ``err.diverged`` tells which.
    """
    gamma = _check_gamma(gamma)
    A = np.asarray(A, dtype=float)
    stable = ula_is_stable(A, gamma)
    if not np.all(stable):
        raise DivergedError(
            f"ULA is unstable for {int(np.size(stable) - np.count_nonzero(stable))} of {np.size(stable)} "
            f"score matrices at gamma={gamma:g} (needs spectral radius of I - gamma*A < 1)",
            ~stable,
        )
    if symmetric is None:
        symmetric = is_symmetric(A)
    if symmetric:
        a, V = np.linalg.eigh(0.5 * (A + np.swapaxes(A, -1, -2)))
        c = ula_mode_variance(a, gamma)
        return (V * c[..., None, :]) @ np.swapaxes(V, -1, -2)
    return _lyapunov_general(A, gamma)


def _lyapunov_scipy(Aj, gamma):
    import scipy.linalg  # here: 0.17 s of import that the jobs which never solve a Lyapunov equation do not pay

    eye = np.eye(Aj.shape[-1])
    if gamma == 0:
        return scipy.linalg.solve_continuous_lyapunov(Aj, 2.0 * eye)
    return scipy.linalg.solve_discrete_lyapunov(eye - gamma * Aj, 2.0 * gamma * eye)


def _lyapunov_general(A, gamma, rtol: float = 1e-9) -> np.ndarray:
    r"""Batched Lyapunov solve for general (non-symmetric) stable score matrices.

    With :math:`A = V D V^{-1}` (complex eigendecomposition, batched by numpy) and
    :math:`W = V^{-1}`, the matrix :math:`X = W C W^\top` is diagonal in the
    equations: :math:`X_{ij} = 2\gamma (WW^\top)_{ij} / (1 - b_ib_j)` with
    :math:`b = 1 - \gamma D` (discrete, R4), or :math:`X_{ij} = 2 (WW^\top)_{ij} / (D_i + D_j)`
    at :math:`\gamma = 0`; then :math:`C = \mathrm{Re}(V X V^\top)`.  Matrices whose
    residual exceeds ``rtol`` (nearly defective :math:`A`) are re-solved with scipy.
    """
    d = A.shape[-1]
    flat = A.reshape(-1, d, d)
    D, V = np.linalg.eig(flat)
    W = np.linalg.inv(V)
    Q = W @ np.swapaxes(W, -1, -2)
    if gamma == 0:
        denom = D[:, :, None] + D[:, None, :]
        X = 2.0 * Q / denom
    else:
        b = 1.0 - gamma * D
        X = 2.0 * gamma * Q / (1.0 - b[:, :, None] * b[:, None, :])
    C = (V @ X @ np.swapaxes(V, -1, -2)).real
    C = 0.5 * (C + np.swapaxes(C, -1, -2))
    eye = np.eye(d)
    if gamma == 0:
        res = flat @ C + C @ np.swapaxes(flat, -1, -2) - 2.0 * eye
        scale = 2.0
    else:
        M = eye - gamma * flat
        res = M @ C @ np.swapaxes(M, -1, -2) + 2.0 * gamma * eye - C
        scale = np.linalg.norm(C, axis=(-2, -1))[:, None, None] + 2.0 * gamma
    bad = ~np.all(np.isfinite(C), axis=(-2, -1)) | (np.abs(res / scale).max(axis=(-2, -1)) > rtol)
    for j in np.nonzero(bad)[0]:
        Cj = _lyapunov_scipy(flat[j], gamma)
        C[j] = 0.5 * (Cj + Cj.T)
    return C.reshape(A.shape)


def run_ula(A, gamma, n_steps, n_particles, rng, y0=None) -> np.ndarray:
    """Run ULA chains with the score :math:`-Ay`, vectorised over particles.

    .. math:: y_{j+1} = y_j - \\gamma A y_j + \\sqrt{2\\gamma}\\,z_j

    Parameters
    ----------
    A : array_like, shape ``(..., d, d)``
        Score matrix (or a batch of them; particles run for each).
    gamma : float, ``> 0``
    n_steps : int, ``>= 0``
    n_particles : int, ``>= 1``
    rng : numpy.random.Generator
    y0 : array_like, shape ``(..., n_particles, d)``, optional
        Initial states (default: 0).

    Returns
    -------
    y : ndarray, shape ``(..., n_particles, d)``
        States after ``n_steps`` steps.  From ``y0 = 0`` their covariance is
        :math:`C - (I-\\gamma A)^{K} C (I-\\gamma A)^{K\\top}` after ``K`` steps.

    Raises
    ------
    DivergedError
        If the step is unstable for some ``A`` (checked before running), or if
        the chains blow up to non-finite values.
    """
    gamma = _check_gamma(gamma)
    if gamma == 0:
        raise ValueError("gamma must be > 0 to run ULA chains")
    n_steps = _checks.integer("n_steps", n_steps, ge=0)
    n_particles = _checks.integer("n_particles", n_particles, ge=1)
    A = np.asarray(A, dtype=float)
    stable = ula_is_stable(A, gamma)
    if not np.all(stable):
        raise DivergedError(f"ULA step gamma={gamma:g} is unstable (spectral radius of I - gamma*A >= 1)", ~stable)
    d = A.shape[-1]
    shape = A.shape[:-2] + (n_particles, d)
    y = np.zeros(shape) if y0 is None else np.array(np.broadcast_to(y0, shape), dtype=float)
    M = np.swapaxes(np.eye(d) - gamma * A, -1, -2)  # row vectors: y <- y (I - gamma A)^T
    noise = np.sqrt(2.0 * gamma)
    for _ in range(n_steps):
        y = y @ M + noise * rng.standard_normal(shape)
    if not np.all(np.isfinite(y)):
        raise DivergedError("ULA chains reached non-finite values", ~np.all(np.isfinite(y), axis=(-2, -1)))
    return y


class ULA(LangevinSampler):
    r"""ULA with step :math:`\gamma`, ``n_steps`` K (``inf``: the stationary law) from :math:`y_0 \sim \mathcal N(0, v_0 I)`.

    Per mode of the score :math:`-a y` (samplers.md §2), :math:`b = 1 - \gamma a`:

    .. math:: v_K = b^{2K} v_0 + c\,(1 - b^{2K}),\qquad c = \frac{2\gamma}{1-b^2} = \frac{1}{a(1 - \gamma a/2)}

    (R4 for :math:`K = \infty`); stable iff :math:`0 < \gamma a < 2`.  The excess over the score's own variance
    :math:`1/a` is :math:`c - 1/a = h/(1 - ha)` with :math:`h = \gamma/2`, plus the transient
    :math:`b^{2K}(v_0 - c)`: no cancellation, so a deviation of 1e-16 relative at K = 10¹² keeps its digits.
    Any K costs O(1) per mode (:math:`b^{2K}` by ``pow``).  ``gamma = 0`` is continuous-time Langevin
    (:math:`c = 1/a`; a finite K then leaves :math:`y_0` where it is).
    """

    kind = "ula"
    axes = ("gamma", "n_steps")

    @staticmethod
    def max_step(lam_min, sigma):
        r"""The stability bound of the step, :math:`\gamma < 2(\lambda_{\min} + \sigma^2)` (R4): the one place it is
        written."""
        return 2.0 * (lam_min + sigma**2)

    @classmethod
    def stability_rule(cls) -> str:
        return "gamma < 2 (lam_min + sigma^2)"

    def explain_unstable(self, lam_min, lam_max, sigma) -> str:
        return f"gamma = {float(self.gamma):g} >= 2 (lam_min + sigma^2) = {self.max_step(lam_min, sigma):.4g}"

    @classmethod
    def offending_setting(cls, lam_min, setting) -> str:
        sigma, gamma = setting[:2]
        bound = cls.max_step(lam_min, sigma)
        return f"(sigma={_checks.fmt(sigma)}, gamma={_checks.fmt(gamma)}: bound {_checks.fmt(bound)})"

    def stability_interval(self):
        g = col(self.gamma)
        with np.errstate(divide="ignore"):
            return np.zeros_like(g), np.where(g > 0, 2.0 / np.where(g > 0, g, 1.0), np.inf)

    def score_stable(self, a):
        """:math:`0 < \\gamma a < 2`, with a mode within round-off of the bound (:data:`BOUND_RTOL`) unstable: there the
        stationary variance :math:`1/(a(1 - \\gamma a/2))` is the round-off's, not the chain's."""
        return (a > 0) & (col(self.gamma) * a < 2.0 * (1.0 - BOUND_RTOL))

    def stability_margin(self, lam_min, lam_max, sigma):
        return lam_min + sigma**2 - 0.5 * self.gamma

    def _transient(self, a, c):
        """:math:`b^{2K}(v_0 - c)` (0 where K = inf)."""
        K = col(self.n_steps)
        if np.all(np.isinf(K)):
            return 0.0
        b = 1.0 - col(self.gamma) * a
        t = _jet.power(b, np.where(np.isinf(K), 2.0, 2.0 * K)) * (col(self.init_var) - c)
        return _jet.where(np.isinf(K), 0.0, t)

    def score_variance(self, a):
        return self.score_terms(a)[0]

    def score_excess(self, a):
        return self.score_terms(a)[1]

    def score_terms(self, a):
        h = 0.5 * col(self.gamma)
        c = 1.0 / (a * (1.0 - h * a))  # R4 (= ula_mode_variance)
        t = self._transient(a, c)
        return c + t, h / (1.0 - h * a) + t

    @property
    def optimization_theory(self):
        return np.broadcast_to(self.stationary, self.shape)

    def covariance(self, A):
        """Law for general score matrices ``A (R, d, d)``: R4 / discrete Lyapunov (K = inf, :func:`ula_stationary_cov`)
        or :math:`C_K = M^K v_0 M^{K\\top} + \\sum_{j<K} M^j (2\\gamma I) M^{j\\top}`, :math:`M = I - \\gamma A` (doubling).
        Returns ``(C, stable)``."""
        gamma, K = float(self.gamma), float(self.n_steps)
        stable = ula_is_stable(A, gamma)
        d = A.shape[-1]
        C = np.full(A.shape, np.nan)
        if np.any(stable):
            As = A[stable]
            if np.isinf(K):
                C[stable] = ula_stationary_cov(As, gamma, symmetric=False)
            else:
                M = np.eye(d) - gamma * As
                C[stable] = doubling(M, 2.0 * gamma * np.eye(d), int(K), P0=float(self.init_var) * np.eye(d))
        return C, stable

    def particles(self, A, n_particles, rng):
        """Particle chains of the scheme: ``n_particles`` chains of ``n_steps`` ULA steps from N(0, init_var I).

        Returns ``y (..., n_particles, d)``."""
        d = np.shape(A)[-1]
        y0 = np.sqrt(float(self.init_var)) * rng.standard_normal(np.shape(A)[:-2] + (int(n_particles), d))
        return run_ula(A, float(self.gamma), int(self.n_steps), n_particles, rng, y0=y0)
