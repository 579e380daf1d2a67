"""gaussdsm: denoising score matching -> Langevin sampling, Wasserstein error in the Gaussian setting.

Reproduction and extension of Hurault, Terris, Moreau, Peyre, *From Denoising Score
Matching to Langevin Sampling: A Fine-Grained Error Analysis in the Gaussian
Setting* (arXiv 2503.11615).  Formulas are referenced as R1-R12 of the project's
theory notes (reconstructed; see README).

One module owns each concern (README, "The package"): the maths in :mod:`~gaussdsm.spectra`,
:mod:`~gaussdsm.dsm` and :mod:`~gaussdsm.sgd`, :mod:`~gaussdsm.langevin`, :mod:`~gaussdsm.wasserstein`,
:mod:`~gaussdsm.theory`, :mod:`~gaussdsm.optimal`; the Monte-Carlo estimator and random streams in
:mod:`~gaussdsm.montecarlo`; the NetCDF vocabulary in :mod:`~gaussdsm.vocabulary` and the files in
:mod:`~gaussdsm.io`; the config in :mod:`~gaussdsm.study`; the workflow's stages in :mod:`~gaussdsm.stages`;
the figures (one module per panel and the panel registry) in :mod:`gaussdsm.figures`.
"""

__version__ = "0.1.0"
