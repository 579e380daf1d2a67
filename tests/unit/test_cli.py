"""The `gaussdsm` console command (error breakdown and provenance)."""
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
import yaml

from gaussdsm import theory
from gaussdsm.cli import main
from gaussdsm.io import collect_provenance, write_dataset


def test_error_prints_the_theory_breakdown(capsys):
    assert main(["error", "--d", "8", "--n-samples", "500", "--sigma", "0.2", "--gamma", "0.05", "--tau", "1e-4"]) == 0
    out = capsys.readouterr().out
    th = theory.error_terms(1 / np.arange(1, 9.0), 500, 0.2, 0.05, 1e-4)
    for term in ("bias", "generalization", "optimization", "total"):
        value = float(re.search(rf"^\s+{term}\s+(\S+)", out, re.M).group(1))
        np.testing.assert_allclose(value, float(th[term]), rtol=1e-6)


@pytest.mark.parametrize("tau", [0.0, 5e-4])
def test_error_with_monte_carlo(capsys, tau):
    args = ["error", "--d", "4", "--n-samples", "400", "--sigma", "0.4", "--gamma", "0.02", "--mc", "40"]
    assert main(args + ["--tau", str(tau)]) == 0
    out = capsys.readouterr().out
    z = [float(v) for v in re.findall(r"z (?:vs total )?= ([-+]\d+\.\d+)", out)]
    assert len(z) == (2 if tau else 1) and all(abs(v) < 4 for v in z), out
    assert ("SGD" in out) == bool(tau)


@pytest.mark.parametrize("bad", [["--sigma", "-1"], ["--n-samples", "0"], ["--d", "0"], ["--model", "cnn"],
                                 ["--n-steps", "0"], ["--n-steps", "2.5"], ["--init-var", "-1"], ["--friction", "0"],
                                 ["--sampler", "hmc"]])
def test_error_rejects_bad_arguments(capsys, bad):
    args = {"--n-samples": "100", "--sigma": "0.1", "--gamma": "0.0"}
    args.update(dict(zip(bad[::2], bad[1::2])))
    with pytest.raises(SystemExit) as exc:
        main(["error", *[x for kv in args.items() for x in kv]])
    assert exc.value.code == 2
    assert bad[0].lstrip("-").split("-")[0] in capsys.readouterr().err


def test_json_has_the_documented_keys(capsys):
    args = ["error", "--d", "8", "--n-samples", "inf", "--sigma", "0.2", "--gamma", "0.02", "--sampler", "uld",
            "--friction", "2", "--n-steps", "100", "--init-var", "0", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"bias", "generalization", "optimization", "total", "params"} <= set(out)
    th = theory.error_terms(1 / np.arange(1, 9.0), np.inf, 0.2, 0.02, sampler="uld", friction=2.0, n_steps=100,
                            init_var=0.0)
    assert out["total"] == pytest.approx(float(th["total"]), rel=1e-12) and out["generalization"] == 0.0
    assert out["params"]["n_samples"] == "inf"
    assert out["params"]["sampler"] == {"kind": "uld", "gamma": 0.02, "n_steps": 100, "init_var": 0.0, "friction": 2.0}
    assert out["params"]["spectrum"] == {"kind": "power_law", "d": 8}


def test_json_reports_what_is_not_available_as_null(capsys):
    """SGD (tau > 0) with a finite-K sampler: R8 is derived for stationary ULA only: null, with the reason."""
    args = ["error", "--d", "4", "--n-samples", "400", "--sigma", "0.3", "--gamma", "0.02", "--tau", "1e-3",
            "--n-steps", "50", "--json"]
    main(args)
    out = json.loads(capsys.readouterr().out)
    assert out["optimization"] is None and out["total"] is None and out["bias"] > 0
    assert any("derived for stationary ULA only" in n for n in out["notes"])


@pytest.mark.parametrize("suffix", [".npy", ".txt", ".nc"])
def test_custom_spectrum_from_a_file_with_a_zero_eigenvalue(tmp_path, capsys, suffix):
    lam = np.array([1.0, 0.4, 0.1, 0.0])
    f = tmp_path / f"lam{suffix}"
    if suffix == ".npy":
        np.save(f, lam)
    elif suffix == ".txt":
        np.savetxt(f, lam)
    else:
        xr.Dataset({"lam": ("mode", lam)}).to_netcdf(f, engine="netcdf4")
    assert main(["error", "--spectrum", "custom", "--file", str(f), "--n-samples", "800", "--sigma", "0.3",
                 "--gamma", "0.01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    th = theory.error_terms(lam, 800, 0.3, 0.01)
    assert out["total"] == pytest.approx(float(th["total"]), rel=1e-12) and out["params"]["spectrum"]["d"] == 4


def test_messages_name_the_option(capsys):
    assert main(["error", "--n-samples", "100", "--sigma", "0.1", "--gamma", "0.01", "--sampler", "uld"]) == 2
    assert "--friction" in capsys.readouterr().err
    assert main(["error", "--n-samples", "100", "--sigma", "0.1", "--gamma", "0.01", "--friction", "2"]) == 2
    assert "--friction is only used by" in capsys.readouterr().err
    assert main(["error", "--spectrum", "custom", "--values", "1", "-0.5", "--n-samples", "100", "--sigma", "0.1",
                 "--gamma", "0.01"]) == 2
    assert "--values must be >= 0" in capsys.readouterr().err
    assert main(["error", "--n-samples", "inf", "--tau", "1e-3", "--sigma", "0.1", "--gamma", "0.01"]) == 2
    assert "finite --n-samples" in capsys.readouterr().err
    for args, msg in ((["--scheme", "heun", "--t-min", "0"], "--t-min must be > 0 with scheme heun"),
                      (["--process", "vp_exp", "--exp-rate", "0"], "--exp-rate must be non-zero"),
                      (["--process", "flow", "--scheme", "ei", "--n-steps", "20"], "--scheme ei divides by the signal scale"),
                      (["--process", "flow", "--T", "2"], "--T must be <= 1 with process flow"),
                      (["--scheme", "heun_churn", "--s-churn", "5"], "needs --process: edm"),
                      (["--n-steps", "20", "--fit", "gd", "--train-time", "2"], "--lr must be > 0 with --fit gd"),
                      (["--fit", "gradient_flow", "--train-time", "2", "--depth", "2", "--fit-init", "identity"],
                       "--fit-init is only used by --depth 1")):
        assert main(["error", "--n-samples", "100", "--sampler", "diffusion", *args]) == 2
        assert msg in capsys.readouterr().err, args


def test_regime_note_says_what_fails(capsys):
    """N far below the expansion's scale: the note says 'below', with the numbers (not 'not far above')."""
    main(["error", "--n-samples", "100", "--sigma", "0.1", "--gamma", "0.13"])
    out = capsys.readouterr().out
    assert ("N = 100 is too small for the 1/N expansion: the neglected O(1/N^2) term is estimated at 36.1 = "
            "836 % of the total (> 5 %: the first order may be off by more than 10 %; second_order)") in out
    main(["error", "--n-samples", "10000000", "--sigma", "0.1", "--gamma", "0.13"])
    assert "note" not in capsys.readouterr().out


def test_provenance_prints_config_and_versions(tmp_path, capsys):
    cfg = {"seed": 3, "studies": {"s": {"grid": {"sigma": [0.1]}}}}
    ds = xr.Dataset({"x": ("i", [1.0, 2.0], {"units": "1", "long_name": "x"})},
                    coords={"i": ("i", [0, 1], {"units": "1", "long_name": "index"})})
    f = write_dataset(ds, tmp_path / "r.nc", collect_provenance(cfg, rule="spectra"), title="t")
    assert main(["provenance", str(f)]) == 0
    out = capsys.readouterr().out
    assert "snakemake_rule: spectra" in out and "numpy" in out and "config_sha256:" in out
    assert yaml.safe_load(out.split("seed):\n", 1)[1]) == cfg  # the config, as YAML, indented
    assert main(["provenance", str(f), "--config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == cfg  # --config: the config alone (a --configfile)


def test_provenance_of_a_corrupt_file_names_it(tmp_path, capsys):
    f = tmp_path / "bad.nc"
    f.write_bytes(b"CDF\x01 truncated")
    assert main(["provenance", str(f)]) == 2
    assert "bad.nc" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = shutil.which("gaussdsm") or str(__import__("pathlib").Path(sys.executable).with_name("gaussdsm"))
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("gaussdsm ")


def test_diffusion_json(capsys):
    args = ["error", "--sampler", "diffusion", "--process", "vp", "--scheme", "em", "--grid", "uniform", "--n-steps",
            "999", "--t-min", "1e-3", "--init", "standard", "--n-samples", "inf", "--d", "8", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"bias", "generalization", "optimization", "total", "params", "bias_init", "bias_discretization",
            "bias_stopping", "nfe"} <= set(out)
    th = theory.error_terms(1 / np.arange(1, 9.0), np.inf, sampler="diffusion", scheme="em", n_steps=999, t_min=1e-3)
    assert out["total"] == pytest.approx(float(th["total"]), rel=1e-12) and out["nfe"] == 999
    assert out["params"]["sampler"]["kind"] == "diffusion" and "sigma" not in out["params"]


def test_diffusion_rejects_langevin_options(capsys):
    assert main(["error", "--sampler", "diffusion", "--gamma", "0.1", "--n-samples", "inf"]) == 2
    assert "--gamma is not used by --sampler diffusion" in capsys.readouterr().err
    assert main(["error", "--n-samples", "100", "--gamma", "0.01"]) == 2
    assert "--sigma is required by --sampler ula" in capsys.readouterr().err


def test_undefined_diffusion_theory_names_the_one_cause_that_applies(capsys):
    """An unstable ddpm step and an infinite score at t = 0 each get their own sentence, not a list of
    possible causes."""
    assert main(["error", "--sampler", "diffusion", "--scheme", "ddpm", "--n-steps", "3", "--n-samples", "inf",
                 "--d", "8"]) == 1
    out = capsys.readouterr().out
    assert "ddpm (ancestral sampling) needs h_k beta(t_k) < 1" in out and "infinite" not in out
    assert main(["error", "--sampler", "diffusion", "--scheme", "euler", "--n-steps", "inf", "--t-min", "0",
                 "--n-samples", "inf", "--spectrum", "custom", "--values", "1", "0.5", "0"]) == 1
    out = capsys.readouterr().out
    assert "the score is infinite: t_min = 0" in out and "unstable" not in out and " or " not in out.split(":", 2)[-1]


def test_diffusion_regime_note_has_the_numbers(capsys):
    main(["error", "--sampler", "diffusion", "--scheme", "em", "--n-steps", "100", "--n-samples", "3", "--d", "8"])
    out = capsys.readouterr().out
    assert "N = 3 is too small for the 1/N expansion: the neglected O(1/N^2) term is estimated at 0.547 = 33 %" in out
    main(["error", "--sampler", "diffusion", "--scheme", "em", "--n-steps", "100", "--n-samples", "100", "--d", "8"])
    assert "note" not in capsys.readouterr().out


def test_error_refuses_what_would_exceed_time_or_memory(capsys, monkeypatch):
    """d = 20000, full model, 20 replicates: hours of O(d^3) work -- refused at once with the estimate and what to
    change (it used to die in a segmentation fault); an impossible memory budget is refused the same way."""
    from gaussdsm import budget

    args = ["error", "--d", "20000", "--model", "full", "--n-samples", "1000", "--sigma", "0.1", "--gamma", "0.001",
            "--mc", "20"]
    monkeypatch.setattr(budget, "available_mb", lambda: 1e6)  # the time limit alone (not what this machine has free)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--max-time 600 s" in err and "d = 20000" in err and " h " in err, err
    monkeypatch.setattr(budget, "available_mb", lambda: 100.0)
    assert main(["error", "--d", "2000", "--n-samples", "1000", "--sigma", "0.1", "--gamma", "0.001", "--mc", "5"]) == 2
    err = capsys.readouterr().err
    assert "MB but 100 MB are available" in err, err


def test_budget_estimate_scales_as_the_work():
    """O(d^3) per replicate for the full model, O(d^2) per theory point, O(d) for the diagonal models."""
    from gaussdsm.budget import estimate

    mc = [estimate(d, model="full", n_samples=10 * d, mc=10).seconds for d in (1000, 2000)]
    th = [estimate(d, model="full", n_samples=10 * d).seconds for d in (1000, 2000)]
    dg = [estimate(d, model="diagonal", n_samples=10 * d, mc=10).seconds for d in (10**5, 2 * 10**5)]
    assert mc[1] / mc[0] == pytest.approx(8, rel=0.05) and th[1] / th[0] == pytest.approx(4, rel=0.05)
    assert dg[1] / dg[0] == pytest.approx(2, rel=0.05)


def test_error_progress_bar_on_request(capsys):
    assert main(["error", "--d", "300", "--n-samples", "1000", "--sigma", "0.1", "--gamma", "0.001", "--mc", "6",
                 "--progress"]) == 0
    err = capsys.readouterr().err
    assert "Monte Carlo" in err and "6/6" in err, err
    assert main(["error", "--d", "300", "--n-samples", "1000", "--sigma", "0.1", "--gamma", "0.001", "--mc", "6",
                 "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_error_with_trained_scores(capsys):
    """--fit gradient_flow: the theory of the trained fit and its Monte Carlo, labelled as such."""
    assert main(["error", "--sampler", "diffusion", "--scheme", "heun", "--n-steps", "40", "--t-min", "0.02", "--d", "5",
                 "--n-samples", "400", "--fit", "gradient_flow", "--train-time", "3", "--mc", "50"]) == 0
    out = capsys.readouterr().out
    assert "fit_method = gradient_flow, train_time = 3" in out and "gradient_flow fit, train time 3, 50 replicates" in out
    assert main(["error", "--sampler", "diffusion", "--scheme", "heun", "--n-steps", "10", "--t-min", "0.05", "--d", "3",
                 "--n-samples", "100", "--fit", "gd", "--lr", "0.05", "--train-time", "1", "--mc", "5", "--json"]) == 0
    drawn = json.loads(capsys.readouterr().out)["monte_carlo"]["drawn_noise"]
    assert drawn["stderr"] > 0 and abs(drawn["difference"]) < drawn["mean"]
    assert main(["error", "--n-samples", "400", "--sigma", "0.1", "--gamma", "0.01", "--fit", "gd"]) == 2
    assert "--fit is only used by --sampler diffusion" in capsys.readouterr().err


def test_several_values_are_the_front_doors_grid(capsys):
    """Comma-separated values: the Cartesian product, one JSON line per point, each the front door's value there."""
    import gaussdsm

    assert main(["error", "--d", "8", "--n-samples", "100,1000", "--sigma", "0.2", "--gamma", "0,0.02", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    ds = gaussdsm.error(d=8, n_samples=[100, 1000], sigma=0.2, gamma=[0.0, 0.02])
    assert len(lines) == 4 and [x["point"] for x in lines] == [
        {"n_samples": n, "gamma": g} for n in (100, 1000) for g in (0.0, 0.02)]
    for x in lines:
        assert x["total"] == float(ds["total"].sel(x["point"])) and x["in_regime"] == bool(ds["in_regime"].sel(x["point"]))
    assert main(["error", "--d", "8", "--n-samples", "100,1000", "--sigma", "0.2", "--gamma", "0,0.02"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["n_samples", "gamma"] and len(out) == 5  # a header and one row per point
    assert main(["error", "--d", "8", "--n-samples", "100,100", "--sigma", "0.2", "--gamma", "0"]) == 2
    assert "unique" in capsys.readouterr().err


@pytest.mark.parametrize("of", ["floor", "best"])
def test_within_prints_the_cheapest_qualifying_setting(capsys, of):
    """--within 10% --of floor|best --minimise nfe: every listed setting qualifies, none cheaper is left out."""
    schemes, steps = ["em", "heun", "ei"], [5, 10, 20, 40, 80]
    args = ["error", "--sampler", "diffusion", "--d", "8", "--n-samples", "1000", "--scheme", ",".join(schemes),
            "--n-steps", ",".join(map(str, steps)), "--within", "10%", "--of", of, "--json"]
    assert main(args) == 0
    found = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    lam = 1 / np.arange(1, 9.0)
    th = theory.error_terms(lam, 1000, sampler="diffusion", scheme=schemes, n_steps=steps)
    ref = (theory.error_terms(lam, 1000, sampler="diffusion", scheme=schemes, n_steps=np.inf)["total"]
           if of == "floor" else th["total"].min())
    ok = (th["total"] <= 1.1 * ref) & (th["valid"] == 1)
    nfe = th["nfe"].where(ok)
    assert len(found) == int(ok.sum()) and found[0]["nfe"] == float(nfe.min())
    assert [f["nfe"] for f in found] == sorted(f["nfe"] for f in found)
    for f in found:
        assert f["total"] == pytest.approx(float(th["total"].sel(f["point"])), rel=1e-12)
        assert f["ratio"] <= 1.1 and f["of"] == of


def _provenance_file(tmp_path):
    cfg = {"seed": 3, "studies": {f"s{i}": {"grid": {"sigma": [0.1]}} for i in range(200)}}  # a long output
    ds = xr.Dataset({"x": ("i", [1.0, 2.0], {"units": "1", "long_name": "x"})},
                    coords={"i": ("i", [0, 1], {"units": "1", "long_name": "index"})})
    return write_dataset(ds, tmp_path / "r.nc", collect_provenance(cfg, rule="spectra"), title="t")


def test_provenance_into_a_closed_pipe_ends_quietly(tmp_path):
    """`gaussdsm provenance FILE | head`: a reader that has gone ends the command with no traceback and the exit
    status of a command killed by SIGPIPE (128 + 13); the same through a shell pipe into `head -1`."""
    f = _provenance_file(tmp_path)
    cmd = [sys.executable, "-c", "import sys; from gaussdsm.cli import main; sys.exit(main())", "provenance", str(f)]
    read, write = os.pipe()
    os.close(read)  # every write fails with EPIPE: deterministic
    out = subprocess.run(cmd, stdout=write, stderr=subprocess.PIPE, text=True, timeout=60)
    os.close(write)
    assert out.stderr == "" and out.returncode == 141, (out.returncode, out.stderr)
    shell = " ".join(f"'{c}'" for c in cmd) + " | head -1"
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("title: t") and out.stdout.count("\n") == 1, out
    assert "Traceback" not in out.stderr and "Error" not in out.stderr, out.stderr
