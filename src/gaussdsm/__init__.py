"""gaussdsm: denoising score matching -> Langevin and diffusion sampling, the error of the sampled law in the
Gaussian setting.

Reproduction and extension of Hurault, Terris, Moreau, Peyre, *From Denoising Score
Matching to Langevin Sampling: A Fine-Grained Error Analysis in the Gaussian
Setting* (arXiv 2503.11615).  Formulas are referenced as R1-R12 of the project's
theory notes (reconstructed; docs/theory.md).

One module owns each concern (docs/guide/package.md): the maths in :mod:`~gaussdsm.spectra`,
:mod:`~gaussdsm.dsm` and :mod:`~gaussdsm.sgd`, the samplers in :mod:`~gaussdsm.samplers`, the error metrics in
:mod:`~gaussdsm.metrics` (:mod:`~gaussdsm.wasserstein` for W2), :mod:`~gaussdsm.theory`, :mod:`~gaussdsm.optimal`;
the cross-field rules of a setting in :mod:`~gaussdsm.rules`; the Monte-Carlo estimator and random streams in
:mod:`~gaussdsm.montecarlo`; the NetCDF vocabulary in :mod:`~gaussdsm.vocabulary` and the files in
:mod:`~gaussdsm.io`; the config in :mod:`~gaussdsm.study`; the workflow's stages in :mod:`~gaussdsm.stages` (a job's Ctrl-C: :mod:`~gaussdsm.interrupt`);
the figures (one module per panel and the panel registry) in :mod:`gaussdsm.figures`.

Front door (notebooks): :func:`gaussdsm.error` (the command ``gaussdsm error`` in Python, any option a list = a grid
axis) and :func:`gaussdsm.run_study` (a study config in memory), both from :mod:`gaussdsm.engine`::

    >>> import gaussdsm
    >>> gaussdsm.error(d=8, n_samples=[100, 1000], sigma=0.2, gamma=0.02, mc=50)["z"]
"""

__version__ = "0.1.0"
__all__ = ["error", "run_study", "__version__"]


def __getattr__(name: str):
    """``gaussdsm.error`` and ``gaussdsm.run_study``, imported on first use (``import gaussdsm`` stays light)."""
    if name in ("error", "run_study"):
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'gaussdsm' has no attribute {name!r}")
