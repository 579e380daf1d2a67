"""Progress of long work: a bar on the terminal (tqdm, the CLI) and progress lines in a job's log (the workflow).

:class:`Progress` counts units of work (replicates, grid points) and reports them both ways: a tqdm bar on stderr
when ``bar`` is True (default: when stderr is a terminal), and, given a ``logger``, a line
``<desc>: 30/100 replicates (30 %), 12.0 s, about 28 s left`` at most every ``every`` seconds and at the end.
:func:`timed` shows a bar for one call that cannot report its own progress (a compiled loop), driven by its
estimated duration (:mod:`gaussdsm.budget`).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

__all__ = ["Progress", "timed"]


def _bar_wanted(bar) -> bool:
    return bool(sys.stderr.isatty()) if bar is None else bool(bar)


class Progress:
    """``with Progress(total, "Monte Carlo", unit="replicates") as p: ... p.update(k)``.

    Parameters
    ----------
    total : int
    desc : str
    unit : str
    bar : bool or None
        Show a tqdm bar on stderr (None: if stderr is a terminal).
    logger : logging.Logger, optional
        Write progress lines to it (a workflow job's log).
    every : float
        Seconds between two log lines (the last one is always written).
    """

    def __init__(self, total: int, desc: str, *, unit: str = "it", bar=None, logger=None, every: float = 10.0):
        self.total, self.desc, self.unit, self.logger, self.every = int(total), desc, unit, logger, float(every)
        self.done = 0
        self._t0 = self._last = time.perf_counter()
        self._bar = None
        if _bar_wanted(bar):
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=desc, unit=f" {unit}", file=sys.stderr, leave=False,
                             dynamic_ncols=True)

    def update(self, n: int = 1) -> None:
        self.done += int(n)
        if self._bar is not None:
            self._bar.update(int(n))
        now = time.perf_counter()
        if self.logger is not None and (now - self._last >= self.every or self.done >= self.total):
            self._last = now
            self.logger.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        """``desc: done/total unit (p %), elapsed, about ... left``."""
        el = (time.perf_counter() if now is None else now) - self._t0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        left = el * (self.total - self.done) / self.done if 0 < self.done < self.total else 0.0
        tail = f", about {left:.0f} s left" if self.done < self.total else ""
        return f"{self.desc}: {self.done}/{self.total} {self.unit} ({pct:.0f} %), {el:.1f} s{tail}"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


@contextlib.contextmanager
def timed(seconds: float, desc: str, *, bar=None, min_seconds: float = 2.0):
    """A bar for one long call, advanced by the clock against its estimated duration ``seconds`` (held at 99 %
    until the call returns).  Nothing is shown for calls estimated under ``min_seconds``."""
    if not _bar_wanted(bar) or seconds < min_seconds:
        yield
        return
    from tqdm import tqdm

    stop = threading.Event()
    t0 = time.perf_counter()
    fmt = "{desc}: {percentage:3.0f}% (estimated {total:.0f} s) | {elapsed}"
    with tqdm(total=float(seconds), desc=desc, file=sys.stderr, leave=False, bar_format=fmt) as pb:

        def tick():
            while not stop.wait(0.5):
                pb.n = min(time.perf_counter() - t0, 0.99 * seconds)
                pb.refresh()

        th = threading.Thread(target=tick, daemon=True)
        th.start()
        try:
            yield
        finally:
            stop.set()
            th.join()
