r"""
Diffusion solvers on a real spectrum: error against NFE
=======================================================

The spectrum of the ``digits`` data set (scikit-learn's 1797 images of 8 x 8 pixels, bundled: no download) is the
eigenvalue list of its empirical covariance, :math:`d = 64`. A VP diffusion model with the population score
(:math:`N = \infty`) is sampled by several reverse-time schemes (samplers notes §4, §8), and the error of the output
law is drawn against the number of score evaluations (NFE). The result also carries its parts: the discretization
part (the scheme against the continuous-time law) falls at the scheme's order, slope :math:`-1` for Euler–Maruyama
(``em``), the exponential integrator (``ei``) and the ODE's Euler step, :math:`-2` for Heun and DPM-Solver-2,
:math:`-4` for RK4; the stopping part (stopping at :math:`t_{\min}` instead of 0) does not depend on the scheme and
is the floor of the total. Every option of :func:`gaussdsm.error` given as a list is a grid axis: one call draws
every scheme at every number of steps.
"""

import json

import matplotlib.pyplot as plt
import numpy as np

import gaussdsm

diffusion = dict(spectrum="pca", data="digits", sampler="diffusion", process="vp", t_min=1e-3)
schemes = ["em", "ei", "euler", "heun", "dpm_2", "rk4"]
n_steps = [4, 8, 16, 32, 64, 128, 256]
ds = gaussdsm.error(n_samples=np.inf, scheme=schemes, n_steps=n_steps, **diffusion)
source = json.loads(ds.attrs["spectrum_json"])["source"]
print(f"d = {ds.lam.size}, lam in [{float(ds.lam.min()):.3g}, {float(ds.lam.max()):.3g}], made from "
      f"{source['data']} ({source['n_points']} points)")

# %%
# With a learned score (:math:`N = 2000` samples, the exact DSM minimiser at every noise level) the error gains
# a generalization floor; a few Monte-Carlo points for Heun (``mc=40``) check the theory there.
N = 2000
learned = gaussdsm.error(n_samples=N, scheme="heun", n_steps=n_steps, **diffusion)
mc = gaussdsm.error(n_samples=N, scheme="heun", n_steps=[8, 32, 128], mc=40, seed=7, **diffusion)
print(mc[["nfe", "total", "mc_mean", "mc_stderr", "z"]].to_dataframe()[["nfe", "total", "mc_mean", "mc_stderr", "z"]]
      .to_string(float_format="{:.4g}".format))

fig, (ax, ax1) = plt.subplots(1, 2, figsize=(11, 4.4))
for k, s in enumerate(schemes):
    t = ds.sel(scheme=s)
    ax.loglog(t["nfe"], t["total"], "o-", ms=3, color=f"C{k}", label=f"{s}")
    ax1.loglog(t["nfe"], t["bias_discretization"], "o-", ms=3, color=f"C{k}", label=f"{s}")
stopping = float(ds["bias_stopping"].max())
ax.axhline(stopping, color="grey", ls=":", label=r"stopping part ($t_{\min}$)")
ax.loglog(learned["nfe"], learned["total"], "--", color="C3", label=f"heun, learned score (N = {N})")
ax.errorbar(mc["nfe"], mc["mc_mean"], yerr=2 * mc["mc_stderr"], fmt="s", color="k", ms=5,
            label=f"Monte Carlo (heun, N = {N})")
ax.set_xlabel("number of score evaluations (NFE)")
ax.set_ylabel(r"$\mathbb{E}\,W_2^2$")
ax.set_title(r"total; VP diffusion, PCA spectrum of digits ($d = 64$), $t_{\min} = 10^{-3}$", fontsize=9)
ax.set_ylim(1e-5, 1e3)
ax.legend(fontsize=7, ncol=2)
nfe = np.array([16.0, 1024.0])
for order, style in ((1, "-"), (2, "--"), (4, ":")):
    ax1.loglog(nfe, 1e2 * (nfe / nfe[0]) ** -order, style, color="k", lw=0.8)
    ax1.annotate(f"slope −{order}", (300.0, 2e2 * (300.0 / nfe[0]) ** -order), fontsize=8)
ax1.set_xlabel("number of score evaluations (NFE)")
ax1.set_ylabel("discretization part")
ax1.set_title("the discretization part alone: each scheme's order", fontsize=9)
ax1.set_ylim(1e-8, 1e3)
fig.tight_layout()

# %%
# Near the floor the total can fall below the stopping part alone (Heun and RK4 at a few hundred NFE): the parts
# are :math:`W_2^2` distances between different laws and do not add up exactly.
print(f"stopping part: {stopping:.3g}; smallest total of each scheme:")
for s in schemes:
    print(f"  {s:>6}: {float(ds['total'].sel(scheme=s).min()):.3g}")
