"""Rule figure_comparison: thin wrapper around gaussdsm.figures.COMPARISONS[panel]."""
from gaussdsm import figures, stages

smk = snakemake  # noqa: F821 (injected by Snakemake)
with stages.job(smk) as provenance:
    figures.COMPARISONS[smk.wildcards.panel](
        list(smk.input.summaries),
        list(smk.params.studies),
        list(smk.output.figures),
        data_out=smk.output.data,
        dpi=smk.params.dpi,
        comparison=smk.wildcards.comparison,
        provenance=provenance,
    )
