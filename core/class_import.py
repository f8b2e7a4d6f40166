"""Import image classes into a project: from a CSV of ``file stem,class`` rows, or from a ZIP or folder with
one folder per class.

* **CSV** (:func:`import_classes_csv`, read by :mod:`core.annotations.class_rows`): each row names one of the
  project's images, by file stem or file name (as it was sanitised on import; exact first, then ignoring
  case, as boxes find theirs: :func:`core.box_import.image_index`), and one of its labels (exact, then
  ignoring case). Unknown classes, names that match no image (or several), images listed with different
  classes and bad rows are reported by name; the rest is kept. ``add_classes`` makes unknown classes labels.
* **Class folders** (:func:`import_class_folders`): each image's class is the name of the folder holding it
  (``neutrophil/a.jpg``, also inside one top folder: ``cells/neutrophil/a.jpg``). Images are imported through
  the project's image import (:func:`core.projects.import_files`); one that is in the project already (the
  same content) is given its class. Folder names that are not labels yet become labels, and the report says
  so. Files that are not images, images outside a class folder and the same image in two class folders are
  named and left out; a corrupt image is named with what was wrong.
* **Never doubled, never overwritten unasked**: an image that has its class already is left as it is (so an
  import is idempotent); one that has another class keeps it, and is listed, unless ``replace``.
"""

from __future__ import annotations

import shlex
import tempfile
import zipfile
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from core.annotations.boxes import ImageRef, image_stem
from core.annotations.class_rows import ClassRow, read_class_table
from core.archive import discard_folder, safe_parts, unpack_zip
from core.box_import import LabelIndex, image_index, listed_names
from core.config import Settings
from core.db import repo, session_scope
from core.db.models import Image, LabelClass
from core.errors import InvalidInputError, SegStudioError
from core.imaging import file_sha256
from core.projects import IMPORTABLE_SUFFIXES, ProgressFn, import_files

REPLACE_HINT = ("to give them the new class, import again with --replace-annotations (command line) or tick "
                "\"Replace other classes\" (Projects page)")
_FOLDERS = "a ZIP or a folder with one folder per class (e.g. neutrophil/a.jpg, platelet/b.jpg)"


@dataclass
class ClassImportReport:
    """What importing classes did. ``classified`` images were given their class now (``by_class``: how many
    per class), ``already`` had it (nothing written), ``imported`` images entered the project (class
    folders); ``new_labels``: classes added as labels. The lists hold one sentence each."""

    classified: int = 0
    already: int = 0
    imported: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    new_labels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the input was read, what else happened
    warnings: list[str] = field(default_factory=list)  # kept as it was, left out on purpose
    errors: list[str] = field(default_factory=list)  # what was not imported, and why

    @property
    def stored(self) -> bool:
        """Whether the project has any of the input's classes now (set now or there already)."""
        return self.classified > 0 or self.already > 0

    def summary(self) -> str:
        imported = f"Imported {self.imported:,} image(s). " if self.imported else ""
        if self.classified:
            classes = ", ".join(f"{name} {n:,}" for name, n in self.by_class.most_common())
            already = f" ({self.already:,} had their class already)" if self.already else ""
            return f"{imported}Set the class of {self.classified:,} image(s){already}: {classes}."
        if self.already:
            return f"{imported}All {self.already:,} image(s) have their class already; nothing was changed."
        return f"{imported}No class was set."

    def messages(self) -> list[tuple[str, str]]:
        """``(kind, message)`` pairs, kind one of success, info, warning, error (see ui.feedback)."""
        head = "success" if self.classified or self.imported else ("info" if self.stored else "error")
        out = [(head, self.summary())]
        if self.new_labels:
            out.append(("info", f"Added {len(self.new_labels)} new class(es) as labels of the project: "
                                f"{listed_names(self.new_labels)}."))
        out += [("info", m) for m in self.notes]
        out += [("warning", m) for m in self.warnings]
        out += [("error", m) for m in self.errors]
        return out


# --- CSV ----------------------------------------------------------------------------------------------
def import_classes_csv(settings: Settings, engine: Engine, project_id: int,
                       csv_bytes_or_path: bytes | str | Path, *, replace: bool = False,
                       add_classes: bool = False, shown: str | None = None) -> ClassImportReport:
    """Give the project's images the classes of a ``file stem,class`` CSV (its bytes, or its path); see the
    module's notes. A file that cannot be read as such a table raises InvalidInputError; a bad row is an error
    line of the report, and the rest is imported. (``settings``: as every import takes it; the classes live in
    the database only.)"""
    with session_scope(engine) as session:
        project = repo.get_project(session, project_id)
        labels = repo.list_labels(session, project_id)
        images = repo.list_images(session, project_id)
    index, names = image_index(images), LabelIndex(labels)
    shown = shown or (Path(csv_bytes_or_path).name if isinstance(csv_bytes_or_path, (str, Path)) else None)

    def is_data(name: str, label: str) -> bool:
        return bool(index.find(_ref(name))) or names.find(label) is not None

    table = read_class_table(csv_bytes_or_path, shown=shown, is_data=is_data)
    report = ClassImportReport(notes=list(table.notes), errors=list(table.problems))
    rows_of: dict[int, list[ClassRow]] = defaultdict(list)
    unmatched: list[ClassRow] = []
    for row in table.rows:
        found = index.find(_ref(row.name))
        if not found:
            unmatched.append(row)
        elif len(found) > 1:
            report.errors.append(
                f"{row.name!r} (line {row.line}) fits {len(found)} images of the project "
                f"({', '.join(im.name for im in found)}); skipped. Write the image's file name with its "
                "extension, or rename one of the images.")
        else:
            rows_of[found[0].id].append(row)  # type: ignore[index]
    if unmatched:
        listed = listed_names([f"{r.name} (line {r.line})" for r in unmatched])
        report.errors.append(
            f"{len(unmatched)} row(s) name no image of project {project.name!r} (by file name or stem), so "
            f"they were skipped: {listed}. Import the images first, or write their names as they are in the "
            "project.")
    by_id = {im.id: im for im in images}
    chosen: dict[int, tuple[str, list[ClassRow]]] = {}
    twice = []
    for image_id, rows in rows_of.items():
        classes = {}
        for row in rows:
            found_label = names.find(row.label)
            classes.setdefault(found_label.name if found_label else row.label.casefold(), []).append(row)
        if len(classes) > 1:
            told = "; ".join(f"{rs[0].label} on line(s) {', '.join(str(r.line) for r in rs)}"
                             for rs in classes.values())
            report.errors.append(f"{by_id[image_id].name} is listed with different classes ({told}), so it "
                                 "was not given a class; keep one row per image.")
            continue
        if len(rows) > 1:
            twice.append(f"{by_id[image_id].name} (lines {', '.join(str(r.line) for r in rows)})")
        chosen[image_id] = (rows[0].label, rows)
    if twice:
        report.notes.append(f"{len(twice)} image(s) are listed more than once with the same class; each was "
                            f"counted once: {listed_names(twice)}.")
    label_of = _resolve_classes(engine, project.name, project_id,  # type: ignore[arg-type]
                                {label for label, _ in chosen.values()}, names, report, add=add_classes,
                                rows={image_id: rows for image_id, (_, rows) in chosen.items()})
    wanted = {image_id: label_of[label] for image_id, (label, _) in chosen.items() if label in label_of}
    _apply(engine, project_id, wanted, by_id, report, replace=replace)  # type: ignore[arg-type]
    return report


def _ref(name: str) -> ImageRef:
    return ImageRef(file="", name=name, stem=image_stem(name))


def _resolve_classes(engine: Engine, project: str, project_id: int, wanted: set[str], names: LabelIndex,
                     report: ClassImportReport, *, add: bool,
                     rows: Mapping[int, Sequence[ClassRow]] | None = None,
                     files: Mapping[str, Sequence[str]] | None = None) -> dict[str, LabelClass]:
    """Class name (as given) -> the project's label; unknown ones are added (``add``) or reported with the
    rows (CSV) or files (class folders) that named them."""
    out: dict[str, LabelClass] = {}
    unknown: list[str] = []
    for name in sorted(wanted):
        label = names.find(name)
        if label is not None:
            out[name] = label
        elif add:
            try:
                with session_scope(engine) as session:
                    label = repo.add_label(session, project_id, name)
            except SegStudioError as exc:
                report.errors.append(f"Class {name!r} could not be added as a label ({exc}); its images were "
                                     "not given a class.")
                continue
            names.exact[label.name] = label
            names.folded[label.name.casefold()] = label
            report.new_labels.append(label.name)
            out[name] = label
        else:
            unknown.append(name)
    if not unknown:
        return out
    with session_scope(engine) as session:
        known = ", ".join(repr(lab.name) for lab in repo.list_labels(session, project_id))
    for name in unknown:
        where = [f"{r.name} (line {r.line})" for rs in (rows or {}).values() for r in rs if r.label == name]
        where += list((files or {}).get(name, ()))
        fix = (f"rename it to one of the project's labels ({known})" if known
               else "the project has no labels yet")
        report.errors.append(
            f"Class {name!r} is not a label of project {project!r}: its {len(where)} image(s) were not given "
            f"a class: {listed_names(where, 10)}. Add the label {name!r} (Projects page, `segstudio labels "
            f"add {shlex.quote(project)} {shlex.quote(name)}`, or import with --add-classes), or {fix}.")
    return out


def _apply(engine: Engine, project_id: int, wanted: Mapping[int, LabelClass], images: Mapping[int, Image],
           report: ClassImportReport, *, replace: bool) -> None:
    """Give the images their classes in one transaction: those with the class already are counted, those with
    another keep it (listed) unless ``replace``."""
    if not wanted:
        return
    with session_scope(engine) as session:
        current = repo.image_classes(session, project_id)
        label_names = {lab.id: lab.name for lab in repo.list_labels(session, project_id)}
    to_set: dict[int, int | None] = {}
    kept, replaced = [], []
    for image_id, label in sorted(wanted.items()):
        now = current.get(image_id)
        if now == label.id:
            report.already += 1
            continue
        if now is not None:
            told = f"{images[image_id].name} ({label_names.get(now, now)}, the import says {label.name})"
            if not replace:
                kept.append(told)
                continue
            replaced.append(told)
        to_set[image_id] = label.id
    if to_set:
        try:
            with session_scope(engine) as session:
                repo.set_image_classes(session, project_id, to_set)
        except SegStudioError as exc:
            report.errors.append(f"The classes of {len(to_set)} image(s) were not set: {exc}")
            return
        report.classified += len(to_set)
        report.by_class.update(wanted[image_id].name for image_id in to_set)
    if kept:
        report.warnings.append(f"Kept the class of {len(kept)} image(s) that have another class already: "
                               f"{listed_names(kept)}; {REPLACE_HINT}.")
    if replaced:
        report.notes.append(f"Replaced the class of {len(replaced)} image(s): {listed_names(replaced)}.")


# --- class folders ----------------------------------------------------------------------------------------
def _is_image(name: str) -> bool:
    return name.lower().endswith(IMPORTABLE_SUFFIXES)


def import_class_folders(settings: Settings, engine: Engine, project_id: int, zip_or_dir: str | Path, *,
                         replace: bool = False, pages_as: str | None = None, shown: str | None = None,
                         on_progress: ProgressFn | None = None) -> ClassImportReport:
    """Import the images of a ZIP or folder with one folder per class into the project, each with its class
    (see the module's notes). A ZIP that cannot be read, or a path that is neither, raises InvalidInputError;
    a bad file is an error line of the report, and the rest is imported."""
    path = Path(zip_or_dir)
    shown = shown or path.name
    with session_scope(engine) as session:
        repo.get_project(session, project_id)
    if path.is_dir():
        files, others = _folder_files(path)
        return _import_folders(settings, engine, project_id, path, files, others, shown, replace=replace,
                               pages_as=pages_as, on_progress=on_progress)
    if not path.is_file():
        raise InvalidInputError(f"{shown}: no such file or folder; give {_FOLDERS}.")
    if not zipfile.is_zipfile(path):
        raise InvalidInputError(f"{shown}: not a ZIP; give {_FOLDERS}.")
    tmp = settings.data_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="classes-", dir=tmp))
    try:
        unpacked = unpack_zip(path, folder, wanted=_is_image, shown=shown, what="images",
                              max_bytes=64 * 1024**3)
        return _import_folders(settings, engine, project_id, folder, unpacked.files, unpacked.left_out, shown,
                               replace=replace, pages_as=pages_as, on_progress=on_progress)
    finally:
        discard_folder(folder)


def _folder_files(root: Path) -> tuple[list[str], list[str]]:
    """The image files under ``root`` and its other files (paths relative to it, ``/``-separated; hidden
    files and folders left out)."""
    images, others = [], []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        parts = safe_parts(file.relative_to(root).as_posix())
        if parts is None:
            continue
        (images if _is_image(parts[-1]) else others).append("/".join(parts))
    return images, others


def _import_folders(settings: Settings, engine: Engine, project_id: int, root: Path, files: Sequence[str],
                    others: Sequence[str], shown: str, *, replace: bool, pages_as: str | None,
                    on_progress: ProgressFn | None) -> ClassImportReport:
    report = ClassImportReport()
    if others:
        report.warnings.append(f"{len(others)} file(s) in {shown} are not images (TIFF, PNG, JPEG or a "
                               f"whole-slide format) and were left out: {listed_names(list(others))}.")
    loose = [f for f in files if "/" not in f]
    if loose:
        report.errors.append(f"{len(loose)} image(s) in {shown} are not in a class folder, so they were not "
                             f"imported: {listed_names(loose)}. Put each image into the folder of its class "
                             "(e.g. neutrophil/a.jpg).")
    by_hash: dict[str, list[tuple[str, str]]] = defaultdict(list)  # content -> [(file, class)]
    for file in files:
        if "/" in file:
            try:
                by_hash[file_sha256(root / file)].append((file, file.split("/")[-2]))
            except OSError as exc:
                report.errors.append(f"{file}: could not be read ({exc}); it was not imported.")
    if not by_hash:
        if not files:
            report.errors.append(f"{shown} holds no images; give {_FOLDERS}.")
        return report
    chosen: dict[str, tuple[str, str]] = {}  # content -> (file, class)
    twice = []
    for content, entries in by_hash.items():
        classes = sorted({cls for _, cls in entries})
        if len(classes) > 1:
            report.errors.append(
                f"{' and '.join(f for f, _ in entries)} are the same image in {len(classes)} class folders "
                f"({', '.join(classes)}), so it was left out; keep it in the folder of its one class.")
            continue
        if len(entries) > 1:
            twice.append(" = ".join(f for f, _ in entries))
        chosen[content] = entries[0]
    if twice:
        report.notes.append(f"{len(twice)} image(s) are in their class folder more than once (the same "
                            f"content); each was imported once: {listed_names(twice)}.")
    image_of = _images_of(settings, engine, project_id, root, chosen, report, pages_as=pages_as,
                          on_progress=on_progress)
    with session_scope(engine) as session:
        project = repo.get_project(session, project_id)
        names = LabelIndex(repo.list_labels(session, project_id))
    files_of: dict[str, list[str]] = defaultdict(list)
    for content in image_of:
        files_of[chosen[content][1]].append(chosen[content][0])
    label_of = _resolve_classes(engine, project.name, project_id, set(files_of), names, report, add=True,
                                files=files_of)
    wanted = {image.id: label_of[chosen[content][1]] for content, image in image_of.items()
              if chosen[content][1] in label_of}
    _apply(engine, project_id, wanted, {im.id: im for im in image_of.values()}, report,  # type: ignore[misc]
           replace=replace)
    return report


def _images_of(settings: Settings, engine: Engine, project_id: int, root: Path,
               chosen: Mapping[str, tuple[str, str]], report: ClassImportReport, *, pages_as: str | None,
               on_progress: ProgressFn | None) -> dict[str, Image]:
    """content hash -> the project's image of that content: found, or imported now (import problems are error
    lines of the report)."""
    out: dict[str, Image] = {}
    with session_scope(engine) as session:
        for content in chosen:
            found = repo.find_image_by_hash(session, project_id, content)
            if found is not None:
                out[content] = found
    there = [f"{chosen[c][0]} (as {im.name})" for c, im in out.items()]
    if there:
        report.notes.append(f"{len(there)} image(s) are in the project already and were not imported again: "
                            f"{listed_names(there)}.")
    new = [(chosen[c][0], root / chosen[c][0]) for c in chosen if c not in out]
    if not new:
        return out
    result = import_files(settings, engine, project_id, new, on_progress=on_progress, pages_as=pages_as)
    report.imported += len(result.imported)
    for image in result.imported:
        out[image.content_hash] = image
        report.notes += [f"{image.name}: {note}" for note in image.notes or []]
    report.errors += result.errors + list(result.pages_unknown.values())
    report.warnings += result.duplicates
    return out
