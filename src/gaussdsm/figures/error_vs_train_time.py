r"""P11: :math:`\mathbb E W_2^2` against the training time of the denoisers, N below and above d (our proposal).

The linear denoiser of every noise level is trained on its DSM loss by gradient flow (or full-batch gradient descent)
for a time τ (:class:`gaussdsm.samplers.diffusion.Training`): per eigenvalue of :math:`\hat\Sigma` a spectral filter
of the exact fit, :math:`\theta = \theta^*(1 - e^{-2c\tau}) + \theta_0e^{-2c\tau}`, :math:`c = m_t^2\mu + \sigma_t^2`.
High-variance modes are learned first (time ∝ 1/c), low-variance ones last, so early stopping leaves the fine modes
at the untrained denoiser and trained longer the fit tends to the exact DSM minimiser, with its generalization error
(and for N < d its memorisation: the zero eigenvalues of :math:`\hat\Sigma` collapse as :math:`t_{\min} \to 0`).  One
panel per stopping time :math:`t_{\min}`: the first-order theory (lines, one per N) on a dense τ grid, the exact fit
(dashed, τ = ∞; dotted where N is outside the first-order regime), Monte-Carlo points over training sets at the
study's τ.  At the study's first scheme,
initialisation and n_steps.

A study with ``theory.kind: exact`` (or ``auto``) and a diagonal or Fourier denoiser (``p11_diagonal`` of
``config/p11.yaml``) is drawn with the exact theory at every N (:func:`gaussdsm.theory.exact_error`, on
:data:`N_EXACT_TAU` training times): solid lines for τ finite, dash-dotted for the exact fit, the first-order
expansion thin and dashed beside them.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..vocabulary import dataset
from ._data import diffusion_theory, mc_vars

DATA_TITLE = "data behind figure P11 (error vs training time)"
N_EXACT_TAU = 24
"""Training times of the exact theory's lines (each point one quadrature per mode)."""


def _exact_lines(s: xr.Dataset, Ns, tms, taus):
    """The exact theory at every N (:func:`gaussdsm.theory.exact_error`) on ``(n_samples, t_min, taus)`` and for
    the exact fit ``(n_samples, t_min)``, or None where the summary's theory kind does not call for it."""
    from ..theory import exact_error
    from ..theory.kinds import applies
    from ._data import diffusion_kwargs

    kw = diffusion_kwargs(s)
    model, kappa, metric = kw.pop("model"), kw.pop("kappa", None), kw.pop("metric", "w2")
    if str(s.attrs.get("theory", "expansion")) not in ("exact", "auto") or not applies("exact", model):
        return None
    kw.pop("train_time", None)
    lines, fits = np.full((len(Ns), len(tms), len(taus)), np.nan), np.full((len(Ns), len(tms)), np.nan)
    lam = s["lam"].values
    for i, N in enumerate(Ns):
        N = float(N) if np.isinf(N) else int(N)
        for j, tm in enumerate(tms):
            one = dict(kw, t_min=float(tm))
            for k, tau in enumerate(taus):
                lines[i, j, k] = exact_error(lam, N, sampler="diffusion", model=model, kappa=kappa, metric=metric,
                                             train_time=float(tau), **one).mean
            fit = {**one, "fit_method": "exact"}
            for key in ("fit_init", "lr"):
                fit.pop(key, None)
            fits[i, j] = exact_error(lam, N, sampler="diffusion", model=model, kappa=kappa, metric=metric,
                                     **fit).mean
    return lines, fits


def data(summary: xr.Dataset) -> xr.Dataset:
    """``theory_line (n_samples, t_min, tau_dense)``, ``exact_line (n_samples, t_min)`` (τ = ∞) and the MC points
    ``(n_samples, t_min, train_time)``."""
    s = summary.isel({k: 0 for k in ("scheme", "init", "n_steps") if k in summary.dims})
    tt = np.atleast_1d(s["train_time"].values).astype(float)
    fin = tt[np.isfinite(tt) & (tt > 0)]
    lo, hi = (fin.min() / 3, fin.max() * 3) if fin.size else (1e-2, 1e2)
    tau_dense = np.geomspace(lo, hi, 60)
    Ns = s["n_samples"].values
    tms = np.atleast_1d(s["t_min"].values).astype(float)
    th = diffusion_theory(s, Ns, t_min=list(tms), train_time=list(tau_dense))
    lines = th["total"].transpose("n_samples", "t_min", "train_time").values
    regime = th["in_regime"].transpose("n_samples", "t_min", "train_time").values
    exact = diffusion_theory(s, Ns, t_min=list(tms), fit_method="exact")["total"].transpose("n_samples", "t_min")
    pts = {k: (v.expand_dims("t_min") if "t_min" not in v.dims else v) for k, v in mc_vars(s).items()}
    tau_exact = np.geomspace(lo, hi, N_EXACT_TAU)
    ex = _exact_lines(s, Ns, tms, tau_exact)
    extra, coords = {}, {}
    if ex is not None:
        extra = {"exact_theory_line": (("n_samples", "t_min", "tau_exact"), ex[0], "theory_exact_line_train_time"),
                 "exact_theory_fit": (("n_samples", "t_min"), ex[1], "theory_exact_exact_fit")}
        coords = {"tau_exact": ("tau_exact", tau_exact, "train_time")}
    return dataset(
        {
            "theory_line": (("n_samples", "t_min", "tau_dense"), lines, "theory_line_train_time"),
            "in_regime": (("n_samples", "t_min", "tau_dense"), regime, "in_regime"),
            "exact_line": (("n_samples", "t_min"), exact.values, "theory_exact_fit"),
            **extra,
            **pts,
        },
        coords={"tau_dense": ("tau_dense", tau_dense, "train_time"), "t_min": ("t_min", tms, "t_min"), **coords},
        attrs={"d": int(s["lam"].size), "theory": "exact" if ex is not None else "expansion"},
    )


def draw(data: xr.Dataset):
    from ._plot import colors, diverged_marks, error_label, finish, key, loglog, mark, mc_points, panels

    Ns = data["n_samples"].values
    tms = data["t_min"].values
    col = colors(len(Ns))
    td = data["tau_dense"].values
    d = int(data.attrs.get("d", 0))
    fig, axes = panels(1, max(1, len(tms)), 4.4, 3.8)
    tt = np.atleast_1d(data["train_time"].values).astype(float)
    outside = False
    exact = "exact_theory_line" in data
    for c, tm in enumerate(tms):
        ax = axes[0, c]
        for j, N in enumerate(Ns):
            side = "" if not d or np.isinf(N) else (" < d" if N < d else " ≥ d")
            label = "N = ∞" if np.isinf(N) else f"N = {N:g}{side}"
            if exact:  # the exact theory at every N, solid; the first order thin and dashed
                ax.plot(data["tau_exact"].values, data["exact_theory_line"].values[j, c], "-", color=col[j], lw=1.5,
                        label=label)
                ax.plot(td, data["theory_line"].values[j, c], "--", color=col[j], lw=0.7)
                ax.axhline(float(data["exact_theory_fit"].values[j, c]), color=col[j], ls="-.", lw=1)
            else:
                inside = bool(np.all(data["in_regime"].values[j, c]))
                outside = outside or not inside
                ax.plot(td, data["theory_line"].values[j, c], "-" if inside else ":", color=col[j], lw=1.5,
                        label=label)
                ax.axhline(float(data["exact_line"].values[j, c]), color=col[j], ls="--", lw=1)
            pt = data.sel(n_samples=N, t_min=tm)
            ok = np.isfinite(tt)
            mc_points(ax, tt[ok], pt.isel(train_time=np.flatnonzero(ok)), col[j])
        loglog(ax)
        ax.set_xlabel("training time τ of every level's denoiser")
        ax.set_title(f"t_min = {tm:g}", fontsize=9)
        if c == 0:
            ax.set_ylabel(error_label(data, r"$\mathbb{E}\,W_2^2$"))
    if exact:
        marks = [mark("solid: exact theory at every N, trained for τ"),
                 mark("dash-dot: exact theory, exact fit (τ = ∞)", ls="-."),
                 mark("thin dashed: first-order theory (1/N expansion)", ls="--", lw=0.7),
                 mark("points: Monte Carlo ± 1 s.e.", marker="o", ls="", ms=4), *diverged_marks(data)]
    else:
        marks = [mark("solid: theory, trained for τ"), mark("dashed: theory, exact fit (τ = ∞)", ls="--"),
                 mark("points: Monte Carlo ± 1 s.e.", marker="o", ls="", ms=4), *diverged_marks(data)]
    if outside:
        marks.insert(1, mark("dotted: theory outside its regime (estimated second order > 5 % of the total)", ls=":"))
    key(fig, axes[0, 0], marks)
    a = data.attrs
    return finish(fig, f"P11 [{a.get('study', '')}]: error against the training time (d = {d})")
