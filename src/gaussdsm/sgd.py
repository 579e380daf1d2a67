"""Constant-step SGD on the denoising score-matching loss (theory.md §2 step 2, R6, R6a, R6b, R11, §7.1).

Per-sample loss with :math:`c = c_\\ell` (``loss_factor``) and the linear denoiser
:math:`D_\\sigma(y; \\theta) = \\theta y`:

.. math:: \\ell(\\theta; x, w) = c\\,\\|x - \\theta(x + \\sigma w)\\|^2 .

One SGD step with a mini-batch of ``B`` pairs :math:`(x_b, w_b)`, :math:`x_b`
drawn uniformly **with replacement** from the training set and fresh
:math:`w_b \\sim \\mathcal N(0, I)`, :math:`y_b = x_b + \\sigma w_b`,
:math:`r_b = \\theta y_b - x_b`:

.. math:: \\theta \\leftarrow \\theta - \\frac{2c\\tau}{B}\\sum_{b=1}^{B} r_b\\,y_b^\\top

(the B per-sample gradients are averaged; samples of one mini-batch all see
the same :math:`\\theta`).  With ``diagonal=True`` only the diagonal of θ is
trained (R11): :math:`\\theta_i \\leftarrow \\theta_i - \\frac{2c\\tau}{B}\\sum_b(\\theta_i y_{b,i} - x_{b,i})\\,y_{b,i}`;
``X`` must then be expressed in the eigen/Fourier basis.

Stationary law (R6): :math:`\\mathbb E\\,\\theta_\\infty = \\hat\\theta = \\hat\\Sigma(\\hat\\Sigma + \\sigma^2 I)^{-1}`
exactly (R6a); entry variances :math:`q_{ik}` are
:func:`gaussdsm.theory.sgd_entry_variance` (R6b, §7.1 note 3; diagonal model §7.1 note 2).

Engine (full model)
-------------------
A plain per-sample loop runs at a few GFLOP/s.  :func:`fit_sgd` advances θ by
blocks of ``m`` mini-batch steps exactly, with level-3 BLAS.  Stack the
``n = mB`` samples of a block as columns, :math:`Y = [y_1..y_n]`,
:math:`X_b = [x_1..x_n]` (d×n), write :math:`\\kappa = 2c\\tau/B`, :math:`t(j)` the
mini-batch of sample j, and :math:`P = \\theta_0 Y - X_b`.  Since
:math:`\\theta_{t(j)-1} = \\theta_0 - \\kappa\\sum_{i:\\,t(i)<t(j)} r_i y_i^\\top`,

.. math:: r_j = p_j - \\kappa\\sum_{i:\\,t(i) < t(j)} r_i\\,(y_i^\\top y_j)
    \\iff R\\,(I + \\kappa U) = P,\\qquad
    \\theta_m = \\theta_0 - \\kappa\\,R\\,Y^\\top,

with :math:`U_{ij} = y_i^\\top y_j` if :math:`t(i) < t(j)` and 0 otherwise
(strictly upper triangular; for ``B = 1`` the strict upper triangle of
:math:`Y^\\top Y`, for ``B > 1`` the same with the diagonal B×B blocks zeroed).
:math:`M = (I + \\kappa U)^{-1}` is unit upper triangular and costs :math:`n^3/6`
multiply-adds; :math:`R = PM` is then a GEMM (a ``dtrsm`` gives the same to rounding, but ran at
a fraction of GEMM speed on these small triangles).  The block loop is compiled (numba,
:func:`_full_blocks`) and calls scipy's BLAS directly (:mod:`gaussdsm._blas`): GEMM for
:math:`\\theta_0 Y`, ``dsyrk`` for :math:`Y^\\top Y`, GEMM for :math:`R` and for the update;
the noise is drawn inside the loop (:mod:`gaussdsm.ziggurat`).  Cost per sample:
:math:`4d^2` (θY and the update) plus :math:`\\approx 3nd + n^2/3` (:math:`Y^\\top Y`, :math:`PM`
and M), with ``n`` samples per block (:func:`default_block`).

Engine (diagonal model)
-----------------------
Each coordinate follows the scalar affine recursion
:math:`\\theta_{t+1} = a_t\\theta_t + b_t` with
:math:`a_t = 1 - \\kappa\\sum_b y_{b,i}^2`, :math:`b_t = \\kappa\\sum_b x_{b,i}y_{b,i}`;
a block of m steps is
:math:`\\theta_m = (\\prod_t a_t)\\theta_0 + \\sum_t b_t\\prod_{s>t}a_s`, evaluated
with reversed cumulative products (no divisions, so no 0/0; underflow of a
suffix product only drops a contribution that is below 1e-300 anyway).

Random streams
--------------
All randomness of replicate ``r`` comes from ``rngs[r]``, in this order:

1. ``words = rngs[r].integers(2**63, size=4)`` (4 draws, once per call);
   ``s_idx, s_noise = SeedSequence(words).spawn(2)``, ``idx_rng = default_rng(s_idx)``,
   ``noise = gaussdsm.ziggurat.NormalStream(s_noise)``;
2. the indices of the samples, in step order, are
   ``min(floor(idx_rng.random() * N), N - 1)``;
3. the noise vectors, in step order, are rows of ``noise.standard_normal((k, d))``
   (numpy's ziggurat algorithm on numpy's SFC64 words, compiled: 3–5× faster than
   ``Generator.standard_normal``, which was a third of the engine's time at d = 128);
   mini-batch step ``t`` uses samples ``tB .. tB + B - 1``.

Both child streams are consumed one double / one normal at a time, so the
numbers do not depend on how draws are chunked: the block size, the batching
of replicates and :func:`fit_sgd_reference` (one step at a time) all see the
same samples.  Replicate ``r``'s result depends only on ``X[r]`` and ``rngs[r]``.

Schedule and divergence
-----------------------
Per replicate, with :math:`s_{\\min}` the smallest eigenvalue of :math:`\\hat\\Sigma + \\sigma^2 I`
(diagonal model: :math:`\\min_i \\hat\\mu_i + \\sigma^2`) the slowest relaxation rate of the mean is
:math:`2c\\tau s_{\\min}` per step (R6; the variance relaxes twice as fast, §7.3 note 11):

* ``burn_in = ceil(burn_in_factor / (2 c tau s_min))``,
* ``spacing = ceil(spacing_factor / (2 c tau s_min))``,
* snapshot j (j = 0..n_snapshots-1) is the iterate after ``burn_in + j * spacing`` steps,
* ``n_steps = burn_in + (n_snapshots - 1) * spacing`` (one step = one mini-batch).

The schedule is per replicate (it depends on that replicate's :math:`\\hat\\Sigma`), so that
replicate r's numbers do not depend on the other replicates of the call.

A replicate is flagged ``diverged`` (θ all NaN, never an exception) if

* its second moments are predicted unbounded: full model,
  :func:`gaussdsm.theory.sgd_is_stable` evaluated at the eigenvalues of :math:`\\hat\\Sigma`
  (the Gaussian-sampling criterion of R6b/§7.1, exact for population sampling, O(N^{-1/2})
  approximate for sampling from the N-point set); diagonal model, the exact mean-square
  criterion for sampling from the N-point set, :math:`\\mathbb E[a_t^2] < 1`, i.e.
  :math:`\\kappa(m_4 + (B-1)m_2^2) < 2m_2` with :math:`m_2 = \\hat\\mu_i + \\sigma^2`,
  :math:`m_4 = \\frac1N\\sum_n x_{n,i}^4 + 6\\sigma^2\\hat\\mu_i + 3\\sigma^4` (this reduces to
  :math:`(B+2)c\\tau s_i < B` of §7.1 for Gaussian fourth moments); such replicates are not run;
* or its θ becomes non-finite or exceeds :data:`EXPLODE` in absolute value during the run
  (checked after every chunk of draws — about 2**20 noise numbers for the full model, 2**15
  for the diagonal one — and at every snapshot).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from . import _checks
from ._blas import gemm, syrk
from .dsm import empirical_covariance, fit_exact_from_cov
from .theory import sgd_is_stable
from .ziggurat import NO_WORDS, TABLES, NormalStream, fill_normals

_N, _T, _U = (ord(c) for c in "NTU")

__all__ = ["SGDResult", "SGDPlan", "fit_sgd", "fit_sgd_reference", "default_block", "EXPLODE"]

EXPLODE = 1e6
"""A replicate whose :math:`\\max|\\theta_{ik}|` exceeds this is flagged diverged (stable runs stay O(1))."""

SGD_INITS = ("exact", "zero")
_CHUNK_SAMPLES = 32768  # diagonal engine: random numbers (samples x d) drawn per numpy call, ~256 kB arrays
_CHUNK_FULL = 2**20  # full engine: noise numbers (samples x d) per compiled call (then a divergence check)


@dataclass
class SGDResult:
    """Output of :func:`fit_sgd`.

    Attributes
    ----------
    theta : ndarray, shape ``(R, n_snapshots, d, d)``
        Stationary snapshots of the denoiser matrix.  For ``diagonal=True`` the
        matrices are diagonal (zero off-diagonal, like :func:`gaussdsm.dsm.fit_exact`).
        All NaN for a diverged replicate.
    diverged : ndarray of bool, shape ``(R,)``
    n_steps : ndarray of int, shape ``(R,)``
        Total mini-batch steps of each replicate's schedule (``burn_in + (n_snapshots-1) * spacing``);
        scheduled value also for diverged replicates.
    burn_in : ndarray of int, shape ``(R,)``
    spacing : ndarray of int, shape ``(R,)``
    """

    theta: np.ndarray
    diverged: np.ndarray
    n_steps: np.ndarray
    burn_in: np.ndarray
    spacing: np.ndarray

    @property
    def n_diverged(self) -> int:
        return int(np.count_nonzero(self.diverged))


def default_block(d: int, batch_size: int = 1) -> int:
    """Default number of mini-batch steps per engine block (tuned with ``benchmarks/bench_sgd.py``).

    ``n = min(32, max(24, d // 4))`` samples per block, i.e. ``ceil(n / B)`` steps: the extra
    triangular work (YᵀY and the couplings, ~``3nd`` flops per sample against ``4d²``) grows with
    n, while GEMMs with few columns run below their peak.  Measured on one core, all sizes in one
    process (benchmarks/README.md): the optimum is flat within the noise between 16 and 32 samples
    at d = 64, between 24 and 48 at d = 128 and between 24 and 64 at d = 256.
    """
    samples = int(min(32, max(24, d // 4)))
    return max(1, -(-samples // int(batch_size)))


# ----------------------------------------------------------------------------- the plan of a call


@dataclass(frozen=True)
class SGDPlan:
    """Everything a :func:`fit_sgd` call runs, validated: the data, the steps and each replicate's schedule.

    Attributes
    ----------
    X : ndarray, shape ``(R, N, d)``
    sigma, tau, loss_factor : float
    n_snapshots, batch_size : int
    kappa : float
        :math:`2c\\tau/B`, the step on θ per mini-batch (module docstring).
    rngs : tuple of numpy.random.Generator, length R
    stable : ndarray of bool, shape ``(R,)``
        Finite stationary second moments predicted (replicates predicted unstable are not run).
    burn_in, spacing, n_steps : ndarray of int, shape ``(R,)``
        Per-replicate schedule (module docstring).
    theta0 : ndarray, shape ``(R, d, d)``
        Start of each chain.
    diagonal : bool
    """

    X: np.ndarray
    sigma: float
    tau: float
    loss_factor: float
    n_snapshots: int
    batch_size: int
    kappa: float
    rngs: tuple
    stable: np.ndarray
    burn_in: np.ndarray
    spacing: np.ndarray
    n_steps: np.ndarray
    theta0: np.ndarray
    diagonal: bool


def _plan(X, sigma, tau, rngs, n_snapshots, batch_size, loss_factor, burn_in_factor, spacing_factor, init,
          diagonal, max_steps) -> SGDPlan:
    X = np.asarray(X, dtype=float)
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or min(X.shape) < 1:
        raise ValueError(f"X must have shape (R, N, d) or (N, d) with R, N, d >= 1, got {np.shape(X)}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite")
    R, N, d = X.shape
    sigma = _checks.number("sigma", sigma, gt=0)
    tau = _checks.number("tau", tau, gt=0)
    loss_factor = _checks.number("loss_factor", loss_factor, gt=0)
    burn_in_factor = _checks.number("burn_in_factor", burn_in_factor, ge=0)
    spacing_factor = _checks.number("spacing_factor", spacing_factor, gt=0)
    n_snapshots = _checks.integer("n_snapshots", n_snapshots)
    batch_size = _checks.integer("batch_size", batch_size)
    max_steps = _checks.integer("max_steps", max_steps)
    if isinstance(rngs, np.random.Generator):
        rngs = [rngs]
    rngs = tuple(rngs)
    if len(rngs) != R or not all(isinstance(g, np.random.Generator) for g in rngs):
        raise ValueError(f"rngs must be a list of {R} numpy Generators (one per replicate), got {len(rngs)} items")

    # per replicate: X may be a broadcast view of one training set (independent chains), avoid (R, N, d) temporaries
    cov = np.stack([empirical_covariance(X[r]) for r in range(R)])
    if diagonal:
        ev = None
        s_min = np.diagonal(cov, axis1=-2, axis2=-1).min(axis=-1) + sigma**2
    else:
        ev = np.clip(np.linalg.eigvalsh(cov), 0.0, None)
        s_min = ev[:, 0] + sigma**2
    stable = _predicted_stable(X, cov, sigma, tau, loss_factor, batch_size, diagonal, ev)

    rate = 2.0 * loss_factor * tau * s_min
    burn_in = np.array([math.ceil(burn_in_factor / r) for r in rate], dtype=np.int64)
    spacing = np.array([max(1, math.ceil(spacing_factor / r)) for r in rate], dtype=np.int64)
    n_steps = burn_in + (n_snapshots - 1) * spacing
    too_long = stable & (n_steps > max_steps)
    if np.any(too_long):
        r = int(np.argmax(too_long))
        raise ValueError(
            f"SGD schedule needs {int(n_steps[r])} steps (burn_in {int(burn_in[r])} + "
            f"{n_snapshots - 1} x spacing {int(spacing[r])}) for replicate {r}, above max_steps={max_steps}; "
            "raise max_steps, tau, or lower burn_in_factor/spacing_factor/n_snapshots"
        )

    if isinstance(init, str):
        _checks.choice("init", init, SGD_INITS)
        theta0 = fit_exact_from_cov(cov, sigma, diagonal=diagonal) if init == "exact" else np.zeros((R, d, d))
    else:
        theta0 = np.asarray(init, dtype=float)
        if theta0.shape == (d, d):
            theta0 = np.broadcast_to(theta0, (R, d, d))
        if theta0.shape != (R, d, d) or not np.all(np.isfinite(theta0)):
            raise ValueError(f"init array must be finite with shape ({d}, {d}) or ({R}, {d}, {d}), got {theta0.shape}")
        if diagonal:
            theta0 = np.diagonal(theta0, axis1=-2, axis2=-1)[..., None] * np.eye(d)
    return SGDPlan(X=X, sigma=sigma, tau=tau, loss_factor=loss_factor, n_snapshots=n_snapshots,
                   batch_size=batch_size, kappa=2.0 * loss_factor * tau / batch_size, rngs=rngs, stable=stable,
                   burn_in=burn_in, spacing=spacing, n_steps=n_steps, theta0=theta0, diagonal=bool(diagonal))


def _predicted_stable(X, cov, sigma, tau, loss_factor, batch_size, diagonal, ev=None) -> np.ndarray:
    """Per replicate: are the stationary second moments finite? (module docstring, R6b, §7.1).

    ``ev``: the eigenvalues of ``cov`` (full model), if the caller already has them.
    """
    if diagonal:
        mu = np.diagonal(cov, axis1=-2, axis2=-1)
        kappa = 2.0 * loss_factor * tau / batch_size
        m2 = mu + sigma**2
        m4 = np.stack([np.mean(x**4, axis=0) for x in X]) + 6.0 * sigma**2 * mu + 3.0 * sigma**4
        return np.all(kappa * (m4 + (batch_size - 1) * m2**2) < 2.0 * m2, axis=-1)
    if ev is None:
        ev = np.clip(np.linalg.eigvalsh(cov), 0.0, None)
    return np.array([bool(sgd_is_stable(e, sigma, tau, loss_factor, batch_size, "full")) for e in ev], dtype=bool)


def _child_streams(rng: np.random.Generator):
    """``(idx_rng, noise)``: the two child streams of one replicate (module docstring)."""
    words = rng.integers(2**63, size=4)
    s_idx, s_noise = np.random.SeedSequence([int(w) for w in words]).spawn(2)
    return np.random.default_rng(s_idx), NormalStream(s_noise)


def _draw_indices(idx_rng, N, n):
    """Next ``n`` sample indices: ``min(floor(u N), N - 1)``, ``u = idx_rng.random()``."""
    idx = (idx_rng.random(n) * N).astype(np.intp)
    np.minimum(idx, N - 1, out=idx)
    return idx


def _draw(idx_rng, noise, X, n, sigma):
    """Next ``n`` samples of the stream: ``(x, y)`` of shape ``(n, d)``."""
    N, d = X.shape
    xb = X[_draw_indices(idx_rng, N, n)]
    y = noise.standard_normal((n, d))
    y *= sigma
    y += xb
    return xb, y


# ----------------------------------------------------------------------------- engine blocks


@numba.njit(cache=True, nogil=True)
def _coupling_inverse(G, n, B, kappa, M):
    """``M = (I + κU)^{-1}`` (n×n, column-major), U the strict upper triangle of ``G`` with the B×B diagonal blocks zeroed.

    ``I + κU`` is unit upper triangular, so is M; its columns follow from ``M (I + κU) = I``:
    :math:`M_{:,j} = e_j - \\kappa\\sum_{k<j} U_{kj} M_{:,k}` (n³/6 multiply-adds, axpys on
    contiguous columns).
    """
    for j in range(n):
        col = j * n
        for i in range(n):
            M[col + i] = 0.0
        M[col + j] = 1.0
        for k in range(j - j % B):  # samples of earlier mini-batches only
            a = kappa * G[col + k]
            for i in range(k + 1):
                M[col + i] -= a * M[k * n + i]


@numba.njit(cache=True, nogil=True)
def _full_blocks(th, X, idx, state, y_given, sigma, kappa, m, B, block, ki, wi, fi):
    """Advance the full θ by m mini-batch steps, ``block`` steps at a time, exactly (module docstring).

    ``th``: θ as a flat column-major (d·d) array, updated in place.  ``X`` (N, d); ``idx`` the
    m·B sample indices.  The noise comes from the ziggurat stream ``state`` (advanced), unless
    ``y_given`` (m·B, d) holds the y's (benchmark of the arithmetic alone).

    Everything is computed transposed, so that each sample is a contiguous column: ``Tt`` holds
    :math:`\\theta^\\top` (d×d), ``Y`` the block's n samples as columns (d×n).  Per block:
    GEMM :math:`C = Y^\\top\\theta^\\top = (\\theta Y)^\\top` (n×d), then
    :math:`P^\\top = C - X_b^\\top`; ``dsyrk`` :math:`G = Y^\\top Y` (upper triangle);
    :math:`M = (I + \\kappa U)^{-1}` (:func:`_coupling_inverse`); GEMM
    :math:`D = -\\kappa M^\\top P^\\top = -\\kappa R^\\top`; GEMM :math:`\\theta^\\top \\mathrel{+}= Y D`.
    The explicit inverse plus a GEMM replaces a ``dtrsm`` (same result to rounding), which ran
    at a fraction of GEMM speed on these small triangles.
    """
    d = X.shape[1]
    nmax = block * B
    Tt = np.empty(d * d)
    Y = np.empty(d * nmax)
    C = np.empty(nmax * d)
    D = np.empty(nmax * d)
    G = np.empty(nmax * nmax)
    M = np.empty(nmax * nmax)
    for k in range(d):  # Tt = θ^T
        for i in range(d):
            Tt[i * d + k] = th[k * d + i]
    generate = y_given.shape[0] == 0
    for t0 in range(0, m, block):
        n = min(block, m - t0) * B
        s0 = t0 * B
        if generate:  # the noise straight into Y's columns, then y = sigma w + x
            fill_normals(NO_WORDS, state, Y[: n * d], ki, wi, fi)
            for j in range(n):
                row = idx[s0 + j]
                for k in range(d):
                    Y[j * d + k] = sigma * Y[j * d + k] + X[row, k]
        else:
            for j in range(n):
                for k in range(d):
                    Y[j * d + k] = y_given[s0 + j, k]
        gemm(_T, _N, n, d, d, 1.0, Y, d, Tt, d, 0.0, C, n)  # C (n x d, ld n) = Y^T θ^T
        for j in range(n):
            row = idx[s0 + j]
            for k in range(d):
                C[k * n + j] -= X[row, k]
        syrk(_U, _T, n, d, 1.0, Y, d, 0.0, G, n)  # upper triangle of Y^T Y
        _coupling_inverse(G, n, B, kappa, M)
        gemm(_T, _N, n, d, n, -kappa, M, n, C, n, 0.0, D, n)  # D = -κ M^T P^T
        gemm(_N, _N, d, d, n, 1.0, Y, d, D, n, 1.0, Tt, d)  # θ^T += Y D
    for k in range(d):
        for i in range(d):
            th[k * d + i] = Tt[i * d + k]


_NO_Y = np.empty((0, 0))


def _advance_full(block):
    """Advance the full θ (d×d, Fortran order, in place) by m steps with the compiled engine."""

    def advance(theta, Xr, idx_rng, noise, m, B, kappa, sigma):
        idx = _draw_indices(idx_rng, Xr.shape[0], m * B)
        _full_blocks(theta.ravel(order="F"), Xr, idx, noise.state, _NO_Y, sigma, kappa, m, B, block, *TABLES)
        return theta

    return advance


def _block_diag(theta_d, xb, y, m, B, kappa):
    """Advance the diagonal θ (vector of d) by the m mini-batch steps of ``(xb, y)``, exactly (scalar affine recursions)."""
    d = y.shape[1]
    a = 1.0 - kappa * (y * y).reshape(m, B, d).sum(axis=1)
    b = kappa * (xb * y).reshape(m, B, d).sum(axis=1)
    if m == 1:
        return a[0] * theta_d + b[0]
    P = np.cumprod(a[::-1], axis=0)  # P[j] = prod_{s = m-1-j}^{m-1} a_s
    # theta_m = (prod_all a) theta0 + b_{m-1} + sum_{t<m-1} b_t prod_{s>t} a_s ; prod_{s>t} a_s = P[m-2-t]
    return P[-1] * theta_d + b[-1] + np.einsum("jd,jd->d", b[-2::-1], P[:-1])


def _advance_diag(block):
    """Advance the diagonal θ by m steps: draw the m steps' samples at once, compute in blocks of ``block`` steps."""

    def advance(theta, Xr, idx_rng, noise, m, B, kappa, sigma):
        xb, y = _draw(idx_rng, noise, Xr, m * B, sigma)
        for t0 in range(0, m, block):
            t1 = min(m, t0 + block)
            theta = _block_diag(theta, xb[t0 * B : t1 * B], y[t0 * B : t1 * B], t1 - t0, B, kappa)
        return theta

    return advance


# ----------------------------------------------------------------------------- reference steps


def _steps_reference(theta, X, idx_rng, noise, m, B, kappa, sigma, diagonal):
    """m plain SGD steps, one mini-batch at a time (the slow reference)."""
    for _ in range(m):
        xb, y = _draw(idx_rng, noise, X, B, sigma)
        if diagonal:
            theta = theta - kappa * np.sum((theta * y - xb) * y, axis=0)
        else:
            grad = np.zeros_like(theta)
            for b in range(B):
                r = theta @ y[b] - xb[b]
                grad += np.outer(r, y[b])
            theta = theta - kappa * grad
    return theta


# ----------------------------------------------------------------------------- driver


def _run(plan: SGDPlan, advance, chunk) -> SGDResult:
    """Run every predicted-stable replicate of ``plan`` with ``advance`` (engine or reference), checking for
    blow-up every ``chunk`` steps and at every snapshot."""
    X, B, kappa, sigma = plan.X, plan.batch_size, plan.kappa, plan.sigma
    R, N, d = X.shape
    theta_out = np.full((R, plan.n_snapshots, d, d), np.nan)
    diverged = ~plan.stable
    eye = np.eye(d)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for r in range(R):
            if diverged[r]:
                continue
            idx_rng, noise = _child_streams(plan.rngs[r])
            Xr = np.ascontiguousarray(X[r])
            theta0 = plan.theta0[r]
            theta = np.diagonal(theta0).copy() if plan.diagonal else np.array(theta0, dtype=float, order="F")
            step = 0
            for j in range(plan.n_snapshots):
                target = int(plan.burn_in[r] + j * plan.spacing[r])
                while step < target:
                    m = min(chunk, target - step)
                    theta = advance(theta, Xr, idx_rng, noise, m, B, kappa, sigma)
                    step += m
                    if not np.max(np.abs(theta)) < EXPLODE:  # also catches NaN
                        diverged[r] = True
                        break
                if diverged[r]:
                    theta_out[r] = np.nan
                    break
                theta_out[r, j] = theta * eye if plan.diagonal else theta
    return SGDResult(theta=theta_out, diverged=diverged, n_steps=plan.n_steps, burn_in=plan.burn_in,
                     spacing=plan.spacing)


def fit_sgd(X, sigma, tau, rngs, *, n_snapshots=1, batch_size=1, loss_factor=1.0, burn_in_factor=5.0,
            spacing_factor=1.0, init="exact", diagonal=False, block=None, max_steps=50_000_000) -> SGDResult:
    """Stationary snapshots of constant-step SGD on the per-sample DSM loss (theory.md §2 step 2, R6).

    Update, with :math:`\\kappa = 2c\\tau/B`, :math:`y_b = x_b + \\sigma w_b`:

    .. math:: \\theta \\leftarrow \\theta - \\kappa\\sum_{b=1}^{B}(\\theta y_b - x_b)\\,y_b^\\top

    (diagonal model R11: the same on the diagonal only).  The stationary mean is
    :math:`\\hat\\theta = \\hat\\Sigma(\\hat\\Sigma + \\sigma^2 I)^{-1}` (R6a) and the entry variances are
    :func:`gaussdsm.theory.sgd_entry_variance` (R6b, §7.1).  Computed exactly by blocks of
    mini-batch steps with level-3 BLAS (module docstring); bit-for-bit the same random stream as
    :func:`fit_sgd_reference`.  Pin BLAS threads in the caller (``threadpoolctl``) if needed.

    Parameters
    ----------
    X : array_like, shape ``(R, N, d)`` or ``(N, d)``
        One training set per replicate (``(N, d)`` means ``R = 1``).  For ``diagonal=True``,
        in the eigen/Fourier basis.
    sigma : float
        Noise amplitude, ``> 0``.
    tau : float
        Constant SGD step, ``> 0``.
    rngs : list of numpy.random.Generator, length R (or one Generator if R = 1)
        Replicate r's randomness comes from ``rngs[r]`` only (order: module docstring).
        Make them with :func:`gaussdsm.montecarlo.replicate_rngs`.
    n_snapshots : int, ``>= 1``
        Iterates returned per replicate, ``spacing`` steps apart after ``burn_in`` steps.
    batch_size : int, ``>= 1``
        Mini-batch size B (gradients averaged).
    loss_factor : float, ``> 0``
        :math:`c_\\ell` in :math:`\\ell = c_\\ell\\|x - \\theta y\\|^2`.
    burn_in_factor : float, ``>= 0``
        ``burn_in = ceil(burn_in_factor / (2 c tau s_min))``.  The default 5 suits
        ``init="exact"`` (only the fluctuation must mix: variance relaxes as
        :math:`e^{-2\\cdot 5}`); with ``init="zero"`` the mean relaxes from 0 as
        :math:`e^{-\\text{factor}}`, so use ~20 or more.
    spacing_factor : float, ``> 0``
        ``spacing = ceil(spacing_factor / (2 c tau s_min))``: lag-``spacing`` correlation of
        the slowest entry is about :math:`e^{-\\text{spacing\\_factor}}`.
    init : {"exact", "zero"} or array_like, shape ``(d, d)`` or ``(R, d, d)``
        Start: the exact minimiser :math:`\\hat\\theta` of each training set (default; valid
        since :math:`\\mathbb E\\theta_\\infty = \\hat\\theta`, R6a, §7.3 note 11), zero, or given
        (with ``diagonal=True`` only the diagonal of a given array is used).
    diagonal : bool
        Train only the diagonal (R11).
    block : int or None
        Mini-batch steps per engine block (None: :func:`default_block`).  Does not change results
        beyond rounding.
    max_steps : int
        Upper bound on ``n_steps`` of any (predicted-stable) replicate.

    Returns
    -------
    SGDResult
        ``theta (R, n_snapshots, d, d)``, ``diverged (R,)``, ``n_steps``, ``burn_in``,
        ``spacing`` (each ``(R,)`` int: per-replicate schedules).

    Raises
    ------
    ValueError
        Invalid parameter (message names it and its allowed range), or a schedule longer
        than ``max_steps``.  Divergence never raises: it sets ``diverged``.
    """
    plan = _plan(X, sigma, tau, rngs, n_snapshots, batch_size, loss_factor, burn_in_factor, spacing_factor, init,
                 diagonal, max_steps)
    d, B = plan.X.shape[-1], plan.batch_size
    if block is None:
        block = max(1, _CHUNK_SAMPLES // (B * d)) if diagonal else default_block(d, B)
    else:
        block = _checks.integer("block", block)
    if diagonal:
        chunk = block * max(1, -(-_CHUNK_SAMPLES // (block * B * d)))
        advance = _advance_diag(block)
    else:
        chunk = block * max(1, -(-_CHUNK_FULL // (block * B * d)))
        advance = _advance_full(block)
    return _run(plan, advance, chunk)


def fit_sgd_reference(X, sigma, tau, rngs, *, n_snapshots=1, batch_size=1, loss_factor=1.0, burn_in_factor=5.0,
                      spacing_factor=1.0, init="exact", diagonal=False, max_steps=50_000_000) -> SGDResult:
    """Slow reference for :func:`fit_sgd`: a plain step-by-step loop (for tests and benchmarks).

    Same parameters, schedule, divergence rules and random stream (drawn one mini-batch at a
    time); each step computes :math:`r_b = \\theta y_b - x_b` and
    :math:`\\theta \\leftarrow \\theta - \\frac{2c\\tau}{B}\\sum_b r_b y_b^\\top` with ``np.outer``.
    Divergence is checked at snapshots only.
    """

    def advance(theta, Xr, idx_rng, noise, m, B, kappa, sigma):
        return _steps_reference(theta, Xr, idx_rng, noise, m, B, kappa, sigma, diagonal)

    plan = _plan(X, sigma, tau, rngs, n_snapshots, batch_size, loss_factor, burn_in_factor, spacing_factor, init,
                 diagonal, max_steps)
    return _run(plan, advance, chunk=2**62)
