"""The exact expected error at every N (diagonal and Fourier denoisers): chi-square quadrature against Monte Carlo,
its convergence, the stability conditioning, and its large-N limit (the first-order expansion)."""

import math

import numpy as np
import pytest
from scipy import special

from gaussdsm import theory
from gaussdsm.montecarlo import monte_carlo_error
from gaussdsm.theory import exact_error
from gaussdsm.theory.exact_n import chi2_rule, mode_dof

D = 16
LAM = 1.0 / np.arange(1, D + 1)
KAPPA = np.array([2.0] + [1.0] * (D - 2) + [2.0])  # a 1-D stationary spectrum's pattern: two self-conjugate modes
ULA = dict(sampler="ula", gamma=0.05, sigma=0.3)
DIFFUSION = dict(sampler="diffusion", sigma=0.0, process="vp", scheme="heun", n_steps=20, t_min=1e-3)
TRAINED = dict(DIFFUSION, n_steps=200, t_min=1e-2, fit_method="gradient_flow", train_time=3.0)
DIFFUSION_FINE = dict(DIFFUSION, n_steps=200, t_min=1e-2)


@pytest.mark.parametrize("nu", [1, 2, 7, 64, 4096, 10**6])
def test_chi2_rule_moments(nu):
    """The rule integrates the chi2/nu law's moments E X = 1, E X^2 = 1 + 2/nu, E X^1/2 (a Gamma ratio) and E log X (digamma)."""
    x, w = chi2_rule(nu)
    assert abs(w.sum() - 1) < 1e-14
    assert abs(w @ x - 1) < 1e-12
    assert abs(w @ x**2 / (1 + 2 / nu) - 1) < 1e-11
    assert abs(w @ np.sqrt(x) / (special.poch(nu / 2, 0.5) * math.sqrt(2 / nu)) - 1) < 1e-12
    assert abs(w @ np.log(x) - (special.digamma(nu / 2) - math.log(nu / 2))) < 1e-12


@pytest.mark.parametrize("kw", [ULA, TRAINED, DIFFUSION_FINE], ids=["ula", "trained_diffusion", "diffusion"])
@pytest.mark.parametrize("metric", ["w2", "kl_sample_data", "kl_data_sample"])
@pytest.mark.parametrize("n", [1, 2, 16])
def test_quadrature_converges(kw, metric, n):
    """The fixed-step rule converges geometrically in the number of points; the default (refined until the change is
    below 1e-10) agrees with 2048 points to 1e-10 (relative), and too few points are visibly wrong."""
    fine = exact_error(LAM, n, metric=metric, n_quad=2048, refine=False, **kw).mean
    errs = [abs(exact_error(LAM, n, metric=metric, n_quad=q, refine=False, **kw).mean / fine - 1)
            for q in (24, 128, 256)]
    assert errs[0] > 1e-8 or n > 2  # the test can fail: too few points are visibly wrong (wide laws at small N)
    assert errs[2] <= max(errs[1] ** 1.5, 1e-13) and errs[2] < 1e-8  # geometric: the digits grow by half or more
    ex = exact_error(LAM, n, metric=metric, **kw)
    assert abs(ex.mean / fine - 1) < 1e-10 and ex.quad_error < 1e-10 and ex.reason == ""


def test_quadrature_reports_a_non_smooth_error():
    """A coarse Heun sampler at t_min = 1e-3 has a variance map that nearly vanishes at one mu (its discretised flow
    changes sign): KL(data || sample) is sharply peaked there; the quadrature says it has not converged."""
    ex = exact_error(LAM, 1, metric="kl_data_sample", **DIFFUSION)
    assert ex.quad_error > 1e-10 and "not converged" in ex.reason


@pytest.mark.parametrize("model", ["diagonal", "fourier"])
@pytest.mark.parametrize("kw", [ULA, TRAINED], ids=["ula", "trained_diffusion"])
@pytest.mark.parametrize("metric", ["w2", "kl_data_sample"])
@pytest.mark.parametrize("n", [1, 2, D // 4, D, 4 * D])
def test_against_monte_carlo(model, kw, metric, n, z):
    """E[error | stable] against the Monte-Carlo estimate (draw 'modes') within z standard errors."""
    kappa = KAPPA if model == "fourier" else None
    ex = exact_error(LAM, n, model=model, kappa=kappa, metric=metric, **kw)
    r = monte_carlo_error(LAM, n, n_replicates=2000, seed=11 + n, model=model, draw="modes", kappa=kappa,
                          metric=metric, **kw)
    assert ex.p_unstable == 0.0 and r.n_diverged == 0
    assert abs(r.mean - ex.mean) <= z * r.stderr, (r, ex.mean)


@pytest.mark.parametrize("metric", ["kl_data_sample", "w2"])
def test_stability_conditioning_against_monte_carlo(metric, z):
    """ULA with gamma/2 > sigma^2: modes with mu < gamma/2 - sigma^2 diverge.  P(unstable) (a product of incomplete
    gamma functions) and E[KL(data||sample) | stable] (finite: a logarithmic growth at the threshold) against Monte
    Carlo; for W2 the error grows like 1/(mu - mu_c) at the threshold: the conditional mean is infinite, reported."""
    lam = np.linspace(1.0, 0.3, 8)
    kw = dict(sampler="ula", gamma=0.5, sigma=0.1)
    ex = exact_error(lam, 16, metric=metric, **kw)
    mu_c = 0.5 / 2 - 0.1**2
    assert abs(ex.p_unstable - (1 - np.prod(special.gammaincc(8.0, 8.0 * mu_c / lam)))) < 1e-10  # nu = 16
    r = monte_carlo_error(lam, 16, n_replicates=4000, seed=3, model="diagonal", draw="modes", metric=metric, **kw)
    p_mc = r.n_diverged / 4000
    assert abs(p_mc - ex.p_unstable) <= z * math.sqrt(ex.p_unstable * (1 - ex.p_unstable) / 4000)
    if metric == "w2":
        assert math.isinf(ex.mean) and "threshold" in ex.reason
    else:
        assert abs(r.mean - ex.mean) <= z * r.stderr, (r, ex.mean)
        assert abs(exact_error(lam, 16, metric=metric, n_quad=800, **kw).mean / ex.mean - 1) < 1e-10


@pytest.mark.parametrize("kw", [ULA, DIFFUSION_FINE], ids=["ula", "diffusion"])
@pytest.mark.parametrize("model", ["diagonal", "fourier"])
@pytest.mark.parametrize("metric", ["w2", "kl_sample_data"])
def test_large_n_limit_is_the_expansion(kw, model, metric):
    """exact - (bias + G/N) = O(1/N^2): N^2 times the difference settles (ratio of successive values -> 1)."""
    kappa = KAPPA if model == "fourier" else None
    th = {k: v for k, v in kw.items() if k != "sampler" and not (k == "sigma" and kw["sampler"] == "diffusion")}
    scaled = []
    for n in (1000, 2000, 4000):
        exp = theory.error_terms(LAM, n, sampler=kw["sampler"], model=model, kappa=kappa, metric=metric, **th)
        ex = exact_error(LAM, n, model=model, kappa=kappa, metric=metric, **kw).mean
        scaled.append((ex - float(exp["total"])) * n**2)
        assert abs(ex / float(exp["total"]) - 1) < 1e-2
    assert abs(scaled[2] / scaled[1] - 1) < 0.02 and abs(scaled[1] / scaled[0] - 1) < 0.04, scaled


def test_population_score_is_the_bias():
    ex = exact_error(LAM, math.inf, **ULA)
    assert ex.mean == pytest.approx(float(theory.bias(LAM, 0.3, 0.05)), rel=1e-14) and ex.p_unstable == 0.0


def test_degrees_of_freedom():
    assert np.array_equal(mode_dof(5, 4), [5.0] * 4)
    assert np.array_equal(mode_dof(5, 4, "fourier", [2, 1, 1, 2]), [5.0, 10.0, 10.0, 5.0])
    with pytest.raises(ValueError, match="kappa"):
        mode_dof(5, 4, "fourier")
    with pytest.raises(ValueError, match="model"):
        mode_dof(5, 4, "full")
