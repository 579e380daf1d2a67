"""Stable Diffusion's discrete DDPM table as a process (``sd_discrete``), the schedules on it (ComfyUI's and diffusers'
timestep spacings), flow matching's shifted grids (``flow_shift``, ``flow_dynamic``) and the libraries' start laws:
exact identities against independent transcriptions of the published formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gaussdsm.samplers import Diffusion
from gaussdsm.samplers.diffusion import grids, make_process, processes

LAM = np.array([2.0, 0.5, 0.05, 0.001])


def sd_alphas_cumprod():
    """diffusers' ``betas_for_alpha_bar``-free scaled-linear table, written out: β_i = (√0.00085 + i/999 (√0.012 -
    √0.00085))², ᾱ_i = Π_{j ≤ i} (1 - β_j)."""
    a, b = math.sqrt(0.00085), math.sqrt(0.012)
    out, prod = [], 1.0
    for i in range(1000):
        beta = (a + i * (b - a) / 999) ** 2
        prod *= 1.0 - beta
        out.append(prod)
    return np.array(out)


def test_the_process_at_the_table_points_is_the_table():
    """m_t² = ᾱ_{t-1}, σ_t² = 1 - ᾱ_{t-1}, σ̃ = √((1 - ᾱ)/ᾱ) at Ho et al.'s t = 1 … 1000; the data at t = 0; the
    first interval a DDPM step of constant β_0."""
    p = make_process("sd_discrete")
    ac = sd_alphas_cumprod()
    t = np.arange(1.0, 1001.0)
    np.testing.assert_allclose(p.m2(t), ac, rtol=1e-13)
    np.testing.assert_allclose(p.s2(t), 1.0 - ac, rtol=1e-12)
    np.testing.assert_allclose(np.sqrt(p.s2(t) / p.m2(t)), np.sqrt((1.0 - ac) / ac), rtol=1e-12)
    assert p.T == 1000.0 and p.reference_variance == 1.0
    assert p.m2(0.0) == 1.0 and p.s2(0.0) == 0.0
    np.testing.assert_allclose(p.m2(np.array([0.25, 0.5])), (1.0 - 0.00085) ** np.array([0.25, 0.5]), rtol=1e-14)
    np.testing.assert_allclose(p.beta(np.array([0.0, 0.5, 1.0])), -math.log(1.0 - 0.00085), rtol=1e-13)
    assert grids.SD_SIGMAS is processes.TABLE_SIGMAS  # one table: the ComfyUI schedules' is the process's


def test_between_table_points_log_sigma_is_linear_in_t():
    """k-diffusion's DiscreteSchedule.t_to_sigma (and ComfyUI's ModelSamplingDiscrete.sigma): log σ̃ at timestep
    τ = t - 1 is (1 - w) log σ̃_⌊τ⌋ + w log σ̃_⌈τ⌉; the inverse of the noise-to-signal ratio is exact there."""
    p = make_process("sd_discrete")
    ac = sd_alphas_cumprod()
    logsig = 0.5 * np.log((1.0 - ac) / ac)
    tau = np.array([0.3, 17.5, 250.75, 998.01])
    w = tau - np.floor(tau)
    expect = np.exp((1 - w) * logsig[np.floor(tau).astype(int)] + w * logsig[np.ceil(tau).astype(int)])
    t = tau + 1.0
    np.testing.assert_allclose(np.sqrt(p.s2(t) / p.m2(t)), expect, rtol=1e-12)
    np.testing.assert_allclose(p.t_of_ratio(expect**2), t, rtol=1e-12)
    np.testing.assert_allclose(p.t_of_s2(p.s2(t)), t, rtol=1e-12)
    # the rate beta = dB/dt of the interval below t, B = log(1 + sigma~^2)
    np.testing.assert_allclose(p.beta(t), 2 * (logsig[np.ceil(tau).astype(int)] - logsig[np.floor(tau).astype(int)])
                               * p.s2(t), rtol=1e-12)
    with pytest.raises(ValueError, match="sampler.T must be <= 1000 with process sd_discrete"):
        make_process("sd_discrete", 1001.0)


def test_comfyui_schedules_on_the_table_are_its_timesteps():
    """On sd_discrete the table schedules give their timesteps' times (t = τ + 1) and the same levels as on any other
    process (edm, where times are the levels, checked against ComfyUI's formulas in test_samplers_by_name)."""
    p = make_process("sd_discrete")
    K = 10
    for name, taus in {"simple": [999 - int(x * 1000 / K) for x in range(K)],
                       "normal": np.linspace(999, 0, K), "sgm_uniform": np.linspace(999, 0, K + 1)[:-1],
                       "ddim_uniform": np.arange(1, 1000, 100)[::-1]}.items():
        s = Diffusion("sd_discrete", "ddim", name, K, 0.0)
        np.testing.assert_array_equal(s.times, np.append(np.asarray(taus, dtype=float) + 1.0, 0.0))
        assert s.process.T == taus[0] + 1.0  # ddim_uniform starts below the top: its T is its first timestep's
        lib = Diffusion("edm", "ddim", name, K, 0.0, T=float(np.sqrt(p.ratio(taus[0] + 1.0))))
        np.testing.assert_allclose(np.sqrt(s.process.ratio(s.times[:-1])), lib.times[:-1], rtol=1e-12)


def test_diffusers_timestep_spacings():
    """diffusers' EulerDiscreteScheduler.set_timesteps, written out (Lin et al. 2024, Table 2): leading
    j·(1000 // K) + 1, trailing round(1000 - j·1000/K) - 1, linspace K points from 999 to 0 with σ̃ interpolated
    linearly; T is the first timestep's time (leading: below the table's top)."""
    p = make_process("sd_discrete")
    ac = sd_alphas_cumprod()
    sig = np.sqrt((1.0 - ac) / ac)
    for K in (5, 7, 30):
        lead = Diffusion("sd_discrete", "ddim", "leading", K, 0.0)
        np.testing.assert_array_equal(lead.times[:-1], [j * (1000 // K) + 1 + 1.0 for j in range(K - 1, -1, -1)])
        assert lead.process.T == (K - 1) * (1000 // K) + 2.0
        trail = Diffusion("sd_discrete", "ddim", "trailing", K, 0.0)
        np.testing.assert_array_equal(trail.times[:-1], [np.round(1000 - j * 1000 / K) for j in range(K)])
        lin = Diffusion("sd_discrete", "ddim", "linspace", K, 0.0)
        tau = np.linspace(0, 999, K)[::-1]
        np.testing.assert_allclose(np.sqrt(p.ratio(lin.times[:-1])), np.interp(tau, np.arange(1000), sig), rtol=1e-12)
        for s in (lead, trail, lin):
            assert s.times[-1] == 0.0 and s.t_min == 0.0


def test_a_table_schedule_fixes_its_horizon():
    with pytest.raises(ValueError, match="sampler.T must be left out with sampler.grid leading on process "
                                         "sd_discrete: the grid starts at its first timestep, t = 802"):
        Diffusion("sd_discrete", "ddim", "leading", 5, 0.0, T=1000.0)
    assert Diffusion("sd_discrete", "ddim", "leading", 5, 0.0, T=802.0).process.T == 802.0
    assert Diffusion("sd_discrete", "ddim", "trailing", 5, 0.0, T=1000.0).process.T == 1000.0
    assert Diffusion("vp", "ddim", "ddim_uniform", 5, 0.0).process.T == 1.0  # other processes: unchanged


@pytest.mark.parametrize("grid, process", [("leading", "vp"), ("trailing", "edm"), ("linspace", "flow"),
                                           ("flow_shift", "vp"), ("flow_dynamic", "sd_discrete")])
def test_a_grid_on_another_process_is_one_line_naming_the_keys(grid, process):
    with pytest.raises(ValueError, match=f"^sampler.grid {grid} needs sampler.process "
                                         f"{grids.NEEDS[grid]} .*; got {process}$"):
        Diffusion(process, "ddim", grid, 5, 0.0)
    with pytest.raises(ValueError, match=f"^sampler.grid {grid} needs sampler.process"):  # before any grid is built
        Diffusion(process, "ddim", grid, np.inf, 0.01)


def test_flow_shift_grids_as_published():
    """SD3 (Esser et al. 2024): σ' = sσ/(1 + (s - 1)σ) on FlowMatchEuler's K levels from σ'(1) = 1 to σ'(1/1000)
    (shifted twice, as diffusers' set_timesteps does); Flux: σ' = e^μ/(e^μ + 1/σ - 1) on linspace(1, 1/K, K),
    μ = 0.5 + (n - 256)(1.15 - 0.5)/(4096 - 256); both end at t_min = 0 (the final 0); levels are flow's times."""
    for K, s in ((5, 3.0), (12, 1.0), (30, 6.0)):
        sh = lambda x: s * x / (1 + (s - 1) * x)  # noqa: E731
        base = np.linspace(1.0, sh(0.001), K)
        g = Diffusion("flow", "euler", "flow_shift", K, 0.0, shift=s)
        np.testing.assert_allclose(g.times, np.append(sh(base), 0.0), rtol=1e-13)
    assert np.allclose(Diffusion("flow", "euler", "flow_shift", 4, 0.0, shift=1.0).times,
                       [1.0, 0.667, 0.334, 0.001, 0.0])  # no shift: uniform down to 1/1000
    for K, n in ((5, 4096), (12, 1024), (30, 256)):
        mu = 0.5 + (n - 256) * 0.65 / 3840
        sig = np.linspace(1.0, 1.0 / K, K)
        g = Diffusion("flow", "euler", "flow_dynamic", K, 0.0, image_seq_len=n)
        np.testing.assert_allclose(g.times, np.append(np.exp(mu) / (np.exp(mu) + 1 / sig - 1), 0.0), rtol=1e-13)
    assert grids.flow_mu(4096) == pytest.approx(1.15, rel=1e-14) and grids.flow_mu(256) == pytest.approx(0.5)


def test_the_libraries_start_laws():
    r"""``diffusers``: z_T ~ N(0, σ̃_max² + 1), i.e. y_T ~ N(0, m_T² + σ_T²) — the reference on VP processes;
    ``k_diffusion``: z_T ~ N(0, σ̃_max²), y_T ~ N(0, σ_T²) — the reference on edm.  The law is affine in the start."""
    for process in ("vp", "vp_cosine", "sd_discrete"):
        a = Diffusion(process, "ddim", "uniform", 10, 0.01, init="diffusers")
        b = Diffusion(process, "ddim", "uniform", 10, 0.01)
        np.testing.assert_allclose(a.variance(LAM), b.variance(LAM), rtol=1e-14)
    f = Diffusion("flow", "ddim", "uniform", 10, 0.01, init="diffusers", T=0.99)  # not variance preserving
    assert f.start_variance(LAM) == pytest.approx(0.01**2 + 0.99**2, rel=1e-14)
    e = Diffusion("edm", "ddim", "edm", 10, 0.01, init="k_diffusion")
    np.testing.assert_array_equal(e.variance(LAM), Diffusion("edm", "ddim", "edm", 10, 0.01).variance(LAM))
    assert Diffusion("edm", "ddim", "edm", 10, 0.01, init="diffusers").start_variance(LAM) == 80.0**2 + 1
    s = Diffusion("sd_discrete", "ddim", "trailing", 10, 0.0, init="k_diffusion")
    p = s.process
    np.testing.assert_allclose(s.start_variance(LAM) / p.m2(p.T), p.ratio(p.T), rtol=1e-14)
    Phi, Psi, _ = s.affine(LAM)
    np.testing.assert_allclose(s.variance(LAM), Phi * p.s2(p.T) + Psi, rtol=1e-14)
    with pytest.raises(ValueError, match="sampler.init must be standard or exact with scheme annealed_langevin"):
        Diffusion("ve", "annealed_langevin", n_steps=10, init="k_diffusion")


def test_diffusers_format_of_a_grid_on_the_table_is_its_timesteps():
    """``gaussdsm schedule --format diffusers`` on sd_discrete prints the table's own timesteps, t − 1."""
    from gaussdsm.schedule import library_format

    s = Diffusion("sd_discrete", "ddim", "trailing", 5, 0.0)
    assert library_format(s.process, s.times[:-1], "diffusers") == [999.0, 799.0, 599.0, 399.0, 199.0]
    v = Diffusion("vp", "ddim", "uniform", 4, 0.0)
    assert library_format(v.process, v.times, "diffusers") == [1000.0, 750.0, 500.0, 250.0, 0.0]
