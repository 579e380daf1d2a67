"""Print the agreement table of ``docs/external-checks.md``: per gaussdsm scheme and library sampler, the number of
stored cases (``tests/data/external_reference.json``) and the largest relative difference of gaussdsm's exact output
variance from the library's.  No torch needed::

    .venv/bin/python tests/external/agreement.py
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import test_external_reference as T  # noqa: E402

rows = collections.OrderedDict()
n = skipped = 0
for c in T.CASES:
    if T.missing(c) is not None:
        skipped += 1
        continue
    ours = T.gaussdsm_variance(c)
    theirs = np.asarray(c["variance"]) / c["output_m2"]
    rel = float(np.abs(ours / theirs - 1).max())
    k = (T.MAP[(c["library"], c["sampler"])][0], c["library"], c["sampler"])
    r = rows.setdefault(k, [0, 0.0])
    r[0] += 1
    r[1] = max(r[1], rel)
    n += 1
print("| gaussdsm scheme | library | sampler | cases | max relative difference |")
print("| --- | --- | --- | --- | --- |")
for (s, lib, name), (k, m) in rows.items():
    print(f"| `{s}` | {lib} | `{name}` | {k} | {m:.1e} |")
print(f"\n{n} of {len(T.CASES)} cases compared ({skipped} skipped: not implemented), largest difference "
      f"{max(m for _, m in rows.values()):.1e}")
