r"""P13: the time grid optimised for a spectrum against the named schedules (our proposal).

One row per spectrum of the comparison's studies (e.g. isotropic, a power law, a texture), each study one
``sampler.grid`` (``optimal``, ``karras``, ``exponential``, ``kl_optimal``, ``ays_sd15``, ...) with the same
process, scheme, t_min and T.  Left: the grids :math:`t_k` against the step index k at K = :data:`K_SHOW` (log
scale), the optimal one (:func:`gaussdsm.schedule.optimal_grid`: the grid minimising the first-order
:math:`\mathbb E W_2^2` for the spectrum, :func:`gaussdsm.schedule.resolve`) in black.  Right:
:math:`\mathbb E W_2^2` against the number of score evaluations for each grid, theory lines
(:func:`gaussdsm.theory.error_terms` on a dense set of K, the optimal grid re-optimised at each K) and the studies'
Monte-Carlo points (± 1 s.e.), one line style per N.

On isotropic data the optimum of Euler (= DDIM) is known in closed form, uniform in
:math:`\arctan(\tilde\sigma/\sqrt\lambda)`: with :math:`\lambda = 1` it is ``kl_optimal``, and the two coincide.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import xarray as xr

from .. import theory
from ..samplers.spec import SamplerSpec
from ..schedule import resolve
from ..vocabulary import dataset

DATA_TITLE = "data behind the optimal-grid figure"
K_SHOW = 10
"""The number of steps of the grids drawn on the left (the Align-Your-Steps lists' own)."""
N_DENSE = 8
N_OPT = 4
"""The optimal grid's line is drawn at these many step counts besides the studies' (each is an optimisation)."""
ORDER = ("optimal", "karras", "exponential", "kl_optimal", "ays_sd15", "ays_sdxl", "ays_svd")
"""The grids' order in the data and the legend (others after, in the studies' order)."""
AXES1 = ("scheme", "init", "t_min")
THEORY_ONLY = ("exponential",)
"""Named grids drawn as theory lines alone (no Monte Carlo) where no study of the spectrum has them: the optimal
study's sampler on that grid."""


def _spectrum_label(s: xr.Dataset) -> str:
    """The spectrum of a study's summary in words (from its provenance: the study's ``spectrum:`` section)."""
    try:
        studies = json.loads(s.attrs["config_json"])["studies"]
        sp = dict(next(iter(studies.values()))["spectrum"])
    except (KeyError, ValueError, StopIteration, TypeError):
        return f"d = {s['lam'].size}"
    kind = sp.pop("kind", "spectrum")
    if kind == "power_law" and float(sp.get("alpha", 1.0)) == 0:
        return f"isotropic (d = {s['lam'].size})"
    rest = ", ".join(f"{k} {v}" for k, v in sorted(sp.items()) if v is not None and k != "d")
    return f"{kind} ({rest}; d = {s['lam'].size})" if rest else f"{kind} (d = {s['lam'].size})"


def _at_first(s: xr.Dataset) -> xr.Dataset:
    """The summary at the first scheme, init and t_min (the panel draws one of each)."""
    return s.isel({k: 0 for k in AXES1 if k in s.dims})


def _spec(s: xr.Dataset, n_steps, grid=None) -> SamplerSpec:
    """The study's sampler at its (first) scheme, init, t_min, on the step counts ``n_steps`` (on ``grid`` if
    given)."""
    params = SamplerSpec.from_attrs(s.attrs, prefix="theory_").params
    params.pop("optimal_grids", None)
    if grid is not None:
        params["grid"] = grid
        for k in ("optimal_n_samples", "optimal_metric"):
            params.pop(k, None)
    axes = {"scheme": [str(s["scheme"].values)], "init": [str(s["init"].values)],
            "n_steps": [float(k) for k in n_steps], "t_min": [float(s["t_min"])]}
    return SamplerSpec("diffusion", axes, params)


def _kw(s: xr.Dataset) -> dict:
    model = str(s.attrs.get("theory_model", "full"))
    kappa = s["kappa"].values if model == "fourier" and "kappa" in s else None
    return {"model": model, "kappa": kappa}


def _lines(s: xr.Dataset, N, ks, grid=None) -> tuple[np.ndarray, np.ndarray]:
    """``(nfe (K,), total (N, K))`` of the study's sampler at every step count of ``ks`` and N of ``N`` (one
    vectorised theory call; K by K where one fails, NaN where undefined)."""
    kw = _kw(s)
    lam = s["lam"].values
    try:
        spec = resolve(_spec(s, ks, grid), lam, **kw)
        ds = theory.error_terms(lam, np.asarray(N, dtype=float), **kw, **spec.theory_kwargs())
    except ValueError:
        if len(ks) == 1:
            return np.full(1, np.nan), np.full((np.size(N), 1), np.nan)
        parts = [_lines(s, N, [k], grid) for k in ks]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts], axis=1)
    total = ds["total"].transpose("n_samples", "n_steps", ...).values.reshape(np.size(N), len(ks))
    return np.ravel(ds["nfe"].values).astype(float), total.astype(float)


def _times(s: xr.Dataset, k: int, grid=None) -> np.ndarray:
    """The study's time grid at K = ``k`` (K + 1 times, T down to t_min), NaN where undefined."""
    spec = _spec(s, [k], grid)
    try:
        spec = resolve(spec, s["lam"].values, **_kw(s))
        return np.asarray(spec.make(spec.settings()[0]).times, dtype=float)
    except ValueError:
        return np.full(k + 1, np.nan)


def data(summaries: dict) -> xr.Dataset:
    """``times (spectrum, grid_name, k)`` at K = :data:`K_SHOW`; ``theory_line (spectrum, grid_name, n_samples,
    n_dense)`` and ``nfe_line (spectrum, grid_name, n_dense)``; the Monte-Carlo points ``mc_mean``, ``mc_stderr``,
    ``diverged`` and their ``nfe`` ``(spectrum, grid_name, n_samples, n_steps)``; ``study (spectrum, grid_name)``."""
    rows = {}
    for name, s in summaries.items():
        s = _at_first(s)
        key = hashlib.sha256(np.ascontiguousarray(s["lam"].values, dtype=float).tobytes()).hexdigest()
        p = SamplerSpec.from_attrs(s.attrs, prefix="theory_").params
        grid = p.get("grid", "uniform")
        grid = grid if isinstance(grid, str) else "explicit"
        rows.setdefault(key, {"label": _spectrum_label(s), "studies": {}})["studies"][grid] = (name, s, None)
    for r in rows.values():  # theory alone for the named grids no study of the spectrum has
        ref = r["studies"].get("optimal", next(iter(r["studies"].values())))
        for g in THEORY_ONLY:
            r["studies"].setdefault(g, ("", ref[1], g))
    names = [g for g in ORDER if any(g in r["studies"] for r in rows.values())]
    names += [g for r in rows.values() for g in r["studies"] if g not in names]
    labels = [r["label"] for r in rows.values()]
    all_s = [s for r in rows.values() for name, s, _ in r["studies"].values() if name]
    N = np.unique(np.concatenate([np.atleast_1d(s["n_samples"].values).astype(float) for s in all_s]))
    K = np.unique(np.concatenate([np.atleast_1d(s["n_steps"].values).astype(float) for s in all_s]))
    k_dense = np.unique(np.concatenate([np.geomspace(max(2.0, K.min() / 1.5), K.max() * 1.5, N_DENSE).round(), K,
                                        [K_SHOW]]))
    k_opt = np.unique(np.concatenate([np.geomspace(k_dense[0], k_dense[-1], N_OPT).round(), K, [K_SHOW]]))
    S, G = len(rows), len(names)
    times = np.full((S, G, K_SHOW + 1), np.nan)
    line = np.full((S, G, N.size, k_dense.size), np.nan)
    nfe_line = np.full((S, G, k_dense.size), np.nan)
    mc = {v: np.full((S, G, N.size, K.size), np.nan) for v in ("mc_mean", "mc_stderr", "diverged", "nfe")}
    study = np.full((S, G), "", dtype=object)
    for i, r in enumerate(rows.values()):
        for j, g in enumerate(names):
            if g not in r["studies"]:
                continue
            name, s, other = r["studies"][g]
            study[i, j] = name
            times[i, j] = _times(s, K_SHOW, other)
            ks = k_opt if g == "optimal" else k_dense  # each K of the optimal line is one optimisation
            at = np.searchsorted(k_dense, ks)
            nfe_line[i, j, at], line[i, j][:, at] = _lines(s, N, ks, other)
            if other is not None:  # theory alone
                continue
            sn = s.expand_dims([d for d in ("n_samples", "n_steps") if d not in s.dims])
            sn = sn.assign_coords(n_samples=sn["n_samples"].astype(float), n_steps=sn["n_steps"].astype(float))
            sn = sn.reindex(n_samples=N, n_steps=K)
            for v, src in (("mc_mean", "mc_mean"), ("mc_stderr", "mc_stderr"), ("diverged", "diverged"),
                           ("nfe", "theory_nfe")):
                if src in sn:
                    x = sn[src].broadcast_like(sn["mc_mean"])
                    mc[v][i, j] = x.transpose("n_samples", "n_steps", ...).values.reshape(N.size, K.size)

    def var(dims, values, long_name, units="1"):
        return xr.DataArray(values, dims=dims, attrs={"long_name": long_name, "units": units})

    sg = ("spectrum", "grid_name")
    out = {
        "times": var((*sg, "k"), times, f"time t_k of the grid at K = {K_SHOW} steps (k = 0: T)", "time"),
        "theory_line": var((*sg, "n_samples", "n_dense"), line, "first-order E W2^2 (theory, dense K)",
                           "data variance"),
        "nfe_line": var((*sg, "n_dense"), nfe_line, "score evaluations of the dense theory line"),
        "mc_mean": var((*sg, "n_samples", "n_steps"), mc["mc_mean"], "Monte-Carlo mean of W2^2", "data variance"),
        "mc_stderr": var((*sg, "n_samples", "n_steps"), mc["mc_stderr"], "standard error of the Monte-Carlo mean",
                         "data variance"),
        "diverged": var((*sg, "n_samples", "n_steps"), mc["diverged"], "some Monte-Carlo draws diverged (1)"),
        "nfe": var((*sg, "n_samples", "n_steps"), mc["nfe"], "score evaluations at the Monte-Carlo points"),
        "study": var(sg, study.astype(str), "the study of the spectrum and grid (empty: theory alone)"),
    }
    coords = {
        "spectrum": var(("spectrum",), np.array(labels, dtype=str), "data spectrum"),
        "grid_name": var(("grid_name",), np.array(names, dtype=str), "time grid (sampler.grid)"),
        "k": var(("k",), np.arange(K_SHOW + 1), "step index k of the grid"),
        "n_samples": var(("n_samples",), N, "number of training samples N"),
        "n_dense": var(("n_dense",), k_dense, "number of steps K (dense theory line)"),
        "n_steps": var(("n_steps",), K, "number of steps K"),
    }
    first = all_s[0]
    p = SamplerSpec.from_attrs(first.attrs, prefix="theory_").params
    attrs = {"process": str(p.get("process", "vp")), "scheme": str(first["scheme"].values),
             "t_min": float(first["t_min"]), "studies": ",".join(summaries)}
    return dataset(out, coords=coords, attrs=attrs)


def draw(data: xr.Dataset):
    from matplotlib.ticker import NullFormatter

    from ._plot import colors, finish, key, loglog, mark, panels

    specs, grids, Ns = data["spectrum"].values, data["grid_name"].values, data["n_samples"].values
    col = dict(zip(grids, ["k"] + colors(len(grids) - 1) if grids[0] == "optimal" else colors(len(grids))))
    styles = ["-", "--", ":", "-."]
    fig, axes = panels(len(specs), 2, 4.6, 3.4)
    for i, lab in enumerate(specs):
        ax, bx = axes[i, 0], axes[i, 1]
        for j, g in enumerate(grids):
            g_label = g if any(data["study"].values[:, j]) else f"{g} (theory only)"
            t = data["times"].values[i, j]
            if not np.all(np.isnan(t)):
                ax.plot(np.arange(t.size), t, marker="o", ms=3, color=col[g], lw=2.0 if g == "optimal" else 1.1,
                        label=g_label if i == 0 else None)
            for n, N in enumerate(Ns):
                ls = styles[n % len(styles)]
                x, y = data["nfe_line"].values[i, j], data["theory_line"].values[i, j, n]
                ok = np.isfinite(x) & np.isfinite(y)
                bx.plot(x[ok], y[ok], ls=ls, color=col[g],
                        lw=2.0 if g == "optimal" else 1.1)
                m, e = data["mc_mean"].values[i, j, n], data["mc_stderr"].values[i, j, n]
                x, ok = data["nfe"].values[i, j, n], np.isfinite(data["mc_mean"].values[i, j, n])
                ok &= data["diverged"].values[i, j, n] != 1
                bx.errorbar(x[ok], m[ok], yerr=e[ok], fmt="o", ms=4, color=col[g], capsize=2, lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("step k")
        ax.set_ylabel("time $t_k$")
        ax.set_title(f"{lab}: grids at K = {data.sizes['k'] - 1}", fontsize=9)
        loglog(bx)
        ticks = np.unique(data["nfe"].values[np.isfinite(data["nfe"].values)])
        bx.set_xticks(ticks, [f"{x:g}" for x in ticks])
        bx.xaxis.set_minor_formatter(NullFormatter())
        bx.set_xlabel("score evaluations (NFE)")
        bx.set_ylabel(r"$\mathbb{E}\,W_2^2$")
        bx.set_title(f"{lab}: error vs NFE", fontsize=9)
    words = ["solid", "dashed", "dotted", "dash-dot"]
    marks = [mark(f"{words[n % len(words)]}: theory, N = {N:g}", ls=styles[n % len(styles)])
             for n, N in enumerate(Ns)]
    marks.append(mark("points: Monte Carlo ± 1 s.e.", marker="o", ls="", ms=4))
    key(fig, axes[0, 0], marks)
    a = data.attrs
    return finish(fig, f"[{a.get('comparison', '')}] the time grid optimised for the spectrum vs the named schedules "
                  f"({a['process']}, {a['scheme']}, t_min = {a['t_min']:g})")
