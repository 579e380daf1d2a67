"""Bad configurations are rejected before any job: the JSON schema (as the Snakefile applies it) and the
cross-field checks of gaussdsm.study, in-process.  Three of these also run through the CLI
(tests/workflow/test_workflow.py), which shows that Snakemake stops before building the DAG."""
from __future__ import annotations

import pytest
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from gaussdsm.study import ConfigError, Plan

BAD_CONFIGS = [
    # (study changes, top-level changes, text the message must contain)
    ({"grid": {"sigma": [0.0]}}, {}, "['sigma']"),
    ({"grid": {"sigma": [-0.2]}}, {}, "['sigma']"),
    ({"grid": {"n_samples": [0]}}, {}, "['n_samples']"),
    ({"grid": {"n_samples": [10.5]}}, {}, "['n_samples']"),
    ({"grid": {"gamma": [-0.01]}}, {}, "['gamma']"),
    ({"grid": {"gamma": []}}, {}, "['gamma']"),
    ({"grid": {"gamma": [2.0]}}, {}, "studies.tiny.grid.gamma"),
    ({"grid": {"tau": [0.001]}}, {}, "studies.tiny.grid.tau"),
    ({"spectrum": {"kind": "custom", "d": 2, "values": [1.0, -0.5]}}, {}, "['values']"),
    ({"spectrum": {"kind": "custom", "d": 3, "values": [1.0, 0.5]}}, {}, "studies.tiny.spectrum.values"),
    ({"spectrum": {"kind": "gaussian_blob"}}, {}, "['kind']"),
    ({"spectrum": {"kind": "stationary_2d", "d": 10}}, {}, "studies.tiny.spectrum.d"),
    ({"spectrum": {"alpha": -1.0}}, {}, "['alpha']"),
    ({"spectrum": {"d": 0}}, {}, "['d']"),
    ({"fit": {"model": "convolutional"}}, {}, "['model']"),
    ({"fit": {"loss_factor": 0}}, {}, "['loss_factor']"),
    ({"montecarlo": {"n_replicates": 1}}, {}, "['n_replicates']"),
    ({"montecarlo": {"points_per_job": 0}}, {}, "['points_per_job']"),
    ({"montecarlo": {"draw": "bootstrap"}}, {}, "['draw']"),
    ({"sigmaa": [0.1]}, {}, "sigmaa"),
    ({}, {"seed": -1}, "['seed']"),
    ({}, {"run_studies": ["nope"]}, "run_studies"),
    ({}, {"figures": {"formats": ["gif"]}}, "['formats']"),
    ({"fit": {"method": "sgd"}, "grid": {"tau": [5.0]}}, {}, "studies.tiny.grid.tau: SGD is unstable"),
    ({"fit": {"method": "sgd", "sgd": {"batch_size": 0}}, "grid": {"tau": [0.001]}}, {}, "['batch_size']"),
    ({"fit": {"method": "sgd", "sgd": {"n_snapshots": 0}}, "grid": {"tau": [0.001]}}, {}, "['n_snapshots']"),
    ({"fit": {"method": "adam"}}, {}, "['method']"),
    ({"grid": {"tau": [-0.001]}}, {}, "['tau']"),
    ({"panels": ["error_vs_tau"]}, {}, "studies.tiny.panels: error_vs_tau needs fit.method: sgd"),
    ({"panels": ["heatmap"]}, {}, "['panels']"),
    ({}, {"comparisons": {"c": {"panel": "spectrum_shape", "studies": ["nope"]}}}, "comparisons.c.studies"),
    ({}, {"comparisons": {"c": {"panel": "bar_chart", "studies": ["tiny"]}}}, "['panel']"),
]


def load(cfg, repo):
    """What the Snakefile does with a config: validate (filling defaults), then the package's plan."""
    validate(cfg, str(repo / "workflow" / "schemas" / "config.schema.yaml"))
    return Plan(cfg)


def test_the_tiny_config_is_valid(tiny_config, repo):
    plan = load(tiny_config(), repo)
    assert list(plan.studies) == ["tiny"] and plan.targets()


@pytest.mark.parametrize("changes, top, key", BAD_CONFIGS)
def test_bad_config_is_rejected_with_the_key(tiny_config, repo, changes, top, key):
    with pytest.raises((WorkflowError, ConfigError)) as err:
        load(tiny_config(top, **changes), repo)
    assert key in str(err.value), str(err.value)


def test_comparisons_of_different_spectra_are_rejected(tiny_config, repo):
    cfg = tiny_config({"comparisons": {"c": {"panel": "full_vs_diagonal", "studies": ["tiny", "other"]}}})
    cfg["studies"]["other"] = {**cfg["studies"]["tiny"], "spectrum": {"kind": "power_law", "d": 5}}
    with pytest.raises(ConfigError, match="comparisons.c: full_vs_diagonal needs studies with the same spectrum"):
        load(cfg, repo)
