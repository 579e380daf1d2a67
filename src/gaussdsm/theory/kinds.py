r"""Which theory gives a result's ``total``: a registry of theory kinds (:data:`THEORIES`), one entry per kind.

* ``expansion``: the first-order expansion in :math:`1/N` and :math:`\tau` (:func:`gaussdsm.theory.error_terms`,
  theory.md R5-R9), every model and sampler; its terms (``bias``, ``generalization``, ``optimization``) are the
  interpretable decomposition and stay in every result whatever the kind;
* ``exact``: the expected error at every N for the diagonal and Fourier denoisers, by quadrature against each mode's
  chi-square law (:func:`gaussdsm.theory.exact_n.exact_error`), exact and trained fits (``tau = 0``);
* ``deterministic_equivalent``: the full denoiser in the proportional regime (d and N large, N/d fixed), by random
  matrix theory (:func:`gaussdsm.theory.proportional.deterministic_equivalent`: Silverstein's equation and the
  Ledoit-Peche overlaps); the KL divergences are deterministic, W2's fidelity term is not (it is estimated from a few
  exact draws, and the point says so in its note); in regime for d >= 100 (its O(1/d) corrections); at N = inf the
  population error, exactly.

``auto`` takes, at each point, the first kind of :data:`AUTO` that applies there (the exact value where it exists,
else the expansion; the deterministic equivalent is asked for by its name).  A kind is one :class:`TheoryKind` (its name, what it applies to, how a point is computed) plus
one entry in :data:`THEORIES`: the front door (:func:`gaussdsm.error`), the command ``gaussdsm error --theory`` and
the workflow's ``theory.kind`` read this registry only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["TheoryKind", "PointValue", "THEORIES", "AUTO", "CHOICES", "DEFAULT", "applies", "resolve", "evaluate"]


@dataclass(frozen=True)
class PointValue:
    """One point's value by a theory kind: ``total`` (the expected error), ``p_unstable`` (the probability that a
    replicate's chain is unstable; the total is conditioned on stability), ``quad_error`` (estimated relative error
    of the numerical method), ``reason`` (why ``total`` is infinite, NaN or not converged, or how it was estimated
    where a part is not deterministic; '' otherwise), ``in_regime``."""

    total: float
    p_unstable: float = 0.0
    quad_error: float = 0.0
    reason: str = ""
    in_regime: bool = True
    """False where the kind's own conditions for accuracy fail (a deterministic equivalent at small d)."""


@dataclass(frozen=True)
class TheoryKind:
    """A theory kind.

    ``name``; ``description`` (one line); ``models``: the denoisers (``fit.model``) it applies to; ``sgd``: whether
    it applies at ``tau > 0``; ``not_for``: the end of the one-line message when it does not apply (what to use
    instead); ``point``: ``(lam (d,), n_samples, sigma, sampler, model, kappa (d,) or None, metric) -> PointValue``,
    or None for the expansion (the terms :func:`gaussdsm.theory.error_terms` already gives); ``phrase``: what its
    total is, in a few words."""

    name: str
    description: str
    models: tuple[str, ...]
    sgd: bool
    not_for: str = ""
    point: Callable[..., PointValue] | None = None
    phrase: str = ""
    """What its total is, in a few words (the command line's ``theory:`` line)."""

    def why_not(self, model: str, tau: float = 0.0) -> str:
        """'' if the kind applies to ``model`` at SGD step ``tau``, else why not (one clause)."""
        if model not in self.models:
            return (f"{self.name} is for fit.model {' or '.join(self.models)}, got {model}"
                    + (f"; {self.not_for}" if self.not_for else ""))
        if tau > 0 and not self.sgd:
            return f"{self.name} is for exact and trained fits (grid.tau = 0), got tau = {tau:g}"
        return ""


def _exact_point(lam, n_samples, sigma, sampler, model, kappa, metric) -> PointValue:
    from .exact_n import exact_error

    ex = exact_error(lam, n_samples, sigma, sampler=sampler, model=model, kappa=kappa, metric=metric)
    return PointValue(ex.mean, ex.p_unstable, ex.quad_error, ex.reason)


def _deterministic_point(lam, n_samples, sigma, sampler, model, kappa, metric) -> PointValue:
    from ..metrics import get
    from .proportional import MIN_D, deterministic_equivalent

    if math.isinf(n_samples):  # the population score: C = F(Sigma), commuting with it
        F, ok = sampler.variance_and_stable(np.asarray(lam, dtype=float), sigma)
        if not np.all(ok):
            return PointValue(math.nan, 1.0, reason="the sampler is unstable with the population score")
        return PointValue(float(get(metric).commuting(np.asarray(F, dtype=float), np.asarray(lam, dtype=float))))
    if np.any(np.asarray(lam) == 0):  # recorded with its reason, never a crashed job
        why = get(metric).singular_reason(np.ones(len(lam)), np.asarray(lam, dtype=float))
        return PointValue(math.inf, reason=why) if why else PointValue(
            math.nan, reason="the deterministic equivalent needs a spectrum without zero eigenvalues (its spectral law "
                             "and overlaps are solved for lam > 0): drop the null space, or use the expansion")
    de = deterministic_equivalent(lam, n_samples, sigma, sampler=sampler, model=model, metric=metric)
    note = "; ".join(x for x in (de.reason, de.regime_note) if x)
    return PointValue(de.mean, de.p_unstable, de.quad_error, note, in_regime=len(lam) >= MIN_D)


THEORIES: dict[str, TheoryKind] = {
    "expansion": TheoryKind("expansion", "first order in 1/N and tau (R5-R9): every model and sampler",
                            ("full", "diagonal", "fourier", "conv"), sgd=True),
    "exact": TheoryKind("exact", "exact at every N by chi-square quadrature per mode (diagonal and Fourier denoisers)",
                        ("diagonal", "fourier"), sgd=False,
                        not_for="fit.model full takes expansion (deterministic_equivalent: the full model's "
                                "proportional regime)",
                        point=_exact_point, phrase="total at every N"),
    "deterministic_equivalent": TheoryKind(
        "deterministic_equivalent", "deterministic equivalent of the full denoiser in the proportional regime (random "
        "matrix theory; W2's fidelity term by Monte Carlo)", ("full",), sgd=False,
        not_for="the diagonal and fourier models take exact", point=_deterministic_point,
        phrase="total in the proportional regime, d and N large at fixed N/d"),
}
"""The theory kinds by name."""
AUTO = ("exact", "expansion")
"""``auto``: at each point the first of these kinds that applies."""
DEFAULT = "expansion"
"""The default kind of :func:`gaussdsm.error`, ``gaussdsm error`` and a study's ``theory.kind`` (existing results
unchanged: the exact value is opt-in)."""
CHOICES = ("auto", *THEORIES)
"""The allowed values of a ``theory`` option."""


def applies(kind: str, model: str, tau: float = 0.0) -> bool:
    return not THEORIES[kind].why_not(model, tau)


def resolve(kind: str, model: str, tau: float = 0.0, *, key: str = "theory.kind") -> str:
    """The kind used at a point: ``kind`` itself if it applies (else ``ValueError``, one line naming ``key``), or
    for ``auto`` the first of :data:`AUTO` that applies."""
    if kind == "auto":
        return next(k for k in AUTO if applies(k, model, tau))
    if kind not in THEORIES:
        raise ValueError(f"{key} must be one of {', '.join(CHOICES)}; got {kind!r}")
    why = THEORIES[kind].why_not(model, tau)
    if why:
        raise ValueError(f"{key}: {why}")
    return kind


def evaluate(kind: str, ds, lam, spec, *, model: str, kappa=None, metric: str = "w2", sigma_axis: str = "sigma"):
    """Kind ``kind`` (not ``expansion``) at every point of ``ds`` (an :func:`~gaussdsm.theory.error_terms` Dataset:
    its dimensions or scalar coordinates ``n_samples``, ``sigma``, ``tau`` and the sampler's axes).

    ``spec``: the :class:`~gaussdsm.samplers.spec.SamplerSpec` whose :meth:`make` builds each point's sampler.
    Returns ``{"total", "p_unstable", "quad_error": float arrays, "reason": str array, "in_regime": bool array}`` of
    ``ds["total"]``'s shape
    (the kind's values; NaN with the reason where the kind does not apply at a point, e.g. ``tau > 0``)."""
    th = THEORIES[kind]
    dims, shape = ds["total"].dims, ds["total"].shape
    out = {k: np.full(shape, np.nan) for k in ("total", "p_unstable", "quad_error")}
    out["reason"] = np.full(shape, "", dtype=object)
    out["in_regime"] = np.zeros(shape, dtype=bool)
    made = {}
    for idx in np.ndindex(shape):
        pt = ds.isel(dict(zip(dims, idx)))
        tau = float(pt["tau"]) if "tau" in pt.coords else 0.0
        why = th.why_not(model, tau)
        if why:
            out["reason"][idx] = why
            continue
        setting = tuple(pt[a].values.item() for a in spec.axes)
        if setting not in made:
            made[setting] = spec.make(setting)
        N = float(pt["n_samples"])
        sigma = float(pt[sigma_axis]) if sigma_axis in pt.coords else 0.0
        v = th.point(lam, math.inf if math.isinf(N) else int(N), sigma, made[setting], model, kappa, metric)
        out["total"][idx], out["p_unstable"][idx], out["quad_error"][idx] = v.total, v.p_unstable, v.quad_error
        out["reason"][idx], out["in_regime"][idx] = v.reason, v.in_regime
    out["reason"] = out["reason"].astype(str)
    return out
