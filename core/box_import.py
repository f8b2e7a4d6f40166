"""Import bounding boxes from annotation files (COCO, Pascal VOC, YOLO, CSV) as ``rectangle`` annotations.

* **Reading** (:func:`core.annotations.boxes.read_boxes`): files, folders and ZIPs become neutral box records.
* **Matching**: a box's image is the project's image of the file name the box file gives (as it was sanitised
  on import), else of the same file stem (the stem of that name, or the box file's own stem for per-image
  formats); exact first, then ignoring case. A name that fits several images of the project is not guessed.
  A label is the project's label of that name (exact, then ignoring case when that is unambiguous).
* **Fitting**: a box partly outside its image is clipped (and said so); one outside it, or less than 1 px
  wide or high, is skipped (and named). A box listed twice for the same image and label is imported once.
* **Never doubled**: per image and label, as masks are (:func:`core.db.repo.import_label_shapes`): the same
  boxes again add nothing ("same"); an image with other objects of the label keeps them ("kept") unless
  ``replace`` (then they are "replaced").
* **Background**: an image a file lists with no box at all (an empty YOLO file, a COCO image without
  annotations, a VOC file without objects, a per-image CSV with only its header) that has no annotations yet
  is marked background only (no objects).

Every problem is one line naming the file (and entry) and how to fix it; the rest of the batch is kept.
"""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from core.annotations.boxes import (
    FIT_CLIPPED,
    FIT_DEGENERATE,
    FIT_OUTSIDE,
    BoxReading,
    BoxRecord,
    ImageRef,
    box_corners,
    box_text,
    fit_box,
    image_stem,
    read_boxes,
)
from core.annotations.boxes.matching import NameIndex
from core.annotations.shapes import ShapeData
from core.config import Settings
from core.db import repo, session_scope
from core.db.models import BACKGROUND, NOT_ANNOTATED, Image, LabelClass
from core.errors import InvalidInputError, SegStudioError
from core.imaging import sanitize_filename

REPLACE_HINT = (
    "to replace them with the file's boxes, import again with --replace-annotations (command line) or tick "
    "\"Replace objects of the same labels\" (Annotate page)"
)
_LISTED = 50  # names listed in one line before "… and N more"

Box = tuple[float, float, float, float]


@dataclass
class BoxImportOutcome:
    """What importing boxes did. ``boxes`` were written into ``images`` images (``by_label``: boxes per
    label); ``already``: boxes that were there already (nothing written). The lists hold one message each."""

    boxes: int = 0
    images: int = 0
    by_label: Counter[str] = field(default_factory=Counter)
    already: int = 0
    same: list[str] = field(default_factory=list)  # images whose boxes are there already
    replaced: list[str] = field(default_factory=list)  # images whose objects of a label were replaced
    kept: list[str] = field(default_factory=list)  # not imported: the image has other objects of the label
    clipped: list[str] = field(default_factory=list)  # boxes partly outside their image, clipped
    background: list[str] = field(default_factory=list)  # images marked background only
    notes: list[str] = field(default_factory=list)  # how the files were understood
    errors: list[str] = field(default_factory=list)  # what was not imported, and why

    @property
    def stored(self) -> bool:
        """Whether the project has the files' boxes now (written now or there already) or marked an image."""
        return self.boxes > 0 or self.already > 0 or bool(self.background)

    def summary(self) -> str:
        if self.boxes:
            labels = ", ".join(f"{name} {n:,}" for name, n in self.by_label.most_common())
            return f"Imported {self.boxes:,} box(es) into {self.images:,} image(s): {labels}."
        if self.already:
            return f"All {self.already:,} box(es) are in the project already; nothing was added."
        return "No box was imported."

    def messages(self) -> list[tuple[str, str]]:
        """``(kind, message)`` pairs, kind one of success, info, warning, error (see ui.feedback)."""
        head = "success" if self.boxes else ("info" if self.stored else "error")
        out = [(head, self.summary())]
        if self.background:
            out.append(("info", f"Marked {len(self.background)} image(s) background only (no objects), as "
                                f"the files list them with no box: {listed_names(self.background)}."))
        out += [("info", m) for m in (*self.notes, *self.same, *self.replaced)]
        out += [("warning", m) for m in (*self.kept, *self.clipped)]
        out += [("error", m) for m in self.errors]
        return out


def listed_names(items: Sequence[str], limit: int = _LISTED) -> str:
    """``a, b, c``: the first ``limit`` items, then how many more."""
    shown = ", ".join(items[:limit])
    return shown + (f", … and {len(items) - limit} more" if len(items) > limit else "")


def _stem_of(name: str) -> str:
    stem = image_stem(name)
    return stem if stem != name else Path(name).stem


def image_index(images: Iterable[Image]) -> NameIndex[Image]:
    """The project's images by file name and by stem (exact and ignoring case)."""
    return NameIndex(((image.name, image) for image in images), name_of=_clean, stem_of=_stem_of)


def _clean(name: str) -> str:
    if not name:
        return ""
    try:
        return sanitize_filename(name)
    except InvalidInputError:
        return name


class LabelIndex:
    """The project's labels by name: exact, then ignoring case when that is unambiguous."""

    def __init__(self, labels: Sequence[LabelClass]) -> None:
        self.exact = {lab.name: lab for lab in labels}
        folded = Counter(lab.name.casefold() for lab in labels)
        self.folded = {lab.name.casefold(): lab for lab in labels if folded[lab.name.casefold()] == 1}

    def find(self, name: str) -> LabelClass | None:
        return self.exact.get(name) or self.folded.get(name.strip().casefold())


@dataclass
class _Plan:
    """The boxes to store by (image id, label id), and what the checks found."""

    boxes: dict[tuple[int, int], list[Box]] = field(default_factory=lambda: defaultdict(list))
    with_boxes: set[int] = field(default_factory=set)  # images the files give boxes for (even skipped ones)
    # box file -> image (as the file names it) -> boxes that match no image of the project
    unmatched: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # label name -> box file -> boxes of a label the project does not have
    unknown: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    twice: list[str] = field(default_factory=list)


def _paths(path_or_paths: Path | str | Sequence[Path | str]) -> list[Path]:
    if isinstance(path_or_paths, (str, Path)):
        return [Path(path_or_paths)]
    return [Path(p) for p in path_or_paths]


def import_boxes(
    settings: Settings,
    engine: Engine,
    project_id: int,
    path_or_paths: Path | str | Sequence[Path | str],
    *,
    replace: bool = False,
) -> BoxImportOutcome:
    """Import the boxes of box files, folders of them or ZIPs of them into a project's images as rectangle
    annotations (``source="import"``); see the module's docstring. Never raises for a bad file or entry: it
    is an error line of the outcome, and the rest is imported."""
    with session_scope(engine) as session:
        project = repo.get_project(session, project_id)
        labels = repo.list_labels(session, project_id)
        images = repo.list_images(session, project_id)
    outcome = BoxImportOutcome()
    reading = BoxReading()
    for path in _paths(path_or_paths):
        try:
            reading.extend(read_boxes(path, project_labels=[lab.name for lab in labels],
                                      tmp_dir=settings.data_dir / "tmp"))
        except SegStudioError as exc:
            outcome.errors.append(str(exc))
    outcome.notes += reading.notes
    outcome.errors += reading.problems
    plan = _plan(reading.records, image_index(images), LabelIndex(labels), outcome)
    _report_unmatched(plan, project.name, outcome)
    _report_unknown(plan, project.name, labels, outcome)
    if plan.twice:
        outcome.notes.append(f"{len(plan.twice)} box(es) listed twice for the same image and label were "
                             f"imported once: {listed_names(plan.twice, 5)}.")
    _store(engine, plan, {im.id: im for im in images}, {lab.id: lab for lab in labels}, outcome,  # type: ignore[misc]
           replace=replace)
    _mark_background(engine, reading.empty, image_index(images), plan.with_boxes, outcome)
    return outcome


def _plan(
    records: Sequence[BoxRecord], images: NameIndex[Image], labels: LabelIndex, outcome: BoxImportOutcome
) -> _Plan:
    plan = _Plan()
    seen: set[tuple[int, int, Box]] = set()
    sizes_reported: set[tuple[str, int]] = set()
    ambiguous: dict[tuple[str, str], list[Image]] = {}
    for rec in records:
        found = images.find(rec.image)
        if not found:
            plan.unmatched[rec.image.file][rec.image.shown] += 1
            continue
        if len(found) > 1:
            ambiguous[(rec.image.file, rec.image.shown)] = found
            continue
        image = found[0]
        plan.with_boxes.add(image.id)  # type: ignore[arg-type]
        if rec.image.size is not None and rec.image.size != (image.width, image.height):
            if (rec.image.file, image.id) not in sizes_reported:  # type: ignore[comparison-overlap]
                sizes_reported.add((rec.image.file, image.id))  # type: ignore[arg-type]
                w, h = rec.image.size
                outcome.errors.append(
                    f"{rec.image.file}: says {rec.image.shown} is {w}×{h} px, but the project's {image.name} "
                    f"is {image.width}×{image.height} px; its boxes were skipped, as they would land in the "
                    "wrong place. Check that the file belongs to this image (or scale its boxes to the "
                    "image's size).")
            continue
        label = labels.find(rec.label)
        if label is None:
            plan.unknown[rec.label][rec.image.file] += 1
            continue
        _fit(rec, image, label, plan, seen, outcome)
    for (file, shown), found in ambiguous.items():
        outcome.errors.append(
            f"{file}: image {shown!r} fits {len(found)} images of the project "
            f"({', '.join(im.name for im in found)}); its boxes were skipped. Name the image with its file "
            "extension in the file, or rename one of the images.")
    return plan


def _fit(rec: BoxRecord, image: Image, label: LabelClass, plan: _Plan, seen: set,
         outcome: BoxImportOutcome) -> None:
    box = rec.in_pixels(image.width, image.height)
    what, fitted = fit_box(box, image.width, image.height)
    where = f"{rec.where} ({image.name}, {image.width}×{image.height} px): box {rec.label!r} {box_text(box)}"
    if what == FIT_DEGENERATE:
        outcome.errors.append(f"{where} is {box[2] - box[0]:g}×{box[3] - box[1]:g} px, less than 1 px wide "
                              "or high; skipped. Check the order of its coordinates (minimum before "
                              "maximum).")
        return
    if what == FIT_OUTSIDE:
        outcome.errors.append(f"{where} lies outside the image; skipped. Check that the file belongs to this "
                              "image and gives pixels of it.")
        return
    if what == FIT_CLIPPED:
        outcome.clipped.append(f"{where} reaches outside the image; clipped to {box_text(fitted)}.")  # type: ignore[arg-type]
    key = (image.id, label.id, tuple(round(v, 6) for v in fitted))
    if key in seen:
        plan.twice.append(rec.where)
        return
    seen.add(key)  # type: ignore[arg-type]
    plan.boxes[(image.id, label.id)].append(fitted)  # type: ignore[index, arg-type]


def _report_unmatched(plan: _Plan, project: str, outcome: BoxImportOutcome) -> None:
    """One line for the files of one image each (YOLO, VOC, per-image CSV), one per file of several images."""
    single = [(file, *next(iter(c.items()))) for file, c in plan.unmatched.items() if len(c) == 1]
    fix = "Import the image(s) first, or name them in the files as they are named in the project."
    if len(single) == 1:
        file, shown, n = single[0]
        outcome.errors.append(f"{file}: image {shown!r} matches no image of project {project!r} (by file "
                              f"name or stem); its {n} box(es) were skipped. {fix}")
    elif single:
        listed = listed_names([f"{file} ({n})" for file, _, n in single])
        outcome.errors.append(f"{len(single)} box files match no image of project {project!r} (by file name "
                              f"or stem), so their {sum(n for *_, n in single)} box(es) were skipped: "
                              f"{listed}. {fix}")
    for file, counts in plan.unmatched.items():
        if len(counts) > 1:
            listed = listed_names([f"{shown} ({n})" for shown, n in counts.most_common()])
            outcome.errors.append(
                f"{file}: {len(counts)} images with boxes match no image of project {project!r} (by file "
                f"name or stem), so their {sum(counts.values())} box(es) were skipped: {listed}. {fix}")


def _report_unknown(plan: _Plan, project: str, labels: Sequence[LabelClass],
                    outcome: BoxImportOutcome) -> None:
    known = ", ".join(repr(lab.name) for lab in labels)
    for label, files in plan.unknown.items():
        listed = listed_names([f"{file} ({n})" for file, n in files.most_common()], 5)
        fix = (f"rename it in the file to one of the project's labels ({known})" if labels
               else "the project has no labels yet")
        outcome.errors.append(
            f"label {label!r} is not a label of project {project!r}: its {sum(files.values())} box(es) in "
            f"{listed} were skipped. Add the label {label!r} to the project (Projects page, or `segstudio "
            f"labels add {shlex.quote(project)} {shlex.quote(label)}`), or {fix}.")


def _store(engine: Engine, plan: _Plan, images: dict[int, Image], labels: dict[int, LabelClass],
           outcome: BoxImportOutcome, *, replace: bool) -> None:
    done: dict[str, dict[int, list[str]]] = {what: defaultdict(list) for what in
                                             (repo.IMPORT_SAME, repo.IMPORT_KEPT, repo.IMPORT_REPLACED)}
    written: set[int] = set()
    for (image_id, label_id), boxes in sorted(plan.boxes.items()):
        image, label = images[image_id], labels[label_id]
        records = [ShapeData("annotation", "rectangle", box_corners(box), label_id=label_id,
                             source="import").to_record() for box in boxes]
        try:
            with session_scope(engine) as session:
                what, existing = repo.import_label_shapes(session, image_id, label_id, records,
                                                          replace=replace)
        except SegStudioError as exc:
            outcome.errors.append(f"{image.name}: its {len(boxes)} box(es) of label {label.name!r} were not "
                                  f"imported: {exc}")
            continue
        if what in (repo.IMPORT_ADDED, repo.IMPORT_REPLACED):
            outcome.boxes += len(boxes)
            outcome.by_label[label.name] += len(boxes)
            written.add(image_id)
        if what == repo.IMPORT_SAME:
            outcome.already += len(boxes)
            done[what][image_id].append(f"{len(boxes)} {label.name}")
        elif what in done:
            done[what][image_id].append(f"{label.name}: {existing} there, {len(boxes)} in the file")
    outcome.images = len(written)

    def listed(what: str) -> tuple[int, str]:
        parts = [f"{images[i].name} ({'; '.join(p)})" for i, p in done[what].items()]
        return len(parts), listed_names(parts)

    if done[repo.IMPORT_SAME]:
        n, names = listed(repo.IMPORT_SAME)
        outcome.same.append(f"The boxes of {n} image(s) are in the project already; nothing was added: "
                            f"{names}.")
    if done[repo.IMPORT_REPLACED]:
        n, names = listed(repo.IMPORT_REPLACED)
        outcome.replaced.append(f"Replaced the objects of the same labels on {n} image(s) by the file's "
                                f"boxes: {names}.")
    if done[repo.IMPORT_KEPT]:
        n, names = listed(repo.IMPORT_KEPT)
        outcome.kept.append(f"Not imported, so nothing is doubled: {n} image(s) have other objects of the "
                            f"same labels already: {names}; {REPLACE_HINT}.")


def _mark_background(engine: Engine, empty: Sequence[ImageRef], images: NameIndex[Image], with_boxes: set[int],
                     outcome: BoxImportOutcome) -> None:
    marked: dict[int, str] = {}
    for ref in empty:
        found = images.find(ref)
        if len(found) != 1 or found[0].id in with_boxes or found[0].id in marked:
            continue
        image = found[0]
        with session_scope(engine) as session:
            if repo.get_image(session, image.id).status != NOT_ANNOTATED:  # type: ignore[arg-type]
                continue
            try:
                repo.set_image_status(session, image.id, BACKGROUND)  # type: ignore[arg-type]
            except InvalidInputError:  # annotated meanwhile: it is not background
                continue
        marked[image.id] = image.name  # type: ignore[index]
    outcome.background = list(marked.values())
