"""A prediction over its image, in the same zoomable viewport as the annotate page (any image size)."""

from __future__ import annotations

import io
import math

import numpy as np
import streamlit as st
from PIL import Image as PILImage

from core.annotations.viewport import Viewport
from core.evaluation.overlay import label_overlay
from core.inference import open_labels
from ui.image_view import default_contrast, image_reader, render_view_png

VIEW_W, VIEW_H = 768, 576


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


def prediction_viewer(image_path: str, labels_path: str, *, is_rgb: bool, colors: list[str], key: str) -> None:
    reader = image_reader(image_path)
    _, height, width = reader.shape
    state_key = f"result_view_{key}"
    if state_key not in st.session_state:
        st.session_state[state_key] = Viewport.fit((height, width), VIEW_W, VIEW_H, level_shapes=reader.level_shapes)
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
    contrast = tuple(default_contrast(image_path))
    base = np.asarray(PILImage.open(io.BytesIO(render_view_png(image_path, viewport, contrast, None, is_rgb))))
    vis_w = min(VIEW_W, math.ceil((width - viewport.x0) * viewport.scale - 0.5))
    vis_h = min(VIEW_H, math.ceil((height - viewport.y0) * viewport.scale - 0.5))
    picture = base.copy()
    if vis_w > 0 and vis_h > 0:
        part = picture[:vis_h, :vis_w]
        for index, plane in enumerate(_labels_in_view(labels_path, viewport, (vis_w, vis_h))):
            color = colors[index % len(colors)] if colors else None
            part = label_overlay(part, plane, colors=None if plane.max() > 1 else [color] if color else None)
        picture[:vis_h, :vis_w] = part
    st.image(picture, caption=f"Zoom {viewport.scale:.3g}× · x {viewport.x0:.0f}–{viewport.x0 + viewport.view_w:.0f}, "
                              f"y {viewport.y0:.0f}–{viewport.y0 + viewport.view_h:.0f} of {width}×{height}")
