"""Which theory gives ``total`` (gaussdsm.theory.kinds): the exact theory at every N through the front door, the
command line and a study's theory.kind, against Monte Carlo; its bad input; the interpolated and split quadratures
of exact_error at large d and where the variance map nearly vanishes; P11's diagonal study."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

import gaussdsm
from gaussdsm.cli import main
from gaussdsm.theory import exact_error
from gaussdsm.theory.exact_n import _dip, _InterpolatedMap, _sampler
from gaussdsm.theory.kinds import CHOICES, THEORIES, resolve

REPO = Path(__file__).resolve().parents[2]
D = 16
NS = [1, 2, D // 4, D, 4 * D]
ULA = dict(sampler="ula", gamma=0.05, sigma=0.3)
HEUN = dict(sampler="diffusion", process="vp", scheme="heun", n_steps=50, t_min=1e-2)


@pytest.mark.parametrize("kw", [ULA, HEUN], ids=["ula", "diffusion_heun"])
def test_front_door_exact_against_monte_carlo(kw, z):
    """gaussdsm.error(theory='exact'): total is exact_error's value (the same number), the first-order sum is kept
    beside it, and the Monte Carlo of the same call agrees within z standard errors at N = 1, 2, d/4, d, 4d."""
    ds = gaussdsm.error(d=D, n_samples=NS, model="diagonal", theory="exact", mc=1500, seed=5, **kw)
    assert ds.attrs["theory"] == "exact" and set(ds["theory"].values) == {"exact"}
    lam = ds["lam"].values
    for n in NS:
        pt = ds.sel(n_samples=n)
        params = {k: v for k, v in kw.items() if k not in ("sampler", "sigma", "gamma")}
        ex = exact_error(lam, n, kw.get("sigma"), kw.get("gamma"), sampler=kw["sampler"], model="diagonal", **params)
        assert float(pt["total"]) == ex.mean
        assert float(pt["total_expansion"]) == float(pt["bias"] + pt["generalization"] + pt["optimization"])
        assert float(pt["p_unstable"]) == 0.0 and int(pt["n_diverged"]) == 0
        assert abs(float(pt["z"])) < z, (n, float(pt["mc_mean"]), float(pt["total"]))
        assert bool(pt["in_regime"]) and str(pt["regime_note"].values) == ""  # exact at every N
    # the first order is visibly off at N = 1 (so the agreement above is a real test)
    n1 = ds.sel(n_samples=1)
    assert abs(float(n1["mc_mean"] - n1["total_expansion"])) > 2 * z * float(n1["mc_stderr"])


def test_expansion_is_the_default_and_auto_picks_per_model():
    """Default: the expansion, named; auto: exact for the diagonal model, the expansion for the full one, each
    point naming its kind, the first-order values the same numbers as the default's."""
    base = gaussdsm.error(d=8, n_samples=[8, 64], sigma=0.3, gamma=0.05, model=["full", "diagonal"])
    assert base.attrs["theory"] == "expansion" and "total_expansion" not in base
    auto = gaussdsm.error(d=8, n_samples=[8, 64], sigma=0.3, gamma=0.05, model=["full", "diagonal"], theory="auto")
    assert auto["theory"].sel(model="full").values.tolist() == ["expansion", "expansion"]
    assert auto["theory"].sel(model="diagonal").values.tolist() == ["exact", "exact"]
    assert "theory" not in auto.attrs  # two kinds: the variable says which, per point
    np.testing.assert_array_equal(auto["total"].sel(model="full"), base["total"].sel(model="full"))
    np.testing.assert_array_equal(auto["total_expansion"].sel(model="diagonal"), base["total"].sel(model="diagonal"))
    assert np.all(auto["total"].sel(model="diagonal").values != base["total"].sel(model="diagonal").values)
    # auto on an SGD grid: the exact kind does not apply at tau > 0, the expansion does
    sgd = gaussdsm.error(d=8, n_samples=64, sigma=0.3, gamma=0.05, tau=[0.0, 1e-3], model="diagonal", theory="auto")
    assert sgd["theory"].values.tolist() == ["exact", "expansion"]


@pytest.mark.parametrize("opts, words", [
    (dict(model="full"), ["theory.kind", "exact is for fit.model diagonal or fourier", "deterministic_equivalent"]),
    (dict(model="diagonal", tau=1e-3), ["theory.kind", "grid.tau = 0"]),
    (dict(model="diagonal", theory="second_order"), ["theory.kind must be one of auto, expansion, exact"]),
])
def test_bad_theory_is_one_line_naming_the_key(opts, words):
    with pytest.raises(ValueError) as err:
        gaussdsm.error(d=8, n_samples=8, sigma=0.3, gamma=0.05, **{"theory": "exact", **opts})
    msg = str(err.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_registry():
    """The selector reads a registry: every kind resolves for a model it applies to, auto prefers exact."""
    assert CHOICES[0] == "auto" and set(CHOICES[1:]) == set(THEORIES)
    assert resolve("auto", "diagonal") == "exact" and resolve("auto", "full") == "expansion"
    assert resolve("auto", "fourier", 0.01) == "expansion"
    for name, kind in THEORIES.items():
        assert resolve(name, kind.models[0]) == name


def test_cli_theory_exact(capsys):
    """gaussdsm error --theory exact: text and JSON name the theory; the JSON total is exact_error's; a full model
    is refused in one line naming --theory (exit 2)."""
    args = ["error", "--d", "8", "--n-samples", "4", "--sigma", "0.3", "--gamma", "0.05", "--model", "diagonal"]
    assert main([*args, "--theory", "exact", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ex = exact_error(1 / np.arange(1, 9.0), 4, 0.3, 0.05, sampler="ula", model="diagonal")
    assert out["theory"] == "exact" and out["total"] == ex.mean
    assert out["total_expansion"] == pytest.approx(out["bias"] + out["generalization"], rel=1e-14)
    assert main([*args, "--theory", "exact"]) == 0
    text = capsys.readouterr().out
    assert "  theory: exact (total at every N" in text
    assert main(args) == 0
    assert "  theory: expansion (first order in 1/N)" in capsys.readouterr().out
    assert main([*args, "--n-samples", "4,16", "--theory", "auto", "--json"]) == 0  # a sweep: per point
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["theory"] for r in rows] == ["exact", "exact"] and all("total_expansion" in r for r in rows)
    assert main(["error", "--d", "8", "--n-samples", "4", "--sigma", "0.3", "--gamma", "0.05", "--theory", "exact"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--theory: exact is for --model diagonal or fourier" in err


def test_front_door_deterministic_equivalent_of_the_full_model():
    """theory='deterministic_equivalent' (the full model, N/d fixed): at d = 200 its KL agrees with the Monte Carlo
    within the O(1/d) it neglects (0.5 %) where the first-order expansion misses by many standard errors (d/N = 2);
    at N = inf it is the population error, the expansion's own value; asked by name only (auto keeps the expansion)."""
    ds = gaussdsm.error(spectrum="power_law", d=200, n_samples=[100, 400, math.inf], sigma=0.1, gamma=0.005,
                        model="full", theory="deterministic_equivalent", metric="kl_sample_data", mc=30, seed=3)
    assert set(ds["theory"].values) == {"deterministic_equivalent"} and np.all(ds["in_regime"].values == 1)
    total, mc, se = (ds[k].values for k in ("total", "mc_mean", "mc_stderr"))
    assert np.all(np.abs(total[:2] - mc[:2]) < np.maximum(4 * se[:2], 5e-3 * mc[:2])), (total, mc, se)
    assert abs(float(ds["total_expansion"][0]) - mc[0]) > 10 * se[0]  # the expansion at d/N = 2
    assert total[2] == float(ds["total_expansion"][2]) == mc[2]
    assert resolve("auto", "full") == "expansion"


def test_deterministic_equivalent_small_d_and_w2_say_so():
    """Below d = 100 the point is out of regime, with the reason; W2's fidelity term is estimated from exact draws,
    and the note says so (never a formula presented as deterministic)."""
    ds = gaussdsm.error(spectrum="power_law", d=50, n_samples=25, sigma=0.1, gamma=0.005, model="full",
                        theory="deterministic_equivalent")
    assert int(ds["in_regime"]) == 0 and np.isfinite(float(ds["total"]))
    note = str(ds["regime_note"].values)
    assert "d = 50 < 100" in note and "W2 is a Monte Carlo estimate" in note and str(ds["reason"].values) == ""
    with pytest.raises(ValueError, match=r"^theory.kind: deterministic_equivalent is for fit.model full, got "
                                         r"diagonal; the diagonal and fourier models take exact$"):
        gaussdsm.error(d=8, n_samples=8, sigma=0.3, gamma=0.05, model="diagonal", theory="deterministic_equivalent")


def _study(**extra):
    return {"seed": 3, "studies": {"s": {
        "spectrum": {"kind": "power_law", "d": 8, "alpha": 1.0},
        "grid": {"n_samples": [4, 64], "sigma": [0.3], "gamma": [0.05]},
        "fit": {"model": "diagonal"}, "metrics": ["w2", "kl_sample_data"],
        "montecarlo": {"n_replicates": 600, "points_per_job": 2, "draw": "modes"}, **extra}}}


def test_study_theory_kind_exact(z):
    """theory.kind: exact writes the exact values beside the expansion's, which are bitwise those of the same
    study without it; the Monte Carlo agrees with the exact total (zscore_exact) at N = 4 < d and N = 64."""
    plain = gaussdsm.run_study(_study())
    exact = gaussdsm.run_study(_study(theory={"kind": "exact"}))
    assert plain.summary.attrs["theory"] == "expansion" and exact.summary.attrs["theory"] == "exact"
    for k, v in plain.summary.data_vars.items():
        assert v.equals(exact.summary[k]), k
    for k, v in plain.theory.data_vars.items():
        assert v.equals(exact.theory[k]), k
    for m in ("", "kl_sample_data_"):
        assert np.all(np.abs(exact.summary[f"{m}zscore_exact"].values) < z)
        assert np.all(exact.summary[f"{m}theory_exact_quad_error"].values < 1e-9)
    lam = exact.spectrum["lam"].values
    ex = exact_error(lam, 4, 0.3, 0.05, sampler="ula", model="diagonal")
    assert float(exact.summary["theory_exact_total"].sel(n_samples=4).squeeze()) == ex.mean


def test_study_theory_kind_refused_for_the_full_model():
    cfg = _study(theory={"kind": "exact"})
    cfg["studies"]["s"]["fit"]["model"] = "full"
    cfg["studies"]["s"]["montecarlo"]["draw"] = "auto"
    with pytest.raises(ValueError, match=r"studies\.s\.theory\.kind: exact is for fit\.model diagonal or fourier"):
        gaussdsm.run_study(cfg)


@pytest.mark.parametrize("kw, metric, n", [(ULA, "w2", 1), (HEUN, "kl_data_sample", 16), (HEUN, "w2", 3)],
                         ids=["ula_w2", "heun_kl", "heun_w2"])
def test_interpolated_modes_equal_every_mode(kw, metric, n):
    """Many modes from a few (log-lambda grid, checked spline): within 1e-9 of integrating every mode."""
    lam = 1.0 / np.arange(1, 6001)
    fast = exact_error(lam, n, metric=metric, interpolate=True, **kw)
    slow = exact_error(lam, n, metric=metric, interpolate=False, **kw)
    assert abs(fast.mean / slow.mean - 1) < 1e-9 and fast.reason == slow.reason == ""
    assert fast.quad_error < 1e-9
    assert np.max(np.abs(fast.per_mode - slow.per_mode)) < 1e-9 * slow.mean


@pytest.mark.parametrize("scheme", ["heun", "ipndm"])
def test_interpolated_variance_map(scheme):
    """The piecewise-Chebyshev variance map is within 1e-12 (relative) of the sampler's own at random points over
    52 decades of mu; a map that is not positive everywhere (ULA beyond its stability bound) is not interpolated."""
    s = _sampler("diffusion", None, dict(process="vp", scheme=scheme, n_steps=100, t_min=1e-2))
    fmap = _InterpolatedMap.build(s, 0.0, 1e-50, 100.0)
    mu = np.exp(np.random.default_rng(0).uniform(math.log(1e-50), math.log(100.0), 5000))
    F, G = s.variance_and_stable(mu, 0.0)[0], fmap.variance_and_stable(mu)[0]
    assert np.max(np.abs(G / F - 1)) < 1e-12
    assert _InterpolatedMap.build(_sampler("ula", 0.5, {}), 0.1, 1e-6, 10.0) is None


def test_interpolation_not_used_below_a_stability_threshold():
    """ULA with gamma/2 > sigma^2 (a threshold mu_c > 0): every mode is integrated, whatever interpolate says."""
    lam = np.linspace(1.0, 0.3, 8)
    a = exact_error(lam, 16, sampler="ula", gamma=0.5, sigma=0.1, metric="kl_data_sample", interpolate=True)
    b = exact_error(lam, 16, sampler="ula", gamma=0.5, sigma=0.1, metric="kl_data_sample", interpolate=False)
    assert a.mean == b.mean and a.p_unstable == b.p_unstable > 0


P11_TRAINED = dict(sampler="diffusion", process="vp", scheme="heun", n_steps=100, t_min=1e-3,
                   fit_method="gradient_flow", train_time=10.0)


def test_split_quadrature_where_the_variance_map_nearly_vanishes():
    """P11's Heun at t_min = 1e-3: F(mu) nearly vanishes at one mu* (found, and F/mu is tiny there); the split rule
    converges to 1e-10 where the trapezoidal rule does not, and agrees with it within the latter's error."""
    lam = 1.0 / np.arange(1, D + 1)
    s = _sampler("diffusion", None, {k: v for k, v in P11_TRAINED.items() if k != "sampler"})
    mu = _dip(s, 0.0, 1e-8, 10.0)
    assert mu is not None
    F = s.variance_and_stable(np.array([mu, 0.5 * mu, 2 * mu]), 0.0)[0]
    assert F[0] < F[1] and F[0] < F[2] and F[0] / mu < 1e-2
    split = exact_error(lam, 8, model="diagonal", **P11_TRAINED)
    plain = exact_error(lam, 8, model="diagonal", split=False, **P11_TRAINED)
    assert split.reason == "" and split.quad_error < 1e-10
    assert plain.quad_error > 1e-10 and "not converged" in plain.reason
    assert abs(split.mean / plain.mean - 1) < 10 * plain.quad_error
    assert _dip(_sampler("ula", 0.05, {}), 0.3, 1e-8, 10.0) is None  # no dip: the plain rule


def test_p11_diagonal_exact_theory_within_standard_errors(z):
    """P11's diagonal study (config/p11.yaml) at N = 8 < d, tau = 10, t_min = 1e-3, where the first-order theory
    misses the Monte Carlo by many standard errors: the exact theory is within z of it."""
    cfg = yaml.safe_load((REPO / "config" / "p11.yaml").read_text())["studies"]["p11_diagonal"]
    assert cfg["theory"]["kind"] == "exact" and cfg["fit"]["model"] == "diagonal"
    smp = cfg["sampler"]
    ds = gaussdsm.error(d=cfg["spectrum"]["d"], alpha=cfg["spectrum"]["alpha"], n_samples=8, model="diagonal",
                        sampler="diffusion", process=smp["process"], scheme=smp["scheme"][0],
                        n_steps=smp["n_steps"][0], t_min=1e-3, fit=cfg["fit"]["method"], train_time=10.0,
                        theory="exact", mc=1500, seed=11)
    assert ds.attrs["theory"] == "exact" and float(ds["quad_error"]) < 1e-10
    assert abs(float(ds["z"])) < z
    se = float(ds["mc_stderr"])
    assert abs(float(ds["mc_mean"] - ds["total_expansion"])) > z * se  # the expansion is rejected
    assert math.isfinite(float(ds["total"]))


def test_p11_panel_draws_the_exact_theory():
    """The P11 panel of a diagonal study with theory.kind exact: exact lines (solid) on its own training-time grid,
    the first order beside them, the exact fit at tau = inf; equal to exact_error at the study's points."""
    from gaussdsm.figures import error_vs_train_time as panel

    cfg = {"seed": 1, "studies": {"t": {
        "spectrum": {"kind": "power_law", "d": 4, "alpha": 1.0}, "grid": {"n_samples": [4]},
        "fit": {"method": "gradient_flow", "train_time": [1.0, 10.0], "model": "diagonal"},
        "sampler": {"kind": "diffusion", "process": "vp", "scheme": ["heun"], "n_steps": [20], "t_min": [0.1]},
        "theory": {"kind": "exact"}, "panels": ["error_vs_train_time"],
        "montecarlo": {"n_replicates": 20, "points_per_job": 1, "draw": "modes"}}}}
    res = gaussdsm.run_study(cfg)
    data = panel.data(res.summary)
    assert data.attrs["theory"] == "exact" and data["exact_theory_line"].shape == (1, 1, panel.N_EXACT_TAU)
    tau = float(data["tau_exact"][3])
    kw = dict(sampler="diffusion", process="vp", scheme="heun", n_steps=20, t_min=0.1, model="diagonal")
    ex = exact_error(res.spectrum["lam"].values, 4, fit_method="gradient_flow", train_time=tau, **kw)
    assert float(data["exact_theory_line"][0, 0, 3]) == ex.mean
    assert float(data["exact_theory_fit"][0, 0]) == exact_error(res.spectrum["lam"].values, 4, **kw).mean
    fig = panel.draw(data)
    labels = [t.get_text() for t in fig.legends[0].get_texts()] if fig.legends else []
    assert any("exact theory at every N" in t for t in labels), labels


def test_exact_theory_with_zero_eigenvalues(z):
    """A zero-variance mode (a texture's mean-free channel, a PCA's null space): its empirical variance is 0 in every
    training set, so its term is deterministic; the exact total agrees with Monte Carlo (ULA and Heun), and a KL
    divergence is infinite with the data's reason (not an error in the job)."""
    lam = [1.0, 0.5, 0.2, 0.0]
    for kw in (ULA, HEUN):
        ds = gaussdsm.error(spectrum="custom", values=lam, n_samples=4, model="diagonal", theory="exact", mc=4000,
                            seed=2, **kw)
        assert np.isfinite(float(ds["total"])) and abs(float(ds["z"])) < z
    ex = exact_error(np.array(lam), 4, 0.3, 0.05, sampler="ula", model="diagonal", metric="kl_sample_data")
    assert ex.mean == math.inf and "data covariance is singular" in ex.reason


def test_cli_names_the_deterministic_equivalent(capsys):
    """gaussdsm error --theory deterministic_equivalent: the text says what the total is, the JSON which theory."""
    args = ["error", "--d", "120", "--n-samples", "60", "--sigma", "0.1", "--gamma", "0.005", "--metric",
            "kl_sample_data", "--theory", "deterministic_equivalent"]
    assert main(args) == 0
    assert "  theory: deterministic_equivalent (total in the proportional regime" in capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["theory"] == "deterministic_equivalent" and out["total"] != out["total_expansion"]


def test_deterministic_equivalent_with_a_zero_eigenvalue_is_recorded_not_raised():
    """A null space (a PCA's, a texture's): W2's value is NaN with the reason, a KL divergence infinite with the data's
    reason (once), never an exception in the middle of a study."""
    values = [1.0] * 60 + [0.5] * 60 + [0.0]
    w2 = gaussdsm.error(spectrum="custom", values=values, n_samples=60, sigma=0.1, gamma=0.005, model="full",
                        theory="deterministic_equivalent")
    assert math.isnan(float(w2["total"])) and "without zero eigenvalues" in str(w2["reason"].values)
    kl = gaussdsm.error(spectrum="custom", values=values, n_samples=60, sigma=0.1, gamma=0.005, model="full",
                        theory="deterministic_equivalent", metric="kl_sample_data")
    reason = str(kl["reason"].values)
    assert float(kl["total"]) == math.inf and reason.count("data covariance is singular") == 1, reason
