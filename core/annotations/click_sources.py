"""Where a click-to-segment outline comes from: the project's latest model, or the assistant's forest.

Each source turns one window of a stored image into an integer label map of the clicked label (0 =
background, 1..N = objects or connected regions), reading only that window and a margin of context:

* :class:`ModelSource`: the newest succeeded training of the project whose labels include the label; the
  window plus the model's halo is normalised with the record Apply uses for the whole image (the card's,
  resolved once per image from sampled windows), run through the network in one pass, and post-processed
  with the card's values (:func:`core.inference.stitch.segment`, Apply's). A click runs the plain view only
  (Apply averages the card's flipped views, up to 8 passes; a click must answer at once).
* :class:`ForestSource`: the assistant's random forest fitted on the project's brush strokes (as the annotate
  page fits it), its cleaned class map of the window (:func:`core.assistant.propose_region`), connected
  regions of the label.

Loaded models, forests and per-image records are kept in small per-process LRU caches keyed by the files
they come from (path and modification time) or the strokes they learnt from, so a second click is fast.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from sqlalchemy.engine import Engine

from core.config import Settings
from core.db import repo, session_scope
from core.db.models import SUCCEEDED, Image
from core.errors import ModelPackageError
from core.imaging.reader import ImageReader

#: flipped views a click averages (1 = the image as it is; Apply uses the card's, up to 8 passes)
CLICK_VIEWS = 1
_EIGHT = np.ones((3, 3), dtype=bool)
Region = tuple[int, int, int, int]  # (y, x, h, w) in full-resolution image pixels


class _LRU:
    """A small thread-safe least-recently-used cache: ``get(key, make)`` builds a value once per key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: a slow load must not block other sessions' clicks
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_PREDICTORS = _LRU(2)
_RECORDS = _LRU(8)
_FORESTS = _LRU(4)
_SCALES = _LRU(8)


def clear_caches() -> None:
    """Forget every loaded model, forest and per-image record (tests and benchmarks measure cold clicks)."""
    for cache in (_PREDICTORS, _RECORDS, _FORESTS, _SCALES):
        cache.clear()


def _stamp(path: Path) -> int:
    return Path(path).stat().st_mtime_ns


# --- the project's latest model --------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelChoice:
    """A succeeded training's package that knows the clicked label."""

    training_id: int
    name: str
    package: Path
    card: dict
    index: int  # the label's plane in the model's output


def latest_models(settings: Settings, engine: Engine, image: Image, label_id: int) -> tuple[
        list[ModelChoice], list[str]]:
    """The succeeded trainings of the image's project whose labels include ``label_id`` and whose package fits
    the image (channels, pixel type), newest first, and a sentence for each one passed over and why."""
    from core.inference.fit import check_image_fits
    from core.training.package import WEIGHTS, read_card

    with session_scope(engine) as session:
        trainings = repo.list_trainings(session, image.project_id, status=SUCCEEDED)
    trainings.sort(key=lambda t: (t.finished_at or t.created_at, t.id), reverse=True)
    chosen: list[ModelChoice] = []
    passed: list[str] = []
    for t in trainings:
        if not t.model_dir:
            continue
        package = settings.data_dir / t.model_dir
        try:
            card = read_card(package)
            if not (package / WEIGHTS).is_file():
                raise ModelPackageError(f"{package / WEIGHTS} is missing")
        except ModelPackageError as exc:
            if any(lab.get("id") == label_id for lab in _card_labels(package)):
                passed.append(f"model {t.name} cannot be used: {exc}")
            continue
        ids = [lab.get("id") for lab in card["labels"]]
        if label_id not in ids:
            continue
        try:
            check_image_fits(card, image.channels, image.dtype)
        except ModelPackageError as exc:
            passed.append(f"model {t.name} does not fit this image: {exc}")
            continue
        chosen.append(ModelChoice(int(t.id or 0), t.name, package, card, ids.index(label_id)))
    return chosen, passed


def _card_labels(package: Path) -> list[dict]:
    """The labels a (possibly damaged) card lists, to tell whether it mattered for this label."""
    try:
        labels = json.loads((package / "model_card.json").read_text(encoding="utf-8")).get("labels", [])
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return []
    return [lab for lab in labels if isinstance(lab, dict)] if isinstance(labels, list) else []


class ModelSource:
    """The window's label map of one label of a model (instance objects or semantic components)."""

    def __init__(self, settings: Settings, choice: ModelChoice) -> None:
        from core.inference.predictor import Predictor
        from core.training.package import CARD, WEIGHTS

        self.choice = choice
        key = (str(choice.package), _stamp(choice.package / WEIGHTS), _stamp(choice.package / CARD),
               settings.device)
        self.predictor: Predictor = _PREDICTORS.get(key, lambda: Predictor.from_package(
            choice.package, device=settings.device, batch_size=1, views=CLICK_VIEWS))
        self._key = key
        self.values = self.predictor.postprocess[choice.index]

    @property
    def min_size(self) -> int:
        return int(self.values["min_size"])

    def labels(self, reader: ImageReader, region: Region) -> np.ndarray:
        """int32 ``(h, w)`` labels of ``region`` (Apply's post-processing, before its size filter)."""
        from core.inference.stitch import segment

        p = self.predictor
        y, x, h, w = region
        _, height, width = reader.shape
        record = _RECORDS.get(
            (self._key, str(reader.path), _stamp(reader.path)),
            lambda: p.image_normalization(reader.shape, lambda *yxhw: reader.read_region(0, *yxhw)),
        )
        halo = p.halo
        y0, x0 = max(y - halo, 0), max(x - halo, 0)
        y1, x1 = min(y + h + halo, height), min(x + w + halo, width)
        norm = p.normalize(np.asarray(reader.read_region(0, y0, x0, y1 - y0, x1 - x0)), record)
        maps = p.forward(_pad32(norm)[None])
        crop = {name: value[0][:, y - y0 : y - y0 + h, x - x0 : x - x0 + w] for name, value in maps.items()}
        return segment(crop, self.choice.index, p.training_type, self.values)


def _pad32(x: np.ndarray) -> np.ndarray:
    """Reflect-pad ``(C, h, w)`` at the bottom/right to multiples of 32 (as tiled prediction pads)."""
    dh, dw = -x.shape[1] % 32, -x.shape[2] % 32
    if dh == 0 and dw == 0:
        return x
    mode = "reflect" if min(x.shape[1:]) > max(dh, dw) else "symmetric"
    return np.pad(x, ((0, 0), (0, dh), (0, dw)), mode=mode)


# --- the assistant's forest ------------------------------------------------------------------------------
class ForestSource:
    """The window's connected regions of one label in the assistant's cleaned proposal."""

    min_size = 0  # the proposal is cleaned of specks already

    def __init__(self, forest, label_id: int) -> None:  # type: ignore[no-untyped-def]
        self.forest = forest
        self.index = list(forest.label_ids).index(label_id) + 1

    def labels(self, reader: ImageReader, region: Region) -> np.ndarray:
        from core.assist import channel_scale, clean_classes, predict_region

        scale = _SCALES.get((str(reader.path), _stamp(reader.path)), lambda: channel_scale(reader))
        proposal = predict_region(reader, self.forest, region, scale=scale)
        proposal = replace(proposal, classes=clean_classes(proposal.classes))
        labels, _ = ndi.label(proposal.classes == self.index, structure=_EIGHT, output=np.int32)
        return labels


def project_forest(settings: Settings, engine: Engine, image: Image, label_id: int) -> Any | None:
    """The assistant's forest of the image's project (strokes on its images with as many channels, over all
    the project's labels, as the annotate page fits it), or None when there are no strokes of ``label_id``
    or none on the background."""
    from core.assistant import fit_forest, has_both_kinds, image_regions, project_strokes, stroked_images
    from core.imaging import open_image

    with session_scope(engine) as session:
        label_ids = tuple(int(lab.id or 0) for lab in repo.list_labels(session, image.project_id))
    stroked = stroked_images(settings, engine, image.project_id, channels=image.channels)
    scribbles = [s for im in stroked for s in im.scribbles]
    if not has_both_kinds(scribbles) or not any(s.label_id == label_id for s in scribbles):
        return None
    key = json.dumps([image.project_id, label_ids, image.channels,
                      [(im.image_id, str(im.path), [s.id for s in im.scribbles]) for im in stroked]])

    def fit() -> Any:
        regions = []
        for im in stroked:
            with open_image(im.path) as reader:
                regions += image_regions(reader, project_strokes(im.scribbles, label_ids))
        return fit_forest(regions, label_ids, channels=image.channels)

    return _FORESTS.get(key, fit)
