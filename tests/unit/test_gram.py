"""Gram matrices at every size (gaussdsm._gram): dsyrk where it is safe, GEMM row panels above."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gaussdsm import _gram, dsm


@pytest.mark.parametrize("n", [10, 300])
def test_gram_triangles_and_scale(n):
    a = np.random.default_rng(0).standard_normal((n, 7))
    ref = 0.5 * (a @ a.T)
    np.testing.assert_allclose(_gram.gram(a, 0.5), ref, rtol=1e-13, atol=1e-13)
    low = _gram.gram(a, 0.5, full=False)
    np.testing.assert_allclose(np.tril(low), np.tril(ref), rtol=1e-13, atol=1e-13)


def test_panels_equal_syrk(monkeypatch):
    """Above SYRK_MAX_D the row panels give the same matrix (both triangles), and xtx the same X^T X."""
    a = np.random.default_rng(1).standard_normal((700, 40))
    syrk = _gram.gram(a, 2.0)
    monkeypatch.setattr(_gram, "SYRK_MAX_D", 500)
    monkeypatch.setattr(_gram, "PANEL_ROWS", 256)
    tol = 1e-13 * np.abs(syrk).max()
    np.testing.assert_allclose(_gram.gram(a, 2.0), syrk, rtol=0, atol=tol)
    np.testing.assert_allclose(_gram.xtx(a.T), a @ a.T, rtol=0, atol=tol)


def test_empirical_covariance_at_large_d_does_not_crash():
    """numpy's X.T @ X (dsyrk, 2 threads) dies with SIGSEGV on a (1000, 16000) array with the pinned OpenBLAS; the
    covariance is formed by GEMM panels there.  Checked on a sub-block against a direct product."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((1000, 16000))
    with threadpool_limits(2):
        C = dsm.empirical_covariance(X)
    assert C.shape == (16000, 16000)
    idx = rng.choice(16000, 50, replace=False)
    block = C[np.ix_(idx, idx)]
    np.testing.assert_allclose(block, X[:, idx].T @ X[:, idx] / 1000, rtol=0, atol=1e-13 * np.abs(block).max())
    np.testing.assert_array_equal(block, block.T)
