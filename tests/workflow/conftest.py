"""Fixtures of the workflow tests: Snakemake through its command line in temporary directories.

``finished`` runs the tiny study (tests/configs/tiny.yaml) once per test session; tests that change or rerun
it work on a private copy (``copy_of_finished``).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="session")
def tiny(repo):
    """Path of the tiny study's config."""
    return repo / "tests" / "configs" / "tiny.yaml"


@pytest.fixture(scope="session")
def run_snakemake(repo):
    """``run_snakemake(workdir, *args, config=None, check=True, timeout=600, env=None, new_session=False)``.

    snakemake on ``workdir`` (2 cores, ``workdir/config.yaml`` unless ``config``, which replaces the workflow's
    default config/config.yaml instead of extending it: ``--replace-workflow-config``) with extra environment
    variables ``env``; ``new_session`` runs it in its own process group (a fault that kills the group kills
    only this run).  Returns the CompletedProcess; raises if it fails and ``check``.
    """

    def run(workdir, *args, config=None, check=True, timeout=600, env=None, new_session=False):
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"), "--directory",
               str(workdir), "--cores", "2", "--configfile", str(config or workdir / "config.yaml"),
               "--replace-workflow-config", *args]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             env=dict(os.environ, **(env or {})), start_new_session=new_session)
        if check and out.returncode != 0:
            raise AssertionError(f"snakemake {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        return out

    return run


@pytest.fixture(scope="session")
def job_counts():
    """``job_counts(output) -> {rule: n}``: the 'Job stats' table of snakemake's output."""

    def parse(output: str) -> dict[str, int]:
        m = re.search(r"Job stats:\njob\s+count\n-+\s+-+\n(.*?)\ntotal\s+(\d+)", output, re.S)
        if not m:
            return {}
        return {name: int(n) for name, n in re.findall(r"^(\w+)\s+(\d+)$", m.group(1), re.M)}

    return parse


@pytest.fixture(scope="session")
def write_config(tiny_config):
    """``write_config(path, top=None, **study_changes)``: :func:`tiny_config` written to ``path``."""

    def write(path, top=None, **study_changes):
        path.write_text(yaml.safe_dump(tiny_config(top, **study_changes)))
        return path

    return write


@pytest.fixture(scope="session")
def finished(tmp_path_factory, run_snakemake, write_config):
    """One full run of the tiny study (after a dry run), shared by the tests: ``(workdir, dry, run)``."""
    wd = tmp_path_factory.mktemp("wf")
    write_config(wd / "config.yaml")
    dry = run_snakemake(wd, "-n")
    run = run_snakemake(wd)
    return wd, dry, run


@pytest.fixture
def copy_of_finished(finished, tmp_path):
    """A private copy (``tmp_path/wf``) of the finished tiny workflow, for tests that change or rerun it."""
    work = tmp_path / "wf"
    shutil.copytree(finished[0], work, symlinks=True)
    return work
