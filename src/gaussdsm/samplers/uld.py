r"""ULD: underdamped Langevin dynamics discretised by Euler–Maruyama (samplers.md §2; Perbost, Bach & Marion 2026).

With step :math:`\eta` (the study's ``gamma``), friction :math:`\gamma_f` (``friction``) and the score :math:`-Ay`:

.. math::

    x_{k+1} = x_k + \eta v_k,\qquad
    v_{k+1} = (1 - \eta\gamma_f)\,v_k - \eta A x_k + \sqrt{2\eta\gamma_f}\,\xi_k,

from :math:`x_0 \sim \mathcal N(0, v_0 I)`, :math:`v_0 = 0`.  The output is the law of :math:`x_K`.  Per mode of the
score (:math:`A \to a`) the state :math:`z = (x, v)` follows :math:`z_{k+1} = M z_k + u\xi_k` with
:math:`M = \begin{pmatrix}1 & \eta\\ -\eta a & 1-\eta\gamma_f\end{pmatrix}`, :math:`u = (0, \sqrt{2\eta\gamma_f})`.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _jet
from ._base import LangevinSampler, col
from ._laws import doubling, spectral_radius

__all__ = ["ULD", "run_uld"]


def _matmul2(p, q):
    """2×2 products of jets/arrays given as 4-tuples (row-major)."""
    p00, p01, p10, p11 = p
    q00, q01, q10, q11 = q
    return (p00 * q00 + p01 * q10, p00 * q01 + p01 * q11, p10 * q00 + p11 * q10, p10 * q01 + p11 * q11)


def _full(x, shape):
    """A jet or array broadcast to ``shape`` as a jet with full arrays."""
    v, d1, d2 = _jet.derivatives(x, shape)
    return _jet.Jet(v, d1, d2)


def _take(x: _jet.Jet, idx):
    return _jet.Jet(x.v.reshape(-1)[idx], x.d1.reshape(-1)[idx], x.d2.reshape(-1)[idx])


def _put(shape, idx, x):
    out = [np.zeros(int(np.prod(shape))) for _ in range(3)]
    for o, part in zip(out, _jet.derivatives(x, np.shape(idx))):
        o[idx] = part
    return _jet.Jet(*(o.reshape(shape) for o in out))


def matrix_power_2x2(m, n_steps, need):
    """:math:`M^K` per element for 2×2 matrices ``m = (m00, m01, m10, m11)`` (jets or arrays), by binary powers.

    Computed only where ``need`` (elsewhere 0: callers pass ``need = False`` where :math:`M^K` underflows or
    ``K = inf``); cost :math:`\\lceil\\log_2 K\\rceil` 2×2 products.  Returns the 4-tuple of entries (jets if ``m`` has any).
    """
    shape = np.broadcast_shapes(*(np.shape(_jet.value(x)) for x in m), np.shape(n_steps), np.shape(need))
    jets = any(isinstance(x, _jet.Jet) for x in m)
    idx = np.flatnonzero(np.broadcast_to(need, shape))
    if idx.size == 0:
        return tuple(np.zeros(shape) for _ in range(4))
    base = tuple(_take(_full(x, shape), idx) for x in m)
    K = np.broadcast_to(n_steps, shape).reshape(-1)[idx].astype(np.int64)
    one, zero = np.ones(idx.size), np.zeros(idx.size)
    acc = (_jet.Jet(one, zero, zero), _jet.Jet(zero, zero, zero), _jet.Jet(zero, zero, zero), _jet.Jet(one, zero, zero))
    while np.any(K > 0):
        bit = (K & 1).astype(bool)
        prod = _matmul2(acc, base)
        acc = tuple(_jet.where(bit, p, q) for p, q in zip(prod, acc))
        K = K >> 1
        if np.any(K > 0):
            base = _matmul2(base, base)
    out = tuple(_put(shape, idx, x) for x in acc)
    return out if jets else tuple(x.v for x in out)


class ULD(LangevinSampler):
    r"""Underdamped Langevin (Euler–Maruyama) with step ``gamma`` (η), ``friction`` (γ_f), ``n_steps`` K, ``init_var``.

    Stationary variance (samplers.md §2), with :math:`\ell = 1/a`:

    .. math:: F_\infty - \ell = \frac{\eta(4 - \eta\gamma_f + \eta^2 a)}{(\gamma_f - \eta a)(4 - 2\eta\gamma_f + \eta^2 a)},

    stable iff :math:`\eta a < \gamma_f` and :math:`4 - 2\eta\gamma_f + \eta^2 a > 0` (Jury's conditions on M).  For finite K,
    :math:`P_K = P_\infty + M^K (P_0 - P_\infty) M^{K\top}` with :math:`P_0 = \mathrm{diag}(v_0, 0)` and the stationary
    :math:`P_\infty = \begin{pmatrix}F_\infty & -\eta p/2\\ -\eta p/2 & p\end{pmatrix}`,
    :math:`p = 2aF_\infty/(2 - \eta\gamma_f + \eta^2 a)`; :math:`M^K` by binary powers (any K up to 10¹² in at most
    40 products per mode, skipped where :math:`\rho(M)^{2K}` underflows), so the deviation
    :math:`F_K - \ell = (F_\infty - \ell) + \text{transient}` has no cancellation.  ``gamma = 0`` is the continuous
    time limit (:math:`F_\infty = 1/a`).
    """

    kind = "uld"
    axes = ("gamma", "n_steps", "friction")

    def __init__(self, gamma, friction, n_steps=math.inf, init_var=1.0):
        super().__init__(gamma, n_steps, init_var)
        self.friction = np.asarray(friction, dtype=float)
        if np.any(~np.isfinite(self.friction)) or np.any(self.friction <= 0):
            raise ValueError(f"friction must be finite and > 0, got {friction!r}")

    @property
    def shape(self) -> tuple:
        return np.broadcast_shapes(super().shape, self.friction.shape)

    @classmethod
    def stability_rule(cls) -> str:
        return "gamma < friction (lam_min + sigma^2) and 4 - 2 gamma friction + gamma^2 / (lam_max + sigma^2) > 0"

    def explain_unstable(self, lam_min, lam_max, sigma) -> str:
        g, fr = float(self.gamma), float(self.friction)
        return (f"it needs gamma < friction (lam_min + sigma^2) = {fr * (lam_min + sigma**2):.4g} and 4 - 2 gamma "
                f"friction + gamma^2 / (lam_max + sigma^2) = {4 - 2 * g * fr + g**2 / (lam_max + sigma**2):.4g} > 0")

    def stability_interval(self):
        eta, gf = col(self.gamma), col(self.friction)
        with np.errstate(divide="ignore", invalid="ignore"):
            hi = np.where(eta > 0, gf / np.where(eta > 0, eta, 1.0), np.inf)
            lo = np.where(eta * gf > 2, (2.0 * eta * gf - 4.0) / np.where(eta > 0, eta, 1.0) ** 2, 0.0)
        return lo, hi

    def score_stable(self, a):
        eta, gf = col(self.gamma), col(self.friction)
        return (a > 0) & (eta * a < gf) & (4.0 - 2.0 * eta * gf + eta**2 * a > 0)

    def _stationary_excess(self, a):
        eta, gf = col(self.gamma), col(self.friction)
        return eta * (4.0 - eta * gf + eta**2 * a) / ((gf - eta * a) * (4.0 - 2.0 * eta * gf + eta**2 * a))

    def _transient(self, a, F_inf):
        r""":math:`[M^K(P_0 - P_\infty)M^{K\top}]_{00}` (0 where K = inf).

        By Cayley–Hamilton with the roots :math:`r_\pm = (T \pm \eta\sqrt{\gamma_f^2 - 4a})/2` of
        :math:`r^2 - T r + \det M` (:math:`T = 2 - \eta\gamma_f`; complex when :math:`\gamma_f^2 < 4a`):
        :math:`(M^K)_{00} = (r_+^K(1 - r_-) - r_-^K(1 - r_+))/(r_+ - r_-)`,
        :math:`(M^K)_{01} = \eta\,(r_+^K - r_-^K)/(r_+ - r_-)`, O(1) per mode for any K; near critical damping
        (:math:`K|r_+ - r_-| < 10^{-2}|r_+|`, where these would lose more than ~1e-14 to cancellation) by binary
        powers instead.
        """
        K = col(self.n_steps)
        if np.all(np.isinf(K)):
            return 0.0
        eta, gf, v0 = col(self.gamma), col(self.friction), col(self.init_var)
        Kf = np.where(np.isinf(K), 1.0, K)
        T = 2.0 - eta * gf
        av = _jet.value(a)
        with np.errstate(invalid="ignore", divide="ignore"):  # spectral radius of M: is M^K below 1e-323?
            dv = eta**2 * (gf * gf - 4.0 * av)
            rho = np.where(dv < 0, np.sqrt(np.abs(1.0 - eta * gf + eta**2 * av)), 0.5 * (np.abs(T) + np.sqrt(np.abs(dv))))
            alive = np.isfinite(K) & ~(2.0 * Kf * np.log(rho) < -745.0)
        if not np.any(alive):  # every transient underflows (e.g. K = 10^12): exactly 0
            return 0.0
        disc = eta**2 * (gf * gf - 4.0 * a)  # = T^2 - 4 det, without that difference's cancellation
        root = _jet.sqrt(disc + 0j)
        rp, rm = 0.5 * (T + root), 0.5 * (T - root)
        gap = np.abs(_jet.value(root))
        near = np.isfinite(K) & (Kf * gap < 1e-2 * np.maximum(np.abs(_jet.value(rp)), 1e-300))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            pk, qk = _jet.power(rp, Kf), _jet.power(rm, Kf)
            den = _jet.where(near, 1.0, root)
            m00 = (pk * (1.0 - rm) - qk * (1.0 - rp)) / den  # (M^K)_00, no difference of near-equal terms
            m01 = (pk - qk) / den * eta
            if np.any(near):  # the few modes near critical damping: binary powers of M
                mk = matrix_power_2x2((1.0, eta, -eta * a, 1.0 - eta * gf), np.where(np.isinf(K), 0.0, K), near)
                m00 = _jet.where(near, mk[0], m00)
                m01 = _jet.where(near, mk[1], m01)
            p = 2.0 * a * F_inf / (2.0 - eta * gf + eta**2 * a)
            t = m00 * m00 * (v0 - F_inf) + 2.0 * m00 * m01 * (0.5 * eta * p) - m01 * m01 * p  # P_0 - P_inf
        t = _jet.Jet(*(np.real(x) for x in _jet.derivatives(t))) if isinstance(t, _jet.Jet) else np.real(t)
        return _jet.where(np.isinf(K), 0.0, t)

    def score_terms(self, a):
        ex = self._stationary_excess(a)
        F_inf = 1.0 / a + ex
        t = self._transient(a, F_inf)
        return F_inf + t, ex + t

    def score_variance(self, a):
        return self.score_terms(a)[0]

    def score_excess(self, a):
        return self.score_terms(a)[1]

    def _system(self, A):
        """The 2d-dimensional recursion of ``A (R, d, d)``: ``M``, ``Q``, ``P0``."""
        eta, gf, v0 = float(self.gamma), float(self.friction), float(self.init_var)
        R, d = A.shape[0], A.shape[-1]
        eye = np.eye(d)
        M = np.zeros((R, 2 * d, 2 * d))
        M[:, :d, :d] = eye
        M[:, :d, d:] = eta * eye
        M[:, d:, :d] = -eta * A
        M[:, d:, d:] = (1.0 - eta * gf) * eye
        Q = np.zeros((2 * d, 2 * d))
        Q[d:, d:] = 2.0 * eta * gf * eye
        P0 = np.zeros((2 * d, 2 * d))
        P0[:d, :d] = v0 * eye
        return M, Q, P0

    def covariance(self, A):
        """Law of :math:`x_K` for general score matrices ``A (R, d, d)`` by the 2d×2d recursion (doubling).

        Stable iff :math:`\\rho(M) < 1`.  Returns ``(C, stable)``."""
        A = np.asarray(A, dtype=float)
        d = A.shape[-1]
        M, Q, P0 = self._system(A)
        stable = spectral_radius(M) < 1.0
        C = np.full(A.shape, np.nan)
        if np.any(stable):
            P = doubling(M[stable], Q, float(self.n_steps), P0=P0)
            C[stable] = P[:, :d, :d]
        return C, stable

    def particles(self, A, n_particles, rng):
        """``n_particles`` chains of ``n_steps`` ULD steps from x ~ N(0, init_var I), v = 0: ``x (..., n, d)``."""
        return run_uld(A, float(self.gamma), float(self.friction), int(self.n_steps), n_particles, rng,
                       init_var=float(self.init_var))


def run_uld(A, gamma, friction, n_steps, n_particles, rng, init_var=1.0):
    """Run ULD chains with the score :math:`-Ax`, vectorised over particles (module docstring).

    Returns
    -------
    x : ndarray, shape ``(..., n_particles, d)``
    """
    A = np.asarray(A, dtype=float)
    d = A.shape[-1]
    shape = A.shape[:-2] + (int(n_particles), d)
    x = np.sqrt(init_var) * rng.standard_normal(shape)
    v = np.zeros(shape)
    At = np.swapaxes(A, -1, -2)
    noise = math.sqrt(2.0 * gamma * friction)
    for _ in range(int(n_steps)):
        x, v = x + gamma * v, (1.0 - gamma * friction) * v - gamma * (x @ At) + noise * rng.standard_normal(shape)
    return x
