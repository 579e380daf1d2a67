"""Theory against Monte Carlo with real SGD (R8 and the end-to-end row of theory.md Appendix A, §7.4 note 17).

Tolerance = Z standard errors + the stated allowances for neglected orders:
* first order in c tau / sigma^2: relative error of R8 at most 6 c tau / sigma^2 (theory.md §7.2 note 6);
* tau/N cross terms neglected by R9: about 4 % of the optimization term at N = 400, d = 4, decaying like 1/N
  (§7.2 note 7): allowance 0.05 * (400 / N) of the optimization term;
* O(1/N^2) of the generalization term: (d / N) x generalization (as in test_statistical.py).
Each test also asserts that the quantity tested is larger than its tolerance, so it can fail.
"""
import numpy as np
import pytest

from gaussdsm import montecarlo as mc
from gaussdsm import theory
from gaussdsm.samplers import ULA, run_ula, ula_stationary_cov

K = np.arange(1, 13.0)


def sgd_run(lam, N, sigma, gamma, tau, R, S, seed):
    data = mc.replicate_rngs(seed, "data", R, n_samples=N)
    chains = mc.replicate_rngs(seed, "sgd", R, n_samples=N, sigma=sigma, tau=tau)
    A, A0, div = mc.sgd_scores(lam, N, sigma, tau, data, chains, n_snapshots=S)
    assert not div.any()
    return A, A0


def allowance_opt(opt, N, c_tau, sigma):
    return opt * (6 * c_tau / sigma**2 + 0.05 * 400 / N)


@pytest.mark.slow
def test_r8_optimization_term_with_real_sgd(z):
    """Appendix A R8 row: lam = k^-1.5, d = 5, sigma = 0.3, tau = 2e-4, gamma = 0.02: R8 = 1.2513e-3."""
    lam, N, sigma, gamma, tau = K[:5] ** -1.5, 5000, 0.3, 0.02, 2e-4
    th = theory.error_terms(lam, N, sigma, gamma, tau)
    opt = float(th["optimization"])
    np.testing.assert_allclose(opt, 1.2513e-3, rtol=1e-3)
    A, A0 = sgd_run(lam, N, sigma, gamma, tau, R=48, S=8, seed=3)
    excess, div = mc.optimization_excess(A, A0, lam, ULA(gamma))
    assert not div.any()
    per_chain = excess.mean(axis=1)
    mean, se = per_chain.mean(), per_chain.std(ddof=1) / np.sqrt(per_chain.size)
    tol = z * se + allowance_opt(opt, N, tau, sigma)
    assert abs(mean - opt) <= tol, (mean, se, opt)
    assert opt > 2.5 * tol  # a missing factor 2 or a wrong tau-scaling would fail


@pytest.mark.slow
def test_end_to_end_sgd_then_ula(z):
    """§7.4 note 17: d = 4, lam = 1/k, N = 400, sigma = 0.4, gamma = 0.02, tau = 5e-4: R9 = 0.0655107."""
    lam, N, sigma, gamma, tau = 1 / K[:4], 400, 0.4, 0.02, 5e-4
    th = theory.error_terms(lam, N, sigma, gamma, tau)
    np.testing.assert_allclose(float(th["total"]), 0.0655107, rtol=1e-5)
    A, A0 = sgd_run(lam, N, sigma, gamma, tau, R=200, S=8, seed=4)
    w, div = mc.langevin_errors(A.reshape(-1, 4, 4), lam, ULA(gamma))
    assert not div.any()
    per_chain = w.reshape(200, 8).mean(axis=1)
    mean, se = per_chain.mean(), per_chain.std(ddof=1) / np.sqrt(per_chain.size)
    opt, gen = float(th["optimization"]), float(th["generalization"])
    tol = z * se + allowance_opt(opt, N, tau, sigma) + gen * lam.size / N
    assert abs(mean - float(th["total"])) <= tol, (mean, se, float(th["total"]))
    # the optimization part alone (paired, control variate) has teeth of its own
    excess, _ = mc.optimization_excess(A, A0, lam, ULA(gamma))
    e = excess.mean(axis=1)
    tol_opt = z * e.std(ddof=1) / np.sqrt(e.size) + allowance_opt(opt, N, tau, sigma)
    assert abs(e.mean() - opt) <= tol_opt, (e.mean(), opt)
    assert opt > 2 * tol_opt


def test_ula_particles_from_an_sgd_score_match_the_lyapunov_solution(z):
    """run_ula chains with a (non-symmetric) SGD-learned score reach ula_stationary_cov, entry by entry."""
    lam, sigma, gamma = 1 / K[:3], 0.4, 0.05
    A, _ = sgd_run(lam, 300, sigma, gamma, 0.02, R=1, S=1, seed=5)
    A = A[0, 0]
    assert np.abs(A - A.T).max() > 1e-3  # really non-symmetric
    C = ula_stationary_cov(A, gamma)
    n = 20000
    y = run_ula(A, gamma, n_steps=600, n_particles=n, rng=np.random.default_rng(6))
    emp = y.T @ y / n
    se = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) / n)  # Gaussian sample-covariance s.e.
    # after 600 steps the memory of y0 = 0 is (1 - gamma a_min)^600 ~ 1e-8 of C
    assert np.all(np.abs(emp - C) <= z * se), (emp - C) / se
    assert np.all(np.abs(C - np.diag(lam + sigma**2)) > 0) and np.max(se) < 0.05 * np.min(np.diag(C))
