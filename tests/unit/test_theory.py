"""Closed forms of theory.md against the values and limits it states (deterministic checks)."""
import numpy as np
import pytest

from gaussdsm import theory
from gaussdsm.samplers import ula_stationary_cov
from gaussdsm.wasserstein import w2_squared_to_diagonal

K = np.arange(1, 13)


@pytest.mark.parametrize("lam, N, sigma, gamma, tau, model, expected, digits", [
    # Appendix A (predicted column; settings from §7.4 note 17), R7 rows report the total
    (1 / K[:8], 500, 0.0, 0.0, 0.0, "full", 0.009910, 4),
    (1 / K[:8], 2000, 0.3, 0.1, 0.0, "full", 0.149956, 6),
    (1 / K[:8], 500, 0.2, 0.05, 0.0, "full", 0.042724, 5),
    (K[:6] ** -1.2, 300, 0.2, 0.04, 0.0, "diagonal", 0.025645, 5),
    # §7 new setting: R7 total and end-to-end R9
    (K[:12] ** -1.5, 1000, 0.1, 0.01, 0.0, "full", 0.0142291, 6),
    (K[:12] ** -1.5, 1000, 0.1, 0.01, 1e-5, "full", 0.0146428, 6),
    # §7.4 note 17 end-to-end
    (1 / K[:4], 400, 0.4, 0.02, 5e-4, "full", 0.0655107, 6),
])
def test_appendix_a_predictions(lam, N, sigma, gamma, tau, model, expected, digits):
    total = float(theory.error_terms(lam, N, sigma, gamma, tau, model=model)["total"])
    assert abs(total - expected) <= 0.5 * 10.0 ** -digits * 1.01


@pytest.mark.parametrize("lam, sigma, gamma, tau, expected, digits", [
    (K[:5] ** -1.5, 0.3, 0.02, 2e-4, 1.2513e-3, 7),     # R8 row
    (K[:5] ** -1.5, 0.3, 0.0, 2e-4, 1.2416e-3, 7),      # its gamma -> 0 limit
    (K[:12] ** -1.5, 0.1, 0.01, 1e-5, 4.137e-4, 7),     # §7 R8
])
def test_r8_optimization_values(lam, sigma, gamma, tau, expected, digits):
    opt = float(theory.error_terms(lam, 10**9, sigma, gamma, tau)["optimization"])
    assert abs(opt - expected) <= 0.5 * 10.0 ** -digits * 1.01


def test_r5_first_order_slope():
    """dB/dgamma at gamma = 0 is (1/2) sum (1 - sqrt(lam/s)); theory.md: 0.45345 at sigma = 0.3, lam = k^-1.2, d = 6."""
    lam, sigma = K[:6] ** -1.2, 0.3
    slope = 0.5 * np.sum(1 - np.sqrt(lam / (lam + sigma**2)))
    assert abs(slope - 0.45345) < 1e-5
    h = 1e-7
    fd = (theory.bias(lam, sigma, h) - theory.bias(lam, sigma, 0.0)) / h
    np.testing.assert_allclose(fd, slope, rtol=1e-5)
    # finite difference at gamma = 1e-3, as quoted (0.45523)
    assert abs((theory.bias(lam, sigma, 1e-3) - theory.bias(lam, sigma, 0.0)) / 1e-3 - 0.45523) < 1e-5


def test_bias_is_exact_w2_of_population_chain():
    """R5 is exactly W2 of the ULA stationary law with the population score (R2 + R4)."""
    lam, sigma, gamma = K[:7] ** -1.0, 0.2, 0.03
    A = np.diag(1 / (lam + sigma**2))
    C = ula_stationary_cov(A, gamma)
    np.testing.assert_allclose(theory.bias(lam, sigma, gamma), w2_squared_to_diagonal(C, lam), rtol=1e-10)
    assert np.isnan(theory.bias(lam, sigma, 2 * (lam.min() + sigma**2)))


def test_kernel_at_sigma_gamma_zero():
    """R7 special case: K_N = (1 + delta_ik) lam_i lam_k / (2 (lam_i + lam_k))."""
    lam = K[:6] ** -0.8
    Kn = theory.kernel_generalization(lam, 0.0, 0.0)
    li, lk = lam[:, None], lam[None, :]
    np.testing.assert_allclose(Kn, (1 + np.eye(6)) * li * lk / (2 * (li + lk)), rtol=1e-12)


def test_gamma_zero_is_the_continuous_limit():
    lam = K[:5] ** -1.5
    for f in (
        lambda g: theory.kernel_generalization(lam, 0.3, g),
        lambda g: theory.kernel_optimization(lam, 0.3, g, 2e-4),
    ):
        np.testing.assert_allclose(f(1e-9), f(0.0), rtol=1e-6)


def test_d1_kernel_is_lambda_over_2n():
    """d = 1, sigma = gamma = 0: E W2^2 ~ lam / (2N)."""
    ds = theory.error_terms([2.0], 100, 0.0, 0.0)
    np.testing.assert_allclose(float(ds["total"]), 2.0 / 200, rtol=1e-12)


def test_diagonal_optimization_against_quadrature():
    """Diagonal model: modes decouple, W2^2 = sum_i (sqrt(c(a_i + d_i)) - sqrt(lam_i))^2 with d_i ~ N(0, v_i).

    The first-order-in-v expansion (R8 with diagonal v) is checked against Gauss-Hermite quadrature
    of that exact expression; the relative gap must be O(v) (here < 1e-3).
    """
    lam, sigma, gamma, tau = K[:5] ** -1.0, 0.4, 0.05, 1e-5
    q = np.diagonal(theory.sgd_entry_variance(lam, sigma, tau, model="diagonal"))
    v = q / sigma**4
    a0 = 1 / (lam + sigma**2)
    x, w = np.polynomial.hermite_e.hermegauss(40)
    w = w / w.sum()
    a = a0[:, None] + np.sqrt(v)[:, None] * x[None, :]
    c = 1 / (a * (1 - gamma * a / 2))
    exact = np.sum((np.sqrt(c) - np.sqrt(lam)[:, None]) ** 2 @ w) - theory.bias(lam, sigma, gamma)
    first = theory.kernel_optimization(lam, sigma, gamma, tau, model="diagonal").sum()
    assert abs(first / exact - 1) < 1e-3
    assert np.max(v * a0**-2) < 1e-3  # the expansion variable is small, so the check is meaningful


def test_error_terms_broadcast_dims_and_attrs():
    ds = theory.error_terms(1 / K[:4], [100, 1000], [0.1, 0.2, 0.3], 0.01, [0.0, 1e-4])
    assert ds["total"].dims == ("n_samples", "sigma", "tau")
    assert ds["total"].shape == (2, 3, 2)
    assert float(ds["gamma"]) == 0.01
    assert ds["n_samples"].dtype.kind == "i"
    for v in ("bias", "generalization", "optimization", "total", "valid", "n_samples_scale"):
        assert {"units", "long_name"} <= set(ds[v].attrs)
    assert np.all(ds["optimization"].sel(tau=0.0) == 0)
    # generalization is exactly proportional to 1/N
    g = ds["generalization"]
    np.testing.assert_allclose(g.sel(n_samples=100), 10 * g.sel(n_samples=1000), rtol=1e-12)
    # vectorised result equals point-by-point evaluation
    one = theory.error_terms(1 / K[:4], 1000, 0.2, 0.01, 1e-4)
    np.testing.assert_allclose(ds["total"].sel(n_samples=1000, sigma=0.2, tau=1e-4), one["total"], rtol=1e-13)


def test_invalid_points_are_flagged_not_silent():
    lam = 1 / K[:4]
    ds = theory.error_terms(lam, 100, 0.1, [0.01, 1.0])
    assert ds["valid"].values.tolist() == [1, 0]
    assert np.isnan(ds["total"].values[1])
    # unstable SGD step
    ds = theory.error_terms(lam, 100, 0.1, 0.0, [1e-4, 10.0])
    assert ds["valid"].values.tolist() == [1, 0]
    with pytest.raises(ValueError, match="n_samples"):
        theory.error_terms(lam, 0, 0.1, 0.0)
    with pytest.raises(ValueError, match="sigma"):
        theory.error_terms(lam, 10, -0.1, 0.0)


def test_kernel_r9_reassembles_the_total():
    lam, N, sigma, gamma, tau = K[:6] ** -1.2, 500, 0.2, 0.02, 1e-4
    Kfrak = theory.kernel(lam, N, sigma, gamma, tau)
    total = float(theory.error_terms(lam, N, sigma, gamma, tau)["total"])
    np.testing.assert_allclose(np.sum(lam[:, None] * lam[None, :] * Kfrak), total, rtol=1e-12)


@pytest.mark.parametrize("model", ["full", "diagonal", "fourier"])
def test_kernel_numpy_sum_equals_compiled_loop(model):
    """The numpy double sum (small problems) and the compiled loop agree to rounding, sums and matrices, with
    nearly equal and exactly repeated eigenvalues (Taylor branch), a zero eigenvalue and an unstable point (inf)."""
    from gaussdsm.theory import kernels as _kernel

    rng = np.random.default_rng(3)
    lam = np.sort(np.concatenate([rng.uniform(0.05, 2.0, 9), [0.5, 0.5 * (1 + 3e-5), 0.0, 1.3, 1.3]]))
    d = lam.size
    kappa = np.where(np.arange(d) % 3 == 0, 2.0, 1.0)
    F = lam * rng.uniform(0.5, 1.5, (5, d)) + 0.1
    D, D1, D2 = F - lam, rng.normal(size=(5, d)), rng.normal(size=(5, d))
    F[4, 2] = 0.0  # an unstable mode: sqrt(lam/F) = inf
    args = (lam, F, D, D1, D2, model, True, kappa)
    s_np, m_np = _kernel._kernel(*args, engine="numpy")
    s_loop, m_loop = _kernel._kernel(*args, engine="loop")
    np.testing.assert_allclose(s_np[:4], s_loop[:4], rtol=1e-13)
    np.testing.assert_allclose(m_np[:4], m_loop[:4], rtol=1e-13, atol=1e-300)
    assert not np.isfinite(s_loop[4]) and not np.isfinite(s_np[4])
    fin = np.isfinite(m_loop[4])
    np.testing.assert_array_equal(np.isfinite(m_np[4]), fin)
    np.testing.assert_allclose(m_np[4][fin], m_loop[4][fin], rtol=1e-13, atol=1e-300)


def test_the_kernel_loop_over_grid_points_in_threads_is_bitwise_one_thread(monkeypatch):
    """The compiled kernel sum runs grid points in parallel threads (it releases the GIL); each point's arithmetic is
    the same, so sums and matrices are bitwise those of one thread."""
    from gaussdsm.theory import kernels

    lam = 1.0 / np.arange(1, 301)
    rng = np.random.default_rng(0)
    F = lam * (1 + 0.1 * rng.random((5, lam.size)))
    D, D1, D2 = F - lam, rng.random((5, lam.size)), rng.random((5, lam.size))
    monkeypatch.setattr(kernels, "_threads", lambda points: min(points, 3))
    many = kernels._kernel(lam, F, D, D1, D2, "full", True, engine="loop")
    monkeypatch.setattr(kernels, "_threads", lambda points: 1)
    one = kernels._kernel(lam, F, D, D1, D2, "full", True, engine="loop")
    np.testing.assert_array_equal(many[0], one[0])
    np.testing.assert_array_equal(many[1], one[1])
