r"""
Error against the number of samples: theory and Monte Carlo
===========================================================

The generalization error falls like :math:`1/N` above a floor set by the bias (figure P1 of the workflow).  Here the
closed-form expansion (:func:`gaussdsm.theory.error_terms`) is drawn as a line and checked against the exact
Monte-Carlo pipeline (:func:`gaussdsm.montecarlo.monte_carlo_error`: draw a training set, fit the score exactly,
compute the law of stationary ULA and its :math:`W_2^2` to the data law, over 200 training sets), for a power law
in dimension 16.
"""

import matplotlib.pyplot as plt
import numpy as np

from gaussdsm.montecarlo import monte_carlo_error
from gaussdsm.spectra import spectrum
from gaussdsm.theory import error_terms

lam = spectrum("power_law", d=16, alpha=1.0).lam
sigmas = [0.05, 0.3]
gamma = 0.02
n_dense = np.geomspace(30, 2e4, 80)
n_mc = [50, 100, 200, 500, 1000, 2000, 5000, 10000]

theory = error_terms(lam, n_samples=n_dense, sigma=sigmas, gamma=gamma)

# %%
# The Monte Carlo: one call per point, a fixed seed (common random numbers across :math:`\sigma`: the training
# sets depend on :math:`N` and the seed only).
mc = {s: [monte_carlo_error(lam, n, s, gamma, n_replicates=200, seed=2025) for n in n_mc] for s in sigmas}
for s in sigmas:
    r = mc[s][-1]
    z = (r.mean - float(error_terms(lam, n_mc[-1], s, gamma)["total"])) / r.stderr
    print(f"sigma = {s}: N = {n_mc[-1]}: Monte Carlo {r}, (MC - theory) / s.e. = {z:+.2f}")

# %%
# Where the term the first-order expansion neglects is estimated above 5 % of the total (``second_order``), the
# theory is outside its regime (dotted line): the Monte Carlo may leave it there.  Above, the points sit on the line, with slope :math:`-1` until the bias floor (dashed).
fig, ax = plt.subplots(figsize=(6.4, 4.2))
for s, color in zip(sigmas, ("C0", "C3")):
    t = theory.sel(sigma=s)
    inside = t["in_regime"].values.astype(bool)
    ax.loglog(n_dense[inside], t["total"][inside], "-", color=color, label=rf"theory, $\sigma = {s}$")
    ax.loglog(n_dense[~inside], t["total"][~inside], ":", color=color)
    ax.axhline(float(t["bias"].max()), ls="--", lw=0.8, color=color)  # no N dependence
    means = np.array([r.mean for r in mc[s]])
    errs = np.array([2 * r.stderr for r in mc[s]])
    ax.errorbar(n_mc, means, yerr=errs, fmt="o", ms=4, color=color, label=r"Monte Carlo $\pm$ 2 s.e.")
ax.set_xlabel("number of training samples $N$")
ax.set_ylabel(r"$\mathbb{E}\,W_2^2$")
ax.set_title(rf"power law, $d = 16$, stationary ULA $\gamma = {gamma}$, exact DSM fit", fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()
