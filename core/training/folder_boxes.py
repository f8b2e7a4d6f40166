"""Images and their true boxes from a folder and box files (COCO JSON, Pascal VOC XML, YOLO txt, CSV: what
:func:`core.annotations.boxes.read_boxes` reads), for `segstudio evaluate` of a detection model.

A box's image is the folder's image of the file name the box file gives, else of the same file stem (exact
first, then ignoring case); its label is the model's label of that name (exact, then ignoring case). Boxes
partly outside their image are clipped; boxes outside it, less than 1 px wide or high, of a label the model
lacks or of an image the folder lacks are left out, each told once. An image the box files list with no box
is scored as an image without objects; an image they do not mention is skipped and named.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from core.annotations.boxes import (
    FIT_DEGENERATE,
    FIT_OUTSIDE,
    box_text,
    fit_box,
    image_stem,
    read_boxes,
)
from core.annotations.boxes.matching import NameIndex
from core.detection.targets import paint_boxes
from core.errors import SegStudioError
from core.imaging import import_image, open_image
from core.projects import IMPORTABLE_SUFFIXES
from core.training.assessment import Sample

_LISTED = 10  # names listed in one line before "… and N more"


def _file_index(files: list[Path]) -> NameIndex[Path]:
    """The folder's image files by name and by stem (exact, then ignoring case)."""
    return NameIndex(((path.name, path) for path in files), stem_of=image_stem,
                     name_of=lambda name: name.replace("\\", "/").rsplit("/", 1)[-1])


def _label_index(names: list[str], label: str) -> int | None:
    if label in names:
        return names.index(label)
    folded = [n.casefold() for n in names]
    key = label.strip().casefold()
    return folded.index(key) if folded.count(key) == 1 else None


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    return shown + (f", … and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def folder_box_samples(images_dir: Path, boxes: Path, card: dict) -> tuple[list[Sample], list[str]]:
    """One :class:`Sample` per image of ``images_dir`` the box files ``boxes`` (a file, a folder of them or
    a ZIP) speak of, with its true boxes; returns ``(samples, problems)``, one line per problem. Images pass
    through the same import rules as in the app."""
    names = [lab["name"] for lab in card["labels"]]
    if not images_dir.is_dir():
        raise SegStudioError(f"--images {images_dir} must be a folder of images.")
    files = sorted(p for p in images_dir.iterdir()
                   if p.is_file() and p.name.lower().endswith(IMPORTABLE_SUFFIXES))
    if not files:
        raise SegStudioError(f"{images_dir} holds no image files; give the folder of the images the boxes "
                             "are for.")
    reading = read_boxes(boxes, project_labels=names)
    problems = list(reading.problems)
    found = _file_index(files)
    listed: dict[Path, list] = {}
    unmatched: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    for ref in reading.empty:
        for path in found.find(ref)[:1]:
            listed.setdefault(path, [])
    for rec in reading.records:
        matches = found.find(rec.image)
        if len(matches) != 1:
            several = " (fits several images)" if matches else ""
            unmatched[f"{rec.image.file}: {rec.image.shown}{several}"] += 1
            continue
        label = _label_index(names, rec.label)
        if label is None:
            unknown[rec.label] += 1
            listed.setdefault(matches[0], [])
            continue
        listed.setdefault(matches[0], []).append((label, rec))
    if unmatched:
        named = _listed([f"{k} ({n})" for k, n in unmatched.items()])
        problems.append(f"{sum(unmatched.values())} box(es) name an image that is not (exactly once) in "
                        f"{images_dir} and were left out: {named}.")
    for label, n in unknown.items():
        known = ", ".join(map(repr, names))
        problems.append(f"label {label!r} is not a label of the model ({known}): its {n} box(es) were left "
                        "out; rename it in the box files to the model's label.")
    missing = [p.name for p in files if p not in listed]
    if missing:
        problems.append(f"{len(missing)} image(s) have no boxes in {boxes} and were skipped: "
                        f"{_listed(missing)}.")
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="segstudio-eval-") as scratch:
        for index, path in enumerate(p for p in files if p in listed):
            try:
                # a model reads the pages of a multi-page file as its channels
                stored = import_image(path, Path(scratch), f"img{index}", pages_as="channels")
                with open_image(stored.path) as reader:
                    pixels = reader.read_region(0, 0, 0, stored.height, stored.width)
            except SegStudioError as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            samples.append(_sample(path.name, pixels, listed[path], len(names), problems))
    return samples, problems


def _sample(name: str, pixels: np.ndarray, records: list, n_labels: int, problems: list[str]) -> Sample:
    """The sample of one image: its boxes fitted to it, and per label a plane with each box painted."""
    height, width = pixels.shape[-2:]
    boxes = []
    for label, rec in records:
        box = rec.in_pixels(width, height)
        what, fitted = fit_box(box, width, height)
        if what in (FIT_DEGENERATE, FIT_OUTSIDE):
            size = "less than 1 px wide or high" if what == FIT_DEGENERATE else "outside the image"
            problems.append(f"{rec.where} ({name}, {width} x {height} px): box {rec.label!r} "
                            f"{box_text(box)} is {size}; left out.")
            continue
        x0, y0, x1, y1 = fitted
        boxes.append((label, y0, x0, y1, x1))
    planes = np.stack([
        paint_boxes([(int(np.floor(b[1])), int(np.floor(b[2])), int(np.ceil(b[3])), int(np.ceil(b[4])))
                     for b in boxes if b[0] == label], (height, width))
        for label in range(n_labels)
    ])
    return Sample(name, np.asarray(pixels), planes, None, boxes)
