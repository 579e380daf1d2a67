"""``sampler.grid: optimal`` through the snakemake CLI: the theory stage and every Monte-Carlo chunk resolve the
same grid for a setting, it is recorded in the summary, and the workflow's point equals the front door's."""
from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
import yaml

pytestmark = pytest.mark.workflow

CONFIG = {
    "seed": 7,
    "studies": {"opt": {
        "spectrum": {"kind": "power_law", "d": 4, "alpha": 1.0},
        "grid": {"n_samples": [200, float("inf")]},
        "sampler": {"kind": "diffusion", "process": "vp", "grid": "optimal", "scheme": ["euler", "heun"],
                    "n_steps": [4], "t_min": [0.01]},
        "montecarlo": {"n_replicates": 200, "points_per_job": 2, "split": ["scheme"]},  # one chunk per scheme
        "panels": [],
    }},
    "figures": {"formats": ["png"], "dpi": 60},
}


@pytest.fixture(scope="module")
def summary(tmp_path_factory, run_snakemake):
    wd = tmp_path_factory.mktemp("optgrid")
    (wd / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    run_snakemake(wd, timeout=600)
    with xr.open_dataset(wd / "results" / "opt" / "summary.nc", engine="netcdf4") as s:
        return s.load()


def test_the_grid_is_recorded_and_theory_and_monte_carlo_use_the_same(summary):
    grids = json.loads(summary.attrs["theory_optimal_grids"])
    assert sorted(grids) == sorted(f"scheme={s} init=standard n_steps=4 t_min=0.01" for s in ("euler", "heun"))
    assert grids[next(iter(grids))][0] == 1.0 and all(len(t) == 5 for t in grids.values())
    pop = summary.sel(n_samples=np.inf).squeeze()
    # the population score: Monte Carlo is the exact law of the chunk's sampler, theory that of the theory stage's
    np.testing.assert_allclose(pop["mc_mean"].values, pop["theory_total"].values, rtol=1e-9)
    z = summary["zscore"].sel(n_samples=200).values
    assert np.all(np.abs(z) < 4), z


def test_the_workflow_point_equals_the_front_door(summary):
    import gaussdsm

    ds = gaussdsm.error(spectrum="power_law", d=4, alpha=1.0, n_samples=200, sampler="diffusion", process="vp",
                        grid="optimal", scheme="euler", n_steps=4, t_min=0.01, mc=200, seed=7)
    pt = summary.sel(n_samples=200, scheme="euler").squeeze()
    assert json.loads(ds.attrs["optimal_grids"]).items() <= json.loads(summary.attrs["theory_optimal_grids"]).items()
    assert float(ds["total"]) == pytest.approx(float(pt["theory_total"]), rel=1e-12)
    assert float(ds["mc_mean"]) == pytest.approx(float(pt["mc_mean"]), rel=1e-12)  # the same training sets
