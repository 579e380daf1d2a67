r"""
Langevin against diffusion at equal cost
========================================

With the exact (population) score, how close to the data law do the samplers get for a given number of score
evaluations (NFE)?  ULA run :math:`K` steps from :math:`\mathcal N(0, I)` relaxes its slowest mode at a rate set by
the condition number :math:`\kappa = \lambda_{\max}/\lambda_{\min}` (its step must stay below
:math:`2\lambda_{\min}`); a diffusion model transports the reference law along the noise levels instead (figure P9
of the workflow).  Here: a power law in dimension 100 (:math:`\kappa = 100`), ULA at its best step for each budget
(the bias of its :math:`K`-step law, minimised over a grid of steps), against VP diffusion with the
Euler–Maruyama and Heun schemes.
"""

import matplotlib.pyplot as plt
import numpy as np

from gaussdsm import theory
from gaussdsm.samplers import EVALS, ULA
from gaussdsm.spectra import spectrum

lam = spectrum("power_law", d=100, alpha=1.0).lam
budgets = np.array([8, 16, 32, 64, 128, 256, 512])

# ULA: K = NFE steps, the step gamma chosen per budget on a grid below the stability bound 2 lam_min.
gammas = ULA.max_step(float(lam.min()), 0.0) * np.geomspace(1e-3, 0.999, 60)
ula = [float(np.nanmin(theory.bias(lam, 0.0, gammas, sampler="ula", n_steps=float(k), init_var=1.0)))
       for k in budgets]

# Diffusion: n_steps = NFE / (score evaluations per step).
diffusion = {}
for scheme in ("em", "heun"):
    steps = [b // EVALS[scheme] for b in budgets]
    ds = theory.error_terms(lam, np.inf, sampler="diffusion", process="vp", scheme=scheme, n_steps=steps, t_min=1e-3)
    diffusion[scheme] = (ds["nfe"].values, ds["total"].values)

fig, ax = plt.subplots(figsize=(6.4, 4.2))
ax.loglog(budgets, ula, "o-", color="k", label="ULA at its best step")
for (scheme, (nfe, err)), color in zip(diffusion.items(), ("C0", "C3")):
    ax.loglog(nfe, err, "s-", color=color, label=f"VP diffusion, {scheme}")
ax.set_xlabel("number of score evaluations (NFE)")
ax.set_ylabel(r"$\mathbb{E}\,W_2^2$ (population score)")
ax.set_title(r"power law $d = 100$, $\kappa = 100$; diffusion $t_{\min} = 10^{-3}$", fontsize=9)
ax.legend()
fig.tight_layout()

for b, u, e in zip(budgets, ula, diffusion["em"][1]):
    print(f"NFE {b:4d}: ULA {u:.3g}, diffusion em {e:.3g}  ({u / e:.0f} x)")
