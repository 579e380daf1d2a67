"""Rule spectra: thin wrapper around gaussdsm.stages.spectra."""
from gaussdsm import stages

smk = snakemake  # noqa: F821 (injected by Snakemake)
with stages.job(smk, "spectra") as provenance:
    stages.spectra(**smk.params.spectrum, out=smk.output[0], provenance=provenance)
