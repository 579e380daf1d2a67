"""Result files: their permissions follow the umask; a full disk is said in words, with the file's name."""
from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import xarray as xr

from gaussdsm.io import write_dataset


def _dataset(n: int) -> xr.Dataset:
    return xr.Dataset({"x": (("a",), np.zeros(n), {"units": "1", "long_name": "x"})},
                      coords={"a": ("a", np.arange(n), {"units": "1", "long_name": "index"})})


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_result_files_follow_the_umask(tmp_path, umask, mode):
    """Written through a temporary file and a rename, yet created like any other file (not mkstemp's 0600)."""
    old = os.umask(umask)
    try:
        out = write_dataset(_dataset(10), tmp_path / "r.nc")
    finally:
        os.umask(old)
    assert oct(out.stat().st_mode & 0o777) == oct(mode)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs (needs root and mount; skipped elsewhere)."""
    where = tmp_path / "tiny"
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True).returncode:
        pytest.skip("could not mount a tmpfs")
    yield where
    subprocess.run(["umount", str(where)], check=True)


def test_disk_full_names_the_file(tiny_disk):
    """netCDF4 says only 'NetCDF: HDF error'; the error says which file and that the disk is full, and leaves no
    partial file behind."""
    with pytest.raises(OSError, match=r"could not write .*out\.nc: the disk is full") as err:
        write_dataset(_dataset(500_000), tiny_disk / "out.nc")
    assert err.value.errno == 28  # ENOSPC
    assert list(tiny_disk.iterdir()) == []
    write_dataset(_dataset(1000), tiny_disk / "small.nc")  # a file that fits is written as usual
