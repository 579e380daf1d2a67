"""SGD engine (gaussdsm.sgd): exactness against the plain loop, stationary law (R6a, R6b, §7.1), divergence.

Statistical checks use fixed seeds and Z = 4 standard errors (fixture z of tests/conftest.py); standard errors come from
independent chains (the replicate axis with one shared training set), so autocorrelation of the
snapshots is accounted for.  Every statistical test also asserts that it can tell the formula under
test from a wrong alternative, so it can fail.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from gaussdsm import sgd, theory
from gaussdsm.dsm import fit_exact
from gaussdsm.sgd import fit_sgd, fit_sgd_reference

K = np.arange(1, 40, dtype=float)


def _rngs(seed, R):
    return [np.random.default_rng([seed, r]) for r in range(R)]


def _data(seed, R, N, lam):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((R, N, len(lam))) * np.sqrt(lam)


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


# ----------------------------------------------------------------------------- 1. engine == reference


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("B", [1, 4])
def test_engine_matches_reference(diagonal, B):
    lam = 1 / K[:5]
    X = _data(1, 2, 40, lam)
    kw = dict(n_snapshots=3, batch_size=B, burn_in_factor=1.0, spacing_factor=0.4, diagonal=diagonal)
    ref = fit_sgd_reference(X, 0.5, 0.03, _rngs(7, 2), **kw)
    assert not ref.diverged.any() and np.all(ref.n_steps > 40)
    for block in (1, 3, 16, 10_000, None):
        eng = fit_sgd(X, 0.5, 0.03, _rngs(7, 2), block=block, **kw)
        assert _rel(eng.theta, ref.theta) <= 1e-9, block
        np.testing.assert_array_equal(eng.n_steps, ref.n_steps)
    # the iterates really moved away from the start (the comparison is not trivially of theta-hat)
    assert _rel(ref.theta[:, -1], fit_exact(X, 0.5, diagonal=diagonal)) > 1e-3
    # replicate r's numbers depend only on X[r] and rngs[r], not on the batch it runs in
    for r in range(2):
        alone = fit_sgd(X[r], 0.5, 0.03, [_rngs(7, 2)[r]], **kw)
        np.testing.assert_array_equal(alone.theta[0], eng.theta[r])
        np.testing.assert_array_equal(alone.n_steps[0], eng.n_steps[r])
    swapped = fit_sgd(X[::-1], 0.5, 0.03, _rngs(7, 2)[::-1], **kw)
    np.testing.assert_array_equal(swapped.theta[::-1], eng.theta)


@pytest.mark.parametrize("init", ["zero", "array"])
def test_engine_matches_reference_larger_d_near_stability_limit(init):
    """d = 24, tau at 80 % of the R6b bound: rounding of the blocks (explicit triangular inverse) stays at 1e-9."""
    lam, sigma = K[:24] ** -1.0, 0.3
    X = _data(2, 1, 200, lam)
    ev = np.linalg.eigvalsh(X[0].T @ X[0] / 200)
    lo, hi = 1e-6, 1.0
    for _ in range(60):  # bisect the stability bound in tau
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if theory.sgd_is_stable(ev, sigma, mid) else (lo, mid)
    tau = 0.8 * lo
    theta0 = np.eye(24) * 0.5 if init == "array" else init
    kw = dict(n_snapshots=3, burn_in_factor=5.0, spacing_factor=3.0, init=theta0)
    ref = fit_sgd_reference(X, sigma, tau, _rngs(3, 1), **kw)
    assert ref.n_steps[0] > 300
    for block in (None, 64, 256):
        eng = fit_sgd(X, sigma, tau, _rngs(3, 1), block=block, **kw)
        assert _rel(eng.theta, ref.theta) <= 1e-9


@pytest.mark.parametrize("B", [1, 3])
def test_coupling_inverse_inverts_the_unit_triangle(B):
    """_coupling_inverse: M (I + kappa U) = I, U = strict upper triangle of G without the B x B diagonal blocks."""
    n, kappa = 12, 0.3
    G = np.random.default_rng(5).standard_normal((n, n))
    M = np.empty(n * n)
    sgd._coupling_inverse(np.asfortranarray(G).ravel(order="F"), n, B, kappa, M)
    M = M.reshape(n, n).T  # column-major
    same_batch = np.arange(n)[:, None] // B == np.arange(n)[None, :] // B
    U = np.where(same_batch, 0.0, np.triu(G, 1))
    assert np.allclose(M @ (np.eye(n) + kappa * U), np.eye(n), rtol=0, atol=1e-13)
    assert np.array_equal(M, np.triu(M)) and np.all(np.diag(M) == 1.0)
    assert np.all(M[same_batch & ~np.eye(n, dtype=bool)] == 0.0)  # no coupling inside a mini-batch


def test_schedule_follows_the_documented_formula():
    lam, sigma, tau, c = 1 / K[:4], 0.4, 0.01, 0.5
    X = _data(3, 2, 30, lam)
    res = fit_sgd(X, sigma, tau, _rngs(1, 2), n_snapshots=4, loss_factor=c, burn_in_factor=2.0, spacing_factor=0.5)
    s_min = np.linalg.eigvalsh(np.swapaxes(X, 1, 2) @ X / 30)[:, 0] + sigma**2
    np.testing.assert_array_equal(res.burn_in, np.ceil(2.0 / (2 * c * tau * s_min)).astype(int))
    np.testing.assert_array_equal(res.spacing, np.ceil(0.5 / (2 * c * tau * s_min)).astype(int))
    np.testing.assert_array_equal(res.n_steps, res.burn_in + 3 * res.spacing)
    assert res.theta.shape == (2, 4, 4, 4) and res.diverged.shape == (2,)


@pytest.mark.parametrize("diagonal", [False, True])
def test_initial_points(diagonal):
    """With no burn-in the single snapshot is the start: theta-hat for init='exact' (default), 0 for 'zero'."""
    X = _data(8, 2, 25, 1 / K[:4])
    kw = dict(burn_in_factor=0.0, diagonal=diagonal)
    res = fit_sgd(X, 0.5, 0.01, _rngs(1, 2), **kw)
    assert list(res.n_steps) == [0, 0]
    np.testing.assert_array_equal(res.theta[:, 0], fit_exact(X, 0.5, diagonal=diagonal))
    np.testing.assert_array_equal(fit_sgd(X, 0.5, 0.01, _rngs(1, 2), init="zero", **kw).theta, 0.0)
    given = np.arange(16.0).reshape(4, 4) / 100
    out = fit_sgd(X, 0.5, 0.01, _rngs(1, 2), init=given, **kw).theta[:, 0]
    np.testing.assert_array_equal(out, np.broadcast_to(given * np.eye(4) if diagonal else given, (2, 4, 4)))


# ----------------------------------------------------------------------------- 2. R6a: stationary mean


@pytest.mark.parametrize("diagonal, B, init, burn", [
    (False, 1, "exact", 5.0),
    (False, 1, "zero", 25.0),
    (True, 4, "exact", 5.0),
])
def test_r6a_stationary_mean_is_the_empirical_minimiser(diagonal, B, init, burn, z):
    """E theta_inf = theta-hat = Sigma-hat (Sigma-hat + sigma^2 I)^-1 exactly (R6a), not the population theta*."""
    lam, sigma, tau, N, R = 1 / K[:3], 0.5, 0.02, 40, 32
    X1 = _data(11, 1, N, lam)[0]
    X = np.broadcast_to(X1, (R, N, 3))  # one training set, R independent chains
    res = fit_sgd(X, sigma, tau, _rngs(5, R), n_snapshots=200, batch_size=B, burn_in_factor=burn,
                  spacing_factor=1.5, init=init, diagonal=diagonal)
    assert not res.diverged.any()
    chain_means = res.theta.mean(axis=1)  # (R, d, d), independent across chains
    mean = chain_means.mean(axis=0)
    se = chain_means.std(axis=0, ddof=1) / np.sqrt(R)
    theta_hat = fit_exact(X1, sigma, diagonal=diagonal)
    mask = np.eye(3, dtype=bool) if diagonal else np.ones((3, 3), dtype=bool)
    assert np.all(np.abs(mean - theta_hat)[mask] <= z * se[mask]), (mean, theta_hat, se)
    # teeth: the population minimiser theta* is many standard errors away
    theta_star = np.diag(lam / (lam + sigma**2))
    assert np.max(np.abs(theta_star - theta_hat)[mask] / se[mask]) > 3 * z


# ----------------------------------------------------------------------------- 3. R6b: entry variances


def _whitened(seed, N, lam):
    """Training set whose empirical covariance is exactly diag(lam), so theory's eigenbasis is the coordinate basis."""
    Zs = np.random.default_rng(seed).standard_normal((N, len(lam)))
    L = np.linalg.cholesky(Zs.T @ Zs / N)
    return np.linalg.solve(L, Zs.T).T * np.sqrt(lam)


@pytest.mark.parametrize("diagonal, B", [(False, 1), (False, 4), (True, 1)])
def test_r6b_stationary_entry_variances(diagonal, B, z):
    """Var(theta_ik) of stationary SGD = theory.sgd_entry_variance (R6b; §7.1 notes 2, 3).

    lam = 1/k, d = 3, sigma = 0.5 as in §7.4 note 17, with tau = 0.04 (twice that note's value) so
    that the exact formula is well separated from the wrong alternatives.  The formula is exact in tau
    for population sampling (no O(tau^2) allowance).  Sampling from the N-point set adds an O(N^-1/2)
    error through the empirical fourth moments; the allowance is the largest relative deviation of
    those moments from their Gaussian values, computed from the training set (< 1 % at N = 2e5).
    The training set is rotated so that its empirical covariance is exactly diag(lam): the theory's
    eigenbasis is then the coordinate basis.
    """
    lam, sigma, tau, N, R, n_snap = 1 / K[:3], 0.5, 0.04, 200_000, 24, 300
    X1 = _whitened(21, N, lam)
    np.testing.assert_allclose(X1.T @ X1 / N, np.diag(lam), atol=1e-12)
    model = "diagonal" if diagonal else "full"
    q = theory.sgd_entry_variance(lam, sigma, tau, batch_size=B, model=model)
    res = fit_sgd(np.broadcast_to(X1, (R, N, 3)), sigma, tau, _rngs(9, R), n_snapshots=n_snap, batch_size=B,
                  spacing_factor=1.5, diagonal=diagonal)
    assert not res.diverged.any()
    dev2 = (res.theta - fit_exact(X1, sigma, diagonal=diagonal)) ** 2  # the mean is known exactly (R6a)
    mask = np.eye(3, dtype=bool) if diagonal else np.ones((3, 3), dtype=bool)
    ratio_chain = (dev2.mean(axis=1)[:, mask] / q[mask]).mean(axis=1)  # pooled q-hat/q, one per chain
    ratio, se = ratio_chain.mean(), ratio_chain.std(ddof=1) / np.sqrt(R)
    m4 = np.mean(X1[:, :, None] ** 2 * X1[:, None, :] ** 2, axis=0)
    m4_gauss = np.outer(lam, lam) * (1 + 2 * np.eye(3))
    allowance = np.max(np.abs(m4 / m4_gauss - 1))
    assert allowance < 0.015
    band = z * se + allowance
    assert abs(ratio - 1) <= band, (ratio, se, allowance)
    # per entry too (weaker, but catches a wrong row/column structure)
    q_hat = dev2.mean(axis=(0, 1))
    se_e = dev2.mean(axis=1).std(axis=0, ddof=1) / np.sqrt(R)
    assert np.all(np.abs(q_hat - q)[mask] <= z * se_e[mask] + allowance * q[mask])
    # teeth: the tempting wrong formula would fail the same check
    if diagonal:  # R6b's q_ii of the full model (§7.1 note 2)
        alt = theory.sgd_entry_variance(lam, sigma, tau, model="full")
    elif B == 1:  # leading order tau' rho_i
        alt = np.broadcast_to((tau * sigma**2 * lam / (lam + sigma**2))[:, None], (3, 3))
    else:  # "mini-batches divide the variance by B" (§2 step 2, corrected by §7.1 note 3)
        alt = theory.sgd_entry_variance(lam, sigma, tau) / B
    gap = abs(np.mean(alt[mask] / q[mask]) - 1)
    assert gap > 1.5 * band, (gap, band)


# ----------------------------------------------------------------------------- 4. divergence and validation


@pytest.mark.parametrize("diagonal", [False, True])
def test_unstable_replicates_are_flagged_not_raised(diagonal):
    lam, sigma = 1 / K[:4], 0.5
    X = _data(4, 2, 50, lam)
    X[1] *= 4.0  # replicate 1 has 16x the variance: same tau is above its bound
    cov = np.swapaxes(X, 1, 2) @ X / 50
    stable = sgd._predicted_stable(X, cov, sigma, 0.15, 1.0, 1, diagonal)
    assert list(stable) == [True, False]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fit_sgd(X, sigma, 0.15, _rngs(2, 2), n_snapshots=3, diagonal=diagonal)
    assert list(res.diverged) == [False, True]
    assert np.all(np.isfinite(res.theta[0])) and np.all(np.isnan(res.theta[1]))
    if not diagonal:  # the full model's prediction is theory.sgd_is_stable on the empirical eigenvalues
        ev = np.linalg.eigvalsh(cov)
        assert [bool(theory.sgd_is_stable(e, sigma, 0.15)) for e in ev] == [True, False]


@pytest.mark.parametrize("diagonal", [False, True])
def test_explosion_during_the_run_is_flagged(monkeypatch, diagonal):
    """Even if the stability prediction is wrong, a run whose theta blows up ends as diverged with NaN, no warning."""
    lam, sigma = 1 / K[:4], 0.5
    X = _data(5, 2, 50, lam)
    monkeypatch.setattr(sgd, "_predicted_stable", lambda *a: np.ones(2, dtype=bool))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fit_sgd(X, sigma, 2.0, _rngs(2, 2), n_snapshots=3, burn_in_factor=200.0, diagonal=diagonal)
    assert res.diverged.all()
    assert np.all(np.isnan(res.theta))


@pytest.mark.parametrize("kwargs, match", [
    (dict(sigma=0.0), r"sigma must be a finite number > 0"),
    (dict(sigma=-0.1), r"sigma must be a finite number > 0"),
    (dict(tau=0.0), r"tau must be a finite number > 0"),
    (dict(tau=-1e-3), r"tau must be a finite number > 0"),
    (dict(tau=np.inf), r"tau must be a finite number > 0"),
    (dict(batch_size=0), r"batch_size must be an integer >= 1"),
    (dict(batch_size=1.5), r"batch_size must be an integer >= 1"),
    (dict(n_snapshots=0), r"n_snapshots must be an integer >= 1"),
    (dict(loss_factor=0.0), r"loss_factor must be a finite number > 0"),
    (dict(spacing_factor=0.0), r"spacing_factor must be a finite number > 0"),
    (dict(burn_in_factor=-1.0), r"burn_in_factor must be a finite number >= 0"),
    (dict(block=0), r"block must be an integer >= 1"),
    (dict(init="random"), r"init must be one of"),
    (dict(max_steps=10), r"max_steps=10"),
])
def test_invalid_parameters_raise(kwargs, match):
    X = _data(6, 1, 20, 1 / K[:3])[0]
    args = dict(sigma=0.5, tau=0.01)
    args.update({k: kwargs.pop(k) for k in ("sigma", "tau") if k in kwargs})
    with pytest.raises(ValueError, match=match):
        fit_sgd(X, args["sigma"], args["tau"], _rngs(1, 1), **kwargs)


def test_rngs_must_match_replicates():
    X = _data(6, 3, 20, 1 / K[:3])
    with pytest.raises(ValueError, match="rngs must be a list of 3"):
        fit_sgd(X, 0.5, 0.01, _rngs(1, 2))
