r"""P10: the error along the reverse trajectory, :math:`W_2(\text{law of } y_k, p_{t_k})` against :math:`t_k` (our proposal).

For each scheme of the study (population score, its largest finite n_steps and first t_min; annealed Langevin has
no time grid and is left out; a scheme whose step is unstable there, e.g. ddpm with h β ≥ 1, is marked diverged), solid from the standard initialisation, dashed from the exact one: where along the reverse
process the error is made — the initialisation error decays from :math:`t = T`, discretization error accumulates
where the score changes fast (small t).  Log scale in t.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..samplers.spec import build
from ..vocabulary import dataset
from ._data import diffusion_kwargs

DATA_TITLE = "data behind figure P10 (error along the trajectory)"


def data(summary: xr.Dataset) -> xr.Dataset:
    """``w2_path (scheme, init_line, step)`` and ``t_path (scheme, step)``: W2 between the law of y_k and p_{t_k}."""
    s = summary.isel({k: 0 for k in ("t_min",) if k in summary.dims})
    if "n_steps" in s.dims:
        ks = s["n_steps"].values
        s = s.isel(n_steps=int(np.flatnonzero(np.isfinite(ks))[-1]))
    kw = {k: v for k, v in diffusion_kwargs(s).items() if k not in ("model", "scheme", "init")}
    lam = s["lam"].values
    schemes = [str(x) for x in np.atleast_1d(s["scheme"].values) if str(x) != "annealed_langevin"]
    K = int(kw["n_steps"])
    w2 = np.full((len(schemes), 2, K + 1), np.nan)
    tp = np.full((len(schemes), K + 1), np.nan)
    for j, sch in enumerate(schemes):
        for i, init in enumerate(("standard", "exact")):
            t, v, target = build("diffusion", scheme=sch, init=init, **kw).trajectory(lam)
            w2[j, i] = np.sqrt(np.sum((np.sqrt(v) - np.sqrt(target)) ** 2, axis=-1))
        tp[j] = t  # the time grid does not depend on the initialisation
    return dataset(
        {"w2_path": (("scheme_path", "init_line", "step"), w2, "w2_path"),
         "t_path": (("scheme_path", "step"), tp, "t_path")},
        coords={"scheme_path": ("scheme_path", schemes, "scheme"), "init_line": ("init_line", ["standard", "exact"], "init"),
                "step": ("step", np.arange(K + 1), "step")},
    )


def draw(data: xr.Dataset):
    from ._plot import colors, finish, key, mark, panels

    schemes = [str(x) for x in data["scheme_path"].values]
    col = colors(len(schemes))
    fig, axes = panels(1, 1, 6.0, 4.0)
    ax = axes[0, 0]
    for j, sch in enumerate(schemes):
        t = data["t_path"].values[j]
        for i, ls in ((0, "-"), (1, "--")):
            y = data["w2_path"].values[j, i]
            label = (sch if np.all(np.isfinite(y)) else f"{sch} (diverged)") if i == 0 else None
            ax.plot(t, y, ls, color=col[j], lw=1.3, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("time t along the reverse process (from T to t_min)")
    ax.set_ylabel(r"$W_2(\mathrm{law}(y_k), p_{t_k})$, population score")
    key(fig, ax, [mark("solid: standard init"), mark("dashed: exact init (p_T)", ls="--")])
    K = data.sizes["step"] - 1
    return finish(fig, f"P10 [{data.attrs.get('study', '')}]: error along the reverse trajectory, K = {K}")
