"""Rule fit_scores: thin wrapper around gaussdsm.stages.fit_scores."""
from gaussdsm import stages

smk = snakemake  # noqa: F821 (injected by Snakemake)
with stages.job(smk) as provenance:
    stages.fit_scores(
        smk.input.spectrum,
        smk.params.points,
        seed=smk.params.seed,
        n_replicates=smk.params.n_replicates,
        method=smk.params.method,
        model=smk.params.model,
        draw=smk.params.draw,
        loss_factor=smk.params.loss_factor,
        out=smk.output[0],
        provenance=provenance,
    )
