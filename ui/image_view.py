"""Showing stored images: cached readers, per-channel contrast controls, and the rendered canvas view."""

from __future__ import annotations

import io

import streamlit as st

from core.annotations.view import render_view
from core.annotations.viewport import Viewport
from core.db.models import Image
from core.imaging import DEFAULT_CHANNEL_COLORS, ImageReader, auto_contrast, open_image


@st.cache_resource(show_spinner=False, max_entries=32)
def image_reader(path: str) -> ImageReader:
    return open_image(path)


@st.cache_data(show_spinner=False, max_entries=256)
def default_contrast(path: str) -> list[tuple[float, float]]:
    """Automatic per-channel percentiles, from the coarsest pyramid level (a few megapixels at most)."""
    reader = image_reader(path)
    coarsest = len(reader.level_shapes) - 1
    h, w = reader.level_shapes[coarsest]
    side = 2048  # a central crop of the coarsest level is plenty for percentiles
    y, x = max((h - side) // 2, 0), max((w - side) // 2, 0)
    return auto_contrast(reader.read_region(coarsest, y, x, min(side, h), min(side, w)))


@st.cache_data(show_spinner=False, max_entries=64)
def render_view_png(
    path: str,
    viewport: Viewport,
    contrast: tuple[tuple[float, float], ...],
    visible: tuple[bool, ...] | None,
    is_rgb: bool,
) -> bytes:
    picture = render_view(image_reader(path), viewport, contrast=list(contrast), is_rgb=is_rgb,
                          visible=list(visible) if visible is not None else None)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def channel_controls(reader: ImageReader, image: Image, *, key: str) -> tuple[tuple[tuple[float, float], ...], tuple[bool, ...] | None]:
    """Contrast sliders per channel (automatic percentiles by default) and channel visibility.

    RGB 8-bit images are shown as they are and get no controls.
    """
    auto = default_contrast(str(reader.path))
    if image.is_rgb:
        return tuple(auto), None
    limit = 255.0 if image.dtype == "uint8" else 65535.0
    contrast: list[tuple[float, float]] = []
    visible: list[bool] = []
    with st.expander("Display (contrast and channels)", expanded=False):
        if st.button("Automatic contrast", key=f"{key}_auto"):
            for c in range(image.channels):
                st.session_state.pop(f"{key}_range_{c}", None)
            st.rerun()
        for c in range(image.channels):
            colour = DEFAULT_CHANNEL_COLORS[c % len(DEFAULT_CHANNEL_COLORS)] if image.channels > 1 else "gray"
            lo, hi = auto[c]
            if image.channels > 1:
                visible.append(st.checkbox(f"Channel {c + 1} ({colour})", True, key=f"{key}_visible_{c}"))
            value = st.slider(
                f"Channel {c + 1} display range", 0.0, limit, (float(lo), float(max(hi, lo + 1))),
                key=f"{key}_range_{c}",
            )
            contrast.append((float(value[0]), float(value[1])))
    return tuple(contrast), (tuple(visible) if image.channels > 1 else None)
