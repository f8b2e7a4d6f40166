"""The Annotate page's "Import boxes" control: uploaded COCO JSON, Pascal VOC XML, YOLO txt (with its classes
file) or CSV files, or ZIPs of them, imported into the project's images as rectangles; what happened is shown
as one action's messages (:func:`ui.feedback.flash_outcome`)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from core.annotations.boxes.yolo import is_class_file
from core.box_import import BoxImportOutcome, import_boxes
from core.db.models import Project
from core.errors import SegStudioError
from core.imaging import sanitize_filename
from core.projects import write_upload
from ui import annotation_session as work_store
from ui.context import PageContext
from ui.feedback import flash_outcome

UPLOAD_TYPES = ["json", "xml", "txt", "csv", "names", "yaml", "yml", "zip"]
SHOWN_LINES = 30  # lines of one kind shown in one message box; the command line lists them all
_ROUND = "box_upload_round"


def _stage(folder: Path, uploads: Sequence[Any]) -> list[Path]:
    """Write the uploads into ``folder`` (class-name files beside the label files); returns the box files and
    ZIPs to import, each on its own (a folder of several formats would be refused)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for upload in uploads:
        target = folder / sanitize_filename(upload.name)
        upload.seek(0)
        write_upload(upload, target, name=str(upload.name))
        if not is_class_file(target) and target not in paths:
            paths.append(target)
    return paths


def import_box_uploads(ctx: PageContext, project_id: int, uploads: Sequence[Any], *,
                       replace: bool = False) -> BoxImportOutcome:
    """Import uploaded box files (file-like objects with a ``name``) into the project's images."""
    folder = ctx.settings.data_dir / "tmp" / "uploads" / uuid.uuid4().hex
    try:
        paths = _stage(folder, uploads)
        if not paths:
            raise SegStudioError("Only class-name files were uploaded; add the box files (YOLO .txt, COCO "
                                 ".json, VOC .xml, .csv) or a ZIP of them.")
        return import_boxes(ctx.settings, ctx.engine, project_id, paths, replace=replace)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def grouped(messages: Sequence[tuple[str, str]], *, limit: int = SHOWN_LINES) -> list[tuple[str, str]]:
    """One message box per kind: several messages of a kind become one bulleted list (at most ``limit``
    lines, then how many more), so a large batch shows a few boxes rather than hundreds."""
    by_kind: dict[str, list[str]] = {}
    for kind, text in messages:
        by_kind.setdefault(kind, []).append(text)
    out = []
    for kind in ("success", "info", "warning", "error"):
        lines = by_kind.get(kind, [])
        if len(lines) == 1:
            out.append((kind, lines[0]))
        elif lines:
            more = len(lines) - limit
            text = "\n".join(f"- {line}" for line in lines[:limit])
            if more > 0:
                text += (f"\n- … and {more} more (`segstudio import PROJECT --boxes FILE` on the command "
                         "line lists them all)")
            out.append((kind, text))
    return out


def box_import_section(ctx: PageContext, project: Project, image_ids: Sequence[int],
                       unsaved: Sequence[str]) -> None:
    """The "Import boxes" expander; ``unsaved``: names of images with unsaved changes (import waits for
    them, since it writes the annotations of many images)."""
    with st.expander("Import boxes (COCO, Pascal VOC, YOLO, CSV)"):
        st.caption(
            "Bounding boxes for the project's images, stored as rectangles of their labels: a COCO .json, "
            "Pascal VOC .xml files, YOLO .txt files with their classes.txt, obj.names or data.yaml, or .csv "
            "files with the header label,x_min,y_min,x_max,y_max (one per image, named like it, or one with "
            "an image column), or a ZIP of them. Boxes find their image by file name or stem and their label "
            "by name. The same boxes twice add nothing; an image with other objects of a label keeps them "
            "unless you tick Replace."
        )
        round_ = st.session_state.get(_ROUND, 0)
        uploads = st.file_uploader("Box files", type=UPLOAD_TYPES, accept_multiple_files=True,
                                   key=f"box_upload_{project.id}_{round_}")
        replace = st.checkbox("Replace objects of the same labels", key=f"box_replace_{project.id}",
                              help="Replace an image's objects of a label by the file's boxes of that "
                                   "label (without it, such images keep their objects and are listed)")
        blocked = (f"Save or discard the unsaved changes first ({', '.join(unsaved)})" if unsaved else None)
        if uploads and st.button(f"Import boxes from {len(uploads)} file(s)", key="box_import",
                                 disabled=bool(unsaved), help=blocked):
            try:
                outcome = import_box_uploads(ctx, project.id, uploads, replace=replace)  # type: ignore[arg-type]
            except SegStudioError as exc:
                flash_outcome([("error", str(exc))])
            else:
                flash_outcome(grouped(outcome.messages()))
            for image_id in image_ids:  # no copy has changes (see above): reopen them from the database
                work_store.forget(image_id)
            st.session_state[_ROUND] = round_ + 1
            st.rerun()
