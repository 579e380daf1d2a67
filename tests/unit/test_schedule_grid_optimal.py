"""``sampler.grid: optimal``: resolved for the spectrum in one place (gaussdsm.schedule.resolve) and shared by the
theory, the Monte Carlo, the front door and the command line; its bad input as one line."""
from __future__ import annotations

import json
import math
import numpy as np
import pytest

import gaussdsm
from gaussdsm.samplers.spec import SamplerSpec, build, grid_key
from gaussdsm.schedule import optimal_grid, resolve

LAM = np.array([1.0, 0.5, 0.2, 0.05])
POINT = dict(spectrum="custom", values=LAM.tolist(), sampler="diffusion", process="vp", scheme="euler",
             grid="optimal", n_steps=6, t_min=1e-2)


def _spec(schemes=("euler", "heun"), n_steps=(4.0,), **params):
    axes = {"scheme": list(schemes), "init": ["standard"], "n_steps": list(n_steps), "t_min": [1e-2]}
    return SamplerSpec("diffusion", axes, {"process": "vp", "grid": "optimal", **params})


def test_resolve_gives_each_setting_its_optimum_and_build_uses_it():
    spec = resolve(_spec(), LAM)
    grids = spec.params["optimal_grids"]
    assert len(grids) == 2
    for setting in spec.settings():
        st = dict(zip(spec.axes, setting))
        ref = optimal_grid(LAM, process="vp", scheme=st["scheme"], n_steps=int(st["n_steps"]), t_min=st["t_min"],
                           params={"init": "standard"}).grid
        t = grids[grid_key(st["scheme"], "standard", st["n_steps"], st["t_min"])]
        np.testing.assert_allclose(t, ref, rtol=1e-11)  # rounded to 12 significant digits
        s = spec.make(setting)
        np.testing.assert_array_equal(s.times, t)
        assert s.n_steps == st["n_steps"] and s.t_min == st["t_min"]
    assert resolve(_spec(), LAM).params["optimal_grids"] == grids  # a pure function of the settings
    assert resolve(_spec(), LAM * 2).params["optimal_grids"] != grids  # ... and of the spectrum


def test_resolved_grid_round_trips_through_netcdf_attributes():
    spec = resolve(_spec(), LAM)
    attrs = spec.to_attrs()
    assert json.loads(attrs["optimal_grids"]) == spec.params["optimal_grids"]
    back = SamplerSpec.from_attrs(attrs)
    assert back.params["optimal_grids"] == spec.params["optimal_grids"]
    assert back.params["optimal_n_samples"] == math.inf and back.params["optimal_metric"] == "w2"


def test_the_finite_n_optimum_includes_the_generalization_term():
    """optimal_n_samples: a finite N optimises bias + generalization: its grid beats the population one there."""
    from gaussdsm.theory import error_terms

    pop = resolve(_spec(["euler"], [6.0]), LAM)
    fin = resolve(_spec(["euler"], [6.0], optimal_n_samples=20.0), LAM)
    setting = ("euler", "standard", 6.0, 1e-2)

    def total(spec):
        return float(error_terms(LAM, 20.0, **spec.theory_kwargs())["total"].squeeze())

    assert total(fin) < total(pop) * (1 - 1e-4)
    assert spec_times(fin, setting) != spec_times(pop, setting)


def spec_times(spec, setting):
    return list(spec.make(setting).times)


@pytest.mark.parametrize("settings, msg", [
    (dict(n_steps=math.inf), "sampler.grid optimal needs a finite sampler.n_steps"),
    (dict(scheme="annealed_langevin", n_steps=5), "not for sampler.scheme annealed_langevin"),
    (dict(n_steps=5, fit_method="gradient_flow", train_time=1.0), "it needs fit.method exact"),
])
def test_bad_settings_are_one_line_errors(settings, msg):
    with pytest.raises(ValueError, match=msg) as err:
        build("diffusion", **{"grid": "optimal", "scheme": "euler", **settings})
    assert "\n" not in str(err.value)


def test_optimal_keys_need_the_optimal_grid_and_a_diffusion_sampler():
    with pytest.raises(ValueError, match=r"sampler.optimal_n_samples is only used with sampler.grid: optimal"):
        build("diffusion", scheme="euler", grid="karras", n_steps=5, optimal_n_samples=100.0)
    with pytest.raises(ValueError, match=r"sampler.grid optimal is for sampler.kind: diffusion"):
        build("ula", gamma=0.1, optimal_grids={})
    with pytest.raises(ValueError, match=r"sampler\.grid.*only for sampler.kind: diffusion|diffusion"):
        gaussdsm.error(d=4, n_samples=100, sigma=0.1, gamma=0.1, grid="optimal")


def test_an_unresolved_grid_says_how_to_resolve_it():
    s = build("diffusion", scheme="euler", grid="optimal", n_steps=5)
    with pytest.raises(ValueError, match="depends on the spectrum: resolve it first"):
        s.times


def test_front_door_theory_is_that_of_the_recorded_grid_and_mc_agrees():
    """gaussdsm.error(grid='optimal'): the grid it used is in the attributes; the theory on that explicit grid is
    the same number; theory vs Monte Carlo within 4 standard errors at N = 200 on it."""
    ds = gaussdsm.error(**POINT, n_samples=200, mc=400, seed=3)
    grids = json.loads(ds.attrs["optimal_grids"])
    (key, t), = grids.items()
    assert key == grid_key("euler", "standard", 6, 1e-2)
    again = gaussdsm.error(**{**POINT, "grid": t}, n_samples=200)
    assert float(again["total"]) == float(ds["total"])
    assert abs(float(ds["z"])) < 4, (float(ds["mc_mean"]), float(ds["total"]), float(ds["mc_stderr"]))
    pop = gaussdsm.error(**POINT, n_samples=math.inf, mc=1)
    assert float(pop["mc_mean"]) == pytest.approx(float(pop["total"]), rel=1e-9)  # the population law, exactly


def test_command_line_equals_front_door(capsys):
    from gaussdsm.cli import main

    args = ["error", "--spectrum", "custom", "--values", "1", "0.5", "0.2", "0.05", "--n-samples", "200",
            "--sampler", "diffusion", "--process", "vp", "--scheme", "euler", "--grid", "optimal", "--t-min", "0.01",
            "--optimal-metric", "w2"]
    assert main(args + ["--n-steps", "6", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    ds = gaussdsm.error(**POINT, n_samples=200, optimal_metric="w2")
    assert cli["total"] == pytest.approx(float(ds["total"]), rel=1e-12)
    assert cli["params"]["sampler"]["grid"] == "optimal" and cli["params"]["sampler"]["optimal_metric"] == "w2"
    assert cli["params"]["sampler"]["optimal_grid"] == next(iter(json.loads(ds.attrs["optimal_grids"]).values()))
    assert main(args + ["--n-steps", "inf"]) != 0
    err = capsys.readouterr().err.strip()
    assert "finite" in err and len(err.splitlines()) == 1, err


def test_config_accepts_the_optimal_grid_and_refuses_it_where_it_does_not_apply(repo):
    from gaussdsm.schema import validate
    from gaussdsm.study import ConfigError, check_config

    def cfg(sampler, fit=None):
        grid = {"n_samples": [10]} if sampler["kind"] == "diffusion" else {"n_samples": [10], "sigma": [0.1],
                                                                            "gamma": [0.0]}
        study = {"spectrum": {"kind": "power_law", "d": 3}, "grid": grid, "sampler": sampler}
        if fit:
            study["fit"] = fit
        return {"studies": {"s": study}}

    schema = repo / "workflow" / "schemas" / "config.schema.yaml"
    good = cfg({"kind": "diffusion", "scheme": ["euler"], "grid": "optimal", "n_steps": [5], "optimal_n_samples": 50})
    check_config(validate(good, schema))
    for sampler, fit, msg in [
        ({"kind": "ula", "grid": "optimal"}, None, "sampler.grid"),
        ({"kind": "diffusion", "scheme": ["euler"], "grid": "optimal", "n_steps": [float("inf")]}, None,
         "sampler.grid optimal needs a finite sampler.n_steps"),
        ({"kind": "diffusion", "scheme": ["euler"], "grid": "karras", "n_steps": [5], "optimal_metric": "w2"}, None,
         "sampler.optimal_metric is only used with sampler.grid: optimal"),
        ({"kind": "diffusion", "scheme": ["euler"], "grid": "optimal", "n_steps": [5]},
         {"method": "gradient_flow", "train_time": [1.0]}, "needs fit.method exact"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            check_config(validate(cfg(sampler, fit), schema))
