"""gaussdsm.budget's study estimates: the jobs a study plans, its Monte-Carlo jobs' time against the rules' limits."""
from __future__ import annotations

import pytest
from gaussdsm.schema import validate

from gaussdsm import budget
from gaussdsm.study import Plan


def _plan(repo, study):
    cfg = {"seed": 1, "studies": {"s": study}}
    validate(cfg, str(repo / "workflow" / "schemas" / "config.schema.yaml"))
    return Plan(cfg)


CIFAR_LIKE = {  # the d = 3072 study of a user report: 3 solvers x 3 step counts, one N, 200 replicates: ~93 min
    "spectrum": {"kind": "power_law", "d": 3072, "alpha": 1.0}, "grid": {"n_samples": [5000]},
    "sampler": {"kind": "diffusion", "process": "vp", "scheme": ["em", "heun", "dpmpp_2m"], "n_steps": [10, 30, 100]},
    "montecarlo": {"n_replicates": 200, "points_per_job": 1, "split": []},
}


def test_a_study_costs_what_was_measured_and_splitting_shortens_its_longest_job(repo):
    whole = budget.study_cost(_plan(repo, CIFAR_LIKE).studies["s"])
    assert whole.jobs == {"spectra": 1, "analytic_error": 1, "aggregate": 1, "run_sampler": 1, "figures": 1}
    assert 93 * 60 / 2 < whole.job_seconds["run_sampler"] < 93 * 60 * 2  # measured: about 93 min in one job
    split = _plan(repo, {**CIFAR_LIKE, "montecarlo": {**CIFAR_LIKE["montecarlo"], "split": ["n_steps"]}}).studies["s"]
    cost = budget.study_cost(split)
    assert cost.jobs["run_sampler"] == len(split.chunk_ids) == 3
    # each chunk draws and decomposes its own training sets: more CPU in all, a shorter longest job
    assert cost.cpu_seconds > whole.cpu_seconds and cost.job_seconds["run_sampler"] < whole.job_seconds["run_sampler"]
    lines = budget.study_lines([split], {"run_sampler": 30})
    assert lines[0].startswith("estimate s: 7 jobs (3 Monte Carlo)") and len(lines) == 2
    assert lines[1].startswith("WARNING studies.s: a run_sampler job would run about") and \
        "add scheme to montecarlo.split" in lines[1]
    assert budget.study_lines([split], {"run_sampler": 24 * 60}) == lines[:1]


@pytest.mark.parametrize("kind", ["exact", "sgd"])
def test_the_job_count_is_the_plans(repo, kind):
    study = {"spectrum": {"kind": "power_law", "d": 4, "alpha": 1.0},
             "grid": {"n_samples": [100, 400, 1600], "sigma": [0.2, 0.4], "gamma": [0.01, 0.02],
                      "tau": [0.0, 0.001] if kind == "sgd" else [0.0]},
             "fit": {"method": kind}, "montecarlo": {"n_replicates": 10, "points_per_job": 4, "split": ["gamma"]},
             "panels": ["error_vs_n"]}
    st = _plan(repo, study).studies["s"]
    cost = budget.study_cost(st)
    assert cost.jobs["run_sampler"] == len(st.chunk_ids) == 2 * len(st.fit_chunk_ids)
    assert cost.jobs.get("fit_scores", 0) == (len(st.fit_chunk_ids) if kind == "sgd" else 0)
    assert cost.cpu_seconds >= sum(cost.jobs.values()) * budget.JOB_OVERHEAD_S
