"""Annotate's "Shapes in view": the shapes the canvas shows, listed in one element, and one editor for the
shape picked there (its label, or an ROI's class, and Delete).

One row of widgets per shape made the page slow to draw: with 29 shapes the browser drew 200 elements (a
selectbox, a button and three columns each) and the canvas appeared only after them. The canvas itself
selects, edits and deletes shapes; this list is for reading them and for changes by name."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
from sqlalchemy.engine import Engine

from core.annotations.shapes import KIND_ANNOTATION, KIND_ROI, ShapeData
from ui import annotation_session as work_store

MAX_LISTED = 60  # more than this in view: zoom in to list them


def shape_title(shape: ShapeData, names: dict[int, str]) -> str:
    """What the shape is: its label, or "ROI" (with its class where it has one)."""
    if shape.kind != KIND_ROI:
        return names.get(shape.label_id, "?")  # type: ignore[arg-type]
    return "ROI" + (f" of class {names[shape.label_id]}" if shape.label_id in names else "")


def shapes_in_view_section(engine: Engine, work: work_store.WorkingCopy, in_view: Sequence[int], names: dict[int, str],
                           image_id: int, *, uses_classes: bool) -> None:
    """The list of the shapes in view (indices ``in_view`` into the working copy) and the picked one's editor;
    a change goes into the working copy (and its draft) and reruns the page."""
    if not in_view:
        st.caption("No shapes in this view yet. Pick a tool and draw on the image.")
        return
    listed = list(in_view[:MAX_LISTED])
    st.markdown("\n".join(
        f"{number}. **{shape_title(work.shapes[index], names)}** — {work.shapes[index].geometry}, "
        f"{len(work.shapes[index].points)} points" for number, index in enumerate(listed, start=1)))
    if len(in_view) > MAX_LISTED:
        st.caption(f"… and {len(in_view) - MAX_LISTED} more in view; zoom in to list them.")
    c1, c2, c3 = st.columns([2, 3, 1], vertical_alignment="bottom")
    number = c1.selectbox("Shape", range(1, len(listed) + 1), key=f"shape_pick_{image_id}",
                          format_func=lambda n: f"{n}. {shape_title(work.shapes[listed[n - 1]], names)}",
                          help="Pick a shape of the list to change its label (or an ROI's class) or delete it; "
                               "on the canvas, click a shape to select it and press Delete.")
    index = listed[(number or 1) - 1]
    shape = work.shapes[index]
    # keys carry the shape's identity: a widget of an earlier shape never applies its value to another
    if shape.kind == KIND_ROI and uses_classes:
        options = [None, *names]
        new_class = c2.selectbox("Class", options, index=options.index(shape.label_id)
                                 if shape.label_id in options else 0,
                                 format_func=lambda i: "no class" if i is None else names[i],
                                 key=f"roi_class_{image_id}_{index}_{id(shape)}")
        if new_class != shape.label_id:
            _replace(engine, work, index, shape.with_points(shape.points, label_id=new_class))
    elif shape.kind == KIND_ANNOTATION:
        new_label = c2.selectbox("Label", list(names), index=list(names).index(shape.label_id),
                                 format_func=lambda i: names[i], key=f"relabel_{image_id}_{index}_{id(shape)}")
        if new_label != shape.label_id:
            _replace(engine, work, index, shape.with_points(shape.points, label_id=new_label))
    if c3.button("Delete", key=f"delete_shape_{image_id}_{index}_{id(shape)}", width="stretch"):
        work_store.change(engine, work, [s for i, s in enumerate(work.shapes) if i != index])
        st.rerun()


def _replace(engine: Engine, work: work_store.WorkingCopy, index: int, shape: ShapeData) -> None:
    shapes = list(work.shapes)
    shapes[index] = shape
    work_store.change(engine, work, shapes)
    st.rerun()
