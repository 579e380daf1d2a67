r"""
A score trained for a finite time
=================================

In practice the denoiser is not the exact minimiser of its loss: it is trained for a while.  Here the linear
denoiser of every noise level of a VP diffusion model is trained by gradient flow on its DSM loss for a time
:math:`\tau`, from :math:`\theta = 0` (:class:`gaussdsm.samplers.diffusion.Training`, samplers notes §9).  Per
eigenvalue :math:`\mu` of the empirical covariance the result is a spectral filter of the exact fit,

.. math::

    \theta_\tau = \theta^*\,(1 - e^{-2c\tau}), \qquad c = m_t^2\mu + \sigma_t^2,

so high-variance modes are learned first and the fine ones last (figure P11 of the workflow).
"""

import matplotlib.pyplot as plt
import numpy as np

from gaussdsm import samplers
from gaussdsm.montecarlo import monte_carlo_error
from gaussdsm.samplers.diffusion import Training
from gaussdsm.spectra import spectrum
from gaussdsm.theory import error_terms

lam = spectrum("power_law", d=16, alpha=1.0).lam
setting = dict(process="vp", scheme="em", n_steps=100, t_min=0.01)
train_time = np.geomspace(0.01, 300, 50)
Ns = [8, 5000]  # below d, and in the first-order regime (in_regime)

theory = error_terms(lam, Ns, sampler="diffusion", fit_method="gradient_flow", train_time=list(train_time),
                     **setting)
exact = error_terms(lam, Ns, sampler="diffusion", **setting)  # tau = infinity: the exact DSM fit

# %%
# Monte Carlo at a few training times: each of 100 training sets is fitted, trained and sampled exactly.
tau_mc = [0.03, 0.3, 3.0, 30.0]
mc = {N: [monte_carlo_error(lam, N, 0.0, n_replicates=100, seed=11,
                            sampler=samplers.make("diffusion", **setting).with_training(Training("gradient_flow", t)))
          for t in tau_mc] for N in Ns}

fig, ax = plt.subplots(figsize=(6.4, 4.2))
for N, color in zip(Ns, ("C1", "C0")):
    t = theory.sel(n_samples=N).squeeze()
    inside = bool(t["in_regime"].all())
    ax.loglog(train_time, t["total"], "-" if inside else ":", color=color,
              label=f"theory, N = {N}" + ("" if inside else " (outside the first-order regime)"))
    ax.axhline(float(exact["total"].sel(n_samples=N)), ls="--", lw=1, color=color)
    ax.errorbar(tau_mc, [r.mean for r in mc[N]], yerr=[2 * r.stderr for r in mc[N]], fmt="o", color=color, ms=4)
ax.set_xlabel(r"training time $\tau$ of every level's denoiser")
ax.set_ylabel(r"$\mathbb{E}\,W_2^2$")
ax.set_title(r"VP, em, 100 steps, $t_{\min} = 0.01$, power law $d = 16$; dashed: the exact fit ($\tau = \infty$)",
             fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# For :math:`N = 5000` the first-order theory follows the Monte Carlo at every training time.  For :math:`N = 8 < d`
# the empirical covariance is singular: the expansion in :math:`1/N` does not hold (dotted) and the Monte Carlo is
# the reference.
for N in Ns:
    print(f"N = {N}: " + ", ".join(f"tau = {t:g}: {r}" for t, r in zip(tau_mc, mc[N])))
