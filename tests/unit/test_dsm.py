import numpy as np
import pytest

from gaussdsm.dsm import empirical_covariance, exact_score_matrix, fit_exact, score_matrix


def _loss(theta, cov_hat, sigma):
    # F_N(theta) = tr((I - theta) S (I - theta)^T) + sigma^2 ||theta||_F^2   (theory.md §2 step 1)
    M = np.eye(len(cov_hat)) - theta
    return np.trace(M @ cov_hat @ M.T) + sigma**2 * np.sum(theta**2)


def test_fit_exact_closed_form_and_optimality(rng):
    X = rng.standard_normal((30, 5)) * np.array([1.0, 0.7, 0.5, 0.3, 0.1])
    sigma = 0.3
    S = X.T @ X / 30
    theta = fit_exact(X, sigma)
    np.testing.assert_allclose(theta, S @ np.linalg.inv(S + sigma**2 * np.eye(5)), rtol=1e-12, atol=1e-14)
    # gradient of the empirical DSM loss vanishes: (theta - I) S + sigma^2 theta = 0
    np.testing.assert_allclose((theta - np.eye(5)) @ S + sigma**2 * theta, 0, atol=1e-13)
    # and it is a minimum: any perturbation increases the loss
    base = _loss(theta, S, sigma)
    for _ in range(5):
        E = 1e-3 * rng.standard_normal((5, 5))
        assert _loss(theta + E, S, sigma) > base


def test_fit_exact_batched_and_diagonal(rng):
    X = rng.standard_normal((3, 40, 4))
    sigma = 0.5
    th = fit_exact(X, sigma)
    assert th.shape == (3, 4, 4)
    np.testing.assert_allclose(th[1], fit_exact(X[1], sigma), rtol=1e-13)
    thd = fit_exact(X, sigma, diagonal=True)
    mu = np.mean(X**2, axis=1)
    np.testing.assert_allclose(np.diagonal(thd, axis1=1, axis2=2), mu / (mu + sigma**2), rtol=1e-13)
    assert np.count_nonzero(thd - thd * np.eye(4)) == 0


def test_score_matrices_agree(rng):
    X = rng.standard_normal((50, 4))
    sigma = 0.2
    A1 = score_matrix(fit_exact(X, sigma), sigma)
    A2 = exact_score_matrix(empirical_covariance(X), sigma)
    np.testing.assert_allclose(A1, A2, rtol=1e-9)
    # sigma = 0: A = inverse empirical covariance (theory.md §7.3 note 9)
    np.testing.assert_allclose(exact_score_matrix(empirical_covariance(X), 0.0), np.linalg.inv(X.T @ X / 50), rtol=1e-10)
    with pytest.raises(ValueError, match="sigma"):
        score_matrix(np.eye(2), 0.0)
    with pytest.raises(ValueError, match="sigma"):
        fit_exact(X, -1.0)
