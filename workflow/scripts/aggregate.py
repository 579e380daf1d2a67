"""Rule aggregate: thin wrapper around gaussdsm.stages.aggregate."""
from gaussdsm import stages

smk = snakemake  # noqa: F821 (injected by Snakemake)
with stages.job(smk, "aggregate") as provenance:
    stages.aggregate(
        smk.input.spectrum, smk.input.theory, list(smk.input.samplers), **smk.params.aggregate, out=smk.output[0],
        provenance=provenance,
    )
