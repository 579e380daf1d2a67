r"""The continuous-time law (``n_steps = inf``) of a diffusion sampler whose scores are trained
(:class:`gaussdsm.dsm.Training`): per eigen-direction, an integral over t of the process with the trained gain.

Per eigenvalue :math:`\mu` the learned score of level t is :math:`-a_ty`; write :math:`\lambda_t = m_t^2\mu + \sigma_t^2`
(the minimiser's :math:`a_t = 1/\lambda_t`, :math:`\dot\lambda_t = 2f\lambda_t + g^2`) and
:math:`\delta_t = a_t - 1/\lambda_t` (:meth:`gaussdsm.dsm.Training.score_gap`, a closed form in the training time τ).
Going down from T to :math:`t_{\min}`:

* probability-flow ODE, :math:`dy/dt = (f + \tfrac12g^2a_t)y`:
  :math:`v(t_{\min}) = v(T)\,\frac{\lambda_{t_{\min}}}{\lambda_T}\,e^{-L(T)}`,
  :math:`L(s) = \int_{t_{\min}}^s g^2\delta\,dt` (Wang & Pehlevan 2025, Lemma 4.1; their Prop. 4.2 / 5.1 for EDM);
* reverse SDE, :math:`dv/dt = 2(f + g^2a_t)v - g^2`: with the deviation :math:`e = v - \lambda_t`,
  :math:`de/dt = \kappa e + 2g^2\lambda_t\delta_t`, :math:`\kappa = 2(f + g^2a_t)`, so

  .. math:: v(t_{\min}) = \lambda_{t_{\min}} + G(T)\,(v(T) - \lambda_T) - \int_{t_{\min}}^T G(s)\,2g^2\lambda_s\delta_s\,ds,
            \qquad G(s) = \Big(\frac{\lambda_{t_{\min}}}{\lambda_s}\Big)^2\frac{m_s^2}{m_{t_{\min}}^2}e^{-2L(s)},

  the minimiser's decay (:meth:`~.processes.Process.sde_decay`) times the trained correction.

With :math:`\delta = 0` both are the closed forms of :meth:`.Diffusion.affine`.  The integrals are taken in
:math:`u = \log t` on equal panels of :data:`NODES`-point Gauss–Legendre rules (:math:`L(s)` at the nodes by the rule's
exact cumulative integral of its interpolant), vectorised over the eigenvalues (and their jets: derivatives for the
theory), the panels halved until two successive rules agree to :data:`RTOL` (at most :data:`MAX_HALVINGS` times; a
direction that does not settle is flagged, never returned silently).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial import legendre
from scipy.special import roots_legendre

from ... import _jet

__all__ = ["trained_affine", "NODES", "RTOL"]

NODES = 16
"""Gauss–Legendre nodes per panel."""
PANEL = 0.5
"""The first panels' width in :math:`\\log t`."""
RTOL = 1e-10
"""Two successive rules agree to this, relative (the law's target accuracy is 1e-8)."""
MAX_HALVINGS = 6
CHUNK = 1 << 20
"""Nodes x eigenvalues per pass."""

_X, _W = roots_legendre(NODES)


def _cumulative_matrix() -> np.ndarray:
    r""":math:`S_{kj} = \int_{-1}^{x_k}\ell_j`: the integral from -1 to each node of the interpolant through the nodes
    (Lagrange basis :math:`\ell_j`), from the Legendre series (exact for polynomials of degree < NODES)."""
    V = legendre.legvander(_X, NODES - 1)  # V[k, j] = P_j(x_k)
    integ = np.stack([legendre.legval(_X, legendre.legint(np.eye(NODES)[j], lbnd=-1)) for j in range(NODES)], axis=1)
    return integ @ np.linalg.inv(V)


_S = _cumulative_matrix()


def _lin(x, fn):
    """A linear map applied to a jet's components (or to an array)."""
    if isinstance(x, _jet.Jet):
        s = x.shape
        return _jet.Jet(*(fn(np.broadcast_to(c, s)) for c in (x.v, x.d1, x.d2)))
    return fn(x)


def _rule(sampler, mu, n_panels: int, sde: bool):
    """``(L_T, J)`` on ``n_panels`` panels: :math:`L(T)` and, for the SDE, :math:`\\int G\\,2g^2\\lambda\\delta\\,ds`
    without its factor :math:`(\\lambda_{t_{\\min}}^2/m_{t_{\\min}}^2)` (module docstring); ``mu`` of shape ``(n,)``."""
    p, tr = sampler.process, sampler.training
    lo, hi = math.log(sampler.t_min), math.log(p.T)
    h = (hi - lo) / n_panels
    u = lo + h * (np.arange(n_panels)[:, None] + 0.5 * (_X[None, :] + 1.0))  # (P, NODES)
    t = np.exp(u).reshape(-1, 1)
    m2, s2, g2 = p.m2(t), p.s2(t), p.g2(t)
    w = (0.5 * h) * np.tile(_W, n_panels)[:, None] * t  # quadrature weight times dt/du
    dL = g2 * tr.score_gap(mu, m2, s2)  # dL/dt at the nodes, (P * NODES, n)
    if isinstance(dL, _jet.Jet):
        dL = _jet.Jet(*_jet.derivatives(dL, (t.size, _shape(mu))))
    L_T = _lin(dL * w, lambda a: a.sum(axis=0))
    if not sde:
        return L_T, None
    n = _shape(mu)
    wt = (0.5 * h) * t.reshape(n_panels, NODES, 1)

    def cumulative(a):
        a = a.reshape(n_panels, NODES, n)
        within = np.einsum("kj,pjn->pkn", _S, a * wt)
        totals = (a * wt * _W[None, :, None]).sum(axis=1)
        before = np.concatenate([np.zeros((1, n)), np.cumsum(totals, axis=0)[:-1]], axis=0)
        return (within + before[:, None, :]).reshape(-1, n)

    L = _lin(dL, cumulative)
    lam_t = m2 * mu + s2
    integrand = _jet.exp(-2.0 * L) * (2.0 * m2) * dL / lam_t  # G 2 g^2 lambda delta without lt^2 / m2(t_min)
    J = _lin(integrand * w, lambda a: a.sum(axis=0))
    return L_T, J


def _shape(mu) -> int:
    return int(np.shape(_jet.value(mu))[0])


def _value(x):
    return np.asarray(_jet.value(x), dtype=float)


def trained_affine(sampler, mu):
    """``(Phi, Psi, bad)`` of :meth:`.Diffusion.affine` at ``n_steps = inf`` for a trained score (module docstring):
    :math:`v(t_{\\min}) = \\Phi v(T) + \\Psi` per eigenvalue (jets if ``mu`` is one); ``bad`` where
    :math:`\\lambda_{t_{\\min}} \\le 0`, where the law is not finite, or where the rule did not settle."""
    p = sampler.process
    sde = sampler.record.integrates == "sde"
    flat = mu if isinstance(mu, _jet.Jet) else np.asarray(mu, dtype=float)
    shape = np.shape(_value(flat))
    if isinstance(flat, _jet.Jet):
        flat = _jet.Jet(*(np.broadcast_to(c, shape).reshape(-1) for c in (flat.v, flat.d1, flat.d2)))
    else:
        flat = flat.reshape(-1)
    n = _shape(flat)
    m2lo, s2lo, m2T, s2T = float(p.m2(sampler.t_min)), float(p.s2(sampler.t_min)), float(p.m2(p.T)), float(p.s2(p.T))
    lt = m2lo * flat + s2lo
    lT = m2T * flat + s2T
    base = math.ceil((math.log(p.T) - math.log(sampler.t_min)) / PANEL)
    parts_L, parts_J, unsettled = [], [], np.zeros(n, dtype=bool)
    step = max(1, CHUNK // (NODES * base * 2 ** 2))
    for lo in range(0, n, step):
        sl = slice(lo, min(n, lo + step))
        m = flat[sl]
        panels = base
        prev = _rule(sampler, m, panels, sde)
        for _ in range(MAX_HALVINGS):
            panels *= 2
            cur = _rule(sampler, m, panels, sde)
            dL = np.abs(_value(cur[0]) - _value(prev[0]))
            ok = dL <= RTOL * np.maximum(1.0, np.abs(_value(cur[0])))
            if sde:
                scale = np.abs(_value(cur[1])) + m2lo / np.abs(_value(lt[sl]))  # J's unit: Psi's over lt^2/m2
                ok &= np.abs(_value(cur[1]) - _value(prev[1])) <= RTOL * scale
            prev = cur
            with np.errstate(invalid="ignore"):
                if np.all(ok | ~np.isfinite(_value(cur[0]))):
                    break
        unsettled[sl] = ~ok
        parts_L.append(prev[0])
        parts_J.append(prev[1])

    def join(parts):
        if isinstance(parts[0], _jet.Jet):
            return _jet.Jet(*(np.concatenate([np.broadcast_to(getattr(q, k), _value(q).shape) for q in parts])
                              for k in ("v", "d1", "d2")))
        return np.concatenate(parts)

    L_T = join(parts_L)
    ratio = lt / lT
    if sde:
        J = join(parts_J)
        Phi = ratio * ratio * (m2T / m2lo) * _jet.exp(-2.0 * L_T)
        Psi = lt - lT * Phi - (lt * lt / m2lo) * J
    else:
        Phi = ratio * _jet.exp(-L_T)
        Psi = 0.0 * Phi
    with np.errstate(invalid="ignore"):
        bad = ~(_value(lt) > 0) | ~np.isfinite(_value(Phi)) | ~np.isfinite(_value(Psi)) | unsettled
    if isinstance(Phi, _jet.Jet):
        Phi = _jet.Jet(*(np.broadcast_to(c, (n,)).reshape(shape) for c in (Phi.v, Phi.d1, Phi.d2)))
        Psi = _jet.Jet(*(np.broadcast_to(c, (n,)).reshape(shape) for c in (Psi.v, Psi.d1, Psi.d2)))
    else:
        Phi, Psi = np.reshape(Phi, shape), np.reshape(np.broadcast_to(Psi, (n,)), shape)
    return Phi, Psi, bad.reshape(shape)
