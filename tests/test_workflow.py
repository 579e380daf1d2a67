"""The Snakemake workflow through its command line, in a temporary directory with a tiny config."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
import yaml

from conftest import REPO

pytestmark = pytest.mark.workflow
TINY = REPO / "tests" / "configs" / "tiny.yaml"


def snakemake(workdir, *args, config=None, check=True, timeout=600, env=None, new_session=False):
    """snakemake on ``workdir`` (2 cores) with extra environment variables ``env``; ``new_session`` runs it in
    its own process group (so a fault that kills the group kills only this run)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", "--configfile", str(config or workdir / "config.yaml"), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         env=dict(os.environ, **(env or {})), start_new_session=new_session)
    if check and out.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out


def job_counts(output: str) -> dict[str, int]:
    """Parse the 'Job stats' table of snakemake's output."""
    m = re.search(r"Job stats:\njob\s+count\n-+\s+-+\n(.*?)\ntotal\s+(\d+)", output, re.S)
    if not m:
        return {}
    return {name: int(n) for name, n in re.findall(r"^(\w+)\s+(\d+)$", m.group(1), re.M)}


def _merge(base: dict, changes: dict) -> dict:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def write_config(path, top=None, **study_changes):
    """The tiny config with ``study_changes`` merged into studies.tiny and ``top`` into the top level."""
    cfg = yaml.safe_load(TINY.read_text())
    if "kind" in study_changes.get("spectrum", {}):  # a new spectrum kind replaces the whole section
        cfg["studies"]["tiny"]["spectrum"] = {"d": 4}
    _merge(cfg["studies"]["tiny"], study_changes)
    _merge(cfg, top or {})
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One full run of the tiny study, shared by the read-only tests below."""
    wd = tmp_path_factory.mktemp("wf")
    write_config(wd / "config.yaml")
    dry = snakemake(wd, "-n")
    run = snakemake(wd)
    return wd, dry, run


def copy_of_finished(finished, tmp_path):
    """A private copy (``tmp_path/wf``) of the finished tiny workflow, for tests that change or rerun it."""
    work = tmp_path / "wf"
    shutil.copytree(finished[0], work, symlinks=True)
    return work


def test_dry_run_lists_every_stage(finished):
    _, dry, _ = finished
    counts = job_counts(dry.stdout + dry.stderr)
    # 2 n_samples x 2 sigma x 1 tau = 4 fit points, 2 per job -> 2 chunks
    assert counts == {"all": 1, "spectra": 1, "fit_scores": 2, "run_langevin": 2, "analytic_error": 1,
                      "aggregate": 1, "figure_error_vs_n": 1}


def test_full_run_outputs(finished):
    wd, _, _ = finished
    res = wd / "results" / "tiny"
    with xr.open_dataset(res / "summary.nc", engine="netcdf4") as s:
        assert dict(s.sizes) == {"n_samples": 2, "sigma": 2, "gamma": 2, "tau": 1, "mode": 4}
        assert s["mc_mean"].dims == ("n_samples", "sigma", "gamma", "tau")
        for name in ("mc_mean", "mc_stderr", "mc_n", "n_diverged", "theory_total", "theory_bias",
                     "theory_generalization", "theory_optimization", "zscore", "diverged", "lam"):
            assert {"units", "long_name"} <= set(s[name].attrs), name
        for attr in ("config_json", "config_sha256", "package_versions_json", "git_commit", "snakemake_rule"):
            assert attr in s.attrs
        assert not any(re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", str(v)) for v in s.attrs.values())
        assert np.all(s["mc_n"] + s["n_diverged"] == 20)
        assert np.all(np.isfinite(s["mc_mean"])) and np.all(np.isfinite(s["theory_total"]))
        assert np.all(np.abs(s["zscore"]) < 6)
    for ext in ("png", "pdf", "nc"):
        f = res / "figures" / f"error_vs_n.{ext}"
        assert f.stat().st_size > 1000, f
    for log in ("spectra.log", "aggregate.log", "analytic_error.log", "fit_scores/chunk-000.log"):
        assert (wd / "logs" / "tiny" / log).exists()


def test_second_run_does_nothing(finished):
    wd, _, _ = finished
    out = snakemake(wd)
    assert "Nothing to be done" in out.stdout + out.stderr


def test_rerun_only_what_changed(tmp_path, finished):
    work = copy_of_finished(finished, tmp_path)
    # a new gamma: the learned scores do not depend on gamma, so no fit job reruns
    write_config(work / "config.yaml", grid={"gamma": [0.0, 0.02, 0.05]})
    counts = job_counts(snakemake(work, "-n").stdout)
    assert "fit_scores" not in counts and "spectra" not in counts
    assert counts["run_langevin"] == 2 and counts["analytic_error"] == 1 and counts["aggregate"] == 1
    # more replicates: every fit and everything downstream of it, but not the spectrum or the theory
    write_config(work / "config.yaml", montecarlo={"n_replicates": 30})
    counts = job_counts(snakemake(work, "-n").stdout)
    assert counts.get("fit_scores") == 2 and counts.get("run_langevin") == 2
    assert "spectra" not in counts and "analytic_error" not in counts
    # a cosmetic figure setting: only the figure
    write_config(work / "config.yaml", top={"figures": {"dpi": 72}})
    counts = job_counts(snakemake(work, "-n").stdout)
    assert counts == {"all": 1, "figure_error_vs_n": 1}


def test_missing_required_key(tmp_path):
    cfg = yaml.safe_load(TINY.read_text())
    del cfg["studies"]["tiny"]["grid"]["gamma"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(tmp_path, check=False)
    assert out.returncode != 0 and "'gamma' is a required property" in out.stdout + out.stderr


def test_lint_is_clean():
    out = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--configfile", str(TINY)],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


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


@pytest.mark.parametrize("changes, top, key", BAD_CONFIGS)
def test_bad_config_stops_before_any_job(tmp_path, finished, changes, top, key):
    work = copy_of_finished(finished, tmp_path)
    before = {p: p.stat().st_mtime_ns for p in (work / "results").rglob("*") if p.is_file()}
    write_config(work / "config.yaml", top=top, **changes)
    out = snakemake(work, check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert key in text, text
    assert "Building DAG" not in text and "rule spectra" not in text
    after = {p: p.stat().st_mtime_ns for p in (work / "results").rglob("*") if p.is_file()}
    assert after == before  # nothing already computed is lost or touched
