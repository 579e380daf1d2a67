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

With :math:`\delta = 0` both are the closed forms of :meth:`.Diffusion.affine`.  The integrals are taken in the
log noise-to-signal ratio :math:`u = \log(\sigma_t^2/m_t^2)` (:math:`du/dt = g^2/\sigma_t^2` for every process, so
:math:`dL = \sigma_t^2\delta_t\,du = m_t(\theta^*_t - \theta_t)\,du`; it spreads out the end of the VP schedules, where
:math:`m_t` falls fast), on equal panels of :data:`NODES`-point Gauss–Legendre rules (:math:`L(s)` at the nodes by the
rule's exact cumulative integral of its interpolant), vectorised over the eigenvalues (and their jets: derivatives
for the theory).  The number of panels is settled once per call (:func:`panels`): doubled from one per :data:`PANEL`
until the law of probe eigenvalues spanning the range asked changes by at most :data:`RTOL` (relative), then used
for every eigenvalue.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial import legendre

from ... import _jet

__all__ = ["trained_affine", "panels", "NODES", "RTOL"]

NODES = 16
"""Gauss–Legendre nodes per panel."""
PANEL = 2.0
"""The first panels' width in :math:`u = \\log(\\sigma_t^2/m_t^2)`."""
RTOL = 1e-10
"""Two successive rules agree to this, relative (the law's target accuracy is 1e-8)."""
MAX_HALVINGS = 6
CHUNK = 1 << 16
"""Nodes x eigenvalues per pass (arrays that stay in cache, as :data:`.law.CHUNK`)."""

_X, _W = legendre.leggauss(NODES)  # Gauss-Legendre nodes and weights on [-1, 1]


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
    r"""``(L_T, J)`` on ``n_panels`` panels in :math:`u = \log(\sigma_t^2/m_t^2)`: :math:`L(T)` and, for the SDE,
    :math:`\int G\,2g^2\lambda\delta\,dt` without its factor :math:`\lambda_{t_{\min}}^2/m_{t_{\min}}^2` (module
    docstring); ``mu`` of shape ``(n,)`` (or a jet)."""
    p, tr = sampler.process, sampler.training
    lo, hi = _ratio_range(sampler)
    h = (hi - lo) / n_panels
    u = lo + h * (np.arange(n_panels)[:, None] + 0.5 * (_X[None, :] + 1.0))  # (P, NODES)
    t = np.asarray(p.t_of_ratio(np.exp(u)), dtype=float).reshape(-1, 1)
    m2, s2 = p.m2(t), p.s2(t)
    dL = s2 * tr.score_gap(mu, m2, s2)  # dL/du = g^2 delta dt/du, dt/du = sigma^2/g^2: (P * NODES, n)
    n = _shape(mu)
    if isinstance(dL, _jet.Jet):
        dL = _jet.Jet(*_jet.derivatives(dL, (t.size, n)))
    w = (0.5 * h) * np.tile(_W, n_panels)[:, None]
    L_T = _lin(dL * w, lambda a: a.sum(axis=0))
    if not sde:
        return L_T, None

    def cumulative(a):
        a = (0.5 * h) * a.reshape(n_panels, NODES, n)
        within = np.einsum("kj,pjn->pkn", _S, a)
        totals = np.einsum("j,pjn->pn", _W, a)
        before = np.concatenate([np.zeros((1, n)), np.cumsum(totals, axis=0)[:-1]], axis=0)
        return (within + before[:, None, :]).reshape(-1, n)

    L = _lin(dL, cumulative)
    integrand = _jet.exp(-2.0 * L) * (2.0 * m2) * dL / (m2 * mu + s2)  # G 2 g^2 lambda delta dt/du, no lt^2/m2(t_min)
    return L_T, _lin(integrand * w, lambda a: a.sum(axis=0))


def _ratio_range(sampler) -> tuple[float, float]:
    r""":math:`u = \log(\sigma_t^2/m_t^2)` at :math:`t_{\min}` and T."""
    p = sampler.process
    return tuple(math.log(float(p.s2(t)) / float(p.m2(t))) for t in (sampler.t_min, p.T))


def _shape(mu) -> int:
    return int(np.shape(_jet.value(mu))[0])


def _value(x):
    return np.asarray(_jet.value(x), dtype=float)


def _law(sampler, mu, n_panels: int, sde: bool):
    """``(Phi, Psi, L_T)`` of ``mu`` (shape ``(n,)``, or a jet) on ``n_panels`` panels, in chunks of bounded memory."""
    p = sampler.process
    n = _shape(mu)
    step = max(1, CHUNK // (NODES * n_panels))
    parts = [_rule(sampler, mu[lo:lo + step], n_panels, sde) for lo in range(0, n, step)]

    def join(k):
        got = [q[k] for q in parts]
        if isinstance(got[0], _jet.Jet):
            return _jet.Jet(*(np.concatenate([np.broadcast_to(getattr(q, c), _value(q).shape) for q in got])
                              for c in ("v", "d1", "d2")))
        return np.concatenate(got)

    L_T = join(0)
    m2lo, s2lo, m2T, s2T = float(p.m2(sampler.t_min)), float(p.s2(sampler.t_min)), float(p.m2(p.T)), float(p.s2(p.T))
    lt, lT = m2lo * mu + s2lo, m2T * mu + s2T
    ratio = lt / lT
    if sde:
        Phi = ratio * ratio * (m2T / m2lo) * _jet.exp(-2.0 * L_T)
        return Phi, lt - lT * Phi - (lt * lt / m2lo) * join(1), L_T
    Phi = ratio * _jet.exp(-L_T)
    return Phi, 0.0 * Phi, L_T


def _probe(mu) -> np.ndarray:
    """The eigenvalues the rule is settled on: 33 log-spaced across the positive range of ``mu``, its quantiles, its
    extremes (and 0 if present)."""
    v = np.asarray(mu, dtype=float).reshape(-1)
    v = v[np.isfinite(v)]
    pos = v[v > 0]
    out = [np.quantile(v, np.linspace(0.0, 1.0, 17))] if v.size else []
    if pos.size:
        out.append(np.geomspace(pos.min(), pos.max(), 33))
    return np.unique(np.concatenate(out)) if out else np.array([1.0])


def panels(sampler, mu) -> tuple[int, bool]:
    r"""``(n, settled)``: the number of panels of the rule, from one per :data:`PANEL` of :math:`u`, doubled until the
    law of the :func:`_probe` eigenvalues changes by at most :data:`RTOL` (relative; at most :data:`MAX_HALVINGS`
    times: ``settled`` False if it still moves, and :func:`trained_affine` flags every direction).  The integrand is
    one function of :math:`u` shifted with :math:`\mu` (its features sit where :math:`\sigma_t^2 \sim m_t^2\mu` and
    where :math:`\tau c_t \sim 1`), so the probes settle the rule for every eigenvalue in their range."""
    lo, hi = _ratio_range(sampler)
    sde = sampler.record.integrates == "sde"
    probe = _probe(mu)
    n = max(1, math.ceil((hi - lo) / PANEL))
    prev = _law(sampler, probe, n, sde)
    for _ in range(MAX_HALVINGS):
        cur = _law(sampler, probe, 2 * n, sde)
        with np.errstate(invalid="ignore"):
            ok = ((np.abs(cur[0] - prev[0]) <= RTOL * np.abs(cur[0]))
                  & (np.abs(cur[1] - prev[1]) <= RTOL * (np.abs(cur[1]) + np.abs(_lam_tmin(sampler, probe)))))
        if np.all(ok | ~np.isfinite(cur[0]) | ~np.isfinite(cur[1])):
            return n, True  # n's error is about its distance to 2n's (2n's is far smaller): within RTOL
        n *= 2
        prev = cur
    return n, False


def _lam_tmin(sampler, mu):
    r""":math:`\lambda_{t_{\min}}` (the scale of Psi)."""
    p = sampler.process
    return float(p.m2(sampler.t_min)) * mu + float(p.s2(sampler.t_min))


def trained_affine(sampler, mu):
    r"""``(Phi, Psi, bad)`` of :meth:`.Diffusion.affine` at ``n_steps = inf`` for a trained score (module docstring):
    :math:`v(t_{\min}) = \Phi v(T) + \Psi` per eigenvalue (jets if ``mu`` is one); ``bad`` where
    :math:`\lambda_{t_{\min}} \le 0`, where the law is not finite, and everywhere if the rule did not settle."""
    sde = sampler.record.integrates == "sde"
    shape = np.shape(_value(mu))
    if isinstance(mu, _jet.Jet):
        flat = _jet.Jet(*(np.broadcast_to(c, shape).reshape(-1) for c in (mu.v, mu.d1, mu.d2)))
    else:
        flat = np.asarray(mu, dtype=float).reshape(-1)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverging law is flagged below
        n_panels, settled = panels(sampler, _value(flat))
        Phi, Psi, _ = _law(sampler, flat, n_panels, sde)
    with np.errstate(invalid="ignore"):
        bad = (~(_value(_lam_tmin(sampler, flat)) > 0) | ~np.isfinite(_value(Phi)) | ~np.isfinite(_value(Psi))
               | (not settled))
    n = flat.shape[0] if isinstance(flat, _jet.Jet) else flat.size

    def back(x):
        if isinstance(x, _jet.Jet):
            return _jet.Jet(*(np.broadcast_to(c, (n,)).reshape(shape) for c in (x.v, x.d1, x.d2)))
        return np.reshape(np.broadcast_to(x, (n,)), shape)

    return back(Phi), back(Psi), bad.reshape(shape)
