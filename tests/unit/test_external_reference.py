r"""gaussdsm's exact law against k-diffusion's samplers and diffusers' schedulers themselves.

``tests/data/external_reference.json`` holds the output variances of the libraries' own sampler code run on Gaussian
data :math:`N(0, \operatorname{diag}\lambda)` with the exact linear denoiser :math:`D(x, \sigma) = \lambda x/(\lambda +
\sigma^2)`, exact by linearity (deterministic samplers) and by superposition over the noise draws (stochastic ones),
made by ``tests/external/make_reference.py`` (torch, k-diffusion, diffusers: the ``external`` extra).  This test needs
none of them: every stored case whose scheme gaussdsm has is compared with gaussdsm's exact law (``≤ 1e-9``
relative); a case of a scheme gaussdsm lacks is skipped with its reason, and only if the scheme (or parameter) it
needs is listed in :data:`NOT_IMPLEMENTED` — adding the scheme turns its cases on.

Conventions (the mapping from a library case to a :class:`gaussdsm.samplers.Diffusion`):

* **Process and grid.** k-diffusion (and diffusers' ``EDMEulerScheduler``, ``EDMDPMSolverMultistepScheduler``)
  samples :math:`x = x_0 + \sigma\epsilon`: gaussdsm's ``edm`` process (:math:`m_t = 1`, :math:`\sigma_t = t`)
  with the library's σ list as an explicit ``grid`` of times (t = σ; T = σ_max = 80 is the first entry, t_min the
  last non-zero one).  diffusers' schedulers on Stable Diffusion's
  scaled-linear β table are mapped the way k-diffusion wraps a VP model: the variable :math:`z = x_t/\sqrt{\bar
  \alpha_t}` with noise level :math:`\tilde\sigma = \sqrt{(1 - \bar\alpha_t)/\bar\alpha_t}` follows the same EDM
  process; the grid is the scheduler's σ̃ list (its repeated entries of Heun's and KDPM2's two stages once; DDIM: its ᾱ
  table at its timesteps, then its final ᾱ).  The solvers written in log-SNR (DDIM, DPM-Solver++, UniPC, DEIS) are
  invariant under this change of variable.
* **The final step to σ = 0** (k-diffusion's ``get_sigmas_karras`` appends 0; diffusers' ``final_sigmas_type="zero"``):
  every sampler here but LMS makes that step a pure denoising, :math:`x \leftarrow D(x, \sigma_{\min})` (an Euler step
  to 0, DPM-Solver++'s first order at h = ∞, the SDE samplers' "denoising step"), which is gaussdsm's ``denoise=True``
  on the grid without its 0.  LMS steps to 0 with its multistep weights: t_min = 0 in the grid.  A grid without
  the final 0 is used as it is.  (euler, dpmpp_2m and euler_ancestral on a grid ending at t_min = 0 give the same;
  gaussdsm's ``dpm_2`` does not: its last midpoint √(σ_K·0) is 0, where the noise prediction vanishes, so its
  compiled law leaves y unchanged at that step — no denoising; its law from the step is NaN there — while
  k-diffusion and diffusers take an Euler step, the denoising.)
* **NFE.** The libraries' model calls are stored (``nfe``): K steps to 0 cost K calls for Euler and DPM-Solver++(2M),
  2K - 1 for Heun and DPM-2 (their last step, to 0, is Euler) — gaussdsm's ``nfe`` of K - 1 steps plus 1 for
  ``denoise``.
* **Initial noise.** k-diffusion starts from ``noise * sigmas[0]``, variance σ_max² = T², gaussdsm's
  ``init="standard"`` on ``edm``; diffusers' EDM schedulers from ``init_noise_sigma`` = √(σ_max² + 1), variance
  6401 on the same grid.  diffusers' Euler-type schedulers (k-diffusion's variable) start from
  ``init_noise_sigma``: :math:`\sqrt{\tilde\sigma_{\max}^2 + 1}` with ``timestep_spacing="leading"`` (Stable
  Diffusion's; σ̃_max itself with "linspace" or "trailing"); the VP-variable ones (DDIM, DPM-Solver, UniPC, DEIS)
  from N(0, 1) at their first timestep, variance :math:`1/\bar\alpha_{t_0} = \tilde\sigma_0^2 + 1` in z.  Each case
  stores its start variance in z; the law is affine in it, :math:`v_K = \Phi v_0 + \Psi`
  (:meth:`Diffusion.affine`), then the final Tweedie step.  The output is stored in the library's own variable,
  ``output_m2`` = :math:`\bar\alpha` of its last level (DDIM with ``set_alpha_to_one=False`` ends at
  :math:`\bar\alpha_0 = 1 - \beta_0`): the variance in z is ``variance / output_m2``.
* **diffusers' own algorithms.** ``UniPCMultistepScheduler`` (``solver_order`` 2, its default) is gaussdsm's
  ``unipc_bh1``/``unipc_bh2`` (``unipc_bh1_3``/``unipc_bh2_3`` for order 3; ComfyUI's UniPC, gaussdsm's ``uni_pc``, is
  order 3): its orders :math:`\min(P, K - j, j + 1)` count the step to σ = 0 of ``final_sigmas_type="zero"`` (a
  first-order step returning the data prediction of the predicted point: ``denoise``), so the scheme takes
  :math:`K + 1` with ``denoise`` — the step before the denoising is of order 2, not 1.  bh1 with
  ``final_sigmas_type="zero"`` is NaN in the library (B(h) = -h = -∞ at that step): its cases end at
  ``"sigma_min"``, σ̃ of the table's first level, with no final step (a grid ending at t_min = σ̃_0 without
  ``denoise``).  ``DEISMultistepScheduler`` (``logrho``) is ``deis_logrho`` (order 2, its default) and
  ``deis_logrho_3``: Lagrange interpolation of the noise prediction in log σ̃ integrated in σ̃ (ComfyUI's ``deis``
  interpolates in a fitted VP time), the last step of order 1 and the one before of order ≤ 2 below 15 steps, ending
  at σ̃_0 > 0 (no step to 0).  ``KDPM2AncestralDiscreteScheduler`` is k-diffusion's ``sample_dpm_2_ancestral``
  with η = 1 on the de-duplicated σ list: its log-space midpoint :math:`\sqrt{\sigma_i\sigma_{down}}` (which is
  :math:`\sigma_{i+1}` at η = 1) and its noise :math:`\sigma_{up}` are k-diffusion's, its last step (to 0) is
  Euler; its second stage's model σ is ``sigmas_interpol[step_index - 1]`` (KDPM2Discrete's is
  ``sigmas_interpol[step_index]``), the σ its interleaved timesteps carry.
* **Churn.** k-diffusion's ``sample_heun`` with ``s_churn`` on a grid without the final 0 is gaussdsm's
  ``heun_churn`` (γ = min(S_churn/K, √2 - 1), K = len(sigmas) - 1 steps; the same S_tmin, S_tmax, S_noise).  With
  the final 0, k-diffusion divides by the K steps including the step to 0 while gaussdsm's grid has K - 1: the same
  γ only where both are capped at √2 - 1 (S_churn = 80 at these K) (:func:`churn_counts_agree`).  gaussdsm's
  ``k_heun``, ``k_euler`` and ``k_dpm_2`` take k-diffusion's count on its own grid (the final 0 included, that step
  churned too) and match every churn case.  The fresh churn noise is ``torch.randn_like`` inside the
  sampler (the script replaces it for the superposition).
* **Named schedules** (:data:`NAMED_GRIDS`): diffusers' EulerDiscreteScheduler with each ``timestep_spacing`` and
  FlowMatchEulerDiscreteScheduler with SD3's and Flux's shifts are compared with gaussdsm's grids of the same names on
  their own processes (``sd_discrete``: time = timestep + 1; ``flow``: time = σ), t_min = 0 for the final 0, from the
  library's start law (``init``), through :meth:`Diffusion.variance` — not through an explicit list of levels.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from gaussdsm.samplers import Diffusion
from gaussdsm.samplers.diffusion import DEFAULTS, SCHEMES

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "external_reference.json"
TOL = 1e-9

CHURN = ("s_churn", "s_tmin", "s_tmax", "s_noise")

#: (library, sampler) -> (gaussdsm scheme, the Diffusion parameters it needs from the case's options, final step to 0)
MAP = {
    ("k-diffusion", "euler"): ("euler", (), "denoise"),
    ("k-diffusion", "heun"): ("heun", (), "denoise"),
    ("k-diffusion", "dpm_2"): ("dpm_2", (), "denoise"),
    ("k-diffusion", "lms"): ("lms", (), "grid"),  # order 4, gaussdsm's lms
    ("k-diffusion", "dpmpp_2m"): ("dpmpp_2m", (), "denoise"),
    ("k-diffusion", "euler_ancestral"): ("euler_ancestral", (), "denoise"),
    ("k-diffusion", "dpm_2_ancestral"): ("dpm_2_ancestral", (), "denoise"),
    ("k-diffusion", "dpmpp_2s_ancestral"): ("dpmpp_2s_ancestral", (), "denoise"),
    ("k-diffusion", "dpmpp_sde"): ("dpmpp_sde", (), "denoise"),
    ("k-diffusion", "dpmpp_2m_sde"): ("dpmpp_2m_sde", (), "denoise"),
    ("k-diffusion", "dpmpp_2m_sde_heun"): ("dpmpp_2m_sde_heun", (), "denoise"),
    ("k-diffusion", "dpmpp_3m_sde"): ("dpmpp_3m_sde", (), "denoise"),
    ("k-diffusion", "heun_churn"): ("k_heun", CHURN, "grid"),  # k-diffusion's churn count: k_heun
    ("k-diffusion", "heun_churn_s1"): ("k_heun", CHURN, "grid"),
    ("k-diffusion", "euler_churn"): ("k_euler", CHURN, "grid"),
    ("k-diffusion", "dpm_2_churn"): ("k_dpm_2", CHURN, "grid"),
    ("diffusers", "euler"): ("euler", (), "denoise"),
    ("diffusers", "euler_karras"): ("euler", (), "denoise"),
    ("diffusers", "euler_ancestral"): ("euler_ancestral", (), "denoise"),
    ("diffusers", "heun"): ("heun", (), "denoise"),
    ("diffusers", "dpm_2"): ("dpm_2", (), "denoise"),
    ("diffusers", "dpm_2_ancestral"): ("dpm_2_ancestral", (), "denoise"),  # k-diffusion's, eta = 1
    ("diffusers", "lms"): ("lms", (), "grid"),
    ("diffusers", "dpmpp_2m"): ("dpmpp_2m", (), "denoise"),
    ("diffusers", "dpmpp_2m_karras"): ("dpmpp_2m", (), "denoise"),
    ("diffusers", "dpmpp_2m_sde"): ("dpmpp_2m_sde", (), "denoise"),
    ("diffusers", "dpmpp_2m_sde_heun"): ("dpmpp_2m_sde_heun", (), "denoise"),
    ("diffusers", "uni_pc_bh1"): ("unipc_bh1", (), "denoise"),  # solver_order 2 (diffusers' default)
    ("diffusers", "uni_pc_bh2"): ("unipc_bh2", (), "denoise"),
    ("diffusers", "uni_pc_bh1_3"): ("unipc_bh1_3", (), "denoise"),  # make_reference.unipc_order3_cases
    ("diffusers", "uni_pc_bh2_3"): ("unipc_bh2_3", (), "denoise"),
    ("diffusers", "deis"): ("deis_logrho", (), "denoise"),  # solver_order 2
    ("diffusers", "deis_3"): ("deis_logrho_3", (), "denoise"),
    ("diffusers", "edm_euler"): ("euler", (), "denoise"),
    ("diffusers", "edm_dpmpp_2m"): ("dpmpp_2m", (), "denoise"),
    ("diffusers", "edm_dpmpp_2m_sde"): ("dpmpp_2m_sde", (), "denoise"),
    ("diffusers", "ddim"): ("ddim", (), None),
    ("diffusers", "ddim_eta1"): ("euler_ancestral", ("eta",), None),  # DDIM with eta = euler_ancestral
    # named schedules (NAMED_GRIDS): the scheme; the process, grid and start are NAMED_GRIDS'
    ("diffusers", "euler_leading"): ("ddim", (), "grid"),
    ("diffusers", "euler_trailing"): ("ddim", (), "grid"),
    ("diffusers", "euler_linspace"): ("ddim", (), "grid"),
    ("diffusers", "flow_shift"): ("euler", ("shift",), "grid"),
    ("diffusers", "flow_dynamic"): ("euler", ("image_seq_len",), "grid"),
    ("diffusers", "flow_dynamic_1024"): ("euler", ("image_seq_len",), "grid"),
}

NAMED_GRIDS = {
    ("diffusers", "euler_leading"): {"process": "sd_discrete", "grid": "leading", "init": "diffusers"},
    ("diffusers", "euler_trailing"): {"process": "sd_discrete", "grid": "trailing", "init": "k_diffusion"},
    ("diffusers", "euler_linspace"): {"process": "sd_discrete", "grid": "linspace", "init": "k_diffusion"},
    ("diffusers", "flow_shift"): {"process": "flow", "grid": "flow_shift", "init": "standard"},
    ("diffusers", "flow_dynamic"): {"process": "flow", "grid": "flow_dynamic", "init": "standard"},
    ("diffusers", "flow_dynamic_1024"): {"process": "flow", "grid": "flow_dynamic", "init": "standard"},
}
r"""The cases run on a library's own schedule, compared with gaussdsm's grid of that name on its process, from the
library's start, through the front door (:meth:`Diffusion.variance`): EulerDiscreteScheduler (Euler in σ̃, gaussdsm's
``ddim``) on Stable Diffusion's table with ``timestep_spacing`` leading (``steps_offset`` 1, start
:math:`\sqrt{\tilde\sigma_{\max}^2 + 1}`: ``init: diffusers``, on VP the reference N(0, I)), trailing and linspace
(start σ̃_max: ``init: k_diffusion``) is ``sd_discrete`` with the grids ``leading``, ``trailing``, ``linspace`` (the
table's final 0: t_min = 0, where σ̃ = 0); FlowMatchEulerDiscreteScheduler (Euler on the velocity, from x_1 ~ N(0, 1))
is ``euler`` on ``flow`` with ``flow_shift`` (SD3, shift 3) and ``flow_dynamic`` (Flux, μ from the image's token
count), its final level 0 t_min = 0."""

#: what gaussdsm does not have yet (a scheme, or a scheme's parameter): the cases needing them are skipped, by name
NOT_IMPLEMENTED: set[str] = set()


def _load():
    return json.loads(REFERENCE.read_text())


CASES = _load()["cases"]


def _options(case):
    """The case's sampler options (k-diffusion's keywords; diffusers' config and step keywords)."""
    return {**case.get("options", {}), **case.get("config", {}), **case.get("step_options", {})}


def churn_counts_agree(case) -> bool:
    r"""Whether k-diffusion's churn :math:`\gamma = \min(S_{churn}/(\text{len(sigmas)} - 1), \sqrt2 - 1)` is
    gaussdsm's ``heun_churn`` :math:`\min(S_{churn}/K, \sqrt2 - 1)` on the case's grid: always without the final 0
    (K = len(sigmas) - 1); with it, gaussdsm's grid has one step less, and the two agree only where both are capped
    (Karras's S_churn = 80), the last churn-free (σ_min < S_tmin)."""
    if not case["final_zero"]:
        return True
    o, K, cap = case["options"], case["n_steps"], math.sqrt(2.0) - 1.0
    return min(o["s_churn"] / K, cap) == min(o["s_churn"] / (K - 1), cap) and case["sigmas"][-2] < o["s_tmin"]


def missing(case) -> str | None:
    """What gaussdsm lacks for ``case`` (a :data:`NOT_IMPLEMENTED` entry), or None: it can be compared."""
    scheme, params, final = MAP[(case["library"], case["sampler"])]
    if scheme == "heun_churn" and not churn_counts_agree(case):
        return "heun_churn with the final step to 0 (k-diffusion's count)"
    if scheme not in SCHEMES:
        return scheme
    for p in params:
        if p not in DEFAULTS:
            return f"{scheme}.{p}"
    return None


def gaussdsm_sampler(case) -> Diffusion:
    """The gaussdsm sampler of a library case (module docstring; :data:`NAMED_GRIDS`)."""
    key = (case["library"], case["sampler"])
    scheme, params, final = MAP[key]
    opts = _options(case)
    kw = {p: opts[p] for p in params}
    if key in NAMED_GRIDS:
        return Diffusion(scheme=scheme, n_steps=case["n_steps"], t_min=0.0, **NAMED_GRIDS[key], **kw)
    sig = case["sigmas"]
    if case["final_zero"] and final == "denoise":
        return Diffusion(process="edm", scheme=scheme, grid=sig[:-1], denoise=True, **kw)
    return Diffusion(process="edm", scheme=scheme, grid=sig, **kw)


def gaussdsm_variance(case) -> np.ndarray:
    """gaussdsm's exact output variance from the case's start variance (in the σ̃ variable; a named grid's case: from
    its start law, :data:`NAMED_GRIDS`)."""
    sampler, lam = gaussdsm_sampler(case), np.asarray(case["lam"])
    if (case["library"], case["sampler"]) in NAMED_GRIDS:
        F, bad = sampler.variance_and_flags(lam)
        assert not np.any(bad), case["id"]
        return F
    Phi, Psi, bad = sampler.affine(lam)
    assert not np.any(bad), case["id"]
    return sampler._finish(lam, Phi * case["start_variance"] + Psi)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_gaussdsm_matches_the_library(case):
    lack = missing(case)
    if lack is not None:
        assert lack in NOT_IMPLEMENTED, f"{case['id']} needs {lack!r}: implement it or list it in NOT_IMPLEMENTED"
        pytest.skip(f"gaussdsm has no {lack} yet")
    ours = gaussdsm_variance(case)
    theirs = np.asarray(case["variance"]) / case["output_m2"]
    rel = np.abs(ours / theirs - 1.0)
    assert rel.max() <= TOL, f"{case['id']}: relative differences {rel}"


def test_the_front_door_gives_the_same_law():
    """k-diffusion starts from σ_max² = T², gaussdsm's standard initialisation: ``Diffusion.variance`` itself."""
    n = 0
    for case in CASES:
        if case["library"] != "k-diffusion" or missing(case) is not None:
            continue
        assert case["start_variance"] == pytest.approx(case["sigmas"][0] ** 2, rel=1e-15)
        np.testing.assert_allclose(gaussdsm_sampler(case).variance(np.asarray(case["lam"])), case["variance"],
                                   rtol=TOL)
        n += 1
    assert n >= 30


def test_every_case_is_mapped_and_the_pending_list_is_current():
    names = {(c["library"], c["sampler"]) for c in CASES}
    assert names <= set(MAP), names - set(MAP)
    lacking = {missing(c) for c in CASES} - {None}
    assert lacking == NOT_IMPLEMENTED, ("NOT_IMPLEMENTED must list exactly what the cases lack: "
                                        f"stale {NOT_IMPLEMENTED - lacking}, missing {lacking - NOT_IMPLEMENTED}")
    compared = [c for c in CASES if missing(c) is None]
    schemes = {MAP[(c["library"], c["sampler"])][0] for c in compared}
    assert {"euler", "heun", "dpm_2", "dpmpp_2m", "ddim", "euler_ancestral", "k_heun", "k_euler", "k_dpm_2", "lms",
            "dpm_2_ancestral", "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m_sde", "dpmpp_2m_sde_heun",
            "dpmpp_3m_sde", "unipc_bh1", "unipc_bh2", "deis_logrho", "deis_logrho_3"} <= schemes


def test_the_reference_is_sound():
    """The stored values are what the script claims: every grid decreasing from its start, the deterministic runs
    linear, the superposition of every stochastic case confirmed by the library's own noise (|z| < 4.5 over
    N particles), the K steps of each case and the model calls counted."""
    doc = _load()
    assert not doc["failed"], doc["failed"]
    assert doc["versions"]["k-diffusion"] and doc["versions"]["diffusers"] and doc["versions"]["torch"]
    for case in CASES:
        sig = np.asarray(case["sigmas"])
        assert np.all(np.diff(sig) < 0), case["id"]
        assert len(sig) - 1 == case["n_steps"] or case["library"] == "diffusers", case["id"]
        if case["noise"] == "none":
            assert case["linearity_error"] < 1e-10, case["id"]
        else:
            assert case["n_sources"] >= 1 and case["mc"]["max_abs_z"] < 4.5, case["id"]
        v = np.asarray(case["variance"])
        assert np.all(np.isfinite(v)) and np.all(v > 0), case["id"]
        assert case["nfe"] >= len(sig) - 1 - 1, case["id"]


def test_nfe_conventions():
    """K steps to 0: K model calls for Euler and DPM-Solver++(2M), 2K - 1 for Heun and DPM-2 (their step to 0 is
    Euler); gaussdsm's count of K - 1 steps plus the final denoising is the same."""
    for case in CASES:
        key = (case["library"], case["sampler"])
        if case["library"] != "k-diffusion" or key[1] not in ("euler", "dpmpp_2m", "heun", "dpm_2"):
            continue
        K = case["n_steps"]
        two = key[1] in ("heun", "dpm_2")
        assert case["nfe"] == ((2 * K - 1 if case["final_zero"] else 2 * K) if two else K), case["id"]
        assert gaussdsm_sampler(case).nfe == case["nfe"], case["id"]
        assert math.isclose(gaussdsm_sampler(case).times[0], 80.0)


def _with_zero_in_grid(case) -> np.ndarray:
    scheme = MAP[(case["library"], case["sampler"])][0]
    sampler, lam = Diffusion(process="edm", scheme=scheme, grid=case["sigmas"]), np.asarray(case["lam"])
    Phi, Psi, _ = sampler.affine(lam)
    return Phi * case["start_variance"] + Psi


def test_the_final_step_to_zero_as_t_min_zero():
    """The step to σ = 0 as a grid ending at t_min = 0 (no ``denoise``) is the libraries' step too for the schemes
    whose own step to 0 is the data prediction: euler (= ddim on edm), dpmpp_2m (first order at h = ∞),
    euler_ancestral (no noise to 0).  Not dpm_2 (module docstring)."""
    seen = set()
    for case in CASES:
        scheme = MAP[(case["library"], case["sampler"])][0]
        if (case["library"], case["sampler"]) in NAMED_GRIDS:
            continue
        if not case["final_zero"] or missing(case) is not None or scheme not in ("euler", "dpmpp_2m",
                                                                                 "euler_ancestral"):
            continue
        rel = np.abs(_with_zero_in_grid(case) / (np.asarray(case["variance"]) / case["output_m2"]) - 1.0)
        assert rel.max() <= TOL, (case["id"], rel)
        seen.add(scheme)
    assert seen == {"euler", "dpmpp_2m", "euler_ancestral"}


def test_heun_churn_is_k_diffusion_where_the_churn_counts_agree():
    """gaussdsm's ``heun_churn`` (the EDM paper's count, gamma = S_churn/K over a grid ending at t_min > 0) is
    k-diffusion's ``sample_heun`` with churn exactly where the two counts give the same gamma
    (:func:`churn_counts_agree`); ``k_heun`` (k-diffusion's count) matches every case (the parametrized test)."""
    n = 0
    for case in CASES:
        if case["library"] != "k-diffusion" or not case["sampler"].startswith("heun_churn"):
            continue
        if not churn_counts_agree(case):
            continue
        o, sig, lam = _options(case), case["sigmas"], np.asarray(case["lam"])
        kw = {p: o[p] for p in CHURN}
        s = (Diffusion(process="edm", scheme="heun_churn", grid=sig[:-1], denoise=True, **kw) if case["final_zero"]
             else Diffusion(process="edm", scheme="heun_churn", grid=sig, **kw))
        Phi, Psi, bad = s.affine(lam)
        ours = s._finish(lam, Phi * case["start_variance"] + Psi)
        np.testing.assert_allclose(ours, np.asarray(case["variance"]) / case["output_m2"], rtol=TOL)
        n += 1
    assert n >= 6, n


def _named(case) -> bool:
    return (case["library"], case["sampler"]) in NAMED_GRIDS


def test_the_named_grids_are_the_libraries_own():
    """gaussdsm's grids ``leading``, ``trailing``, ``linspace`` on ``sd_discrete`` and ``flow_shift``, ``flow_dynamic``
    on ``flow`` are the schedulers' own levels (σ̃ = σ_t/m_t of the times; flow: the times), their final 0 at t_min = 0;
    leading starts below the table's top, at its first timestep (T = that timestep + 1, Ho et al.'s t); their starts
    are the schedulers' (``init_noise_sigma`` squared in σ̃; flow: 1)."""
    seen = set()
    for case in CASES:
        if not _named(case):
            continue
        s = gaussdsm_sampler(case)
        t, p = s.times, s.process
        levels = t if case["process"] == "flow" else np.sqrt(p.s2(t) / p.m2(t))
        np.testing.assert_allclose(levels, case["sigmas"], rtol=1e-12, atol=0, err_msg=case["id"])
        if case["process"] == "sd_discrete" and case["grid"] != "linspace":  # the timesteps' times themselves
            np.testing.assert_array_equal(t[:-1], np.asarray(case["timesteps"]) + 1.0)
        if case["process"] == "sd_discrete":
            z_start = case["init_noise_sigma"] ** 2
            np.testing.assert_allclose(s.start_variance(0.0) / float(p.m2(p.T)), z_start, rtol=1e-12)
        else:
            assert s.start_variance(0.0) == case["start_variance"] == 1.0
        if case["grid"] == "flow_dynamic":
            assert case["mu"] == pytest.approx(0.5 + (case["options"]["image_seq_len"] - 256) * 0.65 / 3840, rel=1e-12)
        seen.add(case["grid"])
    assert seen == {"leading", "trailing", "linspace", "flow_shift", "flow_dynamic"}
