"""Ctrl-C of a run: each interrupted job ends with one line and the status 130, not a traceback.

A terminal's Ctrl-C sends SIGINT to its whole foreground process group: Snakemake and every job it is running.
Python's default turns it into ``KeyboardInterrupt`` wherever the job happens to be, and prints the traceback
(twice where :func:`gaussdsm.stages.job` logs it): on two cores, some 200 lines for one Ctrl-C.  A workflow
script calls :func:`on_sigint` first (this module imports nothing heavy, so it is in place before the package's
imports, which take most of a short job's time); from then on SIGINT prints ``<rule> [<wildcards>]: interrupted``
and raises :class:`Interrupted`, a :class:`SystemExit` with the conventional status 130 (128 + SIGINT): ``finally``
blocks still run (a partly written result is removed, :func:`gaussdsm.io.write_dataset`) and the interpreter
exits without a traceback.  Snakemake then reports the job as failed and removes its outputs, as for any failure.
"""

from __future__ import annotations

import signal
import sys

__all__ = ["Interrupted", "on_sigint"]


class Interrupted(SystemExit):
    """SIGINT in a job: exits with status 128 + SIGINT = 130 and no traceback."""


def on_sigint(smk=None, rule: str | None = None) -> None:
    """From now on, SIGINT ends this process quietly: one line on standard error, then :class:`Interrupted`.

    Parameters
    ----------
    smk : snakemake.script.Snakemake, optional
        The script's ``snakemake`` object: its rule and wildcards name the job in the line.
    rule : str, optional
        The rule's name, if not ``smk.rule``.
    """
    name = rule or (getattr(smk, "rule", None) or "gaussdsm job")
    wildcards = ", ".join(f"{k}={v}" for k, v in dict(getattr(smk, "wildcards", {}) or {}).items())
    where = f"{name} [{wildcards}]" if wildcards else name
    fired = []

    def handler(signum, frame):
        if fired:  # a second Ctrl-C while the first unwinds: do not interrupt the clean-up
            return
        fired.append(signum)
        sys.stderr.write(f"{where}: interrupted (SIGINT), exit status {128 + signum}\n")
        sys.stderr.flush()
        raise Interrupted(128 + signum)

    signal.signal(signal.SIGINT, handler)
