"""Rule run_sampler: thin wrapper around gaussdsm.stages.run_sampler."""
from gaussdsm import interrupt

smk = snakemake  # noqa: F821 (injected by Snakemake)
interrupt.on_sigint(smk)  # Ctrl-C: one line and exit status 130, from before the heavy imports on
from gaussdsm import stages  # noqa: E402

with stages.job(smk, "run_sampler") as provenance:
    stages.run_sampler(smk.input.spectrum, smk.input.get("fits"), **smk.params.sampler, out=smk.output[0],
                       provenance=provenance)
