"""Figure P12 through the snakemake CLI: the overlay config/p12.yaml plans its study on the default config, and a
tiny study with the panel which_sampler writes the figure and the data behind it (the best three at each NFE)."""
from __future__ import annotations

import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
import yaml

pytestmark = pytest.mark.workflow

TINY = {
    "seed": 7,
    "studies": {"pick": {
        "spectrum": {"kind": "pca", "data": "digits"},
        "grid": {"n_samples": [math.inf, 400]},
        "sampler": {"kind": "diffusion", "process": "edm", "grid": "karras",
                    "scheme": ["euler", "heun", "rk4", "ipndm"], "n_steps": [2, 4, 8], "t_min": [0.002]},
        "montecarlo": {"n_replicates": 8, "points_per_job": 2},
        "panels": ["which_sampler"],
    }},
    "figures": {"formats": ["png"], "dpi": 50},
}


def test_the_overlay_plans_its_study_on_the_default_config(repo, tmp_path, job_counts):
    """``--configfile config/config.yaml config/p12.yaml``, as the README runs an overlay: P12's jobs only."""
    shutil.copytree(repo / "config", tmp_path / "config")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"), "--directory", str(tmp_path),
           "--cores", "2", "-n", "--configfile", "config/config.yaml", "config/p12.yaml"]
    dry = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr
    counts = job_counts(dry.stdout)
    assert counts == {"spectra": 1, "analytic_error": 1, "run_sampler": 6, "aggregate": 1, "figure_which_sampler": 1,
                      "all": 1}, counts


def test_a_tiny_study_draws_p12(tmp_path, run_snakemake):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(TINY))
    run_snakemake(tmp_path, timeout=600)
    fig = tmp_path / "results" / "pick" / "figures"
    assert (fig / "which_sampler.png").stat().st_size > 5000
    with xr.open_dataset(fig / "which_sampler.nc", engine="netcdf4") as d:
        assert d["nfe"].values.tolist() == [8.0]  # euler K = 8, heun K = 4, rk4 K = 2, ipndm K = 8
        for N in d["n_samples"].values:
            vals = d["theory_at_nfe"].sel(metric="w2", n_samples=N, nfe=8.0)
            best = [str(s) for s in d["best"].sel(metric="w2", n_samples=N, nfe=8.0).values]
            assert best == [str(s) for s in vals["scheme"].values[np.argsort(vals.values)[:3]]]
        for name in ("theory_line", "theory_at_nfe", "rank", "best", "mc_mean"):
            assert {"units", "long_name"} <= set(d[name].attrs), name
        assert "config_sha256" in d.attrs
