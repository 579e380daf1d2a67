r"""Spectrum-shape comparison: the error terms against :math:`\sigma` for several spectra (e.g. power laws).

One column per study (its spectrum in the title): theory bias (R5), generalization (R7) and optimization (R8) at
the largest N, first :math:`\gamma` and last :math:`\tau` as lines, their sum (black) and the Monte-Carlo
points.  Shows how anisotropy moves weight between the terms.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..vocabulary import dataset
from ._data import dense_log, first_setting, study_points, theory_on

DATA_TITLE = "data behind the spectrum-shape figure"
TERMS = (("bias", "bias R5"), ("generalization", "generalization R7"), ("optimization", "optimization R8"))


def data(summaries: dict) -> xr.Dataset:
    """Per study ``<study>_<term> (sigma_dense)`` with its abscissa ``<study>_sigma_dense``, and the MC points
    ``<study>_mc_mean (sigma_<study>)``; the point's N, gamma, tau and spectrum range in the attributes."""
    out, coords, attrs = {}, {}, {"studies": ",".join(summaries)}
    for name, s in summaries.items():
        s = first_setting(s)
        pt = s.isel(n_samples=-1, gamma=0, tau=-1)
        N, g, t = int(pt["n_samples"]), float(pt["gamma"]), float(pt["tau"])
        sig = s["sigma"].values
        sd = dense_log(sig, 120)
        th = theory_on(s, N, sd, g, t)
        for k in ("bias", "generalization", "optimization", "total"):
            out[f"{name}_{k}"] = ("sigma_dense", th[k].values, ("study_theory_term", {"term": k, "study": name}))
        out[f"{name}_mc_mean"] = (f"sigma_{name}", pt["mc_mean"].values, ("study_mc_mean", {"study": name}))
        out[f"{name}_mc_stderr"] = (f"sigma_{name}", pt["mc_stderr"].values, ("study_mc_stderr", {"study": name}))
        out[f"{name}_sigma_dense"] = ("sigma_dense", sd, ("study_sigma", {"study": name}))
        out[f"{name}_diverged"] = (f"sigma_{name}", pt["diverged"].values, ("study_diverged", {"study": name}))
        coords[f"sigma_{name}"] = (f"sigma_{name}", sig, ("study_sigma", {"study": name}))
        lam = s["lam"].values
        attrs.update({f"{name}_n_samples": N, f"{name}_gamma": g, f"{name}_tau": t, f"{name}_d": int(lam.size),
                      f"{name}_lam_min": float(lam.min()), f"{name}_lam_max": float(lam.max())})
    return dataset(out, coords=coords, attrs=attrs)


def draw(data: xr.Dataset):
    from ._plot import colors, diverged_marks, finish, key, loglog, mark, mc_points, panels

    names = data.attrs["studies"].split(",")
    a = data.attrs
    fig, axes = panels(1, len(names), 4.2, 3.9, sharey=True)
    cols = colors(3)
    for j, name in enumerate(names):
        ax = axes[0, j]
        sd = data[f"{name}_sigma_dense"].values
        for (k, lab), col in zip(TERMS, cols):
            v = data[f"{name}_{k}"].values
            if np.any(v > 0):
                ax.plot(sd, np.where(v > 0, v, np.nan), color=col, lw=1.3, label=lab if j == 0 else None)
        ax.plot(sd, data[f"{name}_total"].values, "k-", lw=1.6, label="total R9" if j == 0 else None)
        pt = study_points(data, name)
        mc_points(ax, data[f"sigma_{name}"].values, pt, "k")
        loglog(ax)
        ax.set_xlabel("DSM noise amplitude σ")
        ax.set_title(f"{name}: d = {a[f'{name}_d']}, λ ∈ [{a[f'{name}_lam_min']:.2g}, {a[f'{name}_lam_max']:.2g}]\n"
                     f"N = {a[f'{name}_n_samples']}, γ = {a[f'{name}_gamma']:g}, τ = {a[f'{name}_tau']:g}", fontsize=9)
    axes[0, 0].set_ylabel(r"$\mathbb{E}\,W_2^2$ and its terms")
    points = [study_points(data, n) for n in names]
    key(fig, axes[0, 0], [mark("points: Monte Carlo of the total ± 1 s.e.", marker="o", ls="", ms=4, color="k"),
                          *diverged_marks(*points)])
    return finish(fig, f"[{a.get('comparison', '')}] spectrum shape: how anisotropy changes each error term")
