"""The `gaussdsm` console command (error breakdown and provenance)."""
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

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


@pytest.mark.parametrize("bad", [["--sigma", "-1"], ["--n-samples", "0"], ["--d", "0"], ["--model", "conv"]])
def test_error_rejects_bad_arguments(capsys, bad):
    args = {"--n-samples": "100", "--sigma": "0.1", "--gamma": "0.0"}
    args.update(dict(zip(bad[::2], bad[1::2])))
    with pytest.raises(SystemExit) as exc:
        main(["error", *[x for kv in args.items() for x in kv]])
    assert exc.value.code == 2
    assert bad[0].lstrip("-").split("-")[0] in capsys.readouterr().err


def test_provenance_prints_config_and_versions(tmp_path, capsys):
    cfg = {"seed": 3, "studies": {"s": {"grid": {"sigma": [0.1]}}}}
    ds = xr.Dataset({"x": ("i", [1.0, 2.0], {"units": "1", "long_name": "x"})},
                    coords={"i": ("i", [0, 1], {"units": "1", "long_name": "index"})})
    f = write_dataset(ds, tmp_path / "r.nc", collect_provenance(cfg, rule="spectra"), title="t")
    assert main(["provenance", str(f), "--config"]) == 0
    out = capsys.readouterr().out
    assert "snakemake_rule: spectra" in out and "numpy" in out and "config_sha256:" in out
    assert json.loads(out.split("config:\n", 1)[1]) == cfg


def test_provenance_of_a_corrupt_file_names_it(tmp_path, capsys):
    f = tmp_path / "bad.nc"
    f.write_bytes(b"CDF\x01 truncated")
    assert main(["provenance", str(f)]) == 2
    assert "bad.nc" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = shutil.which("gaussdsm") or str(__import__("pathlib").Path(sys.executable).with_name("gaussdsm"))
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("gaussdsm ")
