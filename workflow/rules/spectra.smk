rule spectra:
    """The data power spectrum lam (eigenvalues of the covariance)."""
    output:
        f"{RESULTS}/spectrum.nc",
    params:
        spectrum=STUDY.spectrum_params,
        code=CODE_VERSION,
    log:
        f"{LOGS}/spectra.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/spectra.py"
