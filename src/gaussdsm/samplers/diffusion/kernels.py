"""Compiled loops over the steps of a diffusion scheme (:mod:`gaussdsm.samplers.diffusion`; samplers.md §5).

Module-level functions so that numba's on-disk cache holds (a compiled closure that calls other compiled functions
misses the cache in every new process).  Imported on first use only: numba is not loaded with the package.

The value kernels repeat one loop skeleton on purpose: one branch-free kernel per scheme family vectorises over
the eigenvalues (SIMD), which a scheme switch inside the inner loop prevents (benchmarks/bench_diffusion.py).
Columns and families: :mod:`.layout`.
"""

import numba
import numpy as np

from .layout import (A0, A1, A2, ANNEALED, DPM2, HEUN, LINEAR, M2K, M2M, M2N, M2P, MULTISTEP, NOISE, PRE,
                                Q0K, Q0M, Q0N, Q1K, Q1M, Q1N, RK4, S2K, S2M, S2N, S2P, U0, U1, H)


@numba.njit(inline="always")
def jmul(a0, a1, a2, b0, b1, b2):
    return a0 * b0, a1 * b0 + a0 * b1, a2 * b0 + 2.0 * a1 * b1 + a0 * b2


@numba.njit(inline="always")
def score(m2, s2, mu):
    """a = 1/(m2 mu + s2) and its derivatives in mu."""
    a = 1.0 / (m2 * mu + s2)
    return a, -m2 * a * a, 2.0 * m2 * m2 * a * a * a


@numba.njit(inline="always")
def ratio(n0, n1, m2, s2, mu):
    """(n0 mu + n1) a(mu) and its derivatives in mu (a = 1/(m2 mu + s2)): phi with (Q0, Q1), dpm_2's inner step."""
    a0, a1, a2 = score(m2, s2, mu)
    w = n0 * mu + n1
    return w * a0, n0 * a0 + w * a1, 2.0 * n0 * a1 + w * a2


@numba.njit(inline="always")
def alpha(family, c, k, mu):
    """The step factor alpha (and its two derivatives in mu) of step k; c: the per-step coefficients."""
    if family == LINEAR:  # alpha = A0 - (A1 - A2 mu) a(t_k)
        a0, a1, a2 = score(c[k, M2K], c[k, S2K], mu)
        n = c[k, A1] - c[k, A2] * mu
        return c[k, A0] - n * a0, c[k, A2] * a0 - n * a1, 2.0 * c[k, A2] * a1 - n * a2
    if family == DPM2:  # alpha = A0 - A1 a(s) (U0 mu + U1) a(t_k)
        w0, w1, w2 = ratio(c[k, U0], c[k, U1], c[k, M2K], c[k, S2K], mu)
        b0, b1, b2 = score(c[k, M2M], c[k, S2M], mu)
        r0, r1, r2 = jmul(b0, b1, b2, w0, w1, w2)
        return c[k, A0] - c[k, A1] * r0, -c[k, A1] * r1, -c[k, A1] * r2
    h = c[k, H]
    p0, p1, p2 = ratio(c[k, Q0K], c[k, Q1K], c[k, M2K], c[k, S2K], mu)  # phi(t_k)
    q0, q1, q2 = ratio(c[k, Q0N], c[k, Q1N], c[k, M2N], c[k, S2N], mu)  # phi(t_{k+1})
    if family == HEUN:  # heun: 1 + h/2 (phi_k + phi_n (1 + h phi_k))
        r0, r1, r2 = jmul(q0, q1, q2, 1.0 + h * p0, h * p1, h * p2)
        return 1.0 + 0.5 * h * (p0 + r0), 0.5 * h * (p1 + r1), 0.5 * h * (p2 + r2)
    w0, w1, w2 = ratio(c[k, Q0M], c[k, Q1M], c[k, M2M], c[k, S2M], mu)  # phi(t_k - h/2)
    c20, c21, c22 = jmul(w0, w1, w2, 1.0 + 0.5 * h * p0, 0.5 * h * p1, 0.5 * h * p2)
    c30, c31, c32 = jmul(w0, w1, w2, 1.0 + 0.5 * h * c20, 0.5 * h * c21, 0.5 * h * c22)
    c40, c41, c42 = jmul(q0, q1, q2, 1.0 + h * c30, h * c31, h * c32)
    s = h / 6.0
    return (1.0 + s * (p0 + 2.0 * c20 + 2.0 * c30 + c40), s * (p1 + 2.0 * c21 + 2.0 * c31 + c41),
            s * (p2 + 2.0 * c22 + 2.0 * c32 + c42))


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD
def linear_values(mu, c, phi, psi):
    """em, ei, ddpm, euler, ddim: alpha = A0 - (A1 - A2 mu) a(t_k).  Branch-free over the elements (SIMD)."""
    n, K = mu.shape[0], c.shape[0]
    for i in range(n):
        phi[i], psi[i] = 1.0, 0.0
    for k in range(K):
        m2, s2, a0, a1, a2, q = c[k, M2K], c[k, S2K], c[k, A0], c[k, A1], c[k, A2], c[k, NOISE]
        for i in range(n):
            al = a0 - (a1 - a2 * mu[i]) / (m2 * mu[i] + s2)
            al2 = al * al
            phi[i] *= al2
            psi[i] = al2 * psi[i] + q


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD
def heun_values(mu, c, phi, psi):
    """heun (PRE = 0) and heun_churn: y <- alpha (y + sqrt(PRE) z)."""
    n, K = mu.shape[0], c.shape[0]
    for i in range(n):
        phi[i], psi[i] = 1.0, 0.0
    for k in range(K):
        h, pre = c[k, H], c[k, PRE]
        for i in range(n):
            pk = (c[k, Q0K] * mu[i] + c[k, Q1K]) / (c[k, M2K] * mu[i] + c[k, S2K])
            pn = (c[k, Q0N] * mu[i] + c[k, Q1N]) / (c[k, M2N] * mu[i] + c[k, S2N])
            al = 1.0 + 0.5 * h * (pk + pn * (1.0 + h * pk))
            al2 = al * al
            phi[i] *= al2
            psi[i] = al2 * (psi[i] + pre)


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD
def rk4_values(mu, c, phi, psi):
    n, K = mu.shape[0], c.shape[0]
    for i in range(n):
        phi[i], psi[i] = 1.0, 0.0
    for k in range(K):
        h = c[k, H]
        for i in range(n):
            pk = (c[k, Q0K] * mu[i] + c[k, Q1K]) / (c[k, M2K] * mu[i] + c[k, S2K])
            pn = (c[k, Q0N] * mu[i] + c[k, Q1N]) / (c[k, M2N] * mu[i] + c[k, S2N])
            pm = (c[k, Q0M] * mu[i] + c[k, Q1M]) / (c[k, M2M] * mu[i] + c[k, S2M])
            c2 = pm * (1.0 + 0.5 * h * pk)
            c3 = pm * (1.0 + 0.5 * h * c2)
            c4 = pn * (1.0 + h * c3)
            al = 1.0 + h / 6.0 * (pk + 2.0 * c2 + 2.0 * c3 + c4)
            al2 = al * al
            phi[i] *= al2
            psi[i] = al2 * psi[i]


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD
def dpm2_values(mu, c, phi, psi):
    """DPM-Solver-2: alpha = A0 - A1 a(s) (U0 mu + U1) a(t_k)."""
    n, K = mu.shape[0], c.shape[0]
    for i in range(n):
        phi[i], psi[i] = 1.0, 0.0
    for k in range(K):
        for i in range(n):
            inner = (c[k, U0] * mu[i] + c[k, U1]) / (c[k, M2K] * mu[i] + c[k, S2K])
            al = c[k, A0] - c[k, A1] * inner / (c[k, M2M] * mu[i] + c[k, S2M])
            phi[i] *= al * al


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD
def multistep_values(mu, c, phi, psi, prev):
    """DPM-Solver++(2M): y_k = c_k y_0 with c_{k+1} = (A0 + A1 mu a_k) c_k + A2 mu a_{k-1} c_{k-1}; phi = c_K^2.
    ``prev``: scratch for c_{k-1}."""
    n, K = mu.shape[0], c.shape[0]
    for i in range(n):
        phi[i], psi[i], prev[i] = 1.0, 0.0, 0.0
    for k in range(K):
        for i in range(n):
            x = mu[i]
            cur = phi[i]
            phi[i] = ((c[k, A0] + c[k, A1] * x / (c[k, M2K] * x + c[k, S2K])) * cur
                      + c[k, A2] * x / (c[k, M2P] * x + c[k, S2P]) * prev[i])
            prev[i] = cur
    for i in range(n):
        phi[i] *= phi[i]


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
    elif family == DPM2:
        dpm2_values(mu, c, phi, psi)
    elif family == MULTISTEP:
        multistep_values(mu, c, phi, psi, np.empty_like(phi))
    else:
        raise ValueError(f"unknown scheme family {family!r}")
    # m2 mu + s2 is increasing in mu: a score is infinite somewhere iff mu <= max_k(-s2_k / m2_k)
    cols = (M2K, S2K, M2N, S2N) if family in (HEUN, RK4) else (M2K, S2K)
    thr = -np.inf
    with np.errstate(divide="ignore", invalid="ignore"):  # m2 = 0 (no signal at T): the score is finite there
        for j in range(0, len(cols), 2):
            thr = max(thr, float(np.max(np.where(c[:, cols[j]] > 0, -c[:, cols[j + 1]] / c[:, cols[j]],
                                                 np.where(c[:, cols[j + 1]] > 0, -np.inf, np.inf)))))
    bad[:] = mu <= thr


@numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD
def affine_jets(mu, c, family, L, out, bad):
    """The same with first and second derivatives in mu: out[i] = (phi, phi', phi'', psi, psi', psi'')."""
    n, K = mu.shape[0], c.shape[0]
    for i in range(n):
        f0, f1, f2, g0, g1, g2 = 1.0, 0.0, 0.0, 0.0, 0.0, 0.0
        e0, e1, e2 = 0.0, 0.0, 0.0  # multistep: c_{k-1}
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
            if family == MULTISTEP:  # f holds c_k (not squared), e holds c_{k-1}
                r0, r1, r2 = ratio(1.0, 0.0, c[k, M2K], c[k, S2K], x)  # mu a_k
                q0, q1, q2 = ratio(1.0, 0.0, c[k, M2P], c[k, S2P], x)  # mu a_{k-1}
                u0, u1, u2 = jmul(c[k, A0] + c[k, A1] * r0, c[k, A1] * r1, c[k, A1] * r2, f0, f1, f2)
                w0, w1, w2 = jmul(c[k, A2] * q0, c[k, A2] * q1, c[k, A2] * q2, e0, e1, e2)
                e0, e1, e2 = f0, f1, f2
                f0, f1, f2 = u0 + w0, u1 + w1, u2 + w2
                continue
            al0, al1, al2 = alpha(family, c, k, x)
            s0, s1, s2 = jmul(al0, al1, al2, al0, al1, al2)
            f0, f1, f2 = jmul(f0, f1, f2, s0, s1, s2)
            if family == HEUN:
                g0 += c[k, PRE]
            g0, g1, g2 = jmul(g0, g1, g2, s0, s1, s2)
            if family == LINEAR:
                g0 += c[k, NOISE]
        if family == MULTISTEP:
            f0, f1, f2 = jmul(f0, f1, f2, f0, f1, f2)
        out[i, 0], out[i, 1], out[i, 2], out[i, 3], out[i, 4], out[i, 5] = f0, f1, f2, g0, g1, g2


# ------------------------------------------------------------------------------------------- the law's scans
# Generic over schemes (:mod:`.law`): the recursion over the steps once the step maps are known, per eigenvalue.

@numba.njit(cache=True, nogil=True, error_model="numpy")
def scan_single(a, b, P, Q):
    """One live quantity: P <- a P, Q <- a Q + b over the steps (a = m_k^2, b = |n_k|^2, shape (K, n)); from P = 1,
    Q = 0."""
    K, n = a.shape
    for i in range(n):
        p, q = 1.0, 0.0
        for k in range(K):
            p *= a[k, i]
            q = a[k, i] * q + b[k, i]
        P[i], Q[i] = p, q


@numba.njit(cache=True, nogil=True, error_model="numpy")
def scan_single_jets(a, b, out):
    """The same with derivatives: ``a``, ``b`` ``(3, K, n)`` (value, first, second), ``out`` ``(n, 6)`` = (P, P', P'',
    Q, Q', Q'')."""
    K, n = a.shape[1], a.shape[2]
    for i in range(n):
        p0, p1, p2, q0, q1, q2 = 1.0, 0.0, 0.0, 0.0, 0.0, 0.0
        for k in range(K):
            a0, a1, a2 = a[0, k, i], a[1, k, i], a[2, k, i]
            p0, p1, p2 = jmul(p0, p1, p2, a0, a1, a2)
            q0, q1, q2 = jmul(q0, q1, q2, a0, a1, a2)
            q0, q1, q2 = q0 + b[0, k, i], q1 + b[1, k, i], q2 + b[2, k, i]
        out[i, 0], out[i, 1], out[i, 2], out[i, 3], out[i, 4], out[i, 5] = p0, p1, p2, q0, q1, q2


@numba.njit(cache=True, nogil=True, error_model="numpy")
def scan_amplitudes_jets(M, out):
    """Deterministic schemes: amplitudes Y <- M_k Y from Y = e_0, with derivatives; ``M`` ``(3, ell, ell, K, n)``,
    ``out`` ``(n, 3)`` = Y_0 and its two derivatives (values only: pass zero derivatives)."""
    ell, K, n = M.shape[1], M.shape[3], M.shape[4]
    y = np.zeros((3, ell))
    z = np.zeros((3, ell))
    for i in range(n):
        y[:, :] = 0.0
        y[0, 0] = 1.0
        for k in range(K):
            for a in range(ell):
                s0, s1, s2 = 0.0, 0.0, 0.0
                for b in range(ell):
                    t0, t1, t2 = jmul(M[0, a, b, k, i], M[1, a, b, k, i], M[2, a, b, k, i], y[0, b], y[1, b], y[2, b])
                    s0, s1, s2 = s0 + t0, s1 + t1, s2 + t2
                z[0, a], z[1, a], z[2, a] = s0, s1, s2
            y[:, :] = z
        out[i, 0], out[i, 1], out[i, 2] = y[0, 0], y[1, 0], y[2, 0]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def scan_amplitudes(M, out):
    """Values only: amplitudes Y <- M_k Y from Y = e_0; ``M`` ``(ell, ell, K, n)``, ``out`` ``(n,)`` = Y_0."""
    ell, K, n = M.shape[0], M.shape[2], M.shape[3]
    y = np.zeros(ell)
    z = np.zeros(ell)
    for i in range(n):
        y[:] = 0.0
        y[0] = 1.0
        for k in range(K):
            for a in range(ell):
                s = 0.0
                for b in range(ell):
                    s += M[a, b, k, i] * y[b]
                z[a] = s
            y[:] = z
        out[i] = y[0]
