"""Test-only fault injection for the workflow tests: the one place where the package breaks itself on purpose.

Switched on by the environment variable ``GAUSSDSM_FAULT`` or, equivalently, by the config key
``fault_injection: {rule: <rule>, mode: fail | sigkill}`` (the SLURM tests need the config switch: a SLURM job
does not see the submitting shell's later environment changes):

* ``GAUSSDSM_FAULT=<rule>``: every job of that rule raises (:func:`check`, called by
  :func:`gaussdsm.stages.job` when the job starts);
* ``GAUSSDSM_FAULT=sigkill:<rule>``: a job of that rule SIGKILLs its whole process group (Snakemake included)
  after writing its result to the temporary file and before renaming it into place (:func:`before_replace`,
  handed to :func:`gaussdsm.io.write_dataset`): a job killed mid-write.

Nothing here runs unless one of these switches is set.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV", "from_config", "check", "before_replace"]

ENV = "GAUSSDSM_FAULT"


def from_config(config: dict | None) -> None:
    """Turn the config switch ``fault_injection`` into the environment variable (same meaning)."""
    fault = (config or {}).get("fault_injection")
    if fault:
        os.environ[ENV] = fault["rule"] if fault.get("mode", "fail") == "fail" else f"sigkill:{fault['rule']}"


def check(rule: str) -> None:
    """Raise if the fault switch asks this rule to fail."""
    if os.environ.get(ENV) == rule:
        raise RuntimeError(f"fault injected into stage {rule!r} ({ENV})")


def before_replace(rule: str | None):
    """The hook for :func:`gaussdsm.io.write_dataset` that kills the run mid-write, or ``None``."""
    if not rule or os.environ.get(ENV) != f"sigkill:{rule}":
        return None

    def kill(_tmp_path) -> None:
        os.killpg(os.getpgid(0), signal.SIGKILL)

    return kill
