rule figure_error_vs_n:
    """P1: error against N, theory lines and Monte-Carlo points (our proposal, not the paper's figure)."""
    input:
        summary=f"{RESULTS}/summary.nc",
    output:
        data=f"{RESULTS}/figures/error_vs_n.nc",
        figures=report(
            figure_files("error_vs_n"),
            caption="../report/error_vs_n.rst",
            category="Figures",
            subcategory=STUDY.name,
        ),
    params:
        study=STUDY.name,
        dpi=config["figures"]["dpi"],
        code=CODE_VERSION,
    log:
        f"{LOGS}/figure_error_vs_n.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/figure_error_vs_n.py"
