"""From a project in the database to the training engine's :class:`TrainingImage` objects.

Pixels come through region reads of the stored TIFF; targets are rasterised from the vector shapes for just
the region asked, so images of any size train without being held whole in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.annotations.raster import annotated_area, semantic_masks
from core.annotations.shapes import ShapeData
from core.config import Settings
from core.db import repo, session_scope
from core.db.models import Image
from core.errors import TrainingRuleError
from core.imaging import open_image
from core.training.config import TrainConfig
from core.training.sources import Box, TrainingImage
from core.training.types import training_type


@dataclass(frozen=True)
class ImageRecord:
    """What the report needs to know about an image of the training."""

    id: int
    name: str
    width: int
    height: int
    channels: int
    dtype: str
    content_hash: str
    objects: dict[str, int]
    annotated_by: str  # hand | import | proposal | prediction | none


def _annotated_by(shapes: Sequence[ShapeData]) -> str:
    sources = {s.source for s in shapes if s.kind == "annotation"}
    if not sources:
        return "none"
    if sources == {"manual"}:
        return "hand"
    return "+".join(sorted("hand" if s == "manual" else s for s in sources))


def training_image(settings: Settings, image: Image, shapes: Sequence[ShapeData], config: TrainConfig) -> TrainingImage:
    path = settings.data_dir / image.stored_path
    reader = open_image(path)
    hw = (image.height, image.width)
    label_ids = [lab.id for lab in config.labels]
    kind = training_type(config.training_type)

    def read(y: int, x: int, h: int, w: int) -> np.ndarray:
        return reader.read_region(0, y, x, h, w)

    def targets(y: int, x: int, h: int, w: int) -> dict:
        region = (y, x, h, w)
        out: dict[str, np.ndarray] = {
            "valid": annotated_area(shapes, hw, roi_only=config.roi_only, region=region),
            "masks": semantic_masks(shapes, label_ids, hw, region=region),
        }
        if kind.object_ids:
            out["instances"] = kind.truth_planes(shapes, label_ids, hw, region)
        return out

    boxes: list[Box] = []
    for shape in shapes:
        if shape.kind == "annotation" and shape.label_id in label_ids:
            x0, y0, x1, y1 = shape.bbox()
            boxes.append((label_ids.index(shape.label_id), max(int(y0), 0), max(int(x0), 0),
                          min(int(np.ceil(y1)), image.height), min(int(np.ceil(x1)), image.width)))
    rois = []
    for shape in shapes:
        if shape.kind == "roi":
            x0, y0, x1, y1 = shape.bbox()
            rois.append((max(int(y0), 0), max(int(x0), 0), min(int(np.ceil(y1)), image.height),
                         min(int(np.ceil(x1)), image.width)))
    digest = hashlib.sha256(image.content_hash.encode())
    digest.update(json.dumps([s.to_record() for s in shapes], sort_keys=True, default=float).encode())
    return TrainingImage(key=image.name, read=read, targets=targets, shape=(image.channels, image.height, image.width),
                         dtype=image.dtype, object_boxes=boxes, roi_boxes=rois, content_hash=digest.hexdigest())


def split_members(session: Session, project_id: int, split: dict) -> tuple[dict[int, Image], list[int]]:
    """The project's images by id, and the ids of a stored split (training, then validation); raises
    TrainingRuleError when one of them was deleted from the project since."""
    images = {im.id: im for im in repo.list_images(session, project_id)}
    wanted = list(split.get("train", [])) + list(split.get("val", []))
    missing = [i for i in wanted if i not in images]
    if missing:
        raise TrainingRuleError(
            f"{len(missing)} image(s) of this training were deleted from the project; start a new training."
        )
    return images, wanted  # type: ignore[return-value]


def load_split(
    settings: Settings, engine: Engine, project_id: int, split: dict, config: TrainConfig
) -> tuple[list[TrainingImage], list[TrainingImage], list[ImageRecord], list[ImageRecord]]:
    """Training and validation images of a stored split, with their records for the report."""
    with session_scope(engine) as session:
        images, wanted = split_members(session, project_id, split)
        shapes = repo.shapes_for_images(session, wanted)
    names = {lab.id: lab.name for lab in config.labels}
    out: list[list] = [[], [], [], []]
    for slot, key in ((0, "train"), (1, "val")):
        for image_id in split.get(key, []):
            image = images[image_id]
            shape_data = [ShapeData.from_record(s) for s in shapes[image_id]]
            out[slot].append(training_image(settings, image, shape_data, config))
            counts = {names[lab]: sum(1 for s in shape_data if s.kind == "annotation" and s.label_id == lab)
                      for lab in names}
            out[slot + 2].append(ImageRecord(image.id, image.name, image.width, image.height, image.channels,
                                             image.dtype, image.content_hash, counts, _annotated_by(shape_data)))
    return out[0], out[1], out[2], out[3]
