"""gaussdsm: denoising score matching -> Langevin sampling, Wasserstein error in the Gaussian setting.

Reproduction and extension of Hurault, Terris, Moreau, Peyre, *From Denoising Score
Matching to Langevin Sampling: A Fine-Grained Error Analysis in the Gaussian
Setting* (arXiv 2503.11615).  Formulas are referenced as R1-R12 of the project's
theory notes (reconstructed; see README).

Modules mirror the workflow stages: :mod:`~gaussdsm.spectra`, :mod:`~gaussdsm.dsm`
(and :mod:`~gaussdsm.sgd`), :mod:`~gaussdsm.langevin`, :mod:`~gaussdsm.wasserstein`,
:mod:`~gaussdsm.theory`, :mod:`~gaussdsm.montecarlo`; :mod:`~gaussdsm.stages` runs
them for the Snakemake workflow.
"""

__version__ = "0.1.0"
