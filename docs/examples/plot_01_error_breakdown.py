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

This example computes the three parts with :func:`gaussdsm.theory.error_terms` for a power-law spectrum
:math:`\lambda_k = k^{-1}` in dimension :math:`d = 64`, as the noise amplitude :math:`\sigma` of the score varies.
"""

# %%
# The spectrum and the error terms on a grid of :math:`\sigma`
# -------------------------------------------------------------
# :func:`gaussdsm.spectra.spectrum` builds the eigenvalues; :func:`~gaussdsm.theory.error_terms` returns an
# :class:`xarray.Dataset` whose dimensions are the parameters given as arrays.
import matplotlib.pyplot as plt
import numpy as np

from gaussdsm.spectra import spectrum
from gaussdsm.theory import error_terms

sp = spectrum("power_law", d=64, alpha=1.0)
sigma = np.geomspace(0.01, 1.0, 60)
ds = error_terms(sp.lam, n_samples=1000, sigma=sigma, gamma=0.01, tau=2e-4)
point = ds.sel(sigma=0.1, method="nearest")
terms = ("bias", "generalization", "optimization", "total")
print(f"sigma = {float(point.sigma):.3g}: " + ", ".join(f"{k} {float(point[k]):.3g}" for k in terms))

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
ax.annotate(rf"$\sigma^* \approx {best:.2g}$", (best, float(ds["total"].min())), xytext=(8, 20),
            textcoords="offset points")
ax.set_xlabel(r"noise amplitude $\sigma$ of the learned score")
ax.set_ylabel(r"$\mathbb{E}\,W_2^2$")
ax.set_title(r"power law $\lambda_k = k^{-1}$, $d = 64$, $N = 1000$, ULA $\gamma = 0.01$, SGD $\tau = 2\cdot10^{-4}$",
             fontsize=9)
ax.legend()
fig.tight_layout()

# %%
# The same point from the command line
# ------------------------------------
# ``gaussdsm error`` prints this breakdown for one point, and checks it against Monte Carlo with ``--mc``.
from gaussdsm.cli import main

main(["error", "--spectrum", "power_law", "--d", "64", "--alpha", "1", "--n-samples", "1000", "--sigma", "0.1",
      "--gamma", "0.01", "--mc", "100"])
