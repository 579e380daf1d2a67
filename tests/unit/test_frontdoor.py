"""The front door: gaussdsm.error (the engine of `gaussdsm error`) and gaussdsm.run_study (a study in memory)."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

import gaussdsm
from gaussdsm import engine, montecarlo, theory
from gaussdsm.cli import build_parser, main

LAM8 = 1 / np.arange(1, 9.0)


def test_theory_equals_error_terms_at_a_point():
    ds = gaussdsm.error(d=8, n_samples=500, sigma=0.2, gamma=0.05, tau=1e-4)
    th = theory.error_terms(LAM8, 500, 0.2, 0.05, 1e-4)
    for k in ("bias", "generalization", "optimization", "total", "valid", "in_regime", "n_samples_scale"):
        assert float(ds[k]) == float(th[k]), k
    assert ds["reason"].item() == "" and ds["regime_note"].item() == "" and int(ds["in_regime"]) == 1
    low = gaussdsm.error(d=16, n_samples=100, sigma=0.1, gamma=0.13)
    assert int(low["in_regime"]) == 0 and "too small for the 1/N expansion" in low["regime_note"].item()
    assert ds.attrs["metric"] == "w2" and ds["total"].attrs["long_name"] and ds["total"].attrs["units"] == "1"
    dif = gaussdsm.error(d=8, n_samples=200, sampler="diffusion", scheme="heun", n_steps=20, t_min=0.01)
    th = theory.error_terms(LAM8, 200, sampler="diffusion", scheme="heun", n_steps=20, t_min=0.01)
    for k in ("bias", "bias_init", "bias_discretization", "bias_stopping", "generalization", "total", "nfe"):
        assert float(dif[k]) == float(th[k]), k


def test_a_list_is_a_grid_axis():
    """Lists of the theory's own axes and of other options (model, alpha) give one dimension each, every point the
    theory of that point."""
    ds = gaussdsm.error(d=6, alpha=[1.0, 2.0], model=["full", "diagonal"], n_samples=[100, 1000], sigma=0.3,
                        gamma=[0.0, 0.02])
    assert ds["total"].dims == ("alpha", "model", "n_samples", "gamma")
    assert ds["total"].shape == (2, 2, 2, 2)
    for a in (1.0, 2.0):
        lam = 1 / np.arange(1, 7.0) ** a
        for m in ("full", "diagonal"):
            th = theory.error_terms(lam, [100, 1000], 0.3, [0.0, 0.02], model=m)
            got = ds["total"].sel(alpha=a, model=m)
            np.testing.assert_array_equal(got.values, th["total"].transpose(*got.dims).values)
    assert "lam" not in ds  # the spectrum varies along alpha
    dif = gaussdsm.error(d=4, n_samples=100, sampler="diffusion", scheme=["em", "heun"], n_steps=[10, 40], t_min=0.01)
    assert dif["total"].dims == ("scheme", "n_steps") and dif["lam"].size == 4
    runs = gaussdsm.error(d=3, n_samples=200, sigma=0.3, gamma=0.02, seed=[0, 1], mc=[0, 10])
    assert runs["mc_mean"].dims == ("mc", "seed")  # in the order of the signature
    for seed in (0, 1):
        one = gaussdsm.error(d=3, n_samples=200, sigma=0.3, gamma=0.02, seed=seed, mc=10)
        assert float(runs["mc_mean"].sel(seed=seed, mc=10)) == float(one["mc_mean"])
        assert np.isnan(float(runs["mc_mean"].sel(seed=seed, mc=0)))  # no Monte Carlo: NaN, with the reason
        note = str(runs["mc_note"].sel(seed=seed, mc=0).values)
        assert note == "mc_mean, mc_stderr, z: not defined for this setting (mc = 0)"
    assert float(runs["mc_mean"].sel(seed=0, mc=10)) != float(runs["mc_mean"].sel(seed=1, mc=10))


def test_undefined_points_have_their_reason():
    """A ddpm grid with a step too long: NaN there, with the sentence of theory.diagnose; nothing elsewhere."""
    ds = gaussdsm.error(d=8, n_samples=[200, np.inf], sampler="diffusion", scheme="ddpm", n_steps=[3, 200], mc=3,
                        fit="gd", lr=0.05, train_time=1.0)
    bad, good = ds.sel(n_steps=3), ds.sel(n_steps=200)
    assert bool(np.isnan(bad["total"]).all()) and int(bad["valid"].sum()) == 0
    assert all("ddpm (ancestral sampling) needs h_k beta(t_k) < 1" in r for r in bad["reason"].values)
    assert bool(np.isfinite(good["total"]).all()) and (good["reason"] == "").all()
    assert np.isnan(float(good["mc_drawn_mean"].sel(n_samples=np.inf)))  # N = inf learns nothing: not drawn
    for name, var in ds.data_vars.items():  # no NaN without a reason at that point
        if var.dtype.kind == "f":
            nan = np.isnan(var.broadcast_like(ds["total"]))
            why = ds["mc_note"] if engine._is_mc(name) else ds["reason"]
            assert bool((why.where(nan, "x") != "").all()), name


def test_monte_carlo_agrees_with_the_theory_within_its_standard_error(z):
    """At every point of a grid (one draw per training set serves its sigmas and steps), mc_mean and mc_stderr are
    montecarlo's estimator on the same streams; within z standard errors of the theory where N = 4000 is in the
    regime (its neglected second-order term estimated below 10 % of the total)."""
    ds = gaussdsm.error(d=4, n_samples=[400, 4000], sigma=[0.3, 0.4], gamma=[0.0, 0.02], mc=200, seed=5)
    lam = 1 / np.arange(1, 5.0)
    for N, sg, g in itertools.product((400, 4000), (0.3, 0.4), (0.0, 0.02)):
        pt = ds.sel(n_samples=N, sigma=sg, gamma=g)
        r = montecarlo.monte_carlo_error(lam, N, sg, g, n_replicates=200, seed=5)
        assert float(pt["mc_mean"]) == r.mean and float(pt["mc_stderr"]) == r.stderr and int(pt["mc_n"]) == 200
        assert float(pt["z"]) == pytest.approx((r.mean - float(pt["total"])) / r.stderr, rel=1e-12)
        assert 0 < r.stderr < 0.1 * r.mean  # a real estimate, not a degenerate one
    far = ds.sel(n_samples=4000)
    assert bool((far["in_regime"] == 1).all())
    assert bool((abs(far["mc_mean"] - far["total"]) < z * far["mc_stderr"]).all()), far["z"].values
    assert (ds["mc_note"] == "").all()


def test_the_population_score_monte_carlo_is_exact():
    """N = inf: one deterministic replicate equal to the theory (no expansion), z undefined with its reason."""
    ds = gaussdsm.error(d=8, n_samples=np.inf, sigma=0.1, gamma=0.01, mc=3)
    assert float(ds["mc_mean"]) == pytest.approx(float(ds["total"]), rel=1e-12) and float(ds["mc_stderr"]) == 0
    assert np.isnan(float(ds["z"])) and "deterministic" in ds["mc_note"].item()


@pytest.mark.parametrize("cli, options", [
    (["--d", "8", "--n-samples", "500", "--sigma", "0.2", "--gamma", "0.05", "--tau", "1e-4", "--mc", "8"],
     dict(d=8, n_samples=500, sigma=0.2, gamma=0.05, tau=1e-4, mc=8)),
    (["--spectrum", "custom", "--values", "1", "0.5", "0.1", "--n-samples", "300", "--sigma", "0.3", "--gamma", "0.02",
      "--sampler", "uld", "--friction", "2", "--n-steps", "200", "--mc", "30", "--seed", "4"],
     dict(spectrum="custom", values=[1, 0.5, 0.1], n_samples=300, sigma=0.3, gamma=0.02, sampler="uld", friction=2.0,
          n_steps=200, mc=30, seed=4)),
    (["--sampler", "diffusion", "--scheme", "heun", "--n-steps", "10", "--t-min", "0.05", "--d", "3", "--n-samples",
      "100", "--fit", "gd", "--lr", "0.05", "--train-time", "1", "--mc", "4"],
     dict(sampler="diffusion", scheme="heun", n_steps=10, t_min=0.05, d=3, n_samples=100, fit="gd", lr=0.05,
          train_time=1.0, mc=4)),
])
def test_the_command_line_and_the_front_door_give_the_same_numbers(capsys, cli, options):
    assert main(["error", *cli, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ds = gaussdsm.error(**options)
    for k in ("bias", "generalization", "total"):
        assert out[k] == float(ds[k]), k
    mc = out["monte_carlo"]
    assert (mc["mean"], mc["stderr"], mc["n"]) == (float(ds["mc_mean"]), float(ds["mc_stderr"]), int(ds["mc_n"]))
    if "optimization" in mc:
        assert mc["optimization"]["mean"] == float(ds["mc_opt_mean"])
    if "drawn_noise" in mc:
        assert mc["drawn_noise"]["difference"] == float(ds["mc_drawn_difference"])


def test_every_command_line_option_of_error_is_a_front_door_option():
    """The command parses, the engine works: its options are the same (besides output ones and the sweep questions
    --within, --of, --minimise, --nfe, answered from the front door by :mod:`gaussdsm.sweep`), and the engine's
    spectrum and diffusion keys are the registries' own."""
    from gaussdsm.samplers.diffusion import DEFAULTS
    from gaussdsm.spectra import PARAM_KEYS

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["error"]
    dests = {a.dest for a in sub._actions} - {"help", "json", "progress", "within", "of", "minimise", "nfe"}
    assert dests <= set(engine.KEYS), dests - set(engine.KEYS)
    assert set(engine.SPECTRUM_KEYS) == set(PARAM_KEYS)
    assert list(engine.DIFFUSION_ONLY) == [k for k in DEFAULTS if k != "n_steps"]


BAD = [
    (dict(sampler="diffusion", scheme="midpoint"), "sampler.scheme must be one of em, ei, ddpm"),
    (dict(sampler="diffusion", scheme=["em", "heun"], t_min=0.0), "sampler.t_min must be > 0 with scheme heun"),
    (dict(sampler="diffusion", process="flow", T=2.0), "sampler.T must be <= 1 with process flow"),
    (dict(sampler="diffusion", process=["vp", "ve"], scheme=["em", "ddpm"]),
     "sampler.scheme ddpm (ancestral sampling, Ho et al. 2020) needs sampler.process: vp or vp_cosine or vp_exp "
     "or sd_discrete (at process=ve, scheme=ddpm)"),
    (dict(sampler="diffusion", process="vp", grid="flow_shift"),
     "sampler.grid flow_shift needs sampler.process flow (its levels are that process's times); got vp"),
    (dict(sampler="diffusion", process="sd_discrete", grid="leading", T=1000.0, n_steps=10),
     "sampler.T must be left out with sampler.grid leading on process sd_discrete"),
    (dict(sampler="diffusion", process="flow", grid="flow_dynamic", image_seq_len=0), "sampler.image_seq_len must be"),
    (dict(sampler="diffusion", process="flow", grid="flow_shift", shift=-1.0), "sampler.shift must be"),
    (dict(sigma=-1.0, gamma=0.01), "grid.sigma must be a finite number >= 0"),
    (dict(sigma=[0.1, 0.1], gamma=0.01), "grid.sigma: the values of an axis must be unique"),
    (dict(n_samples=10.5, sigma=0.1, gamma=0.01), "grid.n_samples must be an integer >= 1 or inf"),
    (dict(gamma=0.01), "grid.sigma is required by sampler.kind: ula"),
    (dict(sampler="diffusion", gamma=0.1), "grid.gamma is not used by sampler.kind: diffusion"),
    (dict(sigma=0.1, gamma=0.01, fit="gd"), "fit.method is only used by sampler.kind: diffusion"),
    (dict(sigma=0.1, gamma=0.01, scheme="em"), "sampler.scheme is only used by sampler.kind: diffusion"),
    (dict(sigma=0.1, gamma=0.01, train_time=2.0), "fit.train_time is only used by sampler.kind: diffusion"),
    (dict(sigma=0.1, gamma=0.01, sampler="uld"), "sampler.kind: uld needs sampler.friction"),
    (dict(sigma=0.1, gamma=0.01, model=["full", "fourier"]), "fit.model: fourier (a convolutional denoiser"),
    (dict(n_samples=np.inf, sigma=0.1, gamma=0.01, tau=1e-3), "grid.n_samples: inf (the population score) learns"),
    (dict(sampler="diffusion", n_steps=20, fit="gd", train_time=1.0), "fit.lr must be > 0 with fit.method gd"),
    (dict(sampler="diffusion", n_steps=20, train_time=1.0), "fit.train_time is only used by fit.method gradient_flow"),
    (dict(sigma=0.1, gamma=0.01, model="cnn"), "fit.model must be one of full, diagonal, fourier, conv"),
    (dict(sigma=0.1, gamma=0.01, model="conv", kernel_size=3), "fit.model: conv (a local convolutional denoiser) "
                                                               "needs a stationary spectrum"),
    (dict(spectrum="stationary_2d", d=64, sigma=0.1, gamma=0.01, model="conv", kernel_size=4),
     "fit.kernel_size must be an odd integer in [1, 8]"),
    (dict(spectrum="stationary_1d", d=9, sigma=0.1, gamma=0.01, model="conv", kernel_size=11),
     "fit.kernel_size must be an odd integer in [1, 9]"),
    (dict(spectrum="stationary_1d", d=9, sigma=0.1, gamma=0.01, model="conv"), "fit.kernel_size is required by"),
    (dict(sigma=0.1, gamma=0.01, kernel_size=3), "fit.kernel_size is only used by fit.model: conv"),
    (dict(spectrum="custom", values=[1.0, -0.5], sigma=0.1, gamma=0.01), "spectrum.values must be >= 0"),
    (dict(sigma=0.1, gamma=0.01, metric="kl"), "metric must be one of w2"),
]


@pytest.mark.parametrize("options, message", BAD)
def test_bad_input_is_one_line_naming_the_key_before_any_work(monkeypatch, options, message):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the input was checked")

    monkeypatch.setattr(theory, "error_terms", no_work)
    with pytest.raises(ValueError) as err:
        gaussdsm.error(**{"n_samples": 100, **options})
    text = str(err.value)
    assert message in text and "\n" not in text, text


def test_a_computation_over_the_time_limit_is_refused():
    from gaussdsm.budget import BudgetError

    with pytest.raises(BudgetError, match="--max-time 1 s"):
        gaussdsm.error(d=2000, n_samples=4000, sigma=0.1, gamma=0.001, mc=20, max_time=1.0)


def _golden_summary(repo, study):
    g = np.load(repo / "tests" / "data" / f"golden_{study}.npz")
    head = f"{study}/summary.nc::"
    return {k[len(head):]: (g[k], tuple(g[k + "::dims"])) for k in g.files
            if k.startswith(head) and not k.endswith("::dims")}


def test_run_study_gives_the_workflows_summary(repo):
    """tests/configs/tiny.yaml in memory: every variable of the workflow's summary (tests/data/golden_tiny.npz, the
    values the workflow tests check the Snakemake run against, to the same tolerance), with provenance."""
    res = gaussdsm.run_study(repo / "tests" / "configs" / "tiny.yaml")
    s = res.summary
    golden = _golden_summary(repo, "tiny")
    assert len(golden) > 10
    for name, (values, dims) in golden.items():
        v = s[name].variable
        v = v.squeeze([d for d in v.dims if d not in dims and v.sizes[d] == 1])
        assert v.dims == dims, name
        if values.dtype.kind == "f":
            np.testing.assert_allclose(v.values, values, rtol=1e-9, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(v.values, values, err_msg=name)
    assert s.attrs["snakemake_rule"] == "aggregate" and "tiny" in json.loads(s.attrs["config_json"])["studies"]
    np.testing.assert_array_equal(res.theory["total"].values, s["theory_total"].values)


def test_run_study_rejects_a_bad_config_like_the_workflow(tiny_config):
    from gaussdsm.study import ConfigError

    with pytest.raises(ConfigError, match=r"studies\.tiny\.sampler\.kind = 'hmc': must be one of ula, uld"):
        gaussdsm.run_study(tiny_config(sampler={"kind": "hmc"}))
    with pytest.raises(ConfigError, match=r"studies\.tiny\.grid\.sigma\[0\] = -0.2: must be > 0"):
        gaussdsm.run_study(tiny_config(grid={"sigma": [-0.2]}))
    with pytest.raises(ValueError, match=r"studies\.tiny\.montecarlo\.n_replicates must be an integer >= 2"):
        gaussdsm.run_study(tiny_config(), replicates=1)


@pytest.mark.parametrize("noise, method, train_time", [("drawn", "gradient_flow", 1.0), ("drawn", "gd", np.inf)])
def test_the_training_rules_say_what_gaussdsm_rules_says(noise, method, train_time):
    """fit.noise's rules are gaussdsm.rules.drawn_noise; the Training class states them in the same words."""
    from gaussdsm import rules
    from gaussdsm.samplers.diffusion import Training

    with pytest.raises(ValueError) as err:
        Training(method, train_time, "zero", 0.1 if method == "gd" else 0.0, noise)
    assert str(err.value) == rules.drawn_noise(noise, method, train_time)


def test_run_study_puts_an_overlay_on_the_default_config(repo):
    """``config/p1.yaml`` names a study of ``config/config.yaml`` (``run_studies: [p1]``): it runs on the default
    config, as ``snakemake --configfile config/p1.yaml`` does, with the study's grid from there."""
    import yaml

    default = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    grid = default["studies"]["p1"]["grid"]
    res = gaussdsm.run_study(repo / "config" / "p1.yaml", replicates=4)
    assert res.summary["n_samples"].values.tolist() == [float(n) for n in grid["n_samples"]]
    assert res.summary["sigma"].values.tolist() == grid["sigma"]
    with pytest.raises(ValueError, match="study must be one of"):
        gaussdsm.run_study(repo / "config" / "p1.yaml", study="no_such_study")


def test_zero_is_a_value_not_a_missing_option():
    """``alpha=0`` is the flat spectrum (it was dropped as if not given: 0 == False), and a diffusion-only option set
    to 0 is refused for a Langevin sampler like any other value."""
    ds = gaussdsm.error(d=4, alpha=0.0, n_samples=1000, sigma=0.1, gamma=0.01)
    np.testing.assert_array_equal(ds["lam"].values, np.ones(4))
    assert json.loads(ds.attrs["spectrum_json"])["alpha"] == 0.0
    with pytest.raises(ValueError, match="sampler.s_churn is only used by sampler.kind: diffusion"):
        gaussdsm.error(d=4, n_samples=1000, sigma=0.1, gamma=0.01, s_churn=0)


def test_a_step_at_the_stability_bound_within_round_off_is_unstable():
    """gamma = 2 (0 + 0.1^2) in floats passes a strict gamma a < 2 by one ulp (a stationary variance of 9e13): the
    point is undefined, with its reason, and its Monte-Carlo variables are there (NaN) with mc_note saying why."""
    ds = gaussdsm.error(spectrum="custom", values=[1, 0.5, 0.0], n_samples=1000, sigma=0.1, gamma=0.02, mc=4)
    assert int(ds["valid"]) == 0 and "unstable" in str(ds["reason"].values)
    assert np.isnan(float(ds["mc_mean"])) and "not run" in str(ds["mc_note"].values)


def test_an_infinite_metric_is_inf_with_its_reason_and_named_by_its_long_name():
    """KL with a zero eigenvalue: total and mc_mean are inf (never NaN), with the reason; on a metric axis the long
    names name the coordinate, with one metric the metric itself."""
    ds = gaussdsm.error(spectrum="custom", values=[1, 0.5, 0.0], n_samples=1000, sigma=0.1, gamma=0.01, mc=4,
                        metric=["w2", "kl_sample_data"])
    kl = ds.sel(metric="kl_sample_data")
    assert np.isposinf(float(kl["total"])) and np.isposinf(float(kl["mc_mean"]))
    assert "singular" in str(kl["reason"].values) and "infinite" in str(kl["mc_note"].values)
    assert np.isfinite(float(ds.sel(metric="w2")["mc_mean"]))
    assert "coordinate metric" in ds["total"].attrs["long_name"]
    one = gaussdsm.error(d=4, n_samples=1000, sigma=0.1, gamma=0.01, metric="kl_data_sample")
    assert "KL(data || sampled)" in one["total"].attrs["long_name"]
