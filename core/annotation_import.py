"""Import existing label masks as annotations: each instance becomes one polygon of the chosen label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from core.annotations.mask_import import check_mask_matches, mask_to_shapes
from core.config import Settings
from core.db import repo, session_scope
from core.errors import SegStudioError
from core.imaging import read_array, sanitize_filename

MASK_SUFFIXES = (".tif", ".tiff", ".png")


@dataclass
class MaskImportOutcome:
    images: int = 0
    shapes: int = 0
    errors: list[str] = field(default_factory=list)


def find_mask(mask_dir: Path, stem: str) -> Path | None:
    """The mask whose file stem matches the image's (``img.png`` -> ``img.tif``, ``img_mask.png``, ...)."""
    for suffix in MASK_SUFFIXES:
        for candidate in (f"{stem}{suffix}", f"{stem}_mask{suffix}", f"{stem}_masks{suffix}", f"{stem}_label{suffix}"):
            path = mask_dir / candidate
            if path.is_file():
                return path
    return None


def _stem(name: str) -> str:
    lowered = name.lower()
    for suffix in (".ome.tiff", ".ome.tif"):
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def import_mask(settings: Settings, engine: Engine, image_id: int, mask_path: Path, label_id: int) -> int:
    """Add one mask's instances to an image as polygons of ``label_id``; returns how many were added."""
    with session_scope(engine) as session:
        image = repo.get_image(session, image_id)
        repo.get_label(session, label_id)
    mask = read_array(mask_path)
    check_mask_matches(mask.shape, (image.height, image.width), mask_path.name)
    shapes = mask_to_shapes(mask, label_id=label_id)
    records = [{**shape.to_record(), "source": "import"} for shape in shapes]
    with session_scope(engine) as session:
        repo.add_shapes(session, image_id, records)
    return len(records)


def import_masks_for_images(
    settings: Settings,
    engine: Engine,
    project_id: int,
    image_files: Sequence[Path],
    mask_dir: Path,
    label_name: str,
) -> MaskImportOutcome:
    """Match masks to the project's images by file stem and import them; one bad mask loses nothing else."""
    if not mask_dir.is_dir():
        raise SegStudioError(f"The mask folder {str(mask_dir)!r} does not exist; give the folder holding the masks.")
    with session_scope(engine) as session:
        label = repo.find_label(session, project_id, label_name)
        images = {im.name: im for im in repo.list_images(session, project_id)}
    outcome = MaskImportOutcome()
    for file in image_files:
        image = images.get(sanitize_filename(file.name))
        if image is None:
            continue  # the image itself failed to import; its error was reported already
        mask_path = find_mask(mask_dir, _stem(file.name))
        if mask_path is None:
            outcome.errors.append(f"{file.name}: no mask named {_stem(file.name)}.tif/.png in {mask_dir}; skipped.")
            continue
        try:
            outcome.shapes += import_mask(settings, engine, image.id, mask_path, label.id)  # type: ignore[arg-type]
        except SegStudioError as exc:
            outcome.errors.append(str(exc))
        else:
            outcome.images += 1
    return outcome
