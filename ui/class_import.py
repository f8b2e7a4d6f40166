"""The Projects page's "Import classes" control: a CSV of ``file stem,class`` rows for the project's images,
or a ZIP or folder with one folder per class whose images are imported with their class; what happened is
shown as one action's messages (:func:`ui.feedback.flash_outcome`)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from core.class_import import ClassImportReport, import_class_folders, import_classes_csv
from core.db.models import Project
from core.errors import InvalidInputError, SegStudioError
from core.imaging import sanitize_filename
from core.projects import write_upload
from ui.box_import import grouped
from ui.context import PageContext
from ui.feedback import flash_outcome

TABLE_TYPES = ["csv", "tsv", "txt"]
IMAGE_TYPES = ["tif", "tiff", "png", "jpg", "jpeg", "svs", "ndpi", "scn", "bif", "btf", "qptiff"]
_ROUND = "class_upload_round"


def _stage_folder(folder: Path, uploads: Sequence[Any]) -> None:
    """Write a folder upload (names ``top/class/image.png``) into ``folder``, keeping its folders (each part
    of a name made safe)."""
    for upload in uploads:
        parts = [p for p in str(upload.name).replace("\\", "/").split("/") if p not in ("", ".", "..")]
        if not parts:
            continue
        target = folder.joinpath(*[sanitize_filename(p) for p in parts])
        target.parent.mkdir(parents=True, exist_ok=True)
        upload.seek(0)
        write_upload(upload, target, name=str(upload.name))


def import_class_uploads(ctx: PageContext, project_id: int, uploads: Sequence[Any], *,
                         replace: bool = False) -> ClassImportReport:
    """Import uploaded class folders: one ZIP, or the files of one folder (names with their folders)."""
    staged = ctx.settings.data_dir / "tmp" / "uploads" / uuid.uuid4().hex
    try:
        if len(uploads) == 1 and str(uploads[0].name).lower().endswith(".zip"):
            _stage_folder(staged, uploads)
            zip_path = staged / sanitize_filename(uploads[0].name)
            return import_class_folders(ctx.settings, ctx.engine, project_id, zip_path, replace=replace,
                                        shown=uploads[0].name)
        if any(str(u.name).lower().endswith(".zip") for u in uploads):
            raise InvalidInputError("Give one ZIP, or the files of one folder, not both.")
        _stage_folder(staged, uploads)
        return import_class_folders(ctx.settings, ctx.engine, project_id, staged, replace=replace,
                                    shown="the uploaded folder")
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def class_import_section(ctx: PageContext, project: Project) -> None:
    """The "Import classes" expander of the Projects page."""
    with st.expander("Import classes (a CSV, or a ZIP or folder with one folder per class)"):
        st.caption(
            "For classification, the project's labels are the classes. A CSV gives the project's images "
            "their classes: one row 'file stem,class' per image (a header line is optional; images are found "
            "by file stem or name, classes by label name). A ZIP or folder with one folder per class "
            "(neutrophil/a.jpg, platelet/b.jpg) imports its images with their class; folder names that are "
            "not labels yet become labels. Unknown classes, names that match no image and images listed "
            "twice are listed by name; the rest is imported. The same import twice changes nothing."
        )
        round_ = st.session_state.get(_ROUND, 0)
        replace = st.checkbox("Replace other classes", key=f"class_replace_{project.id}",
                              help="Give images that have another class already the imported one (without "
                                   "it, they keep theirs and are listed)")
        table = st.file_uploader("Class table (CSV)", type=TABLE_TYPES,
                                 key=f"class_csv_{project.id}_{round_}")
        add = st.checkbox("Add its new classes as labels", key=f"class_add_{project.id}",
                          help="Without it, rows of a class that is not a label of the project are listed, "
                               "not imported")
        folders = st.file_uploader("Class folders: a ZIP", type=["zip"],
                                   key=f"class_zip_{project.id}_{round_}")
        folder = st.file_uploader("… or a folder", type=IMAGE_TYPES, accept_multiple_files="directory",
                                  key=f"class_dir_{project.id}_{round_}")
        outcome: list[tuple[str, str]] | None = None
        if table is not None and st.button("Import the class table", key="class_csv_import"):
            try:
                report = import_classes_csv(ctx.settings, ctx.engine, project.id,  # type: ignore[arg-type]
                                            table.getvalue(), replace=replace, add_classes=add,
                                            shown=table.name)
            except SegStudioError as exc:
                outcome = [("error", str(exc))]
            else:
                outcome = grouped(report.messages())
        uploads = [folders] if folders is not None else list(folder or [])
        if uploads and st.button(f"Import the class folders ({len(uploads)} file(s))",
                                 key="class_dir_import"):
            with st.spinner("Importing the images with their classes…"):
                try:
                    report = import_class_uploads(ctx, project.id, uploads, replace=replace)  # type: ignore[arg-type]
                except SegStudioError as exc:
                    outcome = [("error", str(exc))]
                else:
                    outcome = grouped(report.messages())
        if outcome is not None:
            flash_outcome(outcome)
            st.session_state[_ROUND] = round_ + 1
            st.rerun()
