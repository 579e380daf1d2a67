r"""Error against the number of sampler steps K, for several samplers from the same initialisation (our proposal).

One column per study (e.g. ULA and ULD on the same spectrum, N and sigma): :math:`\mathbb E W_2^2` against K
(log-log) for each step :math:`\gamma` of the study — theory lines (bias of the K-step law + generalization,
samplers.md §2–§3) on a dense K grid, Monte-Carlo points at the study's K, the stationary value (K = ∞) as a
dotted line — and, in black, the envelope: the error at the best step :math:`\gamma^\star(K)` (numerical
minimiser of the theory over a dense :math:`\gamma` grid inside the stability region).  Last column:
:math:`\gamma^\star(K)` for each study.  Small K is dominated by the transient (the chain has not forgotten
:math:`y_0`; large :math:`\gamma` mixes faster), large K by the discretization bias (small :math:`\gamma` is
more accurate): the trade-off moves :math:`\gamma^\star` down as K grows.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import theory
from ..vocabulary import dataset
from ._data import mc_vars, theory_kwargs

DATA_TITLE = "data behind the error-vs-steps figure"
N_DENSE, G_DENSE = 200, 80


def _point(s: xr.Dataset) -> xr.Dataset:
    """The study at its largest N, first sigma, first tau (and first friction): dims (gamma, n_steps)."""
    sel = {"n_samples": -1, "sigma": 0, "tau": 0}
    sel.update({"friction": 0} if "friction" in s.dims else {})
    return s.isel(sel)


def data(summaries: dict) -> xr.Dataset:
    """Per study: ``<study>_theory (gamma_<study>, n_dense)``, the stationary theory ``<study>_stationary``, the
    best step ``<study>_best_gamma (n_dense)`` and its error ``<study>_best_error``, the MC points
    ``<study>_mc_mean (gamma_<study>, k_<study>)``."""
    out, coords, attrs = {}, {}, {"studies": ",".join(summaries)}
    k_all = np.concatenate([s["n_steps"].values for s in summaries.values()])
    finite = k_all[np.isfinite(k_all)]
    k_dense = np.unique(np.geomspace(max(1.0, finite.min() / 2), finite.max() * 2, N_DENSE).round())
    coords["n_dense"] = ("n_dense", k_dense, "n_steps")
    for name, s in summaries.items():
        pt = _point(s)
        lam = s["lam"].values
        kw = theory_kwargs(pt)
        kw.pop("n_steps", None)
        N, sg, gammas = float(pt["n_samples"]), float(pt["sigma"]), pt["gamma"].values
        th = theory.error_terms(lam, N, sg, gammas, n_steps=k_dense, **kw)["total"].transpose("gamma", "n_steps")
        st = theory.error_terms(lam, N, sg, gammas, n_steps=np.inf, **kw)["total"]
        # best gamma: a dense gamma grid up to the stability bound of the population chain
        g_hi = _stable_gamma_max(lam, sg, kw)
        g_dense = np.geomspace(g_hi * 1e-3, g_hi * 0.999, G_DENSE)
        env = theory.error_terms(lam, N, sg, g_dense, n_steps=k_dense, **kw)["total"].transpose("gamma", "n_steps").values
        env = np.where(np.isfinite(env), env, np.inf)
        j = np.argmin(env, axis=0)
        g_ax, k_ax = f"gamma_{name}", f"k_{name}"
        out[f"{name}_theory"] = ((g_ax, "n_dense"), th.values, ("study_theory_line", {"study": name}))
        out[f"{name}_stationary"] = ((g_ax,), np.atleast_1d(st.values), ("study_stationary", {"study": name}))
        out[f"{name}_best_gamma"] = (("n_dense",), g_dense[j], ("study_best_gamma", {"study": name}))
        out[f"{name}_best_error"] = (("n_dense",), env[j, np.arange(k_dense.size)], ("study_best_error", {"study": name}))
        for k in ("mc_mean", "mc_stderr", "diverged"):
            out[f"{name}_{k}"] = ((g_ax, k_ax), mc_vars(pt)[k].transpose("gamma", "n_steps").values,
                                  ("study_" + {"mc_mean": "mc_mean", "mc_stderr": "mc_stderr", "diverged": "diverged"}[k],
                                   {"study": name}))
        coords[g_ax] = (g_ax, gammas, ("study_gamma", {"study": name}))
        coords[k_ax] = (k_ax, pt["n_steps"].values, ("study_n_steps", {"study": name}))
        attrs.update({f"{name}_sampler": kw["sampler"], f"{name}_n_samples": N, f"{name}_sigma": sg,
                      f"{name}_init_var": kw["init_var"], f"{name}_friction": kw.get("friction", np.nan)})
    return dataset(out, coords=coords, attrs=attrs)


def _stable_gamma_max(lam, sigma, kw) -> float:
    """The largest step that keeps the population chain stable, by bisection on the theory's ``valid`` flag."""
    lo, hi = 0.0, 4.0 * (float(np.max(lam)) + sigma**2) + 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        ok = int(theory.error_terms(lam, np.inf, sigma, mid, n_steps=np.inf, **kw)["valid"])
        lo, hi = (mid, hi) if ok else (lo, mid)
    return lo


def draw(data: xr.Dataset):
    from ._plot import colors, finish, key, loglog, mark, panels

    names = data.attrs["studies"].split(",")
    same_gammas = len({tuple(data[f"gamma_{n}"].values) for n in names}) == 1  # one colour key for all panels
    a = data.attrs
    k_dense = data["n_dense"].values
    fig, axes = panels(1, len(names) + 1, 4.3, 3.9)
    for c, name in enumerate(names):
        ax = axes[0, c]
        gammas, ks = data[f"gamma_{name}"].values, data[f"k_{name}"].values
        col = colors(len(gammas))
        fin = np.isfinite(ks)
        for j, g in enumerate(gammas):
            ax.plot(k_dense, data[f"{name}_theory"].values[j], color=col[j], lw=1.4, label=f"γ = {g:g}")
            ax.axhline(float(data[f"{name}_stationary"].values[j]), color=col[j], lw=0.8, ls=":")
            m, e = data[f"{name}_mc_mean"].values[j], data[f"{name}_mc_stderr"].values[j]
            ok = fin & np.isfinite(m) & (data[f"{name}_diverged"].values[j] == 0)
            ax.errorbar(ks[ok], m[ok], yerr=e[ok], fmt="o", ms=4, color=col[j], capsize=2, lw=1)
        ax.plot(k_dense, data[f"{name}_best_error"].values, "k--", lw=1.2, label="at the best γ*(K)")
        loglog(ax)
        ax.set_xlabel("number of steps K")
        fr = a.get(f"{name}_friction")
        ax.set_title(f"{name}: {a[f'{name}_sampler'].upper()}" + (f", friction {fr:g}" if fr == fr else "")
                     + f"\nN = {a[f'{name}_n_samples']:g}, σ = {a[f'{name}_sigma']:g}, y₀ ~ N(0, {a[f'{name}_init_var']:g} I)",
                     fontsize=9)
        if c == 0:
            ax.set_ylabel(r"$\mathbb{E}\,W_2^2$")
        if not same_gammas:
            ax.legend(fontsize=7, loc="best")
    ax = axes[0, -1]
    for name, col in zip(names, colors(len(names))):
        ax.plot(k_dense, data[f"{name}_best_gamma"].values, color=col, lw=1.5, label=name)
    loglog(ax)
    ax.set_xlabel("number of steps K")
    ax.set_ylabel("best step γ*(K) (theory)")
    ax.legend(fontsize=8)
    marks = [mark("solid: theory"), mark("points: Monte Carlo ± 1 s.e.", marker="o", ls="", ms=4),
             mark("dotted: stationary law (K = ∞)", ls=":", lw=0.8),
             mark("dashed: error at the best γ*(K)", ls="--", color="k")]
    handles = list(zip(*axes[0, 0].get_legend_handles_labels()))[:-1] if same_gammas else []  # without "best"
    key(fig, axes[0, 0], [*handles, *marks], colours=False)
    return finish(fig, f"[{a.get('comparison', '')}] error against the number of steps K: transient vs bias")
