"""Shared fixtures.  Statistical tests use fixed seeds and a 4-standard-error band (two-sided p ~ 6e-5)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
Z = 4.0  # standard errors allowed in statistical tests


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def random_spd(rng, d, batch=(), cond=10.0):
    """Random symmetric positive-definite matrices with eigenvalues in [1/cond, 1]."""
    Q, _ = np.linalg.qr(rng.standard_normal((*batch, d, d)))
    w = np.exp(rng.uniform(np.log(1 / cond), 0.0, size=(*batch, d)))
    return (Q * w[..., None, :]) @ np.swapaxes(Q, -1, -2)
