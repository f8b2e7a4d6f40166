"""Showing what went wrong, where it happened, in words a biologist understands."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from core.errors import SegStudioError


@contextmanager
def user_errors(prefix: str = "") -> Iterator[None]:
    """Show a SegStudioError raised inside the block as an error box; anything else is a bug and propagates."""
    try:
        yield
    except SegStudioError as exc:
        st.error(f"{prefix}{exc}", icon=":material/error:")


FLASH_SECONDS = 6.0  # how long a flash stays through reruns after it first appears
#: flash kind -> the Streamlit element that shows it
_SHOW = {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}


def flash(message: str, *, kind: str = "success") -> None:
    """A message shown after the next rerun (e.g. after a button that changes the page), and kept through the
    reruns of the following few seconds: a component can rerun the page right after it appears (the canvas does
    when it has loaded its background), and the message must not vanish before it has been read."""
    pending = [f for f in st.session_state.get("_flash", []) if f[:2] != (kind, message)]  # no twin of a repeat
    st.session_state["_flash"] = [*pending, (kind, message, None)]


def show_flashes() -> None:
    now = time.monotonic()
    kept = []
    for kind, message, shown_since in st.session_state.pop("_flash", []):
        shown_since = now if shown_since is None else shown_since
        if now - shown_since <= FLASH_SECONDS:
            _SHOW[kind](message)
            kept.append((kind, message, shown_since))
    if kept:
        st.session_state["_flash"] = kept
