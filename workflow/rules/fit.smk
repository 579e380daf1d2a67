rule fit_scores:
    """Learn the linear score by denoising score matching on n_replicates training sets per fit point."""
    input:
        spectrum=f"{RESULTS}/spectrum.nc",
    output:
        f"{RESULTS}/fits/chunk-{{chunk}}.nc",
    params:
        points=chunk_points,
        seed=config["seed"],
        n_replicates=config["montecarlo"]["n_replicates"],
        draw=config["montecarlo"]["draw"],
        method=config["fit"]["method"],
        model=config["fit"]["model"],
        loss_factor=config["fit"]["loss_factor"],
        code=CODE_VERSION,
    log:
        f"{LOGS}/fit_scores/chunk-{{chunk}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/fit_scores.py"
