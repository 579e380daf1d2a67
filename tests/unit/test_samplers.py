"""The sampler family (gaussdsm.samplers): variance maps against step-by-step recursions and particle chains, the
general-matrix laws, derivatives, accuracy at huge K, and the generic theory against Monte Carlo.

Statistical checks use fixed seeds and z = 4 standard errors; theory vs Monte Carlo adds the stated O(1/N^2)
allowance (d / N x the generalization term, as in test_statistical.py), and asserts the tested term is larger than
the tolerance (so the test can fail)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.linalg

from gaussdsm import montecarlo as mc
from gaussdsm import samplers, theory
from gaussdsm import _jet

K8 = np.arange(1, 9.0)


def ula_recursion(a, gamma, K, v0):
    v = np.full_like(a, v0)
    for _ in range(K):
        v = (1 - gamma * a) ** 2 * v + 2 * gamma
    return v


def uld_recursion(a, eta, friction, K, v0):
    P = np.zeros(a.shape + (2, 2))
    P[..., 0, 0] = v0
    M = np.zeros(a.shape + (2, 2))
    M[..., 0, 0], M[..., 0, 1], M[..., 1, 0], M[..., 1, 1] = 1.0, eta, -eta * a, 1 - eta * friction
    Q = np.zeros((2, 2))
    Q[1, 1] = 2 * eta * friction
    for _ in range(K):
        P = M @ P @ np.swapaxes(M, -1, -2) + Q
    return P[..., 0, 0]


def rel(a, b):
    return np.max(np.abs(a - b) / np.abs(b))


@pytest.mark.parametrize("K", [1, 7, 100, 2000])
@pytest.mark.parametrize("v0", [0.0, 1.0, 3.0])
def test_ula_variance_map_equals_the_recursion(K, v0):
    a = np.array([0.3, 1.0, 4.0, 20.0, 45.0])  # gamma a from 0.006 to 0.9 (b = 1 - gamma a > 0 and < 0)
    s = samplers.ULA(0.02, n_steps=K, init_var=v0)
    assert rel(s.score_variance(a), ula_recursion(a, 0.02, K, v0)) <= 1e-12
    assert rel(s.score_excess(a) + 1 / a, s.score_variance(a)) <= 1e-13


@pytest.mark.parametrize("K", [1, 5, 100, 3000])
@pytest.mark.parametrize("friction", [0.5, 2.0, 8.0])
def test_uld_variance_map_equals_the_2x2_recursion(K, friction):
    """Under-, over- and (a = 1, friction 2) critically damped modes, from x0 ~ N(0, 0.7)."""
    a = np.array([0.1, 1.0, 1.0 + 1e-9, 1.0 + 1e-4, 3.0, 20.0])
    s = samplers.ULD(0.02, friction, n_steps=K, init_var=0.7)
    assert rel(s.score_variance(a), uld_recursion(a, 0.02, friction, K, 0.7)) <= 1e-12
    assert np.all(s.score_stable(a))


def test_finite_k_tends_to_the_stationary_law_and_huge_k_keeps_its_digits():
    """K = 10^12 with a tiny step (gamma = 1e-6: the deviation F - 1/a is ~5e-7 of F) gives the stationary
    deviation to a few ulp of its exact rational value (the transient exp(-2 K gamma a) underflows)."""
    a = np.array([0.5, 2.0, 10.0])
    gamma = 1e-6
    for s_k, s_inf in ((samplers.ULA(gamma, n_steps=10**12), samplers.ULA(gamma)),
                       (samplers.ULD(gamma, 2.0, n_steps=10**12), samplers.ULD(gamma, 2.0))):
        np.testing.assert_array_equal(s_k.score_excess(a), s_inf.score_excess(a))
        assert np.all(s_k.score_excess(a) > 0)
    g = Fraction(gamma)
    for ai, got in zip(a, samplers.ULA(gamma, n_steps=10**12).score_excess(a)):
        h = g / 2
        exact = h / (1 - h * Fraction(ai))  # c - 1/a for ULA (R4)
        assert abs(Fraction(got) - exact) <= 4 * 2.0**-52 * exact
    eta, gf = Fraction(gamma), Fraction(2)
    for ai, got in zip(a, samplers.ULD(gamma, 2.0, n_steps=10**12).score_excess(a)):
        A = Fraction(ai)
        exact = eta * (4 - eta * gf + eta**2 * A) / ((gf - eta * A) * (4 - 2 * eta * gf + eta**2 * A))
        assert abs(Fraction(got) - exact) <= 8 * 2.0**-52 * exact
    # slow modes: K large but finite approaches the stationary value
    s = samplers.ULD(0.02, 2.0, n_steps=20000, init_var=0.0)
    np.testing.assert_allclose(s.score_variance(a), samplers.ULD(0.02, 2.0).score_variance(a), rtol=1e-12)


@pytest.mark.parametrize("sampler", [samplers.ULA(0.03, n_steps=40, init_var=0.5),
                                     samplers.ULD(0.03, 1.5, n_steps=40, init_var=0.5),
                                     samplers.ULD(0.05, 3.0)])
def test_jet_derivatives_match_complex_step_and_differences(sampler):
    """F' by forward mode = complex-step derivative (exact to rounding) where the map is analytic in a real
    variable; F'' = central difference of F' (error O(h^2))."""
    lam, sigma = np.array([0.2, 0.6, 1.3]), 0.3
    F, D, D1, D2, _ = theory.variance_map(lam, sigma, sampler=sampler)
    h = 1e-5
    up = _jet.derivatives(sampler.deviation(_jet.variable(lam * (1 + h)), sigma))[1]
    dn = _jet.derivatives(sampler.deviation(_jet.variable(lam * (1 - h)), sigma))[1]
    np.testing.assert_allclose(D2, (up - dn) / (2 * h * lam), rtol=1e-6)
    Fp = sampler.variance(lam * (1 + h), sigma)
    Fm = sampler.variance(lam * (1 - h), sigma)
    np.testing.assert_allclose(1 + D1, (Fp - Fm) / (2 * h * lam), rtol=1e-6)
    np.testing.assert_allclose(F, lam + D, rtol=1e-13)


@pytest.mark.parametrize("sampler", [samplers.ULA(0.05, n_steps=30, init_var=2.0),
                                     samplers.ULD(0.05, 1.0, n_steps=60, init_var=0.0)])
def test_particle_chains_have_the_variance_map(sampler, z):
    """The actual scheme, run on particles per mode, has variance F (Gaussian: s.e. of a variance F sqrt(2/n))."""
    a = np.array([0.5, 2.0, 6.0])
    n = 40000
    x = sampler.particles(np.diag(a), n, np.random.default_rng(1))
    F = sampler.score_variance(a)
    emp = np.mean(x**2, axis=0)
    se = F * np.sqrt(2.0 / n)
    assert np.all(np.abs(emp - F) <= z * se), (emp - F) / se
    assert np.max(np.abs(F - 1 / a) / se) > 3 * z  # the K-step law is far from the target: the test has teeth


@pytest.mark.parametrize("sampler", [samplers.ULA(0.04, n_steps=25, init_var=0.3),
                                     samplers.ULD(0.04, 1.2, n_steps=50, init_var=0.3),
                                     samplers.ULD(0.04, 1.2)])
def test_general_matrix_law_equals_particles(sampler, z):
    """A non-symmetric (SGD-like) score: the matrix recursion (doubling) = the covariance of particle chains."""
    rng = np.random.default_rng(3)
    A = np.diag([0.8, 1.5, 3.0]) + 0.2 * rng.standard_normal((3, 3))
    C, stable = sampler.covariance(A[None])
    assert stable.all()
    C = C[0]
    if np.isinf(float(sampler.n_steps)):  # the stationary 2d x 2d law: scipy's Lyapunov solver
        M, Q, _ = sampler._system(A[None])
        ref = scipy.linalg.solve_discrete_lyapunov(M[0], Q)[:3, :3]
        np.testing.assert_allclose(C, ref, rtol=1e-9, atol=1e-12)
        return
    n = 40000
    x = sampler.particles(A, n, rng)
    emp = x.T @ x / n
    se = np.sqrt((C**2 + np.outer(np.diag(C), np.diag(C))) / n)
    assert np.all(np.abs(emp - C) <= z * se), (emp - C) / se


def test_symmetric_matrices_take_the_spectral_path():
    """For a symmetric A the law is V diag(F(a)) V^T: the same as the general recursion."""
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    A = (Q * np.array([0.5, 1.0, 2.0, 4.0])) @ Q.T
    for s in (samplers.ULA(0.05, n_steps=17, init_var=0.4), samplers.ULD(0.05, 2.0, n_steps=17, init_var=0.4),
              samplers.ULD(0.05, 2.0)):
        C_spec, _ = s.law(A[None])
        C_gen, _ = s.covariance(A[None])
        np.testing.assert_allclose(C_spec, C_gen, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("sampler, N, sigma, R", [
    ("ula", 1000, 0.2, 3000),
    ("uld", 1000, 0.2, 3000),
])
def test_generalization_theory_vs_monte_carlo_for_finite_k(sampler, N, sigma, R, z):
    """samplers.md §3: ULA K = 200 from N(0, I), gamma = 0.02, lam = 1/k (d = 8), N = 1000: theory 0.024112; the
    same for ULD (friction 2, K = 500)."""
    kw = {"n_steps": 200, "init_var": 1.0} if sampler == "ula" else {"n_steps": 500, "init_var": 1.0, "friction": 2.0}
    lam = 1 / K8
    th = theory.error_terms(lam, N, sigma, 0.02, sampler=sampler, **kw)
    if sampler == "ula":
        assert abs(float(th["total"]) - 0.024112) < 5e-7
    r = mc.monte_carlo_error(lam, N, sigma, 0.02, n_replicates=R, seed=8, sampler=sampler, **kw)
    gen = float(th["generalization"])
    tol = z * r.stderr + gen * lam.size / N
    assert abs(r.mean - float(th["total"])) <= tol, (r, float(th["total"]))
    assert gen > 3 * tol


def test_zero_eigenvalues_through_theory_and_monte_carlo(z):
    """A rank-deficient covariance: the terms are limits, not NaN; a zero mode's bias is F(0); MC agrees."""
    lam = np.array([1.0, 0.5, 0.25, 0.0])
    sigma, gamma, N = 0.3, 0.02, 500
    for kw in ({}, {"n_steps": 50, "init_var": 0.5}, {"sampler": "uld", "friction": 2.0, "n_steps": 200}):
        th = theory.error_terms(lam, N, sigma, gamma, **kw)
        assert int(th["valid"]) == 1 and np.isfinite(float(th["total"]))
        F0 = float(theory.variance_map(np.array([0.0]), sigma, gamma, **kw)[0][0])
        b_pos = float(theory.bias(lam[:3], sigma, gamma, **kw))
        np.testing.assert_allclose(float(th["bias"]), b_pos + F0, rtol=1e-12)
        assert np.all(np.isfinite(theory.kernel_generalization(lam, sigma, gamma, **kw)))
        r = mc.monte_carlo_error(lam, N, sigma, gamma, n_replicates=1500, seed=2, **kw)
        gen = float(th["generalization"])
        assert abs(r.mean - float(th["total"])) <= z * r.stderr + gen * lam.size / N, (kw, r, float(th["total"]))
    # the population score with sigma = 0 and a zero eigenvalue is infinite: undefined, not NaN in silence
    th = theory.error_terms(lam, np.inf, 0.0, gamma)
    assert int(th["valid"]) == 0
    assert theory.diagnose(lam, th)["valid"][0].startswith("the score is infinite")


def test_population_score_is_deterministic():
    lam = 1 / K8
    r = mc.monte_carlo_error(lam, np.inf, 0.0, 0.02, sampler="ula", n_steps=100, init_var=0.0)
    assert r.n_valid == 1 and r.stderr == 0.0
    np.testing.assert_allclose(r.mean, 9.707467e-4, rtol=1e-6)  # samplers.md §7
    th = theory.error_terms(lam, np.inf, 0.0, 0.02, n_steps=100, init_var=0.0)
    assert float(th["generalization"]) == 0.0
    np.testing.assert_allclose(float(th["total"]), r.mean, rtol=1e-12)


@pytest.mark.parametrize("kind, kw, K, v0, expected", [
    # samplers.md §7: oracle score, sigma = 0, lam = 1/k (d = 8), E W2^2
    ("ula", {}, 10, 0.0, 2.159936e-1), ("ula", {}, 100, 0.0, 9.707467e-4), ("ula", {}, 1000, 0.0, 9.828547e-4),
    ("ula", {}, 10, 1.0, 8.688144e-2), ("ula", {}, 100, 1.0, 9.834252e-4),
    ("uld", {"friction": 2.0}, 10, 0.0, 2.039672), ("uld", {"friction": 2.0}, 100, 0.0, 1.495417e-2),
    ("uld", {"friction": 2.0}, 1000, 0.0, 1.002706e-3),
])
def test_reference_values(kind, kw, K, v0, expected):
    got = float(theory.bias(1 / K8, 0.0, 0.02, sampler=kind, n_steps=K, init_var=v0, **kw))
    assert abs(got / expected - 1) < 5e-7


def test_doubling_equals_step_by_step_and_stein():
    rng = np.random.default_rng(5)
    M = 0.5 * rng.standard_normal((3, 4, 4)) / 2
    Q = np.eye(4) * 0.3
    P0 = np.eye(4) * 0.7
    P = np.broadcast_to(P0, M.shape).copy()
    for _ in range(37):
        P = M @ P @ np.swapaxes(M, -1, -2) + Q
    np.testing.assert_allclose(samplers.doubling(M, Q, 37, P0=P0), P, rtol=1e-12, atol=1e-14)
    stat = samplers.doubling(M, Q, np.inf)
    for Mj, Sj in zip(M, stat):
        np.testing.assert_allclose(Sj, scipy.linalg.solve_discrete_lyapunov(Mj, Q), rtol=1e-12, atol=1e-14)
    assert np.all(np.isnan(samplers.doubling(2 * np.eye(2)[None], np.eye(2), np.inf)))  # unstable: NaN


def test_the_sampler_interface_is_abstract():
    """A sampler that leaves out part of the interface cannot be made (no silent NotImplementedError later)."""
    import inspect

    from gaussdsm.samplers import Diffusion, LangevinSampler, Sampler, ULA, ULD

    assert inspect.isabstract(Sampler) and inspect.isabstract(LangevinSampler)
    assert not any(inspect.isabstract(c) for c in (ULA, ULD, Diffusion))

    class Partial(LangevinSampler):
        def score_variance(self, a):
            return 1 / a

    with pytest.raises(TypeError, match="abstract"):
        Partial(0.1)


def test_each_langevin_sampler_states_its_own_stability_bound():
    """The bound in the explanation is the one the sampler's stability test uses: just below it stable, at it
    not (ULA: gamma = 2 (lam_min + sigma^2); ULD: gamma = friction (lam_min + sigma^2))."""
    from gaussdsm.samplers import ULA, ULD

    lam, sigma = np.array([0.25, 1.0]), 0.1
    bound = ULA.max_step(0.25, sigma)
    assert ULA(bound * (1 - 1e-9)).stable(lam, sigma).all() and not ULA(bound).stable(lam, sigma).all()
    assert f"= {bound:.4g}" in ULA(bound).explain_unstable(0.25, 1.0, sigma)
    fr = 3.0
    uld = ULD(fr * (0.25 + sigma**2), fr)
    assert not uld.stable(lam, sigma).all()
    assert f"= {fr * (0.25 + sigma**2):.4g}" in uld.explain_unstable(0.25, 1.0, sigma)
    assert "friction" in ULD.stability_rule() and "2 (lam_min + sigma^2)" in ULA.stability_rule()
