"""Rule analytic_error: thin wrapper around gaussdsm.stages.analytic_error."""
from gaussdsm import interrupt

smk = snakemake  # noqa: F821 (injected by Snakemake)
interrupt.on_sigint(smk)  # Ctrl-C: one line and exit status 130, from before the heavy imports on
from gaussdsm import stages  # noqa: E402

with stages.job(smk, "analytic_error") as provenance:
    stages.analytic_error(smk.input.spectrum, **smk.params.theory, out=smk.output[0], provenance=provenance)
