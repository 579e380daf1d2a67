r"""P9: Langevin against diffusion at an equal number of score evaluations, against the condition number κ (our proposal).

One point per study (a spectrum: power laws, stationary images, …; the population score, N = ∞) at
:math:`\kappa = \lambda_{\max}/\lambda_{\min}`; one column per budget (the NFE of the study's first scheme at each of
its ``n_steps``).  Lines: the diffusion schemes of the study at that NFE (the exact law's error: with the population
score the theory is exact and equals the Monte Carlo), ULA and ULD (underdamped, Euler–Maruyama, friction tuned on a
log grid from 1/√λ_max to 3/√λ_min) run NFE steps from N(0, I) at their best step for the budget (theory: the
K-step law's bias, samplers.md §2).  Does diffusion remove the dependence on κ (Perbost, Bach & Marion 2026)?
EM-ULD's stability bound :math:`\eta a < \gamma_f` ties its step to the friction, so it relaxes the slowest mode at
ULA's rate 1/κ per step at best: the caption says so.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import theory
from ..samplers import EVALS, ULA
from ..vocabulary import dataset
from ._data import diffusion_theory

DATA_TITLE = "data behind figure P9 (Langevin vs diffusion against the condition number)"
N_GAMMA = 40
N_FRICTION = 9


def _best(lam, kind, budget, frictions=None):
    """The smallest theory error of a Langevin sampler run ``budget`` steps from N(0, I), over its step (and friction):
    the population score's error is the bias (R5 with F), on a grid of steps below the stability bound (one
    vectorised evaluation over steps and frictions)."""
    lam_min, lam_max = float(lam.min()), float(lam.max())
    fr = None if frictions is None else np.asarray(frictions, dtype=float)[:, None]
    bound = ULA.max_step(lam_min, 0.0) if kind == "ula" else np.minimum(fr * lam_min, 2.0 / fr + 0.5 * fr * lam_max)
    g = bound * np.geomspace(1e-4, 0.999, N_GAMMA)
    b = theory.bias(lam, 0.0, g, sampler=kind, n_steps=float(budget), init_var=1.0, friction=fr)
    return float(np.min(np.where(np.isfinite(b), b, np.inf)))


def data(summaries: dict) -> xr.Dataset:
    """Per study: ``condition_number``; per (study, budget): ``ula_best``, ``uld_best`` and, per scheme, ``diffusion``."""
    names = list(summaries)
    first = summaries[names[0]]
    schemes = [str(x) for x in np.atleast_1d(first["scheme"].values)]
    ks = np.atleast_1d(first["n_steps"].values)
    ks = ks[np.isfinite(ks)]
    budgets = EVALS.get(schemes[0], 1) * ks
    kappa, ula, uld, diff = [], [], [], np.full((len(names), len(schemes), budgets.size), np.nan)
    for i, name in enumerate(names):
        s = summaries[name]
        lam = s["lam"].values
        kappa.append(float(lam.max() / lam.min()) if lam.min() > 0 else np.inf)
        ula.append([_best(lam, "ula", b) for b in budgets])
        # from critical damping of the slowest mode (2 sqrt(a_min)) to past that of the fastest (2 sqrt(a_max))
        fr = np.geomspace(1.0 / np.sqrt(lam.max()), 3.0 / np.sqrt(lam[lam > 0].min()), N_FRICTION)
        uld.append([_best(lam, "uld", b, fr) for b in budgets])
        for j, sch in enumerate(schemes):
            for b, B in enumerate(budgets):
                K = B / EVALS.get(sch, 1)
                if K == int(K) and K >= 1:
                    th = diffusion_theory(s.isel({k: 0 for k in ("init", "t_min") if k in s.dims}), np.inf,
                                          scheme=sch, n_steps=float(K))
                    diff[i, j, b] = float(th["total"])
    return dataset(
        {"condition_number": (("study",), np.array(kappa), "condition_number"),
         "ula_best": (("study", "budget"), np.array(ula), "ula_best"),
         "uld_best": (("study", "budget"), np.array(uld), "uld_best"),
         "diffusion": (("study", "scheme_path", "budget"), diff, "diffusion_at_budget")},
        coords={"study": ("study", names, "study_name"), "scheme_path": ("scheme_path", schemes, "scheme"),
                "budget": ("budget", budgets, "nfe")},
        attrs={"studies": ",".join(names)},
    )


def draw(data: xr.Dataset):
    from ._plot import colors, finish, loglog, panels

    budgets = data["budget"].values
    order = np.argsort(data["condition_number"].values)
    kappa = data["condition_number"].values[order]
    schemes = [str(x) for x in data["scheme_path"].values]
    col = colors(2 + len(schemes))
    fig, axes = panels(1, budgets.size, 4.4, 3.9, sharey=True)
    for b, B in enumerate(budgets):
        ax = axes[0, b]
        ax.plot(kappa, data["ula_best"].values[order, b], "o--", color=col[0], label="ULA, best step")
        ax.plot(kappa, data["uld_best"].values[order, b], "s--", color=col[1], label="ULD, best step and friction")
        for j, sch in enumerate(schemes):
            ax.plot(kappa, data["diffusion"].values[order, j, b], "^-", color=col[2 + j], label=f"diffusion {sch}")
        loglog(ax)
        ax.set_xlabel("condition number κ = λ_max / λ_min")
        ax.set_title(f"NFE = {B:g}", fontsize=9)
    axes[0, 0].set_ylabel(r"$\mathbb{E}\,W_2^2$ (population score)")
    axes[0, -1].legend(fontsize=7)
    return finish(fig, f"P9 [{data.attrs.get('comparison', '')}]: Langevin vs diffusion at equal NFE, against κ")
