"""Argument checks shared by every module, each raising with "Received: ...".

Keras' ``utils/argument_validation.py`` does the same for Keras: one place for the
message format, so every check says the argument, what was received and what is expected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def _bounds(low, high, low_open: bool, high_open: bool) -> str:
    """``"in [low, high)"``, ``">= low"``, ``"<= high"`` ... or ``""`` without bounds."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` if it is an integer (not a bool) in ``[minimum, maximum]``.

    Raises:
        ValueError: ``"{name} must be an integer >= {minimum}. Received: {name}={value!r}"``.
    """
    ok = not isinstance(value, bool) and isinstance(value, int)
    ok = ok and (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    if not ok:
        expected = " ".join(p for p in ("an integer", _bounds(minimum, maximum, False, False)) if p)
        raise ValueError(f"{name} must be {expected}. Received: {name}={value!r}")
    return value


def check_number(
    name: str,
    value,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = True,
    kind: str | None = None,
) -> float:
    """``value`` if it is a finite real number (not a bool) between ``low`` and ``high``
    (``low`` included unless ``low_open``, ``high`` excluded unless ``high_open=False``).

    ``kind`` names what is expected, before the bounds: ``kind="a fraction"`` says
    ``"{name} must be a fraction in [0, 1)"``. Defaults to None (the bounds alone, or "a
    finite number" without bounds).

    Raises:
        ValueError: ``"{name} must be in [low, high). Received: {name}={value!r}"`` (or
            ``"> low"``, ``">= low"`` with one bound).
    """
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (low is None or (value > low if low_open else value >= low))
        and (high is None or (value < high if high_open else value <= high))
    )
    if not ok:
        parts = (kind or "", _bounds(low, high, low_open, high_open))
        expected = " ".join(part for part in parts if part) or "a finite number"
        raise ValueError(f"{name} must be {expected}. Received: {name}={value!r}")
    return value


def check_choice(name: str, value, choices: Iterable):
    """``value`` if it is one of ``choices``.

    Raises:
        ValueError: ``"{name} must be one of [...]. Received: {name}={value!r}"``.
    """
    choices = list(choices)
    # `in` alone would take True for 1 and 1.0 for 1; a choice matches by type too.
    if not any(value == c and type(value) is type(c) for c in choices):
        raise ValueError(f"{name} must be one of {choices}. Received: {name}={value!r}")
    return value


def check_type(name: str, value, types, expected: str):
    """``value`` if it is an instance of ``types``.

    Raises:
        TypeError: ``"{name} must be {expected}. Received: {type name}"``.
    """
    if not isinstance(value, types):
        raise TypeError(f"{name} must be {expected}. Received: {type(value).__name__}")
    return value


def physical_memory() -> int | None:
    """This machine's physical memory in bytes (None where the OS does not say)."""
    import os

    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(need: int, what: str, hint: str, available: int | None = None) -> None:
    """Refuse work that would need more than ``available`` bytes (the physical memory by
    default): a clear error before the operating system kills the process.

    Raises:
        ValueError: ``"{what} needs about N GiB, but this machine has M GiB. {hint}"``.
    """
    available = physical_memory() if available is None else available
    if available is not None and need > available:
        raise ValueError(
            f"{what} needs about {need / 2**30:.1f} GiB, but this machine has "
            f"{available / 2**30:.1f} GiB. {hint}"
        )


def short_repr(value, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_int(value) -> bool:
    """An integer that is not a bool (as JSON and NumPy scalars aside)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value, finite: bool = False) -> bool:
    """An int or float that is not a bool (and, with ``finite``, not NaN or infinite)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return ok and (not finite or math.isfinite(value))
