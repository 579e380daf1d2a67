rule aggregate:
    """Monte-Carlo mean, standard error, theory and z-score per grid point, into one summary NetCDF."""
    input:
        spectrum="results/{study}/spectrum.nc",
        theory="results/{study}/theory.nc",
        samplers=sampler_chunks,
    output:
        "results/{study}/summary.nc",
    params:
        aggregate=aggregate_args,
        code=CODE_VERSION,
    log:
        "logs/{study}/aggregate.log",
    benchmark:
        "logs/benchmarks/{study}/aggregate.tsv",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/aggregate.py"
