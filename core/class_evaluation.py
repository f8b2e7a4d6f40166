"""Score a classification model on images whose classes are known (``segstudio evaluate`` of a classifier).

The known classes come from a project (its images that have a class and its ROIs that carry one, as a
training reads them; when it is the model's own project, the images the model was trained on are left out,
their ROIs with them, and the note says how many) or from a CSV of
``file stem,class`` rows (a header row is optional; read as the class import reads it,
:func:`core.annotations.class_rows.read_class_table`) for a folder of images. An image is matched by its file
name, else by its stem (exact first, then ignoring case); a class by the model's class name (exact, then
ignoring case). Rows that cannot be used (malformed, a class the model does not know, no such image, the
same image twice with different classes) are reported by name and the rest is scored; folder images the CSV
does not list are skipped and named in a note. Scores: :func:`core.evaluation.classification.
classification_metrics` (accuracy, balanced accuracy, macro-F1, top-2 accuracy, per class, confusion).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Engine

from core.annotations.boxes import image_stem
from core.annotations.boxes.matching import NameIndex
from core.annotations.boxes.records import ImageRef
from core.annotations.class_rows import ClassRow, read_class_table
from core.config import Settings
from core.db import repo, session_scope
from core.errors import InvalidInputError, NotFoundError, SegStudioError
from core.imaging import import_image, open_image
from core.inference.classes import read_whole

_LISTED = 10  # names listed in one sentence before "... and N more"


@dataclass(frozen=True)
class KnownClass:
    """One image with a known class: ``name`` as shown, ``read()`` its whole pixels ``(C, H, W)``,
    ``label`` the index of its class among the model's classes."""

    name: str
    read: Callable[[], np.ndarray]
    label: int


def class_index(class_names: Sequence[str], name: str) -> int | None:
    """The position of class ``name`` among ``class_names`` (exact, then ignoring case and spaces at the
    ends when that is unambiguous), else None."""
    if name in class_names:
        return list(class_names).index(name)
    folded = [str(n).strip().casefold() for n in class_names]
    key = name.strip().casefold()
    return folded.index(key) if folded.count(key) == 1 else None


def folder_class_examples(
    images_dir: Path, classes_csv: Path, class_names: Sequence[str], scratch: Path
) -> tuple[list[KnownClass], list[str], list[str]]:
    """The images of ``images_dir`` with their class from ``classes_csv``; returns ``(examples, problems,
    notes)``. Each image is converted as the app imports it (into ``scratch``) when it is read."""
    from core.projects import expand_paths

    images_dir, classes_csv = Path(images_dir), Path(classes_csv)
    if not images_dir.is_dir():
        raise NotFoundError(f"--images {images_dir} is not a folder; give the folder of the images to score")
    if not classes_csv.is_file():
        raise NotFoundError(f"--classes {classes_csv} is not a file; give a CSV of 'file stem,class' rows")
    files = expand_paths([images_dir])
    index = NameIndex(((p.name, p) for p in files), stem_of=image_stem,
                      name_of=lambda name: name.replace("\\", "/").rsplit("/", 1)[-1])

    def is_data(name: str, cls: str) -> bool:  # a first row naming an image or a class is no header
        return bool(index.find(_ref(classes_csv, name))) or class_index(class_names, cls) is not None

    table = read_class_table(classes_csv, shown=classes_csv.name, is_data=is_data)
    problems = list(table.problems)
    rows = _one_class_each(table.rows, problems)
    examples: list[KnownClass] = []
    unknown: dict[str, list[str]] = {}
    missing, ambiguous, used = [], [], set()
    for ref, cls in rows:
        label = class_index(class_names, cls)
        if label is None:
            unknown.setdefault(cls, []).append(ref)
            continue
        found = index.find(_ref(classes_csv, ref))
        if not found:
            missing.append(ref)
        elif len(found) > 1:
            ambiguous.append(ref)
        elif found[0] not in used:
            used.add(found[0])
            read = _imported_reader(found[0], scratch, len(examples))
            examples.append(KnownClass(found[0].name, read, label))
    for cls, refs in unknown.items():
        problems.append(f"the class {cls!r} is not one of the model's ({', '.join(class_names)}); "
                        f"{len(refs)} image(s) left out: {_listed(refs)}")
    if missing:
        problems.append(f"{len(missing)} row(s) name no image of {images_dir}: {_listed(missing)}")
    if ambiguous:
        problems.append(f"{len(ambiguous)} row(s) match several images of {images_dir} (give the file name "
                        f"with its extension): {_listed(ambiguous)}")
    unlisted = [p.name for p in files if p not in used]
    notes = list(table.notes)
    if unlisted:
        notes.append(f"{len(unlisted)} image(s) of {images_dir} have no class in {classes_csv.name} and were "
                     f"skipped: {_listed(unlisted)}")
    return examples, problems, notes


def _one_class_each(rows: Sequence[ClassRow], problems: list[str]) -> list[tuple[str, str]]:
    """``(file stem or name, class)`` of the table's rows, each image once: an image listed with different
    classes is left out (and named in ``problems``); the same row twice counts once."""
    by_ref: dict[str, set[str]] = {}
    for row in rows:
        by_ref.setdefault(row.name, set()).add(row.label)
    clashing = [ref for ref, found in by_ref.items() if len(found) > 1]
    if clashing:
        problems.append(f"{len(clashing)} image(s) are listed with different classes and were left out: "
                        f"{_listed(clashing)}")
    return [(ref, next(iter(found))) for ref, found in by_ref.items() if len(found) == 1]


def _ref(table: Path, name: str) -> ImageRef:
    return ImageRef(file=table.name, name=name, stem=image_stem(name))


def project_class_examples(
    settings: Settings, engine: Engine, project_id: int, class_names: Sequence[str], *,
    leave_out: Iterable[int] = (),
) -> tuple[list[KnownClass], list[str], list[str]]:
    """The examples of a project with a known class, as a training reads them
    (:func:`core.training.class_data.image_examples`): each image that has a class, and the crop of each ROI
    that carries one; but the images in ``leave_out`` (e.g. those the model was trained on), ROIs included.
    Returns ``(examples, problems, notes)``."""
    from core.training.class_data import image_examples

    left_out = set(leave_out)
    with session_scope(engine) as session:
        project = repo.get_project(session, project_id)
        classes = repo.image_classes(session, project_id)
        labels = {lab.id: lab.name for lab in repo.list_labels(session, project_id)}
        every = {im.id: im for im in repo.list_images(session, project_id)}
        rois = repo.roi_classes(session, list(every))
    images = {i: im for i, im in every.items() if i in classes or i in rois}
    index = {lab_id: k for lab_id, name in labels.items() if (k := class_index(class_names, name)) is not None}
    examples: list[KnownClass] = []
    unknown: dict[str, list[str]] = {}
    skipped = 0
    for image_id, image in images.items():
        if image_id in left_out:
            skipped += 1
            continue
        marked = [classes.get(image_id), *(lab for lab, _ in rois.get(image_id, []))]
        for lab in dict.fromkeys(m for m in marked if m is not None and m not in index):
            unknown.setdefault(labels.get(lab, "?"), []).append(image.name)
        examples += [KnownClass(ex.key, ex.read, ex.label)
                     for ex in image_examples(settings, image, classes.get(image_id), rois.get(image_id, []), index)]
    problems = [f"the class {cls!r} is not one of the model's ({', '.join(class_names)}); {len(names)} "
                f"image(s) with it left out: {_listed(names)}" for cls, names in unknown.items()]
    notes = [f"left out {skipped} image(s) of {project.name!r} that the model was trained on (their ROIs "
             "too)"] * bool(skipped)
    if not images:
        problems.append(f"no image of {project.name!r} has a class yet (nor an ROI with one); give images or "
                        "ROIs their class first")
    return examples, problems, notes


def evaluate_classes(
    classifier: Any, examples: Sequence[KnownClass], *, on_image: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Classify every example with ``classifier`` (:class:`core.classification.predict.Classifier`) and
    score the predictions; returns ``(record, problems)``: the record has ``images``, ``classes``,
    ``overall`` (accuracy, balanced_accuracy, macro_f1, top2_accuracy), ``per_class``, ``confusion``,
    ``confusion_normalised`` and ``per_image`` (image, true, predicted, probability, correct, tiles); an
    image that cannot be read is a problem, the others are scored."""
    from core.evaluation.classification import classification_metrics

    names = list(classifier.class_names)
    truth, probabilities, per_image, problems = [], [], [], []
    for i, example in enumerate(examples):
        try:
            prediction = classifier.probabilities(example.read())
        except SegStudioError as exc:
            problems.append(f"{example.name}: {exc}")
            continue
        finally:
            if on_image is not None:
                on_image(i + 1, len(examples))
        probs = np.asarray(prediction.probabilities, dtype=np.float64)
        truth.append(example.label)
        probabilities.append(probs)
        label = int(prediction.label)
        per_image.append({"image": example.name, "true": names[example.label], "predicted": names[label],
                          "probability": float(probs[label]), "correct": label == example.label,
                          "tiles": int(prediction.tiles)})
    if not truth:
        raise InvalidInputError("No image with a known class could be scored; "
                                + (" ".join(problems) if problems else "give images with their classes."))
    metrics = classification_metrics(truth, np.stack(probabilities), names)
    overall = {key: metrics[key] for key in ("accuracy", "balanced_accuracy", "macro_f1", "top2_accuracy")}
    record = {"images": len(truth), "classes": names, "overall": overall, "per_class": metrics["per_class"],
              "confusion": metrics["confusion"], "confusion_normalised": metrics["confusion_normalised"],
              "per_image": per_image}
    return record, problems


def confusion_lines(record: dict[str, Any]) -> list[str]:
    """The confusion matrix as aligned text lines (rows: true class, columns: predicted class)."""
    names = [str(n) for n in record["classes"]]
    width = max(7, *(len(n) for n in names)) + 2
    lines = ["true \\ predicted".ljust(width) + "".join(n.rjust(width) for n in names)]
    for name, row in zip(names, record["confusion"], strict=True):
        lines.append(name.ljust(width) + "".join(str(v).rjust(width) for v in row))
    return lines


def per_class_lines(record: dict[str, Any]) -> list[str]:
    """The per-class table as aligned text lines (precision, recall, F1, support); a value that is undefined
    (the precision of a class never predicted, the recall of a class without images) shows as "-"."""
    width = max(7, *(len(str(r["class"])) for r in record["per_class"])) + 2
    lines = ["class".ljust(width) + "precision   recall       F1  support"]
    for r in record["per_class"]:
        scores = "".join(_score_cell(r[key]) for key in ("precision", "recall", "f1"))
        lines.append(f"{str(r['class']).ljust(width)}{scores}{r['support']:9d}")
    return lines


def _score_cell(value: float | None) -> str:
    return "-".rjust(9) if value is None else f"{value:9.3f}"


def _imported_reader(path: Path, scratch: Path, index: int) -> Callable[[], np.ndarray]:
    def read() -> np.ndarray:
        folder = Path(tempfile.mkdtemp(prefix=f"img{index}-", dir=scratch))
        stored = import_image(path, folder, f"in{index}", pages_as="channels")
        return _read_stored(stored.path)

    return read


def _read_stored(path: Path) -> np.ndarray:
    with open_image(path) as reader:
        return read_whole(reader)


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f", ... and {len(items) - _LISTED} more" if len(items) > _LISTED else "")
