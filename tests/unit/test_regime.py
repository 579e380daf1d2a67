"""The regime rule (``in_regime``: the neglected O(1/N^2) term, estimated, at most REGIME_BOUND of the total) against
the exact d = 1 law and exact Monte Carlo (fixed seeds).

Checked on sweeps in N: inside the regime the theory is within REGIME_TOL of the Monte Carlo (plus Z standard errors);
where the Monte Carlo agrees with the theory to |z| <= 2 with a standard error below 2 % of the total, the point is
not flagged outside; the rule is not vacuous (points with a real disagreement are flagged outside).
"""
import numpy as np
import pytest
from scipy.special import gammaln

import gaussdsm
from gaussdsm import theory
from gaussdsm.theory import REGIME_TOL


def test_the_estimate_bounds_the_exact_second_order_term_in_d1():
    """d = 1, sigma = gamma = 0 (F(mu) = mu): E W2^2 = 2 lam (1 - sqrt(2/N) G((N+1)/2) / G(N/2)) exactly
    = lam/(2N) - lam/(16 N^2) + O(N^-3); the estimate is 3 lam / (16 N^2), three times the true second order.
    The full model's fluctuation counts each coupled mode once: lam_i (2 lam_i + sum_k!=i min(lam_i, lam_k))."""
    lam = 1.7
    for N in (5, 20, 100, 1000):
        th = theory.error_terms([lam], N, 0.0, 0.0)
        exact = 2 * lam * (1 - np.sqrt(2 / N) * np.exp(gammaln((N + 1) / 2) - gammaln(N / 2)))
        assert float(th["second_order"]) == pytest.approx(3 * lam / (16 * N**2), rel=1e-12)
        assert abs(exact - float(th["total"])) <= float(th["second_order"])
        assert float(th["second_order"]) == pytest.approx(3 * abs(exact - float(th["total"])), rel=3 / N)
    lam = np.array([4.0, 1.0, 1.0, 0.5, 0.0])
    nu = np.array([4 * (8 + 1 + 1 + 0.5), 1 * (2 + 1 + 1 + 0.5), 1 * (2 + 1 + 1 + 0.5), 0.5 * (1 + 0.5 * 3), 0.0])
    np.testing.assert_allclose(theory._regime.fluctuation(lam, "full"), nu, rtol=1e-15)
    np.testing.assert_allclose(theory._regime.fluctuation(lam, "diagonal"), 2 * lam**2, rtol=1e-15)


CASES = {  # spectrum options, sampler options, the N of the sweep, replicates, a point outside with |z| > Z expected
    "power_law d=32, ula, full": (dict(d=32), dict(sigma=0.02, gamma=0.0), [20, 100, 1000, 5000], 100, True),
    "power_law d=32, heun, full": (dict(d=32), dict(sampler="diffusion", scheme="heun", n_steps=20),
                                   [10, 100, 1000], 100, True),
    "power_law d=3072, heun, diagonal": (dict(d=3072, model="diagonal"),
                                         dict(sampler="diffusion", scheme="heun", n_steps=20), [3, 10, 30, 100], 200,
                                         False),
    "lfw_subset (425 zeros), heun geometric, diagonal": (
        dict(spectrum="pca", data="lfw_subset", model="diagonal"),
        dict(sampler="diffusion", scheme="heun", grid="geometric", n_steps=13), [3, 10, 30, 100, 1000], 200, False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_regime_flags_against_monte_carlo(case, z):
    spec, smp, Ns, R, expect_out = CASES[case]
    ds = gaussdsm.error(**spec, **smp, n_samples=Ns, mc=R, seed=7, max_time=1e4)
    total, mean, se, zs = (ds[k].values for k in ("total", "mc_mean", "mc_stderr", "z"))
    inside = ds["in_regime"].values == 1
    off = np.abs(mean - total)
    assert np.all(off[inside] <= REGIME_TOL * total[inside] + z * se[inside]), (off / total, inside)
    agree = (np.abs(zs) <= 2) & (se <= 0.02 * total)
    assert np.all(inside[agree]), (zs, ds["second_order"].values / total)
    assert inside.any() and inside[-1]  # the largest N is inside
    if expect_out:  # not vacuous: a real disagreement is flagged
        assert np.any(~inside & (np.abs(zs) > z)), (zs, inside)


def test_zero_eigenvalues_do_not_put_a_spectrum_outside():
    """lfw_subset (d = 625, 425 zero eigenvalues), full model, heun on the geometric grid, 13 steps: inside from
    N = 300 on (exact Monte Carlo, 40 replicates: within 3.5 % at N = 300, 2.2 % at 1000, 0.2 % at 3000), where the
    worst-case scale n_samples_scale (~1e11, from lam_min = 0) put every N outside."""
    ds = gaussdsm.error(spectrum="pca", data="lfw_subset", sampler="diffusion", scheme="heun", grid="geometric",
                        n_steps=13, n_samples=[300, 1000, 3000])
    assert bool((ds["in_regime"] == 1).all()) and bool((ds["n_samples_scale"] > 1e10).all())
    assert bool((ds["second_order"] < 0.05 * ds["total"]).all()) and bool((ds["second_order"] > 0).all())
