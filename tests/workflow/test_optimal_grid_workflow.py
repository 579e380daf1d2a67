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
CONFIG["studies"]["kar"] = {**CONFIG["studies"]["opt"], "montecarlo": {"n_replicates": 20, "points_per_job": 2},
                            "sampler": {**CONFIG["studies"]["opt"]["sampler"], "grid": "karras", "scheme": ["euler"]}}
CONFIG["comparisons"] = {"p13": {"panel": "optimal_grid", "studies": ["opt", "kar"]}}  # P13's rule graph


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, run_snakemake):
    wd = tmp_path_factory.mktemp("optgrid")
    (wd / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    run_snakemake(wd, timeout=600)
    return wd


@pytest.fixture(scope="module")
def summary(workdir):
    with xr.open_dataset(workdir / "results" / "opt" / "summary.nc", engine="netcdf4") as s:
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


def test_p13_panel_draws_the_optimal_grid_against_the_named_one(workdir, summary):
    """The comparison panel: the grids at K = 10 (the optimal one re-optimised there), the theory lines with the
    optimal below karras at every K, and the studies' Monte-Carlo points."""
    res = workdir / "results" / "comparisons" / "p13"
    assert (res / "optimal_grid.png").stat().st_size > 5000
    with xr.open_dataset(res / "optimal_grid.nc", engine="netcdf4") as d:
        assert list(d["grid_name"].values) == ["optimal", "karras", "exponential"]
        assert d["times"].dims == ("spectrum", "grid_name", "k") and {"long_name", "units"} <= set(d["times"].attrs)
        line = d["theory_line"].isel(spectrum=0)
        ok = np.isfinite(line.sel(grid_name="optimal").values)
        assert ok.sum() >= 3
        assert np.all(line.sel(grid_name="optimal").values[ok] <= line.sel(grid_name="karras").values[ok] * (1 + 1e-9))
        mc = d["mc_mean"].sel(grid_name="optimal", n_steps=4.0).isel(spectrum=0)
        want = summary["mc_mean"].sel(scheme="euler").squeeze().sel(n_samples=mc["n_samples"].values)
        np.testing.assert_array_equal(mc.values, want.values)
        assert str(d["study"].sel(grid_name="exponential").values[0]) == ""  # theory only
