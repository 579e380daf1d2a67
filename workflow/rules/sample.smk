rule run_langevin:
    """ULA stationary law for every learned score and every gamma; squared W2 error per replicate."""
    input:
        spectrum=f"{RESULTS}/spectrum.nc",
        fits=f"{RESULTS}/fits/chunk-{{chunk}}.nc",
    output:
        f"{RESULTS}/langevin/chunk-{{chunk}}.nc",
    params:
        gamma=STUDY.grid["gamma"],
        code=CODE_VERSION,
    log:
        f"{LOGS}/run_langevin/chunk-{{chunk}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/run_langevin.py"
