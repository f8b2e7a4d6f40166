"""Images and ground-truth masks from folders (matched by file stem), for `segstudio evaluate`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from core.annotation_import import find_mask, read_mask
from core.config import Settings
from core.errors import SegStudioError
from core.imaging import import_image, open_image
from core.projects import IMPORTABLE_SUFFIXES
from core.training.assessment import Sample
from core.training.types import training_type


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def folder_samples(images_dir: Path, masks_dir: Path, card: dict, *, label: str | None = None) -> tuple[list[Sample], list[str]]:
    """One Sample per image that has a mask; returns (samples, problems). Images pass through the same import
    rules as in the app, so the pixels are those a project would hold.

    The masks are for one label of the model: ``label`` (default: the model's only label).
    """
    names = [lab["name"] for lab in card["labels"]]
    if label is None and len(names) > 1:
        raise SegStudioError(f"The model has labels {names}; say which one the masks are for with --label.")
    target = names.index(label) if label is not None else 0
    if label is not None and label not in names:
        raise SegStudioError(f"The model has no label {label!r}; its labels are {names}.")
    if not images_dir.is_dir() or not masks_dir.is_dir():
        raise SegStudioError(f"{images_dir} and {masks_dir} must both be folders.")
    files = sorted(p for p in images_dir.iterdir() if p.is_file() and p.name.lower().endswith(IMPORTABLE_SUFFIXES))
    samples: list[Sample] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="segstudio-eval-") as scratch:
        for index, path in enumerate(files):
            mask_path = find_mask(masks_dir, _stem(path), exclude=path)
            if mask_path is None:
                problems.append(f"{path.name}: no mask with the same stem in {masks_dir}; skipped.")
                continue
            try:
                # a model reads the pages of a multi-page file as its channels
                stored = import_image(path, Path(scratch), f"img{index}", pages_as="channels")
                with open_image(stored.path) as reader:
                    pixels = reader.read_region(0, 0, 0, stored.height, stored.width)
                mask = read_mask(mask_path, (stored.height, stored.width),  # size checked before pixels
                                 max_megapixels=Settings.max_megapixels, max_channels=Settings.max_channels)
            except SegStudioError as exc:
                problems.append(str(exc))
                continue
            truth = np.zeros((len(names), *mask.shape), dtype=np.int32)
            truth[target] = mask.astype(np.int32)
            truth = training_type(card["training_type"]).ground_truth({"instances": truth})
            samples.append(Sample(path.name, pixels, truth))
    return samples, problems
