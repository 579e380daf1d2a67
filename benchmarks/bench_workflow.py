"""The default study end to end: wall time, job time per rule, the figures' times and each small job's overhead.

Runs ``snakemake --cores CORES`` on the default config into a scratch copy of the workflow (so the checkout's
``results/`` is untouched), then reads Snakemake's ``benchmark:`` files (a job's wall time, from its process start
to its exit) and the jobs' logs (``done in X s``: the time spent inside the stage function). A job's
**overhead** is the difference: interpreter start, Snakemake's script preamble, imports, reading the config.

    .venv/bin/python benchmarks/bench_workflow.py             # table
    .venv/bin/python benchmarks/bench_workflow.py --json      # one JSON object
    .venv/bin/python benchmarks/bench_workflow.py --keep DIR  # leave the scratch run in DIR

Unlike the other benchmarks this one is not single-threaded: it is the run a user waits for (2 cores here).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ("Snakefile", "config", "workflow", "profiles")
SMALL = ("spectra", "analytic_error", "aggregate")  # jobs whose own work is milliseconds


def _rule_of(tsv: Path) -> str:
    """``logs/benchmarks/<study>/<name>.tsv`` -> rule name (``chunk-000`` and ``chunk-000.n_steps-30`` files are the
    Monte-Carlo chunks)."""
    name = tsv.stem
    if re.fullmatch(r"chunk-\d{3}(\..+)?", name):
        return tsv.parent.name  # fit_scores or run_sampler
    return name


def _done_in(log: Path) -> float | None:
    m = re.findall(r"done in ([0-9.]+) s", log.read_text()) if log.exists() else []
    return float(m[-1]) if m else None


def run(cores: int, keep: str | None) -> dict:
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench-workflow-"))
    work.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    snakemake = Path(sys.executable).with_name("snakemake")
    t = time.perf_counter()
    with open(work / "snakemake.log", "w") as log:  # the jobs' own logs go to logs/ as usual
        subprocess.run([str(snakemake), "--cores", str(cores), "all"], cwd=work, check=True, stdout=log, stderr=log)
    wall = time.perf_counter() - t
    res = {"cores": cores, "wall_s": wall, **analyse(work)}
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return res


def analyse(work: Path) -> dict:
    """Job times per rule, the figures' times and the small jobs' overhead, from a finished run in ``work``."""
    jobs = []
    for tsv in sorted((work / "logs" / "benchmarks").rglob("*.tsv")):
        seconds = float(list(csv.reader(tsv.open(), delimiter="\t"))[1][0])
        log = work / "logs" / tsv.relative_to(work / "logs" / "benchmarks").with_suffix(".log")
        work_s = _done_in(log)
        jobs.append({"rule": _rule_of(tsv), "job": str(tsv.relative_to(work / "logs" / "benchmarks")),
                     "seconds": seconds, "overhead": None if work_s is None else seconds - work_s})
    per_rule = defaultdict(list)
    for j in jobs:
        per_rule[j["rule"]].append(j)
    rules = {r: {"jobs": len(js), "sum": sum(j["seconds"] for j in js), "max": max(j["seconds"] for j in js),
                 "overhead_mean": (sum(j["overhead"] for j in js) / len(js)) if all(j["overhead"] is not None
                                                                                  for j in js) else None}
             for r, js in sorted(per_rule.items())}
    figures = {j["job"]: j["seconds"] for j in jobs if j["rule"].startswith("figure_") or "comparisons" in j["job"]}
    small = [j["overhead"] for j in jobs if j["rule"] in SMALL and j["overhead"] is not None]
    return {"jobs": len(jobs), "job_seconds": sum(j["seconds"] for j in jobs),
            "rules": rules, "figures": figures, "figure_max_s": max(figures.values()),
            "small_job_overhead_mean_s": sum(small) / len(small), "small_job_overhead_max_s": max(small),
            "cpus": os.cpu_count()}


def report(res: dict) -> None:
    print(f"default study, snakemake --cores {res['cores']} ({res['cpus']} CPUs): {res['wall_s']:.1f} s wall, "
          f"{res['jobs']} jobs, {res['job_seconds']:.1f} s of job time")
    print(f"{'rule':34s} {'jobs':>5s} {'sum s':>7s} {'max s':>6s} {'overhead s':>10s}")
    for r, v in res["rules"].items():
        oh = "" if v["overhead_mean"] is None else f"{v['overhead_mean']:.2f}"
        print(f"{r:34s} {v['jobs']:5d} {v['sum']:7.1f} {v['max']:6.2f} {oh:>10s}")
    print(f"figures: max {res['figure_max_s']:.2f} s per figure job")
    print(f"small jobs ({', '.join(SMALL)}): overhead mean {res['small_job_overhead_mean_s']:.2f} s, "
          f"max {res['small_job_overhead_max_s']:.2f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--keep", metavar="DIR", help="run in DIR and keep it (default: a temporary directory)")
    args = p.parse_args()
    res = run(args.cores, args.keep)
    print(json.dumps(res, sort_keys=True)) if args.json else report(res)


if __name__ == "__main__":
    main()
