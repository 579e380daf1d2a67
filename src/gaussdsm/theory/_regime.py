"""Where the first-order expansion holds (``in_regime``, theory.md §7.2): the constants and the dimension rule."""

REGIME_FACTOR = 10.0
"""``in_regime`` needs N >= REGIME_FACTOR * max(d, n_samples_scale) (full model; diagonal models: the scale only)."""
REGIME_TAU = 0.01
"""``in_regime`` needs c tau / sigma^2 <= REGIME_TAU (R8 within ~5 %, theory.md §7.2 note 6)."""


def regime_dimension(d: int, model: str) -> int:
    """The d of the regime condition: d for the full model (its d^2 cross terms), 1 for the diagonal models."""
    return d if model == "full" else 1
