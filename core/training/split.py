"""Dataset split and the minimum training requirements, with reasons a user understands.

Works on :class:`SplitImage` records (no database). Rules (seed 000):

* at least 1 label; every selected label annotated in at least one image;
* at least 2 annotated images;
* manual split: at least 1 annotated training image and 1 annotated validation image, no image in both
  lists, and the validation images together contain every selected label.

The random split is 80/20 by image (never by patch), seeded, and tries to put every label in validation.
Background-only images are negatives: most go to training, a share (the same fraction) to validation.

Classes (image classification, :func:`check_class_rules`, :func:`stratified_split`): at least 2 classes,
at least 2 images of each class; the random split is stratified by class (seeded, 80/20 within each class,
at least 1 image of every class in validation and 1 in training); a manual split needs every class in
training and in validation. Background-only images do not apply: a classifier learns from examples of its
classes only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.errors import InvalidInputError, TrainingRuleError

SPLIT_MODES = ("random", "manual")


@dataclass(frozen=True)
class SplitImage:
    """What the split needs to know about one image."""

    id: int
    name: str
    annotated: bool
    background: bool = False
    labels_present: frozenset[int] = field(default_factory=frozenset)
    #: the class the image is stratified by (classification: its own class, else its ROIs' most common one)
    primary: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels_present", frozenset(self.labels_present))


@dataclass(frozen=True)
class Split:
    """Image ids of the training and validation sets."""

    train: tuple[int, ...]
    val: tuple[int, ...]

    def to_dict(self) -> dict[str, list[int]]:
        return {"train": list(self.train), "val": list(self.val)}


def check_training_rules(
    images: Sequence[SplitImage],
    label_ids: Iterable[int],
    *,
    mode: str = "random",
    train_ids: Iterable[int] = (),
    val_ids: Iterable[int] = (),
    label_names: dict[int, str] | None = None,
) -> list[str]:
    """Every broken rule as a sentence for the user; an empty list means training may start."""
    if mode not in SPLIT_MODES:
        raise InvalidInputError(f"split mode {mode!r} is not known; use one of {list(SPLIT_MODES)}")
    labels = list(dict.fromkeys(label_ids))
    names = label_names or {}
    by_id = {im.id: im for im in images}
    problems: list[str] = []
    if not labels:
        problems.append("Select at least 1 label to train on.")
    annotated = [im for im in images if im.annotated]
    if len(annotated) < 2:
        problems.append(
            f"At least 2 annotated images are needed; this selection has {len(annotated)}. "
            "Annotate more images or add them to the selection."
        )
    seen = set().union(*(im.labels_present for im in annotated)) if annotated else set()
    missing = [lab for lab in labels if lab not in seen]
    if missing:
        problems.append(
            f"Label(s) {_names(missing, names)} are not annotated in any selected image. "
            "Annotate them or deselect them."
        )
    if mode == "manual":
        problems.extend(_manual_problems(by_id, labels, list(train_ids), list(val_ids), names))
    return problems


def make_split(
    images: Sequence[SplitImage],
    label_ids: Iterable[int],
    *,
    mode: str = "random",
    seed: int = 0,
    val_fraction: float = 0.2,
    train_ids: Iterable[int] = (),
    val_ids: Iterable[int] = (),
) -> Split:
    """Check the rules, then split (random) or take the user's lists (manual)."""
    return _checked_split(check_training_rules, random_split, images, label_ids, mode=mode, seed=seed,
                          val_fraction=val_fraction, train_ids=train_ids, val_ids=val_ids)


def random_split(
    images: Sequence[SplitImage], label_ids: Iterable[int], *, seed: int = 0, val_fraction: float = 0.2
) -> Split:
    """Seeded split by image: ``val_fraction`` of the annotated images to validation (at least 1, and at
    least 1 left for training), chosen so that every label appears in validation when possible."""
    if not 0.0 < val_fraction < 1.0:
        raise InvalidInputError(f"val_fraction={val_fraction!r} must be between 0 and 1, e.g. 0.2")
    rng = np.random.default_rng(seed)
    annotated = sorted((im for im in images if im.annotated), key=lambda im: im.id)
    background = sorted((im for im in images if im.background and not im.annotated), key=lambda im: im.id)
    if len(annotated) < 2:
        raise TrainingRuleError(
            f"At least 2 annotated images are needed for a split; got {len(annotated)}. Annotate more images."
        )
    order = [annotated[i] for i in rng.permutation(len(annotated))]
    n_val = min(max(1, round(val_fraction * len(order))), len(order) - 1)
    val: list[SplitImage] = []
    labels = list(dict.fromkeys(label_ids))
    count = {lab: sum(lab in im.labels_present for im in order) for lab in labels}
    for lab in sorted(labels, key=lambda lab: (count[lab], labels.index(lab))):
        if any(lab in im.labels_present for im in val) or count[lab] < 2:
            continue  # covered already, or its only image must stay in training
        if len(val) >= len(order) - 1:
            break
        for im in order:
            if im not in val and lab in im.labels_present:
                val.append(im)
                break
    for im in order:
        if len(val) >= n_val:
            break
        if im not in val:
            val.append(im)
    val_set = {im.id for im in val}
    train = [im.id for im in order if im.id not in val_set]
    bg_order = [background[i] for i in rng.permutation(len(background))]
    n_bg_val = round(val_fraction * len(bg_order))
    val_ids = [im.id for im in val] + [im.id for im in bg_order[:n_bg_val]]
    train += [im.id for im in bg_order[n_bg_val:]]
    return Split(tuple(sorted(train)), tuple(sorted(val_ids)))


def _set_problems(by_id, train_ids, val_ids) -> list[str]:
    """A manual split's images that are not in the selection, or in both sets."""
    problems: list[str] = []
    unknown = sorted({i for i in train_ids + val_ids if i not in by_id})
    if unknown:
        problems.append(f"Image id(s) {unknown} are not in the selection; pick images of this project.")
    both = sorted(set(train_ids) & set(val_ids))
    if both:
        problems.append(
            f"Image(s) {_image_names(both, by_id)} are in both the training and the validation set; "
            "put each image in one set only."
        )
    return problems


def _manual_problems(by_id, labels, train_ids, val_ids, names) -> list[str]:
    problems = _set_problems(by_id, train_ids, val_ids)
    train_annotated = [i for i in train_ids if i in by_id and by_id[i].annotated]
    val_annotated = [i for i in val_ids if i in by_id and by_id[i].annotated]
    if not train_annotated:
        problems.append("The training set needs at least 1 annotated image; move an annotated image to training.")
    if not val_annotated:
        problems.append(
            "The validation set needs at least 1 annotated image; move an annotated image to validation."
        )
    in_val = set().union(*(by_id[i].labels_present for i in val_annotated)) if val_annotated else set()
    absent = [lab for lab in labels if lab not in in_val]
    if val_annotated and absent:
        problems.append(
            f"The validation set must contain every selected label; {_names(absent, names)} "
            "is missing. Add a validation image annotated with it."
        )
    return problems


# --- classes (image classification) ------------------------------------------------------------------
#: a classifier tells classes apart: at least this many
MIN_CLASSES = 2
#: images of each class: one for training, one for validation
MIN_IMAGES_PER_CLASS = 2


def _class_of(im: SplitImage, labels: Sequence[int]) -> int | None:
    """The selected class ``im`` is stratified by: its primary class when selected, else its first selected
    class in label order, else None (the image has none of the selected classes)."""
    if im.primary is not None and im.primary in labels:
        return im.primary
    return next((lab for lab in labels if lab in im.labels_present), None)


def check_class_rules(
    images: Sequence[SplitImage],
    label_ids: Iterable[int],
    *,
    mode: str = "random",
    train_ids: Iterable[int] = (),
    val_ids: Iterable[int] = (),
    label_names: dict[int, str] | None = None,
) -> list[str]:
    """Every broken rule of a classification training as a sentence; an empty list means it may start.

    ``images`` are the selected images (``labels_present``: the classes of the image and of its ROIs);
    images without one of the selected classes take no part (the wizard says so)."""
    if mode not in SPLIT_MODES:
        raise InvalidInputError(f"split mode {mode!r} is not known; use one of {list(SPLIT_MODES)}")
    labels = list(dict.fromkeys(label_ids))
    names = label_names or {}
    problems: list[str] = []
    if len(labels) < MIN_CLASSES:
        problems.append(
            f"Select at least {MIN_CLASSES} classes: a classifier tells classes apart, and this selection "
            f"has {len(labels)}."
        )
    background = [im for im in images if im.background and not im.labels_present]
    if background:
        problems.append(
            f"Background-only images do not apply to image classification (every example is an image or ROI "
            f"of a class); deselect {_image_list(background)}."
        )
    if mode == "manual":
        problems.extend(_manual_class_problems(images, labels, list(train_ids), list(val_ids), names))
        return problems
    per_class = {lab: 0 for lab in labels}
    for im in images:
        for lab in im.labels_present:
            if lab in per_class:
                per_class[lab] += 1
    few = [lab for lab in labels if per_class[lab] < MIN_IMAGES_PER_CLASS]
    if few:
        counted = ", ".join(f"{names.get(lab, str(lab))!r} ({per_class[lab]})" for lab in few)
        problems.append(
            f"Every class needs at least {MIN_IMAGES_PER_CLASS} images (one for training, one for "
            f"validation); {counted} {'has' if len(few) == 1 else 'have'} fewer. Give more images that "
            "class, or deselect it."
        )
    return problems


def _manual_class_problems(images, labels, train_ids, val_ids, names) -> list[str]:
    by_id = {im.id: im for im in images}
    problems = _set_problems(by_id, train_ids, val_ids)
    for ids, part, where in ((train_ids, "training", "to training"),
                             (val_ids, "validation", "to validation")):
        present = set().union(*(by_id[i].labels_present for i in ids if i in by_id)) if ids else set()
        absent = [lab for lab in labels if lab not in present]
        if absent:
            problems.append(
                f"The {part} set must contain every selected class; {_names(absent, names)} "
                f"{'is' if len(absent) == 1 else 'are'} missing. Move an image of "
                f"{'that class' if len(absent) == 1 else 'each'} {where}."
            )
    return problems


def stratified_split(
    images: Sequence[SplitImage], label_ids: Iterable[int], *, seed: int = 0, val_fraction: float = 0.2
) -> Split:
    """Seeded split by image, stratified by class: within each class ``val_fraction`` of its images go to
    validation (at least 1, and at least 1 left for training). Images without a selected class take no
    part. Raises :class:`TrainingRuleError` when a class has fewer than 2 images."""
    if not 0.0 < val_fraction < 1.0:
        raise InvalidInputError(f"val_fraction={val_fraction!r} must be between 0 and 1, e.g. 0.2")
    labels = list(dict.fromkeys(label_ids))
    groups: dict[int, list[SplitImage]] = {lab: [] for lab in labels}
    for im in sorted(images, key=lambda im: im.id):
        lab = _class_of(im, labels)
        if lab is not None:
            groups[lab].append(im)
    few = [lab for lab, members in groups.items() if len(members) < MIN_IMAGES_PER_CLASS]
    if few:
        raise TrainingRuleError(
            f"Every class needs at least {MIN_IMAGES_PER_CLASS} images for a stratified split; class id(s) "
            f"{few} have fewer. Give more images those classes."
        )
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    for lab in labels:
        members = groups[lab]
        order = [members[i] for i in rng.permutation(len(members))]
        n_val = min(max(1, round(val_fraction * len(order))), len(order) - 1)
        val += [im.id for im in order[:n_val]]
        train += [im.id for im in order[n_val:]]
    return Split(tuple(sorted(train)), tuple(sorted(val)))


def make_class_split(
    images: Sequence[SplitImage],
    label_ids: Iterable[int],
    *,
    mode: str = "random",
    seed: int = 0,
    val_fraction: float = 0.2,
    train_ids: Iterable[int] = (),
    val_ids: Iterable[int] = (),
) -> Split:
    """Check the class rules, then split stratified by class (random) or take the user's lists (manual)."""
    return _checked_split(check_class_rules, stratified_split, images, label_ids, mode=mode, seed=seed,
                          val_fraction=val_fraction, train_ids=train_ids, val_ids=val_ids)


def _checked_split(check, splitter, images, label_ids, *, mode, seed, val_fraction, train_ids,
                   val_ids) -> Split:
    """``check`` the rules (raising every broken one), then ``splitter`` (random) or the user's lists."""
    label_ids = list(label_ids)
    train_ids, val_ids = list(train_ids), list(val_ids)
    problems = check(images, label_ids, mode=mode, train_ids=train_ids, val_ids=val_ids)
    if problems:
        raise TrainingRuleError("Training cannot start: " + " ".join(problems))
    if mode == "manual":
        return Split(tuple(train_ids), tuple(val_ids))
    return splitter(images, label_ids, seed=seed, val_fraction=val_fraction)


def _image_list(images: Sequence[SplitImage], shown: int = 5) -> str:
    names = ", ".join(repr(im.name) for im in images[:shown])
    return names + (f" and {len(images) - shown} more" if len(images) > shown else "")


def _names(ids: Sequence[int], names: dict[int, str]) -> str:
    return ", ".join(repr(names.get(i, str(i))) for i in ids)


def _image_names(ids: Sequence[int], by_id: dict[int, SplitImage]) -> str:
    return ", ".join(repr(by_id[i].name) for i in ids)


#: Below either, validation scores rest on too little to trust (one image; a handful of objects).
MIN_VALIDATION_IMAGES = 2
MIN_VALIDATION_OBJECTS = 20


def validation_size_warning(n_images: int, n_objects: int | None, *, unit: str = "object") -> str | None:
    """A sentence for the user when a validation set of ``n_images`` annotated images with ``n_objects``
    annotated objects (None: not known) is too small for its scores to be trusted, else None. ``unit``: what
    is counted (the training type's :attr:`~core.training.types.base.TrainingType.count_noun`: objects,
    or a classifier's examples).

    The wizard (before the training), the Trainings page and the report all show this one sentence."""
    small_images = n_images < MIN_VALIDATION_IMAGES
    small_objects = n_objects is not None and n_objects < MIN_VALIDATION_OBJECTS
    if not (small_images or small_objects):
        return None
    size = f"{n_images} image{'s' if n_images != 1 else ''}"
    if n_objects is not None:
        size += f" with {n_objects} annotated {unit}{'s' if n_objects != 1 else ''}"
    return (
        f"The validation set is small ({size}): its scores (F1, IoU, accuracy) rest on too little to trust, "
        f"and a few {unit}s more or less change them a lot. For scores you can rely on, validate on at least "
        f"{MIN_VALIDATION_IMAGES} images and {MIN_VALIDATION_OBJECTS} {unit}s: annotate more images, or "
        "choose more validation images in a manual split."
    )
