r"""
Where the error comes from
==========================

The expected squared Wasserstein error :math:`\mathbb E\,W_2^2` of the whole pipeline (learn a linear score by
denoising score matching from :math:`N` samples, then sample with the Unadjusted Langevin Algorithm, ULA) splits into
three parts (theory notes, R9):

.. math::

    \mathbb E\,W_2^2 \approx \underbrace{B(\sigma, \gamma)}_{\text{bias}}
    + \underbrace{\frac{1}{N}\,G(\sigma, \gamma)}_{\text{generalization}}
    + \underbrace{O(\tau)}_{\text{optimization}} .

This example computes the three parts with :func:`gaussdsm.error`, the Python front door (the same options as the
command ``gaussdsm error``, by their Python names), for a power-law spectrum :math:`\lambda_k = k^{-1}` in dimension
:math:`d = 64`, as the noise amplitude :math:`\sigma` of the score varies.
"""

# %%
# The error terms on a grid of :math:`\sigma`
# -------------------------------------------
# Every option given as a list is a grid axis: here ``sigma``, so the returned :class:`xarray.Dataset` has one
# dimension ``sigma``, and the other options are scalar coordinates.  ``spectrum="power_law"`` with ``d`` and
# ``alpha`` builds the eigenvalues (:func:`gaussdsm.spectra.spectrum`); they come back as the variable ``lam``.
import matplotlib.pyplot as plt
import numpy as np

import gaussdsm

sigma = np.geomspace(0.01, 1.0, 61)  # 0.1 is on the grid
ds = gaussdsm.error(spectrum="power_law", d=64, alpha=1.0, n_samples=1000, sigma=list(sigma), gamma=0.01,
                    tau=2e-4)
point = ds.sel(sigma=0.1, method="nearest")  # the grid point nearest 0.1
terms = ("bias", "generalization", "optimization", "total")
print(f"sigma = {float(point.sigma):.3g}: " + ", ".join(f"{k} {float(point[k]):.3g}" for k in terms))
print(f"d = {ds.lam.size}, lam in [{float(ds.lam.min()):.3g}, {float(ds.lam.max()):.3g}]")

# %%
# The trade-off in :math:`\sigma`
# -------------------------------
# A small :math:`\sigma` gives a small bias but a score that is hard to learn from :math:`N` samples (and an SGD
# that is noisier, the optimization term grows like :math:`\tau/\sigma^2`); a large :math:`\sigma` smooths the
# data law too much.  The total has an interior minimum :math:`\sigma^*`.
fig, ax = plt.subplots(figsize=(6.4, 4.2))
for term, style in (("bias", "--"), ("generalization", "-."), ("optimization", ":"), ("total", "-")):
    ax.loglog(sigma, ds[term], style, lw=2 if term == "total" else 1.5, label=term)
best = float(ds["total"].idxmin("sigma"))
ax.axvline(best, color="grey", lw=0.8)
ax.annotate(rf"$\sigma^* \approx {best:.2g}$", (best, 0.0), xytext=(4, 6), xycoords=("data", "axes fraction"),
            textcoords="offset points")
ax.set_xlabel(r"noise amplitude $\sigma$ of the learned score")
ax.set_ylabel(r"$\mathbb{E}\,W_2^2$")
ax.set_title(r"power law $\lambda_k = k^{-1}$, $d = 64$, $N = 1000$, ULA $\gamma = 0.01$, SGD $\tau = 2\cdot10^{-4}$",
             fontsize=9)
ax.legend()
fig.tight_layout()

# %%
# Theory against Monte Carlo at one point
# ---------------------------------------
# With ``mc=R`` the same call also runs the exact pipeline ``R`` times (draw a training set, fit the score, compute
# the law of stationary ULA and its :math:`W_2^2` to the data law) and adds ``mc_mean``, ``mc_stderr`` and
# ``z`` = (mc_mean - total) / mc_stderr.  Here at :math:`\sigma = 0.1` with the exact DSM fit (:math:`\tau = 0`).
at = gaussdsm.error(spectrum="power_law", d=64, alpha=1.0, n_samples=1000, sigma=0.1, gamma=0.01, mc=100, seed=0)
print(f"theory {float(at.total):.4g}, Monte Carlo {float(at.mc_mean):.4g} +- {float(at.mc_stderr):.2g}, "
      f"z = {float(at.z):+.2f}")

# %%
# The same point from the command line
# ------------------------------------
# ``gaussdsm error`` is the same engine: it prints the breakdown of one point and, with ``--mc``, the same Monte
# Carlo (the same seed: the same numbers).
from gaussdsm.cli import main

status = main(["error", "--spectrum", "power_law", "--d", "64", "--alpha", "1", "--n-samples", "1000",
               "--sigma", "0.1", "--gamma", "0.01", "--mc", "100"])
