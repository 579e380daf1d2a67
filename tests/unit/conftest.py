"""Fixtures of the unit tests."""
from __future__ import annotations

import copy

import pytest

from gaussdsm.study import Study

SMALL = {
    "spectrum": {"kind": "power_law", "d": 3, "alpha": 1.0},
    "grid": {"n_samples": [50, 400], "sigma": [0.1, 0.3], "gamma": [0.0, 0.05], "tau": [0.0]},
    "fit": {"method": "exact", "model": "full", "loss_factor": 1.0,
            "sgd": {"batch_size": 1, "n_snapshots": 4, "burn_in_factor": 5.0, "spacing_factor": 1.0,
                    "max_steps": 20000000, "allow_unstable": False}},
    "sampler": {"kind": "ula", "n_steps": [float("inf")], "init_var": 1.0, "allow_unstable": False},
    "montecarlo": {"n_replicates": 30, "points_per_job": 3, "draw": "wishart"},
    "panels": [],
}



@pytest.fixture(scope="session")
def small_study():
    """A small exact-fit study (d = 3, 2 x 2 x 2 grid, 30 replicates, seed 3) with schema defaults filled."""
    return Study("s", copy.deepcopy(SMALL), seed=3)
