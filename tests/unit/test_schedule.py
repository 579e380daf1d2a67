r"""The best grid for a spectrum (:mod:`gaussdsm.schedule`, ``gaussdsm schedule``).

Closed form: DDIM is Euler in the noise level :math:`\tilde\sigma = \sigma_t/m_t` on :math:`\tilde x = x/m_t`
(:math:`\operatorname{Var}\tilde x_t = \lambda + \tilde\sigma^2`); per step on isotropic data λ with the exact score
its gain is :math:`(\lambda + \tilde\sigma_k\tilde\sigma_{k+1})/(\lambda + \tilde\sigma_k^2)`, i.e. the exact gain
:math:`\sqrt{(\lambda + \tilde\sigma_{k+1}^2)/(\lambda + \tilde\sigma_k^2)}` times
:math:`\cos(\theta_k - \theta_{k+1})`, :math:`\theta = \arctan(\tilde\sigma/\sqrt\lambda)`.  From the exact start the
output variance is :math:`\lambda_{t_{\min}}\prod_k\cos^2\Delta_k` with :math:`\sum_k\Delta_k = \theta_0 - \theta_K`
fixed; for λ > 1 on VP, :math:`\lambda_{t_{\min}} < \lambda`, so the W₂² to the data is smallest where the product
is largest: by concavity of :math:`\log\cos`, equal :math:`\Delta_k`, a grid uniform in
:math:`\arctan(\tilde\sigma/\sqrt\lambda)`
(kl_optimal is its λ = 1 case).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gaussdsm import cli
from gaussdsm.samplers.diffusion import Diffusion
from gaussdsm.schedule import grid_error, library_format, optimal_grid


def _arctan_grid(lam0, K, t_min):
    p = Diffusion(process="vp", scheme="ddim", n_steps=K, t_min=t_min).process
    ends = np.array([float(p.s2(p.T) / p.m2(p.T)), float(p.s2(t_min) / p.m2(t_min))]) ** 0.5
    th = np.arctan(ends / math.sqrt(lam0))
    sig = math.sqrt(lam0) * np.tan(th[0] + np.arange(K + 1) / K * (th[1] - th[0]))
    lt = float(p.m2(t_min)) * lam0 + float(p.s2(t_min))
    return sig, lt * math.cos((th[0] - th[1]) / K) ** (2 * K)


@pytest.mark.parametrize("K", [3, 6])
def test_ddim_isotropic_closed_form(K):
    lam0, t_min, d = 4.0, 1e-3, 8
    sig, F = _arctan_grid(lam0, K, t_min)
    r = optimal_grid(np.full(d, lam0), process="vp", scheme="ddim", n_steps=K, t_min=t_min, params={"init": "exact"})
    # the law on the closed-form grid is the derived one (the scheme is what the derivation assumes)
    p = Diffusion(process="vp", scheme="ddim", n_steps=K, t_min=t_min).process
    t = p.t_of_ratio(sig**2)
    t[0], t[-1] = p.T, t_min
    assert Diffusion(process="vp", scheme="ddim", grid=list(t), init="exact").variance(np.array([lam0]))[0] == (
        pytest.approx(F, rel=1e-12))
    # the optimiser finds that grid and value; kl_optimal (uniform in arctan sigma, the lam = 1 optimum) is worse
    np.testing.assert_allclose(r.sigmas, sig, rtol=1e-4)
    best = d * (math.sqrt(F) - math.sqrt(lam0)) ** 2
    assert r.value == pytest.approx(best, rel=1e-8)
    assert r.baselines["kl_optimal"] > best * (1 + 1e-3)
    assert r.grid[0] == p.T and r.grid[-1] == t_min and np.all(np.diff(r.grid) < 0)


def test_planted_two_step_optimum_brute_force():
    """K = 2: one free time; the optimiser's value and grid against a fine scan of it."""
    lam = 1.0 / np.arange(1, 9) ** 1.5
    kw = dict(process="vp", scheme="em", metric="w2")
    r = optimal_grid(lam, n_steps=2, t_min=1e-3, **kw)
    ts = np.exp(np.linspace(math.log(1.001e-3), math.log(0.999), 4001))
    vals = np.array([grid_error(lam, [1.0, t, 1e-3], **kw) for t in ts])
    j = int(np.argmin(vals))
    assert 0 < j < ts.size - 1  # an interior optimum: the scan brackets it
    assert r.value <= vals[j] * (1 + 1e-6)
    assert r.grid[1] == pytest.approx(ts[j], rel=5e-3)


@pytest.mark.parametrize("scheme,n_samples,metric", [("euler", math.inf, "w2"), ("heun", math.inf, "kl_sample_data"),
                                                     ("em", 500, "w2")])
def test_never_worse_than_the_baselines(scheme, n_samples, metric):
    lam = 1.0 / np.arange(1, 17)
    r = optimal_grid(lam, n_samples=n_samples, process="vp", scheme=scheme, n_steps=4, t_min=1e-3, metric=metric)
    finite = [v for v in r.baselines.values() if v is not None and np.isfinite(v)]
    assert finite and r.value <= min(finite) * (1 + 1e-12)
    assert r.value == pytest.approx(grid_error(lam, r.grid, n_samples=n_samples, process="vp", scheme=scheme,
                                               metric=metric), rel=1e-12)


def test_bad_input_names_the_key():
    with pytest.raises(ValueError, match="sampler.n_steps"):
        optimal_grid(np.ones(3), n_steps=0)
    with pytest.raises(ValueError, match="spectrum"):
        optimal_grid(np.array([1.0, -1.0]))


def _run(capsys, *argv):
    code = cli.main(["schedule", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json(capsys):
    code, out, _ = _run(capsys, "--d", "8", "--n-samples", "inf", "--scheme", "euler", "--n-steps", "3", "--json")
    assert code == 0
    res = json.loads(out)
    assert len(res["grid"]) == 4 and res["grid"][0] == 1.0 and res["grid"][-1] == 1e-3
    assert set(res["baselines"]) >= {"karras", "exponential", "kl_optimal", "ays_sd15"}
    assert res["value"] <= min(v for v in res["baselines"].values() if v is not None)


def test_cli_formats(capsys):
    code, out, _ = _run(capsys, "--d", "8", "--n-samples", "inf", "--n-steps", "3", "--json")
    grid = json.loads(out)["grid"]
    p = Diffusion(process="vp", n_steps=3).process
    code, out, _ = _run(capsys, "--d", "8", "--n-samples", "inf", "--n-steps", "3", "--format", "k-diffusion")
    sig = [float(x) for x in out.split()]
    assert code == 0 and len(sig) == 5 and sig[-1] == 0.0
    np.testing.assert_allclose(sig[:-1], np.sqrt(p.s2(np.array(grid)) / p.m2(np.array(grid))), rtol=1e-9)
    assert library_format(p, grid, "comfyui") == library_format(p, grid, "k-diffusion")
    code, out, _ = _run(capsys, "--d", "8", "--n-samples", "inf", "--n-steps", "3", "--format", "diffusers", "--json")
    np.testing.assert_allclose(json.loads(out), 1000 * np.array(grid), rtol=1e-12)


@pytest.mark.parametrize("argv,key", [(["--n-steps", "0"], "--n-steps"), (["--format", "torch"], "--format"),
                                      (["--scheme", "heun", "--t-min", "0"], "--t-min"),
                                      (["--process", "flow", "--format", "comfyui"], "--T"),
                                      (["--n-samples", "-3"], "--n-samples")])
def test_cli_bad_input_one_line(capsys, argv, key):
    try:
        code = cli.main(["schedule", "--d", "4", "--n-samples", "inf", "--n-steps", "2", *argv])
    except SystemExit as stop:  # argparse's own check of the option
        code = stop.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert key in err[-1] and sum("error" in line or "schedule:" in line for line in err) == 1
