"""The sampler interface and the Langevin family's common part (samplers.md §1–§3).

Every sampler with a linear score is described, per eigen-direction, by its **variance map** F: the variance
of its output along an eigenvector of the covariance the score is built from, as a function of that
eigenvalue :math:`\\mu` (an eigenvalue of :math:`\\hat\\Sigma` for a learned exact score, of :math:`\\Sigma` for
the population score).  The output covariance is :math:`C = U\\,\\mathrm{diag}(F(\\mu))\\,U^\\top`.  A sampler
provides:

* ``variance(mu, sigma)``: :math:`F(\\mu)`; ``deviation(mu, sigma)``: :math:`F(\\mu) - \\mu` computed without
  cancellation (the bias is :math:`\\sum_i D_i^2 / (\\sqrt{F_i} + \\sqrt{\\lambda_i})^2`).  Both accept a
  :class:`~gaussdsm._jet.Jet` for ``mu`` and then also return :math:`F'`, :math:`F''`;
* ``stable(mu, sigma)``: per mode, whether the score is finite and the recursion stable;
* ``n_samples_scale(lam, sigma)``: the N the 1/N expansion needs to exceed by far (theory.md §7.2 note 5);
* ``optimization_theory``: where R8 (the SGD term) applies to this sampler.

Parameters are arrays that broadcast together (a grid of settings, shape ``B``); ``mu`` has shape
``B + (d,)`` or ``(d,)``: the last axis is the modes.

The Langevin family (ULA, ULD) runs a Markov chain with one fixed score :math:`-Ay`, learned at noise
:math:`\\sigma`: its variance map is a function of the score's eigenvalue :math:`a = 1/(\\mu + \\sigma^2)`
(``score_variance``), and it also has laws for a general, non-symmetric score matrix (an SGD fit:
``covariance``) and particle chains (``particles``).
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod

import numpy as np

from .. import _checks, _jet, rules
from ._laws import is_symmetric

__all__ = ["Sampler", "LangevinSampler", "col", "LANGEVIN_CONFIG_KEYS"]

LANGEVIN_CONFIG_KEYS = ("kind", "n_steps", "init_var", "friction", "allow_unstable")
"""The keys of a Langevin study's ``sampler:`` section (the schema's other keys are the diffusion sampler's)."""


def col(x):
    """A parameter array with a trailing axis for the modes."""
    return np.asarray(x, dtype=float)[..., None]


class Sampler(ABC):
    """The sampler interface (module docstring): a sampler is its variance map, per eigenvalue ``mu`` of the
    covariance its score is built from, for a grid of settings of its parameters (shape :attr:`shape`)."""

    kind: str = ""
    #: grid parameters of this sampler (dimension names), besides the fit's (n_samples, sigma, tau)
    axes: tuple = ()

    @abstractmethod
    def variance(self, mu, sigma):
        r""":math:`F(\mu)`, shape ``B + (d,)``; a :class:`~gaussdsm._jet.Jet` ``mu`` gives a Jet
        (:math:`F, F', F''`)."""

    @abstractmethod
    def deviation(self, mu, sigma):
        r""":math:`F(\mu) - \mu` without cancellation (Jets as :meth:`variance`)."""

    def terms(self, mu, sigma):
        """``(variance, deviation)`` together (subclasses share the work where they can)."""
        return self.variance(mu, sigma), self.deviation(mu, sigma)

    def variance_and_stable(self, mu, sigma):
        """``(variance, stable per mode)`` for arrays ``mu`` (subclasses share the work where they can)."""
        return self.variance(mu, sigma), self.stable(mu, sigma)

    @abstractmethod
    def stable(self, mu, sigma):
        """Per mode (shape ``B + (d,)``): the score is finite at every evaluation and the recursion stable."""

    @classmethod
    @abstractmethod
    def config_errors(cls, study, where: str) -> list[str]:
        """What is wrong with a study's configuration for this kind of sampler, one line per problem naming the key
        (``where`` is the study's dotted path): keys of other kinds, settings that cannot be made, unstable points.
        ``study``: a :class:`gaussdsm.study.Study` (its ``config``, ``grid``, ``sampler`` spec and ``lam``)."""

    @abstractmethod
    def n_samples_scale(self, lam, sigma):
        """The N the 1/N expansion needs to exceed by far (theory.md §7.2 note 5), shape ``B``."""

    @property
    def optimization_theory(self):
        """Where the SGD term R8 is derived for this sampler (broadcast shape of the parameters)."""
        return np.zeros(self.shape, dtype=bool)

    @property
    def shape(self) -> tuple:
        return ()


class LangevinSampler(Sampler):
    """A Markov chain with one fixed linear score :math:`-Ay` (ULA, ULD), run ``n_steps`` steps of size ``gamma``
    from :math:`y_0 \\sim \\mathcal N(0, v_0 I)` (``init_var`` :math:`v_0`; ``n_steps = inf``: the stationary law).

    Subclasses implement, for the score eigenvalue ``a`` (a Jet or an array of shape ``B + (d,)``):
    ``score_variance(a)`` (the output variance), ``score_excess(a)`` (:math:`F - 1/a`, without cancellation),
    ``stability_interval()`` (the recursion is stable iff ``a_lo < a < a_hi``) and, for general matrices,
    ``covariance(A)`` and ``particles(A, ...)``.
    """

    def __init__(self, gamma, n_steps=math.inf, init_var=1.0):
        self.gamma = np.asarray(gamma, dtype=float)
        self.n_steps = np.asarray(n_steps, dtype=float)
        self.init_var = np.asarray(init_var, dtype=float)
        if np.any(~np.isfinite(self.gamma)) or np.any(self.gamma < 0):
            raise ValueError(f"gamma must be finite and >= 0, got {gamma!r}")
        if np.any(~((self.n_steps >= 1) & (np.isinf(self.n_steps) | (self.n_steps == np.round(self.n_steps))))):
            raise ValueError(f"n_steps must be an integer >= 1 or inf, got {n_steps!r}")
        if np.any(~np.isfinite(self.init_var)) or np.any(self.init_var < 0):
            raise ValueError(f"init_var must be finite and >= 0, got {init_var!r}")

    @property
    def shape(self) -> tuple:
        return np.broadcast_shapes(self.gamma.shape, self.n_steps.shape, self.init_var.shape)

    @classmethod
    def config_errors(cls, study, where: str) -> list[str]:
        """The Langevin family's checks: no diffusion keys, sigma and gamma on the grid, friction with ULD only,
        integer n_steps, gamma > 0 for finite n_steps, and (unless ``sampler.allow_unstable``) stability with the
        population score at every grid point (the bound in words and numbers: :meth:`stability_rule`)."""
        cfg = study.config["sampler"]
        given = [k for k in cfg if k not in LANGEVIN_CONFIG_KEYS]  # the schema knows only the diffusion ones besides
        why = rules.only_for_diffusion(f"sampler.{k}" for k in given) or rules.required_by(
            cfg["kind"], [f"grid.{k}" for k in ("sigma", "gamma") if k not in study.grid])
        if why:
            return [f"{where}.{why}"]
        sp, g = study.sampler, study.grid
        axes, friction = sp.axes, sp.axes.get("friction")
        uses_friction = "friction" in cls.axes
        if friction is not None and not uses_friction:
            return [f"{where}.sampler.friction is only used by sampler.kind: uld"]
        if friction is None and uses_friction:
            return [f"{where}.sampler.friction is required by sampler.kind: {cls.kind} (friction gamma_f > 0, e.g. "
                    "[2.0])"]
        errors = []
        bad_k = [k for k in axes["n_steps"] if not (math.isinf(k) or (k == int(k) and k >= 1))]
        if bad_k:
            errors.append(f"{where}.sampler.n_steps must be integers >= 1 or inf; got {bad_k}")
        if 0.0 in g["gamma"] and any(math.isfinite(k) for k in axes["n_steps"]):
            errors.append(f"{where}.grid.gamma: a finite sampler.n_steps needs gamma > 0 (with gamma = 0 the chain "
                          "does not move); gamma = 0 is the continuous-time stationary law, n_steps: [inf]")
        if errors or cfg["allow_unstable"]:
            return errors
        lam = study.lam
        combos = list(itertools.product(g["sigma"], *axes.values()))
        cols = list(zip(*combos))
        kw = {"friction": np.array(cols[3])} if uses_friction else {}
        s = cls(gamma=np.array(cols[1]), n_steps=np.array(cols[2]), **sp.params, **kw)
        ok = np.all(s.stable(lam, np.array(cols[0])), axis=-1)
        bad = [c for c, o in zip(combos, ok) if not o]
        if not bad:
            return errors
        lam_min, lam_max = float(lam.min()), float(lam.max())
        rule = (f"{cls.kind.upper()} is unstable unless {cls.stability_rule()}, with lam_min = {_checks.fmt(lam_min)}"
                + (f", lam_max = {_checks.fmt(lam_max)}" if uses_friction else ""))
        pairs = ", ".join(cls.offending_setting(lam_min, c) for c in bad[:4])
        errors.append(
            f"{where}.grid.gamma: {rule}; offending {pairs}{' ...' if len(bad) > 4 else ''}. Lower grid.gamma, raise "
            f"grid.sigma{', change sampler.friction' if uses_friction else ''}, or set "
            f"{where}.sampler.allow_unstable: true to record these points as diverged"
        )
        return errors

    @classmethod
    def offending_setting(cls, lam_min: float, setting: tuple) -> str:
        """One unstable ``(sigma, gamma, n_steps[, friction])`` of the grid, for the config error."""
        names = ("sigma", *cls.axes)
        return "(" + ", ".join(f"{k}={_checks.fmt(v)}" for k, v in zip(names, setting) if k != "n_steps") + ")"


    @property
    def stationary(self) -> np.ndarray:
        return np.isinf(self.n_steps)

    # ------------------------------------------------------------------ per eigenvalue of the covariance
    @staticmethod
    def score_coefficient(mu, sigma):
        """:math:`a = 1/(\\mu + \\sigma^2)`: the eigenvalue of the score learned (or given) at noise sigma."""
        s = mu + col(sigma) ** 2
        with np.errstate(divide="ignore"):
            return 1.0 / s

    def variance(self, mu, sigma):
        """:math:`F(\\mu) = G(1/(\\mu + \\sigma^2))`, ``G = score_variance``."""
        return self.score_variance(self.score_coefficient(mu, sigma))

    def deviation(self, mu, sigma):
        """:math:`F(\\mu) - \\mu = \\sigma^2 + (G(a) - 1/a)`, from ``score_excess`` (no cancellation)."""
        return col(sigma) ** 2 + self.score_excess(self.score_coefficient(mu, sigma))

    def terms(self, mu, sigma):
        G, excess = self.score_terms(self.score_coefficient(mu, sigma))
        return G, col(sigma) ** 2 + excess

    def score_terms(self, a):
        """``(score_variance(a), score_excess(a))``."""
        return self.score_variance(a), self.score_excess(a)

    def stable(self, mu, sigma):
        """Per mode: the score is finite (:math:`\\mu + \\sigma^2 > 0`) and the recursion stable."""
        s = _jet.value(mu) + col(sigma) ** 2
        with np.errstate(divide="ignore"):
            a = np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), np.inf)
        return (s > 0) & self.score_stable(a)

    @abstractmethod
    def stability_interval(self):
        """``(a_lo, a_hi)``, shape ``B + (1,)``: the recursion with score eigenvalue ``a`` is stable iff
        ``a_lo < a < a_hi``."""

    @abstractmethod
    def score_variance(self, a):
        """The output variance along a score eigenvalue ``a`` (array or Jet, shape ``B + (d,)``)."""

    @abstractmethod
    def score_excess(self, a):
        """:math:`G(a) - 1/a` without cancellation."""

    @abstractmethod
    def explain_unstable(self, lam_min: float, lam_max: float, sigma: float) -> str:
        """Why this setting (scalar parameters) is unstable for a spectrum in ``[lam_min, lam_max]`` learned at
        ``sigma``: the stability condition with its numbers, one clause (``gamma = 0.5 >= 2 (lam_min + sigma^2) =
        0.13``)."""

    @classmethod
    @abstractmethod
    def stability_rule(cls) -> str:
        """The stability condition in words, for every setting (``gamma < 2 (lam_min + sigma^2)``)."""

    def score_stable(self, a):
        lo, hi = self.stability_interval()
        return (a > lo) & (a < hi)

    def n_samples_scale(self, lam, sigma, per_mode: bool = False):
        """:math:`2(\\lambda_{\\max}/m)^2`, m the distance of :math:`s = \\lambda + \\sigma^2` to the stability bounds
        (ULA: :math:`m = \\lambda_{\\min} + \\sigma^2 - \\gamma/2`, theory.md §7.2 note 5); ``inf`` where unstable.

        ``per_mode`` (the diagonal models, whose modes do not interact): :math:`\\max_i 2(\\lambda_i/m_i)^2`, each mode
        against its own distance :math:`m_i` to the bounds (a mode of zero variance sets no scale)."""
        lam = _checks.spectrum(lam, allow_zero=True)
        sigma = np.asarray(sigma, dtype=float)
        if not per_mode:
            m = self.stability_margin(lam.min(), lam.max(), sigma)
            with np.errstate(divide="ignore"):
                return np.where(m > 0, 2.0 * (lam.max() / np.where(m > 0, m, 1.0)) ** 2, np.inf)
        shape = np.broadcast_shapes(sigma.shape, self.shape)
        col_lam = lam.reshape((-1,) + (1,) * len(shape))  # modes first, the parameters' shape after
        m = self.stability_margin(col_lam, col_lam, sigma)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(m > 0, 2.0 * (col_lam / np.where(m > 0, m, 1.0)) ** 2, np.inf)
        return np.broadcast_to(r, (lam.size,) + shape).max(axis=0)

    def stability_margin(self, lam_min, lam_max, sigma):
        """Distance of :math:`s = \\lambda + \\sigma^2` to the nearest stability bound (from ``stability_interval``)."""
        lo, hi = (np.asarray(x, dtype=float)[..., 0] for x in self.stability_interval())
        with np.errstate(divide="ignore"):
            s_lo = np.where(np.isinf(hi), 0.0, 1.0 / hi)
            s_hi = np.where(lo > 0, 1.0 / np.where(lo > 0, lo, 1.0), np.inf)
        return np.minimum(lam_min + sigma**2 - s_lo, s_hi - (lam_max + sigma**2))

    # ------------------------------------------------------------------ general score matrices
    def law(self, A):
        """Output covariances for a batch of score matrices ``A (R, d, d)`` (one setting of the parameters).

        Symmetric ``A = V diag(a) V^T`` (an exact fit): :math:`C = V\\,\\mathrm{diag}(G(a))\\,V^\\top`; general ``A``
        (SGD): ``covariance``.  Returns ``(C, stable)``; ``C`` is NaN where unstable or not finite.
        """
        if self.shape != ():
            raise ValueError("law() needs one parameter setting (scalar gamma, n_steps, ...)")
        A = np.asarray(A, dtype=float)
        finite = np.all(np.isfinite(A), axis=(-2, -1))
        safe = np.where(finite[..., None, None], A, np.eye(A.shape[-1]))
        if is_symmetric(np.where(finite[..., None, None], A, 0.0)):
            a, V = np.linalg.eigh(safe)
            stable = finite & np.all(self.score_stable(a), axis=-1)
            c = self.score_variance(a)
            C = (V * c[..., None, :]) @ np.swapaxes(V, -1, -2)
        else:
            C, stable = self.covariance(safe)
            stable = stable & finite
        return np.where(stable[..., None, None], C, np.nan), stable

    @abstractmethod
    def covariance(self, A):
        """``(C, stable)`` for general (non-symmetric) score matrices ``A (R, d, d)``: the law by a matrix recursion
        (samplers.md §2)."""

    @abstractmethod
    def particles(self, A, n_particles, rng):
        """Particle chains of the scheme with score matrix ``A`` (validation of :meth:`covariance`)."""

