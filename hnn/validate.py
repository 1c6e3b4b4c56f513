"""The one set of argument validators of hnn.

The rule every public constructor and function follows: a value of the wrong *type* raises ``TypeError``, a value of
the right type but outside its domain raises ``ValueError``; both messages name the argument, what it must be, and
what it got. ``bool`` is never accepted where a number is expected (``True`` is an ``int`` to Python, not to us).
Each checker returns the validated value (``float`` for reals) so callers can write ``x = check_positive("x", x)``.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Sequence
from typing import Any

__all__ = [
    "check_int",
    "check_real",
    "check_positive",
    "check_nonnegative",
    "check_fraction",
    "check_range",
    "check_choice",
    "check_bool",
    "check_image_size",
]


def check_int(name: str, value: Any, minimum: int | None = None) -> int:
    """An ``int`` (not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


def check_image_size(image_size: Any, name: str = "image_size") -> int:
    """An ``int`` that is a power of two ≥ 16 (16, 32, 64, …): the frame sizes of the video models."""
    size = check_int(name, image_size)
    if size < 16 or size & (size - 1):
        raise ValueError(f"{name} must be a power of two >= 16 (16, 32, 64, ...), got {size}")
    return size


def check_real(name: str, value: Any) -> float:
    """A finite real number (int or float, not a bool), returned as ``float``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} ({value!r})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def check_positive(name: str, value: Any) -> float:
    """A finite real number ``> 0``."""
    value = check_real(name, value)
    if value <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value:g}")
    return value


def check_nonnegative(name: str, value: Any) -> float:
    """A finite real number ``>= 0``."""
    value = check_real(name, value)
    if value < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value:g}")
    return value


def check_fraction(name: str, value: Any) -> float:
    """A real number in ``[0, 1)`` (a share held out of something that must keep a part)."""
    value = check_real(name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value:g}")
    return value


def check_range(name: str, value: Any) -> tuple[float, float]:
    """A ``(low, high)`` pair of finite numbers with ``0 <= low <= high``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"{name} must be a (low, high) pair, got {value!r}")
    low, high = check_nonnegative(f"{name}[0]", value[0]), check_nonnegative(f"{name}[1]", value[1])
    if low > high:
        raise ValueError(f"{name} must satisfy low <= high, got {tuple(value)!r}")
    return low, high


def check_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """One of ``choices`` (a string argument that is not a string is a TypeError)."""
    if all(isinstance(c, str) for c in choices) and not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {sorted(choices)}; got {type(value).__name__} ({value!r})")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {sorted(choices)}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """A ``bool`` (``0``/``1`` are not accepted: a flag given a number is usually a mistake)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} ({value!r})")
    return value
