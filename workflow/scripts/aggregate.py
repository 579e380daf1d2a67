"""Rule aggregate: thin wrapper around gaussdsm.stages.aggregate."""
from gaussdsm import interrupt

smk = snakemake  # noqa: F821 (injected by Snakemake)
interrupt.on_sigint(smk)  # Ctrl-C: one line and exit status 130, from before the heavy imports on
from gaussdsm import stages  # noqa: E402

with stages.job(smk, "aggregate") as provenance:
    stages.aggregate(
        smk.input.spectrum, smk.input.theory, list(smk.input.samplers), **smk.params.aggregate, out=smk.output[0],
        provenance=provenance,
    )
