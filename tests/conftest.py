"""Fixtures shared by every test.  Statistical tests use fixed seeds and a band of ``z`` = 4 standard errors
(two-sided p ~ 6e-5), plus the stated allowance for the order an expansion neglects.

Layout: ``tests/unit/`` (the package, in-process) and ``tests/workflow/`` (Snakemake through its command line,
fixtures in ``tests/workflow/conftest.py``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository's root (Snakefile, config/, workflow/)."""
    return REPO


@pytest.fixture(scope="session")
def z() -> float:
    """Standard errors allowed in statistical tests."""
    return 4.0


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def _random_spd(rng, d, batch=(), cond=10.0):
    """Random symmetric positive-definite matrices with eigenvalues in [1/cond, 1]."""
    Q, _ = np.linalg.qr(rng.standard_normal((*batch, d, d)))
    w = np.exp(rng.uniform(np.log(1 / cond), 0.0, size=(*batch, d)))
    return (Q * w[..., None, :]) @ np.swapaxes(Q, -1, -2)


def _mark_kinds(lines) -> set:
    """The kinds of marks among matplotlib lines with something visible: (linestyle, marker, hollow)."""
    out = set()
    for ln in lines:
        y = np.asarray(ln.get_ydata(), float)
        if y.size and not np.isfinite(y).any():
            continue
        ls = None if ln.get_linestyle() in ("None", "", " ") else ln.get_linestyle()
        mk = None if ln.get_marker() in ("None", "", None, "_", "|") else ln.get_marker()
        if ls or mk:
            out.add((ls, mk, mk is not None and str(ln.get_markerfacecolor()) == "none"))
    return out


@pytest.fixture(scope="session")
def mark_kinds():
    """``mark_kinds(lines)``: the kinds of marks (linestyle, marker, hollow) that matplotlib lines draw (a figure's
    legend must list what its axes draw)."""
    return _mark_kinds


@pytest.fixture(scope="session")
def random_spd():
    """``random_spd(rng, d, batch=(), cond=10.0)``: random SPD matrices with eigenvalues in [1/cond, 1]."""
    return _random_spd


def _merge(base: dict, changes: dict) -> dict:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


@pytest.fixture(scope="session")
def merge_config():
    """``merge_config(base, changes)``: merge nested dict ``changes`` into ``base`` (in place; returns it)."""
    return _merge


@pytest.fixture(scope="session")
def tiny_config(repo, merge_config):
    """``tiny_config(top=None, **study_changes) -> dict``: tests/configs/tiny.yaml with ``study_changes`` merged
    into studies.tiny and ``top`` into the top level (a new ``spectrum.kind`` replaces the whole spectrum)."""
    import yaml

    text = (repo / "tests" / "configs" / "tiny.yaml").read_text()

    def make(top=None, **study_changes):
        cfg = yaml.safe_load(text)
        if "kind" in study_changes.get("spectrum", {}):
            cfg["studies"]["tiny"]["spectrum"] = {"d": 4}
        merge_config(cfg["studies"]["tiny"], study_changes)
        merge_config(cfg, top or {})
        return cfg

    return make


# Numerical minimisers (sigma* of R9: Brent on a function known to ~1e-15) find the argmin of a flat function only
# to ~sqrt(1e-15) times its curvature scale: 8e-6 relative was seen where sigma* -> 0 (P5's tau = 0 line).
GOLDEN_RTOL = {"sigma_star_vs_gamma": 1e-4, "sigma_star_vs_tau": 1e-4}


def _check_golden(results: Path, golden: Path, rtol: float = 1e-9) -> int:
    """Every variable of the golden file is in the run's results with the same dims and values to ``rtol``
    (:data:`GOLDEN_RTOL` for numerical minimisers; new dims of size 1 and new variables allowed); returns the
    number of variables checked."""
    import xarray as xr

    g = np.load(golden)
    files: dict[str, list[str]] = {}
    for key in g.files:
        if not key.endswith("::dims"):
            rel, var = key.split("::")
            files.setdefault(rel, []).append(var)
    problems = []
    for rel, names in sorted(files.items()):
        path = results / rel
        if not path.exists():
            problems.append(f"{rel}: missing")
            continue
        with xr.open_dataset(path, engine="netcdf4") as ds:
            for var in names:
                if var not in ds.variables:
                    problems.append(f"{rel}::{var}: missing")
                    continue
                v = ds[var].variable
                dims = tuple(g[f"{rel}::{var}::dims"])
                v = v.squeeze([d for d in v.dims if d not in dims and v.sizes[d] == 1])
                if v.dims != dims:
                    problems.append(f"{rel}::{var}: dims {v.dims} != {dims}")
                    continue
                new, old = v.values, g[f"{rel}::{var}"]
                if old.dtype.kind == "f":
                    tol = GOLDEN_RTOL.get(var, rtol)
                    same = new.shape == old.shape and np.allclose(new, old, rtol=tol, atol=0, equal_nan=True)
                else:
                    same = np.array_equal(new, old)
                if not same:
                    problems.append(f"{rel}::{var}: values differ")
    assert not problems, "results differ from the golden values:\n  " + "\n  ".join(problems)
    return sum(len(v) for v in files.values())


@pytest.fixture(scope="session")
def check_golden(repo):
    """``check_golden(results_dir, name)``: the run's results reproduce tests/data/golden_<name>.npz."""
    return lambda results, name: _check_golden(Path(results), repo / "tests" / "data" / f"golden_{name}.npz")
