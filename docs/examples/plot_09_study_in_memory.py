r"""
A whole study in memory
=======================

A study of the workflow (a spectrum, a grid, a Monte-Carlo size, :doc:`/config`) is normally run by Snakemake,
one job per stage and chunk, into ``results/<study>/*.nc``.  :func:`gaussdsm.run_study` runs the same stages
(``spectra``, ``run_sampler`` per chunk, ``analytic_error``, ``aggregate``) in this process, on files in a
temporary directory that it removes, and returns the study's ``summary``, ``theory`` and ``spectrum`` Datasets.
The config is validated as the Snakefile does it, and every chunk draws from the same random streams: these are
the same numbers as ``snakemake`` writes to ``results/<study>/summary.nc``, without Snakemake (keep such studies
small: there are no parallel jobs here).
"""

# %%
# The study, as a dict
# --------------------
# A study that the default config (``config/config.yaml``) does not define is put on it, as
# ``snakemake --configfile`` does: the seed and every default come from there.  The same dict written as YAML is a
# config file for Snakemake.
import matplotlib.pyplot as plt
import yaml

import gaussdsm

config = {
    "run_studies": ["small"],
    "studies": {
        "small": {
            "spectrum": {"kind": "power_law", "d": 16, "alpha": 1.0},
            "grid": {"n_samples": [50, 100, 200, 500, 1000, 2000, 5000], "sigma": [0.05, 0.3], "gamma": [0.02]},
            "montecarlo": {"n_replicates": 100, "points_per_job": 7},
        }
    },
}
print(yaml.safe_dump(config, sort_keys=False, default_flow_style=None))
print("as a Snakemake run:  snakemake --cores 2 --configfile small.yaml   # -> results/small/summary.nc")

# %%
# Run it
# ------
# For a study of the repository, pass its overlay file (from the repository's root):
# ``gaussdsm.run_study("config/p1.yaml", replicates=20)`` runs figure P1's study with 20 training sets per point
# instead of its 200.
res = gaussdsm.run_study(config)
summary = res.summary
print("mc_mean:", dict(summary["mc_mean"].sizes))
print(summary[["mc_mean", "mc_stderr", "theory_total", "zscore"]].squeeze(drop=True).sel(sigma=0.05, drop=True)
      .to_dataframe().to_string(float_format="{:.4g}".format))
print("written by the stage:", summary.attrs["snakemake_rule"])
print("config sha256:", summary.attrs["config_sha256"][:16], "...")

# %%
# The summary: theory against Monte Carlo
# ---------------------------------------
# The study's grid has every option as a dimension (``n_samples``, ``sigma``, ``gamma``, ``tau``, ``n_steps``), of
# size 1 where the study sets one value; ``theory_*`` are the first-order terms on the same grid and ``zscore`` is
# (mc_mean - theory_total) / mc_stderr.  This is the figure the workflow's ``error_vs_n`` panel draws (P1).
s = summary.squeeze(drop=True)
fig, (ax, ax1) = plt.subplots(1, 2, figsize=(9, 3.6), gridspec_kw={"width_ratios": [3, 2]})
for sigma, color in zip(s["sigma"].values, ("C0", "C3")):
    p = s.sel(sigma=sigma)
    ax.loglog(p["n_samples"], p["theory_total"], "-", color=color, label=rf"theory, $\sigma = {sigma:g}$")
    ax.errorbar(p["n_samples"], p["mc_mean"], yerr=2 * p["mc_stderr"], fmt="o", ms=4, color=color,
                label=r"Monte Carlo $\pm$ 2 s.e.")
    ax1.semilogx(p["n_samples"], p["zscore"], "o-", ms=4, color=color, label=rf"$\sigma = {sigma:g}$")
ax.set_xlabel("number of training samples $N$")
ax.set_ylabel(r"$\mathbb{E}\,W_2^2$")
ax.set_title(r"study 'small': power law $d = 16$, ULA $\gamma = 0.02$, 100 training sets", fontsize=9)
ax.legend(fontsize=8)
ax1.axhspan(-2, 2, color="grey", alpha=0.15, lw=0)
ax1.axhline(0, color="grey", lw=0.8)
ax1.set_xlabel("$N$")
ax1.set_ylabel("zscore (standard errors)")
ax1.set_title(r"(MC $-$ theory) / s.e.; shaded: $\pm 2$", fontsize=9)
ax1.legend(fontsize=8)
fig.tight_layout()

# %%
# The z-scores of the two :math:`\sigma` move together: the training sets depend on :math:`N` and the seed only
# (common random numbers), so the two columns share their Monte-Carlo noise.
#
# The same point by :func:`gaussdsm.error` agrees with the theory of the study (the same formulas); its Monte
# Carlo uses the streams of ``gaussdsm error`` (its own ``seed``), so it is a second, independent estimate.
point = gaussdsm.error(spectrum="power_law", d=16, alpha=1.0, n_samples=1000, sigma=0.3, gamma=0.02, mc=100)
here = s.sel(n_samples=1000, sigma=0.3)
print(f"theory:      study {float(here['theory_total']):.6g}, gaussdsm.error {float(point['total']):.6g}")
print(f"Monte Carlo: study {float(here['mc_mean']):.4g} +- {float(here['mc_stderr']):.2g}, "
      f"gaussdsm.error {float(point['mc_mean']):.4g} +- {float(point['mc_stderr']):.2g}")
