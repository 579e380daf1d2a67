"""gaussdsm as a Snakemake module of another workflow (docs/usage-as-module.md), through the snakemake CLI.

A host Snakefile in a temporary directory imports the workflow the standard way (``module gaussdsm: snakefile: ...,
config: config`` then ``use rule * from gaussdsm as gaussdsm_*``) with the tiny config: the DAG has every stage
under its prefixed name, the workflow's own files (schema, scripts, report captions) are found next to its
Snakefile, not in the host's directory, and a run gives the same bytes as the workflow run on its own (the
``finished`` fixture), provenance included.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import xarray as xr

pytestmark = pytest.mark.workflow

# The tiny study's jobs (tests/workflow/test_workflow.py::test_dry_run_lists_every_stage), under the host's prefix.
TINY_JOBS = {"spectra": 1, "run_sampler": 2, "analytic_error": 1, "aggregate": 1, "figure_error_vs_n": 1, "all": 1}

MODULE = """\
configfile: "config.yaml"


module gaussdsm:
    snakefile:
        {snakefile!r}
    config:
        config


use rule * from gaussdsm as gaussdsm_*
"""

# A host with its own default target that reads the module's rules and a result (rules.<prefixed name>).
HOST_RULES = """

rule all:
    default_target: True
    input:
        rules.gaussdsm_all.input,
        "host/summary_copy.nc",


rule copy_summary:
    input:
        "results/tiny/summary.nc",
    output:
        "host/summary_copy.nc",
    shell:
        "cp {input} {output}"
"""


@pytest.fixture
def host(tmp_path, repo, tiny):
    """A host workflow directory (``tmp_path/host``) importing gaussdsm with the tiny config."""
    wd = tmp_path / "host"
    wd.mkdir()
    shutil.copy(tiny, wd / "config.yaml")
    (wd / "Snakefile").write_text(MODULE.format(snakefile=str(repo / "Snakefile")))
    return wd


def snakemake_in(wd, *args, timeout=600):
    """snakemake with the host's Snakefile, in its directory (no workflow profile of gaussdsm's applies)."""
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=wd, capture_output=True,
                          text=True, timeout=timeout)


def test_module_dry_run_has_every_stage_prefixed(host, job_counts):
    out = snakemake_in(host, "-n")
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert job_counts(text) == {f"gaussdsm_{rule}": n for rule, n in TINY_JOBS.items()}, text
    assert "results/tiny/summary.nc" in text and "logs/tiny/spectra.log" in text


def test_module_run_equals_the_workflow_run(host, finished):
    """The whole tiny study through the module: the same files, byte for byte (values and provenance: the rule
    recorded is the workflow's own name, not the host's prefixed one), as the workflow on its own."""
    out = snakemake_in(host)
    assert out.returncode == 0, out.stdout + out.stderr
    ours = sorted(p.relative_to(host) for p in (host / "results").rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(finished[0]) for p in (finished[0] / "results").rglob("*") if p.is_file())
    assert ours == theirs and len(ours) >= 8
    different = [str(p) for p in ours if (host / p).read_bytes() != (finished[0] / p).read_bytes()]
    assert not different, different
    with xr.open_dataset(host / "results" / "tiny" / "figures" / "error_vs_n.nc", engine="netcdf4") as ds:
        assert ds.attrs["snakemake_rule"] == "figure_error_vs_n" and '"figures":' in ds.attrs["config_json"]
    log = (host / "logs" / "tiny" / "spectra.log").read_text()
    assert "rule gaussdsm_spectra (spectra)" in log
    again = snakemake_in(host, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_module_bad_config_is_one_line(host):
    """The host's config is validated against gaussdsm's schema (found next to its Snakefile): one line."""
    (host / "config.yaml").write_text((host / "config.yaml").read_text().replace("sigma:", "sigmaa:"))
    out = snakemake_in(host, "-n")
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "studies.tiny.grid.sigmaa: unknown key (did you mean 'sigma'?" in text, text
    assert "Building DAG" not in text


def test_module_fetched_from_a_repository(tmp_path, repo, tiny, finished):
    """Real use: ``snakefile: github("owner/gaussdsm", path="Snakefile", ...)``.  Snakemake clones the repository
    into its source cache and reads the Snakefile, the rule files, the scripts, the schema and the captions from
    there (``git show``).  Served here, without the network, by a local repository holding this checkout's workflow
    files, with git's ``url.<base>.insteadOf``.  The files equal the workflow's own run except ``git_commit``
    (the module's scripts are not in a git checkout: ``unknown``)."""
    src = tmp_path / "gaussdsm-repo"
    src.mkdir()
    shutil.copy(repo / "Snakefile", src)
    for folder in ("config", "workflow"):
        shutil.copytree(repo / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-C", str(src), "-c", "user.name=test", "-c", "user.email=test@example.org"]
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "workflow"]):
        subprocess.run(git + cmd, check=True, capture_output=True, timeout=60)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    wd = tmp_path / "host"
    wd.mkdir()
    shutil.copy(tiny, wd / "config.yaml")
    fetched = f'github("gaussdsm-test/gaussdsm", path="Snakefile", commit="{commit}")'
    (wd / "Snakefile").write_text(MODULE.format(snakefile=str(repo / "Snakefile")).replace(
        repr(str(repo / "Snakefile")), fetched))
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), GIT_CONFIG_COUNT="1",
               GIT_CONFIG_KEY_0=f"url.{src}.insteadOf", GIT_CONFIG_VALUE_0="https://github.com/gaussdsm-test/gaussdsm")
    targets = ["results/tiny/spectrum.nc", "results/tiny/theory.nc"]
    out = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *targets], cwd=wd, env=env,
                         capture_output=True, text=True, timeout=600)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "Cloning github.com/gaussdsm-test/gaussdsm" in text and "gaussdsm_analytic_error" in text, text
    for target in targets:
        with (xr.open_dataset(wd / target, engine="netcdf4") as ours,
              xr.open_dataset(finished[0] / target, engine="netcdf4") as theirs):
            xr.testing.assert_identical(ours, theirs.assign_attrs(git_commit=ours.attrs["git_commit"]))
            assert ours.attrs["snakemake_rule"] in ("spectra", "analytic_error")


def test_host_default_target_and_rules_of_the_module(host, job_counts):
    """A host rule all (default_target) takes the module's targets through ``rules.gaussdsm_all`` and a host rule
    reads a gaussdsm result: the module's rules serve them, its own rule all does not run."""
    (host / "Snakefile").write_text((host / "Snakefile").read_text() + HOST_RULES)
    out = snakemake_in(host, "-n")
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    expected = {f"gaussdsm_{rule}": n for rule, n in TINY_JOBS.items() if rule != "all"}
    assert job_counts(text) == {**expected, "all": 1, "copy_summary": 1}, text
