"""What a prediction writes for one image, by what the model produces: one :class:`ResultWriter` per result
kind (:attr:`core.training.types.base.TrainingType.result_kind`) in :data:`RESULT_WRITERS`.

* label images (semantic and instance models): ``<stem>_labels.tif`` (:func:`~core.inference.tiled.
  predict_image`), ``<stem>_objects.csv`` (measurements) and ``<stem>.geojson`` (outlines for QuPath); the
  image's ZIP adds one label TIFF per label;
* boxes (detection models): ``<stem>_boxes.csv`` (label, score, corners and centre in pixels, and in µm
  where the image has a pixel size), ``<stem>_coco.json``, ``<stem>.geojson`` (rectangles with their class
  for QuPath) and ``<stem>_overlay.png`` (the boxes drawn in their label's colour on the image, at most
  :data:`OVERLAY_SIDE` pixels on its longer side); see :mod:`core.inference.box_export`;
* classes (classification models): ``<stem>_class.csv`` and the predicted class with every class's
  probability (kept with the run's image); the run's ``classes.csv``; see :mod:`core.inference.classes`.

Every writer's result has ``"counts"`` (objects per label name; none for classes), ``"seconds"``,
``"warnings"`` (sentences for the user) and one path per name of its :attr:`ResultWriter.files`.
:func:`write_counts_csv` writes the counts of a run's images as one table (a writer's
:attr:`ResultWriter.summary`: classes write their own table instead).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from core.bioimageio.runtime import ForeignPredictor
from core.errors import InvalidInputError, ModelPackageError
from core.imaging import open_image
from core.imaging.atomic import atomic_output
from core.imaging.thumbnail import thumbnail_array
from core.inference import classes
from core.inference.box_export import (
    boxes_table,
    draw_boxes,
    label_colors,
    write_boxes_csv,
    write_boxes_geojson,
    write_coco_json,
)
from core.inference.export import _safe, export_prediction, write_label_tiffs
from core.inference.fit import check_image_fits
from core.inference.predictor import Predictor
from core.inference.tiled import predict_image
from core.inference.tiled_boxes import BoxPrediction, predict_boxes
from core.training.card_schema import ARCHITECTURE, BIOIMAGEIO_ARCHITECTURE
from core.training.package import read_card
from core.training.types import training_type
from core.training.types.base import BOX_LISTS, CLASS_LISTS, LABEL_IMAGES

#: the overlay picture's longer side at most (a larger image is shown smaller, its boxes scaled with it)
OVERLAY_SIDE = 2048
OVERLAY_LINE = 2  # pixels


def _load_predictor(package_dir: Path, *, device: str = "auto", views: int | None = None) -> Predictor:
    """The predictor of the package's network, by its card's architecture (:data:`PREDICTORS`)."""
    architecture = read_card(package_dir).get("architecture", ARCHITECTURE)
    if architecture not in PREDICTORS:
        raise ModelPackageError(f"the model in {package_dir} is a {architecture}, which gives no label "
                                f"images or boxes; the networks that do are {list(PREDICTORS)}")
    return PREDICTORS[architecture](package_dir, device=device, views=views)


def _counts_summary(out_dir: Path, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> Path:
    return write_counts_csv(Path(out_dir) / "counts.csv", [(name, result["counts"]) for name, result in rows])


def _describe_counts(result: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}: {n}" for name, n in result["counts"].items())


@dataclass(frozen=True)
class ResultWriter:
    """How one result kind is predicted and written.

    ``files``: the names of the files :attr:`predict` writes (keys of its result, stored with a prediction
    run's image); ``predict(predictor, reader, out_dir, stem, *, pixel_size_um, is_rgb, on_progress,
    should_stop)`` writes them; ``archive(result, folder, stem)`` the files of the image's ZIP (writing any
    that only the ZIP holds into ``folder``); ``title``: the result's name in a sentence.
    ``load(package_dir, *, device, views)``: the model :attr:`predict` takes (with a ``card``);
    ``keep``: other values of the result stored with a run's image (JSON); ``summary(out_dir, rows)`` writes
    the run's table from ``(image name, result)`` rows and returns its path; ``describe(result)``: one
    image's result in a few words.
    """

    files: tuple[str, ...]
    predict: Callable[..., dict[str, Any]]
    archive: Callable[[dict[str, Any], Path, str], list[Path]]
    title: str
    load: Callable[..., Any] = _load_predictor
    keep: tuple[str, ...] = ()
    summary: Callable[[Path, Sequence[tuple[str, Mapping[str, Any]]]], Path] = _counts_summary
    describe: Callable[[Mapping[str, Any]], str] = _describe_counts


def predict_file(
    predictor: Predictor,
    image_path: Path,
    out_dir: Path,
    stem: str,
    *,
    pixel_size_um: float | None,
    is_rgb: bool | None = None,
    on_progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Predict one stored image and write its files into ``out_dir`` (by the model's result kind, see the
    module's documentation; ``predictor``: what the writer's :attr:`ResultWriter.load` gives). ``is_rgb``
    None: an image of 3 uint8 channels is an RGB picture. The result also has ``"result_kind"``."""
    kind = training_type(predictor.card["training_type"]).result_kind
    writer = result_writer(kind)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open_image(image_path) as reader:
        check_image_fits(predictor.card, reader.shape[0], reader.dtype)
        if is_rgb is None:
            is_rgb = reader.shape[0] == 3 and reader.dtype == "uint8"
        result = writer.predict(predictor, reader, out_dir, stem, pixel_size_um=pixel_size_um, is_rgb=is_rgb,
                                on_progress=on_progress, should_stop=should_stop)
    return {**result, "result_kind": kind}


def card_writer(card: Mapping[str, Any]) -> ResultWriter:
    """The writer of what the model of ``card`` (a validated model card) produces."""
    return result_writer(training_type(card["training_type"]).result_kind)


def result_writer(kind: str) -> ResultWriter:
    """The writer of result kind ``kind``; an unknown kind raises :class:`InvalidInputError` naming the known
    ones."""
    if kind not in RESULT_WRITERS:
        raise InvalidInputError(
            f"no writer for predictions of kind {kind!r}; the known kinds are {list(RESULT_WRITERS)}"
        )
    return RESULT_WRITERS[kind]


# Label images -------------------------------------------------------------------------------------
def _predict_labels(predictor, reader, out_dir, stem, *, pixel_size_um, is_rgb, on_progress, should_stop):
    colors = [lab.get("color") for lab in predictor.card["labels"]]
    labels_path = out_dir / f"{stem}_labels.tif"
    result = predict_image(reader, predictor, out=labels_path, on_progress=on_progress,
                           should_stop=should_stop)
    files = export_prediction(labels_path, reader, out_dir, stem=stem, pixel_size_um=pixel_size_um,
                              colors=colors, should_stop=should_stop)
    return {"labels": labels_path, **files, "counts": result.counts_by_label, "seconds": result.seconds,
            "warnings": list(result.warnings)}


def _label_archive(result: dict[str, Any], folder: Path, stem: str) -> list[Path]:
    per_label = folder / "per_label"
    per_label.mkdir(parents=True, exist_ok=True)
    return [result["csv"], result["geojson"], *write_label_tiffs(result["labels"], per_label, stem)]


# Boxes --------------------------------------------------------------------------------------------
def _predict_boxes(predictor, reader, out_dir, stem, *, pixel_size_um, is_rgb, on_progress, should_stop):
    result = predict_boxes(reader, predictor, on_progress=on_progress, should_stop=should_stop)
    files = write_box_files(result, out_dir, stem, colors=_card_colors(predictor.card),
                            pixel_size_um=pixel_size_um)
    overlay = out_dir / f"{_safe(stem)}_overlay.png"
    write_overlay(reader, result, overlay, colors=_card_colors(predictor.card), is_rgb=is_rgb)
    return {**files, "overlay": overlay, "counts": result.counts_by_label, "seconds": result.seconds,
            "warnings": list(result.warnings)}


def write_box_files(
    result: BoxPrediction,
    out_dir: Path,
    stem: str,
    *,
    colors: Sequence[str] | None = None,
    pixel_size_um: float | None = None,
) -> dict[str, Path]:
    """Write ``<stem>_boxes.csv``, ``<stem>_coco.json`` and ``<stem>.geojson`` of ``result`` into ``out_dir``;
    returns ``{"boxes", "coco", "geojson"}``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    safe = _safe(stem)
    names = result.label_names
    table = boxes_table(result.boxes, result.scores, result.labels, names, pixel_size_um)
    csv_path = write_boxes_csv(table, out_dir / f"{safe}_boxes.csv")
    height, width = result.shape
    coco = write_coco_json(out_dir / f"{safe}_coco.json", [{
        "file_name": stem, "width": width, "height": height,
        "boxes": result.boxes, "scores": result.scores, "labels": result.labels,
    }], names)
    geojson = out_dir / f"{safe}.geojson"
    write_boxes_geojson(geojson, result.boxes, result.scores, result.labels, names, colors)
    return {"boxes": csv_path, "coco": coco, "geojson": geojson}


def write_overlay(
    reader: Any, result: BoxPrediction, path: Path, *, colors: Sequence[str] | None, is_rgb: bool,
    side: int = OVERLAY_SIDE,
) -> Path:
    """A PNG of the image (read smaller where it is larger than ``side``: never whole) with the boxes drawn
    in their label's colour."""
    height, width = result.shape
    side = min(side, max(height, width))
    # the smallest pyramid level still as large as the picture (level 0 when the image has no pyramid)
    level = max((i for i, hw in enumerate(reader.level_shapes) if max(hw) >= side), default=0)
    picture = thumbnail_array(reader, is_rgb=is_rgb, side=side, level=level)
    scale_x, scale_y = picture.shape[1] / width, picture.shape[0] / height
    boxes = result.boxes.copy()
    boxes[:, 0::2] *= scale_x
    boxes[:, 1::2] *= scale_y
    palette = label_colors(len(result.label_names), colors)
    drawn = draw_boxes(picture, boxes, palette[result.labels].reshape(-1, 3), width=OVERLAY_LINE)
    path = Path(path)
    with atomic_output(path) as tmp:
        PILImage.fromarray(drawn).save(tmp, format="PNG")
    return path


def _box_archive(result: dict[str, Any], folder: Path, stem: str) -> list[Path]:
    return [result[key] for key in ("boxes", "coco", "geojson", "overlay")]


def _card_colors(card: dict) -> list[str] | None:
    """The labels' colours of a card, or None (the default palette) when a label has none."""
    colors = [lab.get("color") for lab in card["labels"]]
    return colors if all(isinstance(c, str) for c in colors) else None


#: model card architecture -> the loader of its predictor (label images and boxes): segstudio's U-Net, or the
#: TorchScript of a model imported from bioimage.io (core.bioimageio.runtime)
PREDICTORS: dict[str, Callable[..., Predictor]] = {
    ARCHITECTURE: Predictor.from_package,
    BIOIMAGEIO_ARCHITECTURE: ForeignPredictor.from_package,
}

#: result kind -> its writer
RESULT_WRITERS: dict[str, ResultWriter] = {
    LABEL_IMAGES: ResultWriter(("labels", "csv", "geojson"), _predict_labels, _label_archive, "label images"),
    BOX_LISTS: ResultWriter(("boxes", "coco", "geojson", "overlay"), _predict_boxes, _box_archive, "boxes"),
    CLASS_LISTS: ResultWriter(("classes",), classes.predict_classes, classes.class_archive, "classes",
                              load=classes.load_class_model, keep=("prediction",),
                              summary=classes.class_summary, describe=classes.describe_class),
}


# Counts of a run ----------------------------------------------------------------------------------
def write_counts_csv(path: Path, rows: Sequence[tuple[str, dict[str, int]]]) -> Path:
    """One row per image (``image`` then one column per label, in the order the labels first appear) with
    its object counts; ``rows`` are ``(image name, {label: count})``."""
    labels: list[str] = []
    for _, counts in rows:
        labels += [name for name in counts if name not in labels]
    path = Path(path)
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", *labels])
        for name, counts in rows:
            writer.writerow([name, *(counts.get(label, 0) for label in labels)])
    return path
