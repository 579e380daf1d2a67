"""The tiny study through the SLURM executor (snakemake-executor-plugin-slurm) on a real SLURM controller.

Needs a running SLURM with a ``debug`` partition, e.g. the single-node cluster of ``scripts/local-slurm.sh start``
(``.ci/run`` starts one); otherwise every test here is skipped with the reason. Snakemake runs with
``--profile tests/profiles/slurm-test`` (status from squeue, fast polling) under ``timeout -k 30``: on SIGTERM
alone snakemake keeps waiting for its jobs, so the KILL is what bounds a hung run.

Checks: the run succeeds, with the Monte-Carlo jobs grouped as profiles/slurm groups them (fit_scores and
run_sampler chunks, 4 per SLURM job); every job's log under ``logs/`` names one of the SLURM job ids snakemake
submitted, the grouped jobs one id together and every other job its own; the summary and the sampler chunks are
byte-identical to the local ``--cores 2`` run of the tiny study (the ``finished`` fixture); an injected fault (the
config switch ``fault_injection``, seen by the SLURM job) fails the run with the rule's name in snakemake's
output. The byte comparison is skipped (with the differing attributes as reason) if the package/workflow source
changes while the test runs, because the results' provenance attributes then legitimately differ. Typical time:
about 1 min.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

REPO = Path(__file__).resolve().parents[2]

TINY = REPO / "tests" / "configs" / "tiny.yaml"
PROFILE = REPO / "tests" / "profiles" / "slurm-test"
PARTITION = "debug"  # the test profile's slurm_partition
RUN_TIMEOUT = int(os.environ.get("GAUSSDSM_SLURM_TIMEOUT", "300"))  # seconds, per snakemake call
FAULT_STAGE = "run_sampler"
JOB_ID_LINE = re.compile(r"SLURM_JOB_ID=(\d+)")  # written by gaussdsm.stages.job()
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")


def slurm_unavailable() -> str | None:
    """Why the SLURM tests cannot run here, or None."""
    if shutil.which("sinfo") is None:
        return "no SLURM here: sinfo not found (start a local one: sudo scripts/local-slurm.sh start)"
    try:
        out = subprocess.run(["sinfo", "-h", "-p", PARTITION, "-o", "%T"], capture_output=True, text=True,
                             timeout=15)
    except subprocess.TimeoutExpired:
        return "SLURM controller does not answer (sinfo -h timed out after 15 s)"
    if out.returncode != 0:
        return f"SLURM controller does not answer: sinfo: {(out.stderr or out.stdout).strip()[:300]}"
    states = out.stdout.split()
    if not states:
        return f"SLURM has no partition {PARTITION!r} (used by {PROFILE.relative_to(REPO)})"
    if not any(s in ("idle", "mixed", "allocated", "completing") for s in states):
        return f"no usable node in SLURM partition {PARTITION!r} (states: {', '.join(states)})"
    return None


def run_snakemake(workdir: Path, *args, env: dict | None = None, timeout: int = RUN_TIMEOUT):
    """snakemake on the tiny config in ``workdir``, bounded by ``timeout -k 30`` (rc 124/137 = timed out)."""
    cmd = ["timeout", "-k", "30", str(timeout), sys.executable, "-m", "snakemake",
           "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--replace-workflow-config", *args]
    full_env = {k: v for k, v in os.environ.items() if k != "GAUSSDSM_FAULT"}
    full_env.update(env or {})
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout + 60)
    out.seconds = time.perf_counter() - t0
    out.text = out.stdout + out.stderr
    if out.returncode in (124, 137):  # killed by timeout: SLURM jobs of this run may still be queued
        m = re.search(r"SLURM run ID: (\S+)", out.text)
        if m:
            subprocess.run(["scancel", f"--name={m.group(1)}"], capture_output=True, timeout=30)
    return out


def describe(out, workdir: Path) -> str:
    """Snakemake's output tail and the SLURM job logs, for assertion messages."""
    parts = [f"rc={out.returncode} after {out.seconds:.0f} s (124/137 = killed by timeout {RUN_TIMEOUT} s)",
             out.text[-6000:]]
    for f in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log"))[-4:]:
        parts.append(f"----- {f.relative_to(workdir)}\n{f.read_text(errors='replace')[-1500:]}")
    return "\n".join(parts)


def source_fingerprint() -> str:
    """Hash of the package and workflow sources: if it changes during the test, the results' provenance
    attributes (gaussdsm_code_version, git_commit) legitimately differ between the two runs."""
    import hashlib

    h = hashlib.sha256()
    files = [REPO / "Snakefile", *(REPO / "src").rglob("*.py"), *(REPO / "workflow").rglob("*")]
    for f in sorted(f for f in files if f.is_file() and "__pycache__" not in f.parts):
        h.update(str(f.relative_to(REPO)).encode())
        h.update(f.read_bytes())
    git = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                         text=True, timeout=30)
    h.update(git.stdout.encode())
    return h.hexdigest()


def new_workdir(tmp_path_factory, name: str) -> Path:
    wd = tmp_path_factory.mktemp(name)
    shutil.copy(TINY, wd / "config.yaml")
    return wd


GROUPS = ("--groups", "fit_scores=montecarlo", "run_sampler=montecarlo", "--group-components", "montecarlo=4")
GROUPED = ("fit_scores", "run_sampler")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, finished):
    """The tiny study under SLURM (Monte-Carlo jobs grouped; up to its summary: a figure job is one more ~20 s
    polling cycle and nothing new for the executor) and its local run (the ``finished`` fixture)."""
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    before = source_fingerprint()
    slurm_wd = new_workdir(tmp_path_factory, "slurm")
    slurm = run_snakemake(slurm_wd, "--profile", str(PROFILE), *GROUPS, "--until", "aggregate")  # no figure
    print(f"\ntiny study under SLURM: {slurm.seconds:.1f} s")
    local_wd, local = finished[0], finished[2]
    local.seconds, local.text = 0.0, local.stdout + local.stderr
    return {"local": (local_wd, local), "slurm": (slurm_wd, slurm), "source_changed": source_fingerprint() != before}


def finished_run(runs, which):
    wd, out = runs[which]
    if out.returncode != 0:
        pytest.fail(f"the {which} run failed:\n{describe(out, wd)}")
    return wd, out


def test_slurm_run_succeeds(runs):
    wd, out = runs["slurm"]
    assert out.returncode == 0, describe(out, wd)
    assert SUBMITTED.search(out.text), "no job was submitted to SLURM:\n" + describe(out, wd)


def test_every_job_log_names_its_slurm_job(runs):
    """Each log names a submitted SLURM job: the grouped Monte-Carlo jobs one job together, every other job
    its own (and a different one from the group's)."""
    wd, out = finished_run(runs, "slurm")
    submitted = set(SUBMITTED.findall(out.text))
    logs = sorted((wd / "logs").rglob("*.log"))
    assert logs, "no log files under logs/"
    seen = {}
    for log in logs:
        ids = JOB_ID_LINE.findall(log.read_text(errors="replace"))
        assert ids, f"{log.relative_to(wd)} has no SLURM_JOB_ID line: did this job run outside SLURM?"
        assert set(ids) <= submitted, f"{log.relative_to(wd)}: job id(s) {ids} not among submitted {submitted}"
        seen[log.relative_to(wd)] = ids[-1]
    grouped = {p: i for p, i in seen.items() if p.parent.name in GROUPED}
    single = {p: i for p, i in seen.items() if p.parent.name not in GROUPED}
    assert len(grouped) == 2, grouped  # 2 sampler chunks (the tiny study's exact fits are drawn there)
    assert len(set(grouped.values())) == 1, f"grouped jobs ran in several SLURM jobs: {grouped}"
    ids = list(single.values()) + [next(iter(grouped.values()))]
    assert len(set(ids)) == len(ids) == len(submitted), (seen, submitted)


def test_results_identical_to_local_run(runs):
    local_wd, _ = finished_run(runs, "local")
    slurm_wd, _ = finished_run(runs, "slurm")
    pattern = ("results/*/summary.nc", "results/*/sampler/*.nc")
    local = sorted(p.relative_to(local_wd) for g in pattern for p in local_wd.glob(g))
    assert len(local) == 3, f"the local run wrote {local}, not a summary and two sampler chunks"
    assert sorted(p.relative_to(slurm_wd) for g in pattern for p in slurm_wd.glob(g)) == local
    for rel in local:
        if (slurm_wd / rel).read_bytes() != (local_wd / rel).read_bytes():
            if runs["source_changed"]:
                pytest.skip("the package/workflow source was edited while the two runs ran, so their provenance "
                            f"differs ({netcdf_diff(slurm_wd / rel, local_wd / rel)})")
            pytest.fail(f"{rel} differs between the SLURM and the local run: {netcdf_diff(slurm_wd / rel, local_wd / rel)}")


def netcdf_diff(a: Path, b: Path) -> str:
    """Which global attributes and variables differ (a changed gaussdsm_code_version or git_commit means the
    source was edited between the two runs, not that the results are irreproducible)."""
    import xarray as xr

    with xr.open_dataset(a, engine="netcdf4") as da, xr.open_dataset(b, engine="netcdf4") as db:
        attrs = sorted(k for k in set(da.attrs) | set(db.attrs) if da.attrs.get(k) != db.attrs.get(k))
        names = sorted(set(da.variables) | set(db.variables), key=str)
        variables = [str(k) for k in names if k not in da.variables or k not in db.variables
                     or not da[k].identical(db[k])]
    return f"global attributes {attrs or 'equal'}; variables {variables or 'identical'}"


def test_injected_fault_fails_the_run(runs, tmp_path):
    """The fault-injection switch of the test config (``fault_injection: {rule: run_sampler}``) makes the SLURM
    job fail; snakemake reports the rule and exits non-zero."""
    import yaml

    slurm_wd, _ = finished_run(runs, "slurm")
    wd = tmp_path / "fault"
    shutil.copytree(slurm_wd, wd, symlinks=True)
    cfg = yaml.safe_load((wd / "config.yaml").read_text())
    cfg["fault_injection"] = {"rule": FAULT_STAGE, "mode": "fail"}
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    # only the faulty stage (and what it needs, if anything is outdated): no independent job to wait for
    out = run_snakemake(wd, "--profile", str(PROFILE), "--forcerun", FAULT_STAGE, "--until", FAULT_STAGE)
    print(f"\nfault-injected SLURM run: {out.seconds:.1f} s")
    assert out.returncode not in (0, 124, 137), describe(out, wd)
    assert f"Error in rule {FAULT_STAGE}" in out.text, describe(out, wd)
    assert re.search(r"SLURM-job '\d+' failed", out.text), describe(out, wd)
    logs = [p for p in (wd / "logs").rglob("*.log") if FAULT_STAGE in str(p.relative_to(wd))]
    assert any("fault injected" in p.read_text(errors="replace") for p in logs), \
        f"no {FAULT_STAGE} log under logs/ mentions the injected fault: {logs}"
