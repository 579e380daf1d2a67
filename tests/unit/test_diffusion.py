"""Diffusion samplers (gaussdsm.samplers.diffusion): reference values, exact laws = particle chains of every
process x scheme, continuous-time limits, orders of accuracy, derivatives, divergence, and the theory against
Monte Carlo with scores learned at every noise level.

Statistical checks: fixed seeds, z = 4 standard errors (+ the O(1/N^2) allowance d/N x generalization for theory vs
MC), and each asserts the quantity tested exceeds its tolerance."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from gaussdsm import montecarlo as mc
from gaussdsm import theory
from gaussdsm import _jet
from gaussdsm.samplers import ORDER, Diffusion
from gaussdsm.samplers import diffusion
from gaussdsm.samplers.diffusion import particles

LAM8 = 1 / np.arange(1, 9.0)


def bias(F, lam=LAM8):
    return float(np.sum((np.sqrt(F) - np.sqrt(lam)) ** 2))


@pytest.mark.parametrize("scheme, standard, exact", [
    # samplers.md §7: VP, beta 0.1 -> 20, T = 1, uniform grid, K = 100, t_min = 1e-3, population score, lam = 1/k
    ("em", 1.562157e-4, 1.562157e-4), ("ei", 1.431043e-3, 1.431043e-3), ("ddpm", 5.437507e-6, 5.437507e-6),
    ("euler", 4.833908e-5, 4.858687e-5), ("heun", 5.399142e-7, 5.131640e-7), ("rk4", 7.871450e-8, 6.860097e-8),
])
def test_vp_reference_values(scheme, standard, exact):
    for init, ref in (("standard", standard), ("exact", exact)):
        got = bias(Diffusion("vp", scheme, "uniform", 100, 1e-3, init).variance(LAM8))
        assert abs(got / ref - 1) < 5e-7, (scheme, init, got, ref)


def test_continuous_time_and_heat_reference_values():
    assert abs(bias(Diffusion("vp", "em", n_steps=np.inf, t_min=1e-3).variance(LAM8)) / 6.863212e-8 - 1) < 5e-7
    assert abs(bias(Diffusion("vp", "euler", n_steps=np.inf, t_min=1e-3).variance(LAM8)) / 7.874755e-8 - 1) < 5e-7
    for K, ref in ((50, 1.431001e-2), (200, 8.285986e-4), (1000, 3.435909e-5)):
        got = bias(Diffusion("heat", "em", "geometric", K, 1e-4, T=100).variance(LAM8))
        assert abs(got / ref - 1) < 5e-7


def test_heat_em_telescoping_closed_form():
    """samplers.md §4: heat + em from v0 = T: F - lam = delta + (lam + delta)^2 Delta - ((lam + delta)/(lam + T))^2 lam,
    Delta = sum_j (t_{j-1} - t_j)^2 / ((lam + t_j)^2 (lam + t_{j-1})), delta = t_min (an independent formula)."""
    s = Diffusion("heat", "em", "geometric", 40, 1e-3, T=10.0)
    t = s.times
    lam = LAM8[:, None]
    Delta = np.sum((t[:-1] - t[1:]) ** 2 / ((lam + t[1:]) ** 2 * (lam + t[:-1])), axis=1)
    lam, delta = LAM8, t[-1]
    closed = delta + (lam + delta) ** 2 * Delta - ((lam + delta) / (lam + 10.0)) ** 2 * lam
    np.testing.assert_allclose(s.variance(LAM8) - LAM8, closed, rtol=1e-10)


CASES = [(p, s) for p in diffusion.PROCESSES for s in diffusion.SCHEMES if diffusion.compatible(p, s)]


@pytest.mark.parametrize("process, scheme", CASES)
def test_exact_law_equals_particle_chains(process, scheme, z):
    """Every process x scheme: the variance recursion = the variance of particles run through the scheme itself."""
    lam = np.array([1.0, 0.3, 0.05])
    s = Diffusion(process, scheme, "uniform", 20, 0.01, "standard", steps_per_level=5, eps=1e-3)
    if scheme == "ddpm" and not np.all(s.stable(lam)):  # the cosine schedule: h beta(t) >= 1 near T until K ~ 400
        s = Diffusion(process, scheme, "uniform", 2000, 0.01, "standard")
        assert np.all(s.stable(lam))
    n = 20000
    y = particles(s, lam, n, np.random.default_rng(zlib.crc32(f"{process}-{scheme}".encode())))
    F = s.variance(lam)
    se = F * np.sqrt(2.0 / n)
    assert np.all(np.abs(np.mean(y**2, axis=0) - F) <= z * se), (np.mean(y**2, axis=0) - F) / se


ORDER_STEPS = {"lms": (100, 200)}
"""Where the order is measured at other K than 400 -> 800: lms's start-up steps (orders 1, 2, 3) add an O(K^-2) part
with a small constant (the slope is -3.96 at K = 100 -> 200, -3.43 at 400 -> 800, -2.30 at 1600 -> 3200)."""


@pytest.mark.parametrize("scheme, order", sorted(ORDER.items()))
def test_orders_of_accuracy(scheme, order):
    """The discretization part W2(exactly initialised sampler, p_t_min) scales like K^-order (smooth VP example)."""
    w = [np.sqrt(bias(Diffusion("vp", scheme, "uniform", K, 0.05, "exact").variance(LAM8),
                      Diffusion("vp", scheme, "uniform", K, 0.05).reference(LAM8)))
         for K in ORDER_STEPS.get(scheme, (400, 800))]
    slope = np.log(w[1] / w[0]) / np.log(2.0)
    assert abs(slope + order) < 0.15, slope


@pytest.mark.parametrize("scheme", ["em", "euler"])
def test_many_steps_tend_to_the_continuous_time_law(scheme):
    F_inf = Diffusion("vp", scheme, n_steps=np.inf, t_min=0.01).variance(LAM8)
    gaps = [np.max(np.abs(Diffusion("vp", scheme, "uniform", K, 0.01).variance(LAM8) - F_inf)) for K in (2000, 4000)]
    assert gaps[1] < gaps[0] < 1e-3 and abs(gaps[0] / gaps[1] - 2) < 0.1  # first order: halves with K doubled


@pytest.mark.parametrize("scheme", ["em", "ddim", "heun", "rk4", "dpm_2", "dpmpp_2m", "heun_churn", "annealed_langevin"])
def test_jet_derivatives_match_differences(scheme):
    s = Diffusion("edm" if scheme == "heun_churn" else "ve", scheme, "uniform", 30, 0.01, "exact", steps_per_level=5,
                  eps=1e-3)
    lam = np.array([0.2, 0.7, 1.5])
    F, D, D1, D2, _ = theory.variance_map(lam, None, sampler=s)
    h = 1e-5
    Fp, Fm = s.variance(lam * (1 + h)), s.variance(lam * (1 - h))
    np.testing.assert_allclose(1 + D1, (Fp - Fm) / (2 * h * lam), rtol=1e-6)
    g = _jet.derivatives(s.variance(_jet.variable(lam * (1 + h))))[1] - _jet.derivatives(
        s.variance(_jet.variable(lam * (1 - h))))[1]
    np.testing.assert_allclose(D2, g / (2 * h * lam), rtol=1e-5, atol=1e-10)  # differences of F' ~ 1e-11


def test_divergence_is_recorded_not_raised():
    """An infinite score at an evaluated time (a zero eigenvalue at t = 0) and an unstable ddpm step (h beta >= 1):
    flagged per mode, never NaN in silence, never an exception."""
    s = Diffusion("vp", "em", n_steps=np.inf, t_min=0.0)
    assert s.stable(np.array([1.0, 0.0])).tolist() == [True, False]
    assert not np.any(Diffusion("vp", "ddpm", "uniform", 10, 1e-3).stable(LAM8))
    th = theory.error_terms(LAM8, np.inf, sampler="diffusion", scheme="ddpm", n_steps=10)
    assert int(th["valid"]) == 0 and np.isnan(float(th["total"]))
    # the memorisation regime, N < d: the learned covariance is singular; near t = 0 those directions collapse
    r = mc.monte_carlo_error(np.ones(6), 3, 0.0, n_replicates=5, seed=1, sampler="diffusion", scheme="em",
                             n_steps=np.inf, t_min=0.0)
    assert r.n_diverged == 5 and r.n_valid == 0
    F0 = float(Diffusion("vp", "em", "uniform", 1000, 1e-5).variance(np.array([0.0]))[0])
    assert F0 < 1e-3


@pytest.mark.parametrize("kw", [dict(scheme="heun", t_min=0.0), dict(scheme="dpm_2", t_min=0.0), dict(scheme="ddpm", process="ve"),
                                dict(T=0.5, t_min=0.5), dict(beta_min=30.0), dict(sigma_min=60.0, process="ve"),
                                dict(scheme="annealed_langevin", process="ve", n_steps=np.inf),
                                dict(grid="geometric", t_min=0.0), dict(scheme="midpoint")])
def test_bad_settings_name_the_key(kw):
    args = {"process": "vp", "scheme": "em", "n_steps": 10, "t_min": 1e-3, **kw}
    with pytest.raises(ValueError, match="sampler\\."):
        Diffusion(**args)


@pytest.mark.parametrize("process, scheme, N, t_min, K", [
    ("vp", "em", 400, 0.02, 200), ("vp", "heun", 400, 0.02, 100), ("heat", "em", 400, 0.02, 60),
    ("heat", "ei", 400, None, 60), ("flow", "heun", 400, 0.02, 60), ("vp_cosine", "dpmpp_2m", 400, 0.02, 60),
    ("vp_exp", "dpm_2", 400, 0.02, 60), ("edm", "heun_churn", 400, 0.02, 60),
])
def test_generalization_theory_vs_monte_carlo(process, scheme, N, t_min, K, z):
    """Learned exact scores at every level (samplers.md §3 verified row: heat em, geometric, T = 4, t_min = 0.02, K = 60,
    N = 400: theory 0.009366); None: at the theory's optimal t_min."""
    lam = np.array([1.0, 0.6, 0.3, 0.15, 0.08])
    kw = dict(process=process, scheme=scheme, n_steps=K, grid="geometric")
    if process == "heat":
        kw["T"] = 4.0
    if t_min is None:
        grid = np.geomspace(1e-3, 0.5, 60)
        tot = theory.error_terms(lam, N, sampler="diffusion", t_min=grid, **kw)["total"].values
        t_min = float(grid[np.argmin(tot)])
        assert 1e-3 < t_min < 0.5  # an interior optimum
    th = theory.error_terms(lam, N, sampler="diffusion", t_min=t_min, **kw)
    if (process, scheme, t_min) == ("heat", "em", 0.02):
        assert abs(float(th["total"]) - 0.009366) < 5e-7 and abs(float(th["bias"]) - 0.004103) < 5e-7
    r = mc.monte_carlo_error(lam, N, 0.0, n_replicates=4000, seed=6, sampler="diffusion", t_min=t_min, **kw)
    gen = float(th["generalization"])
    tol = z * r.stderr + gen * lam.size / N
    assert abs(r.mean - float(th["total"])) <= tol, (r, float(th["total"]))
    assert gen > 3 * tol


def test_bias_split_parts():
    """Each part is its own W2^2; exact initialisation has no initialisation part; the stopping part is
    sum (sqrt(lam_t_min) - sqrt(lam))^2."""
    th = theory.error_terms(LAM8, np.inf, sampler="diffusion", scheme="euler", init=["standard", "exact"],
                            n_steps=50, t_min=0.01)
    assert float(th["bias_init"].sel(init="exact")) == 0.0 and float(th["bias_init"].sel(init="standard")) > 0
    s = Diffusion("vp", "euler", "uniform", 50, 0.01)
    lt = s.reference(LAM8)
    np.testing.assert_allclose(float(th["bias_stopping"].sel(init="exact")), bias(lt), rtol=1e-12)
    np.testing.assert_allclose(th["nfe"].values, [50, 50])


def test_edm_is_karras_parametrisation():
    """EDM (Karras et al. 2022): sigma_t = t, m = 1, so p_t = N(0, lam + t^2); the continuous-time ODE law from the
    exact start is exact, and Heun on the EDM grid (their Algorithm 1) converges at order 2 in the NFE."""
    s = Diffusion("edm", "heun", "edm", 50, 0.002, "exact")
    assert s.process.T == 80.0 and s.process.reference_variance == 6400.0
    np.testing.assert_allclose(s.process.s2(np.array([0.5, 3.0])), [0.25, 9.0])
    np.testing.assert_allclose(s.process.t_of_s2(s.process.s2(np.array([0.01, 7.0]))), [0.01, 7.0])
    ode = Diffusion("edm", "euler", n_steps=np.inf, t_min=0.002, init="exact")
    np.testing.assert_allclose(ode.variance(LAM8), LAM8 + 0.002**2, rtol=1e-12)
    w = [np.sqrt(bias(Diffusion("edm", "heun", "edm", K, 0.002, "exact").variance(LAM8),
                      Diffusion("edm", "heun", "edm", K, 0.002).reference(LAM8))) for K in (200, 400)]
    assert abs(np.log(w[1] / w[0]) / np.log(2.0) + 2) < 0.15, w


def test_ddim_step_contracts_the_marginal_by_cauchy_schwarz():
    """One DDIM step (eta = 0) scales a mode of variance v_k = m_k^2 lam + s_k^2 by alpha = (m_n m_k lam + s_n s_k)/v_k,
    so alpha^2 v_k <= v_n = m_n^2 lam + s_n^2 (Cauchy-Schwarz), with equality only when (m_k, s_k) || (m_n, s_n):
    from the exact start its output variance stays below p_t_min's, on every process, and it converges at order 1."""
    for process in diffusion.PROCESSES:
        for K in (1, 3, 25):
            s = Diffusion(process, "ddim", "uniform", K, 0.01, "exact")
            F, ref = s.variance(LAM8), s.reference(LAM8)
            assert np.all(F < ref) and np.all(F > 0), (process, K, F / ref)
    t, lam = np.array([0.7, 0.4]), 0.3
    one = Diffusion("vp", "ddim", list(t), init="exact")  # one step from t = 0.7 (its T) to 0.4
    m, sd = np.sqrt(one.process.m2(t)), np.sqrt(one.process.s2(t))
    alpha = (m[1] * m[0] * lam + sd[1] * sd[0]) / (m[0] ** 2 * lam + sd[0] ** 2)
    np.testing.assert_allclose(one.variance(np.array([lam])), alpha**2 * (m[0] ** 2 * lam + sd[0] ** 2), rtol=1e-13)


VP_TYPES = [n for n, c in diffusion.PROCESSES.items() if issubclass(c, diffusion.processes.VariancePreserving)]


@pytest.mark.parametrize("process", list(diffusion.PROCESSES))
def test_process_identities(process):
    """Every process: m^2 + ... as published, g^2 = d sigma^2/dt - 2 f sigma^2 and f = d log m / dt (finite differences),
    Q = (-m m', -sigma sigma') against differences of m and sigma, and the inverses t_of_s2, t_of_ratio."""
    p = diffusion.make_process(process)
    t = np.linspace(0.05, 0.9, 7) * p.T
    if process == "sd_discrete":  # smooth within the table's unit intervals only: differences inside one
        t = t + 0.37
    h = 1e-6 * p.T
    d = lambda fn: (fn(t + h) - fn(t - h)) / (2 * h)  # noqa: E731
    m, sd = (lambda u: np.sqrt(p.m2(u))), (lambda u: np.sqrt(p.s2(u)))
    np.testing.assert_allclose(p.f(t), d(m) / m(t), rtol=1e-6)
    np.testing.assert_allclose(p.g2(t), d(p.s2) - 2 * p.f(t) * p.s2(t), rtol=1e-6)
    q0, q1 = p.q(t)
    np.testing.assert_allclose(q0, -m(t) * d(m), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(q1, -sd(t) * d(sd), rtol=1e-6)
    np.testing.assert_allclose(p.t_of_s2(p.s2(t)), t, rtol=1e-9)
    np.testing.assert_allclose(p.t_of_ratio(p.s2(t) / p.m2(t)), t, rtol=1e-9)
    A0, A1, noise = p.ei(t[3], t[2])  # the exponential integrator: A0 = m_n/m_k, noise = m_n^2 s_k^2/m_k^2 - s_n^2
    np.testing.assert_allclose(A0, m(t[2]) / m(t[3]), rtol=1e-12)
    np.testing.assert_allclose(noise, p.m2(t[2]) * p.s2(t[3]) / p.m2(t[3]) - p.s2(t[2]), rtol=1e-10)
    u = np.linspace(t[2], t[3], 20001)  # A1 = m_n int g^2 / m (trapezoid)
    np.testing.assert_allclose(A1, m(t[2]) * np.trapezoid(p.g2(u) / m(u), u), rtol=1e-7)


def test_cosine_and_exponential_schedules_as_published():
    """Nichol & Dhariwal 2021: alpha_bar(t) = f(t)/f(0), f = cos^2(pi/2 (t + s)/(1 + s)), s = 0.008, horizon 0.9946
    (DPM-Solver); Strasman et al.: beta(t) = beta_min + delta (e^(at) - 1) reaching beta_max at T, a -> 0 is linear."""
    p = diffusion.make_process("vp_cosine")
    t = np.array([0.0, 0.1, 0.5, 0.9, 0.99])
    f = np.cos(np.pi / 2 * (t + 0.008) / 1.008) ** 2
    np.testing.assert_allclose(p.m2(t), f / f[0], rtol=1e-12)
    np.testing.assert_allclose(p.s2(t), 1 - f / f[0], rtol=1e-10, atol=1e-300)
    assert p.T == 0.9946 and 0 < p.m2(p.T) < 1e-4
    with pytest.raises(ValueError, match="sampler.T must be <= 1"):
        diffusion.make_process("vp_cosine", 1.5)
    e = diffusion.make_process("vp_exp", beta_min=0.1, beta_max=20.0, exp_rate=3.0)
    np.testing.assert_allclose(e.beta(np.array([0.0, 1.0])), [0.1, 20.0], rtol=1e-12)
    np.testing.assert_allclose(e.beta(0.5), 0.1 + 19.9 * np.expm1(1.5) / np.expm1(3.0), rtol=1e-12)
    near = diffusion.make_process("vp_exp", exp_rate=1e-5)
    np.testing.assert_allclose(near.m2(t), diffusion.make_process("vp").m2(t), rtol=1e-4)


def test_flow_matching_euler_is_the_velocity_euler_step():
    """Rectified flow x_t = (1 - t) x0 + t eps: the learned velocity v = E[eps - x0 | x_t = y] = (t - (1 - t) mu) /
    ((1 - t)^2 mu + t^2) y; Euler from t = 1 (N(0, I), T = 1) steps y <- y + (t_{k+1} - t_k) v(y, t_k).  DDIM is the
    same sampler on this schedule; heun and dpmpp_2m are order 2 from t = 1; the ODE law from p_1 is exact."""
    t = np.linspace(1.0, 0.02, 13)
    lam = LAM8
    v = np.ones_like(lam)
    for tk, tn in zip(t[:-1], t[1:]):
        coef = (tk - (1 - tk) * lam) / ((1 - tk) ** 2 * lam + tk**2)
        v *= (1 + (tn - tk) * coef) ** 2
    np.testing.assert_allclose(Diffusion("flow", "euler", list(t)).variance(lam), v, rtol=1e-12)
    np.testing.assert_allclose(Diffusion("flow", "ddim", list(t)).variance(lam), v, rtol=1e-12)
    ode = Diffusion("flow", "euler", n_steps=np.inf, t_min=0.02)
    np.testing.assert_allclose(ode.variance(lam), 0.98**2 * lam + 0.02**2, rtol=1e-12)
    for scheme in ("heun", "dpmpp_2m"):
        w = [np.sqrt(bias(Diffusion("flow", scheme, "uniform", K, 0.05).variance(lam),
                          Diffusion("flow", scheme, "uniform", K, 0.05).reference(lam))) for K in (200, 400)]
        assert abs(np.log(w[1] / w[0]) / np.log(2.0) + 2) < 0.15, (scheme, w)


def _vp_lambda_inverse(lam_, b0=0.1, b1=20.0):
    """DPM-Solver's closed inverse of lambda(t) = log(alpha_t / sigma_t) for the linear VP schedule (Lu et al. 2022)."""
    L = np.log(np.exp(-2.0 * lam_) + 1.0)
    return 2.0 * L / (np.sqrt(b0**2 + 2.0 * (b1 - b0) * L) + b0)


def test_dpm_solver_2_one_step_as_published():
    """One DPM-Solver-2 step (Lu et al. 2022, Algorithm 1, r1 = 1/2) written from their formulas with DPM-Solver's own
    lambda inverse for the VP schedule: eps(y, t) = sigma_t a_t y."""
    vp = diffusion.make_process("vp")
    tk, tn, lam = 1.0, 0.4, LAM8  # one step from T = 1 (an explicit grid sets T)
    al = lambda u: np.sqrt(vp.m2(u))  # noqa: E731
    sg = lambda u: np.sqrt(vp.s2(u))  # noqa: E731
    lk, ln = np.log(al(tk) / sg(tk)), np.log(al(tn) / sg(tn))
    h = ln - lk
    s = _vp_lambda_inverse(lk + 0.5 * h)
    a = lambda u: 1.0 / (vp.m2(u) * lam + vp.s2(u))  # noqa: E731
    cu = al(s) / al(tk) - sg(s) * np.expm1(0.5 * h) * sg(tk) * a(tk)
    cy = al(tn) / al(tk) - sg(tn) * np.expm1(h) * sg(s) * a(s) * cu
    one = Diffusion("vp", "dpm_2", [tk, tn], init="exact")
    np.testing.assert_allclose(one.variance(lam), cy**2 * (vp.m2(tk) * lam + vp.s2(tk)), rtol=1e-9)


def test_dpmpp_2m_as_published():
    """DPM-Solver++(2M) (Lu et al. 2022b, Algorithm 2) run as a loop over its data predictions x0(y, t) = alpha mu a y
    on a 7-step geometric VP grid: the same law as the compiled two-term recursion."""
    s = Diffusion("vp", "dpmpp_2m", "geometric", 7, 0.01, "exact")
    t, p, lam = s.times, s.process, LAM8
    al, sg = np.sqrt(p.m2(t)), np.sqrt(p.s2(t))
    lt = np.log(al / sg)
    x0 = lambda j, y: al[j] * lam / (p.m2(t[j]) * lam + p.s2(t[j])) * y  # noqa: E731
    y, prev = np.ones_like(lam), None  # the coefficient c_k of y_k = c_k y_0
    for i in range(1, t.size):
        h = lt[i] - lt[i - 1]
        D = x0(i - 1, y)
        if prev is not None:
            r = (lt[i - 1] - lt[i - 2]) / h
            D = (1 + 1 / (2 * r)) * D - 1 / (2 * r) * x0(i - 2, prev)
        y, prev = sg[i] / sg[i - 1] * y - al[i] * np.expm1(-h) * D, y
    np.testing.assert_allclose(s.variance(lam), y**2 * (p.m2(t[0]) * lam + p.s2(t[0])), rtol=1e-10)


def test_heun_churn_is_karras_algorithm_2():
    """EDM's stochastic sampler: S_churn = 0 is Heun; otherwise per step v <- alpha^2 (v + S_noise^2 (t_hat^2 - t^2))
    with Heun's factor from t_hat = (1 + gamma) t to t_{k+1} (one step written out); more steps get closer to
    p_t_min."""
    kw = dict(process="edm", grid="edm", n_steps=30, t_min=0.002)
    np.testing.assert_allclose(Diffusion(scheme="heun_churn", s_churn=0.0, **kw).variance(LAM8),
                               Diffusion(scheme="heun", **kw).variance(LAM8), rtol=1e-13)
    tk, tn, lam = 2.0, 1.0, LAM8
    g = min(40.0 / 1, np.sqrt(2) - 1)
    th = tk * (1 + g)
    phi = lambda u: -u / (lam + u * u)  # noqa: E731  # EDM: dy/d(-t) = -t a y
    hh = th - tn
    alpha = 1 + 0.5 * hh * (phi(th) + phi(tn) * (1 + hh * phi(th)))
    one = Diffusion("edm", "heun_churn", [tk, tn], init="exact", s_churn=40.0, s_tmin=0.0, s_tmax=10.0, s_noise=1.01)
    np.testing.assert_allclose(one.variance(lam), alpha**2 * (lam + tk**2 + 1.01**2 * (th**2 - tk**2)), rtol=1e-12)
    errs = [bias(Diffusion(scheme="heun_churn", **{**kw, "n_steps": K}, init="exact").variance(LAM8),
                 Diffusion(scheme="heun", **kw).reference(LAM8)) for K in (32, 128, 512)]
    assert errs[2] < errs[1] < errs[0], errs


@pytest.mark.parametrize("scheme", [s for s in diffusion.SCHEMES if s != "annealed_langevin"])
def test_trajectory_ends_at_the_sampler_law(scheme):
    """The law along the reverse grid (P10), step by step (multistep: every prefix of the grid), ends at the law of the
    whole sampler and starts at the start's."""
    process = "edm" if scheme == "heun_churn" else "vp"
    s = Diffusion(process, scheme, "uniform", 25, 0.01)
    t, v, target = s.trajectory(LAM8)
    assert t.shape == (26,) and v.shape == target.shape == (26, 8)
    np.testing.assert_allclose(v[-1], s.variance(LAM8), rtol=1e-12)
    np.testing.assert_allclose(v[0], s.start_variance(LAM8) * np.ones(8), rtol=0)
    half = Diffusion(process, scheme, list(t[:13]))  # the first 12 steps alone, as their own grid
    np.testing.assert_allclose(v[12], half.variance(LAM8), rtol=1e-9)


# ------------------------------------------------------------------------------------------- trained scores

TRAINED_CASES = [(p, s) for p, s in CASES if s != "annealed_langevin" and diffusion.compatible(p, s)
                 and float(diffusion.make_process(p).m2(diffusion.make_process(p).T)) > 0]


@pytest.mark.parametrize("process, scheme", TRAINED_CASES)
def test_trained_law_by_the_steps_equals_the_compiled_law_when_converged(process, scheme):
    """The law of a trained score runs each scheme's own steps, in their general forms (any score coefficient a), as
    linear maps; trained to convergence it is the compiled exact-score law of every process x scheme."""
    s = Diffusion(process, scheme, "uniform", 15, 0.01)
    done = s.with_training(diffusion.Training("gradient_flow", 1e12))
    np.testing.assert_allclose(done.variance(LAM8), s.variance(LAM8), rtol=1e-11)
    mu = _jet.variable(LAM8)  # and its derivatives (the generalization kernel)
    for a, b in zip(_jet.derivatives(done.variance(mu)), _jet.derivatives(s.variance(mu))):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("process, scheme", [("vp", "em"), ("vp", "heun"), ("ve", "dpmpp_2m"), ("edm", "heun_churn"),
                                             ("vp_cosine", "dpm_2")])
def test_trained_law_equals_particle_chains(process, scheme, z):
    """A score trained for a finite time: the step-by-step law = particles run through the scheme with that score."""
    lam = np.array([1.0, 0.3, 0.05])
    s = Diffusion(process, scheme, "uniform", 20, 0.01).with_training(diffusion.Training("gradient_flow", 0.7,
                                                                                          "identity"))
    n = 20000
    y = particles(s, lam, n, np.random.default_rng(zlib.crc32(f"trained-{process}-{scheme}".encode())))
    F = s.variance(lam)
    se = F * np.sqrt(2.0 / n)
    assert np.all(np.abs(np.mean(y**2, axis=0) - F) <= z * se), (np.mean(y**2, axis=0) - F) / se


def test_trained_denoiser_filters_the_exact_fit():
    """Gradient flow theta* + (theta0 - theta*) e^{-2 c tau}; gradient descent with a small step tends to it; both
    reach the minimiser; an unstable step (2 lr c > 2) is recorded as diverged, not raised."""
    from gaussdsm.dsm import trained_denoiser

    mu, m, s2 = LAM8, 0.8, 0.36
    c = m * m * mu + s2
    star = m * mu / c
    np.testing.assert_allclose(trained_denoiser(mu, m, s2, 0.5), star * (1 - np.exp(-c)), rtol=1e-14)
    np.testing.assert_allclose(trained_denoiser(mu, m, s2, 0.5, "identity"), star + (1 - star) * np.exp(-c),
                               rtol=1e-14)
    gd = trained_denoiser(mu, m, s2, 0.5, lr=1e-5)
    np.testing.assert_allclose(gd, trained_denoiser(mu, m, s2, 0.5), rtol=2e-5)
    np.testing.assert_allclose(trained_denoiser(mu, m, s2, np.inf), star, rtol=0)
    bad = Diffusion("ve", "euler", "uniform", 20, 0.01).with_training(diffusion.Training("gd", 10.0, lr=0.01))
    assert not np.any(bad.stable(LAM8))  # 2 lr c ~ 0.02 sigma_max^2 = 50 > 2 at the first levels
    th = theory.error_terms(LAM8, 1000, sampler="diffusion", process="ve", scheme="euler", n_steps=20, t_min=0.01,
                            fit_method="gd", train_time=10.0, lr=0.01)
    assert int(th["valid"]) == 0


def test_wang_pehlevan_generated_variance_under_the_pf_ode():
    """Wang & Pehlevan 2025 (arXiv 2503.03206): a linear denoiser D(x; sigma) = w x trained by gradient flow on
    E||D(x + sigma eps) - x||^2 at every sigma, w = lam/(lam + sigma^2) (1 - e^{-2 (lam + sigma^2) tau}) (+ e^{...} from
    w = 1), then the probability-flow ODE dx/dsigma = (x - D)/sigma from N(0, sigma_max^2): the generated variance
    sigma_max^2 (lam + sigma_min^2)/(lam + sigma_max^2) exp(-2 I), with I the exponential-integral term (re-derived
    here: zero init I = 1/2 [e^{-2 tau lam}(E1(2 tau s0^2) - E1(2 tau s1^2)) - E1(2 tau (lam + s0^2)) + E1(2 tau (lam
    + s1^2))]; identity init I = -1/2 [E1(2 tau (lam + s0^2)) - E1(2 tau (lam + s1^2))]).  Our EDM process is that
    setting (sigma_t = t): Heun on the EDM grid converges to it."""
    from scipy.special import exp1

    lam, s0, s1 = np.array([4.0, 1.0, 0.25, 0.05]), 0.02, 80.0
    for init, tau in (("zero", 0.3), ("zero", 3.0), ("identity", 0.3)):
        b0, b1 = 2 * tau * (lam + s0**2), 2 * tau * (lam + s1**2)
        if init == "zero":
            I = 0.5 * (np.exp(-2 * tau * lam) * (exp1(2 * tau * s0**2) - exp1(2 * tau * s1**2)) - exp1(b0) + exp1(b1))
        else:
            I = -0.5 * (exp1(b0) - exp1(b1))
        closed = s1**2 * (lam + s0**2) / (lam + s1**2) * np.exp(-2 * I)
        tr = diffusion.Training("gradient_flow", tau, init)
        got = [Diffusion("edm", "heun", "edm", K, s0).with_training(tr).variance(lam) for K in (400, 800)]
        err = [np.max(np.abs(g / closed - 1)) for g in got]
        assert err[1] < 2e-4 and 3.5 < err[0] / err[1] < 4.5, (init, tau, err)  # order 2: a quarter per doubling


@pytest.mark.parametrize("tau", [0.3, 3.0])
def test_trained_generalization_theory_vs_monte_carlo(tau, z):
    """Scores trained for a finite time at every level (gradient flow from 0): the same first-order expansion, with F
    the variance map of training and sampler together, against Monte Carlo over training sets."""
    lam = np.array([1.0, 0.6, 0.3, 0.15, 0.08])
    kw = dict(process="vp", scheme="heun", n_steps=60, t_min=0.02)
    th = theory.error_terms(lam, 400, sampler="diffusion", fit_method="gradient_flow", train_time=tau, **kw)
    s = Diffusion(grid="uniform", **kw).with_training(diffusion.Training("gradient_flow", tau))
    r = mc.monte_carlo_error(lam, 400, 0.0, n_replicates=4000, seed=6, sampler=s)
    gen = float(th["generalization"])
    tol = z * r.stderr + abs(gen) * lam.size / 400
    assert abs(r.mean - float(th["total"])) <= tol, (r, float(th["total"]))
    assert float(th["bias"]) > float(theory.error_terms(lam, np.inf, sampler="diffusion", **kw)["bias"])


@pytest.mark.parametrize("kw, msg", [
    (dict(method="gd"), "fit.lr must be > 0 with fit.method gd"), (dict(method="sgd"), "fit.method must be one of"),
    (dict(method="gradient_flow", train_time=-1.0), "fit.train_time"), (dict(method="gradient_flow", lr=0.1),
                                                                        "fit.lr is only used by fit.method gd"),
    (dict(method="gradient_flow", init="ones"), "fit.init must be one of")])
def test_bad_training_names_the_key(kw, msg):
    with pytest.raises(ValueError, match=msg):
        diffusion.Training(**kw)


def test_trained_scores_need_a_grid():
    tr = diffusion.Training("gradient_flow", 1.0)
    for s, msg in ((Diffusion("ve", "annealed_langevin", n_steps=10), "needs a time grid"),
                   (Diffusion("flow", "euler", "uniform", 10, 0.01), "m_T > 0"),
                   (Diffusion("vp", "em", "uniform", 10, 0.0), "t_min > 0")):
        with pytest.raises(ValueError, match=msg):
            s.with_training(tr)


def test_drawn_noise_training_is_unbiased_for_the_expected_recursion():
    """Gradient descent with the noise drawn at every step: the noise is independent of theta, so E theta follows the
    expected-loss recursion exactly, theta* + (theta0 - theta*)(1 - 2 lr c)^K per eigen-direction of Sigma_hat
    (entrywise within z standard errors over 2000 noise draws)."""
    from gaussdsm.dsm import train_denoisers_drawn, trained_denoiser

    rng = np.random.default_rng(5)
    X = rng.standard_normal((50, 3)) * np.sqrt([1.0, 0.4, 0.1])
    m, s2 = np.array([0.9, 0.6]), np.array([0.19, 0.64])
    draws = np.stack([train_denoisers_drawn(X, m, s2, 0.5, 0.05, rng, "identity") for _ in range(2000)])
    mu, U = np.linalg.eigh(X.T @ X / 50)
    for j in range(2):
        expected = (U * trained_denoiser(mu, m[j], s2[j], 0.5, "identity", lr=0.05)) @ U.T
        mean, se = draws[:, j].mean(0), draws[:, j].std(0, ddof=1) / np.sqrt(2000)
        assert np.all(np.abs(mean - expected) <= 4 * se), (mean - expected) / se
        assert np.all(se > 0) and np.max(np.abs(draws[0, j] - expected)) > 10 * np.max(se)  # the noise is real


@pytest.mark.parametrize("process, scheme", [c for c in TRAINED_CASES if c[0] in ("vp", "edm")])
def test_matrix_law_of_commuting_scores_is_the_variance_map(process, scheme):
    """The steps as d x d maps with a score that commutes with Sigma_hat, A = U diag(a) U^T, give U diag(F) U^T, F
    the variance map of the same trained score (every scheme; standard and exact start; with the Tweedie step)."""
    rng = np.random.default_rng(zlib.crc32(f"matrix-{process}-{scheme}".encode()))
    U = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    mu = np.array([1.2, 0.5, 0.2, 0.05])
    for init, denoise in (("standard", False), ("exact", True)):
        s = Diffusion(process, scheme, "uniform", 12, 0.02, init, denoise=denoise)
        s = s.with_training(diffusion.Training("gd", 0.8, "zero", lr=0.01))
        p, times = s.process, s.score_times()
        a = s.training.score_coefficient(mu, p.m2(times)[:, None], p.s2(times)[:, None])  # (L, d)
        A = dict(zip(times.tolist(), np.einsum("ij,kj,lj->kil", U, a, U)))
        v0 = s.start_variance(mu) * np.ones(4)
        V = s.covariance_with_scores(A.__getitem__, (U * v0) @ U.T)
        F = s.variance(mu)
        if not np.all(np.isfinite(F)):  # this training diverges on edm's long grid: both laws are not finite
            assert not np.all(np.isfinite(V))
            continue
        np.testing.assert_allclose(V, (U * F) @ U.T, rtol=1e-10, atol=1e-13)


def test_drawn_noise_against_the_expected_loss():
    """Monte Carlo of scores trained with the noise drawn (gd, lr 0.02) against the expected-loss fit of the same
    training sets: paired, the difference is within 4 of its standard errors of 0 (it is O(lr): the noise only adds
    fluctuations to an unbiased theta), and the expected one agrees with the first-order theory."""
    lam = np.array([1.0, 0.5, 0.25, 0.125])
    s = Diffusion("vp", "heun", "uniform", 20, 0.05).with_training(diffusion.Training("gd", 2.0, lr=0.02))
    drawn, expected, diff = mc.drawn_noise_monte_carlo_error(lam, 200, s, n_replicates=40, seed=3)
    assert diff.n_valid == 40 and diff.stderr > 0 and abs(diff.mean) <= 4 * diff.stderr, diff
    assert diff.stderr < 0.05 * expected.stderr  # pairing: the difference is measured far below the error's spread
    th = theory.error_terms(lam, 200, sampler="diffusion", scheme="heun", n_steps=20, t_min=0.05, fit_method="gd",
                            train_time=2.0, lr=0.02)
    assert abs(expected.mean - float(th["total"])) <= 4 * expected.stderr + abs(float(th["generalization"])) * 4 / 200


FAST_CASES = [(p, s) for p, s in CASES if diffusion.SCHEMES[s].fast is not None and s != "annealed_langevin"]


@pytest.mark.parametrize("process, scheme", FAST_CASES)
def test_compiled_fast_path_equals_the_law_of_the_step(process, scheme):
    """The compiled loops (exact score) are a fast path only: they give the law derived from the scheme's step
    (values and the first two derivatives), on two grids."""
    mu = np.geomspace(1e-3, 3.0, 40)
    for grid, K in (("uniform", 17), ("edm", 9)):
        s = Diffusion(process, scheme, grid, K, 0.02)
        assert s.compiled
        for x in (mu, _jet.variable(mu)):
            fast, law = s.affine(x, compiled=True), s.affine(x, compiled=False)
            for a, b in zip(fast[:2], law[:2]):
                for fa, fb in zip(_jet.derivatives(a, mu.shape), _jet.derivatives(b, mu.shape)):
                    np.testing.assert_allclose(fb, fa, rtol=1e-9, atol=1e-12 * np.max(np.abs(fa)))
            flags = [r[2] | ~np.isfinite(_jet.value(r[0])) | ~np.isfinite(_jet.value(r[1])) for r in (fast, law)]
            np.testing.assert_array_equal(*flags)  # ddpm with h beta >= 1: NaN in both, flagged


def test_euler_ancestral_is_k_diffusion_sample_euler_ancestral():
    """On EDM (m = 1, sigma = t) the law equals k-diffusion's loop written out per direction: d = (x - D)/sigma,
    x += d (sigma_down - sigma), x += sigma_up z, with get_ancestral_step(eta = 1), D = mu x/(mu + sigma^2)."""
    mu = np.array([2.0, 0.5, 0.01])
    s = Diffusion("edm", "euler_ancestral", "edm", 12, 0.002)
    sig = s.times
    v = np.full(mu.shape, 80.0**2)
    for a, b in zip(sig[:-1], sig[1:]):
        up = min(b, np.sqrt(b**2 * (a**2 - b**2) / a**2))
        down = np.sqrt(b**2 - up**2)
        alpha = 1.0 + (down - a) / a * (1.0 - mu / (mu + a * a))
        v = alpha**2 * v + up**2
    np.testing.assert_allclose(s.variance(mu), v, rtol=1e-12)


def test_ipndm_is_comfyui_sample_ipndm():
    """On EDM the law equals ComfyUI's sample_ipndm loop written out per direction (amplitudes, deterministic):
    Adams-Bashforth in sigma with the last three slopes and order min(i + 1, 4)."""
    mu = np.array([2.0, 0.5, 0.01])
    s = Diffusion("edm", "ipndm", "edm", 10, 0.002)
    sig = s.times
    x, buf = np.ones_like(mu), []
    for i, (a, b) in enumerate(zip(sig[:-1], sig[1:])):
        d = (x - mu * x / (mu + a * a)) / a
        order = min(4, i + 1)
        if order == 1:
            x = x + (b - a) * d
        elif order == 2:
            x = x + (b - a) * (3 * d - buf[-1]) / 2
        elif order == 3:
            x = x + (b - a) * (23 * d - 16 * buf[-1] + 5 * buf[-2]) / 12
        else:
            x = x + (b - a) * (55 * d - 59 * buf[-1] + 37 * buf[-2] - 9 * buf[-3]) / 24
        buf = (buf + [d])[-3:]
    np.testing.assert_allclose(s.variance(mu), x**2 * 80.0**2, rtol=1e-12)
