"""Denoising score matching with a linear denoiser (theory.md §2 step 1, R3, R11).

The denoiser is :math:`D_\\sigma(y; \\theta) = \\theta y` with
:math:`\\theta \\in \\mathbb R^{d\\times d}`, trained on
:math:`F_N(\\theta) = \\frac1N\\sum_n \\mathbb E_w \\|x_n - \\theta(x_n + \\sigma w)\\|^2`.
By Tweedie's link the score is :math:`s_\\theta(y) = (\\theta y - y)/\\sigma^2 = -A y` with

.. math:: A = (I - \\theta)/\\sigma^2 .

Data sets ``X`` have shape ``(..., N, d)``: leading axes are independent
replicates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _checks, _jet, rules
from ._gram import xtx

__all__ = [
    "empirical_covariance", "trained_denoiser", "trained_denoiser_depth2", "FIT_DEPTHS",
    "fit_exact",
    "fit_exact_from_cov",
    "exact_score_matrix",
    "score_matrix", "Training"]


def empirical_covariance(X) -> np.ndarray:
    """Empirical covariance with known zero mean, :math:`\\hat\\Sigma = \\frac1N\\sum_n x_n x_n^\\top`.

    Parameters
    ----------
    X : array_like, shape ``(..., N, d)``

    Returns
    -------
    cov_hat : ndarray, shape ``(..., d, d)``
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 2:  # numpy hands X.T @ X to dsyrk, which crashes for large d: gaussdsm._gram
        return xtx(X) / X.shape[0]
    return np.swapaxes(X, -1, -2) @ X / X.shape[-2]


def _check_sigma(sigma) -> float:
    return _checks.number("sigma", sigma, ge=0)


def fit_exact(X, sigma, diagonal: bool = False) -> np.ndarray:
    """Exact minimiser of the empirical DSM loss (R3), or its diagonal variant (R11).

    .. math:: \\hat\\theta = \\hat\\Sigma(\\hat\\Sigma + \\sigma^2 I)^{-1}

    With ``diagonal=True`` the denoiser is restricted to be diagonal in the
    eigen/Fourier basis of the data (a convolutional denoiser for stationary
    data, R11), and :math:`\\hat\\theta = \\mathrm{diag}(\\hat\\mu_i/(\\hat\\mu_i + \\sigma^2))`
    with :math:`\\hat\\mu_i = \\frac1N\\sum_n x_{n,i}^2`.  ``X`` must then be
    expressed in that basis.

    Parameters
    ----------
    X : array_like, shape ``(..., N, d)``
        Training sets (leading axes are replicates).
    sigma : float
        Noise amplitude, ``sigma >= 0``.  At ``sigma = 0`` the minimiser is
        the identity when :math:`\\hat\\Sigma` is invertible (``N >= d``).
    diagonal : bool
        Restrict :math:`\\theta` to diagonal matrices.

    Returns
    -------
    theta : ndarray, shape ``(..., d, d)``
        Symmetric denoiser matrix.  The score is :math:`-A y` with
        :math:`A = (I - \\theta)/\\sigma^2` (see :func:`score_matrix`).
    """
    return fit_exact_from_cov(empirical_covariance(X), sigma, diagonal=diagonal)


def fit_exact_from_cov(cov_hat, sigma, diagonal: bool = False) -> np.ndarray:
    """:func:`fit_exact` from the empirical covariances ``cov_hat`` (shape ``(..., d, d)``), R3 / R11.

    For callers that already hold :math:`\\hat\\Sigma` (the SGD set-up): same result, without
    recomputing it from the samples.
    """
    sigma = _check_sigma(sigma)
    cov_hat = np.asarray(cov_hat, dtype=float)
    d = cov_hat.shape[-1]
    if diagonal:
        mu = np.diagonal(cov_hat, axis1=-2, axis2=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(mu + sigma**2 > 0, mu / (mu + sigma**2), 0.0)
        return t[..., :, None] * np.eye(d)
    theta = np.linalg.solve(cov_hat + sigma**2 * np.eye(d), cov_hat)
    return 0.5 * (theta + np.swapaxes(theta, -1, -2))


def exact_score_matrix(cov_hat, sigma, diagonal: bool = False) -> np.ndarray:
    """Score matrix of the exact DSM fit, :math:`\\hat A = (\\hat\\Sigma + \\sigma^2 I)^{-1}` (R3).

    Algebraically equal to ``score_matrix(fit_exact(X, sigma), sigma)``, but
    computed without the 0/0 of :math:`(I - \\theta)/\\sigma^2`, so it also
    holds at ``sigma = 0`` where it is :math:`\\hat\\Sigma^{-1}` (theory.md §7.3 note 9).

    Parameters
    ----------
    cov_hat : array_like, shape ``(..., d, d)``
        Empirical covariances.
    sigma : float
        Noise amplitude, ``>= 0``.
    diagonal : bool
        Use only the diagonal of ``cov_hat`` (R11).

    Returns
    -------
    A : ndarray, shape ``(..., d, d)``
        Symmetric; ``inf``/``nan`` entries never appear silently: a singular
        :math:`\\hat\\Sigma + \\sigma^2 I` raises ``numpy.linalg.LinAlgError``.
    """
    sigma = _check_sigma(sigma)
    cov_hat = np.asarray(cov_hat, dtype=float)
    d = cov_hat.shape[-1]
    if diagonal:
        mu = np.diagonal(cov_hat, axis1=-2, axis2=-1) + sigma**2
        if np.any(mu <= 0):
            raise np.linalg.LinAlgError("singular diagonal covariance: a mode with zero variance and sigma = 0")
        return (1.0 / mu)[..., :, None] * np.eye(d)
    A = np.linalg.inv(cov_hat + sigma**2 * np.eye(d))
    return 0.5 * (A + np.swapaxes(A, -1, -2))


def score_matrix(theta, sigma) -> np.ndarray:
    """Score matrix :math:`A = (I - \\theta)/\\sigma^2` of a linear denoiser (Tweedie's link).

    Parameters
    ----------
    theta : array_like, shape ``(..., d, d)``
    sigma : float, ``> 0``

    Returns
    -------
    A : ndarray, shape ``(..., d, d)``
        The learned score is :math:`s(y) = -A y`.  Not symmetric in general
        (e.g. after SGD).
    """
    sigma = _check_sigma(sigma)
    if sigma == 0:
        raise ValueError("sigma must be > 0 to turn a denoiser into a score; use exact_score_matrix at sigma = 0")
    theta = np.asarray(theta, dtype=float)
    return (np.eye(theta.shape[-1]) - theta) / sigma**2



FIT_METHODS = ("exact", "gradient_flow", "gd")
"""How the denoiser of each noise level is learned (``fit.method``): the minimiser, gradient flow for a training
time, or full-batch gradient descent with a step for as many steps as that time holds."""
FIT_INITS = ("zero", "identity")
FIT_DEPTHS = (1, 2)
"""The denoiser's depth (``fit.depth``): one layer :math:`\\theta`, or the symmetric two-layer :math:`PP^\\top`
(:func:`trained_denoiser_depth2`)."""
DEFAULT_INIT_SCALE = 1e-3
"""The aligned start :math:`P(0)P(0)^\\top = Q I` of a two-layer denoiser when ``fit.init_scale`` is not given."""


def trained_denoiser(mu, m, s2, train_time, init: str = "zero", lr: float = 0.0):
    r"""The linear denoiser of one noise level after training on its DSM loss, per eigenvalue of :math:`\hat\Sigma`.

    At level t (signal scale ``m`` = :math:`m_t`, noise ``s2`` = :math:`\sigma_t^2`) the denoiser :math:`\theta y`
    is trained on :math:`F_t(\theta) = \frac1N\sum_n\mathbb E_w\|x_n - \theta(m_tx_n + \sigma_tw)\|^2`, whose gradient
    :math:`2(\theta C_t - m_t\hat\Sigma)`, :math:`C_t = m_t^2\hat\Sigma + \sigma_t^2I`, commutes with
    :math:`\hat\Sigma`: per eigenvalue :math:`\mu`, with :math:`c = m^2\mu + \sigma^2` and the minimiser
    :math:`\theta^* = m\mu/c`,

    * gradient flow :math:`d\theta/d\tau = -\nabla F_t` (``lr = 0``): :math:`\theta(\tau) = \theta^* + (\theta_0 -
      \theta^*)e^{-2c\tau}`;
    * full-batch gradient descent with step :math:`\eta` = ``lr``, :math:`K = \mathrm{round}(\tau/\eta)` steps:
      :math:`\theta_K = \theta^* + (\theta_0 - \theta^*)(1 - 2\eta c)^K` (unstable where :math:`2\eta c > 2`);

    from :math:`\theta_0` = 0 (``init='zero'``) or 1 (``'identity'``, the input passed through).  A spectral filter of
    the exact fit: :math:`\theta = \theta^*(1 - E) + \theta_0E`.  ``train_time = inf``: :math:`\theta^*`.

    Parameters
    ----------
    mu : array_like or Jet
        Eigenvalues of :math:`\hat\Sigma` (any shape; a :class:`gaussdsm._jet.Jet` for derivatives).
    m, s2 : float or array_like
        :math:`m_t` and :math:`\sigma_t^2`, broadcasting with ``mu``.
    train_time : float
        :math:`\tau \ge 0` (``inf``: the minimiser).

    Returns
    -------
    theta : ndarray or Jet, the broadcast shape
    """
    _checks.choice("fit.init", init, FIT_INITS)
    c = m * m * mu + s2
    star = m * mu / c
    if np.isinf(train_time):
        return star
    decay = (_jet.exp(-2.0 * train_time * c) if lr == 0 else
             _jet.power(1.0 - 2.0 * lr * c, float(round(train_time / lr))))
    return star * (1.0 - decay) + (0.0 if init == "zero" else 1.0) * decay


def _relaxation(x):
    r""":math:`(1 - e^{-x})/x` (1 at x = 0; ``-expm1(-x)/x``, or for jets a Taylor polynomial below 1e-3: no
    cancellation)."""
    if not isinstance(x, _jet.Jet):
        x = np.asarray(x, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(x == 0, 1.0, -np.expm1(-x) / x)
    xv = np.asarray(_jet.value(x), dtype=float)
    small = np.abs(xv) < 1e-3
    safe = _jet.where(small, 1.0, x)
    series = 1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0 - x / 120.0)))
    return _jet.where(small, series, (1.0 - _jet.exp(-safe)) / safe)


def trained_denoiser_depth2(mu, m, s2, train_time, init_scale: float = DEFAULT_INIT_SCALE, gap: bool = False):
    r"""The symmetric two-layer linear denoiser :math:`\theta = PP^\top` of one noise level after gradient flow on its
    DSM loss from an aligned start, per eigenvalue of :math:`\hat\Sigma` (Wang & Pehlevan 2025, Prop. 5.1).

    With :math:`P(0)P(0)^\top = Q I` (``init_scale`` Q > 0) the flow :math:`dP/d\tau = -\nabla_P F_t(PP^\top)` keeps
    P in the eigenbasis of :math:`\hat\Sigma`.  Per eigenvalue :math:`\mu`, with the loss of
    :func:`trained_denoiser` :math:`F_t = \mu - 2b\theta + c\theta^2` (:math:`b = m\mu`, :math:`c = m^2\mu + \sigma^2`,
    :math:`\theta^* = b/c`) and :math:`\theta = p^2`: :math:`dp/d\tau = -F_t'(p^2)\,2p = -4(c p^2 - b)p`, so

    .. math:: \frac{d\theta}{d\tau} = 8\theta(b - c\theta) = 8b\,\theta(1 - \theta/\theta^*), \qquad
              \theta(\tau) = \frac{Q}{E + Qc\,(1 - E)/b}, \quad E = e^{-8b\tau},

    a logistic curve: :math:`\theta^*Q/(Q + (\theta^* - Q)E)`, which is their eq. (8) with :math:`m = 1`
    (EDM, :math:`\eta = 1`: their :math:`\eta\tau` is our τ); the loss normalisation is theirs (no 1/2), so the rate
    :math:`8m\mu` is theirs.  It reaches the harmonic mean :math:`2Q\theta^*/(Q + \theta^*)` of its start and its
    limit at :math:`E = 1/2`: the emergence time :math:`\tau^* = \ln 2/(8m\mu)` for every Q (their
    :math:`\ln 2/(8\eta\lambda_k)`; for the VP family :math:`m_t < 1` slows it).  At :math:`\mu = 0`:
    :math:`\theta = Q/(1 + 8cQ\tau)`.

    Parameters
    ----------
    mu : array_like or Jet
        Eigenvalues of :math:`\hat\Sigma` (any shape).
    m, s2 : float or array_like
        :math:`m_t` and :math:`\sigma_t^2`, broadcasting with ``mu``.
    train_time : float
        τ ≥ 0 (``inf``: :math:`\theta^*`).
    init_scale : float
        Q > 0 (:math:`\theta = 0` is a fixed point of the flow).
    gap : bool
        Return :math:`\theta^* - \theta = E(b - Qc)/(c(E + Qc(1 - E)/b))` instead (no cancellation near the limit).

    Returns
    -------
    theta : ndarray or Jet, the broadcast shape
    """
    b = m * mu
    c = m * m * mu + s2
    if np.isinf(train_time):
        return 0.0 * c if gap else b / c
    x = 8.0 * train_time * b
    E = _jet.exp(-x)
    den = E + init_scale * c * (8.0 * train_time) * _relaxation(x)
    if gap:
        return E * (b - init_scale * c) / (c * den)
    return init_scale / den


def train_denoisers_drawn(X, m, s2, train_time: float, lr: float, rng, init: str = "zero") -> np.ndarray:
    r"""Linear denoisers of several noise levels trained by gradient descent on their DSM losses with the noise
    drawn, as practitioners train: step j draws fresh :math:`w_{n}` for every sample and level and takes
    :math:`\theta \leftarrow \theta - 2\eta(\theta\hat C_j - \hat B_j)`, :math:`\hat C_j = \frac1N\sum_n y_ny_n^\top`,
    :math:`\hat B_j = \frac1N\sum_n x_ny_n^\top`, :math:`y_n = m x_n + \sigma w_n`, for :math:`\mathrm{round}(\tau/\eta)`
    steps from θ = 0 or I.  The noise at a step is independent of θ, so :math:`\mathbb E\theta` follows the
    expected-loss recursion exactly (:func:`trained_denoiser` in the eigenbasis of :math:`\hat\Sigma`); the drawn
    noise adds fluctuations of order η.

    Parameters
    ----------
    X : ndarray, shape ``(N, d)``
        The training set.
    m, s2 : array_like, shape ``(L,)``
        Signal scales :math:`m_t` and noise variances :math:`\sigma_t^2` of the L levels.
    train_time, lr : float
        τ and the step η > 0.
    rng : numpy.random.Generator

    Returns
    -------
    theta : ndarray, shape ``(L, d, d)``
    """
    _checks.choice("fit.init", init, FIT_INITS)
    X = np.asarray(X, dtype=float)
    m, s = np.asarray(m, dtype=float), np.sqrt(np.asarray(s2, dtype=float))
    N, d = X.shape
    L = m.size
    theta = np.zeros((L, d, d)) if init == "zero" else np.broadcast_to(np.eye(d), (L, d, d)).copy()
    for _ in range(int(round(train_time / lr))):
        Y = m[:, None, None] * X + s[:, None, None] * rng.standard_normal((L, N, d))
        C = np.einsum("lni,lnj->lij", Y, Y) / N
        B = np.einsum("ni,lnj->lij", X, Y) / N
        theta -= 2.0 * lr * (theta @ C - B)
    return theta


@dataclass(frozen=True)
class Training:
    """How the score of every noise level is learned (``fit.method``, ``fit.train_time``, ``fit.init``, ``fit.lr``):
    the linear denoiser of each level trained on its DSM loss (:func:`gaussdsm.dsm.trained_denoiser`) by gradient
    flow for a time τ, or by full-batch gradient descent with step ``lr`` for round(τ/lr) steps, from θ = 0 or I;
    with ``depth`` 2 (``fit.depth``) the symmetric two-layer θ = PPᵀ by gradient flow from PPᵀ = ``init_scale`` I
    (:func:`trained_denoiser_depth2`); ``exact`` (or τ = inf): the minimiser, the scores every other part of the
    package uses."""

    method: str = "exact"
    train_time: float = math.inf
    init: str = "zero"
    lr: float = 0.0
    noise: str = "expected"
    """How Monte Carlo trains (``fit.noise``): on the expected loss (the laws and theory of this class), or by
    gradient descent with the noise drawn at every step (:func:`gaussdsm.montecarlo.drawn_noise_errors`; gd only)."""
    depth: int = 1
    """``fit.depth``: 1 (the denoiser θ itself is trained) or 2 (θ = PPᵀ, :func:`trained_denoiser_depth2`;
    gradient_flow only)."""
    init_scale: float | None = None
    """``fit.init_scale``: depth 2's aligned start :math:`PP^\\top = QI` (Q > 0; None:
    :data:`DEFAULT_INIT_SCALE`)."""

    def __post_init__(self):
        _checks.choice("fit.method", self.method, FIT_METHODS)
        _checks.choice("fit.init", self.init, FIT_INITS)
        object.__setattr__(self, "train_time", _checks.number("fit.train_time", self.train_time, ge=0, allow_inf=True))
        object.__setattr__(self, "lr", _checks.number("fit.lr", self.lr, ge=0))
        if self.method == "gd" and not self.lr > 0:
            raise ValueError("fit.lr must be > 0 with fit.method gd (the gradient step)")
        if self.method == "gradient_flow" and self.lr != 0:
            raise ValueError("fit.lr is only used by fit.method gd")
        _checks.choice("fit.noise", self.noise, ("expected", "drawn"))
        broken = rules.drawn_noise(self.noise, self.method, self.train_time)
        if broken:
            raise ValueError(broken)
        broken = rules.fit_depth(self.depth, self.method, self.init, self.init_scale)
        if broken:
            raise ValueError(broken)
        object.__setattr__(self, "depth", int(self.depth))
        if self.depth == 2:
            object.__setattr__(self, "init_scale", DEFAULT_INIT_SCALE if self.init_scale is None else
                               _checks.number("fit.init_scale", self.init_scale, gt=0))

    @property
    def is_minimiser(self) -> bool:
        """The fit is the DSM minimiser (``fit.method: exact``, or trained for an infinite time)."""
        return self.method == "exact" or math.isinf(self.train_time)

    def score_coefficient(self, mu, m2, s2):
        r""":math:`a_t = (1 - m_t\theta_t)/\sigma_t^2` (Tweedie) for the trained denoiser :math:`\theta_t` of level t."""
        m = np.sqrt(m2)
        if self.depth == 2:
            theta = trained_denoiser_depth2(mu, m, s2, self.train_time, self.init_scale)
        else:
            theta = trained_denoiser(mu, m, s2, self.train_time, self.init, self.lr if self.method == "gd" else 0.0)
        return (1.0 - m * theta) / s2

    def score_gap(self, mu, m2, s2):
        r""":math:`a_t - 1/\lambda_t = m_t(\theta^*_t - \theta_t)/\sigma_t^2`: how far the trained score coefficient is
        from the minimiser's, :math:`1/\lambda_t` with :math:`\lambda_t = m_t^2\mu + \sigma_t^2` (Tweedie:
        :math:`1/\lambda_t = (1 - m_t\theta^*_t)/\sigma_t^2`), without the cancellation of ``score_coefficient``
        minus it; what the continuous-time law integrates (:mod:`gaussdsm.samplers.diffusion.continuous`).  Depth 1:
        :math:`\theta^* - \theta = (\theta^* - \theta_0)e^{-2c\tau}` (gd: :math:`(1 - 2\eta c)^K`); depth 2:
        :func:`trained_denoiser_depth2` (``gap=True``)."""
        m = np.sqrt(m2)
        if self.depth == 2:
            gap = trained_denoiser_depth2(mu, m, s2, self.train_time, self.init_scale, gap=True)
        else:
            c = m * m * mu + s2
            if np.isinf(self.train_time):
                return 0.0 * c
            lr = self.lr if self.method == "gd" else 0.0
            decay = (_jet.exp(-2.0 * self.train_time * c) if lr == 0 else
                     _jet.power(1.0 - 2.0 * lr * c, float(round(self.train_time / lr))))
            gap = (m * mu / c - (0.0 if self.init == "zero" else 1.0)) * decay
        return m * gap / s2

