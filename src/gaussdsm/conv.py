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

What is here: the model (:class:`ConvModel`: filters, their transfer, the score per mode; trained filters, gradient
flow or descent per eigenvector of the patch covariance, Prop. 5.4 of Wang & Pehlevan), every sampler's law with it
(:func:`conv_variance`; diffusion through the scheme's step, :class:`ConvScores`), the Monte Carlo
(:func:`conv_errors`), the exact population error (the locality floor, :func:`population_error`) and the 1/N expansion
of the expected error (:func:`error_expansion`: the modes do not decouple, so there is no exact-at-every-N
quadrature; the first order is exact in the patch covariance's sampling law).

Cost: one ``eigh`` of the :math:`|\mathcal P| \times |\mathcal P|` patch covariance (at most
:data:`gaussdsm.rules.MAX_PATCH` pixels) per channel and training set; the autocovariance and the transfer of a filter to
every mode by FFT, :math:`O(d\log d)` per level (slices of modes: cosine sums, :math:`O(|\mathcal P|)` per mode and
level).  No d x d array.  The expansion costs :math:`4Qc + 1` laws (Q difference classes of the patch, c channels).
Channels (textures) are independent: one filter per channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _checks

__all__ = ["Layout", "ConvModel", "check_kernel_size", "patch_offsets", "conv_variance", "conv_errors",
           "population_error", "error_expansion", "fill_terms", "ConvScores", "gradient_flow_filter", "FD_STEP",
           "check_sampler"]


def check_kernel_size(kernel_size, grid: tuple) -> int:
    """``fit.kernel_size``: an odd integer from 1 to the image's side (its smallest side), a patch of at most
    :data:`gaussdsm.rules.MAX_PATCH` pixels (:func:`gaussdsm.rules.conv_model`), one line otherwise."""
    from . import rules

    k = _checks.integer("fit.kernel_size", kernel_size, ge=1)
    why = rules.conv_model("conv", k, "", tuple(grid) + (1,))
    if why:
        raise ValueError(why)
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
        axes = tuple(range(-D, 0))
        acov = np.fft.ifftn(layout.power(vals), axes=axes).real  # (R, c) + grid: c(delta)
        diff = self.offsets[:, None, :] - self.offsets[None, :, :]  # (P, P, D)
        at = tuple(np.mod(diff[..., j], n) for j, n in enumerate(layout.grid))
        self._set_covariance(acov[(..., *at)])  # (R, c, P, P)
        self._omega = layout.frequencies()  # (d, D)
        self._channel = layout.channel

    def _set_covariance(self, cov) -> None:
        cov = 0.5 * (cov + np.swapaxes(cov, -1, -2))
        P = cov.shape[-1]
        self.covariance = cov
        self.nu, self.V = np.linalg.eigh(cov)  # (R, c, P), (R, c, P, P)
        self.b = self.V[..., P // 2, :]  # V^T e0: (R, c, P)

    def with_covariance(self, cov) -> "ConvModel":
        """The same layout and patch with the patch covariances ``cov`` ``(R, c, P, P)`` (batched)."""
        other = object.__new__(ConvModel)
        other.__dict__.update(self.__dict__)
        other._set_covariance(np.asarray(cov, dtype=float))
        other.batched = True
        return other

    def difference_classes(self):
        r"""The patch covariance's distinct entries: :math:`(\Sigma_{\mathcal P})_{\delta\delta'} = c(q)` with q the
        class of :math:`\pm(\delta - \delta')` on the grid.  Returns ``(cls (P, P) int, q (Q, D))``: each entry's
        class and one offset of each class."""
        diff = self.offsets[:, None, :] - self.offsets[None, :, :]
        grid = np.array(self.layout.grid)
        a, b = np.mod(diff, grid), np.mod(-diff, grid)
        key = np.minimum(*(np.ravel_multi_index(tuple(np.moveaxis(x, -1, 0)), tuple(grid)) for x in (a, b)))
        uniq, cls = np.unique(key, return_inverse=True)
        q = np.stack(np.unravel_index(uniq, tuple(grid)), axis=1)
        return cls.reshape(key.shape), q

    training = None
    """A :class:`gaussdsm.dsm.Training` of every level's filter (None: the DSM minimiser)."""

    def filters(self, m2, s2) -> np.ndarray:
        r"""The score filters :math:`u = (m^2\Sigma_{\mathcal P} + s^2I)^{-1}e_0` at levels ``(m2, s2)`` (arrays of
        shape ``(L,)``): ``(R, c, L, P)``.

        Trained (:attr:`training`): the DSM loss of the filter is :math:`w^\top(m^2\Sigma_{\mathcal P} + s^2I)w -
        2m\,w^\top\Sigma_{\mathcal P}e_0` + const per position, the loss of a linear denoiser with covariance
        :math:`\Sigma_{\mathcal P}` read at :math:`e_0`: per eigenvector :math:`v_j` of :math:`\Sigma_{\mathcal P}`
        (eigenvalue :math:`\nu_j`) gradient flow or descent from :math:`w_0 = 0` (``init: zero``) or :math:`e_0`
        (``identity``) gives :math:`\langle v_j, w\rangle = \langle v_j, e_0\rangle\,\theta_\tau(\nu_j)`
        (:func:`gaussdsm.dsm.trained_denoiser`; Wang & Pehlevan 2025, Prop. 5.4), hence
        :math:`\langle v_j, u\rangle = \langle v_j, e_0\rangle\,a_\tau(\nu_j)` with :math:`a_\tau` the trained
        score coefficient (:meth:`gaussdsm.dsm.Training.score_coefficient`)."""
        m2, s2 = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (m2, s2))
        nu = self.nu[..., None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.training is None:
                a = 1.0 / (m2[:, None] * nu + s2[:, None])  # (R, c, L, P)
            else:
                a = self.training.score_coefficient(nu, m2[:, None], s2[:, None])
        return np.einsum("rcpj,rclj->rclp", self.V, self.b[..., None, :] * a)

    def denoiser_filters(self, m2, s2) -> np.ndarray:
        r"""The DSM-optimal filters :math:`w^* = (m^2\Sigma_{\mathcal P} + s^2I)^{-1}m\Sigma_{\mathcal P}e_0`,
        ``(R, c, L, P)``."""
        m2, s2 = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (m2, s2))
        m = np.sqrt(m2)
        coef = self.b[..., None, :] * m[:, None] * self.nu[..., None, :] / (m2[:, None] * self.nu[..., None, :]
                                                                             + s2[:, None])
        return np.einsum("rcpj,rclj->rclp", self.V, coef)

    def transfer(self, filters, modes=None, cosines=None) -> np.ndarray:
        r""":math:`\hat f(\omega) = \sum_\delta f_\delta\cos(\omega\cdot\delta)` of filters ``(R, c, L, P)`` at the
        modes (indices: the cosine sums, O(R L P n); default all: the DFT of the filter on the grid, O(R L d log d)):
        ``(R, L, n)``."""
        if modes is None:  # every mode: one FFT of the filter on the grid, O(R L d log d)
            D = len(self.layout.grid)
            at = tuple(np.mod(self.offsets[:, j], n) for j, n in enumerate(self.layout.grid))
            grid = np.zeros(filters.shape[:3] + self.layout.grid)
            grid[(..., *at)] = filters
            flat = np.fft.fftn(grid, axes=tuple(range(-D, 0))).real  # the filters are even: real transforms
            flat = flat.reshape(filters.shape[:3] + (-1,))  # (R, c, L, n)
            sel = flat[:, self._channel, :, self.layout.position % self.layout.size]  # (d, R, L): advanced axes first
            return np.transpose(sel, (1, 2, 0))
        modes = np.asarray(modes, dtype=np.int64)
        if cosines is None:
            cosines = self.cosines(modes)
        ch = self._channel[modes]
        out = np.empty(filters.shape[:1] + filters.shape[2:3] + (modes.size,))
        for c in np.unique(ch):  # one filter per channel: O(R L P n), no (n, P) copy per replicate
            sel = ch == c
            out[..., sel] = np.einsum("rlp,np->rln", filters[:, c], cosines[sel])
        return out

    def cosines(self, modes) -> np.ndarray:
        r""":math:`\cos(\omega\cdot\delta)` of the modes (indices) and the patch offsets, ``(n, P)``."""
        return np.cos(self._omega[np.asarray(modes, dtype=np.int64)] @ self.offsets.T)

    def score(self, modes, m2, s2) -> np.ndarray:
        """The score coefficient :math:`a = \\hat u(\\omega)` of each mode in ``modes`` at the levels ``(m2, s2)``
        (broadcasting, e.g. ``(K, 1)`` or scalars): shape ``(R,) + levels + (n,)`` (no R if unbatched)."""
        m2, s2 = np.broadcast_arrays(np.asarray(m2, dtype=float), np.asarray(s2, dtype=float))
        lead = m2.shape[:-1] if m2.ndim and m2.shape[-1] == 1 else m2.shape
        a = self.transfer(self.filters(m2.ravel(), s2.ravel()), modes)  # (R, L, n)
        a = a.reshape(a.shape[:1] + lead + a.shape[-1:])
        return a if self.batched else a[0]


TABLE_MIN_PATCH = 64
"""Diffusion laws: from a patch of this many pixels on, the score coefficients of every mode at the levels a step asks
are computed at once by FFT (O(L d log d)) rather than per slice of modes by cosine sums (O(L P d))..."""
TABLE_ELEMENTS = 1 << 25
"""... when the table (levels x modes) holds at most this many entries (256 MB)."""


class ConvScores:
    """The conv model as the learned scores of a diffusion sampler (the hook :class:`gaussdsm.dsm.Training` fills):
    ``score_coefficient(modes, m2, s2)`` with ``modes`` the modes' indices (the law is computed per index)."""

    method = "conv"
    is_minimiser = False

    def __init__(self, model: ConvModel):
        if model.batched:
            raise ValueError("ConvScores takes one training set")
        self.model = model
        self._filters: dict = {}  # per array of levels: the steps ask the same times for every slice of modes
        self._cosines = (None, None)

    def score_coefficient(self, modes, m2, s2):
        idx = np.asarray(modes).astype(np.int64)
        m2, s2 = np.broadcast_arrays(np.asarray(m2, dtype=float), np.asarray(s2, dtype=float))
        key = (m2.shape, m2.tobytes(), s2.tobytes())
        if key not in self._filters:
            if len(self._filters) > 16:
                self._filters.clear()
            self._filters[key] = self.model.filters(m2.ravel(), s2.ravel())
        f = self._filters[key]
        lead = m2.shape[:-1] if m2.ndim and m2.shape[-1] == 1 else m2.shape
        if f.shape[-1] >= TABLE_MIN_PATCH and f.shape[2] * self.model.layout.position.size <= TABLE_ELEMENTS:
            tkey = ("table",) + key  # a large patch: every mode at once by FFT, then the slices read the table
            if tkey not in self._filters:
                self._filters[tkey] = self.model.transfer(f)[0]  # (L, d)
            a = self._filters[tkey][:, idx]
        else:
            ckey = idx.tobytes()
            if self._cosines[0] != ckey:
                self._cosines = (ckey, self.model.cosines(idx))
            a = self.model.transfer(f, idx, self._cosines[1])[0]  # (L, n)
        return a.reshape(lead + a.shape[-1:])


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
    trained = sampler.training
    for r, (mdl, mu) in enumerate(zip(models, rows)):
        if trained is not None and mdl.training is not trained:
            mdl = _one(mdl, None)
            mdl.training = trained
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


def _one(model: ConvModel, r: int | None) -> ConvModel:
    """Training set ``r`` of a batched model (None: a copy)."""
    one = object.__new__(ConvModel)
    one.__dict__.update(model.__dict__)
    if r is not None:
        one.nu, one.V, one.b = model.nu[r:r + 1], model.V[r:r + 1], model.b[r:r + 1]
        one.batched = False
    return one


def check_sampler(sampler) -> None:
    """What the conv model needs of a sampler setting (one line naming the key): a diffusion sampler's law is computed
    step by step (:func:`_check_diffusion`); the Langevin family takes any."""
    from .samplers import LangevinSampler

    if not isinstance(sampler, LangevinSampler):
        _check_diffusion(sampler)


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
    sigma : float or sequence of float, length G
        DSM noise (Langevin family; diffusion ignores it).  Several: the same training sets serve every sigma.
    samplers : sequence of Sampler, length S

    Returns
    -------
    values, diverged : ndarray, shape ``(S, R)``, or ``(G, S, R)`` for a sequence of sigma (R = 1 for the
        population)
    """
    from .metrics import get
    from .montecarlo import MODES_BLOCK_ELEMENTS, mode_variances
    from .samplers import LangevinSampler

    m = get(metric)
    lam = np.asarray(spectrum.lam, dtype=float)
    layout = Layout.of(spectrum)
    rngs = list(rngs)
    population = math.isinf(float(n_samples))
    R = 1 if population else len(rngs)
    sigmas = np.atleast_1d(np.asarray(sigma, dtype=float))
    out = np.full((sigmas.size, len(samplers), R), np.nan)
    div = np.zeros(out.shape, dtype=bool)
    step = max(1, MODES_BLOCK_ELEMENTS // lam.size)  # replicates in blocks: O(b d) memory
    for lo in range(0, R, step):
        sl = slice(lo, min(R, lo + step))
        mu = lam[None, :].copy() if population else mode_variances(lam, int(n_samples), rngs[sl], spectrum.kappa)
        model = ConvModel(mu, layout, kernel_size)
        for g, sg in enumerate(sigmas):
            for j, s in enumerate(samplers):
                if g and not isinstance(s, LangevinSampler):  # diffusion ignores sigma: the same law
                    out[g, j, sl], div[g, j, sl] = out[0, j, sl], div[0, j, sl]
                    continue
                F, bad = conv_variance(s, model, mu, sg)
                ok = ~np.any(bad, axis=-1)
                val = np.full(ok.shape, np.nan)
                if np.any(ok):
                    val[ok] = m.commuting(F[ok], lam)
                out[g, j, sl], div[g, j, sl] = val, ~ok | np.isinf(val)
    return (out[0], div[0]) if np.ndim(sigma) == 0 else (out, div)


def population_error(spectrum, sigma, sampler, kernel_size: int, metric: str = "w2") -> tuple[float, bool]:
    """The error at N = inf (the locality bias of the conv model, exact): ``(value, diverged)``."""
    v, dv = conv_errors(spectrum, math.inf, [], sigma, [sampler], kernel_size, metric)
    return float(v[0, 0]), bool(dv[0, 0])


def gradient_flow_filter(model: ConvModel, sigma: float, train_time, init=None) -> np.ndarray:
    r"""The conv filter trained by gradient flow on its DSM loss (per position; Wang & Pehlevan 2025, Prop. 5.4):
    :math:`dw/d\tau = -\nabla_w L = -2[(\Sigma_{\mathcal P} + \sigma^2I)w - \Sigma_{\mathcal P}e_0]`, whose solution is

    .. math:: w(\tau) = w^* + e^{-2(\Sigma_{\mathcal P} + \sigma^2I)\tau}(w_0 - w^*),

    per eigenvector of :math:`\Sigma_{\mathcal P}`
    :math:`w_j(\tau) = w^*_j + (w_{0,j} - w^*_j)e^{-2(\nu_j+\sigma^2)\tau}`.

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


FD_STEP = 3e-3
"""The coarse step of the central second differences of :func:`error_expansion`, relative to the patch variance c(0)."""


def error_expansion(spectrum, sigma, sampler, kernel_size: int, metric: str = "w2"):
    r"""The conv model's expected error to first order in 1/N: ``(bias, generalization_sum, diverged)`` with
    :math:`\mathbb E\,\mathcal E \approx \texttt{bias} + \texttt{generalization\_sum}/N`.

    The learned model depends on the N images only through the patch covariance, i.e. the empirical autocovariance at
    the Q distinct differences q of patch offsets, :math:`\hat c_q = \frac1n\sum_k\hat\mu_k\cos(\omega_k\cdot q)`
    (n grid points, per channel), linear in the empirical mode variances, unbiased, with

    .. math:: N\,\mathrm{Cov}(\hat c_q, \hat c_{q'}) = M_{qq'} = \frac2{n^2}\sum_k \lambda_k^2\cos(\omega_k\cdot q)
              \cos(\omega_k\cdot q')

    (:math:`\hat\mu_k = \lambda_k\chi^2_\nu/\nu`, a conjugate pair's two directions sharing theirs: the R11 factors
    :math:`\kappa` combine to 2 for every mode).  With :math:`f(c)` the error of the law of the model learned from
    :math:`c` (exact, :func:`conv_variance`), the second-order Taylor expansion gives

    .. math:: \mathbb E f(\hat c) = f(c) + \frac1{2N}\mathrm{tr}(H M) + O(N^{-2}),\qquad H = \nabla^2 f(c),

    and :math:`\mathrm{tr}(HM) = \sum_i\rho_i\,v_i^\top Hv_i` over the eigenpairs of M: evaluations of f per
    channel (4Q + 1 with the Richardson extrapolation of the central second differences, steps :data:`FD_STEP` c(0)
    and half of it: relative error below ~1e-6).
    ``init: exact`` diffusion starts are taken at the population's :math:`p_T` in the expansion (the start is forgotten
    by t_min up to :math:`\Phi`, which is negligible on every usual grid).

    Returns
    -------
    bias : float
        The error at N = inf (the locality bias; NaN where the population chain diverges).
    generalization_sum : float
        :math:`\frac12\mathrm{tr}(HM)` (the generalization error times N).
    diverged : bool
    """
    from .metrics import get

    m = get(metric)
    lam = np.asarray(spectrum.lam, dtype=float)
    layout = Layout.of(spectrum)
    base = ConvModel(lam, layout, kernel_size)
    cls, q = base.difference_classes()
    cov0 = base.covariance[0]  # (c, P, P)
    c = layout.channels
    omega = layout.frequencies()
    cosq = np.cos(omega @ q.T)  # (d, Q)
    ch = layout.channel
    dirs = []
    for k in range(c):
        sel = ch == k
        M = 2.0 / layout.size**2 * (cosq[sel] * lam[sel, None] ** 2).T @ cosq[sel]
        rho, vec = np.linalg.eigh(0.5 * (M + M.T))
        h = FD_STEP * float(cov0[k, 0, 0]) if cov0[k, 0, 0] > 0 else FD_STEP
        for r, v in zip(rho, vec.T):
            if r > 1e-14 * max(rho.max(), 1e-300):
                dirs.append((k, r, v, h))
    covs = [cov0]
    steps = (1.0, -1.0, 0.5, -0.5)
    for k, _, v, h in dirs:
        for t in steps:
            cv = cov0.copy()
            cv[k] = cov0[k] + t * h * v[cls]
            covs.append(cv)
    from .montecarlo import MODES_BLOCK_ELEMENTS

    f = np.empty(len(covs))
    step = max(1, MODES_BLOCK_ELEMENTS // lam.size)  # O(b d) memory
    for lo in range(0, len(covs), step):
        block = np.stack(covs[lo:lo + step])
        F, bad = conv_variance(sampler, base.with_covariance(block), np.broadcast_to(lam, (len(block), lam.size)),
                               sigma)
        if np.any(bad):
            if lo == 0 and np.any(bad[0]):
                return np.nan, np.nan, True
            return float(f[0]) if lo else float(m.commuting(F[:1], lam)[0]), np.nan, True
        f[lo:lo + len(block)] = m.commuting(F, lam)
    f0 = float(f[0])
    g = 0.0
    for j, (_, r, _, h) in enumerate(dirs):
        fp, fm, hp, hm = f[1 + 4 * j: 5 + 4 * j]
        coarse = (fp - 2.0 * f0 + fm) / h**2
        fine = (hp - 2.0 * f0 + hm) / (0.5 * h) ** 2
        g += 0.5 * r * (4.0 * fine - coarse) / 3.0  # Richardson: O(h^4)
    return f0, float(g), False


FOURIER_ONLY = ("bias_init", "bias_discretization", "bias_stopping")
"""Parts of a diffusion error that :func:`gaussdsm.theory.error_terms` splits for the Fourier model only."""


def fill_terms(ds, spectrum, spec, kernel_size: int, metric: str = "w2"):
    """The conv model's terms on the grid of an :func:`gaussdsm.theory.error_terms` dataset (of the Fourier model,
    for its coordinates): ``bias`` (exact, N = inf), ``generalization`` (:func:`error_expansion` / N),
    ``optimization`` 0, ``total``, ``valid``, ``in_regime`` (= valid: no second-order estimate), ``reason``; the
    Fourier model's own split of the diffusion bias is dropped.  ``spec``: the
    :class:`gaussdsm.samplers.spec.SamplerSpec` that makes each point's sampler.  One expansion per sampler setting
    and sigma serves every N."""
    import xarray as xr

    ds = ds.drop_vars([k for k in FOURIER_ONLY if k in ds])
    shape, dims = ds["total"].shape, ds["total"].dims
    out = {k: np.full(shape, np.nan) for k in ("bias", "generalization", "total")}
    valid = np.zeros(shape, dtype=np.int8)
    reason = np.full(shape, "", dtype=object)
    cache = {}
    for idx in np.ndindex(shape):
        pt = ds.isel(dict(zip(dims, idx)))
        setting = tuple(pt[a].values.item() for a in spec.axes)
        sigma = float(pt["sigma"]) if "sigma" in pt.coords else 0.0
        key = (sigma, setting)
        if key not in cache:
            cache[key] = error_expansion(spectrum, sigma, spec.make(setting), kernel_size, metric)
        b, g, _ = cache[key]
        N = float(pt["n_samples"])
        gen = 0.0 if math.isinf(N) else g / N
        out["bias"][idx], out["generalization"][idx] = b, gen
        out["total"][idx] = b + gen
        valid[idx] = int(np.isfinite(b + gen))
        if not valid[idx]:
            reason[idx] = ("the sampler diverges with the conv model's score " +
                           ("learned from the population" if not np.isfinite(b) else "near the population one (its "
                            "1/N expansion is not defined)"))
    new = {**out, "optimization": np.zeros(shape), "valid": valid, "in_regime": valid,
           "second_order": np.full(shape, np.nan), "n_samples_scale": np.full(shape, np.nan),
           "reason": reason.astype(str)}
    for k, v in new.items():  # each on its own dimensions (the bias does not depend on N: taken at the first)
        da = xr.DataArray(v, dims=dims, coords=ds["total"].coords)
        own = ds[k].dims
        da = da.isel({dd: 0 for dd in dims if dd not in own}, drop=True).transpose(*own)
        ds[k] = (own, da.values, ds[k].attrs)
    ds.attrs.update(model="conv", kernel_size=int(kernel_size))
    return ds


RATES = {"langevin_s_per_mode": 1e-6, "diffusion_s_per_eval_mode": 1.2e-7}
"""Measured costs of one law of the conv model (a training set or a perturbed patch covariance): the Langevin family per
mode, diffusion per score evaluation and mode (d = 16384, 2-D, K = 3 and 5; the law dominates, the filters' transfer
adds ~20 %)."""


def seconds(spectrum, kernel_size: int, spec, points, mc: int) -> tuple[float, float]:
    """Estimated ``(theory, Monte Carlo)`` seconds of the conv model on ``points`` (dicts with ``n_samples`` and
    ``sigma``) for every sampler setting of ``spec``: :func:`error_expansion` evaluates 4 Q c + 1 laws per sampler
    setting and sigma (Q difference classes of the patch, c channels), the Monte Carlo one per replicate."""
    layout = Layout.of(spectrum)
    D, d = len(layout.grid), spectrum.d
    Q = ((2 * int(kernel_size) - 1) ** D + 1) // 2
    evals = 4 * Q * layout.channels + 1
    per = 0.0
    for setting in spec.settings():
        nfe = getattr(spec.make(setting), "nfe", None)
        per += d * (RATES["langevin_s_per_mode"] if nfe is None else
                    RATES["diffusion_s_per_eval_mode"] * (nfe if math.isfinite(nfe) else 1.0))
    sigmas = {p.get("sigma") for p in points}
    reps = sum(1 if math.isinf(float(N)) else int(mc) for N in {float(p["n_samples"]) for p in points})
    return evals * len(sigmas) * per, (reps * len(sigmas) * per if mc else 0.0)


PANELS = ("error_vs_n", "error_vs_gamma", "error_vs_sigma")
"""The figure panels of a Langevin-family study that a conv study draws (their theory lines: :func:`theory_on`)."""


def theory_on(summary, n_samples, sigma, gamma, tau, kw: dict):
    """The conv model's terms (:func:`fill_terms`) on any ``(n_samples, sigma, gamma, tau)`` grid of a study's summary
    (its ``spectrum_json``, ``kernel_size`` and theory conventions ``kw``, :func:`gaussdsm.figures._data.theory_kwargs`):
    one expansion per (sigma, gamma) serves every N."""
    import json

    from . import theory
    from .samplers.spec import SamplerSpec
    from .spectra import spectrum as make_spectrum

    p = json.loads(summary.attrs["spectrum_json"])
    sp = make_spectrum(p.pop("kind"), p.pop("d", None), **p)
    fourier = {**kw, "model": "fourier", "kappa": sp.kappa}
    ds = theory.error_terms(sp.lam, n_samples, sigma, gamma, tau, **fourier)
    n_steps = [float(kw.get("n_steps", math.inf))]
    axes = {"gamma": list(np.atleast_1d(gamma)), "n_steps": n_steps}
    if "friction" in kw:
        axes["friction"] = [float(kw["friction"])]
    spec = SamplerSpec(kw["sampler"], axes, {"init_var": float(kw.get("init_var", 1.0))})
    ds = ds.assign_coords(n_steps=n_steps[0]) if "n_steps" not in ds.coords else ds
    return fill_terms(ds, sp, spec, int(summary.attrs["kernel_size"]), kw.get("metric", "w2"))
