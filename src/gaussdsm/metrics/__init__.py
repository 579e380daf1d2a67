"""Error metrics between the sampled law :math:`\\mathcal N(0, C)` and the data law :math:`\\mathcal N(0, \\Sigma)`:
the registry (one module per metric, one entry each).

=====================  ====================================================================================
``w2``                 :math:`W_2^2` (:mod:`.w2`; the pipeline's historical metric, default everywhere)
``kl_sample_data``     :math:`\\mathrm{KL}(\\mathcal N(0,C)\\,\\|\\,\\mathcal N(0,\\Sigma))` (:mod:`.kl_sample_data`)
``kl_data_sample``     :math:`\\mathrm{KL}(\\mathcal N(0,\\Sigma)\\,\\|\\,\\mathcal N(0,C))` (:mod:`.kl_data_sample`)
=====================  ====================================================================================

Each is a :class:`~gaussdsm.metrics._base.Metric`: its commuting, full and eigen forms and its first-order
expansion (bias, generalization ∝ 1/N, optimization ∝ τ) in the terms of :mod:`gaussdsm.theory`.
"""

from __future__ import annotations

from . import kl_data_sample, kl_sample_data, w2
from ._base import Metric

__all__ = ["METRICS", "NAMES", "DEFAULT", "Metric", "get"]

METRICS: dict[str, Metric] = {
    "w2": w2.METRIC,
    "kl_sample_data": kl_sample_data.METRIC,
    "kl_data_sample": kl_data_sample.METRIC,
}
"""Registry: name -> :class:`Metric`."""

NAMES = tuple(METRICS)
DEFAULT = "w2"


def get(name) -> Metric:
    """The metric called ``name`` (a :class:`Metric` passes through).

    Raises
    ------
    ValueError
        One line: ``metrics must be one of w2, kl_sample_data, kl_data_sample; got 'x'``.
    """
    if isinstance(name, Metric):
        return name
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        raise ValueError(f"metrics must be one of {', '.join(METRICS)}; got {name!r}") from None
