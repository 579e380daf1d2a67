r"""The exact law of any scheme, derived from its step (samplers.md §5), and its particle chains.

With a linear score every step is affine: the quantities a step passes on (the state and, for multistep schemes, its
history) are :math:`z_{k+1} = M_k z_k + N_k\xi_k` with :math:`\xi_k` the step's fresh standard normals.  Running the
scheme's own ``step`` on linear forms (:class:`.steps.LawStep`, all K steps at once, vectorised over the eigenvalues)
gives :math:`M_k` and :math:`N_k` per eigenvalue; the law follows from the small covariance recursion

.. math:: P_{k+1} = M_kP_kM_k^\top, \qquad Q_{k+1} = M_kQ_kM_k^\top + N_kN_k^\top,

from :math:`P_0 = e_0e_0^\top` (the start) and :math:`Q_0 = 0` (the noise): :math:`v_K = \Phi v_0 + \Psi` with
:math:`\Phi = (P_K)_{00}`, :math:`\Psi = (Q_K)_{00}`.  A deterministic scheme carries the amplitudes
:math:`Y_{k+1} = M_kY_k` instead (:math:`\Phi = (Y_K)_0^2`).  Derivatives in the eigenvalue come from running the same
code on jets (:mod:`gaussdsm._jet`).  The same holds for the exact score, the learned one and a trained one: the
step asks the model (:meth:`.steps.Step.factor`) at the times it needs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ... import _jet
from .steps import STATE, Form, LawStep, MatrixStep, ParticleStep, Step, coefficient

__all__ = ["affine", "score_times", "covariance_with_scores", "particles"]

CHUNK = 1 << 16
"""Elements (steps x eigenvalues) per pass, the eigenvalues taken in slices: arrays that stay in cache (2^16 measured
fastest of 2^14 ... 2^21 at d = 3072, K = 100 ... 1000)."""


def _maps(sampler, mu, times):
    """``(M, N)`` of all steps: ``M[a][b]`` the coefficient of live quantity b in the new live quantity a, ``N[a]``
    a's noise coefficients ``{source: coefficient}``, each ``(K, n)`` (arrays or jets)."""
    rec = sampler.record
    s = LawStep(sampler, mu, times)
    y = rec.step(s, Form({STATE: 1.0}))
    outs = [y] + [s.kept[name] for name in rec.history]
    live = [STATE] + [("history", name) for name in rec.history]
    shape = (times.size - 1, np.shape(_jet.value(mu))[0])
    zero = np.zeros(shape)
    M = [[coefficient(o.c[src], shape) if src in o.c else zero for src in live] for o in outs]
    N = [{src: coefficient(v, shape) for src, v in o.c.items() if src not in live} for o in outs]
    return M, N


def _components(x, shape) -> np.ndarray:
    """``(3,) + shape``: a coefficient's value and first two derivatives (zero for a constant), contiguous."""
    return np.ascontiguousarray(np.stack(_jet.derivatives(x, shape)))


def _scan(M, N, K, shape, jets: bool):
    """``(Phi, Psi)`` from the maps (module docstring), each ``(n,)`` (jets if ``jets``): compiled scans for a
    deterministic scheme (amplitudes) and for one live quantity (:mod:`.kernels`), a loop over the steps otherwise."""
    from . import kernels

    ell = len(M)
    n = shape[1]
    if not any(N):  # deterministic: amplitudes Y <- M Y
        if not jets:
            out = np.empty(n)
            Ms = np.empty((ell, ell) + shape)
            for a in range(ell):
                for b in range(ell):
                    Ms[a, b] = M[a][b]
            kernels.scan_amplitudes(Ms, out)
            return out * out, 0.0 * out
        out = np.empty((n, 3))
        Ms = np.ascontiguousarray(np.stack([np.stack([_components(M[a][b], shape) for b in range(ell)], axis=1)
                                            for a in range(ell)], axis=1))
        kernels.scan_amplitudes_jets(Ms, out)
        Y = _jet.Jet(out[:, 0], out[:, 1], out[:, 2])
        return Y * Y, 0.0 * Y
    if ell == 1:
        m = M[0][0]
        if not jets:
            P, Q = np.empty(n), np.empty(n)
            a = np.ascontiguousarray(np.broadcast_to(m * m, shape))
            b = np.ascontiguousarray(np.broadcast_to(sum((v * v for v in N[0].values()), 0.0), shape))
            kernels.scan_single(a, b, P, Q)
            return P, Q
        a = _components(m * m, shape)
        b = _components(sum((v * v for v in N[0].values()), 0.0), shape)
        out = np.empty((n, 6))
        kernels.scan_single_jets(a, b, out)
        return _jet.Jet(out[:, 0], out[:, 1], out[:, 2]), _jet.Jet(out[:, 3], out[:, 4], out[:, 5])
    P = [[1.0 if a == b == 0 else 0.0 for b in range(ell)] for a in range(ell)]
    Q = [[0.0] * ell for _ in range(ell)]
    for k in range(K):
        Mk = [[M[a][b][k] for b in range(ell)] for a in range(ell)]
        P = _congruence(Mk, P)
        Q = _congruence(Mk, Q)
        for a in range(ell):
            for b in range(ell):
                Q[a][b] = Q[a][b] + _noise_cross(N[a], N[b], k)
    return P[0][0], Q[0][0]


def _noise_cross(Na: dict, Nb: dict, k: int):
    """:math:`(N_kN_k^\top)_{ab}`: the sum over the noise sources quantities a and b share."""
    return sum((Na[src][k] * Nb[src][k] for src in Na if src in Nb), 0.0)


def _congruence(M, P):
    """:math:`MPM^\top` for small lists of lists (entries arrays or jets)."""
    ell = len(M)
    MP = [[sum((M[a][i] * P[i][b] for i in range(ell) if not _is_zero(P[i][b])), 0.0) for b in range(ell)]
          for a in range(ell)]
    return [[sum((MP[a][j] * M[b][j] for j in range(ell)), 0.0) for b in range(ell)] for a in range(ell)]


def _is_zero(x) -> bool:
    return isinstance(x, float) and x == 0.0


def affine(sampler, mu):
    """``(Phi, Psi, bad)`` of the scheme's steps (module docstring): :math:`v_K = \\Phi v_0 + \\Psi` before any final
    Tweedie step, per element of ``mu`` (values or a jet; any shape); ``bad`` where they are not finite."""
    shape = np.shape(_jet.value(mu))
    if isinstance(mu, _jet.Jet):
        flat = _jet.Jet(*(np.broadcast_to(u, shape).reshape(-1) for u in (mu.v, mu.d1, mu.d2)))
    else:
        flat = np.asarray(mu, dtype=float).reshape(-1)
    times = sampler.times
    K, n = times.size - 1, max(int(np.prod(shape)), 1)
    step = max(1, CHUNK // max(K, 1))
    parts = []
    with np.errstate(all="ignore"):
        for lo in range(0, n, step):
            part = flat[lo:lo + step]
            M, N = _maps(sampler, part, times)
            parts.append(_scan(M, N, K, (K, np.shape(_jet.value(part))[0]), isinstance(part, _jet.Jet)))
    Phi, Psi = (_concat([p[i] for p in parts], n) for i in (0, 1))
    Phi, Psi = (_reshape(x, shape) for x in (Phi, Psi))
    bad = ~np.isfinite(_jet.value(Phi)) | ~np.isfinite(_jet.value(Psi))
    return Phi, Psi, np.broadcast_to(bad, shape)


def _concat(xs, n):
    if any(isinstance(x, _jet.Jet) for x in xs):
        js = [x if isinstance(x, _jet.Jet) else _jet.Jet(x, 0.0, 0.0) for x in xs]
        return _jet.Jet(*(np.concatenate([np.broadcast_to(getattr(j, a), (np.shape(j.v)[0],)) for j in js])
                          for a in ("v", "d1", "d2")))
    return np.concatenate([np.broadcast_to(np.asarray(x, dtype=float), (np.size(x),)) for x in xs])[:n]


def _reshape(x, shape):
    if isinstance(x, _jet.Jet):
        return _jet.Jet(*(np.broadcast_to(u, x.shape).reshape(shape) for u in (x.v, x.d1, x.d2)))
    return np.asarray(x).reshape(shape)


class _Recorder(LawStep):
    """A :class:`LawStep` that notes every time the step asks the model at."""

    def __init__(self, sampler, times):
        super().__init__(sampler, np.ones(1), times)
        self.asked = []

    def factor(self, kind, t):
        self.asked.append(np.broadcast_to(np.asarray(t, dtype=float), self.t.shape).ravel())
        return super().factor(kind, t)


def score_times(sampler) -> np.ndarray:
    """The distinct times at which the scheme's steps evaluate the score, sorted (for scores given per time,
    :func:`covariance_with_scores`)."""
    r = _Recorder(sampler, sampler.times)
    with np.errstate(all="ignore"):
        sampler.record.step(r, Form({STATE: 1.0}))
    final = [np.array([sampler.t_min])] if sampler.denoise else []
    return np.unique(np.concatenate(r.asked + final))


def covariance_with_scores(sampler, A, start_cov) -> np.ndarray:
    r"""The output covariance for matrix scores :math:`s_t(y) = -A(t)y` (``A``: a time of :func:`score_times` ->
    ``(d, d)``) from :math:`y_0 \sim \mathcal N(0, V_0)`: each step of the scheme as a linear map (:class:`.steps.
    MatrixStep`), :math:`V_{k+1} = \alpha_kV_k\alpha_k^\top + \beta_k\beta_k^\top` (a deterministic multistep scheme:
    :math:`Y_{k+1}` from the steps on :math:`Y_k`, :math:`V = YV_0Y^\top`), then the final Tweedie step if ``denoise``.
    O(K d^3)."""
    V0 = np.asarray(start_cov, dtype=float)
    eye = np.eye(V0.shape[0])
    times, rec = sampler.times, sampler.record
    lookup = lambda t: A(float(t))  # noqa: E731
    with np.errstate(all="ignore"):
        if rec.integrates == "sde" and (rec.history or _draws(sampler, lookup, eye) > 1):
            V = _block_covariance(sampler, lookup, V0)
        elif rec.integrates == "sde":
            V = V0
            for k in range(times.size - 1):
                al = rec.step(MatrixStep(sampler, times, k, lookup, 0.0, {}), eye)
                be = rec.step(MatrixStep(sampler, times, k, lookup, eye, {}), 0.0 * eye)
                V = al @ V @ al.T + be @ be.T
        else:
            Y, memory = eye, {}
            for k in range(times.size - 1):
                Y = rec.step(MatrixStep(sampler, times, k, lookup, 0.0, memory), Y)
            V = Y @ V0 @ Y.T
        if sampler.denoise:
            p = sampler.process
            m2, s2 = float(p.m2(sampler.t_min)), float(p.s2(sampler.t_min))
            D = (eye - s2 * lookup(sampler.t_min)) / math.sqrt(m2)
            V = D @ V @ D.T
    return 0.5 * (V + V.T)


class _FormMatrixStep(MatrixStep):
    """A :class:`.steps.MatrixStep` on forms with d x d coefficients: each draw a new source, the history its own."""

    def __init__(self, sampler, times, k, A, eye):
        super().__init__(sampler, times, k, A, eye, {})
        self.eye, self._ids, self.kept = eye, itertools.count(), {}

    def _apply(self, factor, y):
        if isinstance(y, Form):
            return Form({k: factor @ v for k, v in y.c.items()})
        return factor @ y

    def noise(self):
        return Form({next(self._ids): self.eye})

    def history(self, name):
        return Form({("history", name): self.eye})

    def keep(self, name, value):
        self.kept[name] = value


def _draws(sampler, A, eye) -> int:
    """The number of standard normal draws of the scheme's first step."""
    s = _FormMatrixStep(sampler, sampler.times, 0, A, eye)
    sampler.record.step(s, Form({STATE: eye}))
    return next(s._ids)


def _block_covariance(sampler, A, V0) -> np.ndarray:
    r"""The covariance of the state for matrix scores by the recursion of the module docstring on blocks: the live
    quantities (state and history) stacked, :math:`P_{k+1} = M_kP_kM_k^\top + N_kN_k^\top` with d x d blocks read
    from the step run on forms (:class:`_FormMatrixStep`); any number of draws per step."""
    rec, times = sampler.record, sampler.times
    d = V0.shape[0]
    eye = np.eye(d)
    live = [STATE] + [("history", name) for name in rec.history]
    ell = len(live)
    P = np.zeros((ell * d, ell * d))
    P[:d, :d] = V0
    for k in range(times.size - 1):
        s = _FormMatrixStep(sampler, times, k, A, eye)
        outs = [rec.step(s, Form({STATE: eye}))] + [s.kept[name] for name in rec.history]
        M = np.zeros((ell * d, ell * d))
        sources = sorted({src for o in outs for src in o.c if src not in live})
        N = np.zeros((ell * d, max(len(sources), 1) * d))
        for a, o in enumerate(outs):
            for src, v in o.c.items():
                v = np.broadcast_to(v, (d, d))
                if src in live:
                    b = live.index(src)
                    M[a * d:(a + 1) * d, b * d:(b + 1) * d] = v
                else:
                    j = sources.index(src)
                    N[a * d:(a + 1) * d, j * d:(j + 1) * d] = v
        P = M @ P @ M.T + N @ N.T
    return P[:d, :d]


def particles(sampler, mu, n_particles: int, rng) -> np.ndarray:
    r"""Particle chains of the actual scheme (validation of the exact laws): ``(n_particles, d)`` samples of the output.

    Each step is the scheme's own ``step`` on particles (:class:`.steps.ParticleStep`) with the linear score of each
    eigen-direction -- not the variance recursion.  A scheme without a step of this kind (annealed Langevin) gives its
    own ``particles``.
    """
    mu = np.asarray(mu, dtype=float)
    shape = (int(n_particles), mu.size)
    rec = sampler.record
    if rec.particles is not None:
        return rec.particles(sampler, mu, shape, rng)
    v0 = np.broadcast_to(np.asarray(sampler.start_variance(mu), dtype=float), mu.shape)
    y = np.sqrt(v0) * rng.standard_normal(shape)
    times, memory = sampler.times, {}
    for k in range(times.size - 1):
        y = rec.step(ParticleStep(sampler, mu, times, k, rng, shape, memory), y)
    if sampler.denoise:
        y = Step(sampler, mu, sampler.t_min, sampler.t_min, sampler.t_min, -1).denoise(y, sampler.t_min)
    return y
