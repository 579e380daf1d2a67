import numpy as np
import scipy.linalg
from hypothesis import given, settings, strategies as st

from gaussdsm.wasserstein import sqrtm_psd, w2_squared, w2_squared_commuting, w2_squared_to_diagonal


def _w2_reference(C1, C2):
    r2 = scipy.linalg.sqrtm(C2)
    cross = scipy.linalg.sqrtm(r2 @ C1 @ r2)
    return float(np.real(np.trace(C1) + np.trace(C2) - 2 * np.trace(cross)))


def test_commuting_case_closed_form(rng):
    a, b = rng.uniform(0.1, 2, 6), rng.uniform(0.1, 2, 6)
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    C1, C2 = (Q * a) @ Q.T, (Q * b) @ Q.T
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    np.testing.assert_allclose(w2_squared(C1, C2), expected, rtol=1e-10)
    np.testing.assert_allclose(w2_squared_commuting(a, b), expected, rtol=1e-12)


def test_random_pairs_against_scipy_sqrtm(rng, random_spd):
    C1, C2 = random_spd(rng, 7, (5,)), random_spd(rng, 7, (5,))
    got = w2_squared(C1, C2)
    assert got.shape == (5,)
    for j in range(5):
        np.testing.assert_allclose(got[j], _w2_reference(C1[j], C2[j]), rtol=1e-9)


def test_to_diagonal_fast_path(rng, random_spd):
    C = random_spd(rng, 6, (4,))
    lam = rng.uniform(0.05, 1.0, 6)
    np.testing.assert_allclose(w2_squared_to_diagonal(C, lam), w2_squared(C, np.diag(lam)), rtol=1e-10, atol=1e-14)


def test_one_dimensional():
    np.testing.assert_allclose(w2_squared([[4.0]], [[1.0]]), 1.0)


def test_tiny_negative_eigenvalues_are_clipped(rng):
    Q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    C = (Q * np.array([1.0, 0.5, 0.2, 0.0, -1e-17])) @ Q.T
    out = w2_squared(C, np.eye(5))
    assert np.isfinite(out) and out >= 0
    np.testing.assert_allclose(out, np.sum((np.sqrt([1.0, 0.5, 0.2, 0.0, 0.0]) - 1) ** 2), atol=1e-8)
    R = sqrtm_psd(C)
    assert np.all(np.isfinite(R))


@settings(max_examples=40, deadline=None)
@given(d=st.integers(1, 6), seed=st.integers(0, 2**31 - 1))
def test_properties_symmetric_zero_triangle(d, seed, random_spd):
    rng = np.random.default_rng(seed)
    A, B, C = (random_spd(rng, d) for _ in range(3))
    ab, ba = w2_squared(A, B), w2_squared(B, A)
    np.testing.assert_allclose(ab, ba, rtol=1e-8, atol=1e-12)
    assert w2_squared(A, A) <= 1e-12
    assert ab >= 0
    # W2 is a metric: triangle inequality on the square roots
    assert np.sqrt(ab) <= np.sqrt(w2_squared(A, C)) + np.sqrt(w2_squared(C, B)) + 1e-9
