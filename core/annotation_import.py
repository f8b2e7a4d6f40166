"""Import existing label masks as annotations: each instance becomes one polygon of the chosen label.

* **Pairing** (:func:`pair_masks`): a mask belongs to the image file of the same stem in the same relative
  folder: beside it when the images lie in the mask folder, else in the mask folder's subfolder that matches
  the image's subfolder (``images/a/img1.tif`` -> ``masks/a/img1_mask.tif``). The image is then found in the
  project by the file's content, never by its bare name, so two ``img1.tif`` from different folders each get
  their own mask.
* **Never doubled** (:func:`import_mask`): importing the same mask again adds nothing; a different mask for
  an image that has annotations of the label already is skipped with a message unless ``replace`` is given
  (then the label's annotations of that image are replaced). Decided under the database's write lock.
* **Header first** (:func:`read_mask`): the mask's declared size is checked against its image and the size
  limit before any pixel is read, so a small file declaring a huge image allocates nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from core.annotations.mask_import import check_mask_matches, mask_to_shapes
from core.config import Settings
from core.db import repo, session_scope
from core.errors import AnnotationError, SegStudioError
from core.imaging import probe, read_array
from core.projects import image_of_file

MASK_SUFFIXES = (".tif", ".tiff", ".png")
_MASK_MARKERS = ("", "_mask", "_masks", "_label")
REPLACE_HINT = (
    "to replace them with the mask's, import again with --replace-annotations (command line) "
    "or tick \"Replace this label's objects\" (Annotate page)"
)


@dataclass(frozen=True)
class MaskResult:
    """What importing one mask did: ``what`` is one of ``repo.IMPORT_*``; ``shapes`` objects were written."""

    what: str
    shapes: int
    message: str

    @property
    def written(self) -> bool:
        return self.what in (repo.IMPORT_ADDED, repo.IMPORT_REPLACED)


@dataclass
class MaskImportOutcome:
    images: int = 0
    shapes: int = 0
    replaced: list[str] = field(default_factory=list)  # masks that replaced an image's objects of the label
    skipped: list[str] = field(default_factory=list)  # masks not imported: the image has its objects already
    errors: list[str] = field(default_factory=list)


@dataclass
class MaskPairing:
    """Image file -> its mask file; ``masks``: the mask files (resolved); ``problems``: one line per image."""

    pairs: dict[Path, Path] = field(default_factory=dict)
    masks: set[Path] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def find_mask(mask_dir: Path, stem: str, *, exclude: Path | None = None) -> Path | None:
    """The mask whose file stem matches the image's (``img.png`` -> ``img.tif``, ``img_mask.png``, ...).

    ``exclude`` is the image file itself, never its own mask (when images and masks share a folder).
    """
    skip = exclude.resolve() if exclude is not None else None
    for suffix in MASK_SUFFIXES:
        for marker in _MASK_MARKERS:
            path = mask_dir / f"{stem}{marker}{suffix}"
            if path.is_file() and path.resolve() != skip:
                return path
    return None


def _stem(name: str) -> str:
    lowered = name.lower()
    for suffix in (".ome.tiff", ".ome.tif"):
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def _relative_folder(file: Path, mask_dir: Path, roots: Iterable[Path]) -> Path:
    """The folder of ``file`` relative to the mask folder (masks beside their images), else to the folder
    argument it was found in; ``.`` for a file given on its own."""
    parent = file.parent.resolve()
    for base in (mask_dir, *(r for r in roots if r.is_dir())):
        try:
            return parent.relative_to(base.resolve())
        except ValueError:
            continue
    return Path(".")


def pair_masks(image_files: Sequence[Path], mask_dir: Path, *, roots: Iterable[Path] = ()) -> MaskPairing:
    """Pair each image file with its own mask (see the module's docstring); files that are masks of other
    files are masks, not images: they are in ``masks`` and get no pair of their own."""
    if not mask_dir.is_dir():
        raise SegStudioError(
            f"The mask folder {str(mask_dir)!r} does not exist; give the folder holding the masks."
        )
    roots = list(roots)
    stems = Counter(_stem(f.name) for f in image_files)
    found: dict[Path, Path | None] = {}
    wanted: dict[Path, Path] = {}
    for file in image_files:
        stem, rel = _stem(file.name), _relative_folder(file, mask_dir, roots)
        mask = find_mask(mask_dir / rel, stem, exclude=file)
        if mask is None and rel != Path(".") and stems[stem] == 1:
            mask = find_mask(mask_dir, stem, exclude=file)  # one flat mask folder for images in subfolders
        found[file], wanted[file] = mask, mask_dir / rel
    out = MaskPairing(masks={m.resolve() for m in found.values() if m is not None})
    claimed = Counter(m.resolve() for m in found.values() if m is not None)
    for file, mask in found.items():
        if file.resolve() in out.masks:
            continue
        if mask is None:
            out.problems.append(
                f"{file}: no mask named {_stem(file.name)}.tif/.png (or _mask, _masks, _label) "
                f"in {wanted[file]}; skipped."
            )
        elif claimed[claim := mask.resolve()] > 1:
            others = sorted(str(f) for f, m in found.items() if m is not None and m.resolve() == claim)
            out.problems.append(
                f"{file}: the mask {mask} fits {len(others)} images of the same name "
                f"({', '.join(others)}), so it is not imported; put each image's mask in the subfolder of "
                "the mask folder that matches the image's folder, and import the folder holding them."
            )
        else:
            out.pairs[file] = mask
    return out


def read_mask(
    mask_path: Path, image_hw: Sequence[int], *, max_megapixels: float, max_channels: int
) -> np.ndarray:
    """The 2D label mask of an image of ``image_hw`` (H, W), its size checked from the header first."""
    info = probe(mask_path, max_megapixels=float("inf"), max_channels=max_channels)
    check_mask_matches((info.height, info.width), image_hw, mask_path.name)
    if info.megapixels > max_megapixels:
        raise AnnotationError(
            f"mask {mask_path.name!r} is {info.width}x{info.height} pixels "
            f"({info.megapixels:,.0f} megapixels), more than the limit of {max_megapixels:g} megapixels "
            "for a mask read whole; annotate an image this large by hand or import masks of smaller "
            "images (tiles)"
        )
    if info.channels != 1 and not (info.palette or info.colour == "palette"):
        raise AnnotationError(
            f"mask {mask_path.name!r} has {info.channels} channels; a label mask must be a single 2D plane "
            "(height, width). Save one channel as a grayscale/label TIFF or PNG"
        )
    mask = read_array(mask_path, max_megapixels=max_megapixels)
    check_mask_matches(mask.shape, image_hw, mask_path.name)
    return mask


def import_mask(
    settings: Settings,
    engine: Engine,
    image_id: int,
    mask_path: Path,
    label_id: int,
    *,
    replace: bool = False,
) -> MaskResult:
    """Import one mask's instances into an image as polygons of ``label_id``, never doubling them."""
    with session_scope(engine) as session:
        image = repo.get_image(session, image_id)
        label = repo.get_label(session, label_id)
    mask = read_mask(mask_path, (image.height, image.width),
                     max_megapixels=settings.max_megapixels, max_channels=settings.max_channels)
    records = [{**shape.to_record(), "source": "import"} for shape in mask_to_shapes(mask, label_id=label_id)]
    with session_scope(engine) as session:
        what, existing = repo.import_label_shapes(session, image_id, label_id, records, replace=replace)
    n, name, label_name, mask_name = len(records), image.name, label.name, mask_path.name
    messages = {
        repo.IMPORT_ADDED: f"{name}: {n} object(s) imported from {mask_name} as label {label_name!r}.",
        repo.IMPORT_REPLACED: f"{name}: its {existing} object(s) of label {label_name!r} were replaced "
                              f"by the {n} of {mask_name}.",
        repo.IMPORT_SAME: f"{name}: the {n} object(s) of {mask_name} are there already as label "
                          f"{label_name!r}; nothing was added.",
        repo.IMPORT_KEPT: f"{name}: has {existing} object(s) of label {label_name!r} already, not those of "
                          f"{mask_name}; nothing was added, so nothing is doubled ({REPLACE_HINT}).",
    }
    return MaskResult(what, n if what in (repo.IMPORT_ADDED, repo.IMPORT_REPLACED) else 0, messages[what])


def _image_of_file(engine: Engine, project_id: int, file: Path) -> int | None:
    """The project's image imported from ``file`` (found by content, as the import found duplicates)."""
    image = image_of_file(engine, project_id, file)[1]
    return None if image is None else image.id


def import_paired_masks(
    settings: Settings,
    engine: Engine,
    project_id: int,
    pairs: Mapping[Path, Path],
    label_name: str,
    *,
    replace: bool = False,
) -> MaskImportOutcome:
    """Import each image file's mask into the image imported from that file; one bad mask loses nothing."""
    with session_scope(engine) as session:
        label = repo.find_label(session, project_id, label_name)
    outcome = MaskImportOutcome()
    for file, mask_path in pairs.items():
        try:
            image_id = _image_of_file(engine, project_id, file)
            if image_id is None:
                continue  # the image itself failed to import; its error was reported already
            result = import_mask(
                settings, engine, image_id, mask_path, label.id, replace=replace  # type: ignore[arg-type]
            )
        except SegStudioError as exc:
            outcome.errors.append(str(exc))
            continue
        if result.written:
            outcome.images += 1
            outcome.shapes += result.shapes
            if result.what == repo.IMPORT_REPLACED:
                outcome.replaced.append(result.message)
        else:
            outcome.skipped.append(result.message)
    return outcome


def import_masks_for_images(
    settings: Settings,
    engine: Engine,
    project_id: int,
    image_files: Sequence[Path],
    mask_dir: Path,
    label_name: str,
    *,
    roots: Iterable[Path] = (),
    replace: bool = False,
) -> MaskImportOutcome:
    """Pair image files and masks (:func:`pair_masks`), then import them (:func:`import_paired_masks`)."""
    pairing = pair_masks(image_files, mask_dir, roots=roots)
    outcome = import_paired_masks(settings, engine, project_id, pairing.pairs, label_name, replace=replace)
    outcome.errors[:0] = pairing.problems
    return outcome
