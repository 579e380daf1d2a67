"""Rule fit_scores: thin wrapper around gaussdsm.stages.fit_scores."""
from gaussdsm import stages

smk = snakemake  # noqa: F821 (injected by Snakemake)
with stages.job(smk, "fit_scores") as provenance:
    stages.fit_scores(smk.input.spectrum, **smk.params.fit, out=smk.output[0], provenance=provenance)
