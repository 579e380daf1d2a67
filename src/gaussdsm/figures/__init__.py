"""Figures: one module per panel, and the registry of panels.

Every figure is **our proposal** for testing the reconstructed formulas (theory.md §4): a reconstruction of the
analysis, not one of the paper's original figures (they are not available).  Each carries that label.

A panel module ``gaussdsm.figures.<name>`` has two functions:

* ``data(summary) -> xarray.Dataset`` (a study panel; a comparison takes ``{study: summary}``): the numbers
  behind the figure — dense theory lines and Monte-Carlo points — with no matplotlib; written as
  ``<panel>.nc`` beside the figure;
* ``draw(data) -> matplotlib.figure.Figure``: the rendering, from that dataset alone.

:data:`PANELS` is the one list of panels (name, title, module, report caption, what the study must provide).
The Snakemake rules (``workflow/rules/figures.smk``), the config check (:func:`gaussdsm.study.check_config`)
and the report captions are derived from it; the schema's ``panels`` enum is tested against it.  Adding a
panel = one module + one entry here.  This module imports no plotting library: the Snakefile reads it.

Shared pieces: :mod:`~gaussdsm.figures._data` (summary loading, theory on a dense grid, the Monte-Carlo
variables) and :mod:`~gaussdsm.figures._plot` (style, axes, Monte-Carlo markers, saving).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LABEL", "Panel", "PANELS", "study_panels", "comparison_panels", "render"]

LABEL = "reconstruction of the analysis; not the paper's original figure"


def _stationary_ula(study: dict) -> bool:
    sp = study.get("sampler", {})
    return sp.get("kind", "ula") == "ula" and all(str(k) in ("inf", ".inf") for k in sp.get("n_steps", ["inf"]))


def _is_diffusion(study: dict) -> bool:
    return study.get("sampler", {}).get("kind") == "diffusion"


def _langevin(name):
    def check(study: dict) -> str | None:
        return f"{name} draws a Langevin-family study (sampler.kind ula or uld)" if _is_diffusion(study) else None

    return check


def _trained(study: dict) -> bool:
    return study.get("fit", {}).get("method", "exact") in ("gradient_flow", "gd")


def _diffusion(name):
    def check(study: dict) -> str | None:
        if not _is_diffusion(study):
            return f"{name} needs sampler.kind: diffusion"
        if _trained(study):
            return f"{name} draws exact DSM scores (fit.method: exact); for trained scores draw error_vs_train_time"
        return None

    return check


def _which_sampler(study: dict) -> str | None:
    why = _diffusion("which_sampler")(study)
    if why is not None:
        return why
    from .which_sampler import config_error

    return config_error(study)


def _needs_training(study: dict) -> str | None:
    if not (_is_diffusion(study) and _trained(study)):
        return "error_vs_train_time needs sampler.kind: diffusion with fit.method gradient_flow or gd"
    return None


def _diffusion_studies(studies: list[dict]) -> str | None:
    if not all(_is_diffusion(s) for s in studies):
        return "langevin_vs_diffusion compares diffusion studies (sampler.kind: diffusion) with Langevin at their NFE"
    return None


def _needs_sgd(study: dict) -> str | None:
    if study["fit"]["method"] != "sgd":
        return "error_vs_tau needs fit.method: sgd (and tau > 0 in grid.tau)"
    if not _stationary_ula(study):
        return "error_vs_tau needs sampler.kind: ula with n_steps: [inf] (R8, the SGD term, is derived for it only)"
    return None


def _needs_r9(study: dict) -> str | None:
    if not _stationary_ula(study):
        return "sigma_star needs sampler.kind: ula with n_steps: [inf] (it minimises R9, derived for it only)"
    return None


def _finite_steps(studies: list[dict]) -> str | None:
    for s in studies:
        ks = s.get("sampler", {}).get("n_steps", ["inf"])
        if not any(str(k) not in ("inf", ".inf") for k in ks):
            return "error_vs_steps needs studies with finite sampler.n_steps (a grid of K)"
    return None


def _stationary_studies(studies: list[dict]) -> str | None:
    for s in studies:
        if s["spectrum"]["kind"] not in ("texture", "stationary_1d", "stationary_2d") or not _stationary_ula(s):
            return ("texture_spectra needs stationary ULA studies (sampler.kind ula, n_steps [inf]) of stationary "
                    "spectra (kind texture, stationary_1d or stationary_2d: their modes have frequencies)")
    return None


def _grid_studies(studies: list[dict]) -> str | None:
    for s in studies:
        why = _diffusion("optimal_grid")(s) or _finite_steps([s])
        if why:
            return why.replace("error_vs_steps", "optimal_grid")
        if not isinstance(s["sampler"].get("grid", "uniform"), str):
            return "optimal_grid compares named grids (sampler.grid optimal, karras, ...), not explicit lists"
    return None


def _same_spectrum(studies: list[dict]) -> str | None:
    import json

    if len({json.dumps(s["spectrum"], sort_keys=True) for s in studies}) > 1:
        return "full_vs_diagonal needs studies with the same spectrum"
    return None


def _same_spectrum_and_n(name: str, conv: bool = False):
    def check(studies: list[dict]) -> str | None:
        import json

        if len({json.dumps(s["spectrum"], sort_keys=True) for s in studies}) > 1:
            return f"{name} needs studies with the same spectrum"
        if len({json.dumps([float(n) for n in s["grid"]["n_samples"]]) for s in studies}) > 1:
            return f"{name} needs studies with the same grid.n_samples"
        models = [s.get("fit", {}).get("model", "full") for s in studies]
        if conv and ("conv" not in models or any(m not in ("conv", "fourier", "diagonal") for m in models)):
            return (f"{name} needs studies with fit.model conv (one per fit.kernel_size), and optionally the "
                    "full-width limit (fourier or diagonal)")
        return None

    return check


@dataclass(frozen=True)
class Panel:
    """One figure panel.

    Attributes
    ----------
    name : str
        Config name (``panels:`` entry or ``comparisons.<c>.panel``) and output stem.
    title : str
        One line: shown by Snakemake while the rule runs.
    caption : str
        File under ``workflow/report/`` rendered into ``snakemake --report``.
    kind : {'study', 'comparison'}
        Drawn from one study's summary, or from several studies' summaries.
    check : callable, optional
        ``check(study_config)`` (``check([study_configs])`` for a comparison) returns why the panel cannot be
        drawn from that study, or None; run before any job.
    metric_aware : bool
        The panel plots the study's first metric (:func:`gaussdsm.figures._data.metric_view`, its axis labelled
        with the metric's long name); the others draw W2 quantities (kernels, sigma*, W2 paths) whatever the
        study's metrics.
    """

    name: str
    title: str
    caption: str
    kind: str = "study"
    check: Callable | None = None
    metric_aware: bool = False

    @property
    def module(self):
        """The panel's module (imported on first use: it brings matplotlib)."""
        return importlib.import_module(f"{__name__}.{self.name}")


PANELS: dict[str, Panel] = {
    p.name: p
    for p in (
        Panel("error_vs_n", "P1: error against N, theory lines and Monte-Carlo points", "error_vs_n.rst",
              check=_langevin("error_vs_n"), metric_aware=True),
        Panel("error_vs_tau", "P2: error against the SGD step tau, theory R8 vs SGD Monte Carlo", "error_vs_tau.rst",
              check=_needs_sgd, metric_aware=True),
        Panel("error_vs_gamma", "P3: error against the Langevin step gamma, blow-up at the stability bound",
              "error_vs_gamma.rst", check=_langevin("error_vs_gamma"), metric_aware=True),
        Panel("error_vs_sigma", "P4: error against the noise amplitude sigma, interior optimum", "error_vs_sigma.rst",
              check=_langevin("error_vs_sigma"), metric_aware=True),
        Panel("sigma_star", "P5: optimal sigma against gamma and tau, with the R10 slopes", "sigma_star.rst",
              check=_needs_r9),
        Panel("kernel", "P6: the kernel of R9 as a heat map and per-frequency contributions", "kernel.rst",
              check=_langevin("kernel")),
        Panel("error_vs_nfe", "P7: error against the number of score evaluations, every diffusion scheme",
              "error_vs_nfe.rst", check=_diffusion("error_vs_nfe"), metric_aware=True),
        Panel("error_vs_t_min", "P8: error against the stopping time t_min for several N", "error_vs_t_min.rst",
              check=_diffusion("error_vs_t_min"), metric_aware=True),
        Panel("trajectory", "P10: the error along the reverse trajectory, every scheme", "trajectory.rst",
              check=_diffusion("trajectory")),
        Panel("error_vs_train_time", "P11: error against the training time of the denoisers, N below and above d",
              "error_vs_train_time.rst", check=_needs_training, metric_aware=True),
        Panel("which_sampler", "P12: which sampler for my data, every scheme against NFE, the best three marked",
              "which_sampler.rst", check=_which_sampler),
        Panel("spectrum_shape", "error terms against sigma for several spectra", "comparison.rst", kind="comparison"),
        Panel("full_vs_diagonal", "full-matrix vs Fourier-diagonal denoiser, error against N", "comparison.rst",
              kind="comparison", check=_same_spectrum),
        Panel("error_vs_steps", "error against the number of steps K, several samplers", "error_vs_steps.rst",
              kind="comparison", check=_finite_steps),
        Panel("langevin_vs_diffusion", "P9: Langevin vs diffusion at equal NFE, against the condition number",
              "langevin_vs_diffusion.rst", kind="comparison", check=_diffusion_studies),
        Panel("texture_spectra", "real textures against their fitted power law: spectra, error vs sigma and t_min",
              "texture_spectra.rst", kind="comparison", check=_stationary_studies),
        Panel("optimal_grid", "P13: the time grid optimised for the spectrum against the named schedules",
              "optimal_grid.rst", kind="comparison", check=_grid_studies),
        Panel("memorisation", "P14: memorisation, error against N/d for full, diagonal and local denoisers",
              "memorisation.rst", kind="comparison", check=_same_spectrum_and_n("memorisation")),
        Panel("locality", "P15: locality, error against the filter width and N for a texture", "locality.rst",
              kind="comparison", check=_same_spectrum_and_n("locality", conv=True)),
    )
}


def study_panels() -> list[str]:
    """Names of the panels drawn from one study (the schema's ``panels`` enum)."""
    return [n for n, p in PANELS.items() if p.kind == "study"]


def comparison_panels() -> list[str]:
    """Names of the panels that combine studies (the schema's ``comparisons.<c>.panel`` enum)."""
    return [n for n, p in PANELS.items() if p.kind == "comparison"]


def render(name: str, summary_paths, outputs, *, data_out=None, dpi: int = 150, label: str = "", studies=None,
           provenance=None, metric: str | None = None):
    """Make panel ``name``: read the summaries, compute its data, write them (``data_out``), draw, save.

    Parameters
    ----------
    name : str
        A key of :data:`PANELS`.
    summary_paths : list of path
        One ``summary.nc`` (study panel), or one per study of ``studies`` (comparison).
    outputs : list of path
        Figure files (format from the suffix).
    data_out : path, optional
        NetCDF with the data behind the figure.
    label : str
        The study's (or comparison's) name, shown in the title.
    studies : list of str
        Comparison panels: the studies' names, in the order of ``summary_paths``.
    metric : str, optional
        A metric-aware study panel (:attr:`Panel.metric_aware`): the metric to plot (default: the study's first,
        the summary's ``metrics`` attribute; ``w2`` if none).

    Returns
    -------
    xarray.Dataset
        The data behind the figure.
    """
    from ..io import write_dataset
    from . import _data, _plot

    panel = PANELS[name]
    summaries = [_data.load(p, f"figure_{name}") for p in summary_paths]
    if panel.kind == "study":
        s = _data.metric_view(summaries[0], metric) if panel.metric_aware else summaries[0]
        data = panel.module.data(s)
        data.attrs["study"] = label
        if "metric" in s.attrs:  # not W2: the axes say which metric
            data.attrs["metric"] = s.attrs["metric"]
    else:
        data = panel.module.data(dict(zip(studies, summaries)))
        data.attrs["comparison"] = label
    if data_out is not None:
        write_dataset(data, data_out, provenance, title=panel.module.DATA_TITLE)
    _plot.save(panel.module.draw(data), outputs, dpi=dpi)
    return data
