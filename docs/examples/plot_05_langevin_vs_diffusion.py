r"""
Langevin against diffusion at equal cost
========================================

With the exact (population) score, how close to the data law do the samplers get for a given number of score
evaluations (NFE)?  ULA run :math:`K` steps from :math:`\mathcal N(0, I)` relaxes its slowest mode at a rate set by
the condition number :math:`\kappa = \lambda_{\max}/\lambda_{\min}` (its step must stay below
:math:`2\lambda_{\min}`); a diffusion model transports the reference law along the noise levels instead (figure P9
of the workflow).  Here: a power law in dimension 100 (:math:`\kappa = 100`), ULA at its best step for each budget
(the bias of its :math:`K`-step law, minimised over a grid of steps), against VP diffusion with the
Euler–Maruyama and Heun schemes.  Both are one call of :func:`gaussdsm.error` with ``n_samples=inf`` (the
population score) and lists as grid axes.
"""

import matplotlib.pyplot as plt
import numpy as np

import gaussdsm

budgets = np.array([8, 16, 32, 64, 128, 256, 512])
population = dict(spectrum="power_law", d=100, alpha=1.0, n_samples=np.inf)

# %%
# ULA: :math:`K` = NFE steps from :math:`\mathcal N(0, I)` (``init_var=1``), on a grid of steps :math:`\gamma`
# below the stability bound :math:`2\lambda_{\min}` (:math:`\lambda_{\min} = 1/100` here, and :math:`\sigma = 0`):
# a ``gamma`` × ``n_steps`` grid, minimised over ``gamma``.
lam_min = 1 / 100
gammas = 2 * lam_min * np.geomspace(1e-3, 0.999, 60)
ula = gaussdsm.error(sigma=0.0, gamma=list(gammas), n_steps=list(budgets), init_var=1.0, **population)
ula_best = ula["total"].min("gamma")
best_step = ula["total"].idxmin("gamma")

# %%
# Diffusion: ``n_steps`` = NFE / (score evaluations per step); the result's ``nfe`` says how many each point costs,
# so one grid of steps serves both schemes.
diffusion = gaussdsm.error(sampler="diffusion", process="vp", scheme=["em", "heun"], n_steps=[4, *budgets],
                           t_min=1e-3, **population)

fig, ax = plt.subplots(figsize=(6.4, 4.2))
ax.loglog(budgets, ula_best, "o-", color="k", label="ULA at its best step")
for scheme, color in zip(("em", "heun"), ("C0", "C3")):
    d = diffusion.sel(scheme=scheme)
    keep = (d["nfe"] >= budgets[0]) & (d["nfe"] <= budgets[-1])
    ax.loglog(d["nfe"][keep], d["total"][keep], "s-", color=color, label=f"VP diffusion, {scheme}")
ax.set_xlabel("number of score evaluations (NFE)")
ax.set_ylabel(r"$\mathbb{E}\,W_2^2$ (population score)")
ax.set_title(r"power law $d = 100$, $\kappa = 100$; diffusion $t_{\min} = 10^{-3}$", fontsize=9)
ax.legend()
fig.tight_layout()

em = diffusion["total"].sel(scheme="em", n_steps=budgets)
for b, u, g, e in zip(budgets, ula_best.values, best_step.values, em.values):
    print(f"NFE {b:4d}: ULA {u:.3g} (best step {g:.3g}), diffusion em {e:.3g}; ULA / diffusion = {u / e:.2g}")
