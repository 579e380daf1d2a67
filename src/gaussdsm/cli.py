"""Command line: ``gaussdsm error ...`` (quick look at the error breakdown) and ``gaussdsm provenance FILE``."""

from __future__ import annotations

import argparse
import json
import sys


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


_positive_int = _arg(_checks.integer, ge=1)
_nonneg_float = _arg(_checks.number, ge=0)


def _cmd_error(args) -> int:
    from .montecarlo import monte_carlo_error, sgd_monte_carlo_error, zscore
    from .spectra import make_spectrum
    from .theory import error_terms

    try:
        lam = make_spectrum(
            args.spectrum, args.d, alpha=args.alpha, scale=args.scale, beta=args.beta, omega0=args.omega0
        )
    except ValueError as err:
        print(f"gaussdsm error: {err}", file=sys.stderr)
        return 2
    ds = error_terms(
        lam, args.n_samples, args.sigma, args.gamma, args.tau, loss_factor=args.loss_factor, model=args.model
    )
    v = {k: float(ds[k]) for k in ("bias", "generalization", "optimization", "total")}
    print(
        f"spectrum {args.spectrum}, d = {args.d}: lam in [{lam.min():.4g}, {lam.max():.4g}], "
        f"model {args.model}, N = {args.n_samples}, sigma = {args.sigma:g}, gamma = {args.gamma:g}, tau = {args.tau:g}"
    )
    if not int(ds["valid"]):
        print(
            "theory undefined here: ULA unstable (gamma >= 2 (lam_min + sigma^2)), or SGD unstable, "
            "or tau > 0 with sigma = 0",
        )
        return 1
    width = max(len(k) for k in v)
    for k, x in v.items():
        share = f"{100 * x / v['total']:5.1f} %" if v["total"] > 0 else ""
        print(f"  {k:<{width}}  {x:.6e}  {share}")
    scale = float(ds["n_samples_scale"])
    if args.n_samples < 10 * scale or args.n_samples < 10 * args.d:
        print(f"  note: the 1/N expansion needs N >> max(d, {scale:.3g}); N = {args.n_samples} is not far above")
    if args.mc and args.tau > 0:
        total, opt = sgd_monte_carlo_error(
            lam, args.n_samples, args.sigma, args.gamma, args.tau, args.mc, seed=args.seed, model=args.model,
            loss_factor=args.loss_factor,
        )
        z, zo = zscore(total.mean, total.stderr, v["total"]), zscore(opt.mean, opt.stderr, v["optimization"])
        print(f"  Monte Carlo (SGD, {args.mc} chains x 4 snapshots): {total}  z vs total = {z:+.2f}")
        print(f"  optimization alone (paired with the exact fit, control variate): {opt}  z = {zo:+.2f}")
    elif args.mc:
        r = monte_carlo_error(lam, args.n_samples, args.sigma, args.gamma, args.mc, seed=args.seed, model=args.model)
        z = zscore(r.mean, r.stderr, v["total"])
        print(f"  Monte Carlo (exact fit, {args.mc} replicates): {r}  z vs total = {z:+.2f}")
    return 0


def _cmd_provenance(args) -> int:
    from .io import InputFileError, read_dataset

    try:
        ds = read_dataset(args.file)
    except InputFileError as err:
        print(f"gaussdsm provenance: {err}", file=sys.stderr)
        return 2
    a = ds.attrs
    for key in ("title", "snakemake_rule", "git_commit", "gaussdsm_version", "gaussdsm_code_version", "config_sha256"):
        print(f"{key}: {a.get(key, '(not recorded)')}")
    try:
        versions = json.loads(a.get("package_versions_json", "{}"))
    except json.JSONDecodeError:
        versions = {}
    print("package versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    if args.config:
        try:
            print("config:\n" + json.dumps(json.loads(a.get("config_json", "{}")), indent=2, sort_keys=True))
        except json.JSONDecodeError:
            print("config: (unreadable)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gaussdsm", description=__doc__)
    p.add_argument("--version", action="version", version=f"gaussdsm {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("error", help="print the theory error breakdown (bias, generalization, optimization)")
    e.add_argument("--spectrum", default="power_law", choices=["power_law", "stationary_1d", "stationary_2d"])
    e.add_argument("--d", type=_positive_int, default=16, help="dimension (default 16)")
    e.add_argument("--alpha", type=float, default=None, help="power_law exponent (default 1)")
    e.add_argument("--scale", type=float, default=None, help="largest eigenvalue (default 1)")
    e.add_argument("--beta", type=float, default=None, help="stationary spectrum exponent (default 1)")
    e.add_argument("--omega0", type=float, default=None, help="stationary corner frequency (default 0.5)")
    e.add_argument("--n-samples", type=_positive_int, required=True, help="number N of training samples")
    e.add_argument("--sigma", type=_nonneg_float, required=True, help="DSM noise amplitude")
    e.add_argument("--gamma", type=_nonneg_float, required=True, help="ULA step (0: continuous time)")
    e.add_argument("--tau", type=_nonneg_float, default=0.0, help="SGD step (default 0: exact fit)")
    e.add_argument("--loss-factor", type=float, default=1.0, help="c in c||x - theta y||^2 (default 1)")
    e.add_argument("--model", choices=["full", "diagonal"], default="full")
    e.add_argument("--mc", type=_positive_int, default=0, metavar="R", help="also run R Monte-Carlo replicates")
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(func=_cmd_error)
    pr = sub.add_parser("provenance", help="print the provenance recorded in a result NetCDF file")
    pr.add_argument("file")
    pr.add_argument("--config", action="store_true", help="also print the full config")
    pr.set_defaults(func=_cmd_provenance)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
