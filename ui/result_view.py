"""A prediction over its image, in the same zoomable viewport as the annotate page (any image size); a click
on an object of the picture picks it (Apply then selects its row in the measurements table)."""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import streamlit as st
from PIL import Image as PILImage

from core.annotations.viewport import Viewport
from core.evaluation.overlay import label_overlay
from core.inference import open_labels
from ui.image_view import default_contrast, image_reader, render_view_png
from ui.measurements import PickedObject
from ui.picture_click import clickable_picture

VIEW_W, VIEW_H = 768, 576
HIGHLIGHT = (255, 255, 0)  # the outline of the object picked in the measurements table
ObjectHit = tuple[str, int]  # an object of a prediction: its label (plane name) and its id in that plane


def _labels_in_view(labels_path: str, viewport: Viewport, size: tuple[int, int]) -> list[np.ndarray]:
    """Each label plane of the view, sampled at the canvas pixel centres (nearest), shape (vis_h, vis_w)."""
    vis_w, vis_h = size
    xs = np.floor(viewport.x0 + (np.arange(vis_w) + 0.5) / viewport.scale).astype(np.int64)
    ys = np.floor(viewport.y0 + (np.arange(vis_h) + 0.5) / viewport.scale).astype(np.int64)
    with open_labels(labels_path) as labels:
        _, height, width = labels.shape
        xs, ys = np.clip(xs, 0, width - 1), np.clip(ys, 0, height - 1)
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        step = max(1, math.floor(1 / viewport.scale))  # zoomed out: read every step-th pixel only
        planes = []
        for plane in range(labels.shape[0]):
            block = labels.read(plane, y0, x0, y1 - y0, x1 - x0, step=step)
            planes.append(block[np.minimum((ys - y0) // step, block.shape[0] - 1)][:, np.minimum((xs - x0) // step, block.shape[1] - 1)])
    return planes


def _visible_size(viewport: Viewport, width: int, height: int) -> tuple[int, int]:
    """``(vis_w, vis_h)``: the canvas pixels of the view that show image (``width`` by ``height`` pixels)."""
    vis_w = min(VIEW_W, math.ceil((width - viewport.x0) * viewport.scale - 0.5))
    vis_h = min(VIEW_H, math.ceil((height - viewport.y0) * viewport.scale - 0.5))
    return vis_w, vis_h


def object_at(labels_path: str, viewport: Viewport, x: float, y: float) -> ObjectHit | None:
    """The object under point ``(x, y)`` of the view's picture (canvas pixels from its top-left corner), as
    ``(label, object id)``; None on background or outside the image. Where objects of several labels overlap,
    the first label's."""
    col = math.floor(viewport.x0 + (math.floor(x) + 0.5) / viewport.scale)  # as _labels_in_view samples
    row = math.floor(viewport.y0 + (math.floor(y) + 0.5) / viewport.scale)
    with open_labels(labels_path) as labels:
        _, height, width = labels.shape
        if not (0 <= x and 0 <= y and 0 <= col < width and 0 <= row < height):
            return None
        for plane, name in enumerate(labels.names):
            value = int(labels.read(plane, row, col, 1, 1)[0, 0])
            if value:
                return str(name), value
    return None


def _outline(mask: np.ndarray) -> np.ndarray:
    """The border of ``mask`` (pixels of the mask next to one outside it), grown to 2 pixels wide."""
    from scipy import ndimage as ndi

    border = mask & ~ndi.binary_erosion(mask, border_value=0)
    return ndi.binary_dilation(border)


def prediction_viewer(image_path: str, labels_path: str, *, is_rgb: bool, colors: list[str], key: str,
                      picked: PickedObject | None = None,
                      on_pick: Callable[[ObjectHit | None], None] | None = None) -> None:
    """The prediction over its image; ``picked`` (a row of the measurements table) is outlined, and the view
    moves to it when it was picked just now and lies outside the view. A click on the picture calls
    ``on_pick`` with the object under it (None on background) before the page's next run."""
    reader = image_reader(image_path)
    _, height, width = reader.shape
    state_key = f"result_view_{key}"
    if state_key not in st.session_state:
        st.session_state[state_key] = Viewport.fit((height, width), VIEW_W, VIEW_H, level_shapes=reader.level_shapes)
    if picked is not None and st.session_state.get(f"{state_key}_picked") != picked:
        view: Viewport = st.session_state[state_key]
        y0, x0, y1, x1 = picked.bbox
        if x0 < view.x0 or y0 < view.y0 or x1 > view.x0 + view.view_w or y1 > view.y0 + view.view_h:
            st.session_state[state_key] = view.centered_on((x0 + x1) / 2, (y0 + y1) / 2)
    st.session_state[f"{state_key}_picked"] = picked
    viewport: Viewport = st.session_state[state_key]
    cols = st.columns(7)
    moves = {
        "zoom_in": lambda v: v.zoomed(2.0), "zoom_out": lambda v: v.zoomed(0.5),
        "fit": lambda v: Viewport.fit((height, width), VIEW_W, VIEW_H, level_shapes=reader.level_shapes),
        "left": lambda v: v.panned(-v.view_w / 2, 0), "up": lambda v: v.panned(0, -v.view_h / 2),
        "down": lambda v: v.panned(0, v.view_h / 2), "right": lambda v: v.panned(v.view_w / 2, 0),
    }
    icons = {"zoom_in": ":material/zoom_in:", "zoom_out": ":material/zoom_out:", "fit": ":material/fit_screen:",
             "left": ":material/arrow_back:", "up": ":material/arrow_upward:", "down": ":material/arrow_downward:",
             "right": ":material/arrow_forward:"}
    for col, (name, move) in zip(cols, moves.items(), strict=True):
        if col.button("", icon=icons[name], key=f"{state_key}_{name}", help=name.replace("_", " ")):
            st.session_state[state_key] = move(viewport)
            st.rerun()
    picture = view_picture(image_path, labels_path, viewport, is_rgb=is_rgb, colors=colors, picked=picked)
    vis_w, vis_h = _visible_size(viewport, width, height)
    if vis_w > 0 and vis_h > 0:
        picture = picture[:vis_h, :vis_w]  # no dark strip beside an image smaller than the view
    buffer = io.BytesIO()
    PILImage.fromarray(picture).save(buffer, format="PNG", compress_level=1)

    def clicked(x: float, y: float) -> None:  # the view the picture clicked on showed (this run's)
        if on_pick is not None:
            on_pick(object_at(labels_path, viewport, x, y))

    note = f"Object {picked.object_id} ({picked.label}) outlined in yellow · " if picked is not None else ""
    x1, y1 = viewport.x0 + viewport.view_w, viewport.y0 + viewport.view_h
    caption = (f"{note}Zoom {viewport.scale:.3g}× · x {viewport.x0:.0f}–{x1:.0f}, "
               f"y {viewport.y0:.0f}–{y1:.0f} of {width}×{height}")
    clickable_picture(buffer.getvalue(), key=f"{state_key}_picture", on_click=clicked, alt=caption,
                      marks={"x0": viewport.x0, "y0": viewport.y0, "scale": viewport.scale})
    hint = " · Click an object to select its row in the table." if on_pick is not None else ""
    st.caption(caption + hint)


def view_picture(image_path: str, labels_path: str, viewport: Viewport, *, is_rgb: bool, colors: list[str],
                 picked: PickedObject | None = None) -> np.ndarray:
    """The ``(VIEW_H, VIEW_W, 3)`` picture of the view: the image, the labels over it, the picked object's
    outline in :data:`HIGHLIGHT`."""
    _, height, width = image_reader(image_path).shape
    contrast = tuple(default_contrast(image_path))
    base = np.asarray(PILImage.open(io.BytesIO(render_view_png(image_path, viewport, contrast, None, is_rgb))))
    vis_w, vis_h = _visible_size(viewport, width, height)
    picture = base.copy()
    if vis_w > 0 and vis_h > 0:
        part = picture[:vis_h, :vis_w]
        planes = _labels_in_view(labels_path, viewport, (vis_w, vis_h))
        for index, plane in enumerate(planes):
            color = colors[index % len(colors)] if colors else None
            part = label_overlay(part, plane, colors=None if plane.max() > 1 else [color] if color else None)
        if picked is not None:
            with open_labels(labels_path) as labels:
                names = list(labels.names)
            if picked.label in names:
                part = part.copy()
                part[_outline(planes[names.index(picked.label)] == picked.object_id)] = HIGHLIGHT
        picture[:vis_h, :vis_w] = part
    return picture

