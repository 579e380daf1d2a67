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


def test_metric_aware_panels_plot_the_first_metric(tmp_path, small_study):
    """A study with metrics [kl_sample_data, w2]: P1 plots the KL (its Monte-Carlo points, its theory line, its
    long name on the axis); metric='w2' draws exactly what the W2 summary gives; an absent metric is refused."""
    import copy

    import pytest

    from gaussdsm import stages, theory
    from gaussdsm.figures import _data
    from gaussdsm.io import read_dataset
    from gaussdsm.study import Study

    st = Study("s", {**copy.deepcopy(small_study.config), "metrics": ["kl_sample_data", "w2"]}, seed=3)
    d = tmp_path
    stages.spectra(**st.spectrum_args(), out=d / "spectrum.nc")
    for c in st.chunk_ids:
        stages.run_sampler(d / "spectrum.nc", **st.sampler_args(c), out=d / f"sampler-{c}.nc")
    stages.analytic_error(d / "spectrum.nc", **st.theory_args(), out=d / "theory.nc")
    stages.aggregate(d / "spectrum.nc", d / "theory.nc", [d / f"sampler-{c}.nc" for c in st.chunk_ids],
                     **st.aggregate_args(), out=d / "summary.nc")
    kl = figures.render("error_vs_n", [d / "summary.nc"], [d / "kl.png"], label="s")
    w2 = figures.render("error_vs_n", [d / "summary.nc"], [d / "w2.png"], label="s", metric="w2")
    s = read_dataset(d / "summary.nc")
    assert kl.attrs["metric"] == "kl_sample_data" and "metric" not in w2.attrs
    pt = dict(sigma=0.1, gamma=0.05)
    np.testing.assert_array_equal(kl["mc_mean"].sel(**pt).values,
                                  s["kl_sample_data_mc_mean"].sel(**pt, tau=0.0).squeeze().values)
    np.testing.assert_array_equal(w2["mc_mean"].sel(**pt).values, s["mc_mean"].sel(**pt, tau=0.0).squeeze().values)
    lam, n_dense = s["lam"].values, kl["n_dense"].values
    ref = theory.error_terms(lam, n_dense, 0.1, 0.05, 0.0, n_steps=np.inf, metric="kl_sample_data")["total"]
    np.testing.assert_allclose(kl["theory_line"].sel(**pt).values, ref.values, rtol=1e-12)
    from gaussdsm.figures._plot import error_label

    assert error_label(kl, "W2") == "E Kullback-Leibler divergence KL(sampled || data)"
    assert error_label(w2, "W2") == "W2"
    with pytest.raises(ValueError, match="no kl_data_sample: add it to the study's metrics"):
        _data.metric_view(s, "kl_data_sample")


def test_every_report_caption_renders_without_docutils_errors(repo):
    """Each caption of workflow/report, its Jinja fields replaced by a word, is valid reStructuredText: docutils
    (as ``snakemake --report`` calls it) renders it without a "System Message" box (``|x|`` is a substitution
    reference in reST: a literal bar is written ``\\|``)."""
    import re

    from docutils.core import publish_parts

    captions = sorted((repo / "workflow" / "report").glob("*.rst"))
    assert len(captions) >= 10
    for path in captions:
        text = re.sub(r"{%.*?%}\n?", "", path.read_text(encoding="utf-8"), flags=re.S)
        text = re.sub(r"{{.*?}}", "X", text, flags=re.S)
        body = publish_parts(text, writer="html", settings_overrides={"warning_stream": False})["body"]
        plain = re.sub(r"<[^>]+>", "", body)
        assert "System Message" not in plain, (path.name, plain[plain.find("System Message"):][:300])
