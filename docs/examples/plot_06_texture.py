r"""
The spectrum of a texture
=========================

A stationary image is modelled by the Gaussian with the same power spectrum (its periodogram per DFT frequency):
:func:`gaussdsm.spectra.spectrum` with ``kind="texture"`` builds it from an image file or from a scikit-image
bundled image (here ``brick``, centre-cropped to 64 x 64, :math:`d = 4096`).  The spectrum carries each mode's
frequency :math:`|\omega|` and R11's :math:`\kappa`, which the convolutional (Fourier-diagonal) denoiser
``model="fourier"`` needs: theory and Monte Carlo then cost :math:`O(d)`.
"""

import matplotlib.pyplot as plt
import numpy as np

from gaussdsm.montecarlo import monte_carlo_error
from gaussdsm.spectra import spectrum
from gaussdsm.theory import error_terms

sp = spectrum("texture", image="brick", side=64)
print(f"d = {sp.d}, lam in [{sp.lam.min():.3g}, {sp.lam.max():.3g}]; source: {sp.info}")

# %%
# The power spectrum: each mode's eigenvalue against its frequency, with a least-squares power law
# :math:`P \propto |\omega|^{-s}` in log-log coordinates.
fig, ax0 = plt.subplots(figsize=(6.4, 4.0))
keep = (sp.frequency > 0) & (sp.lam > 0)
w, p = sp.frequency[keep], sp.lam[keep]
slope, icpt = np.polyfit(np.log(w), np.log(p), 1)
ax0.loglog(w, p, ".", ms=2, alpha=0.4, color="C0", label="periodogram")
wd = np.geomspace(w.min(), w.max(), 20)
ax0.loglog(wd, np.exp(icpt) * wd**slope, "k--", label=rf"fit, $s = {-slope:.2f}$")
ax0.set_xlabel(r"frequency $|\omega|$ (radian per pixel)")
ax0.set_ylabel(r"eigenvalue $\lambda$")
ax0.set_title("brick, 64 x 64", fontsize=9)
ax0.legend(fontsize=8)
fig.tight_layout()

# %%
# The error terms against :math:`\sigma` for the convolutional denoiser, :math:`N = 1000`, continuous-time
# Langevin (:math:`\gamma = 0`), and the Monte Carlo at one point (drawing the empirical mode variances directly).
sigma = np.geomspace(1e-3, 0.3, 40)
fig, ax1 = plt.subplots(figsize=(6.4, 4.0))
ds = error_terms(sp.lam, 1000, sigma=sigma, gamma=0.0, model="fourier", kappa=sp.kappa)
for term, style in (("bias", "--"), ("generalization", "-."), ("total", "-")):
    ax1.loglog(sigma, ds[term], style, label=term)
r = monte_carlo_error(sp.lam, 1000, 0.01, 0.0, n_replicates=100, seed=3, model="fourier", draw="modes",
                      kappa=sp.kappa)
ax1.errorbar([0.01], [r.mean], yerr=[2 * r.stderr], fmt="o", color="k", label="Monte Carlo")
ax1.set_xlabel(r"$\sigma$")
ax1.set_ylabel(r"$\mathbb{E}\,W_2^2$")
ax1.set_title(r"convolutional denoiser, $N = 1000$, $\gamma = 0$", fontsize=9)
ax1.legend(fontsize=8)
fig.tight_layout()
at = error_terms(sp.lam, 1000, sigma=0.01, gamma=0.0, model="fourier", kappa=sp.kappa)
print(f"sigma = 0.01: theory {float(at['total']):.4g}, Monte Carlo {r}, z = {(r.mean - float(at['total'])) / r.stderr:+.2f}")
