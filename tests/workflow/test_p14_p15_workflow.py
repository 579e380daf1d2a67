"""Figures P14 and P15 through the snakemake CLI: each overlay plans its studies and its comparison on the default
config (a dry run: the studies it defines, their jobs and one figure)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.workflow


@pytest.mark.parametrize("overlay, studies, figure", [("p14", 4, "figure_memorisation"),
                                                      ("p15", 6, "figure_locality")])
def test_the_overlay_plans_its_studies_and_comparison(repo, tmp_path, job_counts, overlay, studies, figure):
    shutil.copytree(repo / "config", tmp_path / "config")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"), "--directory", str(tmp_path),
           "--cores", "2", "-n", "--configfile", "config/config.yaml", f"config/{overlay}.yaml"]
    dry = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr
    counts = job_counts(dry.stdout)
    assert counts == {"spectra": studies, "analytic_error": studies, "run_sampler": 3 * studies,
                      "aggregate": studies, figure: 1, "all": 1}, counts
