"""Declarative checks of parsed JSON values, the parts :mod:`core.training.card_schema` is written with.

Each spec has ``expected`` (what it accepts, in words) and ``check(value, path)``, which raises
:class:`Invalid` naming the path of the first value that does not match (``labels[0].name``), the value and
what was expected. Booleans are not numbers here; numbers must be finite unless a spec says otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.values import is_number, is_whole

MAX_DEPTH = 32
MAX_TEXT = 10_000
#: The value :class:`Invalid` reports for a required field that is absent.
MISSING = object()


class Invalid(Exception):
    """One field that does not match the schema: where, what it holds, what was expected."""

    def __init__(self, path: str, value: object, expected: str) -> None:
        super().__init__(path)
        self.path, self.value, self.expected = path, value, expected


def shown(value: object) -> str:
    text = repr(value)
    text = text if len(text) <= 80 else f"{text[:60]}… ({len(text)} characters)"
    kind = {bool: "true/false", int: "a whole number", float: "a number", str: "text", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)
    return f"{text} ({kind})"


@dataclass(frozen=True)
class Whole:
    lo: int | None = None
    hi: int | None = None
    multiple_of: int = 1

    @property
    def expected(self) -> str:
        bounds = _bounds(self.lo, self.hi)
        step = f", a multiple of {self.multiple_of}" if self.multiple_of > 1 else ""
        return f"a whole number{bounds}{step}"

    def check(self, value: object, path: str) -> None:
        ok = is_whole(value) and (self.lo is None or value >= self.lo)
        if not ok or (self.hi is not None and value > self.hi) or value % self.multiple_of:
            raise Invalid(path, value, self.expected)


@dataclass(frozen=True)
class Number:
    lo: float | None = None
    hi: float | None = None
    finite: bool = True

    @property
    def expected(self) -> str:
        return f"a {'finite ' if self.finite else ''}number{_bounds(self.lo, self.hi)}"

    def check(self, value: object, path: str) -> None:
        if not is_number(value):
            raise Invalid(path, value, self.expected)
        if not math.isfinite(value):
            if self.finite:
                raise Invalid(path, value, self.expected)
            return
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise Invalid(path, value, self.expected)


@dataclass(frozen=True)
class Flag:
    expected: str = "true or false"

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, bool):
            raise Invalid(path, value, self.expected)


@dataclass(frozen=True)
class Text:
    max_len: int = 200
    min_len: int = 1
    choices: tuple[str, ...] = ()
    colour: bool = False

    @property
    def expected(self) -> str:
        if self.choices:
            return f"one of {list(self.choices)}"
        if self.colour:
            return "a colour written #rrggbb, e.g. '#e6194b'"
        return f"text of {self.min_len} to {self.max_len} characters"

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, str) or not self.min_len <= len(value) <= self.max_len:
            raise Invalid(path, value, self.expected)
        if self.choices and value not in self.choices:
            raise Invalid(path, value, self.expected)
        digits = "0123456789abcdefABCDEF"
        if self.colour and not (len(value) == 7 and value[0] == "#" and all(c in digits for c in value[1:])):
            raise Invalid(path, value, self.expected)


@dataclass(frozen=True)
class Nullable:
    spec: object

    @property
    def expected(self) -> str:
        return f"null or {self.spec.expected}"

    def check(self, value: object, path: str) -> None:
        if value is None:
            return
        try:
            self.spec.check(value, path)
        except Invalid as bad:
            if bad.path != path:
                raise
            raise Invalid(path, value, self.expected) from None


@dataclass(frozen=True)
class ListOf:
    item: object
    min_len: int = 0
    max_len: int = 100_000

    @property
    def expected(self) -> str:
        return f"a list of {self.min_len} to {self.max_len} items, each {self.item.expected}"

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, list) or not self.min_len <= len(value) <= self.max_len:
            raise Invalid(path, value, self.expected)
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]")


@dataclass(frozen=True)
class MapOf:
    """An object with free keys (text up to ``key_len`` characters), each value matching ``value``."""

    value: object
    key_len: int = 200

    @property
    def expected(self) -> str:
        return f"an object whose values are each {self.value.expected}"

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise Invalid(path, value, self.expected)
        for key, item in value.items():
            if len(key) > self.key_len:
                raise Invalid(f"{path} key", key, f"a key of at most {self.key_len} characters")
            self.value.check(item, f"{path}.{key}")


@dataclass(frozen=True)
class Record:
    """An object with known fields (``required`` must be present); other keys are checked with ``other``."""

    fields: dict[str, object]
    required: tuple[str, ...] = ()
    other: object = None

    @property
    def expected(self) -> str:
        return f"an object with {list(self.required or self.fields)}"

    def check(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise Invalid(path, value, self.expected)
        for key in self.required:
            if key not in value:
                raise Invalid(join(path, key), MISSING, f"{self.fields[key].expected} (a required field)")
        for key, item in value.items():
            spec = self.fields.get(key, self.other or Json())
            spec.check(item, join(path, key))


@dataclass(frozen=True)
class Json:
    """Any JSON value: numbers finite (unless ``finite`` is False), text bounded, nesting bounded."""

    finite: bool = True

    @property
    def expected(self) -> str:
        return f"plain JSON ({'finite ' if self.finite else ''}numbers, text up to {MAX_TEXT} characters)"

    def check(self, value: object, path: str, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise Invalid(path, "…", f"JSON nested at most {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                if len(key) > MAX_TEXT:
                    raise Invalid(f"{path} key", key, f"a key of at most {MAX_TEXT} characters")
                self.check(item, join(path, key), depth + 1)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.check(item, f"{path}[{i}]", depth + 1)
        elif isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise Invalid(path, value, f"text of at most {MAX_TEXT} characters")
        elif isinstance(value, float) and self.finite and not math.isfinite(value):
            raise Invalid(path, value, "a finite number")


def _bounds(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" from {lo} to {hi}"
    if lo is not None:
        return f" of at least {lo}"
    return f" of at most {hi}" if hi is not None else ""


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
