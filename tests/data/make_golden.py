"""Write the golden values of a finished workflow run: ``python tests/data/make_golden.py RESULTS_DIR OUT.npz``.

Every data variable and coordinate of the run's summaries and figure data (not the per-chunk files), keyed
``<path under results/>::<variable>`` with its dims under ``...::dims``.  tests/workflow/test_golden.py checks
that the current code reproduces them.  The files here were written by the code of commit c5740d7 (before the
one-owner-per-concern refactoring) on tests/configs/tiny.yaml and tests/configs/figures.yaml; regenerate them only for an
intended change of results, and say so in the commit.

Intended changes since: ``diagonal/summary.nc::theory_n_samples_scale`` of golden_figures (for the
diagonal models the regime scale is per mode, max_i 2 (lam_i / m_i)^2, since their modes do not interact; 561.07 ->
1.867; ``theory_in_regime`` unchanged there).
"""
import pathlib
import sys

import numpy as np
import xarray as xr

SKIP = ("fits/", "langevin/", "theory.nc", "spectrum.nc")


def main(results: str, out: str) -> None:
    root = pathlib.Path(results)
    arrays = {}
    for f in sorted(root.rglob("*.nc")):
        rel = f.relative_to(root).as_posix()
        if any(x in rel for x in SKIP):
            continue
        with xr.open_dataset(f, engine="netcdf4") as ds:
            for k, v in ds.variables.items():
                arrays[f"{rel}::{k}"] = v.values
                arrays[f"{rel}::{k}::dims"] = np.array(v.dims, dtype="U64")
    np.savez_compressed(out, **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:3])
