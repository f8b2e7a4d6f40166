"""How values are written in the report: numbers, "n/d", durations, dates, shortened names.

The PDF and the tests use the same functions, so a number in ``metrics.json`` can be found in the PDF's
text by formatting it with :func:`format_value`.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

#: Shown for a metric that is not defined (its denominator is 0), never 0 or NaN.
NOT_DEFINED = "n/d"
#: The multiplication sign of sizes, as in "1024 x 768" (U+00D7).
TIMES = "\N{MULTIPLICATION SIGN}"
ELLIPSIS = "…"

_BIT_DEPTHS = {
    "bool": "1-bit",
    "uint8": "8-bit",
    "int8": "8-bit (signed)",
    "uint16": "16-bit",
    "int16": "16-bit (signed)",
    "uint32": "32-bit",
    "int32": "32-bit (signed)",
    "float16": "16-bit float",
    "float32": "32-bit float",
    "float64": "64-bit float",
}


def format_value(value: object) -> str:
    """A value as the report writes it.

    None (and NaN) -> "n/d"; booleans -> "yes" / "no"; integers as they are; floats with three decimals
    when 0.01 <= |x| < 100000, else in scientific notation with three significant digits (learning rates);
    lists joined with ", "; anything else with ``str``.
    """
    if value is None:
        return NOT_DEFINED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return NOT_DEFINED
        if value == 0.0:
            return "0"
        if 0.01 <= abs(value) < 100_000:
            return f"{value:.3f}"
        return f"{value:.2e}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def format_duration(seconds: float | None) -> str:
    """``3725.2`` -> "1 h 02 min 05 s"; None -> "not recorded"."""
    if seconds is None:
        return "not recorded"
    total = round(float(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def format_datetime(value: datetime | str | None) -> str:
    """A datetime or ISO string as "YYYY-MM-DD HH:MM UTC" (naive values are taken as UTC)."""
    if value is None or value == "":
        return "not recorded"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def bit_depth(dtype: object) -> str:
    """``"uint16"`` -> "16-bit"; unknown dtypes as given."""
    return _BIT_DEPTHS.get(str(dtype), str(dtype))


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters with an ellipsis in the middle (start and end are kept,
    e.g. a numbered file name's number and extension)."""
    text = str(text)
    if len(text) <= max_chars:
        return text
    if max_chars < 3:
        return text[:max_chars]
    head = max_chars // 2
    tail = max_chars - 1 - head
    return f"{text[:head]}{ELLIPSIS}{text[len(text) - tail :] if tail else ''}"


#: how an image's annotations came about (``annotated_by`` codes, joined by "+" when mixed)
ANNOTATION_ORIGINS = {
    "hand": "hand",
    "proposal": "accepted proposal",
    "prediction": "corrected prediction",
    "import": "imported mask",
    "class": "image class",
    "roi class": "ROI classes",
    "none": "none",
}


def annotated_by_text(code: object, *, words: dict[str, str] = ANNOTATION_ORIGINS, joiner: str = " + ") -> str:
    """``"hand+proposal"`` -> ``"hand + accepted proposal"`` (each code part in ``words``, joined by ``joiner``)."""
    parts = [p for p in str(code or "").split("+") if p]
    return joiner.join(words.get(p, p) for p in parts)
