rule figure_error_vs_n:
    """P1: error against N, theory lines and Monte-Carlo points (our proposal, not the paper's figure)."""
    input:
        summary="results/{study}/summary.nc",
    output:
        data="results/{study}/figures/error_vs_n.nc",
        figures=report(
            expand("results/{{study}}/figures/error_vs_n.{ext}", ext=FIGURE_FORMATS),
            caption="../report/error_vs_n.rst",
            category="Figures",
            subcategory="{study}",
        ),
    params:
        dpi=config["figures"]["dpi"],
        code=CODE_VERSION,
    log:
        "logs/{study}/figure_error_vs_n.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/figure_error_vs_n.py"
