"""The measurements table of a predicted image: rounded for reading, units in the headers, a row picks an
object and an object clicked in the picture selects its row.

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


@st.cache_data(show_spinner=False, max_entries=32)
def _listed(csv_path: str, modified_ns: int, size: int):
    """The first :data:`SHOWN_ROWS` rows of the CSV (cached per file version: its time of change and size)."""
    import pandas as pd

    return pd.read_csv(csv_path, nrows=SHOWN_ROWS)


def _read(csv_path: Path):
    stat = Path(csv_path).stat()
    return _listed(str(csv_path), stat.st_mtime_ns, stat.st_size)


def _unlisted_key(key: str) -> str:
    return f"{key}_unlisted"


def select_object(csv_path: Path, hit: tuple[str, int] | None, *, key: str) -> None:
    """Select the row of object ``hit`` (label, object id) in the table ``key`` of :func:`measurements_table`,
    or clear its selection (``hit`` None: a click on background). Call it before the table is drawn (from a
    click's callback)."""
    rows: list[int] = []
    st.session_state.pop(_unlisted_key(key), None)
    if hit is not None:
        table = _read(csv_path)
        found = table.index[(table["label"].astype(str) == hit[0]) & (table["id"] == hit[1])]
        rows = [int(found[0])] if len(found) else []
        if not rows:
            st.session_state[_unlisted_key(key)] = hit
    st.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}


def measurements_table(csv_path: Path, *, key: str) -> PickedObject | None:
    """Show the CSV's objects (the first :data:`SHOWN_ROWS`); returns the object of the selected row, if
    any."""
    table = _read(csv_path)
    config = {}
    for name in table.columns:
        title, fmt = column_title(str(name))
        config[name] = (st.column_config.TextColumn(title) if not fmt
                        else st.column_config.NumberColumn(title, format=fmt))
    event = st.dataframe(table, hide_index=True, height=240, column_config=config, key=key,
                         on_select="rerun", selection_mode="single-row")
    rows = event.selection.rows if event is not None else []
    picked = None
    if rows and rows[0] < len(table):
        row = table.iloc[rows[0]]
        bbox = tuple(int(row[f"bbox_{name}"]) for name in ("y0", "x0", "y1", "x1"))
        picked = PickedObject(label=str(row["label"]), object_id=int(row["id"]), bbox=bbox)  # type: ignore[arg-type]
    caption = ("Click a row to outline its object in the picture above, or an object in the picture to "
               "select its row.")
    if picked is not None:
        where = f"row {rows[0] + 1} of {len(table)}"
        caption = f"Selected: object {picked.object_id} ({picked.label}), {where}. {caption}"
    if picked is not None:
        st.session_state.pop(_unlisted_key(key), None)  # a row chosen since
    elif (unlisted := st.session_state.get(_unlisted_key(key))) is not None:
        caption = (f"Object {unlisted[1]} ({unlisted[0]}) is not among the {SHOWN_ROWS} objects listed; "
                   "the CSV has it. " + caption)
    if len(table) == SHOWN_ROWS:
        caption += f" The first {SHOWN_ROWS} objects are listed; the CSV has them all."
    st.caption(caption)
    return picked
