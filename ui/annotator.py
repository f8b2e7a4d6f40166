"""The annotate page's canvas (the project's own Streamlit component in ``ui/components/annotator``): mount it,
hand it the picture, the shapes and the view, and read back its events once each.

The component is a plain ES module and a style sheet read from the repository (no build step). It is mounted
under one key for both modes and every image, so switching tool, label, mode or image never remounts it.
See :mod:`core.annotations.annotator` for the JSON it is sent and the events it answers.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit import runtime

from core.annotations.annotator import check_view, visible_viewport, whole_image_viewport
from core.annotations.viewport import Viewport
from core.db.models import Image
from ui.own_components import mount

KEY = "annotator"
HEIGHT = 620  # canvas height in pixels; the width is the column's
WHOLE_PICTURE_PIXELS = 4_000_000  # images up to this size are sent once, whole; larger ones view by view
_ACKED = "_annotator_acked"


def media_url(png: bytes, name: str) -> str:
    """A URL the browser loads a PNG from: Streamlit's media files (cached by the browser; the same picture
    is not sent again on a rerun), or a data URL where no server runs."""
    if runtime.exists():
        return runtime.get_instance().media_file_mgr.add(png, "image/png", f"annotator.{name}")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def view_key(image_id: int) -> str:
    return f"annotator_view_{image_id}"


def saved_view(image_id: int) -> dict[str, float] | None:
    """The view the canvas last reported for the image (kept for the page: shapes in view, the overview)."""
    return st.session_state.get(view_key(image_id))


def keep_view(image_id: int, view: Any) -> None:
    checked = check_view(view)
    if checked is not None:
        st.session_state[view_key(image_id)] = checked


def needs_detail(image: Image) -> bool:
    """Large images are shown view by view (the canvas reports its view once it settles)."""
    return image.width * image.height > WHOLE_PICTURE_PIXELS


def picture_viewport(image: Image, level_shapes: list, *, detail: bool) -> Viewport:
    """The viewport to render as the canvas's picture: the whole image at full resolution, or (``detail``) the
    part of the last reported view that shows the image (the whole image fitted in the canvas before that)."""
    hw = (image.height, image.width)
    view = saved_view(image.id)  # type: ignore[arg-type]
    if not detail:
        return whole_image_viewport(hw, level_shapes)
    if view is None:
        fitted = Viewport.fit(hw, 1000, HEIGHT, level_shapes=level_shapes)
        view = {"x0": 0.0, "y0": 0.0, "scale": fitted.scale, "width": 1000.0, "height": float(HEIGHT)}
    return visible_viewport(hw, view, level_shapes) or Viewport.fit(hw, 1000, HEIGHT, level_shapes=level_shapes)


def page_viewport(image: Image, level_shapes: list) -> Viewport:
    """The part of the image the canvas shows, for the page (the shapes in view, the overview box)."""
    view = saved_view(image.id)  # type: ignore[arg-type]
    hw = (image.height, image.width)
    found = visible_viewport(hw, view, level_shapes) if view is not None else None
    return found or whole_image_viewport(hw, level_shapes)


def picture(png: bytes, viewport: Viewport, name: str = "picture") -> dict[str, Any]:
    """The canvas's picture: the rendered ``viewport`` placed on the image region it shows."""
    return {"src": media_url(png, name), "x": viewport.x0, "y": viewport.y0,
            "w": viewport.canvas_w / viewport.scale, "h": viewport.canvas_h / viewport.scale}


@dataclass(frozen=True)
class CanvasAnswer:
    events: list[dict[str, Any]]  # the new events, oldest first
    view: dict[str, float] | None  # the view the canvas reported (detail mode)
    view_image: int | None  # the image that view is of


def show(data: dict[str, Any]) -> CanvasAnswer:
    """Mount (or update) the canvas with ``data`` (see :mod:`core.annotations.annotator`) and return the events
    it sent that were not handled yet; they count as handled once returned."""
    acked: dict[str, int] = st.session_state.setdefault(_ACKED, {})
    result = mount("annotator")(key=KEY, data={**data, "acked": dict(acked), "height": HEIGHT},
                      default={"view": None}, on_event_change=lambda: None, on_view_change=lambda: None,
                      width="stretch")
    payload = result.get("event")
    fresh: list[dict[str, Any]] = []
    if isinstance(payload, dict) and isinstance(payload.get("events"), list):
        for event in payload["events"]:
            if not isinstance(event, dict):
                continue
            token, seq = str(event.get("token", "")), event.get("seq")
            if not isinstance(seq, int) or seq <= acked.get(token, 0):
                continue
            acked[token] = seq
            fresh.append(event)
    raw = result.get("view")
    image_id = raw.get("image_id") if isinstance(raw, dict) else None
    return CanvasAnswer(fresh, check_view(raw), image_id if isinstance(image_id, int) else None)
