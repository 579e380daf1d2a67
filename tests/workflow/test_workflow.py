"""The Snakemake workflow through its command line, in a temporary directory with the tiny config.

The whole table of bad configs is checked in-process (tests/unit/test_config.py); here three of them go
through the CLI end to end, to show that Snakemake stops before any job and touches nothing.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
import yaml

pytestmark = pytest.mark.workflow


def test_dry_run_lists_every_stage(finished, job_counts):
    _, dry, _ = finished
    counts = job_counts(dry.stdout + dry.stderr)
    # 2 n_samples x 2 sigma x 1 tau = 4 fit points, 2 per job -> 2 chunks; exact fits are drawn in run_sampler
    assert counts == {"all": 1, "spectra": 1, "run_sampler": 2, "analytic_error": 1, "aggregate": 1,
                      "figure_error_vs_n": 1}


def test_full_run_outputs(finished):
    wd, _, _ = finished
    res = wd / "results" / "tiny"
    with xr.open_dataset(res / "summary.nc", engine="netcdf4") as s:
        assert dict(s.sizes) == {"n_samples": 2, "sigma": 2, "gamma": 2, "tau": 1, "n_steps": 1, "mode": 4}
        assert s["mc_mean"].dims == ("n_samples", "sigma", "gamma", "tau", "n_steps")
        for name in ("mc_mean", "mc_stderr", "mc_n", "n_diverged", "theory_total", "theory_bias",
                     "theory_generalization", "theory_optimization", "zscore", "diverged", "lam", "theory_valid",
                     "theory_in_regime", "theory_optimization_available"):
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
    for log in ("spectra.log", "aggregate.log", "analytic_error.log", "run_sampler/chunk-000.log"):
        assert (wd / "logs" / "tiny" / log).exists()


def test_results_equal_golden(finished, check_golden):
    """The tiny study's summary and figure data equal those of the code of commit c5740d7 (tests/data)."""
    assert check_golden(finished[0] / "results", "tiny") > 20


def test_a_second_metric_reruns_the_monte_carlo_and_keeps_w2(copy_of_finished, run_snakemake, write_config, job_counts,
                                                              check_golden):
    """metrics: [w2, kl_sample_data]: the metrics pass through params (the sampler chunks, the theory, the
    aggregation and the figure rerun, not the spectrum); W2's results (and its figure: W2 is the first metric) stay
    equal to the golden values, and the KL gets its own variables, within standard errors of its theory."""
    work = copy_of_finished
    with xr.open_dataset(work / "results" / "tiny" / "summary.nc", engine="netcdf4") as s:
        before = s.load()
    write_config(work / "config.yaml", metrics=["w2", "kl_sample_data"])
    counts = job_counts(run_snakemake(work, "-n").stdout)
    assert "spectra" not in counts
    assert counts["run_sampler"] == 2 and counts["analytic_error"] == 1 and counts["aggregate"] == 1
    assert counts["figure_error_vs_n"] == 1
    run_snakemake(work)
    assert check_golden(work / "results", "tiny") > 20
    with xr.open_dataset(work / "results" / "tiny" / "summary.nc", engine="netcdf4") as s:
        for name in before.data_vars:
            np.testing.assert_array_equal(s[name].values, before[name].values, err_msg=name)
        assert s.attrs["metrics"] == "w2 kl_sample_data"
        for name in ("mc_mean", "mc_stderr", "theory_total", "zscore"):
            assert {"units", "long_name"} <= set(s[f"kl_sample_data_{name}"].attrs)
        assert np.all(np.abs(s["kl_sample_data_zscore"]) < 6)
    with xr.open_dataset(work / "results" / "tiny" / "figures" / "error_vs_n.nc", engine="netcdf4") as f:
        assert "metric" not in f.attrs


def test_second_run_does_nothing(finished, run_snakemake):
    wd, _, _ = finished
    out = run_snakemake(wd)
    assert "Nothing to be done" in out.stdout + out.stderr


def test_rerun_only_what_changed(copy_of_finished, run_snakemake, write_config, job_counts):
    work = copy_of_finished
    # a new gamma: the sampler chunks, the theory and the aggregation; not the spectrum
    # (an SGD study's fits do not rerun either: tests/workflow/test_figures_workflow.py)
    write_config(work / "config.yaml", grid={"gamma": [0.0, 0.02, 0.05]})
    counts = job_counts(run_snakemake(work, "-n").stdout)
    assert "spectra" not in counts and "fit_scores" not in counts
    assert counts["run_sampler"] == 2 and counts["analytic_error"] == 1 and counts["aggregate"] == 1
    # more replicates: every Monte-Carlo chunk and everything downstream of it, but not the spectrum or the theory
    write_config(work / "config.yaml", montecarlo={"n_replicates": 30})
    counts = job_counts(run_snakemake(work, "-n").stdout)
    assert counts.get("run_sampler") == 2
    assert "spectra" not in counts and "analytic_error" not in counts
    # a cosmetic figure setting: only the figure
    write_config(work / "config.yaml", top={"figures": {"dpi": 72}})
    counts = job_counts(run_snakemake(work, "-n").stdout)
    assert counts == {"all": 1, "figure_error_vs_n": 1}


def test_provenance_is_the_study_not_the_overlay(finished, copy_of_finished, run_snakemake, write_config):
    """A file records its study's section (+ seed, figures), not the whole config: the same study selected by
    another overlay (an extra study, run_studies) gives the same bytes; the CLI prints that section as YAML."""
    work = copy_of_finished
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    cfg["studies"]["other"] = {**cfg["studies"]["tiny"], "spectrum": {"kind": "power_law", "d": 3, "alpha": 1.0}}
    cfg["run_studies"] = ["tiny"]
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    remade = ["results/tiny/spectrum.nc", "results/tiny/summary.nc", "results/tiny/figures/error_vs_n.nc"]
    for f in remade:
        (work / f).unlink()
    run_snakemake(work)
    for f in remade:
        assert (work / f).read_bytes() == (finished[0] / f).read_bytes(), f
    out = subprocess.run([sys.executable, "-m", "gaussdsm.cli", "provenance", "--config", str(work / remade[2])],
                         capture_output=True, text=True, timeout=60)
    shown = yaml.safe_load(out.stdout)
    assert set(shown) == {"seed", "studies", "figures"} and list(shown["studies"]) == ["tiny"]
    grid = shown["studies"]["tiny"]["grid"]  # resolved: the config's values and the schema's defaults
    assert all(grid[k] == v for k, v in cfg["studies"]["tiny"]["grid"].items()) and "tau" in grid


def test_missing_required_key(tmp_path, tiny, run_snakemake):
    cfg = yaml.safe_load(tiny.read_text())
    del cfg["studies"]["tiny"]["grid"]["gamma"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = run_snakemake(tmp_path, check=False)
    assert out.returncode != 0 and "studies.tiny.grid.gamma: missing (required)" in out.stdout + out.stderr


def test_lint_is_clean(repo, tiny):
    out = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--configfile", str(tiny)],
                         cwd=repo, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


END_TO_END_BAD_CONFIGS = [
    # (study changes, top-level changes, text the message must contain): one per kind of check
    ({"grid": {"sigma": [0.0]}}, {}, "studies.tiny.grid.sigma[0] = 0.0: must be > 0"),  # the JSON schema
    ({"grid": {"gamma": [2.0]}}, {}, "studies.tiny.grid.gamma"),  # a cross-field check of gaussdsm.study
    ({}, {"run_studies": ["nope"]}, "run_studies"),  # the plan of the whole config
]


@pytest.mark.parametrize("changes, top, key", END_TO_END_BAD_CONFIGS)
def test_bad_config_stops_before_any_job(copy_of_finished, run_snakemake, write_config, changes, top, key):
    work = copy_of_finished
    before = {p: p.stat().st_mtime_ns for p in (work / "results").rglob("*") if p.is_file()}
    write_config(work / "config.yaml", top=top, **changes)
    out = run_snakemake(work, check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert key in text, text
    assert "Building DAG" not in text and "rule spectra" not in text
    assert "description" not in text and len(text.splitlines()) <= 8, text  # the error lines, no schema dump
    after = {p: p.stat().st_mtime_ns for p in (work / "results").rglob("*") if p.is_file()}
    assert after == before  # nothing already computed is lost or touched


def test_the_workflow_runs_from_another_directory(repo, tmp_path):
    """``snakemake -s path/to/Snakefile`` from elsewhere finds the workflow's default config, schema and captions
    next to the Snakefile; results go to the working directory.  A misspelt key there: one line, no schema."""
    (tmp_path / "overlay.yaml").write_text("run_studies: [p1]\n")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--cores", "1", "-n", "--configfile",
           "overlay.yaml"]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "results/p1/summary.nc" in out.stdout + out.stderr, out.stdout + out.stderr
    (tmp_path / "overlay.yaml").write_text("run_studies: [p1]\nstudies: {p1: {grid: {sigmaa: [0.1]}}}\n")
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "studies.p1.grid.sigmaa: unknown key (did you mean 'sigma'?" in text, text
    assert len(text.splitlines()) <= 8, text


def test_zero_eigenvalue_finite_steps_and_population_score_through_the_workflow(tmp_path, run_snakemake, write_config):
    """A rank-deficient custom spectrum, a finite number of ULA steps and the population score (n_samples: inf),
    end to end: every term finite; the population score's Monte Carlo is one exact replicate equal to the theory."""
    write_config(tmp_path / "config.yaml", spectrum={"kind": "custom", "d": 4, "values": [1.0, 0.5, 0.25, 0.0]},
                 grid={"n_samples": [800, float("inf")], "gamma": [0.01, 0.02]}, sampler={"n_steps": [50, float("inf")]},
                 panels=[])
    run_snakemake(tmp_path)
    with xr.open_dataset(tmp_path / "results" / "tiny" / "summary.nc", engine="netcdf4") as s:
        assert s["mc_mean"].dims == ("n_samples", "sigma", "gamma", "tau", "n_steps")
        assert np.all(np.isfinite(s["mc_mean"])) and np.all(np.isfinite(s["theory_total"]))
        assert np.all(s["theory_valid"] == 1) and np.all(s["n_diverged"] == 0)
        pop = s.sel(n_samples=np.inf)
        assert np.all(pop["mc_n"] == 1) and np.all(pop["mc_stderr"] == 0)
        np.testing.assert_allclose(pop["mc_mean"], pop["theory_total"], rtol=1e-10)
        assert np.all(np.abs(s["zscore"].sel(n_samples=800)) < 6)


def test_real_data_spectra_through_the_workflow(tmp_path, run_snakemake, write_config, job_counts):
    """A texture from an image file (Fourier model, mode-variance draws) and a PCA spectrum from an .npy data set
    (full model), end to end: the spectrum records its source (sha256) and Fourier structure, the Monte Carlo agrees
    with the theory, and editing the image reruns its spectrum and everything downstream, not the other study."""
    import hashlib
    import json

    import imageio.v3 as iio
    import numpy as np
    import xarray as xr

    rng = np.random.default_rng(0)
    iio.imwrite(tmp_path / "tex.png", (rng.random((12, 12)) * 255).astype(np.uint8))
    np.save(tmp_path / "points.npy", rng.standard_normal((40, 3, 3)))
    write_config(tmp_path / "config.yaml", spectrum={"kind": "texture", "image": "tex.png"},
                 grid={"n_samples": [400], "sigma": [0.1], "gamma": [0.0]}, fit={"model": "fourier"},
                 montecarlo={"n_replicates": 400, "points_per_job": 1}, panels=[])
    cfg = yaml.safe_load((tmp_path / "config.yaml").read_text())
    cfg["studies"]["tiny"]["spectrum"] = {"kind": "texture", "image": "tex.png"}
    cfg["studies"]["faces"] = {**cfg["studies"]["tiny"], "spectrum": {"kind": "pca", "data": "points.npy"},
                               "fit": {"model": "full"}, "montecarlo": {"n_replicates": 100, "points_per_job": 1}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    run_snakemake(tmp_path)
    res = tmp_path / "results"
    with xr.open_dataset(res / "tiny" / "spectrum.nc", engine="netcdf4") as sp:
        assert sp.sizes["mode"] == 144 and {"kappa", "frequency"} <= set(sp)
        src = json.loads(sp.attrs["source_json"])
        assert src["sha256"] == hashlib.sha256((tmp_path / "tex.png").read_bytes()).hexdigest()
    for study in ("tiny", "faces"):
        with xr.open_dataset(res / study / "summary.nc", engine="netcdf4") as s:
            z = s["zscore"].values.ravel()
            assert np.all(np.isfinite(z)) and np.all(np.abs(z) < 4), (study, z)
            assert "spectrum_source_json" in s.attrs
    assert json.loads(xr.open_dataset(res / "faces" / "summary.nc").attrs["spectrum_source_json"])["n_points"] == 40
    iio.imwrite(tmp_path / "tex.png", (rng.random((12, 12)) * 255).astype(np.uint8))
    counts = job_counts(run_snakemake(tmp_path, "-n").stdout)
    assert counts.get("spectra") == 1 and counts.get("run_sampler") == 1 and counts.get("aggregate") == 1, counts


def test_ctrl_c_ends_each_job_with_one_line(repo, tmp_path, write_config):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while two Monte-Carlo jobs run: each
    ends with one line naming it and exit status 130, no traceback anywhere, no partial result left, and the
    interrupt is in each job's log."""
    import signal
    import threading
    import time

    write_config(tmp_path / "config.yaml", spectrum={"d": 200}, montecarlo={"n_replicates": 20000, "points_per_job": 2})
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"), "--directory", str(tmp_path),
           "--cores", "2", "--configfile", str(tmp_path / "config.yaml"), "--replace-workflow-config"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    t0 = time.monotonic()
    try:  # both cores in a Monte-Carlo job (its parameters logged: past its imports)
        while sum("INFO params" in ln and "n_replicates" in ln for ln in lines) < 2 and time.monotonic() - t0 < 240:
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    reader.join(timeout=10)
    out = "".join(lines)
    interrupted = re.findall(r"^run_sampler \[study=tiny, chunk=(\d+)\]: interrupted \(SIGINT\), exit status 130$",
                             out, re.M)
    assert proc.returncode != 0 and len(interrupted) == 2, out[-3000:]
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out[-3000:]
    assert out.count("returned non-zero exit status 130") == 2
    for chunk in interrupted:
        assert "interrupted after" in (tmp_path / "logs" / "tiny" / "run_sampler" / f"chunk-{chunk}.log").read_text()
    left = list((tmp_path / "results").rglob("sampler/*"))
    assert not left, left
