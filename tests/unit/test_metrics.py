"""The metric registry: exact identities of each metric's forms, and its first-order expansion against Monte Carlo."""
import json

import numpy as np
import pytest
from scipy.special import digamma
from scipy.stats import ortho_group

from gaussdsm import metrics, theory
from gaussdsm.cli import main
from gaussdsm.metrics._base import kl_full, phi, phi_of_increment
from gaussdsm.montecarlo import exact_fit_errors, data_streams, monte_carlo_error, sgd_monte_carlo_error, zscore
from gaussdsm.samplers import ULA

KL = ("kl_sample_data", "kl_data_sample")
LAM = 1 / np.arange(1, 5.0)


def test_registry_names_and_the_one_line_error():
    assert tuple(metrics.METRICS) == ("w2", "kl_sample_data", "kl_data_sample")
    assert all(metrics.get(n).name == n for n in metrics.METRICS)
    with pytest.raises(ValueError) as exc:
        metrics.get("x")
    assert str(exc.value) == "metrics must be one of w2, kl_sample_data, kl_data_sample; got 'x'"


def _kl_slogdet(C1, C2):
    """KL(N(0,C1) || N(0,C2)) from its textbook formula (solve and slogdet)."""
    d = C1.shape[-1]
    return 0.5 * (np.trace(np.linalg.solve(C2, C1)) - d - np.linalg.slogdet(C1)[1] + np.linalg.slogdet(C2)[1])


@pytest.mark.parametrize("name", metrics.NAMES)
def test_commuting_full_and_eigen_forms_agree(name):
    m = metrics.get(name)
    rng = np.random.default_rng(0)
    d = 5
    lam = rng.uniform(0.2, 2.0, d)
    F = rng.uniform(0.2, 2.0, (3, d))
    # commuting matrices (the same eigenbasis): the three forms are one number
    U = ortho_group.rvs(d, random_state=1)
    C, S = (U * F[:, None, :]) @ U.T, (U * lam) @ U.T
    np.testing.assert_allclose(m.full(C, S), m.commuting(F, lam), rtol=1e-10)
    np.testing.assert_allclose(m.per_mode(F, lam).sum(-1), m.commuting(F, lam), rtol=1e-14)
    assert m.per_mode(F, lam).shape == F.shape and np.all(m.per_mode(F, lam) > 0)
    np.testing.assert_allclose(m.eig_to_diagonal(np.broadcast_to(np.eye(d), (3, d, d)), F, lam),
                               m.commuting(F, lam), rtol=1e-12)
    # general C = U diag(F) U^T against diag(lam): the eigen form is the full form
    Us = ortho_group.rvs(d, size=3, random_state=2)
    Cs = (Us * F[:, None, :]) @ np.swapaxes(Us, -1, -2)
    np.testing.assert_allclose(m.eig_to_diagonal(Us, F, lam), m.full(Cs, np.diag(lam)), rtol=1e-9)
    np.testing.assert_allclose(m.to_diagonal(Cs, lam), m.full(Cs, np.diag(lam)), rtol=1e-12)
    # bias from the deviation D = F - lam (no cancellation) is the commuting form
    np.testing.assert_allclose(m.bias(lam, F, F - lam), m.commuting(F, lam), rtol=1e-12)
    if name != "w2":
        C1, C2 = Cs[0], Cs[1] + 0.3 * np.eye(d)
        want = _kl_slogdet(C1, C2) if name == "kl_sample_data" else _kl_slogdet(C2, C1)
        assert m.full(C1, C2) == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("name", KL)
def test_kl_is_nonnegative_and_zero_only_at_equality(name):
    m = metrics.get(name)
    rng = np.random.default_rng(5)
    lam = rng.uniform(0.1, 3.0, 6)
    F = lam * np.exp(rng.normal(0, 0.5, (200, 6)))
    assert np.all(m.commuting(F, lam) > 0)
    assert m.commuting(lam, lam) == 0.0
    assert m.bias(lam, lam, np.zeros(6)) == 0.0
    U = ortho_group.rvs(6, size=20, random_state=3)
    assert np.all(m.eig_to_diagonal(U, F[:20], lam) > 0)
    # tiny deviations: the series branch keeps the quadratic law, no cancellation to 0 or below
    eps = np.array([1e-12, 1e-8, 1e-5, 9.99e-4, 1.001e-3])
    val = m.commuting(lam[0] * (1 + eps[:, None]), lam[:1])
    np.testing.assert_allclose(val, 0.25 * eps**2, rtol=2e-3)  # relative correction O(eps)


def test_phi_series_and_direct_branches_meet():
    r = np.array([-0.999e-3, -1.001e-3, 0.999e-3, 1.001e-3])
    direct = r - np.log1p(r)
    np.testing.assert_allclose(phi_of_increment(r), direct, rtol=1e-9)
    assert phi(0.0) == np.inf and phi(np.inf) == np.inf and phi(1.0) == 0.0


@pytest.mark.parametrize("name", KL)
def test_kl_of_a_singular_covariance_is_inf_with_its_reason(name):
    m = metrics.get(name)
    lam = np.array([1.0, 0.5, 0.25])
    F = np.array([1.0, 0.0, 0.3])
    assert m.commuting(F, lam) == np.inf and m.commuting(lam, np.array([1.0, 0.0, 0.25])) == np.inf
    assert "sampled covariance is singular" in m.singular_reason(F, lam)
    assert "data covariance is singular" in m.singular_reason(lam, np.array([1.0, 0.0, 0.25]))
    assert m.singular_reason(lam, lam) == ""
    v = np.array([1.0, 1.0, 0.0])
    C = np.outer(v, v)  # rank 1
    assert m.full(C, np.diag(lam)) == np.inf
    assert m.eig_to_diagonal(np.eye(3), F, lam) == np.inf
    # the theory: a zero data eigenvalue makes every term inf (not NaN), the point not valid, with the reason
    ds = theory.error_terms([1.0, 0.5, 0.0], 1000, 0.3, 0.05, metric=name)
    assert np.isinf(float(ds["bias"])) and np.isinf(float(ds["total"])) and int(ds["valid"]) == 0
    assert "singular" in theory.diagnose([1.0, 0.5, 0.0], ds)["valid"][0]
    # a diffusion point too: the reason is the singular data covariance, not an unstable scheme
    from gaussdsm import error

    ds = error(spectrum="custom", values=[1.0, 0.5, 0.0], n_samples=1000, sampler="diffusion", process="edm", grid="karras", n_steps=10,
               t_min=0.002, scheme="euler", metric=name)
    assert np.isinf(float(ds["total"])) and "data covariance is singular" in str(ds["reason"].values)


def test_kl_full_matches_scipy_free_textbook_on_random_pairs():
    rng = np.random.default_rng(9)
    A, B = rng.normal(size=(2, 7, 4, 4))
    C1 = A @ np.swapaxes(A, -1, -2) + 0.1 * np.eye(4)
    C2 = B @ np.swapaxes(B, -1, -2) + 0.1 * np.eye(4)
    np.testing.assert_allclose(kl_full(C1, C2), [_kl_slogdet(a, b) for a, b in zip(C1, C2)], rtol=1e-9)


@pytest.mark.parametrize("N", [2000, 20000])
def test_kl_generalization_is_the_wishart_expansion(N):
    """sigma = gamma = 0 (continuous Langevin with the empirical covariance): C = Sigma_hat exactly, and the
    expectations are known in closed form (E log det of a Wishart matrix; E Sigma_hat^-1 = N Sigma^-1/(N - d - 1)):
    the first-order terms are their 1/N coefficients, d(d + 1)/4 for both directions."""
    d = LAM.size
    logdet = sum(digamma((N - i) / 2) + np.log(2 / N) for i in range(d))
    exact = {"kl_sample_data": -0.5 * logdet, "kl_data_sample": 0.5 * (d * N / (N - d - 1) - d) + 0.5 * logdet}
    for name, value in exact.items():
        ds = theory.error_terms(LAM, N, 0.0, 0.0, metric=name)
        assert float(ds["bias"]) == 0.0
        assert float(ds["generalization"]) * N == pytest.approx(d * (d + 1) / 4, rel=1e-12)
        assert abs(value - float(ds["total"])) < 2 * d**3 / N**2  # the O(N^-2) remainder


def _check(th, mc, what, zmax=3.0):
    z = zscore(mc.mean, mc.stderr, th)
    assert abs(z) < zmax, f"{what}: theory {th:.6g}, Monte Carlo {mc}, z = {z:.2f}"


@pytest.mark.parametrize("model", ["full", "diagonal"])
@pytest.mark.parametrize("name", KL)
def test_first_order_kl_against_monte_carlo_ula(name, model):
    """Exact fits, stationary ULA, d = 4: bias + generalization within standard errors; the generalization term
    alone (MC minus the exact bias) is checked to ~4 % by 4000 replicates."""
    N, sigma, gamma = 500, 0.1, 0.02
    ds = theory.error_terms(LAM, N, sigma, gamma, model=model, metric=name)
    mc = monte_carlo_error(LAM, N, sigma, gamma, n_replicates=4000, seed=11, model=model, metric=name)
    _check(float(ds["total"]), mc, f"{name} {model}")
    assert float(ds["generalization"]) > 10 * mc.stderr  # the test sees the 1/N term, not only the bias


@pytest.mark.parametrize("model", ["full", "diagonal"])
@pytest.mark.parametrize("name", KL)
def test_first_order_kl_against_monte_carlo_diffusion(name, model):
    """VP diffusion (Euler–Maruyama, 200 steps, t_min = 0.01): the generalization term dominates the bias."""
    kw = dict(sampler="diffusion", process="vp", scheme="em", n_steps=200, t_min=1e-2)
    ds = theory.error_terms(LAM, 1000, model=model, metric=name, **kw)
    mc = monte_carlo_error(LAM, 1000, 0.0, n_replicates=2000, seed=2, model=model, metric=name, **kw)
    _check(float(ds["total"]), mc, f"{name} {model} vp")
    assert float(ds["generalization"]) > 20 * mc.stderr


@pytest.mark.parametrize("model", ["full", "diagonal"])
@pytest.mark.parametrize("name", KL)
def test_kl_optimization_term_against_sgd(name, model):
    """Real SGD (paired with the exact fit of the same data, control variate), d = 3, c tau / sigma^2 = 0.002 (the
    first-order regime, theory.md §7.2 note 6)."""
    lam = 1 / np.arange(1, 4.0)
    ds = theory.error_terms(lam, 2000, 0.5, 0.02, 5e-4, model=model, metric=name)
    _, opt = sgd_monte_carlo_error(lam, 2000, 0.5, 0.02, 5e-4, n_replicates=300, seed=3, model=model, metric=name)
    _check(float(ds["optimization"]), opt, f"{name} {model} SGD")
    assert float(ds["optimization"]) > 10 * opt.stderr


@pytest.mark.parametrize("name", KL)
def test_kl_optimization_diagonal_is_the_diagonal_of_the_full_moments(name):
    """The O(d) diagonal-model path equals the d x d moments with the diagonal model's entry variances."""
    from gaussdsm.metrics._base import r8_weighted_sum
    from gaussdsm.theory.langevin import r8_moments

    m = metrics.get(name)
    lam = 1 / np.arange(1, 6.0)
    sigma, gamma, tau = np.array([0.2, 0.4]), np.array([0.0, 0.03]), np.array([1e-4, 3e-4])
    fast = m.optimization_sum(lam, sigma, gamma, tau, 1.0, 1, "diagonal")
    _, c, c1sq, c2, _ = r8_moments(lam, sigma, gamma, tau, 1.0, 1, "diagonal")
    wc2, wc1 = _weights(name)
    slow = (wc2(lam, c)[..., :, None] * c2).sum((-2, -1)) + (wc1(lam[:, None], c[..., :, None], c[..., None, :])
                                                              * c1sq).sum((-2, -1))
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
    assert np.all(fast > 0)
    assert r8_weighted_sum(lam, 0.0, 0.0, 1e-4, 1.0, 1, "full", *_weights(name)) == np.inf


def _weights(name):
    if name == "kl_sample_data":
        return (lambda lam, c: 0.5 * (c - lam) / (lam * c)), (lambda li, ci, ck: 0.25 / (ci * ck))
    return (lambda lam, c: 0.5 * (c - lam) / (c * c)), (lambda li, ci, ck: 0.5 * (li / (ci * ci * ck) - 0.5 / (ci * ck)))


def test_every_metric_from_the_same_draws_leaves_w2_unchanged():
    """Adding a metric does not change W2's numbers: the same streams, the same fits, bitwise."""
    N, R = 200, 16
    for model, draw in (("full", "wishart"), ("diagonal", "modes")):
        w_alone, d_alone = exact_fit_errors(LAM, N, data_streams(4, R, N), 0.2, [ULA(0.05)], model=model, draw=draw)
        w_all, d_all = exact_fit_errors(LAM, N, data_streams(4, R, N), 0.2, [ULA(0.05)], model=model, draw=draw,
                                        metric=list(metrics.NAMES))
        assert np.array_equal(w_all[0], w_alone) and np.array_equal(d_all[0], d_alone)
        assert w_all.shape == (3,) + w_alone.shape
        for k, name in enumerate(metrics.NAMES[1:], 1):
            w_one, _ = exact_fit_errors(LAM, N, data_streams(4, R, N), 0.2, [ULA(0.05)], model=model, draw=draw,
                                        metric=name)
            assert np.array_equal(w_all[k], w_one)


def test_cli_metric_option(capsys):
    args = ["error", "--d", "4", "--n-samples", "500", "--sigma", "0.2", "--gamma", "0.05", "--json"]
    assert main(args + ["--metric", "kl_data_sample"]) == 0
    out = json.loads(capsys.readouterr().out)
    th = theory.error_terms(LAM, 500, 0.2, 0.05, metric="kl_data_sample")
    for term in ("bias", "generalization", "optimization", "total"):
        assert out[term] == pytest.approx(float(th[term]), rel=1e-12)
    assert out["params"]["metric"] == "kl_data_sample"
    assert main(args) == 0  # the default: W2, and no metric key (the output of before)
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == pytest.approx(float(theory.error_terms(LAM, 500, 0.2, 0.05)["total"]), rel=1e-12)
    assert "metric" not in out["params"]
    assert main(args[:-1] + ["--metric", "kl_sample_data", "--mc", "300"]) == 0
    z = float(capsys.readouterr().out.rsplit("z vs total = ", 1)[1].split()[0])
    assert abs(z) < 3
    with pytest.raises(SystemExit) as exc:
        main(args + ["--metric", "kl"])
    assert exc.value.code == 2 and "--metric" in capsys.readouterr().err


@pytest.mark.parametrize("name", KL)
def test_first_order_kl_against_monte_carlo_fourier(name):
    """The Fourier (convolutional) model of a stationary spectrum: conjugate pairs share one multiplier, the
    delta method with the spectrum's kappa (1 per direction of a pair, 2 self-conjugate)."""
    from gaussdsm import spectra

    sp = spectra.spectrum("stationary_1d", 8)
    ds = theory.error_terms(sp.lam, 300, 0.1, 0.02, model="fourier", kappa=sp.kappa, metric=name)
    mc = monte_carlo_error(sp.lam, 300, 0.1, 0.02, n_replicates=8000, seed=5, model="fourier", draw="modes",
                           kappa=sp.kappa, metric=name)
    _check(float(ds["total"]), mc, f"{name} fourier")
    assert float(ds["generalization"]) > 10 * mc.stderr


@pytest.mark.parametrize("name", KL)
def test_generalization_blocks_do_not_change_the_sum(name, monkeypatch):
    """Row blocks (large d: O(d) memory per row) and point blocks give the one-block sum, also with repeated
    eigenvalues (the Taylor branch)."""
    from gaussdsm.metrics import _base

    lam = np.array([1.0, 0.7, 0.7, 0.3, 0.3 * (1 + 1e-6), 0.1, 0.05])
    ref = theory.error_terms(lam, 1000, [0.1, 0.2, 0.3], [0.0, 0.02], metric=name)["generalization"].values
    monkeypatch.setattr(_base, "NUMPY_BLOCK_ELEMENTS", 10)
    blocked = theory.error_terms(lam, 1000, [0.1, 0.2, 0.3], [0.0, 0.02], metric=name)["generalization"].values
    np.testing.assert_allclose(blocked, ref, rtol=1e-13)
    assert np.all(np.isfinite(ref)) and np.all(ref > 0)
