"""gaussdsm.study: a validated config turned into grid points, chunks, stage arguments and targets."""
from __future__ import annotations

import numpy as np
import pytest
from gaussdsm.schema import validate

from gaussdsm.study import Plan, Study


@pytest.fixture
def plan(tiny_config, repo):
    def make(top=None, **changes):
        cfg = tiny_config(top, **changes)
        validate(cfg, str(repo / "workflow" / "schemas" / "config.schema.yaml"))
        return Plan(cfg)

    return make


def test_grid_points_and_chunks(plan):
    p = plan(grid={"n_samples": [800, 200], "sigma": [0.4, 0.2, 0.1]}, montecarlo={"points_per_job": 4})
    st = p.studies["tiny"]
    assert st.grid["n_samples"] == [200, 800] and st.grid["sigma"] == [0.1, 0.2, 0.4]  # sorted
    assert len(st.fit_points) == 6 and st.chunk_ids == ["000", "001"]
    assert [q["sigma"] for q in st.chunk_points("001")] == [0.2, 0.4]
    assert sum(len(st.chunk_points(c)) for c in st.chunk_ids) == 6


def test_stage_arguments_hold_what_each_stage_depends_on(plan):
    st = plan(top={"seed": 5}, fit={"method": "sgd", "sgd": {"allow_unstable": True}},
              grid={"tau": [0.0, 0.001]}).studies["tiny"]
    fit = st.fit_args("000")
    assert fit["seed"] == 5 and fit["n_replicates"] == 20 and set(fit) == {"points", "seed", "n_replicates", "model",
                                                                          "loss_factor", "sgd"}
    assert "allow_unstable" not in fit["sgd"] and fit["sgd"]["batch_size"] == 1  # a config check only
    assert "gamma" not in str(fit)  # the scores do not depend on the sampler: a new gamma reruns no fit
    smp = st.sampler_args("000")
    assert smp == {"sampler": {"kind": "ula", "axes": {"gamma": [0.0, 0.02], "n_steps": [np.inf]},
                               "params": {"init_var": 1.0}}, "metrics": ["w2"]}  # SGD: scores from fit_scores
    th = st.theory_args()
    assert th["grid"]["tau"] == [0.0, 0.001] and th["model"] == "full" and th["batch_size"] == 1
    assert th["metrics"] == ["w2"]  # the schema's default
    other = plan(metrics=["kl_sample_data", "w2"]).studies["tiny"]
    assert other.theory_args()["metrics"] == other.sampler_args("000")["metrics"] == ["kl_sample_data", "w2"]
    assert st.spectrum_args() == {"spectrum": {"kind": "power_law", "d": 4, "alpha": 1.0}}


def test_custom_spectrum_from_a_file(tmp_path):
    f = tmp_path / "lam.txt"
    f.write_text("0.5\n1.0\n0.25\n")
    st = Study("s", {"spectrum": {"kind": "custom", "d": 3, "file": str(f)}})
    np.testing.assert_array_equal(st.lam, [1.0, 0.5, 0.25])
    assert st.spectrum_params == {"kind": "custom", "d": 3, "file": str(f)}


def test_targets_of_the_run(plan):
    p = plan(panels=["error_vs_n", "error_vs_gamma"], top={"figures": {"formats": ["png"]}})
    assert p.targets() == [
        "results/tiny/summary.nc",
        "results/tiny/figures/error_vs_n.nc", "results/tiny/figures/error_vs_n.png",
        "results/tiny/figures/error_vs_gamma.nc", "results/tiny/figures/error_vs_gamma.png",
    ]
    assert p.sampler_chunks("tiny") == ["results/tiny/sampler/chunk-000.nc", "results/tiny/sampler/chunk-001.nc"]
    assert p.sampler_inputs("tiny", "001") == {"spectrum": "results/tiny/spectrum.nc"}  # exact: no fit stage


def test_exact_fits_are_drawn_in_the_sampler_stage(plan):
    st = plan(sampler={"kind": "uld", "friction": [2.0, 1.0], "n_steps": ["inf", 10]},
              grid={"gamma": [0.02, 0.01]}).studies["tiny"]
    args = st.sampler_args("001")
    assert args["points"] == st.chunk_points("001") and args["seed"] == 7 and args["n_replicates"] == 20
    assert args["sampler"]["axes"]["n_steps"] == [10.0, np.inf] and args["sampler"]["axes"]["friction"] == [1.0, 2.0]
    assert st.sampler_axes == {"gamma": [0.01, 0.02], "n_steps": [10.0, np.inf], "friction": [1.0, 2.0]}


@pytest.fixture
def diffusion_plan(tiny_config, repo):
    """``diffusion_plan(sampler, montecarlo=None)``: the tiny study with a diffusion sampler (grid n_samples only)."""
    def make(sampler, montecarlo=None):
        cfg = tiny_config()
        st = cfg["studies"]["tiny"]
        st.update(grid={"n_samples": [200, 800]}, sampler=sampler,
                  montecarlo={**st["montecarlo"], "points_per_job": 1, **(montecarlo or {})})
        validate(cfg, str(repo / "workflow" / "schemas" / "config.schema.yaml"))
        return Plan(cfg)

    return make


def test_chunks_split_over_sampler_values_are_named_by_the_values(plan, diffusion_plan):
    """montecarlo.split: one sampler chunk per fit chunk and value of the split axes, named by the values, so that
    a new value adds chunks and leaves every other chunk's id and arguments as they were; the fit chunks do not
    split (a fit serves every setting)."""
    diff = {"kind": "diffusion", "process": "vp", "scheme": ["heun", "em"], "n_steps": [30, 10]}
    st = diffusion_plan(diff).studies["tiny"]
    assert st.split_axes == ["n_steps"]  # the diffusion default
    assert st.chunk_ids == ["000.n_steps-10", "000.n_steps-30", "001.n_steps-10", "001.n_steps-30"]
    assert st.fit_chunk_ids == ["000", "001"] and st.fit_chunk("001.n_steps-30") == "001"
    args = st.sampler_args("001.n_steps-30")
    assert args["sampler"]["axes"]["n_steps"] == [30.0] and args["sampler"]["axes"]["scheme"] == ["heun", "em"]
    assert args["points"] == st.chunk_points("001")
    more = diffusion_plan({**diff, "n_steps": [30, 10, 100]}).studies["tiny"]
    assert set(st.chunk_ids) < set(more.chunk_ids) and len(more.chunk_ids) == 6
    assert all(more.sampler_args(c) == st.sampler_args(c) for c in st.chunk_ids)
    two = diffusion_plan({**diff, "t_min": [0.01, 0.001]}, {"split": ["t_min", "scheme"]}).studies["tiny"]
    assert two.chunk_ids[:2] == ["000.scheme-heun.t_min-0.001", "000.scheme-heun.t_min-0.01"]  # the axes' order
    assert plan().studies["tiny"].chunk_ids == ["000", "001"]  # Langevin: not split by default
    ula = plan(grid={"gamma": [0.01, 0.02]}, sampler={"kind": "ula", "n_steps": [10, "inf"]},
               montecarlo={"split": ["gamma", "n_steps"]})
    assert ula.studies["tiny"].chunk_ids[:2] == ["000.gamma-0.01.n_steps-10", "000.gamma-0.01.n_steps-inf"]
    assert ula.sampler_inputs("tiny", "001.gamma-0.02.n_steps-inf") == {"spectrum": "results/tiny/spectrum.nc"}


def test_split_names_an_axis_of_the_sampler(plan):
    with pytest.raises(ValueError, match=r"studies\.tiny\.montecarlo\.split: scheme is not an axis of this study's "
                                         r"ula sampler; allowed: \['gamma', 'n_steps'\]"):
        plan(montecarlo={"split": ["scheme"]})
