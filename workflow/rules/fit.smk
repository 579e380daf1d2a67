rule fit_scores:
    """Learn the linear score by denoising score matching on n_replicates training sets per fit point."""
    input:
        spectrum="results/{study}/spectrum.nc",
    output:
        "results/{study}/fits/chunk-{chunk}.nc",
    params:
        fit=fit_args,
        code=CODE_VERSION,
    log:
        "logs/{study}/fit_scores/chunk-{chunk}.log",
    benchmark:
        "logs/benchmarks/{study}/fit_scores/chunk-{chunk}.tsv",
    threads: 1
    resources:
        mem_mb=mc_mem_mb,
        runtime=60,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/fit_scores.py"
