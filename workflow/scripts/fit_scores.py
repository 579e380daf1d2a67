"""Rule fit_scores: thin wrapper around gaussdsm.stages.fit_scores."""
from gaussdsm import interrupt

smk = snakemake  # noqa: F821 (injected by Snakemake)
interrupt.on_sigint(smk)  # Ctrl-C: one line and exit status 130, from before the heavy imports on
from gaussdsm import stages  # noqa: E402

with stages.job(smk, "fit_scores") as provenance:
    stages.fit_scores(smk.input.spectrum, **smk.params.fit, out=smk.output[0], provenance=provenance)
