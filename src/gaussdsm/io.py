"""NetCDF I/O with provenance, atomic writes and readable errors.

Conventions (see docs/guide/running.md, "Results"):

* every variable and coordinate has ``units`` and ``long_name`` (CF style);
* global attributes carry the provenance as strings: ``config_json`` (what determined the
  file: its study's section, ``seed``, ...) and ``config_sha256``, ``package_versions_json``, ``git_commit``, ``gaussdsm_version``,
  ``snakemake_rule`` — and **no timestamps**, so a rerun reproduces the bytes;
* files are written to a temporary name in the same directory and renamed into
  place, so a killed job never leaves a file that looks complete.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = [
    "ENGINE",
    "InputFileError",
    "collect_provenance",
    "write_dataset",
    "read_dataset",
    "code_version",
]

ENGINE = "netcdf4"
PACKAGES = ("gaussdsm", "numpy", "scipy", "xarray", "netCDF4", "pandas", "snakemake")
REFERENCES = (
    "Hurault, Terris, Moreau, Peyre: From Denoising Score Matching to Langevin Sampling: "
    "A Fine-Grained Error Analysis in the Gaussian Setting, arXiv:2503.11615"
)


class InputFileError(RuntimeError):
    """An input NetCDF file is missing, truncated or not what the stage expects."""


def _git_commit(where: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(where), "describe", "--always", "--dirty", "--abbrev=40"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def code_version() -> str:
    """Short sha256 of the package's source files.

    Passed to every rule as a ``params:`` value so that Snakemake reruns a stage
    when the library code that computes it changes (imports are not tracked by
    Snakemake's code trigger).
    """
    h = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def collect_provenance(config: dict | None = None, rule: str | None = None, workflow_dir=None) -> dict[str, str]:
    """Provenance attributes for a result file (strings only, no timestamps).

    Parameters
    ----------
    config : dict, optional
        What determined the file (:func:`gaussdsm.study.provenance_config`: its study's resolved section and the
        top-level keys it uses), stored as sorted JSON with its sha256.
    rule : str, optional
        The Snakemake rule that writes the file.
    workflow_dir : path, optional
        Where to ask git for the commit (default: this package's directory).
    """
    cfg = json.dumps(config or {}, sort_keys=True, separators=(",", ":"), default=str)
    from . import __version__

    return {
        "config_json": cfg,
        "config_sha256": hashlib.sha256(cfg.encode()).hexdigest(),
        "package_versions_json": json.dumps(_versions(), sort_keys=True),
        "git_commit": _git_commit(Path(workflow_dir) if workflow_dir else Path(__file__).parent),
        "gaussdsm_version": __version__,
        "gaussdsm_code_version": code_version(),
        "snakemake_rule": rule or "none",
    }


def _check_attrs(ds: xr.Dataset, path) -> None:
    missing = [
        name
        for name, var in {**ds.data_vars, **ds.coords}.items()
        if "units" not in var.attrs or "long_name" not in var.attrs
    ]
    if missing:
        raise ValueError(f"{path}: variables without units/long_name: {', '.join(map(str, missing))}")


def write_dataset(
    ds: xr.Dataset, path, provenance: dict | None = None, title: str | None = None, before_replace=None
) -> Path:
    """Write ``ds`` to NetCDF atomically, with provenance and CF attributes.

    The file is written next to ``path`` under a temporary name, flushed, and
    renamed over ``path``.  Bools are stored as int8 (NetCDF has no bool).
    ``before_replace(tmp_path)``, if given, runs between the flush and the rename
    (the test-only fault hook of :mod:`gaussdsm.faults`).

    Raises
    ------
    ValueError
        If a variable or coordinate lacks ``units`` or ``long_name``.
    """
    path = Path(path)
    ds = ds.copy()
    for name, var in list(ds.variables.items()):
        if var.dtype == bool:
            ds[name] = var.astype(np.int8)
    _check_attrs(ds, path)
    attrs = {"Conventions": "CF-1.10", "references": REFERENCES, "source": "gaussdsm"}
    if title:
        attrs["title"] = title
    attrs.update(ds.attrs)
    attrs.update(provenance or {})
    ds.attrs = {k: attrs[k] for k in sorted(attrs)}
    encoding = {name: {"zlib": False} for name in ds.variables if ds[name].dtype.kind in "fiu"}
    for name in ds.variables:
        if ds[name].dtype.kind == "f":
            encoding[name]["_FillValue"] = np.nan
        elif ds[name].dtype.kind in "iu":
            encoding[name]["_FillValue"] = None
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.part"):  # left by a killed job
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine=ENGINE, format="NETCDF4", encoding=encoding)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600: the result gets the mode of any other new file
        if before_replace is not None:
            before_replace(Path(tmp))
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        full = _disk_full(err, path, ds.nbytes)
        if full:
            raise OSError(errno.ENOSPC, full) from err
        raise
    return path


def _umask() -> int:
    """The process's umask: from /proc/self/status where Linux has it (no race with other threads), else by setting
    and restoring it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _disk_full(err: BaseException, path: Path, need: int) -> str | None:
    """Why writing ``path`` failed if it is a full disk, else None.  netCDF4 reports a full disk as
    ``RuntimeError: NetCDF: HDF error``; it is one when the free space (the partial file removed) is below the
    dataset's size."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        pass
    elif not (isinstance(err, RuntimeError) and "HDF error" in str(err)):
        return None
    free = shutil.disk_usage(path.parent).free
    if isinstance(err, RuntimeError) and free > need + 2**20:
        return None
    return (f"could not write {path}: the disk is full ({free / 2**20:.1f} MB free in {path.parent}; the file needs "
            f"about {need / 2**20:.1f} MB): free some space, or point the results elsewhere, and rerun")


def read_dataset(path, rule: str | None = None, required=()) -> xr.Dataset:
    """Load a NetCDF result fully into memory, with an error that names the file and the rule.

    Parameters
    ----------
    path : path-like
    rule : str, optional
        The rule that reads it (for the message).
    required : iterable of str
        Variables that must be present.

    Raises
    ------
    InputFileError
        If the file is missing, truncated/corrupt, or lacks a required variable.
    """
    where = f" (read by rule {rule!r})" if rule else ""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"input file {str(path)!r} does not exist{where}")
    try:
        with xr.open_dataset(path, engine=ENGINE) as ds:
            ds = ds.load()
    except Exception as err:  # netCDF4/HDF5 raise OSError, RuntimeError, ValueError, KeyError...
        raise InputFileError(
            f"input file {str(path)!r} is not a readable NetCDF file{where}: {type(err).__name__}: {err}. "
            "It may be truncated or corrupt: delete it and rerun snakemake to recreate it."
        ) from None
    missing = [v for v in required if v not in ds.variables]
    if missing:
        raise InputFileError(f"input file {str(path)!r} lacks variable(s) {', '.join(missing)}{where}")
    return ds
