"""The workflow stages called directly (no Snakemake), on tmp_path: each output and the chain of stages."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gaussdsm import faults, montecarlo, stages
from gaussdsm.io import read_dataset

@pytest.fixture(scope="module")
def run(tmp_path_factory, small_study):
    """All stages of the small study, in-process: ``(study, directory)``."""
    d = tmp_path_factory.mktemp("stages")
    st = small_study
    stages.spectra(**st.spectrum_args(), out=d / "spectrum.nc")
    for c in st.chunk_ids:  # exact fits: drawn in the sampler stage
        stages.run_sampler(d / "spectrum.nc", **st.sampler_args(c), out=d / f"sampler-{c}.nc")
    stages.analytic_error(d / "spectrum.nc", **st.theory_args(), out=d / "theory.nc")
    stages.aggregate(d / "spectrum.nc", d / "theory.nc", [d / f"sampler-{c}.nc" for c in st.chunk_ids],
                     out=d / "summary.nc")
    return st, d


def test_outputs_have_the_documented_shapes(run):
    st, d = run
    lang = read_dataset(d / "sampler-001.nc")
    assert lang["w2sq"].dims == ("point", "gamma", "n_steps", "replicate", "snapshot")
    assert lang["w2sq"].shape == (1, 2, 1, 30, 1) and lang["diverged"].dims == lang["w2sq"].dims
    assert "score_matrix" not in lang  # exact fits store no R x d x d arrays
    s = read_dataset(d / "summary.nc")
    assert s["mc_mean"].dims == ("n_samples", "sigma", "gamma", "tau", "n_steps")
    assert s["mc_mean"].shape == (2, 2, 2, 1, 1)
    for ds in (lang, s, read_dataset(d / "theory.nc"), read_dataset(d / "spectrum.nc")):
        for name, var in ds.variables.items():
            assert {"long_name", "units"} <= set(var.attrs), name


def test_summary_is_the_monte_carlo_estimator_of_the_same_streams(run):
    """aggregate's mean and s.e. at a point equal montecarlo.monte_carlo_error with the same seed (one estimator,
    one stream keying), and the z-score is computed from them."""
    st, d = run
    s = read_dataset(d / "summary.nc")
    for N, sg, g in ((50, 0.1, 0.05), (400, 0.3, 0.0)):
        r = montecarlo.monte_carlo_error(st.lam, N, sg, g, n_replicates=30, seed=3)
        pt = s.sel(n_samples=N, sigma=sg, gamma=g, tau=0.0, n_steps=np.inf)
        assert float(pt["mc_mean"]) == r.mean and float(pt["mc_stderr"]) == r.stderr
        assert int(pt["mc_n"]) == r.n_valid and int(pt["n_diverged"]) == r.n_diverged
        assert float(pt["zscore"]) == pytest.approx((r.mean - float(pt["theory_total"])) / r.stderr, rel=1e-12)


def test_theory_stage_is_error_terms_on_the_grid(run):
    from gaussdsm.theory import error_terms

    st, d = run
    th = read_dataset(d / "theory.nc")
    g = st.grid
    ref = error_terms(st.lam, g["n_samples"], g["sigma"], g["gamma"], g["tau"], n_steps=[np.inf])
    xr.testing.assert_allclose(th["total"], ref["total"], rtol=0)


def test_fault_switch(monkeypatch):
    monkeypatch.delenv(faults.ENV, raising=False)
    faults.check("fit_scores")
    assert faults.before_replace("aggregate") is None
    monkeypatch.setenv(faults.ENV, "fit_scores")
    with pytest.raises(RuntimeError, match="fault injected into stage 'fit_scores'"):
        faults.check("fit_scores")
    faults.check("aggregate")
    monkeypatch.setenv(faults.ENV, "sigkill:aggregate")
    assert callable(faults.before_replace("aggregate")) and faults.before_replace("fit_scores") is None
    monkeypatch.delenv(faults.ENV)
    faults.from_config({"fault_injection": {"rule": "spectra", "mode": "sigkill"}})
    assert faults.before_replace("spectra") is not None
    monkeypatch.delenv(faults.ENV)


def test_unflagged_nan_is_refused_with_the_point(run, tmp_path):
    st, d = run
    lang = read_dataset(d / "sampler-000.nc")
    w = lang["w2sq"].values.copy()
    w[1, 0, 0, 4, 0] = np.nan
    lang["w2sq"].values = w
    from gaussdsm.io import write_dataset

    write_dataset(lang, tmp_path / "bad.nc")
    with pytest.raises(ValueError, match="not flagged diverged") as err:
        stages.aggregate(d / "spectrum.nc", d / "theory.nc", [tmp_path / "bad.nc", d / "sampler-001.nc"],
                         out=tmp_path / "summary.nc")
    n, s = int(lang["n_samples"][1]), float(lang["sigma"][1])
    assert f"n_samples={n}, sigma={s:g}, tau=0, gamma=0, n_steps=inf: 1 replicate(s)" in str(err.value)
    assert not (tmp_path / "summary.nc").exists()


def test_monte_carlo_chunks_log_their_progress(small_study, tmp_path, caplog):
    """A chunk's log says how far it is: one line per 10 s and a last one at 100 %."""
    import logging

    st = small_study
    stages.spectra(**st.spectrum_args(), out=tmp_path / "spectrum.nc")
    c = st.chunk_ids[0]
    with caplog.at_level(logging.INFO, logger="gaussdsm"):
        stages.run_sampler(tmp_path / "spectrum.nc", **st.sampler_args(c), out=tmp_path / "s.nc")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("run_sampler (exact fits)")]
    assert lines and "(100 %)" in lines[-1], lines
    done, total = map(int, lines[-1].split(": ")[1].split()[0].split("/"))
    assert done == total > 0


@pytest.mark.parametrize("method", ["exact", "sgd"])
def test_more_metrics_add_variables_and_leave_w2_bitwise(tmp_path, small_study, method):
    """metrics [w2, kl_sample_data]: W2's variables are those of the W2-only run, bit for bit (the same streams);
    the KL adds per-metric variables with the vocabulary's attributes, its summary is the estimator of the same
    draws (montecarlo.monte_carlo_error with metric=...) and its theory error_terms(metric=...)."""
    import copy

    from gaussdsm.study import Study
    from gaussdsm.theory import error_terms

    cfg = copy.deepcopy(small_study.config)
    if method == "sgd":
        cfg["fit"]["method"] = "sgd"
        cfg["grid"].update(n_samples=[400], sigma=[0.3], tau=[0.0, 1e-3])
        cfg["montecarlo"]["n_replicates"] = 6
    runs = {}
    for metrics in (["w2"], ["w2", "kl_sample_data"]):
        st = Study("s", {**cfg, "metrics": metrics}, seed=3)
        d = tmp_path / "-".join(metrics)
        d.mkdir()
        stages.spectra(**st.spectrum_args(), out=d / "spectrum.nc")
        for c in st.chunk_ids:
            fits = None
            if st.fits_scores:
                fits = d / f"fits-{c}.nc"
                stages.fit_scores(d / "spectrum.nc", **st.fit_args(c), out=fits)
            stages.run_sampler(d / "spectrum.nc", fits, **st.sampler_args(c), out=d / f"sampler-{c}.nc")
        stages.analytic_error(d / "spectrum.nc", **st.theory_args(), out=d / "theory.nc")
        stages.aggregate(d / "spectrum.nc", d / "theory.nc", [d / f"sampler-{c}.nc" for c in st.chunk_ids],
                         **st.aggregate_args(), out=d / "summary.nc")
        runs[len(metrics)] = (st, d)
    (st1, d1), (st2, d2) = runs[1], runs[2]
    for name in ("summary.nc", "theory.nc", f"sampler-{st1.chunk_ids[0]}.nc"):
        a, b = read_dataset(d1 / name), read_dataset(d2 / name)
        for var in a.data_vars:
            np.testing.assert_array_equal(a[var].values, b[var].values, err_msg=f"{name}::{var}")
        extra = set(b.data_vars) - set(a.data_vars)
        assert extra and all(v.startswith("kl_sample_data_") for v in extra), extra
        for v in extra:
            assert {"long_name", "units"} <= set(b[v].attrs) and "Kullback-Leibler" in b[v].attrs["long_name"]
    s = read_dataset(d2 / "summary.nc")
    assert s.attrs["metrics"] == "w2 kl_sample_data" and "metrics" not in read_dataset(d1 / "summary.nc").attrs
    for k in ("mc_mean", "mc_stderr", "mc_n", "n_diverged", "theory_total", "theory_bias", "zscore"):
        assert f"kl_sample_data_{k}" in s
    assert float(abs(s["kl_sample_data_zscore"]).max()) < 4
    g = st2.grid
    if method == "exact":
        r = montecarlo.monte_carlo_error(st2.lam, 50, 0.1, 0.05, n_replicates=30, seed=3, metric="kl_sample_data")
        pt = s.sel(n_samples=50, sigma=0.1, gamma=0.05, tau=0.0, n_steps=np.inf)
        assert float(pt["kl_sample_data_mc_mean"]) == r.mean and float(pt["kl_sample_data_mc_stderr"]) == r.stderr
        ref = error_terms(st2.lam, g["n_samples"], g["sigma"], g["gamma"], g["tau"], n_steps=[np.inf],
                          metric="kl_sample_data")
        np.testing.assert_array_equal(s["kl_sample_data_theory_total"].values, ref["total"].values)
    else:
        assert "kl_sample_data_mc_opt_mean" in s and "kl_sample_data_zscore_opt" in s
        assert float(s["kl_sample_data_theory_optimization"].sel(tau=1e-3).max()) > 0


@pytest.mark.parametrize("method", ["exact", "sgd"])
def test_chunks_split_over_settings_give_the_same_summary_bitwise(tmp_path, small_study, method):
    """montecarlo.split over gamma and n_steps: the chunks of each fit chunk are reassembled in the sampler's order
    and the summary is the unsplit one, bitwise (every setting's draws are its own); a missing chunk is refused."""
    import copy

    from gaussdsm.study import Study

    cfg = copy.deepcopy(small_study.config)
    cfg["sampler"]["n_steps"] = [30, float("inf")]
    cfg["grid"]["gamma"] = [0.05, 0.02]
    if method == "sgd":
        cfg["fit"]["method"] = "sgd"
        cfg["grid"].update(n_samples=[400], sigma=[0.3], tau=[0.0, 1e-3])
        cfg["montecarlo"]["n_replicates"] = 6
    summaries = {}
    for split in ([], ["gamma", "n_steps"]):
        st = Study("s", {**cfg, "montecarlo": {**cfg["montecarlo"], "split": split}}, seed=3)
        d = tmp_path / ("split" if split else "whole")
        d.mkdir()
        stages.spectra(**st.spectrum_args(), out=d / "spectrum.nc")
        for c in st.fit_chunk_ids if st.fits_scores else ():
            stages.fit_scores(d / "spectrum.nc", **st.fit_args(c), out=d / f"fits-{c}.nc")
        for c in st.chunk_ids:
            fits = d / f"fits-{st.fit_chunk(c)}.nc" if st.fits_scores else None
            stages.run_sampler(d / "spectrum.nc", fits, **st.sampler_args(c), out=d / f"sampler-{c}.nc")
        stages.analytic_error(d / "spectrum.nc", **st.theory_args(), out=d / "theory.nc")
        paths = [d / f"sampler-{c}.nc" for c in st.chunk_ids]
        stages.aggregate(d / "spectrum.nc", d / "theory.nc", paths, **st.aggregate_args(), out=d / "summary.nc")
        summaries[bool(split)] = read_dataset(d / "summary.nc")
    assert len(st.chunk_ids) == 4 * len(st.fit_chunk_ids)
    a, b = summaries[False], summaries[True]
    assert list(a.data_vars) == list(b.data_vars) and a["mc_mean"].dims == b["mc_mean"].dims
    for name, var in a.variables.items():
        assert var.dtype == b[name].dtype, name
        np.testing.assert_array_equal(var.values, b[name].values, err_msg=name)
    with pytest.raises(ValueError, match="a sampler chunk is missing"):
        stages.aggregate(d / "spectrum.nc", d / "theory.nc", paths[1:], **st.aggregate_args(), out=d / "short.nc")
