r"""
Your own eigenvalues
====================

Any spectrum can be studied: save its eigenvalues with :func:`numpy.save` (or as text, or NetCDF with a variable
``lam``) and read them with the ``custom`` source of :func:`gaussdsm.spectra.spectrum` (in a study:
``spectrum: {kind: custom, file: lam.npy}``; on the command line: ``gaussdsm error --spectrum custom --file
lam.npy``).  Here the eigenvalues are a PCA of a data set of yours; as a stand-in, the 30 standardised features of
scikit-learn's bundled breast-cancer data set.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer

from gaussdsm.montecarlo import monte_carlo_error
from gaussdsm.spectra import spectrum
from gaussdsm.theory import error_terms

# %%
# The PCA: eigenvalues of the empirical covariance of the standardised features, saved as an ``.npy`` file.
X = load_breast_cancer().data
X = (X - X.mean(0)) / X.std(0)
eigenvalues = np.linalg.eigvalsh(np.cov(X, rowvar=False))
folder = Path(tempfile.mkdtemp())
np.save(folder / "my_eigenvalues.npy", eigenvalues)

# %%
# Read back by the package: checked (finite, :math:`\ge 0` up to round-off), sorted, with its provenance (the
# file's name and sha256).
sp = spectrum("custom", file=str(folder / "my_eigenvalues.npy"))
print(f"d = {sp.d}, lam[:5] = {np.round(sp.lam[:5], 3)}, clipped round-off negatives: "
      f"{sp.info.get('clipped_negative', 0)}")
print({k: v for k, v in sp.info.items() if k in ("file", "sha256")})

# %%
# Error against :math:`N` for this spectrum, theory and Monte Carlo, stationary ULA.  This spectrum spans five
# decades; where the term the first-order expansion neglects, estimated from the same variance map
# (``second_order``), exceeds 5 % of the total the theory is drawn dotted (outside its regime), and the Monte Carlo
# is the reference there.  (The older worst-case scale :math:`N_s = 2(\lambda_{\max}/m)^2`, ``n_samples_scale``, is
# still printed: it is set by the smallest eigenvalue, whose mode carries almost none of the error.)
sigma, gamma = 0.2, 0.01
n_dense = np.geomspace(50, 5e4, 60)
th = error_terms(sp.lam, n_dense, sigma, gamma)
n_mc = [100, 300, 1000, 3000, 10000]
mc = [monte_carlo_error(sp.lam, n, sigma, gamma, n_replicates=100, seed=5) for n in n_mc]
print(f"n_samples_scale N_s = {float(th['n_samples_scale'].max()):.3g}")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.6, 3.8))
ax0.semilogy(np.arange(1, sp.d + 1), sp.lam, "o-", ms=3)
ax0.set_xlabel("mode $i$")
ax0.set_ylabel(r"eigenvalue $\lambda_i$")
ax0.set_title("the PCA spectrum read from my_eigenvalues.npy", fontsize=9)
inside = th["in_regime"].values.astype(bool)
ax1.loglog(n_dense[inside], th["total"][inside], "-", color="C0", label="theory")
ax1.loglog(n_dense[~inside], th["total"][~inside], ":", color="C0", label="theory, outside its regime")
ax1.errorbar(n_mc, [r.mean for r in mc], yerr=[2 * r.stderr for r in mc], fmt="o", color="k", ms=4,
             label=r"Monte Carlo $\pm$ 2 s.e.")
ax1.set_xlabel("$N$")
ax1.set_ylabel(r"$\mathbb{E}\,W_2^2$")
ax1.set_title(rf"$\sigma = {sigma}$, ULA $\gamma = {gamma}$", fontsize=9)
ax1.legend(fontsize=8)
fig.tight_layout()
