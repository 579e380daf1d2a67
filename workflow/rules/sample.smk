rule run_langevin:
    """ULA stationary law for every learned score and every gamma; squared W2 error per replicate."""
    input:
        spectrum="results/{study}/spectrum.nc",
        fits="results/{study}/fits/chunk-{chunk}.nc",
    output:
        "results/{study}/langevin/chunk-{chunk}.nc",
    params:
        sampler=sampler_args,
        code=CODE_VERSION,
    log:
        "logs/{study}/run_langevin/chunk-{chunk}.log",
    benchmark:
        "logs/benchmarks/{study}/run_langevin/chunk-{chunk}.tsv",
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/run_langevin.py"
