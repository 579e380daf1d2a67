"""Reproducibility and failure behaviour of the workflow (issue: reliability), through the snakemake CLI."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import xarray as xr

pytestmark = pytest.mark.workflow


def nc_files(wd):
    return sorted(p.relative_to(wd) for p in (wd / "results").rglob("*.nc"))


def test_rerun_from_scratch_is_byte_identical(finished, copy_of_finished, run_snakemake):
    """Deleting the results and running again reproduces every NetCDF byte for byte."""
    wd = finished[0]
    work = copy_of_finished
    shutil.rmtree(work / "results")
    shutil.rmtree(work / ".snakemake")
    run_snakemake(work)
    files = nc_files(wd)
    assert len(files) >= 6 and files == nc_files(work)
    for f in files:
        assert (wd / f).read_bytes() == (work / f).read_bytes(), f


def _point_values(wd, n_samples, sigma):
    """The per-replicate W2 errors of one fit point, wherever (whichever chunk) it was computed."""
    for f in sorted((wd / "results" / "tiny" / "sampler").glob("chunk-*.nc")):
        with xr.open_dataset(f, engine="netcdf4") as ds:
            hit = np.nonzero((ds["n_samples"].values == n_samples) & np.isclose(ds["sigma"].values, sigma))[0]
            if hit.size:
                return ds["w2sq"].isel(point=int(hit[0])).values.copy()
    raise AssertionError(f"point N={n_samples}, sigma={sigma} not found")


def test_seeds_do_not_depend_on_grid_position_or_chunking(tmp_path, finished, run_snakemake, write_config):
    """Adding grid values and changing the chunk size leaves every other point's numbers unchanged (bitwise)."""
    wd, _, _ = finished
    work = tmp_path / "wf"
    work.mkdir()
    write_config(work / "config.yaml", grid={"n_samples": [100, 200, 800], "sigma": [0.1, 0.2, 0.4]},
                 montecarlo={"points_per_job": 3})
    run_snakemake(work)
    for n in (200, 800):
        for s in (0.2, 0.4):
            a, b = _point_values(wd, n, s), _point_values(work, n, s)
            assert a.tobytes() == b.tobytes(), (n, s)
    with xr.open_dataset(wd / "results/tiny/summary.nc") as s0, xr.open_dataset(work / "results/tiny/summary.nc") as s1:
        common = s1.sel(n_samples=s0["n_samples"], sigma=s0["sigma"])
        for v in ("mc_mean", "mc_stderr", "mc_n"):
            assert s0[v].values.tobytes() == common[v].values.tobytes(), v


def test_killed_mid_write_leaves_nothing_complete_and_resumes(tmp_path, finished, run_snakemake, write_config):
    """SIGKILL of the whole run while aggregate writes: no complete-looking output; --rerun-incomplete finishes
    and the results equal the uninterrupted run's, byte for byte."""
    wd, _, _ = finished
    work = tmp_path / "wf"
    work.mkdir()
    write_config(work / "config.yaml")
    out = run_snakemake(work, env={"GAUSSDSM_FAULT": "sigkill:aggregate"}, new_session=True, check=False)
    assert out.returncode == -9, out.returncode  # the run was killed
    summary = work / "results" / "tiny" / "summary.nc"
    assert not summary.exists()
    assert list(summary.parent.glob(".summary.nc.*.part"))  # it really was killed mid-write
    for f in (work / "results").rglob("*.nc"):  # everything that exists is complete
        with xr.open_dataset(f, engine="netcdf4") as ds:
            ds.load()
    run_snakemake(work, "--unlock")  # a killed Snakemake leaves its lock behind
    run_snakemake(work, "--rerun-incomplete")
    assert not list(summary.parent.glob(".summary.nc.*.part"))
    for f in nc_files(wd):
        assert (wd / f).read_bytes() == (work / f).read_bytes(), f


@pytest.mark.parametrize("stage, switch", [("run_sampler", "config"), ("aggregate", "env")])
def test_failing_job_is_named_and_keeps_other_results(tmp_path, run_snakemake, write_config, stage, switch):
    """Fault injection by the config switch or the environment variable: the failing rule is named."""
    work = tmp_path / "wf"
    work.mkdir()
    write_config(work / "config.yaml", top={"fault_injection": {"rule": stage}} if switch == "config" else None)
    env = {"GAUSSDSM_FAULT": stage} if switch == "env" else None
    out = run_snakemake(work, "--keep-going", env=env, check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and f"Error in rule {stage}" in text
    assert (work / "results" / "tiny" / "theory.nc").exists()  # independent jobs still finished
    log = next(p for p in (work / "logs" / "tiny").rglob("*.log") if stage in str(p)).read_text()
    assert "fault injected" in log


def test_corrupt_input_names_file_and_rule(copy_of_finished, run_snakemake):
    work = copy_of_finished
    chunk = work / "results" / "tiny" / "sampler" / "chunk-001.nc"
    data = chunk.read_bytes()
    chunk.write_bytes(data[: len(data) // 2])  # truncated
    out = run_snakemake(work, "--forcerun", "aggregate", check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "chunk-001.nc" in text and "read by rule 'aggregate'" in text, text[-3000:]
    assert "truncated or corrupt" in text


def test_nan_in_a_stable_replicate_is_reported_per_point(copy_of_finished, run_snakemake):
    """aggregate refuses a NaN that is not flagged diverged, naming the grid point."""
    work = copy_of_finished
    chunk = work / "results" / "tiny" / "sampler" / "chunk-000.nc"
    with xr.open_dataset(chunk, engine="netcdf4") as ds:
        ds = ds.load()
    w = ds["w2sq"].values.copy()
    w[0, 0, 0, 3, 0] = np.nan
    ds["w2sq"].values = w
    from gaussdsm.io import write_dataset

    write_dataset(ds, chunk)
    out = run_snakemake(work, "--forcerun", "aggregate", check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "non-finite W2 errors in replicates not flagged diverged" in text
    n0, s0 = int(ds["n_samples"][0]), float(ds["sigma"][0])
    assert f"n_samples={n0}, sigma={s0:g}" in text
