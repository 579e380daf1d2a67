"""The typed sampler spec: config -> params -> samplers, theory and NetCDF attributes and back, one owner."""
from __future__ import annotations

import numpy as np
import xarray as xr

from gaussdsm import theory
from gaussdsm.io import read_dataset, write_dataset
from gaussdsm.samplers.spec import ATTR_KEYS, SamplerSpec


def _diffusion_spec():
    return SamplerSpec.from_config({"kind": "diffusion", "n_steps": [30, 10], "scheme": ["heun", "em"],
                                    "grid": [1.0, 0.5, 0.1, 0.01], "denoise": True, "process": "vp"})


def test_config_to_params_and_back():
    sp = _diffusion_spec()
    assert sp.axes["n_steps"] == [3.0] and sp.axes["t_min"] == [0.01]  # the explicit grid fixes both
    assert SamplerSpec.from_dict(sp.as_dict()) == sp
    lang = SamplerSpec.from_config({"kind": "uld", "n_steps": ["inf", 100], "friction": [2.0, 1.0],
                                    "init_var": 0.5}, gamma=[0.01, 0.02])
    assert lang.axes == {"gamma": [0.01, 0.02], "n_steps": [100.0, float("inf")], "friction": [1.0, 2.0]}
    assert len(lang.settings()) == 8 and lang.make(lang.settings()[0]).kind == "uld"


def test_attributes_survive_a_netcdf_file(tmp_path):
    """to_attrs -> NetCDF -> from_attrs gives the params back (a list of times, a flag, numbers, names)."""
    for sp in (_diffusion_spec(), SamplerSpec("ula", {}, {"init_var": 0.25})):
        attrs = sp.to_attrs()
        assert set(attrs) <= set(ATTR_KEYS)
        ds = xr.Dataset({"x": ((), 1.0, {"units": "1", "long_name": "x"})},
                        attrs={f"theory_{k}": v for k, v in attrs.items()})
        back = SamplerSpec.from_attrs(read_dataset(write_dataset(ds, tmp_path / "a.nc")).attrs, prefix="theory_")
        want = {k: v for k, v in sp.params.items() if v is not None}
        assert back.kind == sp.kind and back.params == want, (back.params, want)


def test_the_theory_writes_the_specs_attributes():
    lam = 1 / np.arange(1, 5.0)
    sp = _diffusion_spec()
    ds = theory.error_terms(lam, 1000, model="full", **sp.theory_kwargs())
    assert {k: ds.attrs[k] for k in sp.to_attrs()} == sp.to_attrs()
    ds = theory.error_terms(lam, 1000, 0.1, 0.01, sampler="ula", init_var=0.5)
    assert SamplerSpec.from_attrs(ds.attrs) == SamplerSpec("ula", {}, {"init_var": 0.5})
