r"""Full d×d denoiser (R7) against the Fourier/eigen-diagonal one (R11): error against N.

One panel per :math:`\sigma` (first :math:`\gamma`, :math:`\tau`), colour = study.  The diagonal model has no
cross-frequency terms, so its generalization error is smaller (a weighted sum over frequencies instead of a
kernel norm).
"""

from __future__ import annotations

import xarray as xr

from ..vocabulary import dataset
from ._data import dense_n, first_setting, study_points, theory_on

DATA_TITLE = "data behind the full-vs-diagonal figure"


def data(summaries: dict) -> xr.Dataset:
    """Per study ``<study>_theory_line (sigma, n_dense)`` with abscissa ``<study>_n_dense``, its bias floor and the
    MC points ``<study>_mc_mean (n_<study>, sigma)``."""
    out, coords, attrs = {}, {}, {"studies": ",".join(summaries)}
    for name, s in summaries.items():
        s = first_setting(s)
        s = s.isel(gamma=0, tau=0)
        N = s["n_samples"].values
        nd = dense_n(N)
        th = theory_on(s, nd, s["sigma"].values, float(s["gamma"]), float(s["tau"])).transpose("sigma", "n_samples")
        out[f"{name}_theory_line"] = (("sigma", "n_dense"), th["total"].values, ("study_theory_line", {"study": name}))
        for k, term in (("mc_mean", "study_mc_mean_n"), ("mc_stderr", "study_mc_stderr_n"), ("diverged", "study_diverged")):
            out[f"{name}_{k}"] = ((f"n_{name}", "sigma"), s[k].transpose("n_samples", "sigma").values, (term, {"study": name}))
        out[f"{name}_n_dense"] = ("n_dense", nd, ("study_n_samples", {"study": name}))
        out[f"{name}_theory_bias"] = ("sigma", s["theory_bias"].values, ("study_theory_term", {"term": "bias", "study": name}))
        coords[f"n_{name}"] = (f"n_{name}", N, ("study_n_samples", {"study": name}))
        coords["sigma"] = s["sigma"].values
        attrs.update({f"{name}_gamma": float(s["gamma"]), f"{name}_tau": float(s["tau"]),
                      f"{name}_model": str(s.attrs.get("theory_model", "?"))})
    return dataset(out, coords=coords, attrs=attrs)


def draw(data: xr.Dataset):
    from ._plot import colors, diverged_marks, finish, key, loglog, mark, mc_points, panels

    names = data.attrs["studies"].split(",")
    a = data.attrs
    sigmas = data["sigma"].values
    cols = colors(len(names))
    fig, axes = panels(1, len(sigmas), 4.2, 3.8, sharey=True)
    for c, name in enumerate(names):
        for j, sg in enumerate(sigmas):
            ax = axes[0, j]
            ax.plot(data[f"{name}_n_dense"].values, data[f"{name}_theory_line"].values[j], color=cols[c], lw=1.5,
                    label=f"{name} ({a[f'{name}_model']})")
            ax.axhline(float(data[f"{name}_theory_bias"].values[j]), color="grey", ls=":", lw=0.8)
            pt = study_points(data, name).isel(sigma=j)
            mc_points(ax, data[f"n_{name}"].values, pt, cols[c])
            loglog(ax)
            ax.set_xlabel("number of training samples N")
            ax.set_title(f"σ = {sg:g}, γ = {a[f'{name}_gamma']:g}")
    axes[0, 0].set_ylabel(r"$\mathbb{E}\,W_2^2$")
    points = [study_points(data, n) for n in names]
    key(fig, axes[0, 0], [mark("solid: theory (R7 full, R11 diagonal)"),
                          mark("points: Monte Carlo ± 1 s.e.", marker="o", ls="", ms=4),
                          mark("dotted: bias floor R5 (N = ∞)", ls=":", lw=0.8), *diverged_marks(*points)])
    return finish(fig, f"[{a.get('comparison', '')}] full-matrix vs Fourier-diagonal denoiser")
