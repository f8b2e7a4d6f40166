"""Showing what went wrong, where it happened, in words a biologist understands; and what went right.

An error makes the success (and info) messages still on show go away, and a new success drops an error
that was waiting to be shown: a page never says "Saved" beside the error of what came after.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from core.errors import SegStudioError

FLASH_SECONDS = 6.0  # how long a flash stays through reruns after it first appears
#: flash kind -> the Streamlit element that shows it
_SHOW = {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}
#: flash kind -> the kinds of earlier messages it makes go away
_REPLACES = {"error": {"success", "info"}, "success": {"error"}}
_SLOT = "_flash_slot"  # session key: (the run it belongs to, the placeholder the flashes are drawn in)


@contextmanager
def user_errors(prefix: str = "") -> Iterator[None]:
    """Show a SegStudioError raised inside the block as an error box; anything else is a bug and propagates."""
    try:
        yield
    except SegStudioError as exc:
        show_error(f"{prefix}{exc}")


def show_error(message: str) -> None:
    """An error box now; the success and info messages of this page go away (shown or still to come)."""
    _drop(_REPLACES["error"])
    st.error(message, icon=":material/error:")


def flash(message: str, *, kind: str = "success") -> None:
    """A message shown after the next rerun (e.g. after a button that changes the page), and kept through the
    reruns of the following few seconds: a component can rerun the page right after it appears (the canvas does
    when it has loaded its background), and the message must not vanish before it has been read."""
    flash_outcome([(kind, message)])


def flash_outcome(messages: list[tuple[str, str]]) -> None:
    """The messages of one action, as ``(kind, message)``: together they replace what earlier actions
    left (an error drops earlier successes, a success earlier errors), but never each other, so a batch that
    partly worked says both what worked and what did not."""
    gone = set().union(*(_REPLACES.get(kind, set()) for kind, _ in messages))
    new = [(kind, message, None) for kind, message in messages]
    pending = [f for f in st.session_state.get("_flash", [])
               if f[0] not in gone and f[:2] not in {m[:2] for m in new}]  # not replaced, no twin
    st.session_state["_flash"] = [*pending, *new]


def show_flashes() -> None:
    now = time.monotonic()
    kept = []
    for kind, message, shown_since in st.session_state.pop("_flash", []):
        shown_since = now if shown_since is None else shown_since
        if now - shown_since <= FLASH_SECONDS:
            kept.append((kind, message, shown_since))
    if kept:
        st.session_state["_flash"] = kept
    slot = st.empty()
    st.session_state[_SLOT] = (_this_run(), slot)
    _draw(slot, kept)


def _draw(slot, flashes: list[tuple[str, str, float | None]]) -> None:  # noqa: ANN001 (an st.empty)
    if not flashes:
        slot.empty()
        return
    with slot.container():
        for kind, message, _ in flashes:
            _SHOW[kind](message)


def _drop(kinds: set[str]) -> None:
    """Forget the flashes of these kinds, and take them off the page if this run has drawn them already."""
    flashes = st.session_state.get("_flash", [])
    kept = [f for f in flashes if f[0] not in kinds]
    if len(kept) == len(flashes):
        return
    st.session_state["_flash"] = kept
    run, slot = st.session_state.get(_SLOT, (None, None))
    if slot is not None and run is not None and run is _this_run():  # never a placeholder of an earlier run
        _draw(slot, kept)


def _this_run() -> object | None:
    """An object that is new for each script (or fragment) run: Streamlit's element cursors of the run."""
    ctx = get_script_run_ctx()
    return None if ctx is None else ctx.cursors
