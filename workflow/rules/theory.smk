rule analytic_error:
    """Closed-form error expansion (bias, generalization, optimization) on the whole grid, one vectorised job."""
    input:
        spectrum="results/{study}/spectrum.nc",
    output:
        "results/{study}/theory.nc",
    params:
        theory=theory_args,
        code=CODE_VERSION,
    log:
        "logs/{study}/analytic_error.log",
    benchmark:
        "logs/benchmarks/{study}/analytic_error.tsv",
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/analytic_error.py"
