rule analytic_error:
    """Closed-form error expansion (bias, generalization, optimization) on the whole grid, one vectorised job."""
    input:
        spectrum=f"{RESULTS}/spectrum.nc",
    output:
        f"{RESULTS}/theory.nc",
    params:
        grid=STUDY.grid,
        model=config["fit"]["model"],
        loss_factor=config["fit"]["loss_factor"],
        batch_size=1,
        code=CODE_VERSION,
    log:
        f"{LOGS}/analytic_error.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/analytic_error.py"
