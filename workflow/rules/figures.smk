# One rule per figure panel of the registry gaussdsm.figures.PANELS (our proposal, theory.md §4, not the
# paper's figures): study panels and comparison panels, each with its report caption workflow/report/<caption>;
# all run workflow/scripts/figure.py.
for _panel in [p for p in PANELS.values() if p.kind == "study"]:

    rule:
        name:
            f"figure_{_panel.name}"
        message:
            f"{_panel.title} [{{wildcards.study}}]"
        input:
            summaries=["results/{study}/summary.nc"],
        output:
            data=f"results/{{study}}/figures/{_panel.name}.nc",
            figures=report(
                expand(f"results/{{{{study}}}}/figures/{_panel.name}.{{ext}}", ext=PLAN.formats),
                caption=f"../report/{_panel.caption}",
                category="Figures",
                subcategory="{study}",
            ),
        params:
            panel=_panel.name,
            label="{study}",
            studies=[],
            dpi=PLAN.dpi,
            code=CODE_VERSION,
        log:
            f"logs/{{study}}/figure_{_panel.name}.log",
        benchmark:
            f"logs/benchmarks/{{study}}/figure_{_panel.name}.tsv",
        threads: 1
        resources:
            mem_mb=800,
            runtime=10,
        conda:
            "../envs/gaussdsm.yaml"
        script:
            "../scripts/figure.py"


for _panel in [p for p in PANELS.values() if p.kind == "comparison"]:

    rule:
        name:
            f"figure_{_panel.name}"
        message:
            f"{_panel.title} [{{wildcards.comparison}}]"
        input:
            summaries=comparison_summaries,
        output:
            data=f"results/comparisons/{{comparison}}/{_panel.name}.nc",
            figures=report(
                expand(f"results/comparisons/{{{{comparison}}}}/{_panel.name}.{{ext}}", ext=PLAN.formats),
                caption=f"../report/{_panel.caption}",
                category="Comparisons",
                subcategory="{comparison}",
            ),
        params:
            panel=_panel.name,
            label="{comparison}",
            studies=comparison_studies,
            dpi=PLAN.dpi,
            code=CODE_VERSION,
        log:
            f"logs/comparisons/{{comparison}}/{_panel.name}.log",
        benchmark:
            f"logs/benchmarks/comparisons/{{comparison}}/{_panel.name}.tsv",
        threads: 1
        resources:
            mem_mb=800,
            runtime=10,
        conda:
            "../envs/gaussdsm.yaml"
        script:
            "../scripts/figure.py"
