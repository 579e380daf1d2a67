"""Rule run_sampler: thin wrapper around gaussdsm.stages.run_sampler."""
from gaussdsm import stages

smk = snakemake  # noqa: F821 (injected by Snakemake)
with stages.job(smk, "run_sampler") as provenance:
    stages.run_sampler(smk.input.spectrum, smk.input.get("fits"), **smk.params.sampler, out=smk.output[0],
                       provenance=provenance)
