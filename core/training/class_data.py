"""From a project in the database to the classifier's examples: each image with a class is one example (read
whole), and each ROI carrying a class is one more (its crop). The split is by image: an image's ROIs go
where the image goes.

Also what the wizard counts for a classification training: the classes of each image and of its ROIs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.classification.examples import ClassExample
from core.config import Settings
from core.db import repo, session_scope
from core.db.models import Image
from core.errors import TrainingRuleError
from core.imaging.reader import read_region
from core.training.config import TrainConfig
from core.training.project_data import ImageRecord, split_members
from core.training.split import SplitImage

#: ``annotated_by`` of an image's record: its own class, classes of its ROIs
IMAGE_CLASS, ROI_CLASS = "class", "roi class"


def class_counts_per_image(session: Session, project_id: int) -> dict[int, dict[int, int]]:
    """image id -> {class label id: examples of that class}: the image's own class (1) plus its ROIs'."""
    out: dict[int, dict[int, int]] = {}
    for image_id, class_id in repo.image_classes(session, project_id).items():
        out.setdefault(image_id, {})[class_id] = 1
    ids = [im.id for im in repo.list_images(session, project_id)]
    for image_id, rois in repo.roi_classes(session, ids).items():  # type: ignore[arg-type]
        counts = out.setdefault(image_id, {})
        for class_id, _ in rois:
            counts[class_id] = counts.get(class_id, 0) + 1
    return out


def class_split_images(session: Session, project_id: int, image_ids: Sequence[int]) -> list[SplitImage]:
    """The split's view of the selected images: an image takes part when it or one of its ROIs has a class
    (its ``primary`` class, which the split is stratified by: its own, else its ROIs' most common one).
    Background-only images keep their mark so that the rules can say they do not apply."""
    from core.db.models import BACKGROUND

    classes = repo.image_classes(session, project_id)
    images = {im.id: im for im in repo.list_images(session, project_id)}
    rois = repo.roi_classes(session, [i for i in image_ids if i in images])
    out = []
    for image_id in image_ids:
        image = images.get(image_id)
        if image is None:
            continue
        roi_labels = [lab for lab, _ in rois.get(image_id, [])]
        present = frozenset(roi_labels) | ({classes[image_id]} if image_id in classes else set())
        primary = classes.get(image_id)
        if primary is None and roi_labels:
            primary = Counter(roi_labels).most_common(1)[0][0]
        out.append(SplitImage(id=image_id, name=image.name, annotated=bool(present),
                              background=image.status == BACKGROUND, labels_present=present, primary=primary))
    return out


def _whole(path, image: Image):  # type: ignore[no-untyped-def]
    return lambda: read_region(path, 0, 0, 0, image.height, image.width)


def _crop(path, y0: int, x0: int, h: int, w: int):  # type: ignore[no-untyped-def]
    return lambda: read_region(path, 0, y0, x0, h, w)


def image_examples(
    settings: Settings, image: Image, image_class: int | None, rois: Sequence[tuple[int, Sequence[float]]],
    index: dict[int, int],
) -> list[ClassExample]:
    """The examples of one image: itself when its class is one of ``index`` (label id -> class index), and
    the crop of each ROI whose class is (ROIs outside the image or of no pixel are left out)."""
    path = settings.data_dir / image.stored_path
    out = []
    if image_class in index:
        out.append(ClassExample(key=image.name, label=index[image_class],  # type: ignore[index]
                                read=_whole(path, image), shape=(image.channels, image.height, image.width),
                                dtype=image.dtype))
    for k, (label_id, (x0, y0, x1, y1)) in enumerate(rois, start=1):
        if label_id not in index:
            continue
        top, left = max(int(np.floor(y0)), 0), max(int(np.floor(x0)), 0)
        bottom, right = min(int(np.ceil(y1)), image.height), min(int(np.ceil(x1)), image.width)
        if bottom - top < 1 or right - left < 1:
            continue
        out.append(ClassExample(key=f"{image.name} · ROI {k}", label=index[label_id],
                                read=_crop(path, top, left, bottom - top, right - left),
                                shape=(image.channels, bottom - top, right - left), dtype=image.dtype))
    return out


def load_class_split(
    settings: Settings, engine: Engine, project_id: int, split: dict, config: TrainConfig
) -> tuple[list[ClassExample], list[ClassExample], list[ImageRecord], list[ImageRecord]]:
    """Training and validation examples of a stored split, with one record per image for the report (its
    ``objects``: examples per class name)."""
    with session_scope(engine) as session:
        images, wanted = split_members(session, project_id, split)
        classes = repo.image_classes(session, project_id)
        rois = repo.roi_classes(session, wanted)
    index = {lab.id: k for k, lab in enumerate(config.labels)}
    names = [lab.name for lab in config.labels]
    out: list[list] = [[], [], [], []]
    for slot, key in ((0, "train"), (1, "val")):
        for image_id in split.get(key, []):
            image = images[image_id]
            examples = image_examples(settings, image, classes.get(image_id), rois.get(image_id, []), index)
            out[slot].extend(examples)
            counts = Counter(names[ex.label] for ex in examples)
            origin = "+".join(code for code, used in (
                (IMAGE_CLASS, classes.get(image_id) in index),
                (ROI_CLASS, any(lab in index for lab, _ in rois.get(image_id, [])))) if used) or "none"
            per_class = {n: counts.get(n, 0) for n in names}
            out[slot + 2].append(ImageRecord(image.id, image.name, image.width, image.height, image.channels,
                                             image.dtype, image.content_hash, per_class, origin))
    if not out[0] or not out[1]:
        raise TrainingRuleError(
            "The split holds no training or no validation example of the selected classes (their classes "
            "were changed since the training was queued); start a new training."
        )
    return out[0], out[1], out[2], out[3]
