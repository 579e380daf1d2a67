"""Rules figure_<panel>: thin wrapper around gaussdsm.figures.PANELS[panel]."""
from gaussdsm import figures, stages

smk = snakemake  # noqa: F821 (injected by Snakemake)
with stages.job(smk) as provenance:
    figures.PANELS[smk.params.panel](
        smk.input.summary,
        list(smk.output.figures),
        data_out=smk.output.data,
        dpi=smk.params.dpi,
        study=smk.wildcards.study,
        provenance=provenance,
    )
