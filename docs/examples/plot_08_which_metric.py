r"""
Which error metric
==================

The error of the sampled law :math:`\hat\mu = \mathcal N(0, \hat\Sigma)` against the data law
:math:`\mu = \mathcal N(0, \Sigma)` can be measured in three ways (:data:`gaussdsm.metrics.METRICS`; ``metric=`` of
:func:`gaussdsm.error`, ``--metric`` of ``gaussdsm error``, ``metrics:`` in a study):

* ``w2``: the squared Wasserstein-2 (Fréchet) distance
  :math:`W_2^2 = \operatorname{tr}\bigl(\Sigma + \hat\Sigma - 2(\Sigma^{1/2}\hat\Sigma\Sigma^{1/2})^{1/2}\bigr)`;
* ``kl_sample_data``: :math:`KL(\hat\mu\|\mu) = \tfrac12\bigl(\operatorname{tr}(\Sigma^{-1}\hat\Sigma) - d
  - \log\det(\Sigma^{-1}\hat\Sigma)\bigr)`;
* ``kl_data_sample``: :math:`KL(\mu\|\hat\mu)`, the same with :math:`\Sigma` and :math:`\hat\Sigma` exchanged.

They weigh the modes differently.  For commuting covariances, a mode of variance :math:`\lambda` sampled with
variance :math:`\lambda(1 + \varepsilon)` costs :math:`W_2^2 = \lambda(\sqrt{1+\varepsilon} - 1)^2 \approx
\lambda\varepsilon^2/4`: an *absolute* error, dominated by the large eigenvalues.  Both KLs depend on the ratio
:math:`1 + \varepsilon` only, :math:`\tfrac12(\varepsilon - \log(1 + \varepsilon)) \approx \varepsilon^2/4`: a
*relative* error, the same for every mode, so the small eigenvalues (where a fixed absolute error is a large
relative one) count as much as the large ones.
"""

# %%
# The three metrics against :math:`N`
# ------------------------------------
# ``metric`` given as a list is one more grid axis: the theory's terms and the Monte Carlo come back with a
# ``metric`` dimension.  Power law :math:`\lambda_k = k^{-1}`, :math:`d = 16`, DSM at :math:`\sigma = 0.1`,
# continuous-time Langevin (:math:`\gamma = 0`); 100 training sets per Monte-Carlo point.
import textwrap

import matplotlib.pyplot as plt
import numpy as np

import gaussdsm

metrics = ["w2", "kl_sample_data", "kl_data_sample"]
labels = {"w2": r"$W_2^2$", "kl_sample_data": r"KL(sampled$\|$data)", "kl_data_sample": r"KL(data$\|$sampled)"}
setting = dict(spectrum="power_law", d=16, alpha=1.0, sigma=0.1, gamma=0.0, metric=metrics)
n_dense = np.unique(np.geomspace(30, 3e4, 60).round().astype(int))
theory = gaussdsm.error(n_samples=list(n_dense), **setting)
n_mc = [50, 200, 1000, 5000, 20000]
mc = gaussdsm.error(n_samples=n_mc, mc=100, seed=3, **setting)
print("z = (mc_mean - total) / mc_stderr:")
print(mc["z"].to_pandas().to_string(float_format="{:+.2f}".format))

fig, ax = plt.subplots(figsize=(6.4, 4.4))
for k, m in enumerate(metrics):
    t, r = theory.sel(metric=m), mc.sel(metric=m)
    inside = t["in_regime"].values.astype(bool)
    ax.loglog(n_dense[inside], t["total"][inside], "-", color=f"C{k}", label=labels[m])
    ax.loglog(n_dense[~inside], t["total"][~inside], ":", color=f"C{k}")
    ax.axhline(float(t["bias"]), ls="--", lw=0.8, color=f"C{k}")
    ax.errorbar(n_mc, r["mc_mean"], yerr=2 * r["mc_stderr"], fmt="o", ms=4, color=f"C{k}")
ax.set_xlabel("number of training samples $N$")
ax.set_ylabel("expected error")
ax.set_title("power law $d = 16$, $\\sigma = 0.1$, continuous-time Langevin, exact DSM fit\n"
             r"lines: theory (dotted: outside its regime), dashed: bias floor; points: Monte Carlo $\pm$ 2 s.e.",
             fontsize=8)
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# All three fall like :math:`1/N` to their bias floor.  The Monte Carlo of the three metrics uses the same
# training sets (one run, three distances), so their z-scores move together.  Below :math:`N \approx 10\max(d,
# N_s)` the first-order expansion is outside its regime (dotted), and :math:`KL(\mu\|\hat\mu)` leaves the line
# first.
#
# The coefficient of :math:`1/N` says what each metric weighs.  With a small :math:`\sigma` the score is fitted
# to the empirical covariance, whose relative error per mode does not depend on the eigenvalue: both KLs'
# :math:`N \times` generalization tend to :math:`d(d+1)/4 = 68` *whatever the spectrum*, while
# :math:`W_2^2`'s scales with the eigenvalues (smaller for a faster decay :math:`\alpha`).
coef = gaussdsm.error(spectrum="power_law", d=16, alpha=[0.5, 1.0, 2.0], n_samples=10**6, sigma=1e-3, gamma=0.0,
                      metric=metrics)
print("N x generalization, sigma = 0.001:")
print((coef["generalization"] * 10**6).to_pandas().to_string(float_format="{:.3g}".format))

# %%
# A small eigenvalue
# ------------------
# The spectrum :math:`1, \frac12, \dots, \frac1{15}` with a 16th eigenvalue :math:`\varepsilon` that shrinks
# (``spectrum="custom"``, ``values=``).  The DSM score at noise :math:`\sigma` samples that mode with a variance of
# about :math:`\varepsilon + \sigma^2`: an absolute error of at most :math:`\sigma^2`, so :math:`W_2^2` stays
# bounded, but a relative error :math:`\sigma^2/\varepsilon`.  :math:`KL(\hat\mu\|\mu)` grows like
# :math:`\sigma^2/\varepsilon` and :math:`KL(\mu\|\hat\mu)` like :math:`\log(\sigma^2/\varepsilon)`.  (Here
# :math:`N = 10^4` is below the first-order regime's guarantee :math:`10 N_s`, :math:`N_s = 2(\lambda_{\max}/m)^2`
# with :math:`m \approx \varepsilon + \sigma^2`; the Monte-Carlo points show that the lines hold all the same.)
base = 1 / np.arange(1, 16)
smallest = np.geomspace(1e-6, 1.0 / 16, 25)
sweep = [gaussdsm.error(spectrum="custom", values=[*base, e], n_samples=10000, sigma=0.1, gamma=0.0, metric=metrics)
         for e in smallest]
checks = [1e-5, 1e-3, 3e-2]  # a few Monte-Carlo points (50 training sets each)
checked = [gaussdsm.error(spectrum="custom", values=[*base, e], n_samples=10000, sigma=0.1, gamma=0.0,
                          metric=metrics, mc=50, seed=4) for e in checks]

fig, ax = plt.subplots(figsize=(6.4, 4.2))
for k, m in enumerate(metrics):
    ax.loglog(smallest, [float(ds["total"].sel(metric=m)) for ds in sweep], "-", color=f"C{k}", label=labels[m])
    ax.errorbar(checks, [float(ds["mc_mean"].sel(metric=m)) for ds in checked],
                yerr=[2 * float(ds["mc_stderr"].sel(metric=m)) for ds in checked], fmt="o", ms=4, color=f"C{k}")
ax.axvline(0.1**2, color="grey", lw=0.8)
ax.annotate(r"$\varepsilon = \sigma^2$", (0.1**2, 1e3), xytext=(4, 0), textcoords="offset points", fontsize=8)
ax.set_xlabel(r"smallest eigenvalue $\varepsilon$")
ax.set_ylabel(r"expected error ($N = 10^4$; points: Monte Carlo)")
ax.set_title(r"$\lambda = (1, \frac{1}{2}, \dots, \frac{1}{15}, \varepsilon)$, $\sigma = 0.1$, $\gamma = 0$",
             fontsize=9)
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# A singular covariance: KL is infinite
# -------------------------------------
# At :math:`\varepsilon = 0` the data law has no density: it lives on a subspace where the sampled law (of full
# rank, variance :math:`\approx \sigma^2` across it) has probability 0. Neither law is absolutely continuous with
# respect to the other, both KLs are :math:`+\infty`, while :math:`W_2^2` stays finite. Real data do this: the
# covariance of scikit-learn's ``digits`` images has zero eigenvalues (three pixels on the border are always
# black). The Dataset says so at each such point, in ``reason``, and the Monte Carlo is not run there
# (``mc_note``): never a silent NaN.
digits = gaussdsm.error(spectrum="pca", data="digits", n_samples=2000, sigma=0.1, gamma=0.0, metric=metrics, mc=20)
print(f"the 4 smallest of the {digits['lam'].size} eigenvalues of the digits covariance: "
      f"{np.sort(digits['lam'].values)[:4]}")
for m in metrics:
    p = digits.sel(metric=m)
    print(f"{m}: total = {float(p['total']):.4g}, Monte Carlo = {float(p['mc_mean']):.4g}")
    for name in ("reason", "mc_note"):
        text = str(p[name].values).splitlines()
        print(textwrap.fill(f"{name}: {text[0] if text else '(empty)'}", 72, initial_indent="    ",
                            subsequent_indent="        "))
