"""Deterministic equivalents of the full denoiser's error in the proportional regime (gaussdsm.theory.proportional):
exact identities of the spectral law, and the equivalents against Monte Carlo at d = 200."""

from __future__ import annotations

import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gaussdsm.dsm import empirical_covariance, fit_exact
from gaussdsm.montecarlo.streams import data_streams
from gaussdsm.montecarlo.training import sample_data
from gaussdsm.samplers.spec import build
from gaussdsm.theory import proportional as P



@pytest.fixture(autouse=True)
def one_blas_thread():
    """The Monte Carlo's small eigendecompositions: threaded BLAS only oversubscribes a shared machine (20x slower
    measured under load)."""
    with threadpool_limits(1):
        yield


D = 200
LAM = 1.0 / np.arange(1, D + 1)
ULA = build("ula", gamma=0.005)
SIGMA = 0.1


@pytest.mark.parametrize("ratio", [0.5, 1.0, 3.0])
def test_law_moments_and_sum_rules(ratio):
    """Exact for the equation itself: mass 1, mean <lam>, second moment <lam^2> + c <lam>^2 (Marchenko–Pastur's
    moments), and the overlap sum rules; the white spectrum's atom 1 - 1/c."""
    N = int(D / ratio)
    law = P.spectral_law(LAM, N)
    c = D / N
    assert law.converged and law.quad_error < 5e-5
    assert np.sum(law.density) + law.atom == pytest.approx(1.0, abs=5e-5)
    assert np.sum(law.density * law.x) == pytest.approx(LAM.mean(), rel=5e-5)
    assert np.sum(law.density * law.x**2) == pytest.approx(np.mean(LAM**2) + c * LAM.mean() ** 2, rel=5e-5)
    assert law.atom == pytest.approx(max(0.0, 1.0 - 1.0 / c), abs=1e-15)


def test_white_spectrum_is_marchenko_pastur():
    """lam = 1: the density is sqrt((b - x)(x - a))/(2 pi c x), a, b = (1 -+ sqrt c)^2."""
    c = 0.5
    law = P.spectral_law(np.ones(100), 200)
    a, b = (1 - math.sqrt(c)) ** 2, (1 + math.sqrt(c)) ** 2
    x = law.x
    mp = np.sqrt(np.clip((b - x) * (x - a), 0, None)) / (2 * math.pi * c * x)
    f = law.m.imag / (math.pi * c)
    inside = (x > a + 0.01) & (x < b - 0.01)
    np.testing.assert_allclose(f[inside], mp[inside], rtol=1e-8)


@pytest.mark.parametrize("ratio", [0.5, 2.0])
def test_renormalised_noise_is_the_trace_of_the_resolvent(ratio):
    """tr Sigma (Sigma + kappa(z))^-1 = tr Sigma_hat (Sigma_hat + z)^-1 in the limit (the same equation): the kappa
    root against the spectral law's quadrature; and kappa(0) = 0 iff N >= d."""
    N = int(D / ratio)
    law = P.spectral_law(LAM, N)
    z = np.array([1e-3, 1e-2, 0.1])
    kap = P.renormalised_noise(LAM, N, z)
    lhs = np.mean(LAM[None, :] / (LAM[None, :] + kap[:, None]), axis=1)
    rhs = np.sum(law.density[None, :] * law.x / (law.x + z[:, None]), axis=1) + 0.0 * law.atom
    np.testing.assert_allclose(lhs, rhs, rtol=5e-5)
    assert np.all(kap > z)
    k0 = float(P.renormalised_noise(LAM, N, 0.0))
    assert (k0 == 0.0) == (N >= D)


def test_mean_denoiser_against_monte_carlo():
    """E[Sigma_hat (Sigma_hat + s^2)^-1]_kk against lam_k/(lam_k + kappa(s^2)) (N = d/2): 40 replicates; mean over
    blocks of 20 modes within 4 standard errors plus 2/d."""
    N, s2 = D // 2, 0.01
    th = np.stack([np.diagonal(fit_exact(sample_data(LAM, N, rng), math.sqrt(s2))) for rng in data_streams(3, 40, N)])
    blocks = th.reshape(40, -1, 20).mean(axis=2)
    mc, se = blocks.mean(0), blocks.std(0, ddof=1) / math.sqrt(40)
    de = P.mean_denoiser(LAM, N, s2).reshape(-1, 20).mean(axis=1)
    assert np.all(np.abs(de - mc) <= 4 * se + 2.0 / D)
    # the naive plug-in (kappa = s^2: no renormalisation) is far off: the test can fail
    naive = (LAM / (LAM + s2)).reshape(-1, 20).mean(axis=1)
    assert np.max(np.abs(naive - mc)) > 10 * (4 * se.max() + 2.0 / D)
    # a diffusion level: theta_t = m Sigma_hat (m^2 Sigma_hat + s^2)^-1 has mean lam/(lam + kappa(s^2/m^2)) / m
    m = 0.5
    np.testing.assert_allclose(P.mean_denoiser(LAM, N, s2, m), P.mean_denoiser(LAM, N, s2 / m**2) / m)


@pytest.mark.parametrize("ratio", [0.5, 2.0])
def test_equivalents_against_monte_carlo(ratio):
    """E tr C and both KL for stationary ULA at d = 200: within 4 standard errors plus 3/d relative (the O(1/d)
    corrections the deterministic equivalent neglects); the first-order-in-1/N expansion is far outside that."""
    N = int(D / ratio)
    law = P.spectral_law(LAM, N)
    mc = P.monte_carlo_metrics(LAM, N, ULA, SIGMA, n_replicates=30, seed=5, metrics=("kl_sample_data", "kl_data_sample"))
    assert mc["n_stable"] == 30
    for name in ("trace_C", "kl_sample_data", "kl_data_sample"):
        res = P.deterministic_equivalent(LAM, N, SIGMA, sampler=ULA, metric=name if name != "trace_C" else
                                         "kl_sample_data", law=law)
        value = res.parts["trace_C"] if name == "trace_C" else res.mean
        ref, se = mc[name]
        assert abs(value - ref) <= 4 * se + 3.0 / D * abs(ref), (name, value, ref, se)
        assert res.regime == "proportional" and res.p_unstable == 0.0 and res.reason == ""
        assert res.methods.get("trace_inv_Sigma_C") == "deterministic_equivalent"


def test_kl_differs_from_commuting_plugin():
    """The overlaps matter: E KL(C || Sigma) is not the commuting value with the sample spectrum matched to the
    population's modes (the test above would not tell the two apart if they agreed)."""
    N = D // 2
    res = P.deterministic_equivalent(LAM, N, SIGMA, sampler=ULA, metric="kl_sample_data")
    F = ULA.variance(LAM, SIGMA)
    commuting = 0.5 * np.sum(F / LAM - 1 - np.log(F / LAM))
    assert abs(res.mean - commuting) > 0.05 * commuting


def test_w2_is_flagged_monte_carlo():
    """W2: the fidelity is Monte Carlo; the value is the Monte Carlo mean of W2 over its draws (exact identity)."""
    N = D // 2
    res = P.deterministic_equivalent(LAM, N, SIGMA, sampler=ULA, metric="w2", fidelity_replicates=3, seed=2)
    assert res.methods["fidelity"] == "monte_carlo" and "Monte Carlo" in res.regime_note
    fid, tr = P.fidelity_monte_carlo(LAM, N, ULA, SIGMA, 3, seed=2)
    assert res.mean == pytest.approx(np.mean(LAM.sum() + tr - 2 * fid), rel=1e-12)
    assert res.stderr > 0
    none = P.deterministic_equivalent(LAM, N, SIGMA, sampler=ULA, metric="w2", fidelity_replicates=0)
    assert math.isnan(none.mean) and "fidelity" in none.reason and none.parts["trace_C"] > 0


def test_unstable_and_bad_input():
    """ULA with gamma > 2 sigma^2 is unstable at the zero eigenvalues of N < d: reported, not a number."""
    res = P.deterministic_equivalent(LAM, D // 2, 0.05, sampler=build("ula", gamma=0.01), metric="kl_sample_data")
    assert math.isnan(res.mean) and res.p_unstable == 1.0 and "unstable" in res.reason
    with pytest.raises(ValueError, match="n_samples"):
        P.deterministic_equivalent(LAM, 0, SIGMA, sampler=ULA)
    with pytest.raises(ValueError):
        P.spectral_law(np.r_[LAM, 0.0], 100)
    small = P.deterministic_equivalent(LAM[:50], 100, SIGMA, sampler=ULA, metric="kl_data_sample")
    assert "d = 50" in small.regime_note


def test_empirical_covariance_convention():
    """The law is that of (1/N) sum x x^T (known zero mean, divisor N): what gaussdsm.dsm fits on."""
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(empirical_covariance(X), X.T @ X / 3)


def test_w2_bounds_against_monte_carlo():
    """The deterministic bounds on W2 (sorted spectra below, ||Sigma^1/2 - C^1/2||_F^2 above, through the overlaps
    of sqrt(lam)) against the same bounds per replicate (4 standard errors plus 3/d relative), and they bracket the
    Monte Carlo W2."""
    N = 2 * D
    vp = build("diffusion", process="vp", scheme="euler", n_steps=100, t_min=1e-2)
    res = P.deterministic_equivalent(LAM, N, sampler=vp, metric="w2", fidelity_replicates=0)
    mc = P.monte_carlo_metrics(LAM, N, vp, n_replicates=20, seed=7, metrics=("w2",))
    for name in ("w2_lower_bound", "w2_upper_bound"):
        ref, se = mc[name]
        assert abs(res.parts[name] - ref) <= 4 * se + 3.0 / D * abs(ref), (name, res.parts[name], ref, se)
        assert res.methods[name] == "deterministic_equivalent"
    assert res.parts["w2_lower_bound"] < mc["w2"][0] < res.parts["w2_upper_bound"]


def test_model_other_than_full_is_refused():
    with pytest.raises(ValueError, match="model must be 'full'"):
        P.deterministic_equivalent(LAM, 100, SIGMA, sampler=ULA, model="diagonal")


@pytest.mark.parametrize("metric", ["kl_sample_data", "kl_data_sample"])
def test_large_n_agrees_with_the_first_order_expansion(metric):
    """N = 40 d: the equivalent minus the population value is the expansion's generalization term (R7-type kernel
    sums, an independent derivation) up to O(d/N) relative: within 5 %."""
    from gaussdsm.theory import error_terms

    lam, N = LAM[:100], 4000
    res = P.deterministic_equivalent(lam, N, SIGMA, sampler=ULA, metric=metric)
    e = error_terms(lam, N, SIGMA, 0.005, model="full", metric=metric)
    ratio = (res.mean - float(e["bias"])) / float(e["generalization"])
    assert abs(ratio - 1.0) < 0.05, ratio
