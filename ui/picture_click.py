"""A picture that answers a click: the project's small Streamlit component in ``ui/components/picture``.

The picture is shown at its own size (narrower on a narrow column); a click on it calls the page's function
with the point clicked, in the picture's pixels, *before* the page's next run, so that the function may set
the state of widgets drawn above the picture as well as below it (a table's selection, for example).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import streamlit as st

from ui.annotator import media_url
from ui.own_components import mount


def click_point(value: object) -> tuple[float, float] | None:
    """The ``(x, y)`` of a click the component reported (``{"x", "y", "t"}``), or None if it is not one."""
    if not isinstance(value, Mapping):
        return None
    x, y = value.get("x"), value.get("y")
    numbers = [v for v in (x, y)
               if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]
    return (float(x), float(y)) if len(numbers) == 2 else None  # type: ignore[arg-type]


def clickable_picture(png: bytes, *, key: str, on_click: Callable[[float, float], None], alt: str = "",
                      marks: Mapping[str, float | int | str] | None = None) -> None:
    """Show the PNG ``png``; a click on it calls ``on_click(x, y)`` (pixels of the PNG, from its top-left
    corner) at the start of the next run. ``marks`` are written on the picture's element as data- attributes
    (the browser tests read the view from them)."""

    def clicked() -> None:
        state = st.session_state.get(key)
        point = click_point(state.get("click") if isinstance(state, Mapping) else None)
        if point is not None:
            on_click(*point)

    mount("picture")(key=key, data={"src": media_url(png, key), "alt": alt, "marks": dict(marks or {})},
             default={"click": None}, on_click_change=clicked, width="stretch")
