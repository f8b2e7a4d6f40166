"""The project's own Streamlit components, on Streamlit's v2 component API: plain ES-module JavaScript and CSS
in ``ui/components/<name>/<name>.js`` and ``.css``, no build step. Each is registered on first use, not at
import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

COMPONENTS = Path(__file__).resolve().parent / "components"
_MOUNTED: dict[str, Callable[..., Any]] = {}


def mount(name: str) -> Callable[..., Any]:
    """The mounting command of component ``name`` (``segstudio.<name>``, its root element
    ``<div class="<name>-root">``)."""
    if name not in _MOUNTED:
        folder = COMPONENTS / name
        _MOUNTED[name] = st.components.v2.component(
            f"segstudio.{name}",
            html=f'<div class="{name}-root"></div>',
            js=(folder / f"{name}.js").read_text(encoding="utf-8"),
            css=(folder / f"{name}.css").read_text(encoding="utf-8"),
        )
    return _MOUNTED[name]
