"""Every figure study (P1-P10, spectrum shape, full vs diagonal) at tiny size, through the snakemake CLI."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import xarray as xr

pytestmark = pytest.mark.workflow

EXPECTED = {
    # figure data file -> {variable: dims}
    "p1/figures/error_vs_n": {"theory_line": ("sigma", "gamma", "n_dense"), "mc_mean": ("n_samples", "sigma", "gamma")},
    "p2/figures/error_vs_tau": {
        "theory_optimization_line": ("sigma", "gamma", "tau_dense"),
        "mc_opt_mean": ("sigma", "gamma", "tau"),
    },
    "p3/figures/error_vs_gamma": {"theory_line": ("n_samples", "sigma", "gamma_dense"), "stability_bound": ("sigma",)},
    "p4/figures/error_vs_sigma": {
        "theory_line": ("n_samples", "gamma", "tau", "sigma_dense"),
        "theory_sigma_star": ("n_samples", "gamma", "tau"),
    },
    "p4/figures/sigma_star": {
        "sigma_star_vs_gamma": ("n_limit", "tau", "gamma_dense"),
        "sigma_star_vs_tau": ("n_limit", "gamma", "tau_dense"),
    },
    "p6/figures/kernel": {"contribution": ("mode_i", "mode_k"), "bias_row": ("mode_i",)},
    "comparisons/shape/spectrum_shape": {"shape_a1_total": ("sigma_dense",), "shape_a2_mc_mean": ("sigma_shape_a2",)},
    "comparisons/model/full_vs_diagonal": {"full_theory_line": ("sigma", "n_dense")},
    "dvp/figures/error_vs_nfe": {"theory_line": ("n_samples", "scheme", "init_line", "n_dense"),
                                 "discretization_w2sq": ("scheme", "n_dense"), "floor": ("n_samples", "scheme", "init_line"),
                                 "mc_mean": ("n_samples", "scheme", "init", "n_steps")},
    "dvp/figures/trajectory": {"w2_path": ("scheme_path", "init_line", "step")},
    "dt/figures/error_vs_t_min": {"theory_line": ("n_samples", "t_dense"), "t_min_star": ("n_samples",)},
    "dtr/figures/error_vs_train_time": {"theory_line": ("n_samples", "t_min", "tau_dense"),
                                        "exact_line": ("n_samples", "t_min"),
                                        "mc_mean": ("n_samples", "t_min", "train_time")},
    "comparisons/textures/texture_spectra": {"tex_a_ring_power": ("ring_tex_a",),
                                             "tex_b_fit_t_total": ("t_dense",)},
    "comparisons/kappa/langevin_vs_diffusion": {"ula_best": ("study", "budget"),
                                                "diffusion": ("study", "scheme_path", "budget")},
}


@pytest.fixture(scope="module")
def figures_run(tmp_path_factory, repo, run_snakemake):
    wd = tmp_path_factory.mktemp("figs")
    shutil.copy(repo / "tests" / "configs" / "figures.yaml", wd / "config.yaml")
    run_snakemake(wd, timeout=900)
    return wd


def test_figure_studies_equal_golden(figures_run, check_golden):
    """Every figure study's summary and figure data equal those of the code of commit c5740d7 (tests/data)."""
    assert check_golden(figures_run / "results", "figures") > 150


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_figure_files_and_data(figures_run, stem):
    res = figures_run / "results"
    for ext in ("png", "pdf"):
        f = res / f"{stem}.{ext}"
        assert f.exists() and f.stat().st_size > 5000, f
    with xr.open_dataset(res / f"{stem}.nc", engine="netcdf4") as ds:
        for name, dims in EXPECTED[stem].items():
            assert ds[name].dims == dims, (name, ds[name].dims)
            assert {"units", "long_name"} <= set(ds[name].attrs), name
        assert "config_sha256" in ds.attrs


def test_p1_slope_is_minus_one(figures_run):
    """Weighted least-squares slope of log(MC - bias) against log N: -1 within Z = 3 of its standard error.

    Var(log y) ~ (se/y)^2; the O(1/N^2) remainder is below 1 % of the excess at N >= 400 here
    (N >> 2(lam_max/u_min)^2 ~ 14), i.e. far below the slope's standard error.
    """
    with xr.open_dataset(figures_run / "results" / "p1" / "summary.nc", engine="netcdf4") as s:
        s = s.squeeze()
        N = s["n_samples"].values.astype(float)
        excess = s["mc_mean"].values - float(s["theory_bias"])
        se = s["mc_stderr"].values
    assert np.all(excess > 3 * se), "excess over the bias floor must be resolved by the Monte Carlo"
    x, y, w = np.log(N), np.log(excess), (excess / se) ** 2
    X = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    slope = (cov @ X.T @ (w * y))[1]
    slope_se = np.sqrt(cov[1, 1])
    assert slope_se < 0.1, slope_se  # the test must be able to tell -1 from -0.7 or -1.3
    assert abs(slope + 1.0) <= 3.0 * slope_se, (slope, slope_se)


def test_p5_sigma_star_is_the_grid_minimum(figures_run):
    """P5's theory sigma* equals a brute-force minimum of the R9 total on a fine log grid."""
    from gaussdsm.optimal import total_error

    with xr.open_dataset(figures_run / "results" / "p4" / "figures" / "sigma_star.nc", engine="netcdf4") as d, \
            xr.open_dataset(figures_run / "results" / "p4" / "summary.nc", engine="netcdf4") as s:
        lam = s["lam"].values
        line = d["sigma_star_vs_tau"].sel(n_limit=float(d["n_limit"][0]))
        N = int(d["n_limit"][0])
        fine = np.geomspace(1e-3, 10.0, 8001)
        step = fine[1] / fine[0] - 1
        checked = 0
        for g in line["gamma"].values:
            for t in line["tau_dense"].values[::8]:
                star = float(line.sel(gamma=g, tau_dense=t))
                if not np.isfinite(star):
                    continue
                vals = total_error(lam, fine, N, g, t)
                brute = fine[int(np.argmin(vals))]
                assert abs(star / brute - 1) <= 2 * step, (g, t, star, brute)
                checked += 1
    assert checked >= 6


def test_diffusion_summaries(figures_run):
    """Diffusion through the stages: the population score's Monte Carlo is its exact law (one deterministic
    replicate, = theory to rounding), learned scores agree with the first-order theory within 4 standard errors where
    it is in its regime, NFE is recorded (heun: 2 per step), and ddpm with h beta(T) >= 1 is diverged, not NaN."""
    from gaussdsm.samplers import EVALS

    res = figures_run / "results"
    with xr.open_dataset(res / "dvp" / "summary.nc", engine="netcdf4") as s, \
            xr.open_dataset(res / "dt" / "summary.nc", engine="netcdf4") as t:
        zs = []
        for summary in (s, t):
            ok = summary["diverged"] == 0
            oracle = summary.sel(n_samples=np.inf).where(ok.sel(n_samples=np.inf))
            rel = np.abs(oracle["mc_mean"] / oracle["theory_total"] - 1)
            assert float(rel.max()) < 1e-9 and np.all(oracle["mc_stderr"].fillna(0) == 0)
            learned = summary.where(ok & (summary["theory_in_regime"] == 1) & np.isfinite(summary["n_samples"]))
            z = learned["zscore"].values[np.isfinite(learned["zscore"].values)]
            assert z.size >= 1
            zs.append(z)
        z = np.concatenate(zs)
        assert z.size >= 8 and np.all(np.abs(z) <= 4), z
        for sch in ("em", "ddpm", "heun"):
            nfe = s["theory_nfe"].sel(scheme=sch)
            np.testing.assert_array_equal(nfe, EVALS[sch] * s["n_steps"].broadcast_like(nfe))
        div = s["diverged"].sel(scheme="ddpm", n_steps=10.0)
        assert np.all(div == 1) and int(s["diverged"].sum()) == div.size  # only there
        assert np.all(s["theory_valid"].sel(scheme="ddpm", n_steps=10.0) == 0)
        assert np.all(np.isfinite(s["theory_total"].sel(scheme="ddpm", n_steps=40.0)))


def test_trained_diffusion_summary(figures_run):
    """A study with fit.method gradient_flow: train_time is a grid axis of the summary and the provenance of its
    theory, Monte Carlo over training sets agrees with the first-order theory where it is in its regime -- within 4
    standard errors plus the regime's stated accuracy (theory/_regime.py: REGIME_TOL of the error) --, and long
    training approaches the exact fit's error."""
    with xr.open_dataset(figures_run / "results" / "dtr" / "summary.nc", engine="netcdf4") as s:
        assert "train_time" in s["mc_mean"].dims
        np.testing.assert_array_equal(s["train_time"].values, [0.3, 3.0, 30.0])
        assert s.attrs["theory_fit_method"] == "gradient_flow" and s.attrs["theory_fit_init"] == "zero"
        from gaussdsm.theory._regime import REGIME_TOL

        ok = (s["diverged"] == 0) & (s["theory_in_regime"] == 1)
        gap = np.abs(s["mc_mean"] - s["theory_total"]).where(ok).values
        allowed = (4 * s["mc_stderr"] + REGIME_TOL * s["theory_total"]).where(ok).values
        sel = np.isfinite(gap)
        assert sel.sum() >= 3 and np.all(gap[sel] <= allowed[sel]), (gap[sel], allowed[sel])
        lam, long = s["lam"].values, float(s["theory_total"].sel(n_samples=400, t_min=0.1, train_time=30.0).squeeze())
    from gaussdsm import theory

    exact = theory.error_terms(lam, 400, sampler="diffusion", scheme="heun", n_steps=30, t_min=0.1)
    assert abs(float(long) / float(exact["total"]) - 1) < 1e-3


def test_drawn_noise_study(figures_run):
    """fit.noise: drawn (gd with fresh noise at every step): the Monte Carlo of the workflow is that of
    gaussdsm.montecarlo.drawn_noise_monte_carlo_error with the same seed, and agrees with the expected-loss theory
    within 4 standard errors plus the first-order allowance."""
    import yaml

    from gaussdsm import montecarlo as mc
    from gaussdsm.samplers import Diffusion
    from gaussdsm.samplers.diffusion import Training

    seed = yaml.safe_load(open(figures_run / "config.yaml"))["seed"]
    with xr.open_dataset(figures_run / "results" / "dtr_drawn" / "summary.nc", engine="netcdf4") as s:
        assert s.attrs["theory_fit_noise"] == "drawn"
        lam = s["lam"].values
        for tau in (0.5, 2.0):
            pt = s.sel(train_time=tau, n_samples=100).squeeze()
            smp = Diffusion("vp", "heun", "uniform", 10, 0.05).with_training(Training("gd", tau, lr=0.05, noise="drawn"))
            drawn = mc.drawn_noise_monte_carlo_error(lam, 100, smp, n_replicates=40, seed=seed)[0]
            np.testing.assert_allclose(float(pt["mc_mean"]), drawn.mean, rtol=1e-12)
            tol = 4 * float(pt["mc_stderr"]) + abs(float(pt["theory_generalization"])) * lam.size / 100
            assert abs(float(pt["mc_mean"]) - float(pt["theory_total"])) <= tol


def test_a_new_gamma_reruns_no_sgd_fit(figures_run, tmp_path, run_snakemake, job_counts):
    """The learned scores do not depend on the sampler: a new gamma in an SGD study (p2) reruns its sampler
    chunks, theory and summary, and not one fit_scores job."""
    import yaml

    work = tmp_path / "figs"
    shutil.copytree(figures_run, work, symlinks=True)
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    cfg["studies"]["p2"]["grid"]["gamma"] = [0.0, 0.01]
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    counts = job_counts(run_snakemake(work, "-n").stdout)
    assert "fit_scores" not in counts and counts["run_sampler"] == 1 and counts["aggregate"] == 1, counts


def test_report_has_every_figure_with_its_caption(figures_run, run_snakemake):
    """`snakemake --report` builds a self-contained HTML report whose captions are rendered per study."""
    report = figures_run / "report.html"
    run_snakemake(figures_run, "--report", str(report))
    html = report.read_text(encoding="utf-8", errors="replace")
    assert report.stat().st_size > 100_000
    for study in ("p1", "p2", "p3", "p4", "p6"):
        assert f"Study <strong>{study}</strong>" in html, study
    for study in ("dvp", "dt"):
        assert f"Study <strong>{study}</strong>" in html, study
    for comparison in ("shape", "model", "kappa", "textures"):
        assert f"Comparison {comparison}" in html, comparison
    assert html.count("reconstruction of the analysis") >= 12
    assert "System Message" not in html, html[html.find("System Message"):][:500]  # docutils' error boxes


def test_p7_without_exact_initialisation_and_its_floor(figures_run):
    """P7 of a study without the exact initialisation draws and lists no exact-initialisation mark; its floors are
    the theory of the continuous-time law (n_steps = inf) of what each scheme integrates (the reverse SDE: em, ddpm;
    the probability-flow ODE: heun), same process and t_min, and are drawn on every top panel."""
    from gaussdsm import theory
    from gaussdsm.figures import error_vs_nfe

    res = figures_run / "results" / "dvp"
    with xr.open_dataset(res / "figures" / "error_vs_nfe.nc", engine="netcdf4") as d, \
            xr.open_dataset(res / "summary.nc", engine="netcdf4") as s:
        d, lam = d.load(), s["lam"].values
    assert list(d["integrates"].values) == ["sde", "sde", "ode"]
    for N in d["n_samples"].values:
        for sch in ("em", "ddpm", "heun"):
            want = theory.error_terms(lam, N, sampler="diffusion", process="vp", scheme=sch, n_steps=np.inf,
                                      t_min=float(d["t_min"]), init="standard")["total"]
            got = d["floor"].sel(n_samples=N, scheme=sch, init_line="standard")
            np.testing.assert_allclose(float(got), float(want), rtol=1e-12)
    standard = d.sel(init=["standard"], init_line=["standard"])
    fig = error_vs_nfe.draw(standard)
    labels = [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    assert labels and not any("exact" in lab for lab in labels), labels
    assert not any(ln.get_linestyle() == "--" or ln.get_marker() == "s" for a in fig.axes for ln in a.get_lines())
    for ax, N in zip(fig.axes, d["n_samples"].values):
        floors = d["floor"].sel(n_samples=N, init_line="standard").values
        drawn = [ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_linestyle() == "-."]
        assert drawn and all(np.min(np.abs(np.asarray(floors) / y - 1)) < 1e-3 for y in drawn), (floors, drawn)
        assert all(np.min(np.abs(np.asarray(drawn) / f - 1)) <= error_vs_nfe.FLOOR_SAME for f in floors)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_every_mark_is_in_the_legend_and_the_legend_hides_nothing(figures_run, stem, mark_kinds, panel=None):
    """Every panel: each kind of line, marker and shading that a panel draws has a legend entry (none
    listed that is not drawn: the legend's marks are a subset of the axes' too), and the legend overlaps no axes."""
    from matplotlib.patches import Patch

    from gaussdsm.figures import PANELS

    panel = panel or stem.rsplit("/", 1)[-1]
    with xr.open_dataset(figures_run / "results" / f"{stem}.nc", engine="netcdf4") as d:
        fig = PANELS[panel].module.draw(d.load())
    fig.canvas.draw()
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes if a.get_legend()]
    handles = [h for lg in legends for h in lg.legend_handles]
    drawn = set().union(*(mark_kinds(a.get_lines()) for a in fig.axes))
    listed = mark_kinds([h for h in handles if not isinstance(h, Patch)])
    solid = {k for k in drawn if k == ("-", None, False)}
    assert drawn - solid <= listed, f"drawn but not in the legend: {drawn - solid - listed}"
    assert listed <= drawn, f"in the legend but not drawn: {listed - drawn}"
    spans = {tuple(np.round(p.get_facecolor(), 3)) for a in fig.axes for p in a.patches}
    assert spans <= {tuple(np.round(h.get_facecolor(), 3)) for h in handles if isinstance(h, Patch)}
    r = fig.canvas.get_renderer()
    for lg in fig.legends:
        box = lg.get_window_extent(r)
        assert not any(box.overlaps(a.get_window_extent(r)) for a in fig.axes), panel
    if panel == "sigma_star" and 0.0 in d["gamma"].values:
        assert "off the log axis" in fig.axes[0].get_xlabel()
