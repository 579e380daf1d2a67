"""What the benchmark scripts share: the best-of-n timer and the ``[--json]`` command line on one core."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from threadpoolctl import threadpool_limits


def best(f: Callable[[], object], repeats: int = 3) -> float:
    """The smallest wall time of ``repeats`` calls of ``f`` (s)."""
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return min(out)


def main(doc: str, run: Callable[[], dict], report: Callable[[dict], None]) -> None:
    """Run ``run()`` with one BLAS thread; print its dict as one JSON object (``--json``) or ``report`` it."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    with threadpool_limits(1):
        res = run()
    if args.json:
        print(json.dumps(res, sort_keys=True))
    else:
        report(res)
