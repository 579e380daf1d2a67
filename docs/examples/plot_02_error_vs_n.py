r"""
Error against the number of samples: theory and Monte Carlo
===========================================================

The generalization error falls like :math:`1/N` above a floor set by the bias (figure P1 of the workflow).  Here the
closed-form expansion is drawn as a line and checked against the exact Monte-Carlo pipeline (draw a training set,
fit the score exactly, compute the law of stationary ULA and its :math:`W_2^2` to the data law, over 200 training
sets), for a power law in dimension 16.  Both come from one function, :func:`gaussdsm.error`: the theory on a dense
grid of :math:`N`, and the theory with its Monte Carlo (``mc=200``) on a few points.
"""

import textwrap

import matplotlib.pyplot as plt
import numpy as np

import gaussdsm

setting = dict(spectrum="power_law", d=16, alpha=1.0, sigma=[0.05, 0.3], gamma=0.02)
n_dense = np.unique(np.geomspace(30, 2e4, 80).round().astype(int))  # n_samples is an integer
theory = gaussdsm.error(n_samples=list(n_dense), **setting)

# %%
# The Monte Carlo: one call for every point, a fixed seed.  The training sets depend on :math:`N` and the seed
# only (common random numbers across :math:`\sigma`), and a point's numbers do not depend on the rest of the grid.
n_mc = [50, 100, 200, 500, 1000, 2000, 5000, 10000]
mc = gaussdsm.error(n_samples=n_mc, mc=200, seed=2025, **setting)
print(mc[["total", "mc_mean", "mc_stderr", "z"]].sel(n_samples=[100, 1000, 10000]).to_dataframe()
      [["total", "mc_mean", "mc_stderr", "z"]].to_string(float_format="{:.4g}".format))

# %%
# Where the term the first-order expansion neglects is estimated above 5 % of the total (``second_order``), the
# theory is outside its regime (``in_regime`` is 0, dotted line; ``regime_note`` says why): the Monte Carlo may leave
# it there.  Above, the points sit on the line, with slope :math:`-1` until the bias floor (dashed).
fig, ax = plt.subplots(figsize=(6.4, 4.2))
for s, color in zip(setting["sigma"], ("C0", "C3")):
    t = theory.sel(sigma=s)
    inside = t["in_regime"].values.astype(bool)
    ax.loglog(n_dense[inside], t["total"][inside], "-", color=color, label=rf"theory, $\sigma = {s}$")
    ax.loglog(n_dense[~inside], t["total"][~inside], ":", color=color)
    ax.axhline(float(t["bias"]), ls="--", lw=0.8, color=color)  # no N dependence
    m = mc.sel(sigma=s)
    ax.errorbar(n_mc, m["mc_mean"], yerr=2 * m["mc_stderr"], fmt="o", ms=4, color=color,
                label=r"Monte Carlo $\pm$ 2 s.e.")
ax.set_xlabel("number of training samples $N$")
ax.set_ylabel(r"$\mathbb{E}\,W_2^2$")
ax.set_title(rf"power law, $d = 16$, stationary ULA $\gamma = {setting['gamma']}$, exact DSM fit", fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# The ``regime_note`` of a point outside the regime:
note = str(mc["regime_note"].sel(n_samples=50, sigma=0.3).values)
print(textwrap.fill(f"N = 50, sigma = 0.3: {note}", 90, subsequent_indent="    "))
