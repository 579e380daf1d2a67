# Wildcards -> the arguments that the package's plan (gaussdsm.study.Plan) makes from the validated config.
# Nothing is computed here: the plan, its checks and the stages' arguments are unit-tested in the package.
import sys

import gaussdsm.io
from gaussdsm.figures import PANELS
from gaussdsm.study import Plan


report: "../report/workflow.rst"


PLAN = Plan(config)  # cross-field checks: raises before any job runs
CODE_VERSION = gaussdsm.io.code_version()  # a params value: library edits rerun the stages


wildcard_constraints:
    study="|".join(PLAN.studies),
    comparison="|".join(PLAN.comparisons) or "no-comparisons",
    chunk=r"\d{3}(\.[a-z_]+-[\w.+-]+)*",  # fit chunk, then the split sampler values (Study.chunk_ids)
    ext="|".join(PLAN.formats),


def study_of(wildcards):
    return PLAN.studies[wildcards.study]


def spectrum_args(wildcards):
    return study_of(wildcards).spectrum_args()


def fit_args(wildcards):
    return study_of(wildcards).fit_args(wildcards.chunk)


def sampler_args(wildcards):
    return study_of(wildcards).sampler_args(wildcards.chunk)


def sampler_inputs(wildcards):
    return PLAN.sampler_inputs(wildcards.study, wildcards.chunk)


def theory_args(wildcards):
    return study_of(wildcards).theory_args()


def aggregate_args(wildcards):
    return study_of(wildcards).aggregate_args()


def sampler_chunks(wildcards):
    return PLAN.sampler_chunks(wildcards.study)


def comparison_summaries(wildcards):
    return PLAN.comparison_summaries(wildcards.comparison)


def comparison_studies(wildcards):
    return PLAN.comparisons[wildcards.comparison]["studies"]


def mc_mem_mb(wildcards):
    """Monte-Carlo jobs' memory: the study's montecarlo.mem_mb (checked against its estimated peak at parse time)."""
    return int(study_of(wildcards).config["montecarlo"]["mem_mb"])


def spectrum_inputs(wildcards):
    """Files a spectrum is read from (an image, a data set, an eigenvalue file): edits rerun the spectra rule."""
    return study_of(wildcards).spectrum_files


def rule_runtime(name):
    """A rule's time limit in minutes (its runtime resource: the rule's, or the profile's set-resources), or None."""
    try:
        value = getattr(rules, name).rule.resources["runtime"]
        value = getattr(value, "value", value)
        return float(value) if isinstance(value, int | float) else None
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def print_estimates():
    """Each study's estimated cost on stderr, once per run: in the main process only (cluster jobs parse the
    Snakefile again: ``workflow.is_main_process`` is False there)."""
    if workflow.is_main_process:
        limits = {r: rule_runtime(r) for r in ("fit_scores", "run_sampler")}
        print("\n".join(PLAN.estimate_lines({r: v for r, v in limits.items() if v is not None})), file=sys.stderr)
