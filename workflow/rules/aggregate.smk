rule aggregate:
    """Monte-Carlo mean, standard error, theory and z-score per grid point, into one summary NetCDF."""
    input:
        spectrum=f"{RESULTS}/spectrum.nc",
        theory=f"{RESULTS}/theory.nc",
        langevin=langevin_chunks,
    output:
        f"{RESULTS}/summary.nc",
    params:
        code=CODE_VERSION,
    log:
        f"{LOGS}/aggregate.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/aggregate.py"
