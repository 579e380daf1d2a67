"""Rules figure_<panel> and figure_comparison: thin wrapper around gaussdsm.figures.render."""
from gaussdsm import interrupt

smk = snakemake  # noqa: F821 (injected by Snakemake)
interrupt.on_sigint(smk)  # Ctrl-C: one line and exit status 130, from before the heavy imports on
from gaussdsm import figures, stages  # noqa: E402

with stages.job(smk, f"figure_{smk.params.panel}") as provenance:
    figures.render(smk.params.panel, list(smk.input.summaries), list(smk.output.figures), data_out=smk.output.data,
                   dpi=smk.params.dpi, label=smk.params.label, studies=list(smk.params.studies), provenance=provenance)
