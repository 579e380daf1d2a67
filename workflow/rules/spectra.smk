rule spectra:
    """The data power spectrum lam (eigenvalues of the covariance), from its source (synthetic, image, data set, file)."""
    input:
        spectrum_inputs,
    output:
        "results/{study}/spectrum.nc",
    params:
        spectrum=spectrum_args,
        code=CODE_VERSION,
    log:
        "logs/{study}/spectra.log",
    benchmark:
        "logs/benchmarks/{study}/spectra.tsv",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/spectra.py"
