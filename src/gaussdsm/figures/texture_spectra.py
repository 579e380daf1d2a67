r"""Real textures against their fitted power law (our proposal, a reconstruction of the analysis).

One column per study (a texture: the stationary Gaussian model of an image, :func:`gaussdsm.spectra.data.texture`).

* Top: the radially averaged power spectrum :math:`\bar P(|\omega|)` (mean of the eigenvalues in log-spaced rings of
  :math:`|\omega|`, log-log) and the fitted power law :math:`P(\omega) \approx A|\omega|^{-\beta}` (least squares in
  log-log on the ring means, :math:`\omega \ne 0`).
* Middle: the error terms against :math:`\sigma` (stationary ULA at the study's first :math:`\gamma`, largest N,
  its denoiser model): bias, generalization and their sum for the texture (solid) and for the fitted power law at
  the same frequencies (dashed; the mean frequency stays 0), with the texture's Monte-Carlo points.
* Bottom: a diffusion model on the same data (VP, continuous time, exact DSM scores learned from the same N): the
  error against the stopping time :math:`t_{\min}`, texture and fitted power law.

Does the fitted power law predict the real texture's error?  The titles give the ratio of the two totals at the
texture's optimal :math:`\sigma`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import theory
from ..vocabulary import dataset
from ._data import first_setting, kappa_kwargs, study_points, theory_kwargs

DATA_TITLE = "data behind the texture-spectra figure (real textures against their fitted power law)"
N_RINGS = 40
T_DENSE = np.geomspace(1e-4, 0.5, 40)
DIFFUSION = {"process": "vp", "scheme": "em", "n_steps": np.inf}


def power_law_fit(frequency, lam, n_rings: int = N_RINGS):
    """Ring means of ``lam`` in log-spaced bins of ``frequency`` > 0 and the fit ``lam ~ A frequency^-beta``.

    Returns ``(ring_frequency, ring_power, A, beta)`` (rings without modes are dropped)."""
    w, p = np.asarray(frequency, float), np.asarray(lam, float)
    keep = (w > 0) & (p > 0)
    edges = np.geomspace(w[keep].min(), w[keep].max() * (1 + 1e-12), n_rings + 1)
    idx = np.digitize(w[keep], edges) - 1
    counts = np.bincount(idx, minlength=n_rings)
    sums = np.bincount(idx, weights=p[keep], minlength=n_rings)
    wsum = np.bincount(idx, weights=w[keep], minlength=n_rings)
    ok = counts > 0
    rw, rp = wsum[ok] / counts[ok], sums[ok] / counts[ok]
    slope, intercept = np.polyfit(np.log(rw), np.log(rp), 1)
    return rw, rp, float(np.exp(intercept)), float(-slope)


def data(summaries: dict) -> xr.Dataset:
    """Per study ``<study>_ring_frequency``, ``_ring_power`` (rings), ``_<term>`` and ``_fit_<term>`` (sigma_dense),
    ``_t_total`` and ``_fit_t_total`` (t_dense), the MC points (sigma_<study>); the fit's A and beta in attributes."""
    out, coords, attrs = {}, {"t_dense": ("t_dense", T_DENSE, "t_min")}, {"studies": ",".join(summaries)}
    for name, s in summaries.items():
        s = first_setting(s)
        pt = s.isel(n_samples=-1, gamma=0, tau=0)
        N, g = float(pt["n_samples"]), float(pt["gamma"])
        lam, w = s["lam"].values, s["frequency"].values
        rw, rp, A, beta = power_law_fit(w, lam)
        lam_fit = np.where(w > 0, A * np.where(w > 0, w, 1.0) ** -beta, 0.0)
        kw = theory_kwargs(s)
        kw.pop("n_steps", None)
        sig = s["sigma"].values
        sd = np.geomspace(sig.min() / 1.5, sig.max() * 1.5, 60)
        ring, sdim = f"ring_{name}", f"sigma_{name}"
        out[f"{name}_ring_frequency"] = (ring, rw, ("study_ring_frequency", {"study": name}))
        out[f"{name}_ring_power"] = (ring, rp, ("study_ring_power", {"study": name}))
        out[f"{name}_ring_fit"] = (ring, A * rw**-beta, ("study_ring_fit", {"study": name}))
        totals = {}
        for tag, spec in (("", lam), ("fit_", lam_fit)):
            th = theory.error_terms(spec, N, sd, g, **kw)
            for k in ("bias", "generalization", "total"):
                out[f"{name}_{tag}{k}"] = ("sigma_dense_" + name, th[k].values,
                                           ("study_theory_term", {"term": f"{tag}{k}", "study": name}))
            totals[tag] = th["total"].values
            dth = theory.error_terms(spec, N, sampler="diffusion", t_min=T_DENSE, model=kw["model"],
                                     **kappa_kwargs(s), **DIFFUSION)
            out[f"{name}_{tag}t_total"] = ("t_dense", dth["total"].values,
                                           ("study_theory_term", {"term": f"{tag}diffusion total", "study": name}))
        coords["sigma_dense_" + name] = ("sigma_dense_" + name, sd, ("study_sigma", {"study": name}))
        coords[sdim] = (sdim, sig, ("study_sigma", {"study": name}))
        for k in ("mc_mean", "mc_stderr", "diverged"):
            out[f"{name}_{k}"] = (sdim, pt[k].values, (f"study_{k}", {"study": name}))
        j = int(np.nanargmin(totals[""]))
        attrs.update({f"{name}_A": A, f"{name}_beta": beta, f"{name}_n_samples": N, f"{name}_gamma": g,
                      f"{name}_d": int(lam.size), f"{name}_model": kw["model"],
                      f"{name}_ratio_at_optimum": float(totals["fit_"][j] / totals[""][j]),
                      f"{name}_sigma_star": float(sd[j])})
    return dataset(out, coords=coords, attrs=attrs)


def draw(data: xr.Dataset):
    from ._plot import colors, diverged_marks, finish, key, loglog, mark, mc_points, panels

    names = data.attrs["studies"].split(",")
    a = data.attrs
    fig, axes = panels(3, len(names), 4.2, 3.4)
    cols = colors(3)
    for j, name in enumerate(names):
        top, mid, bot = axes[0, j], axes[1, j], axes[2, j]
        top.plot(data[f"{name}_ring_frequency"], data[f"{name}_ring_power"], "o", ms=3, color=cols[0],
                 label="ring means")
        top.plot(data[f"{name}_ring_frequency"], data[f"{name}_ring_fit"], "k--", lw=1.2,
                 label=f"fit A|ω|^-β, β = {a[f'{name}_beta']:.2f}")
        top.set_xlabel("|ω| (radian per pixel)")
        top.set_title(f"{name}: d = {a[f'{name}_d']}, N = {a[f'{name}_n_samples']:g}, model {a[f'{name}_model']}",
                      fontsize=9)
        top.legend(fontsize=7)
        sd = data["sigma_dense_" + name].values
        for k, col in zip(("bias", "generalization", "total"), cols):
            color = "k" if k == "total" else col
            mid.plot(sd, data[f"{name}_{k}"], "-", color=color, lw=1.4, label=k if j == 0 else None)
            mid.plot(sd, data[f"{name}_fit_{k}"], "--", color=color, lw=1.2)
        pt = study_points(data, name)
        mc_points(mid, data[f"sigma_{name}"].values, pt, "k")
        mid.set_xlabel("DSM noise amplitude σ")
        mid.set_title(f"ULA γ = {a[f'{name}_gamma']:g}: fit / texture at σ* = {a[f'{name}_sigma_star']:.3g}: "
                      f"{a[f'{name}_ratio_at_optimum']:.2f}", fontsize=9)
        t = data["t_dense"].values
        bot.plot(t, data[f"{name}_t_total"], "k-", lw=1.4)
        bot.plot(t, data[f"{name}_fit_t_total"], "k--", lw=1.2)
        bot.set_xlabel("stopping time t_min (VP, continuous time)")
        loglog(top, mid, bot)
    axes[0, 0].set_ylabel("power (eigenvalue)")
    axes[1, 0].set_ylabel(r"$\mathbb{E}\,W_2^2$ and its terms (Langevin)")
    axes[2, 0].set_ylabel(r"$\mathbb{E}\,W_2^2$ (diffusion)")
    points = [study_points(data, n) for n in names]
    marks = [mark("rows 2-3, solid: the texture's spectrum"), mark("dashed: its fitted power law", ls="--"),
             mark("row 2, points: Monte Carlo (texture) ± 1 s.e.", marker="o", ls="", ms=4, color="k"),
             *diverged_marks(*points)]
    key(fig, axes[1, 0], marks)
    return finish(fig, f"[{a.get('comparison', '')}] real textures against their fitted power law")
