"""Tests of gaussdsm.optimal: numerical sigma* of R9 and the R10 asymptotes (figure P5)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from gaussdsm import optimal, theory

# Regime of R10: sigma^2, gamma << lam_min (lam in [1.41, 2]), N = inf.
LAM_R10 = 1.0 + np.arange(1, 7) ** -0.5


def power_law(d, alpha):
    return np.arange(1, d + 1, dtype=float) ** -alpha


# (lam, N, gamma, tau, model): N = inf, finite N, the ULA floor active (gamma/2 > lam_min), diagonal model
BRUTE_CASES = [
    (power_law(8, 1.0), np.inf, 0.0, 1e-5, "full"),
    (power_law(12, 1.5), 1000, 0.01, 1e-5, "full"),
    (power_law(8, 1.0), 500, 0.3, 1e-4, "full"),
    (power_law(6, 1.2), 200, 0.05, 1e-4, "diagonal"),
    (power_law(8, 1.0), np.inf, 1.0, 1e-6, "full"),
]


@pytest.mark.parametrize("lam, N, gamma, tau, model", BRUTE_CASES)
def test_optimal_sigma_matches_brute_force_grid(lam, N, gamma, tau, model):
    grid = np.geomspace(1e-3, 3.0, 4001)
    spacing = np.log(grid[1] / grid[0])  # relative spacing of the brute-force grid
    f = optimal.total_error(lam, grid, N, gamma, tau, model=model)
    j = int(np.argmin(f))
    assert 0 < j < grid.size - 1, "test setup: brute-force minimum must be interior"
    s = optimal.optimal_sigma(lam, N, gamma, tau, model=model)
    # unimodal R9: the true minimiser lies within one grid step of the grid argmin
    assert abs(np.log(s / grid[j])) <= spacing
    # and it is at least as good as the best grid point
    assert optimal.total_error(lam, s, N, gamma, tau, model=model) <= f[j] * (1 + 1e-12)


def test_total_error_is_r9_total_of_theory():
    lam = power_law(5, 1.0)
    ds = theory.error_terms(lam, 400, [0.2, 0.4], 0.02, 5e-4, loss_factor=0.5, batch_size=2)
    got = optimal.total_error(lam, np.array([0.2, 0.4]), 400, 0.02, 5e-4, loss_factor=0.5, batch_size=2)
    np.testing.assert_allclose(got, ds["total"].values, rtol=1e-12)
    # N = inf drops the generalization term
    b = float(theory.bias(lam, 0.3, 0.02))
    opt = float(theory.kernel_optimization(lam, 0.3, 0.02, 5e-4).sum())
    assert optimal.total_error(lam, 0.3, np.inf, 0.02, 5e-4) == pytest.approx(b + opt, rel=1e-12)


def test_total_error_inf_outside_stability():
    lam = power_law(4, 1.0)  # lam_min = 0.25
    # ULA: gamma >= 2 (lam_min + sigma^2)
    assert optimal.total_error(lam, 0.1, np.inf, 2 * (0.25 + 0.01), 0.0) == np.inf
    assert np.isfinite(optimal.total_error(lam, 0.1, np.inf, 2 * (0.25 + 0.01) * 0.999, 0.0))
    # SGD unstable (tau' S >= 1)
    assert not theory.sgd_is_stable(lam, 1.0, 0.5)
    assert optimal.total_error(lam, 1.0, 100, 0.0, 0.5) == np.inf
    # sigma = 0 with tau > 0
    assert optimal.total_error(lam, 0.0, np.inf, 0.0, 1e-5) == np.inf


@pytest.mark.parametrize(
    "lam, N, gamma, tau",
    [(power_law(8, 1.0), 500, 0.3, 1e-4), (power_law(8, 1.0), np.inf, 1.0, 1e-6), (power_law(16, 2.0), 1000, 0.05, 1e-5)],
)
def test_admissibility(lam, N, gamma, tau):
    s = optimal.optimal_sigma(lam, N, gamma, tau)
    assert gamma / 2 > lam.min()  # the ULA floor is active in these cases
    assert 2 * (lam.min() + s**2) > gamma
    assert np.isfinite(optimal.total_error(lam, s, N, gamma, tau))


def test_nothing_admissible_gives_nan_with_reason():
    lam = power_law(4, 1.0)
    with pytest.warns(optimal.OptimalSigmaWarning, match="SGD"):
        assert np.isnan(optimal.optimal_sigma(lam, np.inf, 0.0, 10.0))
    with pytest.warns(optimal.OptimalSigmaWarning, match="ULA"):
        assert np.isnan(optimal.optimal_sigma(lam, np.inf, 2 * (0.25 + 0.5**2), 0.0, sigma_bounds=(1e-3, 0.5)))


def test_minimum_at_bound():
    # tau = 0, N = inf, gamma = 0: the bias alone, minimal as sigma -> 0
    lam = power_law(4, 1.0)
    with pytest.warns(optimal.OptimalSigmaWarning, match="lower edge"):
        assert optimal.optimal_sigma(lam, np.inf, 0.0, 0.0, sigma_bounds=(1e-3, 1.0)) == 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert optimal.optimal_sigma(lam, np.inf, 0.0, 0.0, sigma_bounds=(1e-3, 1.0), on_bound="bound") == 1e-3
        assert np.isnan(optimal.optimal_sigma(lam, np.inf, 0.0, 0.0, sigma_bounds=(1e-3, 1.0), on_bound="nan"))
        # an interior minimum does not warn
        assert 1e-3 < optimal.optimal_sigma(lam, np.inf, 0.0, 1e-5) < 1.0


def test_optimal_sigma_grid():
    lam = power_law(6, 1.0)
    gammas, taus = [0.0, 0.01, 0.1], [1e-6, 1e-5]
    da = optimal.optimal_sigma_grid(lam, 1000, gammas, taus)
    assert isinstance(da, xr.DataArray)
    assert da.dims == ("gamma", "tau") and da.shape == (3, 2)
    assert da.attrs["units"] == "1" and "sigma" in da.attrs["long_name"]
    assert da["gamma"].attrs["units"] == "1" and da.attrs["n_at_bound"] == 0
    for g in gammas:
        for t in taus:
            assert float(da.sel(gamma=g, tau=t)) == optimal.optimal_sigma(lam, 1000, g, t)


# ----------------------------------------------------------------------------- R10


def test_r10_leading_terms_match_theory_kernels():
    """R10's a and b_tau are the leading coefficients of theory.bias and the R8 kernel (checks R10's algebra)."""
    a, b = optimal.r10_coefficients(LAM_R10)
    tau = 1e-12
    # sum K_tau -> c tau b_tau / (2 sigma^2) as sigma -> 0 (gamma = 0); next term is O(tau), relative O(sigma^2)
    for s2 in (1e-4, 1e-6):
        opt = theory.kernel_optimization(LAM_R10, np.sqrt(s2), 0.0, tau).sum()
        assert opt / (tau * b / (2 * s2)) == pytest.approx(1.0, abs=20 * s2)
    # bias -> a (sigma^2 + gamma/2)^2 ; relative correction O((sigma^2 + gamma)/lam_min)
    for s2, g in ((1e-4, 0.0), (1e-6, 1e-6)):
        assert theory.bias(LAM_R10, np.sqrt(s2), g) / (a * (s2 + g / 2) ** 2) == pytest.approx(1.0, abs=2 * (s2 + g))
    # c_l and B enter as c_l / B
    assert optimal.r10_coefficients(LAM_R10, 0.5, 4)[1] == pytest.approx(b / 8, rel=1e-14)


def test_r10_cubic_root_and_limits():
    a, b = optimal.r10_coefficients(LAM_R10)
    for g, t in ((0.0, 1e-8), (1e-3, 1e-8), (0.05, 1e-10), (1.0, 1e-12)):
        r = optimal.sigma_star_asymptotes(LAM_R10, g, t)
        x = r["cubic"]
        # R10: 2 a x^2 (x + gamma/2) = c tau b_tau / 2
        assert 2 * a * x**2 * (x + g / 2) == pytest.approx(t * b / 2, rel=1e-12)
        roots = np.roots([1.0, g / 2, 0.0, -t * b / (4 * a)])
        real_pos = roots[(abs(roots.imag) < 1e-12 * abs(roots)) & (roots.real > 0)].real
        assert real_pos.size == 1 and x == pytest.approx(real_pos[0], rel=1e-10)
        assert x <= min(r["small_gamma"], r["large_gamma"])
    # the limits
    r = optimal.sigma_star_asymptotes(LAM_R10, 0.0, 1e-8)
    assert r["cubic"] == pytest.approx(r["small_gamma"], rel=1e-14) and r["large_gamma"] == np.inf
    r = optimal.sigma_star_asymptotes(LAM_R10, 1.0, 1e-12)
    assert r["cubic"] == pytest.approx(r["large_gamma"], rel=2 * r["cubic"] / 1.0)
    # vectorised, tau = 0
    r = optimal.sigma_star_asymptotes(LAM_R10, np.array([0.0, 0.1]), 0.0)
    np.testing.assert_array_equal(r["cubic"], [0.0, 0.0])
    np.testing.assert_array_equal(r["stability_floor"], [0.0, 0.0])


def test_sigma_star_tends_to_r10_cubic_root():
    """Relative difference sigma*^2 / root - 1 = kappa * root + ..., kappa = sum lam^-2 / (4 sum lam^-1): O(tau^{1/3})."""
    kappa = (LAM_R10**-2).sum() / (4 * (LAM_R10**-1).sum())
    taus = np.array([1e-9, 1e-8, 1e-7, 1e-6])
    rel, root = [], []
    for t in taus:
        x0 = optimal.sigma_star_asymptotes(LAM_R10, 0.0, t)["cubic"]
        s = optimal.optimal_sigma(LAM_R10, np.inf, 0.0, t)
        rel.append(s**2 / x0 - 1)
        root.append(x0)
    rel, root = np.array(rel), np.array(root)
    assert np.all(np.diff(np.abs(rel)) > 0)  # taus ascending: shrinks as tau -> 0
    assert rel[0] < 1e-3
    # first-order correction: rel / root -> kappa; the next order is relative O(root / lam_min), root <= 0.023
    np.testing.assert_allclose(rel / root, kappa, rtol=0.06)
    assert abs(rel[0] / root[0] - kappa) < abs(rel[-1] / root[-1] - kappa)


def test_sigma_star_slope_one_third_in_tau_at_gamma_zero():
    taus = np.geomspace(1e-9, 1e-6, 7)
    x = np.array([optimal.optimal_sigma(LAM_R10, np.inf, 0.0, t) ** 2 for t in taus])
    slope = np.polyfit(np.log(taus), np.log(x), 1)[0]
    # d ln sigma*^2 / d ln tau = 1/3 (1 + kappa x / (1 + kappa x)) with kappa = 0.16, x <= 0.023: deviation <= 1.3e-3
    assert slope == pytest.approx(1 / 3, abs=3e-3)


def test_sigma_star_slope_minus_half_in_gamma():
    """gamma >> sigma^2 (gamma/sigma*^2 from 200 to 1800), gamma << lam_min: sigma*^2 ~ (tau / gamma)^{1/2}."""
    tau = 1e-12
    gammas = np.geomspace(0.01, 0.03, 5)
    x = np.array([optimal.optimal_sigma(LAM_R10, np.inf, g, tau) ** 2 for g in gammas])
    cubic = optimal.sigma_star_asymptotes(LAM_R10, gammas, tau)["cubic"]
    assert np.all(2 * x / gammas < 0.011)
    slope = np.polyfit(np.log(gammas), np.log(x), 1)[0]
    slope_cubic = np.polyfit(np.log(gammas), np.log(cubic), 1)[0]
    # cubic: d ln x / d ln gamma = -1/(2 + 3r), r = 2x/gamma <= 0.0097 -> within 0.0072 of -1/2;
    # beyond R10 the relative shift of sigma*^2 is O(gamma/lam_min) <= 2e-2 and varies by ~1e-3 over the range
    assert slope_cubic == pytest.approx(-0.5, abs=0.0075)
    assert slope == pytest.approx(slope_cubic, abs=2e-3)
    assert slope == pytest.approx(-0.5, abs=0.01)


@pytest.mark.parametrize("kw, msg", [
    (dict(on_bound="ignore"), "on_bound must be one of"),
    (dict(model="banded"), "model must be one of"),
    (dict(n_grid=2), "n_grid must be an integer >= 3"),
])
def test_bad_options_rejected_alike_by_scalar_and_grid(kw, msg):
    lam = 1.0 / np.arange(1, 9)
    with pytest.raises(ValueError, match=msg):
        optimal.optimal_sigma(lam, 100, 0.01, 0.0, **kw)
    with pytest.raises(ValueError, match=msg):
        optimal.optimal_sigma_grid(lam, 100, [0.01], [0.0], **kw)


def test_total_error_takes_only_models_with_an_sgd_theory():
    """R9 needs R8: the Fourier model (no SGD theory) is refused by total_error as by optimal_sigma."""
    from gaussdsm.optimal import optimal_sigma, total_error

    for call in (lambda: total_error(np.ones(3), 0.1, 100, 0.0, 0.0, model="fourier"),
                 lambda: optimal_sigma(np.ones(3), 100, 0.0, 0.0, model="fourier")):
        with pytest.raises(ValueError, match="model must be one of full, diagonal; got 'fourier'"):
            call()
