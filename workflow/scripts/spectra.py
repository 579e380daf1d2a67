"""Rule spectra: thin wrapper around gaussdsm.stages.spectra."""
from gaussdsm import interrupt

smk = snakemake  # noqa: F821 (injected by Snakemake)
interrupt.on_sigint(smk)  # Ctrl-C: one line and exit status 130, from before the heavy imports on
from gaussdsm import stages  # noqa: E402

with stages.job(smk, "spectra") as provenance:
    stages.spectra(**smk.params.spectrum, out=smk.output[0], provenance=provenance)
