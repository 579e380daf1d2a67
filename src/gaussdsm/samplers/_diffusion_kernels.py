"""Compiled loops over the steps of a diffusion scheme (:mod:`gaussdsm.samplers.diffusion`; samplers.md §5).

Module-level functions so that numba's on-disk cache holds (a compiled closure that calls other compiled functions
misses the cache in every new process).  Imported on first use only: numba is not loaded with the package.

The value kernels repeat one loop skeleton on purpose: one branch-free kernel per scheme family vectorises over
the eigenvalues (SIMD), which a scheme switch inside the inner loop prevents (benchmarks/bench_diffusion.py).
"""

import numba
import numpy as np

from ._diffusion_layout import (A0, A1, ANNEALED, H, HEUN, LINEAR, M2K, M2M, M2N, NOISE, P0K, P0M, P0N, P1K, P1M, P1N,
                                RK4, S2K, S2M, S2N)


@numba.njit(inline="always")
def jmul(a0, a1, a2, b0, b1, b2):
    return a0 * b0, a1 * b0 + a0 * b1, a2 * b0 + 2.0 * a1 * b1 + a0 * b2


@numba.njit(inline="always")
def score(m2, s2, mu):
    """a = 1/(m2 mu + s2) and its derivatives in mu."""
    a = 1.0 / (m2 * mu + s2)
    return a, -m2 * a * a, 2.0 * m2 * m2 * a * a * a


@numba.njit(inline="always")
def alpha(family, c, k, mu):
    """The step factor alpha (and its two derivatives in mu) of step k; c: the per-step coefficients."""
    a0, a1, a2 = score(c[k, M2K], c[k, S2K], mu)
    if family == LINEAR:  # em, ei, ddpm, euler: alpha = A0 - A1 a(t_k)
        return c[k, A0] - c[k, A1] * a0, -c[k, A1] * a1, -c[k, A1] * a2
    h = c[k, H]
    p0, p1, p2 = c[k, P0K] - c[k, P1K] * a0, -c[k, P1K] * a1, -c[k, P1K] * a2  # phi(t_k)
    n0, n1, n2 = score(c[k, M2N], c[k, S2N], mu)
    q0, q1, q2 = c[k, P0N] - c[k, P1N] * n0, -c[k, P1N] * n1, -c[k, P1N] * n2  # phi(t_{k+1})
    if family == HEUN:  # heun: 1 + h/2 (phi_k + phi_n (1 + h phi_k))
        r0, r1, r2 = jmul(q0, q1, q2, 1.0 + h * p0, h * p1, h * p2)
        return 1.0 + 0.5 * h * (p0 + r0), 0.5 * h * (p1 + r1), 0.5 * h * (p2 + r2)
    m0, m1, m2_ = score(c[k, M2M], c[k, S2M], mu)
    w0, w1, w2 = c[k, P0M] - c[k, P1M] * m0, -c[k, P1M] * m1, -c[k, P1M] * m2_  # phi(t_k - h/2)
    c20, c21, c22 = jmul(w0, w1, w2, 1.0 + 0.5 * h * p0, 0.5 * h * p1, 0.5 * h * p2)
    c30, c31, c32 = jmul(w0, w1, w2, 1.0 + 0.5 * h * c20, 0.5 * h * c21, 0.5 * h * c22)
    c40, c41, c42 = jmul(q0, q1, q2, 1.0 + h * c30, h * c31, h * c32)
    s = h / 6.0
    return (1.0 + s * (p0 + 2.0 * c20 + 2.0 * c30 + c40), s * (p1 + 2.0 * c21 + 2.0 * c31 + c41),
            s * (p2 + 2.0 * c22 + 2.0 * c32 + c42))


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD
def linear_values(mu, c, phi, psi):
    """em, ei, ddpm, euler: alpha = A0 - A1 a(t_k).  Branch-free over the elements (SIMD)."""
    n, K = mu.shape[0], c.shape[0]
    for i in range(n):
        phi[i], psi[i] = 1.0, 0.0
    for k in range(K):
        m2, s2, a0, a1, q = c[k, M2K], c[k, S2K], c[k, A0], c[k, A1], c[k, NOISE]
        for i in range(n):
            al = a0 - a1 / (m2 * mu[i] + s2)
            al2 = al * al
            phi[i] *= al2
            psi[i] = al2 * psi[i] + q


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD
def heun_values(mu, c, phi, psi):
    n, K = mu.shape[0], c.shape[0]
    for i in range(n):
        phi[i], psi[i] = 1.0, 0.0
    for k in range(K):
        h = c[k, H]
        for i in range(n):
            pk = c[k, P0K] - c[k, P1K] / (c[k, M2K] * mu[i] + c[k, S2K])
            pn = c[k, P0N] - c[k, P1N] / (c[k, M2N] * mu[i] + c[k, S2N])
            al = 1.0 + 0.5 * h * (pk + pn * (1.0 + h * pk))
            al2 = al * al
            phi[i] *= al2
            psi[i] = al2 * psi[i]


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD
def rk4_values(mu, c, phi, psi):
    n, K = mu.shape[0], c.shape[0]
    for i in range(n):
        phi[i], psi[i] = 1.0, 0.0
    for k in range(K):
        h = c[k, H]
        for i in range(n):
            pk = c[k, P0K] - c[k, P1K] / (c[k, M2K] * mu[i] + c[k, S2K])
            pn = c[k, P0N] - c[k, P1N] / (c[k, M2N] * mu[i] + c[k, S2N])
            pm = c[k, P0M] - c[k, P1M] / (c[k, M2M] * mu[i] + c[k, S2M])
            c2 = pm * (1.0 + 0.5 * h * pk)
            c3 = pm * (1.0 + 0.5 * h * c2)
            c4 = pn * (1.0 + h * c3)
            al = 1.0 + h / 6.0 * (pk + 2.0 * c2 + 2.0 * c3 + c4)
            al2 = al * al
            phi[i] *= al2
            psi[i] = al2 * psi[i]


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD
def annealed_values(mu, c, L, phi, psi):
    n, K = mu.shape[0], c.shape[0]
    for i in range(n):
        phi[i], psi[i] = 1.0, 0.0
    for k in range(K):
        eps = c[k, A0]
        for i in range(n):
            a = 1.0 / (mu[i] + c[k, S2K])
            b = 1.0 - eps * a
            bl = b ** (2 * L)
            cc = 1.0 / (a * (1.0 - 0.5 * eps * a))
            phi[i] *= bl
            psi[i] = bl * psi[i] + cc * (1.0 - bl)


def affine_values(mu, c, family, L, phi, psi, bad):
    """v_K = phi v_0 + psi per element of mu (values only); ``bad``: a score not finite at an evaluated time."""
    if family == LINEAR:
        linear_values(mu, c, phi, psi)
    elif family == HEUN:
        heun_values(mu, c, phi, psi)
    elif family == RK4:
        rk4_values(mu, c, phi, psi)
    elif family == ANNEALED:
        annealed_values(mu, c, L, phi, psi)
    else:
        raise ValueError(f"unknown scheme family {family!r}")
    # m2 mu + s2 is increasing in mu: a score is infinite somewhere iff mu <= max_k(-s2_k / m2_k)
    cols = (M2K, S2K) if family in (LINEAR, ANNEALED) else (M2K, S2K, M2N, S2N)
    thr = -np.inf
    for j in range(0, len(cols), 2):
        thr = max(thr, float(np.max(-c[:, cols[j + 1]] / c[:, cols[j]])))
    bad[:] = mu <= thr


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD
def affine_jets(mu, c, family, L, out, bad):
    """The same with first and second derivatives in mu: out[i] = (phi, phi', phi'', psi, psi', psi'')."""
    n, K = mu.shape[0], c.shape[0]
    for i in range(n):
        f0, f1, f2, g0, g1, g2 = 1.0, 0.0, 0.0, 0.0, 0.0, 0.0
        bad[i] = False
        x = mu[i]
        for k in range(K):
            if c[k, M2K] * x + c[k, S2K] <= 0.0 or ((family == HEUN or family == RK4) and c[k, M2N] * x + c[k, S2N] <= 0.0):
                bad[i] = True
                break
            if family == ANNEALED:
                a0, a1, a2 = score(c[k, M2K], c[k, S2K], x)
                eps = c[k, A0]
                b0, b1, b2 = 1.0 - eps * a0, -eps * a1, -eps * a2
                p = 2.0 * L
                e0 = b0**p
                e1 = p * b0 ** (p - 1.0) * b1
                e2 = p * (p - 1.0) * b0 ** (p - 2.0) * b1 * b1 + p * b0 ** (p - 1.0) * b2
                d0, d1, d2 = jmul(a0, a1, a2, 1.0 - 0.5 * eps * a0, -0.5 * eps * a1, -0.5 * eps * a2)
                cc0 = 1.0 / d0
                cc1 = -d1 * cc0 * cc0
                cc2 = (2.0 * d1 * d1 / d0 - d2) * cc0 * cc0
                f0, f1, f2 = jmul(f0, f1, f2, e0, e1, e2)
                u0, u1, u2 = jmul(g0, g1, g2, e0, e1, e2)
                w0, w1, w2 = jmul(cc0, cc1, cc2, 1.0 - e0, -e1, -e2)
                g0, g1, g2 = u0 + w0, u1 + w1, u2 + w2
                continue
            al0, al1, al2 = alpha(family, c, k, x)
            s0, s1, s2 = jmul(al0, al1, al2, al0, al1, al2)
            f0, f1, f2 = jmul(f0, f1, f2, s0, s1, s2)
            g0, g1, g2 = jmul(g0, g1, g2, s0, s1, s2)
            g0 += c[k, NOISE]
        out[i, 0], out[i, 1], out[i, 2], out[i, 3], out[i, 4], out[i, 5] = f0, f1, f2, g0, g1, g2
