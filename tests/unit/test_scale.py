"""Large-d paths: the O(d) diagonal/Fourier model (mode-variance draws, R8 diagonal, bounded blocks), the
full model's compiled R8 sum and Gram/eigvalsh W2, their equality with the reference computations, the Fourier
model's theory against Monte Carlo, and the memory check of a study.

Statistical checks: fixed seeds, z = 4 standard errors plus the stated O(1/N^2) allowance."""
from __future__ import annotations

import numpy as np
import pytest

from gaussdsm import montecarlo as mc
from gaussdsm import spectra, theory, wasserstein
from gaussdsm.samplers import ULA
from gaussdsm.theory import langevin as _ula


def test_mode_variances_have_the_r11_law(z):
    """Diagonal model: mu_i ~ lam_i chi2_N / N (variance 2 lam^2/N); Fourier: pairs share lam chi2_2N/(2N)
    (variance lam^2/N, both directions equal), self-conjugate modes 2 lam^2/N."""
    sp = spectra.spectrum("stationary_2d", 16, beta=1.0, omega0=0.5)
    N, R = 50, 20000
    rngs = mc.data_streams(3, R, N)
    for kappa in (None, sp.kappa):
        mu = mc.mode_variances(sp.lam, N, rngs, kappa)
        k = 2.0 if kappa is None else kappa
        var = k * sp.lam**2 / N
        assert np.all(np.abs(mu.mean(0) - sp.lam) <= z * np.sqrt(var / R))
        v_hat = mu.var(0)  # s.e. of a variance of a ~Gaussian: var sqrt(2/R); chi-square excess kurtosis 12/(kN)
        assert np.all(np.abs(v_hat - var) <= z * var * np.sqrt((2 + 12 / (k * N)) / R)), v_hat / var
    starts = spectra.pair_starts(sp.kappa)
    np.testing.assert_array_equal(mu[:, starts], mu[:, starts + 1])


def test_modes_draw_equals_the_wishart_diagonal_in_law(z):
    """Diagonal model: draw='modes' and the Wishart diagonal give the same E W2^2 (independent streams)."""
    lam = np.arange(1, 9) ** -1.0
    a = mc.monte_carlo_error(lam, 200, 0.2, 0.02, n_replicates=3000, seed=1, model="diagonal", draw="modes")
    b = mc.monte_carlo_error(lam, 200, 0.2, 0.02, n_replicates=3000, seed=2, model="diagonal", draw="wishart")
    assert abs(a.mean - b.mean) <= z * np.hypot(a.stderr, b.stderr)


@pytest.mark.parametrize("kind, d, N", [("stationary_2d", 36, 400), ("stationary_1d", 24, 300)])
def test_fourier_model_theory_vs_monte_carlo(kind, d, N, z):
    """R11 with the spectrum's kappa (convolutional denoiser) against exact Monte Carlo of the same model, and its
    generalization is below the real-eigenbasis diagonal model's (kappa 1 on pairs instead of 2)."""
    sp = spectra.spectrum(kind, d, beta=1.0, omega0=0.5)
    sigma, gamma = 0.2, 0.01
    th = theory.error_terms(sp.lam, N, sigma, gamma, model="fourier", kappa=sp.kappa)
    r = mc.monte_carlo_error(sp.lam, N, sigma, gamma, n_replicates=6000, seed=5, model="fourier", draw="modes",
                             kappa=sp.kappa)
    g = float(th["generalization"])
    allowance = 2.0 * g / N  # O(1/N^2): next order of a per-mode expansion, relative size Var(mu)/lam^2 <= 2/N
    assert abs(r.mean - float(th["total"])) <= z * r.stderr + allowance
    assert r.mean - float(th["bias"]) > 10 * r.stderr  # the generalization error is resolved
    diag = theory.error_terms(sp.lam, N, sigma, gamma, model="diagonal")
    assert g < float(diag["generalization"])


def test_r8_diagonal_and_compiled_full_sums_equal_the_matrices():
    lam = np.append(np.arange(1, 10) ** -1.2, 0.0)
    for sg, g, t, B in [(0.3, 0.02, 1e-3, 1), (0.1, 0.0, 3e-3, 1), (0.5, 0.1, 1e-4, 4)]:
        K = theory.kernel_optimization(lam, sg, g, t, batch_size=B, model="diagonal")
        np.testing.assert_allclose(np.diagonal(K), _ula.kernel_optimization_diagonal(lam, sg, g, t, batch_size=B),
                                   rtol=1e-13)
        assert np.all(K == np.diag(np.diagonal(K)))
        full = theory.kernel_optimization(lam, sg, g, t, batch_size=B).sum()
        np.testing.assert_allclose(_ula.optimization_sum_full(lam, sg, g, t, batch_size=B), full, rtol=1e-13)
    assert np.isnan(_ula.optimization_sum_full(lam, 0.1, 0.01, 0.5))  # SGD unstable
    assert _ula.optimization_sum_full(lam, 0.1, 0.01, 0.0) == 0.0


@pytest.mark.parametrize("d", [12, 300])
def test_gram_w2_equals_the_reference(d, rng):
    """W2^2(U diag(F) U^T, diag(lam)) from the Gram matrix (dsyrk from d = 256 on) = the matrix-square-root form."""
    lam = rng.random(d) + 0.01
    U = np.linalg.qr(rng.standard_normal((d, d)))[0]
    F = rng.random(d) + 0.01
    ref = wasserstein.w2_squared(U * F @ U.T, np.diag(lam))
    np.testing.assert_allclose(wasserstein.w2_squared_eig_to_diagonal(U, F, lam), ref, rtol=1e-10)


def test_bartlett_product_paths_agree(rng):
    """The dsyrk product (d >= 256) equals the plain product, and the lower triangle alone is what eigh reads."""
    lam = np.linspace(1.0, 0.1, 300)
    a = mc.training._bartlett(lam, 500, np.random.default_rng(1))
    T = np.zeros((300, 300))
    r = np.random.default_rng(1)
    T[np.diag_indices(300)] = np.sqrt(r.chisquare(500 - np.arange(300)))
    T[np.tril_indices(300, -1)] = r.standard_normal(300 * 299 // 2)
    L = np.sqrt(lam)[:, None] * T
    np.testing.assert_allclose(a, L @ L.T / 500, rtol=1e-12, atol=1e-15)
    low = mc.training._bartlett(lam, 500, np.random.default_rng(1), full=False)
    np.testing.assert_allclose(np.linalg.eigvalsh(low), np.linalg.eigvalsh(a), rtol=1e-12)


def test_blocks_do_not_change_results(monkeypatch):
    """Theory grid blocks and Monte-Carlo replicate blocks: the same numbers whatever the block size."""
    sp = spectra.spectrum("stationary_1d", 20, beta=1.0, omega0=0.5)
    args = (sp.lam, [100, 1000], [0.1, 0.2, 0.3], [0.0, 0.01])
    ref = theory.error_terms(*args, model="fourier", kappa=sp.kappa)
    monkeypatch.setattr(theory, "BLOCK_ELEMENTS", 25)
    small = theory.error_terms(*args, model="fourier", kappa=sp.kappa)
    for k in ("bias", "generalization", "total", "n_samples_scale"):
        np.testing.assert_array_equal(small[k].values, ref[k].values)
    samplers = [ULA(0.01), ULA(0.02)]
    for model, draw in (("full", "wishart"), ("fourier", "modes")):
        rngs = lambda: mc.data_streams(4, 7, 300)  # noqa: E731
        w0, d0 = mc.exact_fit_errors(sp.lam, 300, rngs(), 0.2, samplers, model=model, draw=draw, kappa=sp.kappa)
        monkeypatch.setattr(mc, "BLOCK_ELEMENTS", 2 * 20 * 20)
        monkeypatch.setattr(mc, "MODES_BLOCK_ELEMENTS", 3 * 20)
        w1, d1 = mc.exact_fit_errors(sp.lam, 300, rngs(), 0.2, samplers, model=model, draw=draw, kappa=sp.kappa)
        monkeypatch.undo()
        np.testing.assert_allclose(w1, w0, rtol=1e-12)
        assert w0.shape == (2, 7) and not d0.any() and not d1.any()


def test_large_diagonal_theory_has_no_d_by_d_array():
    """d = 10^6 modes, diagonal and Fourier models, with SGD (diagonal): would need 8 TB as a d x d array."""
    lam = 1.0 / np.arange(1, 10**6 + 1)
    th = theory.error_terms(lam, [1e4, 1e5], [0.05, 0.1], 0.001, [0.0, 1e-4], model="diagonal")
    assert np.all(np.isfinite(th["total"].values)) and float(th["optimization"].max()) > 0
    sp = spectra.spectrum("stationary_2d", 1000**2, beta=1.0, omega0=0.5)
    th = theory.error_terms(sp.lam, 1e4, 0.1, 0.001, model="fourier", kappa=sp.kappa)
    assert np.isfinite(float(th["total"]))


def test_fourier_model_needs_kappa_and_exact_fits():
    lam = np.arange(1, 5) ** -1.0
    with pytest.raises(ValueError, match="model 'fourier' needs kappa"):
        theory.error_terms(lam, 100, 0.1, 0.01, model="fourier")
    sp = spectra.spectrum("stationary_1d", 4)
    with pytest.raises(ValueError, match="model 'fourier' has no SGD theory"):
        theory.error_terms(sp.lam, 100, 0.1, 0.01, 1e-3, model="fourier", kappa=sp.kappa)
    with pytest.raises(ValueError, match="montecarlo.draw must be 'modes'"):
        mc.exact_fit_errors(sp.lam, 100, mc.data_streams(0, 2, 100), 0.1, [ULA(0.01)], model="fourier",
                            draw="wishart", kappa=sp.kappa)


def test_one_draw_serves_every_sigma():
    """exact_fit_errors with several sigma (one draw and decomposition of each training set) equals one call per
    sigma, bit for bit: the training sets depend on N only."""
    sp = spectra.spectrum("power_law", 12, alpha=1.0)
    samplers, sigmas = [ULA(0.01), ULA(0.03)], [0.1, 0.2, 0.4]
    for model, draw in (("full", "wishart"), ("full", "samples"), ("diagonal", "modes")):
        w, dv = mc.exact_fit_errors(sp.lam, 50, mc.data_streams(5, 6, 50), sigmas, samplers, model=model, draw=draw)
        assert w.shape == (3, 2, 6)
        for g, sg in enumerate(sigmas):
            w1, d1 = mc.exact_fit_errors(sp.lam, 50, mc.data_streams(5, 6, 50), sg, samplers, model=model, draw=draw)
            np.testing.assert_array_equal(w[g], w1)
            np.testing.assert_array_equal(dv[g], d1)
