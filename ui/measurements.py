"""The measurements table of a predicted image: rounded for reading, units in the headers, a row picks an
object.

Only the display is rounded (Streamlit's number formats); the table's data and the CSV download keep the full
precision that :mod:`core.inference.measure` computed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

SHOWN_ROWS = 2000  # objects listed on the page; the CSV download has all of them


@dataclass(frozen=True)
class PickedObject:
    """The object of a selected row: its label (plane name), its id in that plane, its bounding box."""

    label: str
    object_id: int
    bbox: tuple[int, int, int, int]  # y0, x0, y1, x1 (y1, x1 exclusive)


def column_title(name: str) -> tuple[str, str]:
    """A measurement column's header (with its unit) and display format, from its name in the CSV."""
    if name == "label":
        return "Label", ""
    if name == "id":
        return "Object", "%d"
    unit, base = "", name
    for suffix, symbol in (("_um2", "µm²"), ("_um", "µm")):
        if name.endswith(suffix):
            unit, base = symbol, name.removesuffix(suffix)
            break
    if not unit and (name in ("perimeter", "equivalent_diameter") or name.startswith(("centroid_", "bbox_"))):
        unit = "px"
    elif not unit and name == "area":
        unit = "px²"
    words = re.sub(r"_c(\d+)$", r" channel \1", base).replace("bbox_", "box ").replace("_", " ")
    words = words[:1].upper() + words[1:]
    if unit in ("µm", "µm²"):
        fmt = "%.2f"
    elif name in ("area",) or name.startswith("bbox_"):
        fmt = "%d"
    elif name in ("eccentricity", "solidity"):
        fmt = "%.3f"
    else:
        fmt = "%.1f"
    return (f"{words} ({unit})" if unit else words), fmt


def measurements_table(csv_path: Path, *, key: str) -> PickedObject | None:
    """Show the CSV's objects (the first :data:`SHOWN_ROWS`); returns the object of the selected row, if
    any."""
    import pandas as pd

    table = pd.read_csv(csv_path, nrows=SHOWN_ROWS)
    config = {}
    for name in table.columns:
        title, fmt = column_title(str(name))
        config[name] = (st.column_config.TextColumn(title) if not fmt
                        else st.column_config.NumberColumn(title, format=fmt))
    event = st.dataframe(table, hide_index=True, height=240, column_config=config, key=key,
                         on_select="rerun", selection_mode="single-row")
    caption = "Click a row to outline its object in the picture above."
    if len(table) == SHOWN_ROWS:
        caption += f" The first {SHOWN_ROWS} objects are listed; the CSV has them all."
    st.caption(caption)
    rows = event.selection.rows if event is not None else []
    if not rows or rows[0] >= len(table):
        return None
    row = table.iloc[rows[0]]
    bbox = tuple(int(row[f"bbox_{name}"]) for name in ("y0", "x0", "y1", "x1"))
    return PickedObject(label=str(row["label"]), object_id=int(row["id"]), bbox=bbox)  # type: ignore[arg-type]
