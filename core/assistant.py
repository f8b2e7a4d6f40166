"""The scribble assistant as a service: strokes in the database -> a random forest -> proposals -> annotations.

The arrays-in/arrays-out parts (features, forest, proposals, tiled prediction) live in :mod:`core.assist`;
this module adds the database and the files: which strokes train the forest, a proposal for the annotate page's
view, merging an accepted proposal into an image's shapes, and queueing a pre-annotation run.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from core.annotations.shapes import KIND_ANNOTATION, ShapeData
from core.assist import (
    FeatureSpec,
    Proposal,
    ScribbleForest,
    Stroke,
    channel_scale,
    clean_classes,
    predict_region,
    stroke_regions,
)
from core.config import Settings
from core.db import repo, session_scope
from core.db.models import ANNOTATED, NOT_ANNOTATED, QUEUED, Preannotation, Scribble
from core.errors import InvalidInputError, StorageError
from core.imaging import ImageReader
from core.projects import image_path

#: the largest view (full-resolution pixels) the assistant predicts interactively; zoom in for more
MAX_VIEW_PIXELS = 1536 * 1536  # about 3.5 s for a proposal on 2 cores
MODES = ("instance", "semantic")

#: (features (h, w, F), stroke map (h, w)) of one stroked tile of an image
Region = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class StrokedImage:
    """An image of the project with assistant strokes: its id, stored file and strokes (oldest first)."""

    image_id: int
    path: Path
    scribbles: list[Scribble]


def stroked_images(settings: Settings, engine: Engine, project_id: int, *, channels: int) -> list[StrokedImage]:
    """The project's images with ``channels`` channels that have strokes (the assistant learns from one kind
    of image)."""
    with session_scope(engine) as session:
        out = []
        for image_id in repo.scribbled_images(session, project_id):
            image = repo.get_image(session, image_id)
            if image.channels == channels:
                out.append(StrokedImage(image_id, image_path(settings, image),
                                        repo.list_scribbles(session, image_id)))
    return out


def project_strokes(scribbles: Sequence[Scribble], label_ids: Sequence[int]) -> list[Stroke]:
    """Database strokes as :class:`Stroke` with class indices for a forest over ``label_ids`` (the project's
    labels, so that indices stay the same whichever labels have strokes); strokes of other labels are left out."""
    index = {lab: k + 1 for k, lab in enumerate(label_ids)}
    out = []
    for s in scribbles:
        k = 0 if s.label_id is None else index.get(s.label_id)
        if k is not None:
            out.append(Stroke(np.asarray(s.points, dtype=float), float(s.width), k))
    return out


def image_regions(reader: ImageReader, strokes: Sequence[Stroke], spec: FeatureSpec = FeatureSpec()) -> list[Region]:
    """Features and stroke maps of the tiles of one image that hold strokes (the image's own intensity scale)."""
    return stroke_regions(reader, strokes, channel_scale(reader), spec)


def has_both_kinds(scribbles: Sequence[Scribble]) -> bool:
    """A forest needs strokes on the background and on at least one label."""
    kinds = {s.label_id is None for s in scribbles}
    return kinds == {True, False}


def fit_forest(regions: Sequence[Region], label_ids: Sequence[int], *, channels: int,
               spec: FeatureSpec = FeatureSpec(), seed: int = 0) -> ScribbleForest:
    """One forest from the stroked tiles of one or several images with ``channels`` channels."""
    if not regions:
        raise InvalidInputError("There are no strokes yet: brush some background and at least one label.")
    return ScribbleForest.fit_regions(list(regions), label_ids=tuple(label_ids), spec=spec, channels=channels,
                                      seed=seed)


def view_region(reader: ImageReader, y: float, x: float, h: float, w: float) -> tuple[int, int, int, int]:
    """The full-resolution region of a view, clipped to the image; too large a view asks to zoom in."""
    H, W = int(reader.shape[1]), int(reader.shape[2])
    y0, x0 = max(0, int(np.floor(y))), max(0, int(np.floor(x)))
    y1, x1 = min(H, int(np.ceil(y + h))), min(W, int(np.ceil(x + w)))
    if (y1 - y0) * (x1 - x0) > MAX_VIEW_PIXELS:
        raise InvalidInputError(
            f"This view shows {x1 - x0}×{y1 - y0} image pixels; the assistant predicts up to "
            f"{MAX_VIEW_PIXELS / 1e6:.1f} megapixels at a time. Zoom in, or pre-annotate the whole image as a "
            "background job."
        )
    return y0, x0, y1 - y0, x1 - x0


def propose_region(reader: ImageReader, forest: ScribbleForest, region: tuple[int, int, int, int]) -> Proposal:
    """The forest's proposal for one region with its specks cleaned: what the page shows and accept turns into
    shapes. Context around the region is read, so it equals a whole-image pre-annotation there."""
    proposal = predict_region(reader, forest, region, scale=channel_scale(reader))
    return replace(proposal, classes=clean_classes(proposal.classes))


def merge_proposal(existing: Sequence[ShapeData], proposed: Sequence[ShapeData],
                   region: tuple[int, int, int, int], label_ids: Sequence[int]) -> tuple[list[ShapeData], int]:
    """Shapes after accepting a proposal for ``region`` (y, x, h, w): annotations of the proposal's labels lying
    wholly inside the region are replaced; everything else is kept. Returns (shapes, number replaced)."""
    y, x, h, w = region
    wanted = set(label_ids)
    kept: list[ShapeData] = []
    replaced = 0
    for shape in existing:
        if shape.kind == KIND_ANNOTATION and shape.label_id in wanted:
            x0, y0, x1, y1 = shape.bbox()
            if x0 >= x and y0 >= y and x1 <= x + w and y1 <= y + h:
                replaced += 1
                continue
        kept.append(shape)
    return kept + list(proposed), replaced


# --- pre-annotation of other images -------------------------------------------------------------------
def forests_dir(settings: Settings, project_id: int) -> Path:
    return settings.project_dir(project_id) / "assist"


def queue_preannotation(settings: Settings, engine: Engine, project_id: int, forest: ScribbleForest,
                        image_ids: Sequence[int], *, mode: str) -> Preannotation:
    """Queue a background run in which ``forest`` proposes annotations for the chosen not-annotated images."""
    if mode not in MODES:
        raise InvalidInputError(f"Proposal mode {mode!r} is not known; use one of {', '.join(MODES)}.")
    with session_scope(engine) as session:
        images = {im.id: im for im in repo.list_images(session, project_id)}
    chosen = [int(i) for i in image_ids]
    if not chosen:
        raise InvalidInputError("Choose at least one image to pre-annotate.")
    unknown = [i for i in chosen if i not in images]
    if unknown:
        raise InvalidInputError(f"Image(s) {unknown} are not in this project.")
    busy = [images[i].name for i in chosen if images[i].status != NOT_ANNOTATED]
    if busy:
        raise InvalidInputError(
            "Pre-annotation only fills images that are not annotated yet; these are not: " + ", ".join(busy) + "."
        )
    wrong = [images[i].name for i in chosen if images[i].channels != forest.channels]
    if wrong:
        raise InvalidInputError(
            f"The assistant learnt from {forest.channels}-channel images; these have another channel count: "
            + ", ".join(wrong) + "."
        )
    path = forests_dir(settings, project_id) / f"forest-{uuid.uuid4().hex[:12]}.joblib"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        forest.save(path)
    except OSError as exc:
        raise StorageError(f"Could not save the assistant for the background run ({exc}); free some disk space "
                           "and try again.") from exc
    try:
        with session_scope(engine) as session:
            return repo.add_preannotation(session, Preannotation(
                project_id=project_id, forest_path=path.relative_to(settings.data_dir).as_posix(), status=QUEUED,
                config={"image_ids": chosen, "mode": mode, "label_ids": list(forest.label_ids)},
                message="waiting in the queue",
            ))
    except Exception:
        path.unlink(missing_ok=True)
        raise


def accept_proposed_image(engine: Engine, image_id: int) -> None:
    """The user checked a pre-annotated image: its proposal becomes its annotations (status annotated)."""
    with session_scope(engine) as session:
        repo.set_image_status(session, image_id, ANNOTATED)
