# Helpers shared by all stages: the study plan (studies, grid points, chunks), per-study params and paths.
# The plan comes from the installed package (gaussdsm.study), so it is unit-tested there.
import gaussdsm.io
from gaussdsm.study import check_config


report: "../report/workflow.rst"


STUDIES = check_config(config)  # cross-field checks: raises before any job runs
RUN_STUDIES = config["run_studies"] or list(STUDIES)
CODE_VERSION = gaussdsm.io.code_version()  # a params value: library edits rerun the stages
FIGURE_FORMATS = config["figures"]["formats"]


wildcard_constraints:
    study="|".join(STUDIES),
    comparison="|".join(config["comparisons"]) or "no-comparisons",
    chunk=r"\d{3}",
    ext="|".join(FIGURE_FORMATS),


def study_of(wildcards):
    return STUDIES[wildcards.study]


def section(wildcards, key):
    return study_of(wildcards).config[key]


def spectrum_params(wildcards):
    return study_of(wildcards).spectrum_params


def chunk_points(wildcards):
    return study_of(wildcards).chunk_points(wildcards.chunk)


def study_grid(wildcards):
    return study_of(wildcards).grid


def gamma_values(wildcards):
    return study_of(wildcards).grid["gamma"]


def fit_params(wildcards):
    """Everything that determines the learned scores of a chunk, besides its points."""
    s = study_of(wildcards)
    return {
        "seed": config["seed"],
        "n_replicates": s.config["montecarlo"]["n_replicates"],
        "draw": s.config["montecarlo"]["draw"],
        **s.config["fit"],
    }


def theory_params(wildcards):
    fit = section(wildcards, "fit")
    return {"model": fit["model"], "loss_factor": fit["loss_factor"], "batch_size": fit["sgd"]["batch_size"]}


def langevin_chunks(wildcards):
    return [f"results/{wildcards.study}/langevin/chunk-{c}.nc" for c in study_of(wildcards).chunk_ids]


def figure_files(study, panel):
    return [f"results/{study}/figures/{panel}.{ext}" for ext in FIGURE_FORMATS]


COMPARISONS = config["comparisons"]
RUN_COMPARISONS = [c for c, v in COMPARISONS.items() if all(s in RUN_STUDIES for s in v["studies"])]


def comparison_summaries(wildcards):
    return [f"results/{s}/summary.nc" for s in COMPARISONS[wildcards.comparison]["studies"]]


def comparison_files(name):
    panel = COMPARISONS[name]["panel"]
    return [f"results/comparisons/{name}/{panel}.nc"] + [
        f"results/comparisons/{name}/{panel}.{ext}" for ext in FIGURE_FORMATS
    ]


def final_outputs():
    out = []
    for name in RUN_STUDIES:
        out.append(f"results/{name}/summary.nc")
        for panel in STUDIES[name].config["panels"]:
            out += [f"results/{name}/figures/{panel}.nc", *figure_files(name, panel)]
    for name in RUN_COMPARISONS:
        out += comparison_files(name)
    return out
