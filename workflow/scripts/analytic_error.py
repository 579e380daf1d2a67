"""Rule analytic_error: thin wrapper around gaussdsm.stages.analytic_error."""
from gaussdsm import stages

smk = snakemake  # noqa: F821 (injected by Snakemake)
with stages.job(smk, "analytic_error") as provenance:
    stages.analytic_error(smk.input.spectrum, **smk.params.theory, out=smk.output[0], provenance=provenance)
