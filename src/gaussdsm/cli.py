"""Command line: ``gaussdsm error ...`` (quick look at the error breakdown), ``gaussdsm schedule ...`` (the best time
grid of a diffusion sampler for a spectrum) and ``gaussdsm provenance FILE``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

import numpy as np

from . import __version__, _checks

__all__ = ["main"]


def _arg(check, **bounds):
    """An argparse ``type`` from a check of :mod:`gaussdsm._checks` (its message, without the argument name)."""

    def convert(text: str):
        try:
            return check("value", text, **bounds)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err).removeprefix("value ")) from None

    return convert


def _several(convert):
    """An argparse ``type`` taking one value or several, comma-separated (``--n-steps 10,20,50``): a list of
    ``convert``'s values (:func:`_points` turns a one-element list back into the value: a grid axis needs two)."""

    def several(text: str) -> list:
        parts = [t.strip() for t in str(text).split(",")]
        if any(not t for t in parts):
            raise argparse.ArgumentTypeError(f"empty value in {text!r} (values are separated by commas)")
        return [convert(t) for t in parts]

    return several


def _one_of(options):
    """An argparse ``type`` for a choice (with :func:`_several`: argparse's ``choices`` would see the list)."""

    def convert(text: str) -> str:
        if text not in options:
            raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(options)})")
        return text

    return convert


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None


def _choices(options) -> str:
    return "{" + ",".join(options) + "}"


_positive_int = _arg(_checks.integer, ge=1)
_count = _arg(_checks.integer, ge=1, allow_inf=True)
_nonneg_float = _arg(_checks.number, ge=0)
_positive_float = _arg(_checks.number, gt=0)

TERMS = ("bias", "generalization", "optimization", "total")


def _json_number(x):
    """JSON has no inf or NaN: inf -> "inf", NaN -> null."""
    x = float(x)
    return None if x != x else ("inf" if x == float("inf") else x)


def _json_term(x):
    """An error term: a float, or null where it is not available (not finite)."""
    x = float(x)
    return x if np.isfinite(x) else None


def _z(z) -> str:
    return f"{z:+.2f}" if np.isfinite(z) else "n/a"


def _as_options(message: str) -> str:
    """A config-key message in the command line's words: ``sampler.t_min`` -> ``--t-min``, ``grid.sigma`` ->
    ``--sigma``, ``sampler.kind: uld`` -> ``--sampler uld``."""
    import re

    message = re.sub(r"\b(sampler|spectrum)\.kind:? ", r"--\1 ", message)
    message = re.sub(r"\btheory\.kind\b", "--theory", message)
    message = re.sub(r"\bfit\.model:? (?=full|diagonal|fourier|conv)", "--model ", message)
    fit = {"method": "fit", "init": "fit-init"}  # fit.<key> -> --<option> where they differ
    message = re.sub(r"\bfit\.(\w+)", lambda m: "--" + fit.get(m.group(1), m.group(1).replace("_", "-")), message)
    return re.sub(r"\b(?:spectrum|sampler|grid)\.(\w+)", lambda m: "--" + m.group(1).replace("_", "-"), message)


def _describe(args, lam, sampler) -> str:
    head = (f"spectrum {args.spectrum}, d = {lam.size}: lam in [{lam.min():.4g}, {lam.max():.4g}], model {args.model}, "
            + (f"kernel_size = {args.kernel_size}, " if args.model == "conv" else "") + f"N = {args.n_samples:g}")
    if args.sampler == "diffusion":
        return head + ", diffusion " + ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                                                   for k, v in sampler.items() if k != "kind")
    return (head + f", sigma = {args.sigma:g}, gamma = {args.gamma:g}, tau = {args.tau:g}"
            + ("" if args.sampler == "ula" and args.n_steps == float("inf") else
               f", sampler {args.sampler}, n_steps = {args.n_steps:g}, init_var = {args.init_var:g}"
               + (f", friction = {args.friction:g}" if args.friction is not None else "")))


def _mc_text(ds, prefix: str = "mc", n: str = "mc_n", diverged: str = "n_diverged") -> str:
    """A Monte-Carlo estimate as :class:`gaussdsm.montecarlo.MCResult` prints it."""
    return (f"{float(ds[f'{prefix}_mean']):.6g} ± {float(ds[f'{prefix}_stderr']):.2g} (n={int(ds[n])}, "
            f"diverged={int(ds[diverged])})")


def _notes(ds, *names) -> list[str]:
    return [line for k in names for line in str(ds[k].values).split("\n") if line]


def _axes(args) -> list[str]:
    """The options given several values (grid axes); every one-element list made its value again, in place."""
    from .engine import KEYS

    axes = []
    for k in KEYS:
        v = getattr(args, k, None)
        if isinstance(v, list) and k != "values":
            if len(v) == 1:
                setattr(args, k, v[0])
            else:
                axes.append(k)
    return axes


KIND_VALUES = ("total_expansion", "p_unstable", "quad_error")
"""A theory kind's values beside its total (``gaussdsm.error(..., theory=...)``), where it is not the expansion."""


def _kind_values(pt) -> dict:
    return {k: _json_number(float(pt[k])) for k in KIND_VALUES if k in pt and str(pt["theory"].values) != "expansion"}


def _kind_text(pt) -> str:
    v = _kind_values(pt)
    if not v:
        return " (first order in 1/N)"
    from .theory.kinds import THEORIES

    phrase = THEORIES[str(pt["theory"].values)].phrase
    return (f" ({phrase}, conditioned on stability; first-order total {float(pt['total_expansion']):.6e}, "
            f"P(unstable) {float(pt['p_unstable']):.2g}, quadrature error {float(pt['quad_error']):.1e})")


def _cmd_error(args) -> int:
    """``gaussdsm error``: the theory's breakdown at one point, optionally against Monte Carlo (the options are
    :func:`gaussdsm.error`'s, which does the work; this prints its result); several values of an option: a sweep
    (:func:`_cmd_sweep`)."""
    from .engine import KEYS, error

    if args.nfe is not None:
        return _cmd_at_nfe(args)
    axes = _axes(args)
    if axes or args.within is not None:
        return _cmd_sweep(args, axes)
    try:
        ds = error(**{k: getattr(args, k) for k in KEYS if hasattr(args, k)}, progress=args.progress)
    except ValueError as err:
        print(f"gaussdsm error: {_as_options(str(err))}", file=sys.stderr)
        return 2
    lam = ds["lam"].values
    spectrum, sampler = json.loads(ds.attrs["spectrum_json"]), json.loads(ds.attrs["sampler_json"])
    v = {k: float(ds[k]) for k in TERMS}
    parts = {k: float(ds[k]) for k in ("bias_init", "bias_discretization", "bias_stopping", "nfe") if k in ds}
    valid, regime = _notes(ds, "reason"), _notes(ds, "regime_note")
    out = {**{k: _json_term(x) for k, x in v.items()}, **{k: _json_number(x) for k, x in parts.items()},
           "valid": bool(int(ds["valid"])), "in_regime": bool(int(ds["in_regime"])), "notes": valid + regime,
           "theory": str(ds["theory"].values), **_kind_values(ds),
           "params": {"spectrum": {**spectrum, "d": int(lam.size)}, "model": args.model,
                      "n_samples": _json_number(args.n_samples), "tau": args.tau, "loss_factor": args.loss_factor,
                      "sampler": {k: (_json_number(x) if isinstance(x, float) else x) for k, x in sampler.items()},
                      "seed": args.seed, "mc": args.mc}}
    if args.model == "conv":
        out["params"]["kernel_size"] = args.kernel_size
    if args.sampler != "diffusion":
        out["params"]["sigma"] = args.sigma
    if args.metric != "w2":
        out["params"]["metric"] = args.metric
    lines = [_describe(args, lam, sampler) + ("" if args.metric == "w2" else f"; metric {args.metric}")]
    defined = np.isfinite(v["bias"]) and np.isfinite(v["generalization"])
    if not defined:
        lines.append("theory undefined here: " + "; ".join(valid))
    else:
        width = max(len(k) for k in (*v, *parts))
        for k, x in v.items():
            share = f"{100 * x / v['total']:5.1f} %" if np.isfinite(v["total"]) and v["total"] > 0 else ""
            lines.append(f"  {k:<{width}}  {x:.6e}  {share}" if np.isfinite(x) else f"  {k:<{width}}  not available")
        for k, x in parts.items():
            lines.append(f"  {k:<{width}}  {x:.6e}" if k != "nfe" else f"  {k:<{width}}  {x:g}")
        lines.append(f"  theory: {ds['theory'].values}" + _kind_text(ds))
        lines += [f"  note: {n}" for n in valid + regime]
    if args.mc and defined:
        z = float(ds["z"])
        mc = {"mean": float(ds["mc_mean"]), "stderr": float(ds["mc_stderr"]), "n": int(ds["mc_n"]),
              "n_diverged": int(ds["n_diverged"])}
        if args.tau > 0:
            zo = float(ds["z_opt"])
            lines.append(f"  Monte Carlo (SGD, {args.mc} chains x 4 snapshots): {_mc_text(ds)}  z vs total = {_z(z)}")
            lines.append(f"  optimization alone (paired with the exact fit, control variate): "
                         f"{_mc_text(ds, 'mc_opt', 'mc_opt_n', 'mc_opt_n_diverged')}  z = {_z(zo)}")
            out["monte_carlo"] = {**mc, "z": _json_number(z),
                                  "optimization": {"mean": float(ds["mc_opt_mean"]),
                                                   "stderr": float(ds["mc_opt_stderr"]), "z": _json_number(zo)}}
        else:
            fit = "exact fit" if args.fit == "exact" else f"{args.fit} fit, train time {args.train_time:g}"
            fit += ", depth 2" if getattr(args, "depth", 1) == 2 else ""
            what = "population score, deterministic" if args.n_samples == float("inf") else f"{fit}, {args.mc} replicates"
            vs = (f"z vs total = {_z(z)}" if mc["stderr"] > 0 or not np.isfinite(v["total"])
                  else f"MC - theory = {mc['mean'] - v['total']:.2g} (exact: no randomness)")
            lines.append(f"  Monte Carlo ({what}): {_mc_text(ds)}  {vs}")
            out["monte_carlo"] = {**mc, "mean": _json_number(mc["mean"]), "stderr": _json_number(mc["stderr"]),
                                  "z": _json_number(z)}
            if "mc_drawn_mean" in ds:  # fit gd: the training noise drawn as well, paired
                diff, diff_se = float(ds["mc_drawn_difference"]), float(ds["mc_drawn_difference_stderr"])
                lines.append(f"  Monte Carlo (gd with the noise drawn at every step, {args.mc} replicates): "
                             f"{_mc_text(ds, 'mc_drawn', 'mc_drawn_n', 'mc_drawn_n_diverged')}; "
                             f"minus the expected-loss fit of the same data: {diff:.3g} ± {diff_se:.2g}")
                out["monte_carlo"]["drawn_noise"] = {"mean": _json_number(ds["mc_drawn_mean"]),
                                                     "stderr": _json_number(ds["mc_drawn_stderr"]),
                                                     "difference": _json_number(diff),
                                                     "difference_stderr": _json_number(diff_se)}
    if "optimal_grids" in ds.attrs:  # grid optimal: the times it was resolved to, to copy
        (times,) = json.loads(ds.attrs["optimal_grids"]).values()
        out["params"]["sampler"]["optimal_grid"] = times
        lines.append("  optimal grid (t): " + " ".join(f"{x:.12g}" for x in times))
    if args.json:
        print(json.dumps(out, sort_keys=True))
    else:
        print("\n".join(lines))
    return 0 if defined else 1


PARTS = ("bias_init", "bias_discretization", "bias_stopping", "nfe")
"""Diffusion's extra columns of a sweep."""


def _value(x):
    """A point's option value for a table: ``g`` formatting for numbers, the text otherwise."""
    return f"{x:g}" if isinstance(x, float | int | np.number) and not isinstance(x, bool) else str(x)


def _json_value(x):
    return _json_number(x) if isinstance(x, float | np.floating) else x.item() if isinstance(x, np.generic) else x


def _sweep_rows(ds) -> list[dict]:
    """One dict per point of a sweep: ``point`` (the values of its axes) and the columns of the table/JSON."""
    dims = ds["total"].dims
    rows = []
    mc = "mc_mean" in ds
    for idx in np.ndindex(ds["total"].shape):
        pt = ds.isel(dict(zip(dims, idx)))
        row = {"point": {k: pt[k].values.item() for k in dims}}
        row.update({k: float(pt[k]) for k in (*TERMS, *PARTS) if k in ds})
        row.update(valid=bool(int(pt["valid"])), in_regime=bool(int(pt["in_regime"])),
                   notes=_notes(pt, "reason", "regime_note"), theory=str(pt["theory"].values), **_kind_values(pt))
        if mc:
            row["monte_carlo"] = {"mean": float(pt["mc_mean"]), "stderr": float(pt["mc_stderr"]),
                                  "n": int(pt["mc_n"]), "n_diverged": int(pt["n_diverged"]), "z": float(pt["z"])}
        rows.append(row)
    return rows


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    """Columns aligned: text left, numbers right."""
    width = [max(len(r[j]) for r in [header, *body]) for j in range(len(header))]

    def fmt(r):
        return "  ".join((c.ljust(w) if j == len(r) - 1 else c.rjust(w)) for j, (c, w) in enumerate(zip(r, width)))

    return [fmt(header).rstrip(), *(fmt(r).rstrip() for r in body)]


def _number(x: float, spec: str = ".4e") -> str:
    return format(x, spec) if np.isfinite(x) else "n/a"


def _json_row(row: dict) -> dict:
    out = {k: (_json_term(v) if k in TERMS or k in PARTS else v) for k, v in row.items() if k != "monte_carlo"}
    out["point"] = {k: _json_value(v) for k, v in row["point"].items()}
    if "nfe" in row:
        out["nfe"] = _json_number(row["nfe"])
    if "monte_carlo" in row:
        out["monte_carlo"] = {k: (_json_number(v) if isinstance(v, float) else v) for k, v in row["monte_carlo"].items()}
    return out


def _print_sweep(rows: list[dict], dims: list[str], as_json: bool) -> None:
    if as_json:
        print("\n".join(json.dumps(_json_row(r), sort_keys=True) for r in rows))
        return
    cols = [k for k in (*TERMS, *PARTS) if k in rows[0]]
    mc = "monte_carlo" in rows[0]
    header = [*dims, *cols, "theory", "regime", *(("mc_mean", "mc_stderr", "z") if mc else ()), "note"]
    body = []
    for r in rows:
        line = [_value(r["point"][k]) for k in dims]
        line += [_number(r[k], "g") if k == "nfe" else _number(r[k]) for k in cols]
        line += [r["theory"], "in" if r["in_regime"] else "out"]
        if mc:
            m = r["monte_carlo"]
            line += [_number(m["mean"], ".6g"), _number(m["stderr"], ".2g"), _z(m["z"])]
        line.append("; ".join(r["notes"]))
        body.append(line)
    print("\n".join(_table(header, body)))


def _cmd_sweep(args, axes: list[str]) -> int:
    """``gaussdsm error`` with several values of some options: the Cartesian product (as :func:`gaussdsm.error`),
    one row (or JSON line) per point; with ``--within``: the cheapest settings whose total is within a fraction of
    the floor or of the best (:mod:`gaussdsm.sweep`), and the Monte Carlo of the winner and of its reference."""
    import math

    from . import sweep
    from .engine import KEYS, error

    opts = {k: getattr(args, k) for k in KEYS if hasattr(args, k)}
    within = args.within is not None
    try:
        frac = sweep.parse_fraction(args.within) if within else 0.0
        ds = error(**{**opts, "mc": 0 if within else opts["mc"]}, progress=args.progress)
        floor = (error(**{**opts, "n_steps": math.inf, "mc": 0}, progress=args.progress)
                 if within and args.of == "floor" else None)
    except ValueError as err:
        print(f"gaussdsm error: {_as_options(str(err))}", file=sys.stderr)
        return 2
    dims = list(ds["total"].dims)
    if not within:
        rows = _sweep_rows(ds)
        _print_sweep(rows, dims, args.json)
        return 0 if all(r["valid"] for r in rows) else 1
    ref = sweep.reference(ds, args.of, floor)
    found = sweep.qualifying(ds, frac, ref, args.minimise)
    what = ("the floor (the same setting with n_steps = inf)" if args.of == "floor" else
            "the best total of the sweep")
    head = (f"{len(found)} of {ds['total'].size} points within {100 * frac:g} % of {what}; cheapest by "
            f"{args.minimise} first")
    if not found:
        print(head.split(";")[0] if not args.json else "", file=sys.stderr if args.json else sys.stdout)
        return 1
    winner, cost, total, reference = found[0]
    check = {}
    if args.mc:  # Monte Carlo of the winner and of its reference
        at_ref = ({**winner, "n_steps": math.inf} if args.of == "floor" else
                  {k: ds[k].values[i].item() for k, i in
                   zip(dims, np.unravel_index(int(np.nanargmin(ds["total"].where(ds["valid"] == 1).values)),
                                              ds["total"].shape))})
        for name, at in (("winner", winner), ("reference", at_ref)):
            pt = error(**{**opts, **at}, progress=args.progress)
            check[name] = (float(pt["mc_mean"]), float(pt["mc_stderr"]), float(pt["z"]), int(pt["mc_n"]))
    if args.json:
        for j, (point, c, t, r) in enumerate(found):
            line = {"point": {k: _json_value(v) for k, v in point.items()}, args.minimise: _json_number(c),
                    "total": t, "reference": r, "ratio": t / r, "of": args.of, "within": frac,
                    "in_regime": bool(int(ds["in_regime"].sel(point)))}
            if j == 0 and check:
                line.update({f"{k}_monte_carlo": {"mean": m, "stderr": se, "z": _json_number(z), "n": n}
                             for k, (m, se, z, n) in check.items()})
            print(json.dumps(line, sort_keys=True))
        return 0
    shown = found[:10]
    body = [[*(_value(p[k]) for k in dims), f"{c:g}", f"{t:.4e}", f"{r:.4e}", f"{t / r:.3f}",
             "in" if int(ds["in_regime"].sel(p)) else "out"] for p, c, t, r in shown]
    lines = [head + (f" (the first {len(shown)})" if len(found) > len(shown) else "") + ":",
             *("  " + x for x in _table([*dims, args.minimise, "total", args.of, "ratio", "regime"], body))]
    lines.append("cheapest: " + ", ".join(f"{k} = {_value(v)}" for k, v in winner.items())
                 + f": {args.minimise} {cost:g}, total {total:.4g} = {total / reference:.3f} x the {args.of} "
                 f"{reference:.4g}")
    if check:
        (m, se, z, _), (mr, ser, zr, _) = check["winner"], check["reference"]
        ratio = m / mr
        ratio_se = abs(ratio) * math.hypot(se / m, ser / mr) if m and mr else math.nan
        lines.append(f"  Monte Carlo ({args.mc} replicates): cheapest {m:.6g} ± {se:.2g} (z vs total = {_z(z)}), "
                     f"{args.of} {mr:.6g} ± {ser:.2g} (z = {_z(zr)}); ratio {ratio:.4f} ± {ratio_se:.2g}")
    print("\n".join(lines))
    return 0


def _cmd_at_nfe(args) -> int:
    """``gaussdsm error --nfe N[,M...]``: the settings of a sweep ranked by their theory at each NFE, every scheme at
    its own K = NFE / its evaluations per step (:func:`gaussdsm.sweep.n_steps_at_nfe`, :func:`gaussdsm.sweep.ranked`):
    which scheme and grid for these data at this budget."""
    import math

    from . import sweep
    from .engine import KEYS, error

    nfe = sorted(set(args.nfe))
    _axes(args)  # one-element lists made values again
    try:
        if args.sampler != "diffusion":
            raise ValueError("--nfe ranks diffusion samplers: give --sampler diffusion")
        if args.within is not None:
            raise ValueError("--nfe and --within are two questions: give one of them")
        if args.n_steps != math.inf:
            raise ValueError("--nfe sets each scheme's --n-steps (NFE / its evaluations per step): leave --n-steps out")
        if isinstance(args.steps_per_level, list):
            raise ValueError("--nfe takes one --steps-per-level")
        schemes = args.scheme if isinstance(args.scheme, list) else [args.scheme or "em"]
        steps = sweep.n_steps_at_nfe(nfe, schemes, args.steps_per_level, bool(args.denoise))
        args.n_steps = sorted({k for ks in steps.values() for k in ks})
        args.scheme = schemes
        _axes(args)
        ds = error(**{k: getattr(args, k) for k in KEYS if hasattr(args, k)}, progress=args.progress)
    except ValueError as err:
        print(f"gaussdsm error: {_as_options(str(err))}", file=sys.stderr)
        return 2
    dims = [k for k in ds["total"].dims if k != "n_steps"] + ["n_steps"]
    rows = _sweep_rows(ds)
    for r in rows:  # a single value of an option is not a dimension: name the scheme and K of every row
        r["point"].setdefault("scheme", str(ds["scheme"].values.flat[0]))
        r["point"].setdefault("n_steps", float(ds["n_steps"].values.flat[0]))
    dims = ["scheme", *[k for k in dims if k not in ("scheme", "n_steps")], "n_steps"]
    table = sweep.ranked(rows, nfe)
    if args.json:
        for n, group in table:
            best = group[0][1]["total"] if group and group[0][0] == 1 else math.nan
            for rank, r in group:
                line = {**_json_row(r), "rank": rank or None, "ratio": _json_term(r["total"] / best)}
                line["point"] = {k: _json_value(r["point"][k]) for k in dims}
                print(json.dumps(line, sort_keys=True))
        return 0 if all(g and g[0][0] == 1 for _, g in table) else 1
    lines = []
    mc = "monte_carlo" in rows[0]
    for n, group in table:
        defined = sum(1 for rank, _ in group if rank)
        lines.append(f"NFE {n:g}: {defined} of {len(group)} settings ranked by the theory's total (lowest first)"
                     + ("" if defined == len(group) else "; undefined last") + ":")
        if not group:
            continue
        best = group[0][1]["total"] if group[0][0] == 1 else math.nan
        body = [[str(rank) if rank else "-", *(_value(r["point"][k]) for k in dims), _number(r["total"]),
                 _number(r["total"] / best, ".3f"), "in" if r["in_regime"] else "out",
                 *((_number(r["monte_carlo"]["mean"], ".6g"), _number(r["monte_carlo"]["stderr"], ".2g")) if mc
                   else ()), "; ".join(r["notes"])] for rank, r in group]
        lines += ["  " + x for x in _table(["rank", *dims, "total", "x best", "regime",
                                            *(("mc_mean", "mc_stderr") if mc else ()), "note"], body)]
    print("\n".join(lines))
    return 0 if all(g and g[0][0] == 1 for _, g in table) else 1


def _cmd_provenance(args) -> int:
    """``gaussdsm provenance FILE``: what made a result file, and the config that determined it (as YAML)."""
    import yaml

    from .io import InputFileError, read_dataset

    try:
        ds = read_dataset(args.file)
    except InputFileError as err:
        print(f"gaussdsm provenance: {err}", file=sys.stderr)
        return 2
    a = ds.attrs
    try:
        config = json.loads(a.get("config_json", "{}"))
    except json.JSONDecodeError:
        config = None
    text = yaml.safe_dump(config, sort_keys=True, default_flow_style=None, width=120) if config is not None else (
        "# (unreadable)\n")
    if args.config:  # the config alone: usable as a --configfile
        print(text, end="")
        return 0
    for key in ("title", "snakemake_rule", "git_commit", "gaussdsm_version", "gaussdsm_code_version", "config_sha256"):
        print(f"{key}: {a.get(key, '(not recorded)')}")
    try:
        versions = json.loads(a.get("package_versions_json", "{}"))
    except json.JSONDecodeError:
        versions = {}
    print("package versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    cfg = config or {}
    what = (["the comparison's and its studies' sections"] if "comparisons" in cfg else ["its study's section"])
    what += ["seed"] + (["figures"] if "figures" in cfg else [])
    print(f"config (what determined this file: {', '.join(what)}):")
    print("".join(f"  {line}\n" for line in text.splitlines()), end="")
    return 0


def _cmd_schedule(args) -> int:
    """``gaussdsm schedule``: the time grid minimising the expected error for a spectrum
    (:func:`gaussdsm.schedule.optimal_grid`), its value and the named grids' at the same number of steps; with
    ``--format``, the grid as k-diffusion, ComfyUI or diffusers take it."""
    from .engine import SPECTRUM_KEYS
    from .schedule import library_format, optimal_grid
    from .spectra import SOURCES, spectrum

    params = {k: getattr(args, k) for k in ("init", "beta_min", "beta_max", "sigma_min", "sigma_max", "eta", "rho")
              if getattr(args, k) is not None}
    try:
        given = {k: getattr(args, k) for k in SPECTRUM_KEYS if getattr(args, k) not in (None, False)}
        d = args.d if args.d is not None or not SOURCES[args.spectrum].needs_d else 16  # gaussdsm error's default
        sp = spectrum(args.spectrum, d, **given)
        info = {"kind": args.spectrum, **given, **({"source": sp.info} if sp.info else {})}
        kappa = sp.kappa if args.model == "fourier" else None
        if args.model == "fourier" and kappa is None:
            raise ValueError(f"fit.model fourier needs a stationary spectrum (spectrum.kind {args.spectrum} has none)")
        res = optimal_grid(sp.lam, n_samples=args.n_samples, process=args.process, scheme=args.scheme,
                           n_steps=args.n_steps, t_min=args.t_min, T=args.T, metric=args.metric, model=args.model,
                           kappa=kappa, params=params)
        if args.format is not None:
            from .samplers.diffusion.processes import make_process

            levels = library_format(make_process(args.process, res.grid[0], **params), res.grid, args.format)
    except ValueError as err:
        print(f"gaussdsm schedule: {_as_options(str(err))}", file=sys.stderr)
        return 2
    if args.format is not None:
        print(json.dumps(levels) if args.json else " ".join(f"{x:.10g}" for x in levels))
        return 0
    if args.json:
        out = {"grid": res.grid.tolist(), "value": _json_term(res.value),
               "baselines": {k: (None if v is None else _json_term(v)) for k, v in res.baselines.items()},
               "skipped": res.skipped, "start": res.start,
               "sigmas": None if res.sigmas is None else res.sigmas.tolist(),
               "params": {"spectrum": {**info, "d": int(sp.d)}, "n_samples": _json_number(args.n_samples),
                          "process": args.process, "scheme": args.scheme, "n_steps": args.n_steps,
                          "t_min": args.t_min, "T": float(res.grid[0]), "metric": args.metric, "model": args.model}}
        print(json.dumps(out, sort_keys=True))
        return 0
    lines = [f"spectrum {args.spectrum}, d = {sp.d}, N = {args.n_samples:g}, process {args.process}, scheme "
             f"{args.scheme}, {args.n_steps} steps, t_min = {args.t_min:g}, T = {res.grid[0]:g}, metric {args.metric}",
             "  optimal grid (t): " + " ".join(f"{x:.6g}" for x in res.grid),
             f"  expected error: {res.value:.6e} (started from {res.start})"]
    for k, v in res.baselines.items():
        lines.append(f"  {k:<12} {v:.6e}  x{v / res.value:.3g}" if v is not None and res.value > 0 else
                     f"  {k:<12} {v:.6e}" if v is not None else f"  {k:<12} undefined: {res.skipped[k]}")
    print("\n".join(lines))
    return 0


def _spectrum_options(parser, allowed, wrap) -> None:
    """The spectrum options (``gaussdsm error``, ``gaussdsm schedule``); ``wrap`` makes each type take one value or
    several (:func:`_several`)."""
    g = parser.add_argument_group("spectrum")
    g.add_argument("--spectrum", default="power_law", type=wrap(_one_of(list(allowed["spectrum"]))), metavar=_choices(allowed["spectrum"]))
    g.add_argument("--d", type=wrap(_positive_int), default=None,
                   help="dimension (default 16; texture, pca, custom: from the data, checked when given)")
    g.add_argument("--alpha", type=wrap(_float), default=None, help="power_law exponent (default 1)")
    g.add_argument("--scale", type=wrap(_float), default=None, help="largest eigenvalue (default 1)")
    g.add_argument("--beta", type=wrap(_float), default=None, help="stationary spectrum exponent (default 1)")
    g.add_argument("--omega0", type=wrap(_float), default=None, help="stationary corner frequency (default 0.5)")
    g.add_argument("--values", type=float, nargs="+", default=None, metavar="LAM", help="custom: the eigenvalues")
    g.add_argument("--file", default=None, help="custom: eigenvalues from a .npy, .txt or .nc (variable lam) file")
    g.add_argument("--image", type=wrap(str), default=None,
                   help="texture: an image file (PNG, JPEG, ... or .npy) or a bundled scikit-image name (brick, grass, "
                   "gravel, camera, astronaut, ...)")
    g.add_argument("--side", type=wrap(_positive_int), default=None, help="texture: centre crop to side x side pixels")
    g.add_argument("--resize", action="store_true", help="texture: shrink the largest centred square to --side")
    g.add_argument("--grayscale", action="store_true", help="texture: convert RGB to luminance")
    g.add_argument("--data", type=wrap(str), default=None,
                   help="pca: an .npy array (n, ...) or a bundled data set (digits, lfw_subset)")


def build_parser() -> argparse.ArgumentParser:
    from .metrics import METRICS

    p = argparse.ArgumentParser(prog="gaussdsm", description=__doc__)
    p.add_argument("--version", action="version", version=f"gaussdsm {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("error", help="the theory's error breakdown (bias, generalization, optimization) at one point",
                       description="The first-order theory of E W2^2 at one point (bias, generalization, "
                       "optimization), optionally against exact Monte Carlo (--mc).")
    from .engine import choices
    from .sweep import COSTS, REFERENCES

    allowed = choices()  # the registries' names
    _spectrum_options(e, allowed, _several)
    g = e.add_argument_group("score matching")
    g.add_argument("--n-samples", type=_several(_count), required=True,
                   help="number N of training samples, or inf (the population score)")
    g.add_argument("--sigma", type=_several(_nonneg_float), default=None, help="DSM noise amplitude (Langevin family)")
    g.add_argument("--tau", type=_several(_nonneg_float), default=0.0, help="SGD step (default 0: exact fit)")
    g.add_argument("--loss-factor", type=_several(_float), default=1.0, help="c in c||x - theta y||^2 (default 1)")
    g.add_argument("--model", type=_several(_one_of(list(allowed["model"]))), metavar=_choices(allowed["model"]), default="full",
                   help="denoiser: full d x d, diagonal in the eigenbasis, fourier (convolutional; stationary "
                   "spectra) or conv (a local convolution, --kernel-size). Monte Carlo of the diagonal models draws "
                   "the mode variances directly (O(d))")
    g.add_argument("--kernel-size", type=_several(_positive_int), default=None,
                   help="--model conv: the filter's width K (odd, at most the image side; K x K in 2-D)")
    g = e.add_argument_group("sampler")
    g.add_argument("--sampler", type=_several(_one_of(list(allowed["sampler"]))), metavar=_choices(allowed["sampler"]), default="ula",
                   help="ula (default), uld (underdamped) or diffusion")
    g.add_argument("--gamma", type=_several(_nonneg_float), default=None, help="Langevin step (0: continuous time)")
    g.add_argument("--n-steps", type=_several(_count), default=float("inf"), help="number of steps K, or inf (default: stationary)")
    g.add_argument("--init-var", type=_several(_nonneg_float), default=1.0, help="start y0 ~ N(0, v0 I) (default 1)")
    g.add_argument("--friction", type=_several(_positive_float), default=None, help="ULD friction gamma_f (required by uld)")
    g = e.add_argument_group("diffusion (--sampler diffusion; see README and gaussdsm.samplers.diffusion)")
    g.add_argument("--process", type=_several(_one_of(list(allowed["process"]))), metavar=_choices(allowed["process"]), default=None, help="forward process (default vp)")
    g.add_argument("--scheme", type=_several(_one_of(list(allowed["scheme"]))), metavar=_choices(allowed["scheme"]), default=None, help="reverse scheme (default em)")
    g.add_argument("--grid", type=_several(_one_of(list(allowed["grid"]))), metavar=_choices(allowed["grid"]), default=None, help="time grid (default uniform)")
    g.add_argument("--t-min", type=_several(_nonneg_float), default=None, help="stopping time (default 1e-3)")
    g.add_argument("--init", type=_several(_one_of(list(allowed["init"]))), metavar=_choices(allowed["init"]), default=None,
                   help="standard (reference Gaussian, default), exact (p_T), diffusers (z ~ N(0, sigma_max^2 + 1)) "
                   "or k_diffusion (z ~ N(0, sigma_max^2))")
    g.add_argument("--T", type=_several(_positive_float), default=None,
                   help="horizon (default 1; vp_cosine 0.9946; heat 100; edm 80; sd_discrete 1000)")
    g.add_argument("--beta-min", type=_several(_positive_float), default=None, help="vp: beta(0) (default 0.1)")
    g.add_argument("--beta-max", type=_several(_positive_float), default=None, help="vp: beta(T) (default 20)")
    g.add_argument("--sigma-min", type=_several(_positive_float), default=None, help="ve, annealed Langevin (default 0.01)")
    g.add_argument("--sigma-max", type=_several(_positive_float), default=None, help="ve, annealed Langevin (default 50)")
    g.add_argument("--denoise", action="store_true", help="a final Tweedie step at t_min")
    g.add_argument("--steps-per-level", type=_several(_positive_int), default=None, help="annealed Langevin: L (default 100)")
    g.add_argument("--eps", type=_several(_positive_float), default=None, help="annealed Langevin: step eps (default 2e-5)")
    g.add_argument("--exp-rate", type=_several(_float), default=None, help="vp_exp: the rate a of beta(t) (default 2, non-zero)")
    g.add_argument("--s-churn", type=_several(_nonneg_float), default=None, help="heun_churn, k_*: S_churn (default 80)")
    g.add_argument("--s-tmin", type=_several(_nonneg_float), default=None, help="heun_churn, k_*: churn from t = s_tmin (default 0.05)")
    g.add_argument("--s-tmax", type=_several(_arg(_checks.number, ge=0, allow_inf=True)), default=None,
                   help="heun_churn, k_*: churn up to t = s_tmax (default 50; inf allowed)")
    g.add_argument("--s-noise", type=_several(_positive_float), default=None, help="heun_churn, k_*: S_noise (default 1.003)")
    g.add_argument("--eta", type=_several(_nonneg_float), default=None,
                   help="ancestral and SDE samplers: the share of each step's noise renewed (default 1)")
    g.add_argument("--noise-scale", type=_several(_nonneg_float), default=None,
                   help="ancestral and SDE samplers: k-diffusion's s_noise (default 1)")
    g.add_argument("--rho", type=_several(_positive_float), default=None, help="grid karras: rho (default 7)")
    g.add_argument("--poly-rho", type=_several(_positive_float), default=None, help="grid polyexponential: rho (default 1)")
    g.add_argument("--beta-alpha", type=_several(_positive_float), default=None, help="grid beta: alpha (default 0.6)")
    g.add_argument("--beta-beta", type=_several(_positive_float), default=None, help="grid beta: beta (default 0.6)")
    g.add_argument("--shift", type=_several(_positive_float), default=None,
                   help="grid flow_shift: diffusers' FlowMatchEuler shift (default 3, SD3's)")
    g.add_argument("--image-seq-len", type=_several(_positive_int), default=None,
                   help="grid flow_dynamic: the image's token count (default 4096)")
    g.add_argument("--optimal-n-samples", type=_several(_count), default=None,
                   help="grid optimal: the N it is optimised for (default inf: the population score)")
    g.add_argument("--optimal-metric", type=_several(_one_of(list(METRICS))), metavar=_choices(METRICS), default=None,
                   help="grid optimal: the metric it minimises (default w2)")
    g.add_argument("--fit", type=_several(_one_of(list(allowed["fit"]))), metavar=_choices(allowed["fit"]), default="exact",
                   help="how every level's denoiser is learned: the DSM minimiser (default), gradient flow or "
                        "full-batch gradient descent for --train-time")
    g.add_argument("--train-time", type=_several(_nonneg_float), default=float("inf"), help="training time tau (default inf)")
    g.add_argument("--fit-init", type=_several(_one_of(list(allowed["fit_init"]))), metavar=_choices(allowed["fit_init"]), default="zero",
                   help="denoiser at tau = 0 (default 0)")
    g.add_argument("--lr", type=_several(_nonneg_float), default=0.0, help="gd: the gradient step (steps = train time / lr)")
    g.add_argument("--depth", type=int, choices=(1, 2), default=1,
                   help="gradient_flow: the denoiser's depth, 1 (default) or 2 (the symmetric two-layer P P^T)")
    g.add_argument("--init-scale", type=_positive_float, default=None, metavar="Q",
                   help="depth 2: the aligned start P P^T = Q I (default 0.001)")
    g = e.add_argument_group("output")
    g.add_argument("--metric", type=_several(_one_of(list(METRICS))), metavar=_choices(METRICS), default="w2",
                   help="error metric of the terms and of Monte Carlo (default w2: squared Wasserstein-2)")
    g.add_argument("--theory", type=_one_of(list(allowed["theory"])), metavar=_choices(allowed["theory"]),
                   default="expansion",
                   help="the theory of total (default expansion: first order in 1/N; exact: at every N, --model "
                        "diagonal or fourier; auto: exact where it applies)")
    g.add_argument("--mc", type=_positive_int, default=0, metavar="R", help="also run R Monte-Carlo replicates")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--max-time", type=_positive_float, default=600.0, metavar="SECONDS",
                   help="refuse a computation estimated to run longer (default 600; estimates: gaussdsm.budget)")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars on stderr (default: when stderr is a terminal)")
    g.add_argument("--json", action="store_true",
                   help="one JSON object on stdout (keys: docs/guide/cli.md); a sweep: one object per line and point")
    g = e.add_argument_group(
        "sweeps: every option of the spectrum, score matching, sampler and diffusion groups and --metric (not "
        "--values, --file or the flags) takes several values separated by commas (--scheme heun,em --n-steps "
        "10,20,50): the Cartesian product, one row (or JSON line) per point")
    g.add_argument("--within", default=None, metavar="FRACTION",
                   help="print the settings whose total is within this fraction (0.1 or 10%%) of --of's reference, "
                   "cheapest by --minimise first; with --mc, Monte Carlo of the cheapest and of its reference only")
    g.add_argument("--of", choices=list(REFERENCES), default="floor",
                   help="floor (default): the same setting with --n-steps inf (the continuous-time or stationary "
                   "law); best: the smallest total of the sweep")
    g.add_argument("--minimise", "--minimize", choices=list(COSTS), default="nfe",
                   help="the cost of --within's settings (default nfe: score evaluations; Langevin: n_steps)")
    g.add_argument("--nfe", type=_several(_positive_int), default=None, metavar="NFE",
                   help="diffusion: rank the settings at this number of score evaluations (several: comma-separated), "
                   "each scheme at its own n_steps = NFE / its evaluations per step (instead of --n-steps)")
    e.set_defaults(func=_cmd_error)
    sc = sub.add_parser("schedule", help="the time grid minimising a diffusion sampler's expected error for a spectrum",
                        description="The decreasing time grid T .. t_min of --n-steps steps minimising the first-order "
                        "expected error (bias, and generalization at finite --n-samples) of a diffusion scheme on a "
                        "spectrum, beside the named grids at the same number of steps (gaussdsm.schedule).")
    _spectrum_options(sc, allowed, lambda convert: convert)
    from .schedule import FORMATS

    g = sc.add_argument_group("sampler")
    g.add_argument("--n-samples", type=_count, required=True,
                   help="number N of training samples, or inf (the population score: the bias alone)")
    models = [m for m in allowed["model"] if m != "conv"]  # the optimiser's theory: gaussdsm.theory.MODELS
    g.add_argument("--model", type=_one_of(models), metavar=_choices(models), default="full",
                   help="denoiser of the generalization term (default full)")
    g.add_argument("--process", type=_one_of(list(allowed["process"])), metavar=_choices(allowed["process"]),
                   default="vp", help="forward process (default vp)")
    g.add_argument("--scheme", type=_one_of(list(allowed["scheme"])), metavar=_choices(allowed["scheme"]),
                   default="euler", help="reverse scheme (default euler)")
    g.add_argument("--n-steps", type=_positive_int, default=10, help="number of steps K (default 10)")
    g.add_argument("--t-min", type=_nonneg_float, default=1e-3, help="stopping time (default 1e-3)")
    g.add_argument("--T", type=_positive_float, default=None, help="horizon (default the process's)")
    g.add_argument("--init", type=_one_of(list(allowed["init"])), metavar=_choices(allowed["init"]), default=None,
                   help="standard (reference Gaussian, default) or exact (p_T)")
    g.add_argument("--beta-min", type=_positive_float, default=None, help="vp: beta(0) (default 0.1)")
    g.add_argument("--beta-max", type=_positive_float, default=None, help="vp: beta(T) (default 20)")
    g.add_argument("--sigma-min", type=_positive_float, default=None, help="ve (default 0.01)")
    g.add_argument("--sigma-max", type=_positive_float, default=None, help="ve (default 50)")
    g.add_argument("--eta", type=_nonneg_float, default=None, help="ancestral and SDE samplers: eta (default 1)")
    g.add_argument("--rho", type=_positive_float, default=None, help="the karras baseline's rho (default 7)")
    g = sc.add_argument_group("output")
    g.add_argument("--metric", type=_one_of(list(METRICS)), metavar=_choices(METRICS), default="w2",
                   help="error metric (default w2)")
    g.add_argument("--json", action="store_true", help="one JSON object: grid, value, baselines, skipped, ...")
    g.add_argument("--format", type=_one_of(list(FORMATS)), metavar=_choices(FORMATS), default=None,
                   help="print the grid as the library takes it: k-diffusion, comfyui: sigmas sigma_t/m_t with a final "
                   "0; diffusers: timesteps 1000 t/T (gaussdsm.schedule.FORMATS)")
    sc.set_defaults(func=_cmd_schedule)
    pr = sub.add_parser("provenance", help="print the provenance recorded in a result NetCDF file")
    pr.add_argument("file")
    pr.add_argument("--config", action="store_true", help="print only the config, as YAML (a --configfile)")
    pr.set_defaults(func=_cmd_provenance)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a reader that has gone (``| head``) shows here, not in a traceback at exit
        return code
    except BrokenPipeError:
        # stop quietly, as a command killed by SIGPIPE does; nothing more can reach the reader (the interpreter's
        # flush at exit would raise again: standard output goes to /dev/null from here)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
