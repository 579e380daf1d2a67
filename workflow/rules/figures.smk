# One rule per figure panel (our proposal P1-P6 of theory.md §4, not the paper's figures), each with its
# report caption workflow/report/<panel>.rst, all backed by workflow/scripts/figure.py.
PANEL_TITLES = {
    "error_vs_n": "P1: error against N, theory lines and Monte-Carlo points",
    "error_vs_tau": "P2: error against the SGD step tau, theory R8 vs SGD Monte Carlo",
    "error_vs_gamma": "P3: error against the Langevin step gamma, blow-up at the stability bound",
    "error_vs_sigma": "P4: error against the noise amplitude sigma, interior optimum",
    "sigma_star": "P5: optimal sigma against gamma and tau, with the R10 slopes",
    "kernel": "P6: the kernel of R9 as a heat map and per-frequency contributions",
}

for _panel, _title in PANEL_TITLES.items():

    rule:
        name:
            f"figure_{_panel}"
        message:
            f"{_title} [{{wildcards.study}}]"
        input:
            summary="results/{study}/summary.nc",
        output:
            data=f"results/{{study}}/figures/{_panel}.nc",
            figures=report(
                expand(f"results/{{{{study}}}}/figures/{_panel}.{{ext}}", ext=FIGURE_FORMATS),
                caption=f"../report/{_panel}.rst",
                category="Figures",
                subcategory="{study}",
            ),
        params:
            panel=_panel,
            dpi=config["figures"]["dpi"],
            code=CODE_VERSION,
        log:
            f"logs/{{study}}/figure_{_panel}.log",
        benchmark:
            f"logs/benchmarks/{{study}}/figure_{_panel}.tsv",
        threads: 1
        resources:
            mem_mb=800,
            runtime=10,
        conda:
            "../envs/gaussdsm.yaml"
        script:
            "../scripts/figure.py"


rule figure_comparison:
    """Figures combining several studies (spectrum shape; full vs diagonal denoiser)."""
    wildcard_constraints:
        panel="spectrum_shape|full_vs_diagonal",
    input:
        summaries=comparison_summaries,
    output:
        data="results/comparisons/{comparison}/{panel}.nc",
        figures=report(
            expand("results/comparisons/{{comparison}}/{{panel}}.{ext}", ext=FIGURE_FORMATS),
            caption="../report/comparison.rst",
            category="Comparisons",
            subcategory="{comparison}",
        ),
    params:
        studies=lambda wc: COMPARISONS[wc.comparison]["studies"],
        dpi=config["figures"]["dpi"],
        code=CODE_VERSION,
    log:
        "logs/comparisons/{comparison}/{panel}.log",
    benchmark:
        "logs/benchmarks/comparisons/{comparison}/{panel}.tsv",
    threads: 1
    resources:
        mem_mb=800,
        runtime=10,
    conda:
        "../envs/gaussdsm.yaml"
    script:
        "../scripts/figure_comparison.py"
