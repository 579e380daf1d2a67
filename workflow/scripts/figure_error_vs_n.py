"""Rule figure_error_vs_n: thin wrapper around gaussdsm.figures.error_vs_n."""
from gaussdsm import figures, stages

smk = snakemake  # noqa: F821 (injected by Snakemake)
with stages.job(smk) as provenance:
    figures.error_vs_n(
        smk.input.summary,
        list(smk.output.figures),
        data_out=smk.output.data,
        dpi=smk.params.dpi,
        study=smk.wildcards.study,
        provenance=provenance,
    )
