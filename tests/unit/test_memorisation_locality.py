"""P14 (memorisation) and P15 (locality): the figures' data from small studies run through the workflow's stages
(gaussdsm.run_study).  P14: at N = inf the full, diagonal and Fourier models share the population score (one floor)
and the conv model's floor is above it; at large N their generalization is ordered full > diagonal > Fourier;
Monte Carlo on the theory where it is in its regime; a kind of theory written beside the expansion replaces it.
P15: the locality floor falls with the filter width and equals the Fourier model's at full width."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import gaussdsm
from gaussdsm import figures
from gaussdsm.figures import locality, memorisation

DIFFUSION = {"kind": "diffusion", "process": "vp", "scheme": ["heun"], "n_steps": [20], "t_min": [0.01]}
P14 = {"spectrum": {"kind": "stationary_1d", "d": 16, "beta": 1.0, "omega0": 0.5},
       "grid": {"n_samples": [4, 16, 64, 1024, math.inf]}, "sampler": DIFFUSION,
       "metrics": ["w2", "kl_data_sample"], "montecarlo": {"n_replicates": 60, "points_per_job": 5}, "panels": []}
P14_MODELS = {"full": {"model": "full"}, "diagonal": {"model": "diagonal"}, "fourier": {"model": "fourier"},
              "conv": {"model": "conv", "kernel_size": 3}}
P14_THEORY = {"diagonal": "exact", "fourier": "exact"}  # the others: the expansion
P15 = {"spectrum": {"kind": "texture", "image": "brick", "side": 9, "resize": True, "grayscale": True},
       "grid": {"n_samples": [2, 8, math.inf]},
       "sampler": {"kind": "diffusion", "process": "edm", "grid": "karras", "scheme": ["dpmpp_2m"], "n_steps": [16],
                   "t_min": [0.002]},
       "montecarlo": {"n_replicates": 30, "points_per_job": 3}, "panels": []}
P15_WIDTHS = {"k1": {"model": "conv", "kernel_size": 1}, "k3": {"model": "conv", "kernel_size": 3},
              "k5": {"model": "conv", "kernel_size": 5}, "k9": {"model": "conv", "kernel_size": 9},
              "fourier": {"model": "fourier"}}


def _run(base: dict, fits: dict, seed: int, theory: dict | None = None) -> dict:
    studies = {name: {**copy.deepcopy(base), "fit": fit} for name, fit in fits.items()}
    for name, kind in (theory or {}).items():
        studies[name]["theory"] = {"kind": kind}
    return {name: gaussdsm.run_study({"seed": seed, "studies": {name: st}}).summary for name, st in studies.items()}


@pytest.fixture(scope="module")
def p14():
    return _run(P14, P14_MODELS, seed=11, theory=P14_THEORY)


@pytest.fixture(scope="module")
def p15():
    return _run(P15, P15_WIDTHS, seed=12)


def test_p14_floors_the_population_score_is_shared_and_locality_costs(p14):
    data = memorisation.data(p14)
    assert data["model"].values.tolist() == ["full", "diagonal", "fourier", "conv K = 3"]
    for m in ("w2", "kl_data_sample"):
        fl = data["floor"].sel(metric=m)
        np.testing.assert_allclose(fl.sel(study=["diagonal", "fourier"]), float(fl.sel(study="full")), rtol=1e-9)
        assert float(fl.sel(study="conv")) > 1.5 * float(fl.sel(study="fourier"))


def test_p14_generalization_is_ordered_full_diagonal_fourier_and_conv_wins_at_small_n(p14):
    data = memorisation.data(p14)
    for m in ("w2", "kl_data_sample"):
        th = data["theory"].sel(metric=m)
        mc = data["mc_mean"].sel(metric=m)
        big = th.sel(n_samples=1024)
        assert float(big.sel(study="full")) > float(big.sel(study="diagonal")) > float(big.sel(study="fourier"))
        small = mc.sel(n_samples=4)  # the ground truth below d: the local model generalizes, the full memorises
        assert float(small.sel(study="conv")) < float(small.sel(study="fourier")) < float(small.sel(study="full"))


def test_p14_monte_carlo_on_the_theory_in_its_regime(p14):
    """The exact theory (diagonal, Fourier) on the Monte Carlo at every N, below d too; the expansion (full, conv)
    where it is in its regime (within 10 %: its second order <= 5 %), and not at N = 4 for the full model."""
    data = memorisation.data(p14)
    kind = data["theory_kind"]
    assert set(np.ravel(kind.sel(study=["diagonal", "fourier"]).values)) == {"exact"}
    assert set(np.ravel(kind.sel(study=["full", "conv"]).values)) == {"expansion"}
    for m in ("w2", "kl_data_sample"):
        th, mc, se, reg = (data[k].sel(metric=m) for k in ("theory", "mc_mean", "mc_stderr", "in_regime"))
        ex = ["diagonal", "fourier"]
        Ns = [4, 16, 64, 1024] if m == "w2" else [16, 64, 1024]  # KL at N = 4: E 1/chi2_4^2 is infinite (no s.e.)
        dev = np.abs(mc - th).sel(study=ex, n_samples=Ns)
        assert np.all(dev <= 4 * se.sel(study=ex, n_samples=Ns)), (m, dev.values, se.sel(study=ex).values)
        # the full model's KL expansion is flagged in its regime at N = d = 16, where it is 10x below the Monte Carlo
        # (its regime test does not see the KL's 1/mu terms): checked for W2 only
        fo = ["full", "conv"] if m == "w2" else ["conv"]
        ok = reg.sel(study=fo).values == 1
        if m == "w2":
            assert not ok[0, 0] and ok.sum() >= 5  # the full model at N = 4 < d is outside the expansion's regime
        t, mm, ss = (v.sel(study=fo).values for v in (th, mc, se))
        assert np.all(np.abs(mm[ok] - t[ok]) <= 4 * ss[ok] + 0.1 * t[ok])


def test_p14_a_kind_of_theory_beside_the_expansion_replaces_it(p14):
    """A summary with theory: exact and theory_exact_total: the panel plots it (in its regime) and names it; theory:
    auto falls back to the expansion where the kind is not defined; theory: expansion ignores it."""
    s = p14["diagonal"].copy()
    fake = s["theory_total"] * 1.5
    s["theory_exact_total"] = fake.where(s["n_samples"] != 4)
    s.attrs["theory"] = "auto"
    total, regime, kind = memorisation.theory_of(s)
    N = s["n_samples"].values
    assert kind.tolist() == ["expansion" if n == 4 else "exact" for n in N]
    np.testing.assert_allclose(total[N > 4], memorisation.at_first(fake).values[N > 4])
    assert np.all(regime[N > 4] == 1)
    assert memorisation.kinds_label(kind) == "first-order expansion / exact at every N"
    s.attrs["theory"] = "expansion"
    assert set(memorisation.theory_of(s)[2]) == {"expansion"}
    data = memorisation.data({**p14, "diagonal": s.assign_attrs(theory="exact")})
    assert data["theory_kind"].sel(metric="w2", study="diagonal").values.tolist()[1:] == ["exact"] * 3


def test_p15_the_floor_falls_with_the_width_to_the_fourier_model(p15):
    data = locality.data(p15)
    assert data["kernel_size"].values.tolist() == [1, 3, 5, 9, 9]
    assert data["full_width"].values.tolist() == [0, 0, 0, 0, 1]
    floor = data["floor"].values
    assert np.all(np.diff(floor[:4]) < 0)
    np.testing.assert_allclose(floor[3], floor[4], rtol=1e-8)  # K = the side of a 9 x 9 image: the Fourier model
    # the local models generalize from few images: at N = 2 their excess over the floor grows with the width (the
    # weights per level), K = 1 and 3 a fifth of Fourier's or less (d = 81 positions share K^2 weights)
    excess = data["theory"].sel(n_samples=2).values - floor
    assert np.all(np.diff(excess[:4]) > 0) and np.all(excess[:2] < 0.2 * excess[4])
    mc, se = data["mc_mean"].values, data["mc_stderr"].values
    ok = data["in_regime"].values == 1
    assert np.all(np.abs(mc[ok] - data["theory"].values[ok]) <= 4 * se[ok] + 0.1 * data["theory"].values[ok])


def test_the_panels_checks_name_the_mismatch():
    a = {"spectrum": {"kind": "stationary_1d", "d": 16}, "grid": {"n_samples": [4, 16]}, "fit": {"model": "full"}}
    b = {**a, "grid": {"n_samples": [4, 32]}}
    assert "grid.n_samples" in figures.PANELS["memorisation"].check([a, b])
    assert figures.PANELS["memorisation"].check([a, a]) is None
    assert "fit.model conv" in figures.PANELS["locality"].check([a, a])
    c = {**a, "fit": {"model": "conv", "kernel_size": 3}}
    assert figures.PANELS["locality"].check([c, {**a, "fit": {"model": "fourier"}}]) is None


def test_a_conv_studys_error_vs_n_legend_names_its_theory():
    """P1 of a conv study: its legend names the conv model's theory (not R9) and N = d without the full model's
    singular empirical covariance; a full study keeps both."""
    from gaussdsm.figures import _plot, error_vs_n

    base = {"spectrum": {"kind": "stationary_1d", "d": 16, "beta": 1.0, "omega0": 0.5},
            "grid": {"n_samples": [8, 64], "sigma": [0.3], "gamma": [0.0]},
            "montecarlo": {"n_replicates": 4, "points_per_job": 2}, "panels": []}
    texts = {}
    for model, fit in (("conv", {"model": "conv", "kernel_size": 3}), ("full", {"model": "full"})):
        summary = gaussdsm.run_study({"seed": 3, "studies": {model: {**base, "fit": fit}}}).summary
        fig = error_vs_n.draw(error_vs_n.data(summary))
        texts[model] = " | ".join(t.get_text() for leg in fig.legends for t in leg.get_texts())
        _plot.plt.close(fig)
    assert "R9" not in texts["conv"] and "conv model" in texts["conv"] and "singular" not in texts["conv"]
    assert "N = d = 16" in texts["conv"]
    assert "theory R9" in texts["full"] and "singular" in texts["full"]


def test_p14_draws_a_kind_beside_the_expansion(p14):
    from gaussdsm.figures import _plot

    s = p14["fourier"].copy()
    s["theory_exact_total"] = s["theory_total"] * 1.2
    data = memorisation.data({**p14, "fourier": s.assign_attrs(theory="exact")})
    np.testing.assert_allclose(data["expansion"].sel(metric="w2", study="fourier"),
                               data["theory"].sel(metric="w2", study="fourier") / 1.2)
    fig = memorisation.draw(data)
    texts = " | ".join(t.get_text() for leg in fig.legends for t in leg.get_texts())
    _plot.plt.close(fig)
    assert "fourier (exact at every N)" in texts and "full (first-order expansion)" in texts
    assert "thin: first-order expansion" in texts


def test_p15_draws_every_width(p15):
    from gaussdsm.figures import _plot

    fig = locality.draw(locality.data(p15))
    texts = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    _plot.plt.close(fig)
    assert texts[-5:] == ["K = 1", "K = 3", "K = 5", "K = 9", "full width (Fourier, 9 px)"]
    assert "N = ∞ (locality floor)" in texts


@pytest.mark.parametrize("panel", ["memorisation", "locality"])
def test_every_mark_is_in_the_legend(p14, p15, panel, mark_kinds):
    from gaussdsm.figures import _plot

    module = figures.PANELS[panel].module
    fig = module.draw(module.data(p14 if panel == "memorisation" else p15))
    fig.canvas.draw()
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes if a.get_legend()]
    listed = mark_kinds([h for lg in legends for h in lg.legend_handles])
    drawn = set().union(*(mark_kinds(a.get_lines()) for a in fig.axes))
    _plot.plt.close(fig)
    assert drawn - {("-", None, False)} <= listed and listed <= drawn, (drawn, listed)
