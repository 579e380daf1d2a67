"""The samplers practitioners pick by name, against k-diffusion's own loops (``k_diffusion/sampling.py``)
transcribed line by line on the linear Gaussian denoiser, per direction.

Each loop runs on linear combinations of independent standard sources (the start and every draw of its noise
sampler; a Brownian path for dpmpp_sde's Brownian-tree sampler), so the law of its output is exact: the variance is
the sum of the squared coefficients.  The loops work in k-diffusion's variable (z = y/m, sigma = sigma_t/m_t) with
the denoiser D(z, sigma) = mu z/(mu + sigma^2) of N(0, mu) data, on EDM (m = 1: k-diffusion literally) and on VP
(the mapping to any process), with grids ending at t_min > 0 and at 0 (k-diffusion's ``append_zero``)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import integrate

from gaussdsm.samplers import Diffusion

MU = np.array([2.0, 0.5, 0.03])


class Sources:
    """Linear combinations over independent standard normals: the start is source 0, each draw a new one."""

    def __init__(self, n: int, size: int = 4000):
        self.n, self.size, self.used = n, size, 1

    def start(self, scale):
        x = np.zeros((self.n, self.size))
        x[:, 0] = scale
        return x

    def draw(self):
        e = np.zeros((self.n, self.size))
        e[:, self.used] = 1.0
        self.used += 1
        return e

    @staticmethod
    def variance(x):
        return np.sum(x**2, axis=1)


def model(x, sigma):
    """The denoiser of N(0, mu) data in k-diffusion's variable: E[x0 | x0 + sigma n = x] = mu x/(mu + sigma^2)."""
    return (MU / (MU + sigma**2))[:, None] * x


def to_d(x, sigma, denoised):
    return (x - denoised) / sigma


def get_ancestral_step(sigma_from, sigma_to, eta=1.0):
    if not eta:
        return sigma_to, 0.0
    sigma_up = min(sigma_to, eta * (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5)
    sigma_down = (sigma_to**2 - sigma_up**2) ** 0.5
    return sigma_down, sigma_up


class BrownianPath:
    """A Brownian motion W(sigma) on a fixed set of levels (independent increments between consecutive ones, W = 0 at
    the lowest), asked as k-diffusion's BrownianTreeNoiseSampler: (W(b) - W(a))/sqrt|b - a|."""

    def __init__(self, src: Sources, levels):
        self.levels = np.unique(np.asarray(levels, dtype=float))
        incs = [np.sqrt(b - a) * src.draw() for a, b in zip(self.levels[:-1], self.levels[1:])]
        self.W = np.cumsum(np.stack([0.0 * incs[0]] + incs), axis=0)

    def __call__(self, sigma, sigma_next):
        i, j = (int(np.argmin(np.abs(self.levels - s))) for s in (sigma, sigma_next))
        assert np.isclose(self.levels[i], sigma) and np.isclose(self.levels[j], sigma_next)
        return (self.W[j] - self.W[i]) / abs(sigma_next - sigma) ** 0.5


# ----------------------------------------------------------------------- k-diffusion's loops (sampling.py)

def sample_euler_ancestral(x, sigmas, noise, eta=1.0, s_noise=1.0):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        d = to_d(x, sigmas[i], denoised)
        x = x + d * (sigma_down - sigmas[i])
        if sigmas[i + 1] > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def _churned(x, sigmas, i, noise, s_churn, s_tmin, s_tmax, s_noise):
    gamma = min(s_churn / (len(sigmas) - 1), 2**0.5 - 1) if s_tmin <= sigmas[i] <= s_tmax else 0.0
    eps = noise(sigmas[i], sigmas[i + 1]) * s_noise
    sigma_hat = sigmas[i] * (gamma + 1)
    if gamma > 0:
        x = x + eps * (sigma_hat**2 - sigmas[i] ** 2) ** 0.5
    return x, sigma_hat


def sample_euler(x, sigmas, noise, s_churn=0.0, s_tmin=0.0, s_tmax=math.inf, s_noise=1.0):
    for i in range(len(sigmas) - 1):
        x, sigma_hat = _churned(x, sigmas, i, noise, s_churn, s_tmin, s_tmax, s_noise)
        d = to_d(x, sigma_hat, model(x, sigma_hat))
        x = x + d * (sigmas[i + 1] - sigma_hat)
    return x


def sample_heun(x, sigmas, noise, s_churn=0.0, s_tmin=0.0, s_tmax=math.inf, s_noise=1.0):
    for i in range(len(sigmas) - 1):
        x, sigma_hat = _churned(x, sigmas, i, noise, s_churn, s_tmin, s_tmax, s_noise)
        d = to_d(x, sigma_hat, model(x, sigma_hat))
        dt = sigmas[i + 1] - sigma_hat
        if sigmas[i + 1] == 0:
            x = x + d * dt
        else:
            x_2 = x + d * dt
            d_2 = to_d(x_2, sigmas[i + 1], model(x_2, sigmas[i + 1]))
            x = x + (d + d_2) / 2 * dt
    return x


def sample_dpm_2(x, sigmas, noise, s_churn=0.0, s_tmin=0.0, s_tmax=math.inf, s_noise=1.0):
    for i in range(len(sigmas) - 1):
        x, sigma_hat = _churned(x, sigmas, i, noise, s_churn, s_tmin, s_tmax, s_noise)
        d = to_d(x, sigma_hat, model(x, sigma_hat))
        if sigmas[i + 1] == 0:
            x = x + d * (sigmas[i + 1] - sigma_hat)
        else:
            sigma_mid = math.exp(0.5 * (math.log(sigma_hat) + math.log(sigmas[i + 1])))
            x_2 = x + d * (sigma_mid - sigma_hat)
            d_2 = to_d(x_2, sigma_mid, model(x_2, sigma_mid))
            x = x + d_2 * (sigmas[i + 1] - sigma_hat)
    return x


def sample_dpm_2_ancestral(x, sigmas, noise, eta=1.0, s_noise=1.0):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        d = to_d(x, sigmas[i], denoised)
        if sigma_down == 0:
            x = x + d * (sigma_down - sigmas[i])
        else:
            sigma_mid = math.exp(0.5 * (math.log(sigmas[i]) + math.log(sigma_down)))
            x_2 = x + d * (sigma_mid - sigmas[i])
            d_2 = to_d(x_2, sigma_mid, model(x_2, sigma_mid))
            x = x + d_2 * (sigma_down - sigmas[i])
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def linear_multistep_coeff(order, t, i, j):
    def fn(tau):
        prod = 1.0
        for k in range(order):
            if j == k:
                continue
            prod *= (tau - t[i - k]) / (t[i - j] - t[i - k])
        return prod
    return integrate.quad(fn, t[i], t[i + 1], epsrel=1e-4)[0]


def sample_lms(x, sigmas, noise, order=4):
    ds = []
    for i in range(len(sigmas) - 1):
        d = to_d(x, sigmas[i], model(x, sigmas[i]))
        ds.append(d)
        if len(ds) > order:
            ds.pop(0)
        cur_order = min(i + 1, order)
        coeffs = [linear_multistep_coeff(cur_order, sigmas, i, j) for j in range(cur_order)]
        x = x + sum(coeff * d for coeff, d in zip(coeffs, reversed(ds)))
    return x


sigma_fn = lambda t: math.exp(-t)  # noqa: E731
t_fn = lambda sigma: -math.log(sigma)  # noqa: E731


def sample_dpmpp_2s_ancestral(x, sigmas, noise, eta=1.0, s_noise=1.0):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        sigma_down, sigma_up = get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        if sigma_down == 0:
            d = to_d(x, sigmas[i], denoised)
            x = x + d * (sigma_down - sigmas[i])
        else:
            t, t_next = t_fn(sigmas[i]), t_fn(sigma_down)
            r = 1 / 2
            h = t_next - t
            s = t + r * h
            x_2 = (sigma_fn(s) / sigma_fn(t)) * x - math.expm1(-h * r) * denoised
            denoised_2 = model(x_2, sigma_fn(s))
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - math.expm1(-h) * denoised_2
        if sigmas[i + 1] > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def sample_dpmpp_sde(x, sigmas, noise, eta=1.0, s_noise=1.0, r=1 / 2):
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        if sigmas[i + 1] == 0:
            d = to_d(x, sigmas[i], denoised)
            x = x + d * (sigmas[i + 1] - sigmas[i])
        else:
            t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
            h = t_next - t
            s = t + h * r
            fac = 1 / (2 * r)
            sd, su = get_ancestral_step(sigma_fn(t), sigma_fn(s), eta)
            s_ = t_fn(sd)
            x_2 = (sigma_fn(s_) / sigma_fn(t)) * x - math.expm1(t - s_) * denoised
            x_2 = x_2 + noise(sigma_fn(t), sigma_fn(s)) * s_noise * su
            denoised_2 = model(x_2, sigma_fn(s))
            sd, su = get_ancestral_step(sigma_fn(t), sigma_fn(t_next), eta)
            t_next_ = t_fn(sd)
            denoised_d = (1 - fac) * denoised + fac * denoised_2
            x = (sigma_fn(t_next_) / sigma_fn(t)) * x - math.expm1(t - t_next_) * denoised_d
            x = x + noise(sigma_fn(t), sigma_fn(t_next)) * s_noise * su
    return x


def sample_dpmpp_2m_sde(x, sigmas, noise, eta=1.0, s_noise=1.0, solver_type="midpoint"):
    old_denoised, h_last = None, None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            t, s = -math.log(sigmas[i]), -math.log(sigmas[i + 1])
            h = s - t
            eta_h = eta * h
            x = sigmas[i + 1] / sigmas[i] * math.exp(-eta_h) * x + -math.expm1(-h - eta_h) * denoised
            if old_denoised is not None:
                r = h_last / h
                if solver_type == "heun":
                    x = x + (-math.expm1(-h - eta_h) / (-h - eta_h) + 1) * (1 / r) * (denoised - old_denoised)
                elif solver_type == "midpoint":
                    x = x + 0.5 * -math.expm1(-h - eta_h) * (1 / r) * (denoised - old_denoised)
            if eta:
                x = x + noise(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * (-math.expm1(-2 * eta_h)) ** 0.5 * s_noise
        old_denoised = denoised
        h_last = h
    return x


def sample_dpmpp_3m_sde(x, sigmas, noise, eta=1.0, s_noise=1.0):
    denoised_1, denoised_2 = None, None
    h, h_1, h_2 = None, None, None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            t, s = -math.log(sigmas[i]), -math.log(sigmas[i + 1])
            h = s - t
            h_eta = h * (eta + 1)
            x = math.exp(-h_eta) * x + -math.expm1(-h_eta) * denoised
            if h_2 is not None:
                r0 = h_1 / h
                r1 = h_2 / h
                d1_0 = (denoised - denoised_1) / r0
                d1_1 = (denoised_1 - denoised_2) / r1
                d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
                d2 = (d1_0 - d1_1) / (r0 + r1)
                phi_2 = math.expm1(-h_eta) / h_eta + 1
                phi_3 = phi_2 / h_eta - 0.5
                x = x + phi_2 * d1 - phi_3 * d2
            elif h_1 is not None:
                r = h_1 / h
                d = (denoised - denoised_1) / r
                phi_2 = math.expm1(-h_eta) / h_eta + 1
                x = x + phi_2 * d
            if eta:
                x = x + noise(sigmas[i], sigmas[i + 1]) * sigmas[i + 1] * (-math.expm1(-2 * h * eta)) ** 0.5 * s_noise
        denoised_1, denoised_2 = denoised, denoised_1
        h_1, h_2 = h, h_1
    return x


# ----------------------------------------------------------------------- gaussdsm against them

LOOPS = {
    "euler_ancestral": (sample_euler_ancestral, ("eta", "s_noise")),
    "dpm_2_ancestral": (sample_dpm_2_ancestral, ("eta", "s_noise")),
    "dpmpp_2s_ancestral": (sample_dpmpp_2s_ancestral, ("eta", "s_noise")),
    "dpmpp_sde": (sample_dpmpp_sde, ("eta", "s_noise")),
    "dpmpp_2m_sde": (sample_dpmpp_2m_sde, ("eta", "s_noise")),
    "dpmpp_2m_sde_heun": (lambda *a, **k: sample_dpmpp_2m_sde(*a, **k, solver_type="heun"), ("eta", "s_noise")),
    "dpmpp_3m_sde": (sample_dpmpp_3m_sde, ("eta", "s_noise")),
    "lms": (sample_lms, ()),
    "k_euler": (sample_euler, ("churn",)),
    "k_heun": (sample_heun, ("churn",)),
    "k_dpm_2": (sample_dpm_2, ("churn",)),
}

GRIDS = {  # (process, grid): EDM on Karras's grid (ending at 0.002, and at 0), VP on a uniform grid in t
    "edm": ("edm", "edm", 12, 0.002),
    "edm_to_zero": ("edm", None, 12, 0.0),
    "vp": ("vp", "uniform", 15, 0.01),
}


def _run(name, case, eta, s_noise, churn):
    process, grid, K, t_min = GRIDS[case]
    if grid is None:  # Karras's sigmas with k-diffusion's append_zero: K - 1 levels down to 0.002, then 0
        rho, smin, smax = 7.0, 0.002, 80.0
        ramp = np.linspace(0, 1, K)
        grid = list((smax ** (1 / rho) + ramp * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho) + [0.0]
    kw = dict(eta=eta, noise_scale=s_noise)
    if churn is not None:
        kw.update(s_churn=churn[0], s_tmin=churn[1], s_tmax=churn[2], s_noise=churn[3])
    s = Diffusion(process, name, grid, K, t_min, "standard", **kw)
    t, p = s.times, s.process
    m = np.sqrt(p.m2(t))
    sigmas = np.sqrt(p.s2(t)) / m
    loop, takes = LOOPS[name]
    args = {}
    if "eta" in takes:
        args = dict(eta=eta, s_noise=s_noise)
    if "churn" in takes:
        args = dict(zip(("s_churn", "s_tmin", "s_tmax", "s_noise"), churn))
    src = Sources(MU.size)
    if name == "dpmpp_sde":  # its Brownian tree is asked on [sigma_s, sigma] and [sigma_next, sigma] each step
        lv = list(sigmas) + [math.sqrt(a * b) for a, b in zip(sigmas[:-1], sigmas[1:]) if b > 0]
        noise = BrownianPath(src, lv)
    else:
        noise = lambda a, b: src.draw()  # noqa: E731  # default_noise_sampler: a fresh draw per call
    x = loop(src.start(math.sqrt(s.start_variance(MU)) / m[0]), sigmas, noise, **args)
    return s.variance(MU), m[-1] ** 2 * Sources.variance(x)


@pytest.mark.parametrize("case", list(GRIDS))
@pytest.mark.parametrize("name", [n for n, (_, takes) in LOOPS.items() if "eta" in takes])
def test_ancestral_and_sde_samplers_are_k_diffusions(name, case):
    for eta, s_noise in ((1.0, 1.0), (0.6, 1.1), (0.0, 1.0)):
        got, ref = _run(name, case, eta, s_noise, None)
        np.testing.assert_allclose(got, ref, rtol=1e-12, err_msg=f"{name} {case} eta={eta}")


@pytest.mark.parametrize("case", list(GRIDS))
@pytest.mark.parametrize("name", ["k_euler", "k_heun", "k_dpm_2"])
def test_churn_samplers_are_k_diffusions(name, case):
    """k-diffusion's churn: gamma = min(S_churn / (len(sigmas) - 1), sqrt 2 - 1) where s_tmin <= sigma <= s_tmax
    (inf allowed), the final step to 0 churned too when s_tmin <= its start."""
    for churn in ((0.0, 0.0, math.inf, 1.0), (40.0, 0.0, math.inf, 1.003), (80.0, 0.05, 50.0, 1.003)):
        got, ref = _run(name, case, 1.0, 1.0, churn)
        np.testing.assert_allclose(got, ref, rtol=1e-12, err_msg=f"{name} {case} churn={churn}")


@pytest.mark.parametrize("case", list(GRIDS))
def test_lms_is_k_diffusions_sample_lms(case):
    """The Gauss-Legendre coefficients are k-diffusion's linear_multistep_coeff (scipy's quad, epsrel 1e-4)."""
    got, ref = _run("lms", case, 1.0, 1.0, None)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_euler_ancestral_with_eta_is_ddim_with_eta():
    """DDIM (Song, Meng & Ermon 2021, eq. 12; diffusers' DDIMScheduler.step) on VP with alpha_bar = m^2:
    x' = sqrt(ab') x0 + sqrt(1 - ab' - s^2) eps + s z, s = eta sqrt((1 - ab')/(1 - ab)) sqrt(1 - ab/ab'), is
    euler_ancestral with the same eta (eta <= 1), per direction with x0 = sqrt(ab) mu a x, eps = sqrt(1 - ab) a x."""
    mu = MU
    for eta in (0.3, 1.0):
        s = Diffusion("vp", "euler_ancestral", "uniform", 20, 0.01, "standard", eta=eta)
        ab = s.process.m2(s.times)
        v = np.ones_like(mu)
        for a, b in zip(ab[:-1], ab[1:]):
            c = 1.0 / (a * mu + 1.0 - a)
            sd = eta * np.sqrt((1 - b) / (1 - a)) * np.sqrt(1 - a / b)
            alpha = np.sqrt(b) * np.sqrt(a) * mu * c + np.sqrt(1 - b - sd**2) * np.sqrt(1 - a) * c
            v = alpha**2 * v + sd**2
        np.testing.assert_allclose(s.variance(mu), v, rtol=1e-12)
    zero = Diffusion("vp", "euler_ancestral", "uniform", 20, 0.01, eta=0.0).variance(mu)
    np.testing.assert_allclose(zero, Diffusion("vp", "ddim", "uniform", 20, 0.01).variance(mu), rtol=1e-12)
    np.testing.assert_allclose(Diffusion("vp", "k_euler", "uniform", 20, 0.01, s_churn=0.0).variance(mu),
                               Diffusion("vp", "ddim", "uniform", 20, 0.01).variance(mu), rtol=1e-12)


@pytest.mark.parametrize("kw, key", [(dict(eta=-0.1), "sampler.eta"), (dict(noise_scale=-1.0), "sampler.noise_scale"),
                                     (dict(eta=0.5, n_steps=math.inf), "sampler.eta"),
                                     (dict(noise_scale=1.1, n_steps=math.inf), "sampler.noise_scale"),
                                     (dict(scheme="k_heun", n_steps=math.inf), "sampler.scheme"),
                                     (dict(process="flow", T=1.0), "sampler.scheme"),
                                     (dict(s_tmax=-1.0), "sampler.s_tmax")])
def test_bad_settings_of_the_named_samplers_name_the_key(kw, key):
    args = {"process": "vp", "scheme": "dpmpp_2m_sde", "n_steps": 10, "t_min": 1e-3, **kw}
    with pytest.raises(ValueError, match=key.replace(".", "\\.")):
        Diffusion(**args)
    Diffusion("edm", "k_heun", "edm", 10, 0.002, s_tmax=math.inf)  # k-diffusion's default s_tmax


def test_continuous_time_law_of_the_ancestral_samplers_is_the_reverse_sde():
    """At eta = 1 (and s_noise = 1) the ancestral and SDE samplers converge to the reverse SDE's law."""
    F_inf = Diffusion("vp", "em", n_steps=math.inf, t_min=0.01).variance(MU)
    for name, order in (("euler_ancestral", 1), ("dpmpp_2m_sde", 2), ("dpmpp_sde", 2), ("dpmpp_3m_sde", 2)):
        assert np.allclose(Diffusion("vp", name, n_steps=math.inf, t_min=0.01).variance(MU), F_inf, rtol=1e-14)
        gaps = [np.max(np.abs(Diffusion("vp", name, "uniform", K, 0.01).variance(MU) / F_inf - 1)) for K in (1000, 2000)]
        assert gaps[1] < 3e-2 and abs(gaps[0] / gaps[1] - 2**order) < 0.1 * 2**order, (name, gaps)


def test_dpmpp_3m_is_second_order_by_its_formula_not_its_start():
    """sample_dpmpp_3m_sde at eta = 0 (DPM-Solver++(3M)): one step from exact history on dx/dlambda = D - x with a
    quadratic D has exactly half the D'' part of the exact step as error (-phi_3 d_2 = (h^2 - 2h + 2 - 2e^-h)/4 x
    D''/2 of the needed /2); and gaussdsm's law keeps its slope -2 when its two start-up steps are made O(h^2) short."""
    h, lam0, c = 0.3, 0.7, 1.3  # D(lam) = c lam^2, equal steps
    Dq = lambda lam: c * lam**2  # noqa: E731
    m0, m1, m2 = Dq(lam0), Dq(lam0 - h), Dq(lam0 - 2 * h)
    d1_0, d1_1 = m0 - m1, m1 - m2
    d1, d2 = d1_0 + (d1_0 - d1_1) / 2, (d1_0 - d1_1) / 2
    phi_2 = math.expm1(-h) / h + 1
    phi_3 = phi_2 / h - 0.5
    step = -math.expm1(-h) * m0 + phi_2 * d1 - phi_3 * d2  # the step's part beyond e^-h x
    e0, e1, e2 = -math.expm1(-h), h + math.expm1(-h), h**2 - 2 * h - 2 * math.expm1(-h)  # int e^-(h-u) u^n du
    exact = c * (lam0**2 * e0 + 2 * lam0 * e1 + e2)  # int_0^h e^-(h-u) D(lam0 + u) du
    second = c * e2  # the D'' = 2c part of the exact step
    assert exact - step == pytest.approx(second / 2, rel=1e-8)
    lam = np.array([1.0, 0.3, 0.05])
    ref = Diffusion("vp", "euler", "uniform", 10, 0.05).reference(lam)
    slopes = []
    for short in (False, True):
        w = []
        for K in (200, 400):
            t = np.linspace(1.0, 0.05, K + 1)
            if short:
                d = (t[0] - t[1]) ** 2
                t = np.concatenate([[1.0, 1.0 - d, 1.0 - 2 * d], t[1:]])
            F = Diffusion("vp", "dpmpp_3m_sde", list(t), init="exact", eta=0.0).variance(lam)
            w.append(np.sqrt(np.sum((np.sqrt(F) - np.sqrt(ref)) ** 2)))
        slopes.append(math.log2(w[1] / w[0]))
    assert abs(slopes[0] + 2) < 0.1 and abs(slopes[1] - slopes[0]) < 0.02, slopes


# ----------------------------------------------------------------------- ComfyUI's uni_pc and deis

def _sigma_convert(sig):
    """ComfyUI's SigmaConvert: (alpha, std, lambda) of the VP variable x = z / sqrt(1 + sigma^2)."""
    log_alpha = 0.5 * math.log(1.0 / (sig**2 + 1.0))
    alpha = math.exp(log_alpha)
    std = math.sqrt(1.0 - math.exp(2.0 * log_alpha))
    return alpha, std, log_alpha - 0.5 * math.log(1.0 - math.exp(2.0 * log_alpha))


def _uni_pc_bh_update(x, model_prev_list, t_prev_list, t, order, use_corrector, variant):
    """UniPC.multistep_uni_pc_bh_update with predict_x0 (wl-zhao/UniPC as in ComfyUI), for one sample."""
    t_prev_0 = t_prev_list[-1]
    lambda_prev_0 = _sigma_convert(t_prev_0)[2]
    alpha_t, sigma_t, lambda_t = _sigma_convert(t)
    sigma_prev_0 = _sigma_convert(t_prev_0)[1]
    model_prev_0 = model_prev_list[-1]
    h = lambda_t - lambda_prev_0
    rks, D1s = [], []
    for i in range(1, order):
        t_prev_i = t_prev_list[-(i + 1)]
        rk = (_sigma_convert(t_prev_i)[2] - lambda_prev_0) / h
        rks.append(rk)
        D1s.append((model_prev_list[-(i + 1)] - model_prev_0) / rk)
    rks.append(1.0)
    rks = np.array(rks)
    hh = -h
    h_phi_1 = math.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1
    factorial_i = 1
    B_h = hh if variant == "bh1" else math.expm1(hh)
    R, b = [], []
    for i in range(1, order + 1):
        R.append(rks ** (i - 1))
        b.append(h_phi_k * factorial_i / B_h)
        factorial_i *= i + 1
        h_phi_k = h_phi_k / hh - 1 / factorial_i
    R, b = np.stack(R), np.array(b)
    rhos_p = None
    if D1s:
        rhos_p = np.array([0.5]) if order == 2 else np.linalg.solve(R[:-1, :-1], b[:-1])
    rhos_c = np.array([0.5]) if order == 1 else np.linalg.solve(R, b)
    x_t_ = sigma_t / sigma_prev_0 * x - alpha_t * h_phi_1 * model_prev_0
    pred_res = sum(r * d for r, d in zip(rhos_p, D1s)) if D1s else 0
    x_t = x_t_ - alpha_t * B_h * pred_res
    model_t = None
    if use_corrector:
        model_t = _uni_pc_model(x_t, t)
        corr_res = sum(r * d for r, d in zip(rhos_c[:-1], D1s)) if D1s else 0
        x_t = x_t_ - alpha_t * B_h * (corr_res + rhos_c[-1] * (model_t - model_prev_0))
    return x_t, model_t


def _uni_pc_model(x, sig):
    """ComfyUI's data prediction through predict_eps_sigma: the denoiser at z = x sqrt(1 + sigma^2)."""
    return model(x * math.sqrt(1.0 + sig**2), sig)


def sample_unipc(x, sigmas, noise, variant="bh1"):
    """ComfyUI's sample_unipc and UniPC.sample(method='multistep', lower_order_final=True)."""
    timesteps = list(sigmas)
    x = x / math.sqrt(1.0 + timesteps[0] ** 2)
    order = min(3, len(timesteps) - 2)
    steps = len(timesteps) - 1
    for step_index in range(steps):
        if step_index == 0:
            model_prev_list, t_prev_list = [_uni_pc_model(x, timesteps[0])], [timesteps[0]]
        elif step_index < order:
            init_order = step_index
            x, model_x = _uni_pc_bh_update(x, model_prev_list, t_prev_list, timesteps[init_order], init_order, True,
                                           variant)
            model_prev_list.append(model_x)
            t_prev_list.append(timesteps[init_order])
        else:
            extra_final_step = 1 if step_index == steps - 1 else 0
            for step in range(step_index, step_index + 1 + extra_final_step):
                step_order = min(order, steps + 1 - step)
                use_corrector = step != steps
                x, model_x = _uni_pc_bh_update(x, model_prev_list, t_prev_list, timesteps[step], step_order,
                                               use_corrector, variant)
                for i in range(order - 1):
                    t_prev_list[i] = t_prev_list[i + 1]
                    model_prev_list[i] = model_prev_list[i + 1]
                t_prev_list[-1] = timesteps[step]
                if step < steps:
                    model_prev_list[-1] = model_x
    return x / _sigma_convert(timesteps[-1])[0]


def _edm2t(sig, epsilon_s=1e-3, sigma_min=0.002, sigma_max=80.0):
    beta_d = 2 * (math.log(sigma_min**2 + 1) / epsilon_s - math.log(sigma_max**2 + 1)) / (epsilon_s - 1)
    beta_min = math.log(sigma_max**2 + 1) - 0.5 * beta_d
    t = (np.sqrt(beta_min**2 + 2 * beta_d * np.log(np.asarray(sig) ** 2 + 1)) - beta_min) / beta_d
    return t, beta_min, beta_d + beta_min


def get_deis_coeff_list(sigmas, max_order, riemann=None):
    """ComfyUI's deis.get_deis_coeff_list (deis_mode 'tab'): the integral of the Lagrange basis in the fitted VP time
    against -1/2 dlog(alpha)/dtau / sqrt(alpha (1 - alpha)), by scipy's quad (``riemann``: ComfyUI's own sum of that
    many points)."""
    t_steps, beta_0, beta_1 = _edm2t(sigmas)

    def integrand(tau):
        log_alpha = -0.5 * tau**2 * (beta_1 - beta_0) - tau * beta_0
        alpha = np.exp(log_alpha)
        return -0.5 * (-tau * (beta_1 - beta_0) - beta_0) / np.sqrt(alpha * (1 - alpha))

    C = []
    for i, (t_cur, t_next) in enumerate(zip(t_steps[:-1], t_steps[1:])):
        order = min(i + 1, max_order)
        if order == 1 or t_next <= 0:  # (ComfyUI computes the step to 0 too, unused: that step is Euler)
            C.append([])
            continue
        prev_t = t_steps[[i - k for k in range(order)]]

        def poly(tau, j):
            out = 1.0
            for k in range(order):
                if k != j:
                    out = out * (tau - prev_t[k]) / (prev_t[j] - prev_t[k])
            return out

        if riemann:
            taus = np.linspace(t_cur, t_next, riemann)
            C.append([np.sum(integrand(taus) * poly(taus, j)) * (t_next - t_cur) / riemann for j in range(order)])
        else:
            with warnings.catch_warnings():  # quad reports roundoff on the shortest steps, at the 1e-13 level
                warnings.simplefilter("ignore", integrate.IntegrationWarning)
                C.append([integrate.quad(lambda u: integrand(u) * poly(u, j), t_cur, t_next, epsabs=0, epsrel=1e-12,
                                         limit=200)[0] for j in range(order)])
    return C


def sample_deis(x, sigmas, noise, max_order=3, riemann=None):
    """ComfyUI's sample_deis (zju-pi/diff-sampler)."""
    coeff_list = get_deis_coeff_list(np.asarray(sigmas), max_order, riemann)
    buffer_model = []
    for i in range(len(sigmas) - 1):
        t_cur, t_next = sigmas[i], sigmas[i + 1]
        d_cur = (x - model(x, t_cur)) / t_cur
        order = min(max_order, i + 1)
        if t_next <= 0:
            order = 1
        if order == 1:
            x = x + (t_next - t_cur) * d_cur
        else:
            coeffs = coeff_list[i]
            x = x + coeffs[0] * d_cur + sum(c * buffer_model[-1 - j] for j, c in enumerate(coeffs[1:]))
        if len(buffer_model) == max_order - 1:
            for k in range(max_order - 2):
                buffer_model[k] = buffer_model[k + 1]
            buffer_model[-1] = d_cur
        else:
            buffer_model.append(d_cur)
    return x


LOOPS.update({"uni_pc": (sample_unipc, ()), "uni_pc_bh2": (lambda *a: sample_unipc(*a, variant="bh2"), ()),
              "deis": (sample_deis, ())})


@pytest.mark.parametrize("case", ["edm", "vp"])
@pytest.mark.parametrize("name", ["uni_pc", "uni_pc_bh2"])
def test_uni_pc_is_comfyuis_sample_unipc(name, case):
    """The multistep predictor-corrector in ComfyUI's VP variable (SigmaConvert) = gaussdsm's in y/m_t."""
    got, ref = _run(name, case, 1.0, 1.0, None)
    np.testing.assert_allclose(got, ref, rtol=1e-11)  # the weights solve small linear systems: 1e-12 measured
    for K in (2, 3, 4):  # the orders of short grids: min(3, K - 1), lower orders at both ends
        s = Diffusion("edm", name, "edm", K, 0.002)
        x = LOOPS[name][0](Sources(MU.size).start(80.0), s.times, None)
        np.testing.assert_allclose(s.variance(MU), Sources.variance(x), rtol=1e-11)


@pytest.mark.parametrize("case", list(GRIDS))
def test_deis_is_comfyuis_sample_deis(case):
    """ComfyUI's tab coefficients integrated exactly (quad); its own 10 000-point Riemann sum is within 1e-3."""
    got, ref = _run("deis", case, 1.0, 1.0, None)
    np.testing.assert_allclose(got, ref, rtol=1e-11)
    s = Diffusion("edm", "deis", "edm", 12, 0.002)
    x = sample_deis(Sources(MU.size).start(80.0), s.times, None, riemann=10000)
    rel = np.max(np.abs(Sources.variance(x) / s.variance(MU) - 1))
    assert 1e-7 < rel < 1e-3, rel


# ----------------------------------------------------------------------- diffusers' UniPC and DEIS

def _alpha_sigma(sig):
    """diffusers' _sigma_to_alpha_sigma_t: (alpha_t, sigma_t) of the VP variable x_t = alpha_t z."""
    alpha = 1.0 / np.sqrt(sig**2 + 1.0)
    return alpha, sig * alpha


def _lambda(sig):
    alpha, sigma = _alpha_sigma(np.float64(sig))
    with np.errstate(divide="ignore"):
        return np.log(alpha) - np.log(sigma)


def _eps_model(x, sig):
    """The exact noise prediction of the VP sample x_t at noise level sig: (x_t - alpha_t D(z, sig))/sigma_t."""
    alpha, sigma = _alpha_sigma(sig)
    return (x - alpha * model(x / alpha, sig)) / sigma


class UniPCMultistep:
    """diffusers' UniPCMultistepScheduler.step (predict_x0, lower_order_final, disable_corrector []) on a σ̃ list
    ``sigmas`` (its ``self.sigmas``: K levels then the final one), for the VP sample."""

    def __init__(self, sigmas, solver_order, solver_type):
        self.sigmas, self.solver_order, self.solver_type = [np.float64(v) for v in sigmas], solver_order, solver_type
        self.model_outputs = [None] * solver_order
        self.lower_order_nums, self.last_sample, self.this_order = 0, None, None

    def convert_model_output(self, eps, sample, j):
        alpha_t, sigma_t = _alpha_sigma(self.sigmas[j])
        return (sample - sigma_t * eps) / alpha_t

    def _phi(self, h, order, rks):
        hh = -h
        h_phi_1 = np.expm1(hh)
        h_phi_k = h_phi_1 / hh - 1
        factorial_i = 1
        B_h = hh if self.solver_type == "bh1" else np.expm1(hh)
        R, b = [], []
        for i in range(1, order + 1):
            R.append(np.asarray(rks) ** (i - 1))
            b.append(h_phi_k * factorial_i / B_h)
            factorial_i *= i + 1
            h_phi_k = h_phi_k / hh - 1 / factorial_i
        return np.stack(R), np.array(b), h_phi_1, B_h

    def uni_p(self, x, order, j):
        m0 = self.model_outputs[-1]
        alpha_t, sigma_t = _alpha_sigma(self.sigmas[j + 1])
        alpha_s0, sigma_s0 = _alpha_sigma(self.sigmas[j])
        lambda_s0 = _lambda(self.sigmas[j])
        h = _lambda(self.sigmas[j + 1]) - lambda_s0
        rks, D1s = [], []
        for i in range(1, order):
            rk = (_lambda(self.sigmas[j - i]) - lambda_s0) / h
            rks.append(rk)
            D1s.append((self.model_outputs[-(i + 1)] - m0) / rk)
        R, b, h_phi_1, B_h = self._phi(h, order, rks + [1.0])
        x_t_ = sigma_t / sigma_s0 * x - alpha_t * h_phi_1 * m0
        pred_res = 0.0
        if D1s:
            rhos_p = np.array([0.5]) if order == 2 else np.linalg.solve(R[:-1, :-1], b[:-1])
            pred_res = sum(r * d for r, d in zip(rhos_p, D1s))
        return x_t_ - alpha_t * B_h * pred_res

    def uni_c(self, model_t, last_sample, order, j):
        m0 = self.model_outputs[-1]
        alpha_t, sigma_t = _alpha_sigma(self.sigmas[j])
        alpha_s0, sigma_s0 = _alpha_sigma(self.sigmas[j - 1])
        lambda_s0 = _lambda(self.sigmas[j - 1])
        h = _lambda(self.sigmas[j]) - lambda_s0
        rks, D1s = [], []
        for i in range(1, order):
            rk = (_lambda(self.sigmas[j - (i + 1)]) - lambda_s0) / h
            rks.append(rk)
            D1s.append((self.model_outputs[-(i + 1)] - m0) / rk)
        R, b, h_phi_1, B_h = self._phi(h, order, rks + [1.0])
        rhos_c = np.array([0.5]) if order == 1 else np.linalg.solve(R, b)
        x_t_ = sigma_t / sigma_s0 * last_sample - alpha_t * h_phi_1 * m0
        corr_res = sum(r * d for r, d in zip(rhos_c[:-1], D1s)) if D1s else 0
        return x_t_ - alpha_t * B_h * (corr_res + rhos_c[-1] * (model_t - m0))

    def step(self, eps, sample, j):
        n = len(self.sigmas) - 1
        use_corrector = j > 0 and self.last_sample is not None
        m = self.convert_model_output(eps, sample, j)
        if use_corrector:
            sample = self.uni_c(m, self.last_sample, self.this_order, j)
        for i in range(self.solver_order - 1):
            self.model_outputs[i] = self.model_outputs[i + 1]
        self.model_outputs[-1] = m
        self.this_order = min(min(self.solver_order, n - j), self.lower_order_nums + 1)
        self.last_sample = sample
        prev = self.uni_p(sample, self.this_order, j)
        self.lower_order_nums = min(self.lower_order_nums + 1, self.solver_order)
        return prev


class DEISMultistep:
    """diffusers' DEISMultistepScheduler.step (deis, logrho, lower_order_final) on a σ̃ list, for the VP sample."""

    def __init__(self, sigmas, solver_order):
        self.sigmas, self.solver_order = [np.float64(v) for v in sigmas], solver_order
        self.model_outputs = [None] * solver_order
        self.lower_order_nums = 0

    def step(self, eps, sample, j):
        n = len(self.sigmas) - 1
        lower_order_final = j == n - 1 and n < 15
        lower_order_second = j == n - 2 and n < 15
        alpha_s, sigma_s = _alpha_sigma(self.sigmas[j])
        x0 = (sample - sigma_s * eps) / alpha_s
        eps = (sample - alpha_s * x0) / sigma_s
        for i in range(self.solver_order - 1):
            self.model_outputs[i] = self.model_outputs[i + 1]
        self.model_outputs[-1] = eps
        rho = [self.sigmas[j + 1], self.sigmas[j]] + [self.sigmas[j - i] for i in (1, 2) if j - i >= 0]
        alpha_t, sigma_t = _alpha_sigma(rho[0])
        if self.solver_order == 1 or self.lower_order_nums < 1 or lower_order_final:
            h = _lambda(rho[0]) - _lambda(rho[1])
            prev = (alpha_t / alpha_s) * sample - (sigma_t * (np.exp(h) - 1.0)) * eps
        elif self.solver_order == 2 or self.lower_order_nums < 2 or lower_order_second:
            def ind_fn(t, b, c):
                return t * (-np.log(c) + np.log(t) - 1) / (np.log(b) - np.log(c))
            m0, m1 = self.model_outputs[-1], self.model_outputs[-2]
            rho_t, rho_s0, rho_s1 = rho[:3]
            coef1 = ind_fn(rho_t, rho_s0, rho_s1) - ind_fn(rho_s0, rho_s0, rho_s1)
            coef2 = ind_fn(rho_t, rho_s1, rho_s0) - ind_fn(rho_s0, rho_s1, rho_s0)
            prev = alpha_t * (sample / alpha_s + coef1 * m0 + coef2 * m1)
        else:
            def ind_fn(t, b, c, d):
                numerator = t * (np.log(c) * (np.log(d) - np.log(t) + 1) - np.log(d) * np.log(t) + np.log(d)
                                 + np.log(t) ** 2 - 2 * np.log(t) + 2)
                return numerator / ((np.log(b) - np.log(c)) * (np.log(b) - np.log(d)))
            m0, m1, m2 = self.model_outputs[-1], self.model_outputs[-2], self.model_outputs[-3]
            rho_t, rho_s0, rho_s1, rho_s2 = rho
            coef1 = ind_fn(rho_t, rho_s0, rho_s1, rho_s2) - ind_fn(rho_s0, rho_s0, rho_s1, rho_s2)
            coef2 = ind_fn(rho_t, rho_s1, rho_s2, rho_s0) - ind_fn(rho_s0, rho_s1, rho_s2, rho_s0)
            coef3 = ind_fn(rho_t, rho_s2, rho_s0, rho_s1) - ind_fn(rho_s0, rho_s2, rho_s0, rho_s1)
            prev = alpha_t * (sample / alpha_s + coef1 * m0 + coef2 * m1 + coef3 * m2)
        self.lower_order_nums = min(self.lower_order_nums + 1, self.solver_order)
        return prev


def _diffusers_loop(scheduler, s, final):
    """gaussdsm's law of sampler ``s`` and the variance of the diffusers scheduler's loop on the same σ̃ levels
    (``final``: 'zero' appends diffusers' step to σ = 0, gaussdsm's ``denoise``, whose output is x_0; 'sigma_min' ends
    at t_min, y = m z)."""
    t, p = s.times, s.process
    m = np.sqrt(p.m2(t))
    sig = np.sqrt(p.s2(t)) / m
    sigmas = list(sig) + ([0.0] if final == "zero" else [])
    sched = scheduler(sigmas)
    x = Sources(MU.size).start(math.sqrt(s.start_variance(MU)) / m[0]) * _alpha_sigma(sig[0])[0]  # x_T = alpha z_T
    for j in range(len(sigmas) - 1):
        x = sched.step(_eps_model(x, sigmas[j]), x, j)
    z = x / _alpha_sigma(np.float64(sigmas[-1]))[0]
    scale = 1.0 if final == "zero" else m[-1] ** 2  # the data prediction is x_0 itself (gaussdsm's denoise)
    return s.variance(MU), scale * Sources.variance(z)


@pytest.mark.parametrize("process, grid, t_min", [("edm", "edm", 0.002), ("vp", "uniform", 0.01)])
@pytest.mark.parametrize("name", ["unipc_bh1", "unipc_bh2", "unipc_bh1_3", "unipc_bh2_3"])
def test_unipc_is_diffusers_unipc_multistep(name, process, grid, t_min):
    """Orders 2 and 3, bh1 and bh2, K = 1 … 5 and 13, with diffusers' final step to σ = 0 (``final_sigmas_type``
    'zero' = ``denoise``; bh1 is NaN there in diffusers, B(h) = -h = -inf, so bh2 only) and without ('sigma_min')."""
    order, bh = (3 if name.endswith("_3") else 2), name.split("_")[1]
    for K in (1, 2, 3, 4, 5, 13):
        for final in ("sigma_min", "zero") if bh == "bh2" else ("sigma_min",):
            s = Diffusion(process, name, grid, K, t_min, "standard", denoise=final == "zero")
            got, ref = _diffusers_loop(lambda sg: UniPCMultistep(sg, order, bh), s, final)
            np.testing.assert_allclose(got, ref, rtol=1e-11, err_msg=f"{name} {process} K={K} {final}")


def test_diffusers_unipc_bh1_to_zero_is_nan_and_its_limit_is_the_denoising():
    """diffusers' bh1 with ``final_sigmas_type='zero'``: NaN (its library issue); gaussdsm's ``denoise`` is the limit
    of its step to σ → 0, which is bh2's (the predictor of order 1 returns the data prediction for either B(h))."""
    s = Diffusion("edm", "unipc_bh1", "edm", 6, 0.002, denoise=True)
    with np.errstate(invalid="ignore"):
        assert np.all(np.isnan(_diffusers_loop(lambda sg: UniPCMultistep(sg, 2, "bh1"), s, "zero")[1]))
    tiny = list(s.times) + [1e-12]
    np.testing.assert_allclose(s.variance(MU), _diffusers_loop(lambda sg: UniPCMultistep(sg, 2, "bh1"),
                                                               Diffusion("edm", "unipc_bh1", tiny), "sigma_min")[1],
                               rtol=1e-9)


def test_comfyuis_uni_pc_is_diffusers_order_3_without_the_step_to_zero():
    for bh, comfy in (("bh1", "uni_pc"), ("bh2", "uni_pc_bh2")):
        for K in (2, 3, 7):
            a = Diffusion("vp", comfy, "karras", K, 0.01).variance(MU)
            np.testing.assert_array_equal(a, Diffusion("vp", f"unipc_{bh}_3", "karras", K, 0.01).variance(MU))
            assert not np.allclose(Diffusion("vp", comfy, "karras", K, 0.01, denoise=True).variance(MU),
                                   Diffusion("vp", f"unipc_{bh}_3", "karras", K, 0.01, denoise=True).variance(MU),
                                   rtol=1e-6, atol=0)


@pytest.mark.parametrize("process, grid, t_min", [("edm", "edm", 0.002), ("vp", "uniform", 0.01)])
@pytest.mark.parametrize("name", ["deis_logrho", "deis_logrho_3"])
def test_deis_logrho_is_diffusers_deis_multistep(name, process, grid, t_min):
    """Orders 2 and 3 with diffusers' lower orders at the start and (below 15 steps) at the end: K = 1 … 4, 14, 15,
    16."""
    order = 3 if name.endswith("_3") else 2
    for K in (1, 2, 3, 4, 14, 15, 16):
        s = Diffusion(process, name, grid, K, t_min)
        got, ref = _diffusers_loop(lambda sg: DEISMultistep(sg, order), s, "sigma_min")
        # 7e-11 measured at K = 1 on edm (80 -> 0.002): the VP variable's (alpha_t/alpha_s) x - sigma_t (e^h - 1) eps
        # with e^h = 4e4 cancels where gaussdsm's z + (rho_t - rho_s) eps does not
        np.testing.assert_allclose(got, ref, rtol=1e-9, err_msg=f"{name} {process} K={K}")


def test_deis_logrho_to_zero_takes_the_limits():
    """A grid ending at t_min = 0: the integrals' limits at ρ = 0 (diffusers never steps to 0), equal to the limit of
    grids ending at ρ → 0."""
    for name in ("deis_logrho", "deis_logrho_3"):
        t = list(Diffusion("edm", name, "edm", 20, 0.002).times)
        at0 = Diffusion("edm", name, t + [0.0]).variance(MU)
        assert np.all(np.isfinite(at0))
        near = Diffusion("edm", name, t + [1e-9]).variance(MU)
        np.testing.assert_allclose(at0, near, rtol=1e-6)


# ----------------------------------------------------------------------- schedules by their names

def get_sigmas_karras(n, sigma_min, sigma_max, rho=7.0):
    ramp = np.linspace(0, 1, n)
    return (sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho


def get_sigmas_exponential(n, sigma_min, sigma_max):
    return np.exp(np.linspace(math.log(sigma_max), math.log(sigma_min), n))


def get_sigmas_polyexponential(n, sigma_min, sigma_max, rho=1.0):
    ramp = np.linspace(1, 0, n) ** rho
    return np.exp(ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min))


def get_sigmas_vp(n, beta_d=19.9, beta_min=0.1, eps_s=1e-3):
    t = np.linspace(1, eps_s, n)
    return np.sqrt(np.exp(beta_d * t**2 / 2 + beta_min * t) - 1)


def kl_optimal_scheduler(n, sigma_min, sigma_max):
    adj_idxs = np.arange(n) / (n - 1)
    return np.tan(adj_idxs * math.atan(sigma_min) + (1 - adj_idxs) * math.atan(sigma_max))


def linear_quadratic_schedule(steps, sigma_max, threshold_noise=0.025, linear_steps=None):
    if steps == 1:
        sigma_schedule = [1.0, 0.0]
    else:
        if linear_steps is None:
            linear_steps = steps // 2
        linear_sigma_schedule = [i * threshold_noise / linear_steps for i in range(linear_steps)]
        threshold_noise_step_diff = linear_steps - threshold_noise * steps
        quadratic_steps = steps - linear_steps
        quadratic_coef = threshold_noise_step_diff / (linear_steps * quadratic_steps**2)
        linear_coef = threshold_noise / linear_steps - 2 * threshold_noise_step_diff / (quadratic_steps**2)
        const = quadratic_coef * (linear_steps**2)
        quadratic_sigma_schedule = [quadratic_coef * (i**2) + linear_coef * i + const for i in range(linear_steps, steps)]
        sigma_schedule = linear_sigma_schedule + quadratic_sigma_schedule + [1.0]
        sigma_schedule = [1.0 - x for x in sigma_schedule]
    return np.array(sigma_schedule) * sigma_max


AYS_SD1 = [14.6146412293, 6.4745760956, 3.8636745985, 2.6946151520, 1.8841921177, 1.3943805092, 0.9642583904,
           0.6523686016, 0.3977456272, 0.1515232662, 0.0291671582]


def ays_sd1(steps):
    """ComfyUI's AlignYourStepsScheduler (SD1) before its final ``sigmas[-1] = 0``."""
    sigmas = np.array(AYS_SD1)
    if steps + 1 != len(sigmas):
        xs = np.linspace(0, 1, len(sigmas))
        ys = np.log(sigmas[::-1])
        sigmas = np.exp(np.interp(np.linspace(0, 1, steps + 1), xs, ys))[::-1].copy()
    return sigmas


def _levels(s):
    t, p = s.times, s.process
    return np.sqrt(p.s2(t) / p.m2(t))


@pytest.mark.parametrize("process, T, t_min", [("edm", None, 0.002), ("vp", None, 1e-3), ("ve", None, 0.01),
                                               ("vp_exp", None, 1e-3), ("flow", 0.99, 0.02)])
def test_schedules_are_the_libraries_formulas(process, T, t_min):
    """Each named schedule's noise levels sigma_t/m_t are k-diffusion's get_sigmas_* (without their appended 0) or
    ComfyUI's scheduler between sigma(T) and sigma(t_min); on edm they are the times themselves."""
    K = 12
    grid = lambda g, **kw: _levels(Diffusion(process, "euler", g, K, t_min, T=T, **kw))  # noqa: E731
    smax, smin = grid("uniform")[[0, -1]]
    rtol = 1e-9 if process != "vp_exp" else 1e-7  # vp_exp maps levels to times by bisection
    np.testing.assert_allclose(grid("karras"), get_sigmas_karras(K + 1, smin, smax), rtol=rtol)
    np.testing.assert_allclose(grid("karras", rho=3.0), get_sigmas_karras(K + 1, smin, smax, 3.0), rtol=rtol)
    np.testing.assert_allclose(grid("exponential"), get_sigmas_exponential(K + 1, smin, smax), rtol=rtol)
    np.testing.assert_allclose(grid("polyexponential", poly_rho=2.0),
                               get_sigmas_polyexponential(K + 1, smin, smax, 2.0), rtol=rtol)
    np.testing.assert_allclose(grid("kl_optimal"), kl_optimal_scheduler(K + 1, smin, smax), rtol=rtol)
    lq = linear_quadratic_schedule(K, smax)
    np.testing.assert_allclose(grid("linear_quadratic")[:-1], lq[:-1], rtol=rtol)
    assert lq[-1] == 0
    for steps in (10, K, 25):
        ays = _levels(Diffusion(process, "euler", "ays_sd15", steps, t_min, T=T))
        np.testing.assert_allclose(ays[1:-1], ays_sd1(steps)[1:-1], rtol=rtol)
    if process == "edm":
        np.testing.assert_allclose(Diffusion("edm", "euler", "karras", K, t_min).times,
                                   Diffusion("edm", "euler", "edm", K, t_min).times, rtol=1e-13)


def test_k_diffusion_vp_schedule_is_uniform_in_time_on_vp():
    """get_sigmas_vp(n) (beta_d = 19.9, beta_min = 0.1, t from 1 to 1e-3) is the vp process's (beta 0.1 -> 20, T = 1)
    uniform grid to t_min = 1e-3; on another process its levels are get_sigmas_vp's."""
    s = Diffusion("vp", "euler", "vp", 20, 1e-3)
    np.testing.assert_allclose(s.times, Diffusion("vp", "euler", "uniform", 20, 1e-3).times, rtol=1e-12)
    np.testing.assert_allclose(_levels(s), get_sigmas_vp(21), rtol=1e-12)
    e = Diffusion("edm", "euler", "vp", 20, float(get_sigmas_vp(21)[-1]), T=float(get_sigmas_vp(21)[0]))
    np.testing.assert_allclose(e.times, get_sigmas_vp(21), rtol=1e-12)


@pytest.mark.parametrize("kw, key", [(dict(grid="exponential", t_min=0.0), "sampler.t_min"),
                                     (dict(grid="ays_svd", process="ve"), "sampler.grid"),
                                     (dict(grid="karras", rho=0.0), "sampler.rho"),
                                     (dict(grid="karras", process="flow", scheme="euler"), "sampler.T"),
                                     (dict(grid="cosine"), "sampler.grid")])
def test_bad_schedules_name_the_key(kw, key):
    args = {"process": "vp", "scheme": "euler", "n_steps": 10, "t_min": 1e-3, **kw}
    with pytest.raises(ValueError, match=key.replace(".", "\\.")):
        Diffusion(**args).times


NEW = ["euler_ancestral", "k_euler", "k_heun", "k_dpm_2", "dpm_2_ancestral", "dpmpp_2s_ancestral", "dpmpp_sde",
       "dpmpp_2m_sde", "dpmpp_2m_sde_heun", "dpmpp_3m_sde", "lms", "uni_pc", "uni_pc_bh2", "deis", "unipc_bh1",
       "unipc_bh2", "unipc_bh1_3", "unipc_bh2_3", "deis_logrho", "deis_logrho_3"]


@pytest.mark.parametrize("name", NEW)
def test_derivatives_in_the_eigenvalue_of_the_named_samplers(name):
    """The law's jets (the theory's generalization kernel) = differences of the law, on a Karras grid of vp."""
    from gaussdsm import _jet

    s = Diffusion("vp", name, "karras", 15, 0.01, "exact", eta=0.7)
    lam, h = np.array([0.2, 0.7, 1.5]), 1e-5
    d1 = _jet.derivatives(s.variance(_jet.variable(lam)))[1]
    np.testing.assert_allclose(d1, (s.variance(lam * (1 + h)) - s.variance(lam * (1 - h))) / (2 * h * lam), rtol=1e-6)


class ModelSamplingDiscrete:
    """ComfyUI's ModelSamplingDiscrete for SD (scaled-linear betas 0.00085 -> 0.012, 1000 steps), in float64."""

    def __init__(self):
        betas = np.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=np.float64) ** 2
        alphas_cumprod = np.cumprod(1.0 - betas)
        self.sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
        self.log_sigmas = np.log(self.sigmas)
        self.sigma_min, self.sigma_max = self.sigmas[0], self.sigmas[-1]

    def timestep(self, sigma):
        return int(np.abs(math.log(sigma) - self.log_sigmas).argmin())

    def sigma(self, timestep):
        t = min(max(float(timestep), 0.0), len(self.log_sigmas) - 1)
        low_idx, high_idx, w = math.floor(t), math.ceil(t), t - math.floor(t)
        return math.exp((1 - w) * self.log_sigmas[low_idx] + w * self.log_sigmas[high_idx])


def simple_scheduler(s, steps):
    ss = len(s.sigmas) / steps
    return [float(s.sigmas[-(1 + int(x * ss))]) for x in range(steps)] + [0.0]


def ddim_scheduler(s, steps):
    x, sigs = 1, [0.0]
    ss = max(len(s.sigmas) // steps, 1)
    while x < len(s.sigmas):
        sigs += [float(s.sigmas[x])]
        x += ss
    return sigs[::-1]


def normal_scheduler(s, steps, sgm=False):
    start, end = s.timestep(s.sigma_max), s.timestep(s.sigma_min)
    timesteps = np.linspace(start, end, steps + 1)[:-1] if sgm else np.linspace(start, end, steps)
    return [s.sigma(ts) for ts in timesteps] + [0.0]


def beta_scheduler(s, steps, alpha=0.6, beta=0.6):
    from scipy import stats

    total_timesteps = len(s.sigmas) - 1
    ts = np.rint(stats.beta.ppf(1 - np.linspace(0, 1, steps, endpoint=False), alpha, beta) * total_timesteps)
    sigs, last_t = [], -1
    for t in ts:
        if t != last_t:
            sigs += [float(s.sigmas[int(t)])]
        last_t = t
    return sigs + [0.0]


@pytest.mark.parametrize("process", ["edm", "vp", "ve", "sd_discrete"])
def test_table_schedules_are_comfyuis(process):
    """ComfyUI's simple, normal, sgm_uniform, ddim_uniform, beta on SD's table: gaussdsm's K levels are theirs (the
    first is T, their final 0 is t_min: with t_min = 0 and T at their first level, the library's grid exactly; on
    sd_discrete, the table's own process, T is the first timestep's time by itself)."""
    ms = ModelSamplingDiscrete()
    ref = {"simple": simple_scheduler, "normal": normal_scheduler, "sgm_uniform": lambda s, n: normal_scheduler(s, n, True),
           "ddim_uniform": ddim_scheduler, "beta": lambda s, n: beta_scheduler(s, n, 0.5, 0.7)}
    for name, sched in ref.items():
        for K in (10, 20):
            lib = np.array(sched(ms, K))
            assert lib.size == K + 1 and lib[-1] == 0
            s = Diffusion(process, "euler", name, K, 0.0, T=1.0 if process == "vp" else None, beta_alpha=0.5,
                          beta_beta=0.7)
            np.testing.assert_allclose(_levels(s)[1:-1], lib[1:-1], rtol=1e-9, err_msg=f"{name} {K}")
            if process == "sd_discrete":
                np.testing.assert_allclose(_levels(s), lib, rtol=1e-12, atol=0, err_msg=f"{name} {K}")
            if process == "edm":  # T at the first level: the library's sigmas are the times
                exact = Diffusion("edm", "euler", name, K, 0.0, T=float(lib[0]), beta_alpha=0.5, beta_beta=0.7)
                np.testing.assert_allclose(exact.times, lib, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="sampler.n_steps 7 gives 8 levels"):
        Diffusion("edm", "euler", "ddim_uniform", 7, 0.0).times
