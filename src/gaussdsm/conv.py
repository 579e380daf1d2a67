r"""A local convolutional denoiser (``fit.model: conv``): a circular convolution by a filter supported on a
``K`` (1-D) or ``K x K`` (2-D) patch, learned by denoising score matching (Wang & Pehlevan, NeurIPS 2025,
arXiv 2503.03206 §5; Kamb & Ganguli 2024 on locality).

Data on a periodic grid with a stationary covariance: :math:`\Sigma` circulant with the power :math:`P(\omega)` at the
DFT frequencies (the spectrum's eigenvalues, placed on the grid by :attr:`gaussdsm.spectra.Spectrum.position`), its
autocovariance :math:`c(\delta) = \mathrm{IDFT}(P)(\delta)`.  At level :math:`(m, s)` (input :math:`y = mx + sz`) the
denoiser :math:`D(y)(p) = \sum_{\delta\in\mathcal P} w_\delta\,y(p - \delta)` over the patch offsets
:math:`\mathcal P` minimises the DSM loss, averaged over positions (weight sharing), at

.. math:: w^* = (m^2\Sigma_{\mathcal P} + s^2 I)^{-1} m\,\Sigma_{\mathcal P}e_0,\qquad
          (\Sigma_{\mathcal P})_{\delta\delta'} = c(\delta - \delta'),

:math:`e_0` the patch's centre.  By Tweedie the score is :math:`-(y - mD(y))/s^2`, the circular convolution by

.. math:: u = (e_0 - m w^*)/s^2 = (m^2\Sigma_{\mathcal P} + s^2 I)^{-1}e_0

(no cancellation; finite at :math:`s = 0` when :math:`\Sigma_{\mathcal P}` is invertible).  A convolution is diagonal
in the Fourier basis: the score's coefficient at frequency :math:`\omega` is :math:`a(\omega) = \hat u(\omega) =
\sum_\delta u_\delta\cos(\omega\cdot\delta)` (:math:`u` is even), so every sampler's law is exact per Fourier mode
with that coefficient -- not of the form :math:`1/(m^2\mu + s^2)` for one :math:`\mu`: it depends on the level in its
own way.  With the patch the whole grid (odd sides, ``K`` = the side) :math:`\Sigma_{\mathcal P} = \Sigma` and
:math:`a = 1/(m^2\lambda + s^2)`: the Fourier model exactly.

Population (``n_samples`` inf): :math:`P = \lambda`.  N images: the patch covariance averaged over the N images and
the d positions is the autocovariance of the averaged periodogram, i.e. :math:`P` = the empirical mode variances of
the Fourier model (:func:`gaussdsm.montecarlo.mode_variances`, a conjugate pair's two directions share theirs).

Cost: one ``eigh`` of the :math:`|\mathcal P| \times |\mathcal P|` patch covariance per channel and training set, then
:math:`O(L\,|\mathcal P|\,d)` for L levels; the autocovariance by one FFT, :math:`O(d\log d)`.  No d x d array.
Channels (textures) are independent: one filter per channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _checks

__all__ = ["Layout", "ConvModel", "check_kernel_size", "patch_offsets", "conv_variance", "conv_errors",
           "population_error", "ConvScores", "gradient_flow_filter"]


def check_kernel_size(kernel_size, grid: tuple) -> int:
    """``fit.kernel_size``: an odd integer from 1 to the image's side (its smallest side), one line otherwise."""
    side = int(min(grid))
    k = _checks.integer("fit.kernel_size", kernel_size, ge=1)
    if k % 2 == 0 or k > side:
        raise ValueError(f"fit.kernel_size must be an odd integer in [1, {side}] (a centred patch no wider than the "
                         f"image side {side}); got {kernel_size!r}")
    return k


def patch_offsets(ndim: int, kernel_size: int) -> np.ndarray:
    """The patch's offsets :math:`\\delta \\in \\{-h, ..., h\\}^D`, :math:`h = (K - 1)/2`, shape ``(K^D, D)``, C order
    (the centre :math:`\\delta = 0` at index ``(K^D - 1)/2``)."""
    h = (kernel_size - 1) // 2
    axes = [np.arange(-h, h + 1)] * ndim
    return np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)


@dataclass(frozen=True)
class Layout:
    """Where each mode of a stationary spectrum sits: ``grid`` the DFT grid's shape, ``channels``, ``position (d,)``
    the flat index ``channel * prod(grid) + index`` (:attr:`gaussdsm.spectra.Spectrum.position`)."""

    grid: tuple
    channels: int
    position: np.ndarray

    @classmethod
    def of(cls, spectrum) -> "Layout":
        if getattr(spectrum, "position", None) is None or spectrum.grid is None:
            raise ValueError("fit.model: conv (a local convolutional denoiser) needs a stationary spectrum (kind "
                             "stationary_1d, stationary_2d or texture) with its modes on the DFT grid")
        g = tuple(int(x) for x in spectrum.grid)
        return cls(g[:-1], g[-1], np.asarray(spectrum.position, dtype=np.int64))

    @property
    def size(self) -> int:
        return math.prod(self.grid)

    @property
    def channel(self) -> np.ndarray:
        """Each mode's channel, ``(d,)``."""
        return self.position // self.size

    def frequencies(self) -> np.ndarray:
        """Each mode's angular frequency vector :math:`\\omega` on the grid, ``(d, D)``."""
        idx = np.unravel_index(self.position % self.size, self.grid)
        return np.stack([2 * np.pi * np.fft.fftfreq(n)[i] for n, i in zip(self.grid, idx)], axis=1)

    def power(self, values) -> np.ndarray:
        """Per-mode values ``(..., d)`` placed on the grid: ``(..., channels) + grid``."""
        values = np.asarray(values, dtype=float)
        out = np.zeros(values.shape[:-1] + (self.channels * self.size,))
        out[..., self.position] = values
        return out.reshape(values.shape[:-1] + (self.channels,) + self.grid)


class ConvModel:
    r"""The conv denoiser learned from the power ``values`` per mode (``lam``: the population; the empirical mode
    variances: N images), for ``kernel_size`` K: the patch covariances' eigendecompositions, and the score
    coefficient per mode at any level (module docstring).

    Parameters
    ----------
    values : array_like, shape ``(d,)`` or ``(R, d)``
        Per-mode power (R training sets).
    layout : Layout
    kernel_size : int
        Odd, at most the grid's smallest side.
    """

    def __init__(self, values, layout: Layout, kernel_size: int):
        self.layout = layout
        self.kernel_size = check_kernel_size(kernel_size, layout.grid)
        vals = np.asarray(values, dtype=float)
        self.batched = vals.ndim == 2
        vals = np.atleast_2d(vals)
        D = len(layout.grid)
        self.offsets = patch_offsets(D, self.kernel_size)  # (P, D)
        P = self.offsets.shape[0]
        axes = tuple(range(-D, 0))
        acov = np.fft.ifftn(layout.power(vals), axes=axes).real  # (R, c) + grid: c(delta)
        diff = self.offsets[:, None, :] - self.offsets[None, :, :]  # (P, P, D)
        at = tuple(np.mod(diff[..., j], n) for j, n in enumerate(layout.grid))
        cov = acov[(..., *at)]  # (R, c, P, P)
        cov = 0.5 * (cov + np.swapaxes(cov, -1, -2))
        self.nu, self.V = np.linalg.eigh(cov)  # (R, c, P), (R, c, P, P)
        self.b = self.V[..., P // 2, :]  # V^T e0: (R, c, P)
        self._omega = layout.frequencies()  # (d, D)
        self._channel = layout.channel

    def filters(self, m2, s2) -> np.ndarray:
        r"""The score filters :math:`u = (m^2\Sigma_{\mathcal P} + s^2I)^{-1}e_0` at levels ``(m2, s2)`` (arrays of
        shape ``(L,)``): ``(R, c, L, P)``."""
        m2, s2 = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (m2, s2))
        den = m2[:, None] * self.nu[..., None, :] + s2[:, None]  # (R, c, L, P)
        with np.errstate(divide="ignore"):
            coef = self.b[..., None, :] / den
        return np.einsum("rcpj,rclj->rclp", self.V, coef)

    def denoiser_filters(self, m2, s2) -> np.ndarray:
        r"""The DSM-optimal filters :math:`w^* = (m^2\Sigma_{\mathcal P} + s^2I)^{-1}m\Sigma_{\mathcal P}e_0`,
        ``(R, c, L, P)``."""
        m2, s2 = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (m2, s2))
        m = np.sqrt(m2)
        coef = self.b[..., None, :] * m[:, None] * self.nu[..., None, :] / (m2[:, None] * self.nu[..., None, :]
                                                                             + s2[:, None])
        return np.einsum("rcpj,rclj->rclp", self.V, coef)

    def transfer(self, filters, modes=None) -> np.ndarray:
        r""":math:`\hat f(\omega) = \sum_\delta f_\delta\cos(\omega\cdot\delta)` of filters ``(R, c, L, P)`` at the modes
        (indices, default all): ``(R, L, n)``."""
        modes = np.arange(self._omega.shape[0]) if modes is None else np.asarray(modes, dtype=np.int64)
        cosines = np.cos(self._omega[modes] @ self.offsets.T)  # (n, P)
        f = filters[:, self._channel[modes]]  # (R, n, L, P)
        return np.einsum("np,rnlp->rln", cosines, f)

    def score(self, modes, m2, s2) -> np.ndarray:
        """The score coefficient :math:`a = \\hat u(\\omega)` of each mode in ``modes`` at the levels ``(m2, s2)``
        (broadcasting, e.g. ``(K, 1)`` or scalars): shape ``(R,) + levels + (n,)`` (no R if unbatched)."""
        m2, s2 = np.broadcast_arrays(np.asarray(m2, dtype=float), np.asarray(s2, dtype=float))
        lead = m2.shape[:-1] if m2.ndim and m2.shape[-1] == 1 else m2.shape
        a = self.transfer(self.filters(m2.ravel(), s2.ravel()), modes)  # (R, L, n)
        a = a.reshape(a.shape[:1] + lead + a.shape[-1:])
        return a if self.batched else a[0]


class ConvScores:
    """The conv model as the learned scores of a diffusion sampler (the hook :class:`gaussdsm.dsm.Training` fills):
    ``score_coefficient(modes, m2, s2)`` with ``modes`` the modes' indices (the law is computed per index)."""

    method = "conv"
    is_minimiser = False

    def __init__(self, model: ConvModel):
        if model.batched:
            raise ValueError("ConvScores takes one training set")
        self.model = model

    def score_coefficient(self, modes, m2, s2):
        idx = np.asarray(modes).astype(np.int64)
        return self.model.score(idx, m2, s2)


def conv_variance(sampler, model: ConvModel, values, sigma: float = 0.0):
    r"""The sampler's output variance per Fourier mode with the conv model's score, and where it is not stable.

    Langevin family (one noise level ``sigma``): :math:`F = G(a)`, :math:`a = \hat u(\omega)` at :math:`(1, \sigma^2)`,
    stable where the chain is.  Diffusion: the law derived from the scheme's step (:mod:`.samplers.diffusion.law`)
    with the model asked at every time the step needs, from :math:`v_0` (``init: exact``: :math:`m_T^2\mu + s_T^2` with
    ``values`` :math:`\mu`, as for the other learned models), then the final Tweedie step if ``denoise``.

    Parameters
    ----------
    values : ndarray, shape ``(d,)`` or ``(R, d)``
        The per-mode power the model was learned from (for the start variance and the blow-up scale).

    Returns
    -------
    F, bad : ndarray, shape of ``values``
    """
    from .samplers import LangevinSampler
    from .samplers.diffusion import law
    from .samplers.diffusion.sampler import BLOWUP

    values = np.asarray(values, dtype=float)
    if isinstance(sampler, LangevinSampler):
        if sampler.shape != ():
            raise ValueError("conv_variance needs one sampler setting")
        s2 = float(sigma) ** 2
        a = model.score(None, 1.0, s2)
        with np.errstate(all="ignore"):
            ok = np.isfinite(a) & sampler.score_stable(np.where(np.isfinite(a), a, 1.0))
            F = np.where(ok, sampler.score_variance(np.where(ok, a, 1.0)), np.nan)
        return F, ~ok
    _check_diffusion(sampler)
    d = values.shape[-1]
    idx = np.arange(d, dtype=float)
    models = [model] if not model.batched else [_one(model, r) for r in range(values.shape[0])]
    rows = np.atleast_2d(values)
    F, bad = np.empty(rows.shape), np.empty(rows.shape, dtype=bool)
    p = sampler.process
    for r, (mdl, mu) in enumerate(zip(models, rows)):
        other = object.__new__(type(sampler))
        other.__dict__.update(sampler.__dict__)
        other.training = ConvScores(mdl)
        Phi, Psi, b = law.affine(other, idx)
        v0 = sampler.start_variance(mu)
        v = Phi * v0 + Psi
        if sampler.denoise:
            m2, s2 = float(p.m2(sampler.t_min)), float(p.s2(sampler.t_min))
            D = (1.0 - s2 * mdl.score(None, m2, s2)) / math.sqrt(m2)
            v = D * D * v
        with np.errstate(invalid="ignore"):
            scale = np.maximum(1.0, np.maximum(np.abs(mu), v0))
            blown = ~np.isfinite(v) | (v > BLOWUP * scale) | (v < 0)
        F[r], bad[r] = v, b | blown
    return (F, bad) if values.ndim == 2 else (F[0], bad[0])


def _one(model: ConvModel, r: int) -> ConvModel:
    """Training set ``r`` of a batched model."""
    one = object.__new__(ConvModel)
    one.__dict__.update(model.__dict__)
    one.nu, one.V, one.b = model.nu[r:r + 1], model.V[r:r + 1], model.b[r:r + 1]
    one.batched = False
    return one


def _check_diffusion(sampler) -> None:
    """The law of a conv score is computed step by step: a finite grid with t_min > 0 and m_T > 0."""
    if math.isinf(sampler.n_steps) or sampler.record.integrates == "langevin":
        raise ValueError("sampler.n_steps must be finite with fit.model: conv (its law is computed step by step on "
                         "the time grid; not annealed_langevin)")
    if not sampler.t_min > 0:
        raise ValueError("sampler.t_min must be > 0 with fit.model: conv")
    if float(sampler.process.m2(sampler.process.T)) == 0:
        raise ValueError(f"sampler.T must be < {sampler.process.T:g} with fit.model: conv (the data prediction "
                         "divides by the signal scale m_T)")


def conv_errors(spectrum, n_samples, rngs, sigma, samplers, kernel_size: int, metric: str = "w2"):
    r"""The error of every sampler setting for the conv model learned from N images (or the population), per
    training set: the counterpart of :func:`gaussdsm.montecarlo.exact_fit_errors` for ``fit.model: conv``.

    Each training set is drawn as its empirical mode variances (:func:`gaussdsm.montecarlo.mode_variances`, the
    Fourier model's draw, O(d)): they determine the patch covariance averaged over images and positions exactly.

    Parameters
    ----------
    spectrum : gaussdsm.spectra.Spectrum
        Stationary (its ``position`` and ``grid``).
    n_samples : int or inf
        ``inf``: the population (one deterministic value; ``rngs`` unused).
    rngs : sequence of numpy.random.Generator, length R
    sigma : float
        DSM noise (Langevin family; diffusion ignores it).
    samplers : sequence of Sampler, length S

    Returns
    -------
    values, diverged : ndarray, shape ``(S, R)`` (R = 1 for the population)
    """
    from .metrics import get
    from .montecarlo import mode_variances

    m = get(metric)
    lam = np.asarray(spectrum.lam, dtype=float)
    layout = Layout.of(spectrum)
    if math.isinf(float(n_samples)):
        mu = lam[None, :].copy()
    else:
        mu = mode_variances(lam, int(n_samples), list(rngs), spectrum.kappa)
    model = ConvModel(mu, layout, kernel_size)
    out = np.full((len(samplers), mu.shape[0]), np.nan)
    div = np.zeros(out.shape, dtype=bool)
    for j, s in enumerate(samplers):
        F, bad = conv_variance(s, model, mu, sigma)
        ok = ~np.any(bad, axis=-1)
        if np.any(ok):
            out[j, ok] = m.commuting(F[ok], lam)
        div[j] = ~ok | np.isinf(out[j])
    return out, div


def population_error(spectrum, sigma, sampler, kernel_size: int, metric: str = "w2") -> tuple[float, bool]:
    """The error at N = inf (the locality bias of the conv model, exact): ``(value, diverged)``."""
    v, dv = conv_errors(spectrum, math.inf, [], sigma, [sampler], kernel_size, metric)
    return float(v[0, 0]), bool(dv[0, 0])


def gradient_flow_filter(model: ConvModel, sigma: float, train_time, init=None) -> np.ndarray:
    r"""The conv filter trained by gradient flow on its DSM loss (per position; Wang & Pehlevan 2025, Prop. 5.4):
    :math:`dw/d\tau = -\nabla_w L = -2[(\Sigma_{\mathcal P} + \sigma^2I)w - \Sigma_{\mathcal P}e_0]`, whose solution is

    .. math:: w(\tau) = w^* + e^{-2(\Sigma_{\mathcal P} + \sigma^2I)\tau}(w_0 - w^*),

    per eigenvector of :math:`\Sigma_{\mathcal P}` :math:`w_j(\tau) = w^*_j + (w_{0,j} - w^*_j)e^{-2(\nu_j+\sigma^2)\tau}`.

    Parameters
    ----------
    train_time : float or array_like, shape ``(T,)``
    init : array_like, shape ``(P,)``, optional
        :math:`w_0` (default 0).

    Returns
    -------
    w : ndarray, shape ``(R, c, T, P)``
    """
    tau = np.atleast_1d(np.asarray(train_time, dtype=float))
    s2 = float(sigma) ** 2
    nu, V, b = model.nu, model.V, model.b  # (R, c, P), (R, c, P, P), (R, c, P)
    star = b * nu / (nu + s2)  # w* in the eigenbasis
    w0 = np.zeros(nu.shape) if init is None else np.einsum("rcpj,p->rcj", V, np.asarray(init, dtype=float))
    decay = np.exp(-2.0 * (nu[..., None, :] + s2) * tau[:, None])  # (R, c, T, P)
    coef = star[..., None, :] + (w0 - star)[..., None, :] * decay
    return np.einsum("rcpj,rctj->rctp", V, coef)
