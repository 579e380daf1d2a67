import numpy as np
import pytest
import scipy.linalg

from gaussdsm.samplers import DivergedError, run_ula, ula_is_stable, ula_stationary_cov


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def test_closed_form_equals_lyapunov(rng, random_spd):
    """R4: C = A^-1 (I - gamma A / 2)^-1 solves the discrete Lyapunov equation (<= 1e-10 relative)."""
    A = np.linalg.inv(random_spd(rng, 6) + 0.09 * np.eye(6))  # exact-fit score, sigma = 0.3
    gamma = 0.05
    C = ula_stationary_cov(A, gamma, symmetric=True)
    ref = scipy.linalg.solve_discrete_lyapunov(np.eye(6) - gamma * A, 2 * gamma * np.eye(6))
    assert _rel(C, ref) <= 1e-10
    np.testing.assert_allclose(C, np.linalg.inv(A) @ np.linalg.inv(np.eye(6) - gamma * A / 2), rtol=1e-10)
    assert _rel(ula_stationary_cov(A, gamma, symmetric=False), ref) <= 1e-10


def test_continuous_time_limit(rng, random_spd):
    A = random_spd(rng, 4) + np.eye(4)
    C0 = ula_stationary_cov(A, 0.0)
    np.testing.assert_allclose(C0, np.linalg.inv(A), rtol=1e-10)
    # general A at gamma = 0: A C + C A^T = 2 I
    G = A + 0.1 * rng.standard_normal((4, 4))
    C = ula_stationary_cov(G, 0.0)
    np.testing.assert_allclose(G @ C + C @ G.T, 2 * np.eye(4), atol=1e-10)
    # and it is the gamma -> 0 limit of the discrete solution
    np.testing.assert_allclose(ula_stationary_cov(G, 1e-7), C, rtol=1e-5)


def test_unstable_step_is_reported_not_garbage():
    A = np.diag([0.5, 1.2])
    gamma = 2.0  # |1 - 2 * 1.2| = 1.4 > 1 (theory.md §7.3 note 10)
    assert not ula_is_stable(A, gamma)
    with pytest.raises(DivergedError) as err:
        ula_stationary_cov(A, gamma)
    assert err.value.diverged.tolist() is True or bool(err.value.diverged)
    batch = np.stack([np.diag([0.5, 0.6]), A])
    assert ula_is_stable(batch, gamma).tolist() == [True, False]
    with pytest.raises(DivergedError):
        run_ula(A, gamma, 10, 5, np.random.default_rng(0))
    assert not ula_is_stable(np.full((2, 2), np.nan), 0.1)


def test_run_ula_matches_stationary_covariance(z):
    """Particles of real ULA chains have the stationary covariance, within standard error."""
    rng = np.random.default_rng(7)
    lam = np.array([1.0, 0.5, 0.25])
    sigma, gamma = 0.3, 0.05
    A = np.linalg.inv(np.diag(lam) + sigma**2 * np.eye(3))
    A[0, 1] += 0.3  # a non-symmetric (SGD-like) score: Lyapunov path
    C = ula_stationary_cov(A, gamma)
    n_steps = int(12 / (gamma * np.min(np.linalg.eigvals(A).real)))  # contraction ~ e^-12
    n = 20000
    y = run_ula(A, gamma, n_steps, n, rng)
    emp = y.T @ y / n
    # Var of the product-moment estimate: (C_ik^2 + C_ii C_kk) / n for Gaussian samples
    se = np.sqrt((C**2 + np.outer(np.diag(C), np.diag(C))) / n)
    assert np.all(np.abs(emp - C) <= z * se), (emp - C) / se


@pytest.mark.parametrize("gamma", [0.0, 0.01, 0.05])
def test_batched_general_lyapunov_equals_scipy(rng, gamma):
    """Non-symmetric A (SGD output): the batched eigen solve equals scipy's Lyapunov solvers (<= 1e-10)."""
    d = 12
    lam = 1.0 / np.arange(1, d + 1)
    A = np.diag(1.0 / (lam + 0.05)) + 0.3 * rng.standard_normal((50, d, d))
    A = A[ula_is_stable(A, gamma) & np.all(np.linalg.eigvals(A).real > 0, axis=-1)]
    assert len(A) > 10
    C = ula_stationary_cov(A, gamma, symmetric=False)
    for Aj, Cj in zip(A, C):
        if gamma == 0:
            ref = scipy.linalg.solve_continuous_lyapunov(Aj, 2.0 * np.eye(d))
        else:
            ref = scipy.linalg.solve_discrete_lyapunov(np.eye(d) - gamma * Aj, 2.0 * gamma * np.eye(d))
        assert np.abs(Cj - ref).max() <= 1e-10 * np.abs(ref).max()
