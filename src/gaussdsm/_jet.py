"""Second-order forward-mode differentiation: truncated Taylor series ``(f, f', f'')`` carried through numpy code.

A :class:`Jet` holds a value and its first two derivatives with respect to one scalar variable per element
(here the eigenvalue :math:`\\mu` a variance map is evaluated at).  Arithmetic follows the rules of calculus, so
a variance map written once with ``+ - * /``, :func:`power`, :func:`exp`, :func:`log`, :func:`sqrt` and
:func:`where` returns ``F(mu)``, ``F'(mu)`` and ``F''(mu)`` exactly (to rounding), with no finite differences
(samplers.md §3: "F', F'' from differentiating the recursion, forward-mode through the loop").  Plain floats and
arrays pass through the same code unchanged (order 0).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Jet", "variable", "value", "derivatives", "power", "exp", "log", "sqrt", "where", "maximum"]


class Jet:
    """``(v, d1, d2)``: a value and its first and second derivatives, arrays broadcasting together."""

    __slots__ = ("v", "d1", "d2")
    __array_priority__ = 1000  # ndarray (op) Jet -> Jet's reflected operator

    def __init__(self, v, d1, d2):
        self.v, self.d1, self.d2 = v, d1, d2

    # arithmetic ------------------------------------------------------------------------------------
    def __add__(self, o):
        if isinstance(o, Jet):
            return Jet(self.v + o.v, self.d1 + o.d1, self.d2 + o.d2)
        return Jet(self.v + o, self.d1, self.d2)

    __radd__ = __add__

    def __neg__(self):
        return Jet(-self.v, -self.d1, -self.d2)

    def __sub__(self, o):
        return self + (-o)

    def __rsub__(self, o):
        return (-self) + o

    def __mul__(self, o):
        if isinstance(o, Jet):
            return Jet(self.v * o.v, self.d1 * o.v + self.v * o.d1, self.d2 * o.v + 2.0 * self.d1 * o.d1 + self.v * o.d2)
        return Jet(self.v * o, self.d1 * o, self.d2 * o)

    __rmul__ = __mul__

    def __truediv__(self, o):
        if not isinstance(o, Jet):
            return Jet(self.v / o, self.d1 / o, self.d2 / o)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = self.v / o.v
            w1 = (self.d1 - w * o.d1) / o.v
            w2 = (self.d2 - 2.0 * w1 * o.d1 - w * o.d2) / o.v
        return Jet(w, w1, w2)

    def __rtruediv__(self, o):
        return Jet(np.broadcast_to(o, np.shape(self.v)), 0.0, 0.0) / self

    def __pow__(self, p):
        return power(self, p)

    # comparisons act on the value (for masks)
    def __lt__(self, o):
        return self.v < value(o)

    def __le__(self, o):
        return self.v <= value(o)

    def __gt__(self, o):
        return self.v > value(o)

    def __ge__(self, o):
        return self.v >= value(o)

    @property
    def shape(self):
        return np.broadcast_shapes(np.shape(self.v), np.shape(self.d1), np.shape(self.d2))

    def __getitem__(self, idx):
        s = self.shape
        return Jet(*(np.broadcast_to(x, s)[idx] for x in (self.v, self.d1, self.d2)))


def variable(x) -> Jet:
    """The independent variable: ``(x, 1, 0)``."""
    x = np.asarray(x, dtype=float)
    return Jet(x, np.ones_like(x), np.zeros_like(x))


def value(x):
    return x.v if isinstance(x, Jet) else x


def derivatives(x, shape=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(f, f', f'')`` as arrays (of ``shape`` if given); a constant has zero derivatives."""
    if isinstance(x, Jet):
        out = x.v, x.d1, x.d2
    else:
        out = x, 0.0, 0.0
    s = shape if shape is not None else np.broadcast_shapes(*(np.shape(o) for o in out))
    return tuple(np.array(np.broadcast_to(o, s), dtype=np.result_type(np.asarray(o).dtype, float)) for o in out)


def _chain(u, f, f1, f2):
    """``g = f(u)`` given ``f(u.v), f'(u.v), f''(u.v)``."""
    if not isinstance(u, Jet):
        return f
    return Jet(f, f1 * u.d1, f2 * u.d1 * u.d1 + f1 * u.d2)


def power(u, p):
    """``u**p`` for a constant exponent ``p`` (array allowed; a negative real base needs an integral ``p``).

    One ``pow`` per element: :math:`f' = p f/u`, :math:`f'' = p(p-1) f/u^2` (exact formulas where ``u = 0``).
    """
    v = value(u)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        f = np.power(v, p)
        if not isinstance(u, Jet):
            return f
        zero = v == 0
        safe = np.where(zero, 1.0, v)
        f1 = np.where(zero, 0.0, p * f / safe)
        f2 = np.where(zero, 0.0, p * (p - 1.0) * f / (safe * safe))
        if np.any(zero):  # p * 0**(p-1): 1 for p = 1, else 0; p (p-1) 0**(p-2): 2 for p = 2, else 0
            pp = np.broadcast_to(p, np.shape(f))
            f1 = np.where(zero & (pp == 1), 1.0, f1)
            f2 = np.where(zero & (pp == 2), 2.0, f2)
    return _chain(u, f, f1, f2)


def exp(u):
    f = np.exp(value(u))
    return _chain(u, f, f, f)


def log(u):
    v = value(u)
    with np.errstate(divide="ignore"):
        return _chain(u, np.log(v), 1.0 / v, -1.0 / (v * v))


def sqrt(u):
    v = value(u)
    f = np.sqrt(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _chain(u, f, 0.5 / f, -0.25 / (f * v))


def where(cond, x, y):
    """Elementwise ``x if cond else y`` for jets, arrays or numbers."""
    if not isinstance(x, Jet) and not isinstance(y, Jet):
        return np.where(cond, x, y)
    xs = (x.v, x.d1, x.d2) if isinstance(x, Jet) else (x, 0.0, 0.0)
    ys = (y.v, y.d1, y.d2) if isinstance(y, Jet) else (y, 0.0, 0.0)
    return Jet(*(np.where(cond, a, b) for a, b in zip(xs, ys)))


def maximum(x, y):
    return where(value(x) >= value(y), x, y)
