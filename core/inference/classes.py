"""What a classification model's prediction writes: one class per image with the probability of every class.

Per image (the :data:`~core.inference.results.RESULT_WRITERS` entry of result kind ``"classes"``):
``<stem>_class.csv``, one row of the table below, and the result's ``"prediction"`` record
(:func:`class_record`: the predicted class and its probability, the runner-up, every class's probability and
how many tiles were averaged), which a prediction run keeps with the image. Per run: ``classes.csv``
(:func:`write_class_table`), one row per image with the columns :data:`TABLE_COLUMNS` and then one column
``p_<class>`` per class (its probability).

A large image (longer than the model's input allows) is cut into tiles by the classifier and the tiles'
probabilities averaged; the result says so (:func:`tiles_warning`) and the table's ``tiles`` column counts
them. The classifier reads the whole image, so an image above :data:`MAX_MEGAPIXELS` is refused with what
to do instead.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidInputError
from core.imaging.atomic import atomic_output
from core.inference.export import _safe
from core.inference.progress import check_stop

#: the table's columns before the per-class probabilities (one ``p_<class>`` column each)
TABLE_COLUMNS = ("image", "class", "probability", "second_class", "second_probability", "tiles")
PROBABILITY_PREFIX = "p_"
#: the largest image a classification model reads (whole); larger ones are refused with what to do
MAX_MEGAPIXELS = 64.0
#: the run's table file
TABLE_NAME = "classes.csv"


def class_record(probabilities: np.ndarray, class_names: Sequence[str], *, tiles: int = 1) -> dict[str, Any]:
    """An image's prediction as the results keep it: ``{"class", "probability", "second_class",
    "second_probability", "probabilities": {class: p}, "tiles"}`` from its probabilities ``(K,)`` in the
    order of ``class_names`` (ties go to the class listed first). With one class the runner-up is None."""
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    names = [str(n) for n in class_names]
    if len(probs) != len(names) or not names:
        raise InvalidInputError(
            f"{len(probs)} probabilit(ies) for {len(names)} class(es) {names}; give one probability per class"
        )
    if not np.all(np.isfinite(probs)):
        raise InvalidInputError(f"the probabilities {probs.tolist()} are not all finite numbers")
    order = np.argsort(-probs, kind="stable")
    second = int(order[1]) if len(order) > 1 else None
    return {
        "class": names[int(order[0])],
        "probability": float(probs[order[0]]),
        "second_class": names[second] if second is not None else None,
        "second_probability": float(probs[second]) if second is not None else None,
        "probabilities": {name: float(p) for name, p in zip(names, probs, strict=True)},
        "tiles": int(tiles),
    }


def tiles_warning(tiles: int) -> str | None:
    """The sentence a result carries when a large image was classified from tiles, else None."""
    if tiles <= 1:
        return None
    return (f"the image is larger than the model's input, so it was cut into {tiles} tiles and the class "
            "probabilities of the tiles were averaged")


def table_row(name: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the table (:data:`TABLE_COLUMNS`, then ``p_<class>`` per class) for image ``name``."""
    row: dict[str, Any] = {"image": name, **{key: record.get(key) for key in TABLE_COLUMNS[1:]}}
    row.update({f"{PROBABILITY_PREFIX}{cls}": p for cls, p in record["probabilities"].items()})
    return row


def write_class_table(path: Path, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> Path:
    """Write the table of ``rows`` (``(image name, prediction record)``) as CSV: the columns
    :data:`TABLE_COLUMNS`, then one ``p_<class>`` column per class, in the order the classes first appear;
    probabilities with 6 decimals."""
    classes: list[str] = []
    for _, record in rows:
        classes += [c for c in record["probabilities"] if c not in classes]
    header = [*TABLE_COLUMNS, *(f"{PROBABILITY_PREFIX}{c}" for c in classes)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for name, record in rows:
            row = table_row(name, record)
            writer.writerow([_cell(row.get(column, 0.0 if column.startswith(PROBABILITY_PREFIX) else None))
                             for column in header])
    return path


def read_class_table(path: Path) -> list[dict[str, Any]]:
    """The rows of a table written by :func:`write_class_table`, numbers as numbers (empty cells None)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    numeric = {"probability", "second_probability"}
    out = []
    for row in rows:
        parsed: dict[str, Any] = {}
        for key, value in row.items():
            if value == "":
                parsed[key] = None
            elif key == "tiles":
                parsed[key] = int(value)
            elif key in numeric or key.startswith(PROBABILITY_PREFIX):
                parsed[key] = float(value)
            else:
                parsed[key] = value
        out.append(parsed)
    return out


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return f"{value:.6f}" if isinstance(value, float) else value


# The result writer's parts (core.inference.results.RESULT_WRITERS["classes"]) ---------------------------
def load_class_model(package_dir: Path, *, device: str = "auto", views: int | None = None) -> Any:
    """The classifier of a package on the device ``device`` (auto | cpu | cuda) picks; ``views`` (flipped
    views of pixel models) has no meaning for a classifier and is ignored."""
    from core.classification.predict import load_classifier
    from core.training.device import pick_device

    return load_classifier(Path(package_dir), str(pick_device(device).device))


def predict_classes(
    classifier: Any, reader: Any, out_dir: Path, stem: str, *, pixel_size_um: float | None = None,
    is_rgb: bool = False, on_progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Classify the image of ``reader`` (read whole) and write ``<stem>_class.csv`` into ``out_dir``.
    Returns ``{"classes": path, "prediction": record, "counts": {}, "seconds", "warnings"}`` (a class is no
    object, so there are no counts)."""
    check_stop(should_stop, "prediction")
    start = time.perf_counter()
    image = read_whole(reader)
    prediction = classifier.probabilities(image)
    record = class_record(prediction.probabilities, classifier.class_names, tiles=prediction.tiles)
    path = write_class_table(Path(out_dir) / f"{_safe(stem)}_class.csv", [(stem, record)])
    if on_progress is not None:
        on_progress(1.0)
    warnings = [w for w in (tiles_warning(prediction.tiles),) if w]
    return {"classes": path, "prediction": record, "counts": {}, "seconds": time.perf_counter() - start,
            "warnings": warnings}


def read_whole(reader: Any) -> np.ndarray:
    """The whole image ``(C, H, W)`` of an open reader, refused above :data:`MAX_MEGAPIXELS`."""
    _, height, width = reader.shape
    megapixels = height * width / 1e6
    if megapixels > MAX_MEGAPIXELS:
        raise InvalidInputError(
            f"the image is {width} x {height} px ({megapixels:.0f} megapixels); a classification model reads "
            f"the whole image, at most {MAX_MEGAPIXELS:.0f} megapixels. Crop or export the part to classify "
            "(or a smaller resolution) and apply the model to that"
        )
    return reader.read_level(0, max_megapixels=MAX_MEGAPIXELS)


def class_archive(result: Mapping[str, Any], folder: Path, stem: str) -> list[Path]:
    """The image's ZIP holds its one-row table."""
    return [Path(result["classes"])]


def class_summary(out_dir: Path, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> Path:
    """The run's table ``classes.csv`` from ``(image name, result)`` rows (results with ``"prediction"``)."""
    return write_class_table(Path(out_dir) / TABLE_NAME, [(name, r["prediction"]) for name, r in rows])


def describe_class(result: Mapping[str, Any]) -> str:
    """One image's result in a few words: ``"basophil (p = 0.93; next: monocyte 0.05)"``."""
    record = result["prediction"]
    text = f"{record['class']} (p = {record['probability']:.2f}"
    if record.get("second_class") is not None:
        text += f"; next: {record['second_class']} {record['second_probability']:.2f}"
    return text + ")"
