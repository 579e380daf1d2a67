"""The Makefile's venv check: a venv is tied to its path, so a moved or copied clone rebuilds it."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VENV = Path(sys.prefix)  # the environment running the tests (the checkout's .venv under `make test`)


def _dry_run(where: Path, venv) -> str:
    out = subprocess.run(["make", "-n", "install", f"VENV={venv}"], cwd=where, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


@pytest.mark.skipif(shutil.which("make") is None or not (VENV / "bin" / "snakemake").exists(),
                    reason="needs make and a venv with gaussdsm's scripts")
def test_a_venv_of_another_checkout_is_rebuilt(repo, tmp_path):
    copy = tmp_path / "moved-clone"
    (copy / "src" / "gaussdsm").mkdir(parents=True)
    for f in ("Makefile", "pyproject.toml"):
        shutil.copy(repo / f, copy / f)
    (copy / "src" / "gaussdsm" / "__init__.py").write_text("")
    (copy / ".venv").symlink_to(VENV)  # this checkout's venv seen from the copy: its gaussdsm is not the copy's
    if (VENV / ".installed").exists():
        out = _dry_run(copy, ".venv")
        assert "does not belong to this checkout" in out and "-m venv --clear .venv" in out, out
    (copy / ".venv").unlink()
    out = _dry_run(copy, ".venv")  # a fresh clone: plain set-up, no message
    assert "does not belong" not in out and "-m venv --clear .venv" in out, out
    if (VENV / ".installed").exists() and Path(repo / "src" / "gaussdsm").resolve() == Path(
            __import__("gaussdsm").__file__).resolve().parent:
        assert "does not belong" not in _dry_run(repo, VENV)  # the venv of this checkout is kept
