"""The panel registry agrees with the schema and the report captions; panels' data are computed without
matplotlib and match the summary they come from."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import yaml

from gaussdsm import figures


def test_registry_schema_and_captions_agree(repo):
    schema = yaml.safe_load((repo / "workflow" / "schemas" / "config.schema.yaml").read_text())
    study = schema["$defs"]["study"]["properties"]["panels"]["items"]["enum"]
    comparison = schema["properties"]["comparisons"]["additionalProperties"]["properties"]["panel"]["enum"]
    assert study == figures.study_panels()
    assert comparison == figures.comparison_panels()
    report = repo / "workflow" / "report"
    captions = {p.caption for p in figures.PANELS.values()}
    assert all((report / c).exists() for c in captions)
    assert {p.name for p in report.glob("*.rst")} == captions | {"workflow.rst"}  # no orphan caption
    for p in figures.PANELS.values():  # every panel module has its two functions and its data title
        assert callable(p.module.data) and callable(p.module.draw) and p.module.DATA_TITLE


def test_report_description_names_every_sampler_kind(repo):
    """The report's opening text covers the samplers the workflow runs (the schema's sampler.kind enum)."""
    schema = yaml.safe_load((repo / "workflow" / "schemas" / "config.schema.yaml").read_text())
    kinds = schema["$defs"]["study"]["properties"]["sampler"]["properties"]["kind"]["enum"]
    text = (repo / "workflow" / "report" / "workflow.rst").read_text().lower()
    named = {"ula": "ula", "uld": "underdamped langevin", "diffusion": "diffusion models"}
    assert set(kinds) == set(named) and all(named[k] in text for k in kinds), kinds


def test_the_registry_imports_no_plotting_library():
    """The Snakefile reads the registry at every start (and in every cluster job): it must stay light."""
    code = "import sys, gaussdsm.figures, gaussdsm.study; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_error_vs_n_data_pass_through_the_theory_at_the_grid(tmp_path, small_study):
    """P1's dense theory line equals the summary's theory_total at the grid's N (the ends of the dense grid)."""
    from gaussdsm import stages
    from gaussdsm.figures import error_vs_n
    from gaussdsm.io import read_dataset

    st = small_study
    stages.spectra(**st.spectrum_args(), out=tmp_path / "spectrum.nc")
    stages.analytic_error(tmp_path / "spectrum.nc", **st.theory_args(), out=tmp_path / "theory.nc")
    th = read_dataset(tmp_path / "theory.nc")
    summary = th.rename({k: f"theory_{k}" for k in ("total", "bias", "generalization", "optimization")})
    summary = summary.assign(lam=read_dataset(tmp_path / "spectrum.nc")["lam"], mc_mean=summary["theory_total"],
                             mc_stderr=0 * summary["theory_total"], mc_n=0 * summary["valid"],
                             n_diverged=0 * summary["valid"], diverged=0 * summary["valid"])
    data = error_vs_n.data(summary)
    line = data["theory_line"]
    for N in (50, 400):
        np.testing.assert_allclose(line.sel(n_dense=N), summary["theory_total"].sel(n_samples=N, tau=0.0, n_steps=np.inf),
                                   rtol=1e-12)
