"""The local convolutional denoiser (fit.model: conv): its DSM minimiser, its per-Fourier-mode law against the d x d
pixel-space law, the full-width identity with the Fourier model, gradient-flow training and its input checks."""

import itertools
import math

import numpy as np
import pytest

from gaussdsm import conv, spectra
from gaussdsm.montecarlo import data_streams, exact_errors, mode_variances
from gaussdsm.samplers import ULA, make
from gaussdsm.samplers.ula import ula_stationary_cov
from gaussdsm.wasserstein import w2_squared


def _vp(n_steps=20, **kw):
    return make("diffusion", process="vp", scheme="em", n_steps=n_steps, t_min=1e-2, **kw)


def _images(sp, n, rng):
    """n images of the stationary law of ``sp`` in pixel space, ``(n,) + grid`` (one channel)."""
    lay = conv.Layout.of(sp)
    P = lay.power(sp.lam)[0]
    z = rng.standard_normal((n,) + lay.grid)
    return np.fft.ifftn(np.sqrt(P) * np.fft.fftn(z, axes=tuple(range(1, z.ndim))), axes=tuple(range(1, z.ndim))).real


def _periodogram(sp, x):
    """The empirical mode variances of images ``x`` (the averaged periodogram at each mode's place on the grid)."""
    lay = conv.Layout.of(sp)
    axes = tuple(range(1, x.ndim))
    per = (np.abs(np.fft.fftn(x, axes=axes)) ** 2).mean(0) / lay.size
    return per.ravel()[lay.position]


def _patches(x, offsets):
    """Rows x(p - delta) for every image and position, ``(N d, P)``, and the targets x(p)."""
    cols = [np.roll(x, tuple(off), axis=tuple(range(1, x.ndim))).reshape(-1) for off in offsets]
    return np.stack(cols, axis=1), x.reshape(-1)


def _circulant(sp, filt, offsets):
    """The d x d pixel-space matrix of the circular convolution by ``filt`` on the patch (one channel)."""
    lay = conv.Layout.of(sp)
    d = lay.size
    M = np.zeros((d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = 1.0
        img = e.reshape(lay.grid)
        out = sum(f * np.roll(img, tuple(off), axis=tuple(range(img.ndim))) for f, off in zip(filt, offsets))
        M[:, j] = out.ravel()
    return M


@pytest.mark.parametrize("kind,d,K", [("stationary_1d", 15, 15), ("stationary_2d", 25, 5)])
def test_full_width_is_the_fourier_model(kind, d, K):
    """A patch the whole (odd) image: the conv denoiser is the Fourier-diagonal one, at N = inf and for drawn mode
    variances, for ULA and a diffusion sampler."""
    sp = spectra.spectrum(kind, d, beta=1.0, omega0=0.5)
    mu = np.vstack([sp.lam, mode_variances(sp.lam, 7, data_streams(3, 4, 7), sp.kappa)])
    model = conv.ConvModel(mu, conv.Layout.of(sp), K)
    a = model.score(None, 0.7, 0.09)
    np.testing.assert_allclose(a, 1.0 / (0.7 * mu + 0.09), rtol=1e-11)
    for s, sigma in ((ULA(0.02), 0.2), (_vp(), 0.0)):
        F, bad = conv.conv_variance(s, model, mu, sigma)
        ref, ref_ok = s.variance_and_stable(mu, sigma)
        assert not bad.any() and ref_ok.all()
        np.testing.assert_allclose(F, ref, rtol=1e-9)
        w, _ = exact_errors(sp.lam, mu, None, sigma, s)
        v, _ = conv.conv_errors(sp, math.inf, [], sigma, [s], K)
        assert v[0, 0] == pytest.approx(w[0], rel=1e-9)


def test_dsm_minimiser_is_the_least_squares_solve():
    """w* from the empirical mode variances = the ridge least-squares DSM solve over every patch of N drawn images
    (the loss expected over the noise: sigma^2 ||w||^2 per position), 2-D, even side, K = 3."""
    sp = spectra.spectrum("stationary_2d", 64, beta=1.5, omega0=0.7)
    x = _images(sp, 5, np.random.default_rng(1))
    sigma = 0.3
    model = conv.ConvModel(_periodogram(sp, x), conv.Layout.of(sp), 3)
    w = model.denoiser_filters(1.0, sigma**2)[0, 0, 0]
    X, y = _patches(x, model.offsets)
    n = X.shape[0]
    A = np.vstack([X, sigma * math.sqrt(n) * np.eye(X.shape[1])])
    w_ls = np.linalg.lstsq(A, np.concatenate([y, np.zeros(X.shape[1])]), rcond=None)[0]
    np.testing.assert_allclose(w, w_ls, rtol=1e-10, atol=1e-12)
    u = model.filters(1.0, sigma**2)[0, 0, 0]  # the score filter: (e0 - w*) / sigma^2
    e0 = (model.offsets == 0).all(axis=1).astype(float)
    np.testing.assert_allclose(u, (e0 - w) / sigma**2, rtol=1e-9, atol=1e-9)


def test_law_per_fourier_mode_is_the_pixel_space_law():
    """The error from the per-mode law equals the d x d one: the conv score as a circulant matrix in pixel space,
    ULA's stationary covariance (Lyapunov) and the diffusion sampler's matrix law, W2 against the circulant data
    covariance (2-D 6 x 6, K = 3, a finite training set)."""
    sp = spectra.spectrum("stationary_2d", 36, beta=1.0, omega0=0.8)
    x = _images(sp, 4, np.random.default_rng(5))
    mu = _periodogram(sp, x)
    lay = conv.Layout.of(sp)
    model = conv.ConvModel(mu, lay, 3)
    Sigma = _circulant(sp, *_autocov(sp))
    F, bad = conv.conv_variance(ULA(0.05), model, mu, 0.3)
    assert not bad.any()
    A = _circulant(sp, model.filters(1.0, 0.09)[0, 0, 0], model.offsets)
    C = ula_stationary_cov(A, 0.05)
    assert np.sum((np.sqrt(F) - np.sqrt(sp.lam)) ** 2) == pytest.approx(float(w2_squared(C, Sigma)), rel=1e-8)
    s = _vp(10)
    F, bad = conv.conv_variance(s, model, mu)
    assert not bad.any()
    p = s.process

    def score(t):
        return _circulant(sp, model.filters(p.m2(t), p.s2(t))[0, 0, 0], model.offsets)

    V = s.covariance_with_scores(score, float(p.reference_variance) * np.eye(lay.size))
    assert np.sum((np.sqrt(F) - np.sqrt(sp.lam)) ** 2) == pytest.approx(float(w2_squared(V, Sigma)), rel=1e-8)


def _autocov(sp):
    """The data's autocovariance as a filter on the whole grid (for :func:`_circulant`)."""
    lay = conv.Layout.of(sp)
    c = np.fft.ifftn(lay.power(sp.lam)[0]).real
    offs = np.stack([g.ravel() for g in np.meshgrid(*[np.arange(n) for n in lay.grid], indexing="ij")], axis=1)
    return c.ravel(), offs


def test_locality_floor_falls_with_the_kernel_size():
    """At N = inf the conv model's error is a floor (the locality bias) that falls to the Fourier model's as the patch
    grows (diffusion, 1-D, d = 31)."""
    sp = spectra.spectrum("stationary_1d", 31, beta=1.0, omega0=0.3)
    s = _vp(30)
    floors = [conv.population_error(sp, 0.0, s, K)[0] for K in (1, 3, 7, 15, 31)]
    assert all(b < a for a, b in itertools.pairwise(floors))
    assert floors[0] > 10 * floors[-1]


def test_local_denoiser_generalises_better_at_small_n():
    """With few images a 3-tap filter beats the full-width (Fourier) one: same draws, paired (N = 2, d = 31)."""
    sp = spectra.spectrum("stationary_1d", 31, beta=1.0, omega0=0.3)
    s = _vp(30)
    local, _ = conv.conv_errors(sp, 2, data_streams(0, 40, 2), 0.0, [s], 3)
    full, _ = conv.conv_errors(sp, 2, data_streams(0, 40, 2), 0.0, [s], 31)
    diff = full[0] - local[0]
    assert diff.mean() > 3 * diff.std(ddof=1) / math.sqrt(diff.size)


def test_gradient_flow_closed_form_against_the_ode():
    """Prop. 5.4: the closed form of the filter under gradient flow equals a numerical solution of
    dw/dtau = -2[(Sigma_P + sigma^2) w - Sigma_P e0], and tends to w*."""
    from scipy.integrate import solve_ivp

    sp = spectra.spectrum("stationary_2d", 49, beta=1.0, omega0=0.5)
    model = conv.ConvModel(sp.lam, conv.Layout.of(sp), 3)
    sigma, taus = 0.4, np.array([0.0, 0.3, 1.0, 3.0])
    V, nu = model.V[0, 0], model.nu[0, 0]
    Cp = (V * nu) @ V.T
    e0 = (model.offsets == 0).all(axis=1).astype(float)
    w0 = np.linspace(-0.1, 0.1, e0.size)
    sol = solve_ivp(lambda t, w: -2.0 * ((Cp + sigma**2 * np.eye(e0.size)) @ w - Cp @ e0), (0, taus[-1]), w0,
                    t_eval=taus, rtol=1e-11, atol=1e-13)
    closed = conv.gradient_flow_filter(model, sigma, taus, init=w0)[0, 0]
    np.testing.assert_allclose(closed, sol.y.T, rtol=1e-7, atol=1e-9)
    star = model.denoiser_filters(1.0, sigma**2)[0, 0, 0]
    np.testing.assert_allclose(conv.gradient_flow_filter(model, sigma, 200.0)[0, 0, 0], star, atol=1e-12)


@pytest.mark.parametrize("K,msg", [(4, "odd integer in \\[1, 8\\]"), (9, "odd integer in \\[1, 8\\]"),
                                   (0, "fit.kernel_size")])
def test_kernel_size_errors(K, msg):
    sp = spectra.spectrum("stationary_2d", 64)
    with pytest.raises(ValueError, match=msg) as err:
        conv.ConvModel(sp.lam, conv.Layout.of(sp), K)
    assert "\n" not in str(err.value) and "fit.kernel_size" in str(err.value)


def test_conv_needs_a_stationary_spectrum():
    sp = spectra.spectrum("power_law", 16)
    with pytest.raises(ValueError, match="fit.model: conv .* stationary") as err:
        conv.Layout.of(sp)
    assert "\n" not in str(err.value)


def test_diffusion_needs_a_finite_grid():
    sp = spectra.spectrum("stationary_1d", 9)
    s = make("diffusion", process="vp", scheme="em", n_steps=math.inf, t_min=1e-2)
    with pytest.raises(ValueError, match="sampler.n_steps must be finite with fit.model: conv"):
        conv.conv_errors(sp, math.inf, [], 0.0, [s], 3)


@pytest.mark.parametrize("kind,d,K,metric", [("stationary_1d", 15, 15, "w2"),
                                             ("stationary_2d", 25, 5, "kl_sample_data")])
def test_expansion_at_full_width_is_the_fourier_theory(kind, d, K, metric):
    """The 1/N expansion of the conv model (second differences in the patch covariance) at full width = R11 for the
    Fourier model, ULA and diffusion."""
    from gaussdsm import theory

    sp = spectra.spectrum(kind, d, beta=1.0, omega0=0.3)
    b, g, bad = conv.error_expansion(sp, 0.3, ULA(0.02), K, metric=metric)
    ds = theory.error_terms(sp.lam, 1, 0.3, 0.02, model="fourier", kappa=sp.kappa, metric=metric)
    assert not bad and b == pytest.approx(float(ds.bias), rel=1e-12)
    assert g == pytest.approx(float(ds.generalization), rel=1e-5)
    s = _vp(20)
    b, g, bad = conv.error_expansion(sp, 0.0, s, K, metric=metric)
    ds = theory.error_terms(sp.lam, 1, model="fourier", kappa=sp.kappa, metric=metric, sampler="diffusion",
                            process="vp", scheme="em", n_steps=20, t_min=1e-2)
    assert not bad and b == pytest.approx(float(ds.bias), rel=1e-10)
    assert g == pytest.approx(float(ds.generalization), rel=1e-5)


@pytest.mark.parametrize("K", [3, 7])
def test_expansion_against_monte_carlo(K):
    """bias + generalization_sum / N against Monte Carlo (fixed seeds, 300 training sets), within 4 standard errors,
    ULA and diffusion, N = 30 and 300 (d = 31)."""
    sp = spectra.spectrum("stationary_1d", 31, beta=1.0, omega0=0.3)
    for s, sigma in ((ULA(0.02), 0.3), (_vp(20), 0.0)):
        b, g, bad = conv.error_expansion(sp, sigma, s, K)
        assert not bad and g > 0
        for N in (30, 300):
            v, dv = conv.conv_errors(sp, N, data_streams(7, 300, N), sigma, [s], K)
            assert not dv.any()
            se = v[0].std(ddof=1) / math.sqrt(v.shape[1])
            assert abs(v[0].mean() - (b + g / N)) < 4 * se, (K, N, v[0].mean(), b + g / N, se)


def test_front_door_conv_theory_and_monte_carlo():
    """gaussdsm.error with model conv: a kernel_size axis, the expansion beside its Monte Carlo (z within 4), the
    population exact (Monte Carlo = total)."""
    import gaussdsm

    ds = gaussdsm.error(spectrum="stationary_1d", d=31, model="conv", kernel_size=[3, 7], n_samples=[30, math.inf],
                        sigma=0.3, gamma=0.02, mc=100, seed=2)
    assert ds["total"].dims == ("kernel_size", "n_samples")
    assert (abs(ds["z"].sel(n_samples=30)) < 4).all()
    pop = ds.sel(n_samples=math.inf)
    np.testing.assert_allclose(pop["mc_mean"], pop["total"], rtol=1e-12)
    assert float(pop["total"].sel(kernel_size=7)) < float(pop["total"].sel(kernel_size=3))


def test_command_line_names_the_option(capsys):
    from gaussdsm.cli import main

    base = ["error", "--spectrum", "stationary_2d", "--d", "64", "--model", "conv", "--n-samples", "16", "--sigma",
            "0.3", "--gamma", "0.02"]
    assert main(base + ["--kernel-size", "4"]) == 2
    err = capsys.readouterr().err
    assert "--kernel-size must be an odd integer in [1, 8]" in err and err.count("\n") == 1
    assert main(base + ["--kernel-size", "3"]) == 0
    assert "model conv, kernel_size = 3" in capsys.readouterr().out


def test_study_with_a_conv_model_runs_through_the_stages():
    """A study config with fit.model conv (run_study: the workflow's stages in memory): Monte Carlo beside the theory
    (z within 4, two metrics), the population exact; bad kernel sizes are one config line naming the key."""
    import gaussdsm
    from gaussdsm.study import ConfigError

    study = {"spectrum": {"kind": "stationary_1d", "d": 15, "beta": 1.0, "omega0": 0.4},
             "fit": {"model": "conv", "kernel_size": 3}, "metrics": ["w2", "kl_sample_data"],
             "grid": {"n_samples": [50, math.inf], "sigma": [0.3], "gamma": [0.02]},
             "montecarlo": {"n_replicates": 60}, "panels": []}
    s = gaussdsm.run_study({"seed": 3, "studies": {"conv": study}}).summary
    assert s.attrs["model"] == "conv" and int(s.attrs["kernel_size"]) == 3
    for m in ("", "kl_sample_data_"):
        assert abs(float(s[f"{m}zscore"].sel(n_samples=50).squeeze())) < 4
        pop = s.sel(n_samples=math.inf).squeeze()
        assert float(pop[f"{m}mc_mean"]) == pytest.approx(float(pop[f"{m}theory_total"]), rel=1e-12)
    with pytest.raises(ConfigError, match=r"studies\.conv\.fit\.kernel_size must be an odd integer in \[1, 15\]"):
        gaussdsm.run_study({"seed": 3, "studies": {"conv": {**study, "fit": {"model": "conv", "kernel_size": 4}}}})
    from gaussdsm.figures._data import theory_on

    th = theory_on(s.sel(n_samples=[50]), np.array([50.0]), np.array([0.3]), np.array([0.02]), 0.0)
    assert float(th["total"].squeeze()) == pytest.approx(float(s["theory_total"].sel(n_samples=50).squeeze()),
                                                         rel=1e-12)
    diffusion = {**study, "sampler": {"kind": "diffusion", "n_steps": [20]}, "grid": {"n_samples": [50]}}
    diffusion.pop("panels")
    with pytest.raises(ConfigError, match=r"studies\.conv\.panels: error_vs_nfe not available with fit.model: conv"):
        gaussdsm.run_study({"seed": 3, "studies": {"conv": diffusion}})


def _spectrum_of(power, channels_last=False):
    raw = spectra.fourier_modes(power, channels_last=channels_last)
    order = np.argsort(-raw.lam, kind="stable")
    return spectra.Spectrum(raw.lam[order], raw.frequency[order], raw.kappa[order], {}, raw.position[order], raw.grid)


def test_channels_are_independent_and_both_transfers_agree():
    """Two channels on a 6 x 8 grid: each channel's score coefficients are those of the one-channel model of its own
    power; the FFT transfer (every mode) equals the cosine sums (by index)."""
    rng = np.random.default_rng(4)
    P = rng.uniform(0.1, 2.0, (6, 8, 2))
    sp = _spectrum_of(P, channels_last=True)
    model = conv.ConvModel(sp.lam, conv.Layout.of(sp), 5)
    a = model.score(None, 0.8, 0.05)
    np.testing.assert_allclose(a, model.score(np.arange(sp.d), 0.8, 0.05), rtol=1e-12, atol=1e-12)
    lay = conv.Layout.of(sp)
    for c in range(2):
        one = _spectrum_of(P[..., c])
        a1 = conv.ConvModel(one.lam, conv.Layout.of(one), 5).score(None, 0.8, 0.05)
        on_grid, on_grid1 = np.empty(lay.size), np.empty(lay.size)
        on_grid[lay.position[lay.channel == c] % lay.size] = a[lay.channel == c]
        on_grid1[one.position] = a1
        np.testing.assert_allclose(on_grid, on_grid1, rtol=1e-12)


@pytest.mark.parametrize("method,lr,init", [("gradient_flow", 0.0, "zero"), ("gd", 0.05, "identity")])
def test_trained_filters_at_full_width_are_the_trained_fourier_denoisers(method, lr, init):
    """Every level's filter trained for a time tau (gradient flow, or gd with a step) per eigenvector of the patch
    covariance: at full width the trained Fourier-diagonal denoiser of each mode (the diagonal model's law with
    those mode variances), population and drawn."""
    from gaussdsm.dsm import Training

    sp = spectra.spectrum("stationary_2d", 25, beta=1.0, omega0=0.5)
    mu = np.vstack([sp.lam, mode_variances(sp.lam, 5, data_streams(1, 2, 5), sp.kappa)])
    tr = Training(method, 2.0, init, lr)
    s = _vp(15).with_training(tr)
    F, bad = conv.conv_variance(s, conv.ConvModel(mu, conv.Layout.of(sp), 5), mu)
    ref, ok = s.variance_and_stable(mu)
    assert not bad.any() and ok.all()
    np.testing.assert_allclose(F, ref, rtol=1e-9)
    exact, _ = conv.conv_variance(_vp(15), conv.ConvModel(mu, conv.Layout.of(sp), 5), mu)
    assert np.max(np.abs(F - exact)) > 1e-3  # training for a finite time changes the law


def test_front_door_trained_conv_filters():
    """fit gradient_flow with model conv (diffusion): the expansion of the trained filters beside Monte Carlo."""
    import gaussdsm

    ds = gaussdsm.error(spectrum="stationary_1d", d=31, model="conv", kernel_size=5, n_samples=40, sampler="diffusion",
                        n_steps=20, t_min=1e-2, fit="gradient_flow", train_time=[0.5, 5.0], mc=100, seed=1)
    assert (abs(ds["z"]) < 4).all()
    assert float(ds["total"].sel(train_time=0.5)) > 10 * float(ds["total"].sel(train_time=5.0))


def test_expansion_against_monte_carlo_with_channels():
    """Two channels (independent filters): the expansion against Monte Carlo within 4 standard errors (diffusion,
    N = 10, where the 1/N term is 15 standard errors)."""
    w = 2 * np.pi * np.fft.fftfreq(8)
    r2 = w[:, None] ** 2 + w[None, :] ** 2
    P = np.stack([1.0 / (1.0 + r2 / 0.3), 0.5 / (1.0 + r2 / 1.5) ** 2], axis=-1)
    sp = _spectrum_of(P, channels_last=True)
    s = _vp(20)
    b, g, bad = conv.error_expansion(sp, 0.0, s, 3)
    v, dv = conv.conv_errors(sp, 10, data_streams(5, 300, 10), 0.0, [s], 3)
    se = v[0].std(ddof=1) / math.sqrt(v.shape[1])
    assert not bad and not dv.any() and abs(g / 10) > 10 * se
    assert abs(v[0].mean() - (b + g / 10)) < 4 * se


def test_conv_refuses_a_continuous_time_diffusion_before_any_work():
    import gaussdsm

    with pytest.raises(ValueError, match=r"sampler.n_steps must be finite with fit.model: conv .*\(at n_steps=inf\)"):
        gaussdsm.error(spectrum="stationary_1d", d=15, model="conv", kernel_size=3, n_samples=10, sampler="diffusion",
                       n_steps=[20, math.inf])


def test_front_door_budget_knows_the_expansion_cost():
    """The conv expansion evaluates 4 Q c + 1 laws: a large one is refused before any work (one line)."""
    import gaussdsm
    from gaussdsm.budget import BudgetError

    with pytest.raises(BudgetError, match=r"theory, model conv, kernel_size = 5, d = 16384\) > --max-time 1 s"):
        gaussdsm.error(spectrum="stationary_2d", d=16384, model="conv", kernel_size=5, sampler="diffusion", n_steps=50,
                       t_min=1e-2, n_samples=100, max_time=1.0)


def test_patch_size_is_bounded():
    sp = spectra.spectrum("stationary_2d", 64 * 64)
    with pytest.raises(ValueError, match=r"fit.kernel_size must be at most 45 on a 2-D image .* got 47"):
        conv.ConvModel(sp.lam, conv.Layout.of(sp), 47)


@pytest.mark.parametrize("kw", [dict(denoise=True), dict(init="exact"), dict(scheme="heun"), dict(scheme="dpmpp_2m"),
                                dict(process="ve", scheme="euler"), dict(scheme="ddpm")])
def test_full_width_identity_across_schemes(kw):
    """Full width = Fourier model for schemes with history, a second evaluation, another process, the exact start and
    a final Tweedie step (the conv law is the scheme's step asked at every time it needs)."""
    sp = spectra.spectrum("stationary_1d", 15, beta=1.0, omega0=0.5)
    s = make("diffusion", **{"process": "vp", "scheme": "em", "n_steps": 20, "t_min": 1e-2, **kw})
    F, bad = conv.conv_variance(s, conv.ConvModel(sp.lam, conv.Layout.of(sp), 15), sp.lam)
    ref, ok = s.variance_and_stable(sp.lam)
    assert not bad.any() and ok.all()
    np.testing.assert_allclose(F, ref, rtol=1e-12)


def test_conv_refuses_the_two_layer_denoiser():
    """Two K-wide filters multiply into a (2K - 1)-wide one: fit.depth 2 is not a patch filter (front door and config)."""
    import gaussdsm

    with pytest.raises(ValueError, match=r"^fit.depth must be 1 with fit.model: conv .*got 2$"):
        gaussdsm.error(spectrum="stationary_1d", d=15, model="conv", kernel_size=3, n_samples=10, sampler="diffusion",
                       n_steps=10, fit="gradient_flow", train_time=1.0, depth=2)
