"""Showing what went wrong, where it happened, in words a biologist understands."""

from __future__ import annotations

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


def flash(message: str, *, kind: str = "success") -> None:
    """A message shown once after the next rerun (e.g. after a button that changes the page)."""
    st.session_state.setdefault("_flash", []).append((kind, message))


def show_flashes() -> None:
    for kind, message in st.session_state.pop("_flash", []):
        {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}[kind](message)
