"""The Apply page's result of a detection model for one image: its boxes over the image (a zoomable view of
any image size, each box in its label's colour), the counts per label, the boxes table (a row picked there is
outlined in the view) and the downloads (boxes CSV, COCO JSON, GeoJSON for QuPath, the overlay, the ZIP)."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image as PILImage

from core.annotations.viewport import Viewport
from core.inference.box_export import draw_boxes, label_colors
from ui.downloads import file_download
from ui.image_view import default_contrast, image_reader, render_view_png

VIEW_W, VIEW_H = 768, 576
HIGHLIGHT = (255, 255, 0)  # the outline of the box picked in the table
MAX_DRAWN = 5000  # boxes drawn in one view (the highest-scoring): a whole-slide overview stays quick
SHOWN_ROWS = 2000  # boxes listed on the page; the CSV has them all
_MOVES = {
    "zoom_in": (":material/zoom_in:", lambda v, fit: v.zoomed(2.0)),
    "zoom_out": (":material/zoom_out:", lambda v, fit: v.zoomed(0.5)),
    "fit": (":material/fit_screen:", lambda v, fit: fit()),
    "left": (":material/arrow_back:", lambda v, fit: v.panned(-v.view_w / 2, 0)),
    "up": (":material/arrow_upward:", lambda v, fit: v.panned(0, -v.view_h / 2)),
    "down": (":material/arrow_downward:", lambda v, fit: v.panned(0, v.view_h / 2)),
    "right": (":material/arrow_forward:", lambda v, fit: v.panned(v.view_w / 2, 0)),
}
_PIXEL_COLUMNS = ("x_min", "y_min", "x_max", "y_max", "centre_x", "centre_y")


@st.cache_data(show_spinner=False, max_entries=32)
def read_boxes(csv_path: str, modified: float) -> Any:
    """The boxes CSV as a DataFrame (``modified``: the file's time, so that a new file is read again)."""
    import pandas as pd

    return pd.read_csv(csv_path, keep_default_na=False, dtype={"label": str})


def box_result(data_dir: Path, item: dict, *, names: list[str], colors: list[str] | None,
               image_path: str | None, is_rgb: bool, key: str) -> None:
    """Everything of one image's boxes (``item``: its stored result, paths relative to ``data_dir``);
    ``names`` and ``colors``: the model's labels in order and their ``'#rrggbb'`` colours."""
    csv_path = data_dir / item["boxes"]
    if not csv_path.exists():
        st.warning(f"The boxes of {item.get('name', 'this image')} are no longer on disk; "
                   "apply the model again.")
        return
    table = read_boxes(str(csv_path), csv_path.stat().st_mtime)
    known = colors is not None and len(colors) == len(names) and all(isinstance(c, str) for c in colors)
    palette = label_colors(len(names), colors if known else None)
    view_slot = st.container()  # the picture above the tables; a row picked in the table is outlined in it
    counts_table(table, names)
    picked = boxes_table(table, key=f"boxes_table_{key}")
    if image_path is not None:
        with view_slot:
            box_viewer(image_path, table, names=names, palette=palette, is_rgb=is_rgb, key=key, picked=picked)
    downloads(data_dir, item, key=key)


def counts_table(table: Any, names: list[str]) -> None:
    """Boxes per label (every label, 0 where none) with their mean and lowest score."""
    import pandas as pd

    rows = []
    for name in names:
        scores = table.loc[table["label"] == name, "score"]
        rows.append({"Label": name, "Boxes": len(scores),
                     "Mean score": float(scores.mean()) if len(scores) else None,
                     "Lowest score": float(scores.min()) if len(scores) else None})
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config={
        "Mean score": st.column_config.NumberColumn(format="%.3f"),
        "Lowest score": st.column_config.NumberColumn(format="%.3f"),
    })


def column_title(name: str) -> tuple[str, str]:
    """A boxes column's header (with its unit) and display format, from its name in the CSV."""
    if name == "label":
        return "Label", ""
    if name == "score":
        return "Score", "%.3f"
    unit, base = ("µm", name.removesuffix("_um")) if name.endswith("_um") else ("px", name)
    return f"{base.replace('_', ' ').capitalize()} ({unit})", "%.2f" if unit == "µm" else "%.1f"


def boxes_table(table: Any, *, key: str) -> int | None:
    """The boxes (the first :data:`SHOWN_ROWS`); returns the row picked, if any."""
    shown = table.head(SHOWN_ROWS)
    config = {}
    for name in shown.columns:
        title, fmt = column_title(str(name))
        config[name] = (st.column_config.TextColumn(title) if not fmt
                        else st.column_config.NumberColumn(title, format=fmt))
    event = st.dataframe(shown, hide_index=True, height=240, column_config=config, key=key,
                         on_select="rerun", selection_mode="single-row")
    caption = "Click a row to outline its box in the picture above."
    if len(table) > SHOWN_ROWS:
        caption += f" The first {SHOWN_ROWS} of {len(table)} boxes are listed; the CSV has them all."
    st.caption(caption)
    rows = event.selection.rows if event is not None else []
    return int(rows[0]) if rows and rows[0] < len(shown) else None


def box_viewer(
    image_path: str, table: Any, *, names: list[str], palette: np.ndarray, is_rgb: bool, key: str,
    picked: int | None = None,
) -> None:
    """The image with its boxes, zoomable and movable; the ``picked`` row's box is outlined in
    :data:`HIGHLIGHT` (and the view moves to it when it was picked just now and lies outside the view)."""
    reader = image_reader(image_path)
    _, height, width = reader.shape
    state_key = f"box_view_{key}"

    def fit() -> Viewport:
        return Viewport.fit((height, width), VIEW_W, VIEW_H, level_shapes=reader.level_shapes)

    if state_key not in st.session_state:
        st.session_state[state_key] = fit()
    if picked is not None and st.session_state.get(f"{state_key}_picked") != picked:
        view: Viewport = st.session_state[state_key]
        x0, y0, x1, y1 = (float(table.iloc[picked][c]) for c in ("x_min", "y_min", "x_max", "y_max"))
        if x0 < view.x0 or y0 < view.y0 or x1 > view.x0 + view.view_w or y1 > view.y0 + view.view_h:
            st.session_state[state_key] = view.centered_on((x0 + x1) / 2, (y0 + y1) / 2)
    st.session_state[f"{state_key}_picked"] = picked
    viewport: Viewport = st.session_state[state_key]
    for col, (name, (icon, move)) in zip(st.columns(len(_MOVES)), _MOVES.items(), strict=True):
        if col.button("", icon=icon, key=f"{state_key}_{name}", help=name.replace("_", " ")):
            st.session_state[state_key] = move(viewport, fit)
            st.rerun()
    picture, drawn, inside = view_picture(image_path, table, viewport, names=names, palette=palette,
                                          is_rgb=is_rgb, picked=picked)
    note = f"{inside} box(es) in view" + (f", the {drawn} highest-scoring drawn" if drawn < inside else "")
    if picked is not None:
        note += f" · box {picked + 1} ({table.iloc[picked]['label']}) outlined in yellow"
    x1, y1 = viewport.x0 + viewport.view_w, viewport.y0 + viewport.view_h
    where = f"x {viewport.x0:.0f}–{x1:.0f}, y {viewport.y0:.0f}–{y1:.0f} of {width}×{height}"  # noqa: RUF001
    st.image(picture, caption=f"{note} · Zoom {viewport.scale:.3g}× · {where}")  # noqa: RUF001


def view_picture(
    image_path: str, table: Any, viewport: Viewport, *, names: list[str], palette: np.ndarray, is_rgb: bool,
    picked: int | None = None,
) -> tuple[np.ndarray, int, int]:
    """The ``(VIEW_H, VIEW_W, 3)`` picture of the view with the boxes in it drawn; also how many boxes were
    drawn and how many lie in the view."""
    _, height, width = image_reader(image_path).shape
    contrast = tuple(default_contrast(image_path))
    png = render_view_png(image_path, viewport, contrast, None, is_rgb)
    base = np.asarray(PILImage.open(io.BytesIO(png)))
    picture = base.copy()
    vis_w = min(VIEW_W, math.ceil((width - viewport.x0) * viewport.scale - 0.5))
    vis_h = min(VIEW_H, math.ceil((height - viewport.y0) * viewport.scale - 0.5))
    if vis_w <= 0 or vis_h <= 0 or table.empty:
        return picture, 0, 0
    boxes = table[["x_min", "y_min", "x_max", "y_max"]].to_numpy(dtype=np.float64)
    x1, y1 = viewport.x0 + vis_w / viewport.scale, viewport.y0 + vis_h / viewport.scale
    inside = np.flatnonzero((boxes[:, 2] > viewport.x0) & (boxes[:, 0] < x1)
                            & (boxes[:, 3] > viewport.y0) & (boxes[:, 1] < y1))
    order = inside[np.argsort(-table["score"].to_numpy()[inside], kind="stable")][:MAX_DRAWN]
    index = {name: i for i, name in enumerate(names)}
    labels = np.array([index.get(str(n), 0) for n in table["label"].to_numpy()[order]], dtype=np.int64)
    part = picture[:vis_h, :vis_w]
    part = draw_boxes(np.ascontiguousarray(part), _to_view(boxes[order], viewport),
                      palette[labels].reshape(-1, 3), width=2)
    if picked is not None:
        part = draw_boxes(part, _to_view(boxes[picked : picked + 1], viewport), HIGHLIGHT, width=3)
    picture[:vis_h, :vis_w] = part
    return picture, len(order), len(inside)


def _to_view(boxes: np.ndarray, viewport: Viewport) -> np.ndarray:
    """Image-pixel boxes -> canvas pixels of ``viewport``."""
    out = boxes.copy()
    out[:, 0::2] = (out[:, 0::2] - viewport.x0) * viewport.scale
    out[:, 1::2] = (out[:, 1::2] - viewport.y0) * viewport.scale
    return out


def downloads(data_dir: Path, item: dict, *, key: str) -> None:
    files = [("Boxes (CSV)", "boxes", "text/csv"), ("COCO JSON", "coco", "application/json"),
             ("Boxes (GeoJSON, QuPath)", "geojson", "application/geo+json"),
             ("Overlay (PNG)", "overlay", "image/png"), ("All of it (ZIP)", "zip", "application/zip")]
    present = [(title, data_dir / item[name], mime, name) for title, name, mime in files
               if item.get(name) and (data_dir / item[name]).exists()]
    for col, (title, path, mime, name) in zip(st.columns(max(len(present), 1)), present, strict=False):
        file_download(col, title, path, mime=mime, key=f"download_{name}_{key}")
