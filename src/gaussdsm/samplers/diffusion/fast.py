"""The compiled fast path of a scheme's law with the exact score (optional; :class:`.schemes.record.FastPath`).

Per step k of the reverse grid a row of coefficients (:mod:`.layout`): the shared ones (m², σ², the drift's
numerators Q at t_k, t_{k+1} and t_k - h/2; h), then the scheme's own (its ``fill``); one compiled loop per family
(:mod:`.kernels`, numba imported on first use only) gives the affine map of the variance and its derivatives.
Tested equal to the law derived from the scheme's step (:mod:`.law`).
"""

from __future__ import annotations

import numpy as np

from ... import _jet
from . import layout as L

__all__ = ["linear", "coefficients", "affine", "steps_values"]


def linear(coefficients):
    """The ``fill`` of a linear-family scheme from ``coefficients(process, tk, tn, h) -> (A0, A1, NOISE[, A2])``:
    :math:`y \\leftarrow (A_0 - (A_1 - A_2\\mu)a(t_k))\\,y + \\sqrt{\\text{NOISE}}\\,z`."""
    def fill(sampler, c, tk, tn, h):
        out = coefficients(sampler.process, tk, tn, h)
        c[:, L.A0], c[:, L.A1], c[:, L.NOISE] = out[:3]
        if len(out) > 3:
            c[:, L.A2] = out[3]
    return fill


def _kernels():
    from . import kernels as k

    return k.affine_values, k.affine_jets


def coefficients(sampler) -> np.ndarray:
    """Per step, ``(K, N_COLS)`` (columns: :mod:`.layout`): m², σ² and φ's numerators Q0, Q1 at t_k, t_{k+1},
    t_k − h/2; h; then the scheme's own columns.  Annealed Langevin: m² = 1, σ² = σ_j², A0 = ε_j."""
    p, fast = sampler.process, sampler.record.fast
    if fast.family == L.ANNEALED:
        n = int(sampler.n_steps)
        sig2 = (sampler.sigma_max * (sampler.sigma_min / sampler.sigma_max) ** (np.arange(n) / max(n - 1, 1))) ** 2
        c = np.zeros((n, L.N_COLS))
        c[:, L.M2K], c[:, L.S2K], c[:, L.A0] = 1.0, sig2, sampler.eps * sig2 / sampler.sigma_min**2
        return c
    t = sampler.times
    tk, tn = t[:-1], t[1:]
    h = tk - tn
    tm = tk - 0.5 * h
    c = np.zeros((tk.size, L.N_COLS))
    for (jm, js, jt), tt in (((L.M2K, L.S2K, L.TK), tk), ((L.M2N, L.S2N, L.TN), tn), ((L.M2M, L.S2M, L.TM), tm)):
        c[:, jm], c[:, js], c[:, jt] = p.m2(tt), p.s2(tt), tt
    c[:, L.H] = h
    for (j0, j1), tt in (((L.Q0K, L.Q1K), tk), ((L.Q0N, L.Q1N), tn), ((L.Q0M, L.Q1M), tm)):
        c[:, j0], c[:, j1] = p.q(tt)  # phi = -f - g^2 a / 2 = (Q0 mu + Q1) a
    if fast.fill is not None:
        fast.fill(sampler, c, tk, tn, h)
    return c


def affine(sampler, mu):
    """``(Phi, Psi, bad)`` by the compiled loop of the scheme's family: :math:`v_K = \\Phi v_0 + \\Psi` (values, or
    jets if ``mu`` is one)."""
    x = np.asarray(_jet.value(mu), dtype=float)
    shape = x.shape
    flat = np.ascontiguousarray(x.reshape(-1))
    values, jets_loop = _kernels()
    c = np.ascontiguousarray(coefficients(sampler))
    fam, per_level = sampler.record.fast.family, sampler.steps_per_level
    bad = np.empty(flat.size, dtype=np.bool_)
    if not isinstance(mu, _jet.Jet):
        phi, psi = np.empty(flat.size), np.empty(flat.size)
        values(flat, c, fam, per_level, phi, psi, bad)
        return phi.reshape(shape), psi.reshape(shape), bad.reshape(shape)
    out = np.empty((flat.size, 6))
    jets_loop(flat, c, fam, per_level, out, bad)
    d1, d2 = (np.broadcast_to(u, shape).reshape(-1) for u in (mu.d1, mu.d2))
    # chain rule from d/dmu to the jet's own variable (here d mu = d1, d^2 mu = d2)
    Phi = _jet.Jet(out[:, 0], out[:, 1] * d1, out[:, 2] * d1 * d1 + out[:, 1] * d2)
    Psi = _jet.Jet(out[:, 3], out[:, 4] * d1, out[:, 5] * d1 * d1 + out[:, 4] * d2)
    Phi, Psi = (_jet.Jet(*(u.reshape(shape) for u in (j.v, j.d1, j.d2))) for j in (Phi, Psi))
    return Phi, Psi, bad.reshape(shape)


def steps_values(sampler, c, mu, v):
    """The variance after the steps of ``c`` (rows of the coefficients) from variance ``v`` (values), by the compiled
    loop."""
    values, _ = _kernels()
    phi, psi, bad = np.empty(mu.size), np.empty(mu.size), np.empty(mu.size, dtype=np.bool_)
    values(np.ascontiguousarray(mu), np.ascontiguousarray(c), sampler.record.fast.family, sampler.steps_per_level, phi,
           psi, bad)
    return np.where(bad, np.nan, phi * v + psi)
