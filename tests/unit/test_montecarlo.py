import numpy as np
import pytest

from gaussdsm import montecarlo as mc


def test_streams_depend_on_values_not_positions():
    a = mc.replicate_rngs(1, "data", 5, n_samples=100)
    b = mc.replicate_rngs(1, "data", 8, n_samples=100.0)  # int/float spelling, more replicates
    for x, y in zip(a, b):
        assert x.standard_normal() == y.standard_normal()
    c = mc.replicate_rngs(1, "data", 5, n_samples=101)
    d = mc.replicate_rngs(2, "data", 5, n_samples=100)
    e = mc.replicate_rngs(1, "sgd", 5, n_samples=100)
    first = mc.replicate_rngs(1, "data", 1, n_samples=100)[0].standard_normal()
    assert len({first, c[0].standard_normal(), d[0].standard_normal(), e[0].standard_normal()}) == 4


def test_wishart_and_samples_have_the_same_law(z):
    """Bartlett draws and data-set draws give the same mean and second moments of the empirical covariance."""
    lam = np.array([1.0, 0.5, 0.2, 0.1])
    N, R = 30, 6000
    S1 = mc.sample_empirical_covariance(lam, N, mc.replicate_rngs(0, "a", R, n=1), "wishart")
    S2 = mc.sample_empirical_covariance(lam, N, mc.replicate_rngs(0, "b", R, n=1), "samples")
    # E S = diag(lam); Var S_ik = lam_i lam_k (1 + delta_ik) / N (Wishart)
    var = np.outer(lam, lam) * (1 + np.eye(4)) / N
    for S in (S1, S2):
        se = np.sqrt(var / R)
        assert np.all(np.abs(S.mean(0) - np.diag(lam)) <= z * se)
    # second moments agree between the two samplers (difference of two means)
    m1, m2 = (S**2).mean(0), (S2**2).mean(0)
    se2 = np.sqrt(((S1**2).var(0) + (S2**2).var(0)) / R)
    assert np.all(np.abs(m1 - m2) <= z * se2)


def test_wishart_falls_back_below_d():
    lam = np.ones(5)
    S = mc.sample_empirical_covariance(lam, 3, mc.replicate_rngs(0, "x", 4, n=3), "wishart")
    assert np.all(np.linalg.matrix_rank(S) == 3)


def test_summarize_rejects_silent_nan():
    with pytest.raises(ValueError, match="non-finite"):
        mc.summarize([0.1, np.nan, 0.2], [False, False, False])
    r = mc.summarize([0.1, np.nan, 0.3], [False, True, False])
    assert r.n_diverged == 1 and r.n_valid == 2 and abs(r.mean - 0.2) < 1e-15
