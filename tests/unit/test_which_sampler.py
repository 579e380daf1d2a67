"""P12 (which sampler for my data): the schemes compared at equal NFE, each at its own K = NFE / evaluations per
step; the best three at each NFE are those of lowest theory, and that theory is gaussdsm.error's at that K; the
overlay config/p12.yaml runs every scheme of the registry that its process allows, with common NFE values."""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import yaml

import gaussdsm
from gaussdsm.figures import which_sampler
from gaussdsm.samplers.diffusion import SCHEMES

SCHEMES_SMALL = ["euler", "heun", "rk4", "dpmpp_2m", "dpm_2_ancestral", "ipndm", "deis"]
SETTING = {"process": "edm", "grid": "karras", "t_min": 0.002}
CONFIG = {
    "seed": 5,
    "studies": {"w": {
        "spectrum": {"kind": "power_law", "d": 4, "alpha": 1.0},
        "grid": {"n_samples": [math.inf, 500]},
        "sampler": {"kind": "diffusion", "process": SETTING["process"], "grid": SETTING["grid"],
                    "scheme": SCHEMES_SMALL, "n_steps": [1, 2, 4, 8], "t_min": [SETTING["t_min"]]},
        "metrics": ["w2", "kl_sample_data"],
        "montecarlo": {"n_replicates": 4, "points_per_job": 2},
        "panels": ["which_sampler"],
    }},
}


@pytest.fixture(scope="module")
def figure_data():
    res = gaussdsm.run_study(CONFIG)
    return which_sampler.data(res.summary)


def test_common_nfe_are_those_every_scheme_reaches(figure_data):
    """K in {1, 2, 4, 8}: NFE {1..8} (one evaluation per step), {2..16} (two), {4..32} (rk4): common {4, 8}."""
    assert figure_data["nfe"].values.tolist() == [4.0, 8.0]
    assert figure_data["metric"].values.tolist() == ["w2", "kl_sample_data"]


def test_the_theory_at_each_nfe_is_the_schemes_own_at_k_of_that_nfe(figure_data):
    """Each scheme's value at NFE n is gaussdsm.error's at K = n / (its record's evaluations per step)."""
    for sch in SCHEMES_SMALL:
        for n in figure_data["nfe"].values:
            k = n / SCHEMES[sch].evals
            ds = gaussdsm.error(spectrum="power_law", d=4, alpha=1.0, n_samples=[math.inf, 500.0], sampler="diffusion",
                                scheme=sch, n_steps=k, metric=["w2", "kl_sample_data"], **SETTING)
            assert float(ds["nfe"].values.flat[0]) == n
            got = figure_data["theory_at_nfe"].sel(scheme=sch, nfe=n)
            want = ds["total"].where(ds["valid"] == 1).sel(metric=got["metric"], n_samples=got["n_samples"])
            want = want.transpose(*got.dims)
            np.testing.assert_allclose(got.values, want.values, rtol=1e-10)


def test_the_best_three_at_each_nfe_have_the_lowest_theory(figure_data):
    d = figure_data
    checked = 0
    for m in d["metric"].values:
        for N in d["n_samples"].values:
            for n in d["nfe"].values:
                vals = d["theory_at_nfe"].sel(metric=m, n_samples=N, nfe=n)
                best = [str(x) for x in d["best"].sel(metric=m, n_samples=N, nfe=n).values]
                defined = vals.where(np.isfinite(vals), drop=True)
                assert defined.size >= 3
                lowest = [str(s) for s in defined["scheme"].values[np.argsort(defined.values, kind="stable")[:3]]]
                assert best == lowest
                others = [s for s in map(str, defined["scheme"].values) if s not in best]
                assert float(vals.sel(scheme=best[-1])) <= float(vals.sel(scheme=others).min())
                ranks = d["rank"].sel(metric=m, n_samples=N, nfe=n)
                assert [int(ranks.sel(scheme=s)) for s in best] == [1, 2, 3]
                assert sorted(ranks.values[np.isfinite(ranks.values)].astype(int)) == list(range(1, defined.size + 1))
                checked += 1
    assert checked == 2 * 2 * 2


def test_ranks_leave_undefined_points_out_and_keep_ties_in_order():
    v = np.array([[3.0, np.nan, 1.0, np.inf, 1.0], [0.5, 0.2, 0.1, 0.3, 0.4]])
    r = which_sampler.ranks(v, axis=1)
    np.testing.assert_array_equal(r[0], [3.0, np.nan, 1.0, np.nan, 2.0])
    np.testing.assert_array_equal(r[1], [5.0, 2.0, 1.0, 3.0, 4.0])
    np.testing.assert_array_equal(which_sampler.ranks(v.T, axis=0), r.T)


def test_the_monte_carlo_of_the_population_score_is_the_theory(figure_data):
    """N = inf: the sampled law is deterministic and exact; the MC points sit on the theory at their NFE."""
    d = figure_data.sel(metric="w2", n_samples=np.inf)
    for n in d["nfe"].values:
        for sch in SCHEMES_SMALL:
            k = d["n_steps"].values[d["theory_nfe"].sel(scheme=sch).values == n][0]
            np.testing.assert_allclose(float(d["mc_mean"].sel(scheme=sch, n_steps=k)),
                                       float(d["theory_at_nfe"].sel(scheme=sch, nfe=n)), rtol=1e-8)


def test_draw_has_a_row_pair_per_metric_and_a_column_per_n(figure_data):
    from gaussdsm.figures import _plot

    fig = which_sampler.draw(figure_data)
    grid = [a for a in fig.axes if a.get_subplotspec() is not None and a.get_label() != "<colorbar>"]
    assert len(grid) == 2 * 2 * 2
    _plot.plt.close(fig)


def test_the_overlay_runs_every_scheme_its_process_allows_at_common_nfe(repo):
    """config/p12.yaml: every scheme of the registry, but those its comment leaves out (defined for another process,
    or with no fixed number of evaluations per step); its K give every scheme the NFE values 8, 16, 32, 64."""
    text = (repo / "config" / "p12.yaml").read_text()
    study = yaml.safe_load(text)["studies"]["p12"]
    sp = study["sampler"]
    left_out = {"ddpm", "annealed_langevin"}
    assert all(s in text.split("run_studies")[0] for s in left_out)  # named in the comment
    assert set(sp["scheme"]) == set(SCHEMES) - left_out
    reached = [{SCHEMES[s].evals * k for k in sp["n_steps"]} for s in sp["scheme"]]
    assert {8, 16, 32, 64} <= set.intersection(*reached)
    assert "which_sampler" in study["panels"]


def test_the_sweep_ranks_schemes_and_grids_at_a_fixed_nfe(capsys):
    """`gaussdsm error --nfe 8` over schemes of 1, 2 and 4 evaluations per step and named grids: every scheme at
    its own K = 8 / evaluations, ranked by the theory (the front door's at that K), lowest first, ratio to the best."""
    from gaussdsm.cli import main

    schemes, grids = ["euler", "dpmpp_2m", "heun", "rk4", "uni_pc"], ["karras", "exponential", "kl_optimal"]
    args = ["error", "--sampler", "diffusion", "--process", "edm", "--t-min", "0.002", "--d", "8",
            "--n-samples", "1000", "--scheme", ",".join(schemes), "--grid", ",".join(grids), "--nfe", "8,16", "--json"]
    assert main(args) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 * len(schemes) * len(grids)
    for n in (8, 16):
        at = [x for x in lines if x["nfe"] == n]
        assert {(x["point"]["scheme"], x["point"]["grid"]) for x in at} == {(s, g) for s in schemes for g in grids}
        assert [x["rank"] for x in at] == list(range(1, len(at) + 1))
        totals = [x["total"] for x in at]
        assert totals == sorted(totals) and at[0]["ratio"] == 1.0
        for x in at:
            p = x["point"]
            assert p["n_steps"] * SCHEMES[p["scheme"]].evals == n
            want = gaussdsm.error(d=8, n_samples=1000, sampler="diffusion", process="edm", t_min=0.002,
                                  scheme=p["scheme"], grid=p["grid"], n_steps=p["n_steps"])
            assert x["total"] == pytest.approx(float(want["total"]), rel=1e-12)
            assert x["ratio"] == pytest.approx(x["total"] / at[0]["total"], rel=1e-12)


def test_the_sweep_at_fixed_nfe_prints_a_ranking(capsys):
    from gaussdsm.cli import main

    assert main(["error", "--sampler", "diffusion", "--d", "4", "--n-samples", "inf", "--scheme", "euler,heun",
                 "--nfe", "10"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "NFE 10: 2 of 2 settings ranked by the theory's total (lowest first):"
    assert re.match(r"\s+rank\s+scheme\s+n_steps\s+total\s+x best\s+regime", out[1])
    rows = [line.split() for line in out[2:4]]
    assert [r[0] for r in rows] == ["1", "2"] and {(r[1], r[2]) for r in rows} == {("heun", "5"), ("euler", "10")}
    totals = [float(gaussdsm.error(d=4, n_samples=math.inf, sampler="diffusion", scheme=r[1],
                                   n_steps=int(r[2]))["total"]) for r in rows]
    assert totals[0] < totals[1] and [float(r[3]) for r in rows] == pytest.approx(totals, rel=1e-4)


@pytest.mark.parametrize("extra, message", [
    (["--scheme", "heun", "--nfe", "9"], "--nfe 9: no whole number of steps for heun (2 per step)"),
    (["--scheme", "heun", "--nfe", "10", "--n-steps", "5"], "--nfe sets each scheme's --n-steps"),
    (["--scheme", "heun", "--nfe", "10", "--within", "10%"], "--nfe and --within are two questions"),
])
def test_the_sweep_at_fixed_nfe_refuses_bad_input_in_one_line(capsys, extra, message):
    from gaussdsm.cli import main

    assert main(["error", "--sampler", "diffusion", "--d", "4", "--n-samples", "inf", *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_the_sweep_at_fixed_nfe_is_for_diffusion(capsys):
    from gaussdsm.cli import main

    assert main(["error", "--d", "4", "--n-samples", "100", "--sigma", "0.1", "--gamma", "0.01", "--nfe", "10"]) == 2
    assert "--nfe ranks diffusion samplers: give --sampler diffusion" in capsys.readouterr().err


def test_the_panel_is_refused_for_a_langevin_study_before_any_job():
    from gaussdsm.study import ConfigError

    cfg = {"studies": {"l": {"spectrum": {"kind": "power_law", "d": 4}, "grid": {"n_samples": [100], "sigma": [0.1],
                                                                               "gamma": [0.0]},
                             "panels": ["which_sampler"]}}}
    with pytest.raises(ConfigError, match="which_sampler needs sampler.kind: diffusion"):
        gaussdsm.run_study(cfg)


def test_a_study_without_a_common_nfe_is_refused_before_any_job():
    """euler (1 evaluation per step) at K = 10 and heun (2) at K = 10: NFE 10 and 20, none in common."""
    from gaussdsm.study import ConfigError

    study = {"spectrum": {"kind": "power_law", "d": 4}, "grid": {"n_samples": [100]},
             "sampler": {"kind": "diffusion", "scheme": ["euler", "heun"], "n_steps": [10]},
             "panels": ["which_sampler"]}
    with pytest.raises(ConfigError, match=r"sampler.n_steps must hold NFE / e .*\(euler 1, heun 2\)"):
        gaussdsm.run_study({"studies": {"s": study}})
    study["sampler"]["n_steps"] = [5, 10]  # heun at K = 5: NFE 10
    assert which_sampler.config_error(study) is None
