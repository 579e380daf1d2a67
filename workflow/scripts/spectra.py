"""Rule spectra: thin wrapper around gaussdsm.stages.spectra."""
from gaussdsm import stages

with stages.job(snakemake) as provenance:  # noqa: F821 (injected by Snakemake)
    stages.spectra(snakemake.params.spectrum, out=snakemake.output[0], provenance=provenance)  # noqa: F821
