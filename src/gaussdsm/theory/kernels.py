"""The error expansion for any sampler, from its variance map (samplers.md §3; theory.md R7 with f -> F, §7.3 note 14).

With :math:`F` the sampler's variance map (:mod:`gaussdsm.samplers`), :math:`F_i = F(\\lambda_i)` and
:math:`D_i = F_i - \\lambda_i` its deviation (computed by the sampler without cancellation):

* bias (N = ∞): :math:`\\mathcal B = \\sum_i (\\sqrt{F_i} - \\sqrt{\\lambda_i})^2 = \\sum_i D_i^2 / (\\sqrt{F_i} + \\sqrt{\\lambda_i})^2`;
* generalization, first order in 1/N:

  .. math::

      K_F(i,k) = \\kappa_{ik}\\lambda_i\\lambda_k\\Big[\\Big(1 - \\sqrt{\\tfrac{\\lambda_i}{F_i}}\\Big) F^{[2]}(\\lambda_i,\\lambda_k,\\lambda_i)
          + \\sqrt{\\tfrac{\\lambda_i\\lambda_k}{F_iF_k}}\\,\\frac{F^{[1]}(\\lambda_i,\\lambda_k)^2}{2(\\sqrt{\\lambda_iF_i} + \\sqrt{\\lambda_kF_k})}\\Big],

  :math:`\\mathbb E W_2^2 \\approx \\mathcal B + \\frac1N\\sum_{ik}K_F(i,k)`, with :math:`\\kappa_{ik} = 1 + \\delta_{ik}` (full
  model) or only :math:`i = k` with :math:`\\kappa_i = 2` (``diagonal`` model, real eigenbasis, R11) or the spectrum's
  :math:`\\kappa_i` (``fourier`` model, the convolutional denoiser: 1 for each direction of a conjugate pair, 2 for a
  self-conjugate frequency; R11, theory.md §7.3 note 13).

Divided differences come from the deviation and its derivatives (forward mode, exact):
:math:`F^{[1]}(a,b) = 1 + (D(b) - D(a))/(b - a)`, :math:`F^{[2]}(a,b,a) = (F^{[1]}(a,b) - F'(a))/(b - a)`, and for
:math:`|b - a| \\le 10^{-4}\\max(a, b)` (nearly equal eigenvalues; Fourier spectra repeat them exactly) their
Taylor forms :math:`F^{[1]} \\approx (F'(a) + F'(b))/2` and :math:`F^{[2]} \\approx F''(a)/3 + F''(b)/6` (errors
:math:`O(\\Delta^2)`; either branch is within ~1e-8 relative at the switch).  Terms with
:math:`\\lambda_i\\lambda_k = 0` are 0 (their limit).

The double sum runs in a compiled loop (O(d²) time, O(d) memory per grid point: no ``(grid, d, d)``
temporaries; grid points in parallel threads, :func:`_threads`); :func:`kernel_matrix` returns the matrix itself for figures.  Small problems -- at most
:data:`NUMPY_MAX_ELEMENTS` terms (grid points x d², or x d for the diagonal models) -- take the same arithmetic in
numpy, in blocks of at most :data:`NUMPY_BLOCK_ELEMENTS`: the loop's first call costs 0.6-0.7 s of numba import and
cache loading, more than the whole sum of a small study, while numpy's temporaries make it ~10x slower per term than
the loop; the two agree to rounding (tested).
"""

from __future__ import annotations

import numpy as np

from .. import _jet

__all__ = ["CLOSE", "variance_terms", "bias", "kernel_sums", "kernel_matrix", "kappa_factors"]

CLOSE = 1e-4
"""Relative gap below which two eigenvalues use the Taylor forms of the divided differences."""

NUMPY_MAX_ELEMENTS = 2**20
"""Up to this many terms (points x d² for the full model, points x d for the diagonal ones) the sum is computed in
numpy (~15 ms), above it by the compiled loop."""

NUMPY_BLOCK_ELEMENTS = 2**18
"""The numpy sum works on blocks of grid points of at most this many ``(point, i, k)`` elements."""


def variance_terms(lam, sigma, sampler, derivatives=True):
    """Per mode at :math:`\\mu = \\lambda`: ``F, D, D', D''`` (arrays of shape ``B + (d,)``) and ``stable`` (per mode).

    ``D = F - lam`` is the deviation; :math:`F' = 1 + D'`, :math:`F'' = D''`.  ``derivatives=False`` (the population
    score: no kernel) evaluates values only and returns ``None`` for ``D'`` and ``D''``.
    """
    lam = np.asarray(lam, dtype=float)
    shape = np.broadcast_shapes(sampler.shape, np.shape(sigma)) + lam.shape
    mu = np.broadcast_to(lam, shape)
    if not derivatives:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # unstable modes: flagged by `stable`
            F, D = sampler.terms(mu, sigma)
        stable = np.broadcast_to(sampler.stable(lam, sigma), shape)
        return np.broadcast_to(F, shape), np.broadcast_to(D, shape), None, None, stable
    F, D = sampler.terms(_jet.variable(mu), sigma)
    F = _jet.derivatives(F, shape)[0]
    D, D1, D2 = _jet.derivatives(D, shape)
    stable = np.broadcast_to(sampler.stable(lam, sigma), shape)
    return F, D, D1, D2, stable


def bias(lam, F, D) -> np.ndarray:
    """:math:`\\sum_i D_i^2/(\\sqrt{F_i} + \\sqrt{\\lambda_i})^2` over the last axis (0 where F = lam = 0)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a blown-up D gives inf: not valid
        den = (np.sqrt(F) + np.sqrt(lam)) ** 2
        return np.where(den > 0, D**2 / np.where(den > 0, den, 1.0), np.where(D == 0, 0.0, np.inf)).sum(axis=-1)


def _loops():
    """The compiled kernel loop (numba imported on first use only)."""
    import numba

    @numba.njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: SIMD where it can
    def kernel_loop(lam, kappa, F, D, D1, D2, diagonal, close, out_sum, out_matrix, want_matrix):
        P, d = F.shape
        r = np.empty(d)
        q = np.empty(d)
        for p in range(P):
            for k in range(d):  # sqrt(lam/F), sqrt(lam F) once per mode
                r[k] = np.sqrt(lam[k] / F[p, k]) if lam[k] > 0.0 else 0.0
                q[k] = np.sqrt(lam[k] * F[p, k]) if lam[k] > 0.0 else 0.0
            total = 0.0
            for i in range(d):
                li = lam[i]
                if li <= 0.0:
                    continue
                w = D[p, i] / (F[p, i] + q[i])  # 1 - sqrt(lam_i / F_i), no cancellation
                di, d1i, d2i = D[p, i], D1[p, i], D2[p, i]
                k0, k1 = (i, i + 1) if diagonal else (0, d)
                for k in range(k0, k1):
                    lk = lam[k]
                    if lk <= 0.0:
                        continue
                    gap = lk - li
                    if k == i or abs(gap) <= close * max(li, lk):
                        dd1 = 0.5 * (d1i + D1[p, k])
                        f2 = d2i / 3.0 + D2[p, k] / 6.0
                    else:
                        dd1 = (D[p, k] - di) / gap
                        f2 = (dd1 - d1i) / gap
                    f1 = 1.0 + dd1
                    val = li * lk * (w * f2 + r[i] * r[k] * f1 * f1 / (2.0 * (q[i] + q[k])))
                    if k == i:
                        val *= kappa[i]
                    total += val
                    if want_matrix:
                        out_matrix[p, i, k] = val
            out_sum[p] = total

    return kernel_loop


_LOOP = []


def _kernel_numpy(lam, kappa, F, D, D1, D2, diagonal, close, want_matrix):
    """The compiled loop's arithmetic in numpy: ``(sums (P,), matrix (P, d, d) or None)`` for ``F`` etc. ``(P, d)``."""
    P, d = F.shape
    pos = lam > 0.0
    sums = np.empty(P)
    mat = np.zeros((P, d, d)) if want_matrix else None
    per = d if diagonal else d * d
    step = max(1, NUMPY_BLOCK_ELEMENTS // per)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # unstable points: inf/NaN, as the loop
        for a in range(0, P, step):
            Fb, Db, D1b, D2b = (x[a : a + step] for x in (F, D, D1, D2))
            r = np.where(pos, np.sqrt(lam / Fb), 0.0)
            q = np.where(pos, np.sqrt(lam * Fb), 0.0)
            w = Db / (Fb + q)
            if diagonal:  # k = i only: the Taylor forms at a zero gap
                dd1 = 0.5 * (D1b + D1b)
                f2 = D2b / 3.0 + D2b / 6.0
                f1 = 1.0 + dd1
                val = lam * lam * (w * f2 + r * r * f1 * f1 / (2.0 * (q + q))) * kappa
                val = np.where(pos, val, 0.0)
                sums[a : a + step] = val.sum(axis=-1)
                if want_matrix:
                    idx = np.arange(d)
                    mat[a : a + step, idx, idx] = val
                continue
            li, lk = lam[:, None], lam[None, :]
            gap = lk - li
            near = (np.abs(gap) <= close * np.maximum(li, lk)) | np.eye(d, dtype=bool)
            dd1 = np.where(near, 0.5 * (D1b[:, :, None] + D1b[:, None, :]), (Db[:, None, :] - Db[:, :, None]) / gap)
            f2 = np.where(near, D2b[:, :, None] / 3.0 + D2b[:, None, :] / 6.0, (dd1 - D1b[:, :, None]) / gap)
            f1 = 1.0 + dd1
            val = li * lk * (w[:, :, None] * f2
                             + r[:, :, None] * r[:, None, :] * f1 * f1 / (2.0 * (q[:, :, None] + q[:, None, :])))
            val = val * np.where(np.eye(d, dtype=bool), kappa[:, None], 1.0)
            val = np.where(pos[:, None] & pos[None, :], val, 0.0)
            sums[a : a + step] = val.sum(axis=(-2, -1))
            if want_matrix:
                mat[a : a + step] = val
    return sums, mat


def _kappa(model, kappa, d):
    """R11's per-mode variance factor of the diagonal term: 2 (full and real-eigenbasis diagonal models) or the
    spectrum's ``kappa`` (``model='fourier'``: 1 per direction of a conjugate pair, 2 self-conjugate)."""
    if model != "fourier":
        return np.full(d, 2.0)
    if kappa is None:
        raise ValueError("model 'fourier' needs kappa: the spectrum's R11 factors (a stationary spectrum: "
                         "stationary_1d, stationary_2d or texture)")
    kappa = np.ascontiguousarray(kappa, dtype=float)
    if kappa.shape != (d,) or not np.all((kappa == 1) | (kappa == 2)):
        raise ValueError(f"kappa must hold d = {d} values, each 1 or 2; got shape {kappa.shape}")
    return kappa


kappa_factors = _kappa
"""R11's per-mode variance factors of a model (public name of :func:`_kappa`, for the metrics)."""


def _kernel(lam, F, D, D1, D2, model, want_matrix, kappa=None, engine=None):
    """``engine``: 'numpy' or 'loop' (default: numpy up to :data:`NUMPY_MAX_ELEMENTS` terms)."""
    lam = np.ascontiguousarray(lam, dtype=float)
    shape = F.shape
    d = lam.size
    F2, D_, D1_, D2_ = (np.ascontiguousarray(np.broadcast_to(x, shape).reshape(-1, d), dtype=float)
                        for x in (F, D, D1, D2))
    if engine is None:
        terms = F2.shape[0] * (d if model != "full" else d * d)
        engine = "numpy" if terms <= NUMPY_MAX_ELEMENTS else "loop"
    if engine == "numpy":
        sums, mat = _kernel_numpy(lam, _kappa(model, kappa, d), F2, D_, D1_, D2_, model != "full", CLOSE, want_matrix)
        return sums.reshape(shape[:-1]), (mat.reshape(shape + (d,)) if want_matrix else None)
    if not _LOOP:
        _LOOP.append(_loops())
    P = F2.shape[0]
    sums = np.zeros(P)
    mat = np.zeros((P, d, d)) if want_matrix else np.zeros((1, 1, 1))
    kap, diagonal = _kappa(model, kappa, d), model != "full"

    def run(a: int, b: int) -> None:  # points a..b-1: each point's sum is the same arithmetic whoever runs it
        _LOOP[0](lam, kap, F2[a:b], D_[a:b], D1_[a:b], D2_[a:b], diagonal, CLOSE, sums[a:b],
                 mat[a:b] if want_matrix else mat, want_matrix)

    n = _threads(P)
    if n == 1:
        run(0, P)
    else:  # the loop releases the GIL: grid points in parallel, the results bitwise those of one thread
        from concurrent.futures import ThreadPoolExecutor

        cuts = np.linspace(0, P, n + 1).astype(int)
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(run, cuts[:-1], cuts[1:]))
    return sums.reshape(shape[:-1]), (mat.reshape(shape + (d,)) if want_matrix else None)


def _threads(points: int) -> int:
    """Threads for the compiled loop over ``points`` grid points: the CPUs this process may use, at most the BLAS
    thread limit in force (a workflow job's ``threads``, set with threadpoolctl by :func:`gaussdsm.stages.job`)."""
    import os

    if points < 2:
        return 1
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        from threadpoolctl import threadpool_info

        limits = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # noqa: BLE001 -- no BLAS information: the CPUs alone
        limits = []
    return max(1, min([n, points, *limits]))


def kernel_sums(lam, F, D, D1, D2, model: str = "full", kappa=None) -> np.ndarray:
    """:math:`\\sum_{ik}K_F(i,k)` per grid point (shape ``B``) from the per-mode arrays of :func:`variance_terms`
    (O(d^2) time for the full model, O(d) for the diagonal ones; O(d) memory)."""
    return _kernel(lam, F, D, D1, D2, model, False, kappa)[0]


def kernel_matrix(lam, F, D, D1, D2, model: str = "full", kappa=None) -> np.ndarray:
    """The kernel :math:`K_F(i,k)`, shape ``B + (d, d)`` (diagonal models: zero off the diagonal)."""
    return _kernel(lam, F, D, D1, D2, model, True, kappa)[1]
