"""The two-layer denoiser P P^T trained by gradient flow (fit.depth 2) and trained scores in continuous time
(n_steps inf): Wang & Pehlevan 2025 (arXiv 2503.03206) Prop. 4.2 and 5.1, the gradient flow itself, the emergence
time, the limit of the discrete schemes, theory against Monte Carlo, and the one-line errors."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.special import expi

from gaussdsm import _jet, theory
from gaussdsm import montecarlo as mc
from gaussdsm.dsm import Training, trained_denoiser_depth2
from gaussdsm.samplers.spec import build
from gaussdsm.theory.exact_n import exact_error

INF = float("inf")
LAM = np.array([4.0, 1.0, 0.3, 0.05, 1e-3])


def _loss_gradient_flow(cov, m, s2, Q, tau):
    """theta = P P^T after the gradient flow dP/dtau = -grad_P F(P P^T) of the DSM loss of one level,
    F(theta) = E||x - theta (m x + sigma w)||^2 = tr cov - 2 m tr(theta cov) + tr(theta C theta^T), C = m^2 cov + s2 I,
    from P(0) = sqrt(Q) I (aligned with every basis), integrated numerically on the d x d entries."""
    d = cov.shape[0]
    C = m * m * cov + s2 * np.eye(d)

    def rhs(_, p):
        P = p.reshape(d, d)
        G = 2.0 * (P @ P.T @ C - m * cov)  # dF/dtheta
        return (-(G + G.T) @ P).ravel()  # dF(P P^T)/dP

    sol = solve_ivp(rhs, (0.0, tau), np.sqrt(Q) * np.eye(d).ravel(), method="DOP853", rtol=1e-12, atol=1e-18)
    P = sol.y[:, -1].reshape(d, d)
    return P @ P.T


@pytest.mark.parametrize("m, s2, Q, tau", [(1.0, 0.25, 1e-3, 0.4), (0.8, 0.36, 0.05, 2.0), (0.3, 0.91, 2.0, 1.5)])
def test_depth2_closed_form_solves_the_gradient_flow_of_the_dsm_loss(m, s2, Q, tau):
    """Prop. 5.1 (their eq. 8 with m = 1; our level's signal scale m in general): the closed form per eigenvalue of
    the empirical covariance, rotated back, is the numerically integrated flow on the matrix P (not diagonal)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((6, 4)) * np.sqrt([2.0, 1.0, 0.2, 0.01])  # N = 6 samples, d = 4
    cov = X.T @ X / 6
    mu, U = np.linalg.eigh(cov)
    closed = (U * trained_denoiser_depth2(mu, m, s2, tau, Q)) @ U.T
    np.testing.assert_allclose(_loss_gradient_flow(cov, m, s2, Q, tau), closed, rtol=0, atol=1e-10)


def test_depth2_their_eq8_emergence_time_and_limits():
    """Their eq. (8) verbatim at m = 1; the harmonic mean of start and limit reached at tau* = ln 2/(8 m mu) for every
    start Q; tau = inf the minimiser; mu = 0: Q/(1 + 8 c Q tau); the gap theta* - theta without cancellation."""
    mu, s2 = np.array([3.0, 0.5, 0.02]), 0.4
    for Q in (1e-4, 0.3, 1.7):
        for tau in (0.01, 0.7, 30.0):
            star = mu / (s2 + mu)
            eq8 = star * Q / ((star - Q) * np.exp(-8 * mu * tau) + Q)
            np.testing.assert_allclose(trained_denoiser_depth2(mu, 1.0, s2, tau, Q), eq8, rtol=1e-13)
        for m in (1.0, 0.6):
            star = m * mu / (m * m * mu + s2)
            at = np.array([trained_denoiser_depth2(u, m, s2, np.log(2) / (8 * m * u), Q) for u in mu])
            np.testing.assert_allclose(at, 2 * Q * star / (Q + star), rtol=1e-13)
            gap = trained_denoiser_depth2(mu, m, s2, 0.3, Q, gap=True)
            np.testing.assert_allclose(gap, star - trained_denoiser_depth2(mu, m, s2, 0.3, Q), rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(trained_denoiser_depth2(np.array([0.0]), 0.7, s2, 2.0, 0.1), 0.1 / (1 + 8 * s2 * 0.1 * 2),
                               rtol=1e-14)
    np.testing.assert_allclose(trained_denoiser_depth2(mu, 0.7, s2, INF, 0.1), 0.7 * mu / (0.49 * mu + s2), rtol=1e-15)
    tr = Training("gradient_flow", 0.3, depth=2, init_scale=0.1)  # the score's gap: a_t - 1/lambda_t
    a, m2 = tr.score_coefficient(mu, 0.49, s2), 0.49
    np.testing.assert_allclose(tr.score_gap(mu, m2, s2), a - 1 / (m2 * mu + s2), rtol=1e-12)


def _prop42(lam, tau, Q, s0, s1):
    """Their Prop. 4.2 (one layer, start W = Q I, PF-ODE from N(0, s1^2 I) down to s0)."""
    def log_phi2(s):
        return np.log(lam + s * s) + (1 - Q) * expi(-2 * tau * s * s) * np.exp(-2 * tau * lam) - expi(-2 * tau * (s * s + lam))
    return s1**2 * np.exp(log_phi2(s0) - log_phi2(s1))


def _prop51(lam, tau, Q, s0, s1):
    """Their Prop. 5.1 (symmetric two layer, start P P^T = Q I), the generated variance."""
    E = np.exp(-8 * tau * lam)

    def log_phi2(s):
        return (2 * (1 - Q) * E / (Q + (1 - Q) * E) * np.log(s)
                + Q / (Q + (1 - Q) * E) * np.log(lam * E + Q * (1 - E) * (lam + s * s)))
    return s1**2 * np.exp(log_phi2(s0) - log_phi2(s1))


@pytest.mark.parametrize("tau", [0.05, 3.0, 500.0])
def test_continuous_time_trained_law_is_their_prop_4_2_and_5_1(tau):
    """n_steps inf with trained scores on EDM (sigma_t = t, their setting): the probability-flow law by quadrature
    equals their closed forms to 1e-10 relative, one layer (start 0 and I) and two layers (three starts)."""
    lam, s0, s1 = np.logspace(-4, 1, 9), 0.002, 80.0
    kw = dict(process="edm", scheme="heun", n_steps=INF, t_min=s0, fit_method="gradient_flow", train_time=tau)
    for init, Q in (("zero", 0.0), ("identity", 1.0)):
        F = build("diffusion", fit_init=init, **kw).variance(lam)
        np.testing.assert_allclose(F, _prop42(lam, tau, Q, s0, s1), rtol=1e-10)
    for Q in (1e-3, 0.5, 2.0):
        F = build("diffusion", fit_depth=2, fit_init_scale=Q, **kw).variance(lam)
        np.testing.assert_allclose(F, _prop51(lam, tau, Q, s0, s1), rtol=1e-10)


@pytest.mark.parametrize("process, scheme, grid, order", [("vp", "em", "geometric", 1), ("vp", "euler", "geometric", 1),
                                                          ("ve", "em", "geometric", 1), ("edm", "heun", "geometric", 2),
                                                          ("vp_cosine", "ddpm", "uniform", 1)])
@pytest.mark.parametrize("depth", [1, 2])
def test_continuous_time_trained_law_is_the_limit_of_the_schemes(process, scheme, grid, order, depth):
    """The scheme's law with K = 1000, 2000, 4000 steps converges to the continuous-time law at its order: the error
    falls by 2^order per doubling, and what the Richardson extrapolation leaves falls faster (a higher order), far
    below the error itself (reverse SDE for em and ddpm, probability-flow ODE for euler and heun)."""
    kw = dict(process=process, scheme=scheme, t_min=0.01, fit_method="gradient_flow", train_time=2.0)
    kw.update(fit_depth=2, fit_init_scale=0.01) if depth == 2 else kw.update(fit_init="identity")
    F = build("diffusion", n_steps=INF, **kw).variance(LAM)
    V = [build("diffusion", n_steps=k, grid=grid, **kw).variance(LAM) for k in (1000, 2000, 4000)]
    err = [np.max(np.abs(v / F - 1)) for v in V]
    assert all(0.8 * 2**order < a / b < 1.25 * 2**order for a, b in zip(err, err[1:])), err
    rich = [np.max(np.abs(((2**order * b - a) / (2**order - 1)) / F - 1)) for a, b in zip(V, V[1:])]
    assert rich[1] < rich[0] / 3 and rich[1] < 0.05 * err[2], (err, rich)


@pytest.mark.parametrize("process, scheme", [("vp", "em"), ("vp_cosine", "ddpm"), ("vp_exp", "dpmpp_2m_sde"),
                                             ("ve", "euler"), ("flow", "heun")])
def test_continuous_time_trained_law_solves_the_variance_ode(process, scheme):
    """The quadrature against the variance ODE of the continuous-time sampler integrated numerically (solve_ivp,
    DOP853 in log t) from T to t_min with the trained gain a_t: reverse SDE dv/dt = 2(f + g^2 a)v - g^2, probability
    flow dv/dt = (2f + g^2 a)v; one layer from I, two layers from 0.05 I, gd; eigenvalues from 0 to 4."""
    lam = np.array([0.0, 1e-6, 1e-3, 0.05, 0.3, 1.0, 4.0])
    for tk in (dict(fit_init="identity", train_time=0.5), dict(fit_depth=2, fit_init_scale=0.05, train_time=20.0),
               dict(fit_method="gd", lr=1e-4, train_time=3.0)):
        s = build("diffusion", process=process, scheme=scheme, n_steps=INF, t_min=1e-3,
                  **({"T": 0.99} if process == "flow" else {}), **{"fit_method": "gradient_flow", **tk})
        p, sde = s.process, s.record.integrates == "sde"

        def rate(u):  # (d/du of v = rate v + source), u = log t
            t = np.exp(u)
            f, g2, a = p.f(t), p.g2(t), s.training.score_coefficient(lam, p.m2(t), p.s2(t))
            return t * (2 * (f + g2 * a) if sde else 2 * f + g2 * a), (-t * g2 if sde else 0.0)

        sol = solve_ivp(lambda u, v: rate(u)[0] * v + rate(u)[1], (np.log(p.T), np.log(1e-3)),
                        np.full(lam.size, p.reference_variance), method="DOP853", rtol=1e-12, atol=1e-18)
        np.testing.assert_allclose(s.variance(lam), sol.y[:, -1], rtol=1e-9)


@pytest.mark.parametrize("process, scheme", [("vp", "em"), ("vp_cosine", "euler"), ("ve", "em"), ("edm", "heun")])
def test_continuous_time_trained_law_converged_is_the_exact_law(process, scheme):
    """Trained for a very long time (depth 1 from I, depth 2 from 0.01 I) the quadrature's law is the minimiser's
    continuous-time closed form (reverse SDE: (lambda_t/lambda_T)^2 R; ODE: lambda_t/lambda_T), with its derivatives."""
    exact = build("diffusion", process=process, scheme=scheme, n_steps=INF, t_min=0.01)
    for tk in (dict(fit_init="identity"), dict(fit_depth=2, fit_init_scale=0.01)):
        s = build("diffusion", process=process, scheme=scheme, n_steps=INF, t_min=0.01, fit_method="gradient_flow",
                  train_time=1e12, **tk)
        for a, b in zip(_jet.derivatives(s.variance(_jet.variable(LAM))),
                        _jet.derivatives(exact.variance(_jet.variable(LAM)))):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_continuous_time_trained_law_derivatives():
    """The jets (the theory's derivatives in mu) of the quadrature: central differences agree."""
    s = build("diffusion", process="vp", scheme="em", n_steps=INF, t_min=0.01, fit_method="gradient_flow",
              train_time=0.7, fit_depth=2, fit_init_scale=0.05)
    F, d1, d2 = _jet.derivatives(s.variance(_jet.variable(LAM)))
    h = 1e-4 * LAM
    Fp, Fm = s.variance(LAM + h), s.variance(LAM - h)
    np.testing.assert_allclose(F, s.variance(LAM), rtol=1e-14)
    np.testing.assert_allclose(d1, (Fp - Fm) / (2 * h), rtol=1e-6)
    d1p, d1m = (_jet.derivatives(s.variance(_jet.variable(x)))[1] for x in (LAM + h, LAM - h))
    np.testing.assert_allclose(d2, (d1p - d1m) / (2 * h), rtol=1e-6)


@pytest.mark.parametrize("n_steps", [60, INF])
def test_depth2_theory_vs_monte_carlo_full_model(n_steps, z):
    """Two-layer denoisers of every level (start 0.01 I, tau = 3), full d x d model, N = 400: the first-order theory
    (F the variance map of sampler and training) against Monte Carlo over training sets; the trained bias exceeds
    the minimiser's."""
    lam = np.array([1.0, 0.6, 0.3, 0.15, 0.08])
    kw = dict(process="vp", scheme="heun", n_steps=n_steps, t_min=0.02)
    tk = dict(fit_method="gradient_flow", train_time=3.0, fit_depth=2, fit_init_scale=0.01)
    th = theory.error_terms(lam, 400, sampler="diffusion", **tk, **kw)
    r = mc.monte_carlo_error(lam, 400, 0.0, n_replicates=3000, seed=11, sampler=build("diffusion", **kw, **tk))
    gen = float(th["generalization"])
    assert abs(r.mean - float(th["total"])) <= z * r.stderr + abs(gen) * lam.size / 400, (r, float(th["total"]))
    assert float(th["bias"]) > float(theory.error_terms(lam, INF, sampler="diffusion", **kw)["bias"])


def test_depth2_exact_at_small_n_vs_monte_carlo_diagonal_model(z):
    """Diagonal model at N = 3 (far outside the first-order regime): the exact chi-square quadrature with the
    two-layer training in continuous time, against Monte Carlo of the mode variances."""
    lam = np.array([1.0, 0.5, 0.2, 0.05])
    kw = dict(process="edm", scheme="euler", n_steps=INF, t_min=0.01, fit_method="gradient_flow", train_time=1.0,
              fit_depth=2, fit_init_scale=0.02)
    ex = exact_error(lam, 3, sampler="diffusion", **kw)
    r = mc.monte_carlo_error(lam, 3, 0.0, n_replicates=20000, seed=4, model="diagonal", draw="modes",
                             sampler=build("diffusion", **kw))
    assert abs(r.mean - ex.mean) <= z * r.stderr, (r, ex.mean)


@pytest.mark.parametrize("kw, msg", [
    (dict(depth=3), "fit.depth must be 1 or 2"),
    (dict(depth=2, method="gd", lr=0.01), "fit.depth 2 needs fit.method gradient_flow"),
    (dict(depth=2, method="exact"), "fit.depth 2 needs fit.method gradient_flow"),
    (dict(init_scale=0.1), "fit.init_scale is only used by fit.depth 2"),
    (dict(depth=2, init="identity"), "fit.init is only used by fit.depth 1"),
    (dict(depth=2, init_scale=0.0), "fit.init_scale must be a finite number > 0")])
def test_bad_depth_names_the_key(kw, msg):
    args = {"method": "gradient_flow", "train_time": 1.0, **kw}
    with pytest.raises(ValueError, match=msg):
        Training(**args)


def test_trained_scores_in_continuous_time_need_a_time_grid():
    """n_steps inf is accepted; annealed Langevin (no time grid) is refused; m_T > 0 and t_min > 0 still hold."""
    kw = dict(fit_method="gradient_flow", train_time=1.0)
    assert build("diffusion", n_steps=INF, **kw).training.train_time == 1.0
    kw["n_steps"] = INF
    for settings, msg in ((dict(process="ve", scheme="annealed_langevin", n_steps=10), "needs a time grid"),
                          (dict(process="flow", scheme="euler", t_min=0.01), "m_T > 0"),
                          (dict(process="vp", scheme="euler", t_min=0.0), "t_min > 0")):
        with pytest.raises(ValueError, match=msg):
            build("diffusion", **{**kw, **settings})


def test_a_depth2_continuous_time_study_is_accepted(tiny_config, repo):
    """A study config with fit.depth 2 and n_steps inf: the sampler's params carry the depth and the start."""
    from gaussdsm.schema import validate
    from gaussdsm.study import Plan

    cfg = tiny_config()
    st = cfg["studies"]["tiny"]
    st.update(grid={"n_samples": [200]}, panels=[],
              sampler={"kind": "diffusion", "scheme": ["em", "heun"], "n_steps": [50, "inf"], "t_min": [0.01]},
              fit={"method": "gradient_flow", "train_time": [0.5, 5.0], "depth": 2, "init_scale": 0.02})
    validate(cfg, str(repo / "workflow" / "schemas" / "config.schema.yaml"))
    study = Plan(cfg).studies["tiny"]
    assert study.sampler.params["fit_depth"] == 2 and study.sampler.params["fit_init_scale"] == 0.02
    s = study.sampler.make(study.sampler.settings()[-1])
    assert s.training.depth == 2 and s.training.init_scale == 0.02 and np.isinf(s.n_steps)


def test_cli_depth_two(capsys):
    """`gaussdsm error --depth 2`: the two-layer fit in the JSON report, equal to the theory; a bad combination is one
    line naming the options."""
    import json

    from gaussdsm.cli import main

    base = ["error", "--sampler", "diffusion", "--process", "edm", "--scheme", "heun", "--n-steps", "inf", "--t-min",
            "0.002", "--fit", "gradient_flow", "--train-time", "1", "--d", "4", "--n-samples", "100"]
    assert main(base + ["--depth", "2", "--init-scale", "0.01", "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    sp = js["params"]["sampler"]
    assert sp["fit_depth"] == 2 and sp["fit_init_scale"] == 0.01 and sp["n_steps"] == "inf", sp
    th = theory.error_terms(1 / np.arange(1, 5.0), 100, sampler="diffusion", process="edm", scheme="heun", n_steps=INF,
                            t_min=0.002, fit_method="gradient_flow", train_time=1.0, fit_depth=2, fit_init_scale=0.01)
    assert js["total"] == pytest.approx(float(th["total"]), rel=1e-12)
    assert main(base + ["--fit", "gd", "--lr", "0.01", "--depth", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("--depth 2 needs --fit gradient_flow (its per-mode logistic flow has a closed form); got gd")
