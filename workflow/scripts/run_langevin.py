"""Rule run_langevin: thin wrapper around gaussdsm.stages.run_langevin."""
from gaussdsm import stages

smk = snakemake  # noqa: F821 (injected by Snakemake)
with stages.job(smk) as provenance:
    stages.run_langevin(smk.input.spectrum, smk.input.fits, **smk.params.sampler, out=smk.output[0],
                        provenance=provenance)
