"""Type checks of plain values read from configurations and records (JSON, the database, function arguments)."""

from __future__ import annotations


def is_number(value: object) -> bool:
    """Whether ``value`` is an int or a float (a boolean is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_whole(value: object) -> bool:
    """Whether ``value`` is an int (a boolean is not a whole number here)."""
    return isinstance(value, int) and not isinstance(value, bool)
