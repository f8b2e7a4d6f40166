"""Click-to-segment: one click on an object proposes its outline.

The outline comes from the project's latest model that knows the label when there is one, else from the
assistant's forest (:mod:`core.annotations.click_sources`). Only a window around the click is read and
predicted (:data:`WINDOW` full-resolution pixels a side, clipped to the image), so whole-slide images cost
no more than small ones; when the object reaches a side of the window that is not the image's border the
window doubles about the object, at most :data:`MAX_GROWTH` times.

The clicked object is the one whose pixels hold the click, or else the nearest within :data:`NEAR` pixels;
its 8-connected piece nearest the click is outlined along the pixel edges
(:func:`core.annotations.mask_import.piece_outline`, holes bridged into the ring), so rasterising the
polygon gives back exactly the object's pixels. The page shows the proposal and accepts it with Enter.
"""

from __future__ import annotations

import math
import pickle
import zipfile
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from sqlalchemy.engine import Engine

from core.annotations.click_sources import ForestSource, ModelSource, Region, latest_models, project_forest
from core.annotations.mask_import import piece_outline
from core.config import Settings
from core.db import repo, session_scope
from core.db.models import Image
from core.errors import InvalidInputError, ModelPackageError
from core.imaging import open_image
from core.imaging.reader import ImageReader
from core.projects import image_path

#: side of the first window predicted around a click, in full-resolution image pixels
WINDOW = 512
#: how many times the window may double when the object reaches its side
MAX_GROWTH = 3
#: a click this close (pixels) to an object picks it
NEAR = 4
_EIGHT = np.ones((3, 3), dtype=bool)
NOTHING_TO_ASK = "Train a model or brush a few Assist strokes first"


@dataclass(frozen=True)
class ClickProposal:
    """What a click found. ``points``: one polygon ``[[x, y], ...]`` in full-resolution image coordinates
    (``[]`` if nothing was found); ``source``: ``"model <training name>"``, ``"assistant"``, or ``"none"``
    when the project has neither; ``message``: one line for the user."""

    points: list[list[float]]
    source: str
    message: str


def propose_outline(settings: Settings, engine: Engine, image_id: int, x: float, y: float,
                    label_id: int) -> ClickProposal:
    """The outline of the ``label_id`` object at the click ``(x, y)`` (image pixels) on image ``image_id``."""
    image, label_name = _check_click(engine, image_id, x, y, label_id)
    model, name, passed = _model_source(settings, engine, image, label_id)
    note = f" ({'; '.join(passed)})" if passed else ""
    source: ModelSource | ForestSource | None = model
    if source is None:
        forest = project_forest(settings, engine, image, label_id)
        if forest is None:
            return ClickProposal([], "none", f"No model knows {label_name} and the assistant has no strokes "
                                             f"of it yet: {NOTHING_TO_ASK}.{note}")
        source, name = ForestSource(forest, label_id), "assistant"
    with open_image(image_path(settings, image)) as reader:
        mask, origin, cut = _object_at(reader, source, x, y)
    if mask is None:
        where = f"({x:.0f}, {y:.0f})"
        return ClickProposal([], name, f"The {name} finds no {label_name} at {where}; click inside an object"
                                       f", or draw it by hand.{note}")
    ring = piece_outline(np.pad(mask, 1)) + np.array([origin[1] - 1, origin[0] - 1], dtype=np.float64)
    area = int(mask.sum())
    message = f"The {name} proposes a {label_name} of {area} px; press Enter to accept it."
    if cut:
        message += " It reaches the edge of the searched area and may be cut off; check its outline."
    return ClickProposal(ring.tolist(), name, message + note)


def _model_source(settings: Settings, engine: Engine, image: Image,
                  label_id: int) -> tuple[ModelSource | None, str, list[str]]:
    """The newest model of the label whose network loads, its name for the user, and the newer ones passed
    over (a damaged package is named, and the next one is used)."""
    candidates, passed = latest_models(settings, engine, image, label_id)
    for choice in candidates:
        try:
            return ModelSource(settings, choice), f"model {choice.name}", passed
        except ModelPackageError as exc:
            passed.append(f"model {choice.name} cannot be used: {exc}")
        except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile) as exc:  # load_model lets these through
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
            passed.append(f"model {choice.name} cannot be used: its weights cannot be read ({reason})")
    return None, "", passed


def _check_click(engine: Engine, image_id: int, x: float, y: float, label_id: int) -> tuple[Image, str]:
    """The image and the label's name, once the click and the label are known to be valid."""
    for name, value in (("x", x), ("y", y)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not math.isfinite(value):
            raise InvalidInputError(f"the click's {name}={value!r} must be a finite number of image pixels")
    with session_scope(engine) as session:
        image = repo.get_image(session, image_id)
        labels = {lab.id: lab.name for lab in repo.list_labels(session, image.project_id)}
    if label_id not in labels:
        raise InvalidInputError(
            f"label {label_id!r} is not a label of this image's project (its labels: "
            f"{', '.join(f'{i} {n}' for i, n in labels.items()) or 'none yet'}); choose one of them"
        )
    if not (0 <= x < image.width and 0 <= y < image.height):
        raise InvalidInputError(
            f"the click ({x:.1f}, {y:.1f}) lies outside the image ({image.width} x {image.height} px); "
            "click on the image"
        )
    return image, labels[label_id]


def window_around(cy: float, cx: float, size: int, height: int, width: int) -> Region:
    """The ``size`` x ``size`` region centred on ``(cy, cx)``, moved inside the image and clipped to it."""
    h, w = min(size, height), min(size, width)
    y = min(max(int(round(cy - h / 2)), 0), height - h)
    x = min(max(int(round(cx - w / 2)), 0), width - w)
    return y, x, h, w


def _object_at(reader: ImageReader, source: ModelSource | ForestSource, x: float,
               y: float) -> tuple[np.ndarray | None, tuple[int, int], bool]:
    """(bool mask of the clicked object's piece or None, its top-left ``(y, x)`` in the image, whether it
    still reaches a window side inside the image after the last growth)."""
    _, height, width = reader.shape
    region = window_around(y, x, WINDOW, height, width)
    for growth in range(MAX_GROWTH + 1):
        wy, wx, h, w = region
        labels = source.labels(reader, region)
        mask = _pick(labels, y - wy, x - wx, source.min_size)
        if mask is None:
            return None, (0, 0), False
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        touches = ((r0 == 0 and wy > 0) or (r1 == h and wy + h < height)
                   or (c0 == 0 and wx > 0) or (c1 == w and wx + w < width))
        if not touches or growth == MAX_GROWTH:
            return mask[r0:r1, c0:c1], (wy + r0, wx + c0), touches
        region = window_around(wy + (r0 + r1) / 2, wx + (c0 + c1) / 2, 2 * max(h, w), height, width)
    raise AssertionError("unreachable")  # pragma: no cover


def _pick(labels: np.ndarray, cy: float, cx: float, min_size: int) -> np.ndarray | None:
    """The 8-connected piece, nearest the click, of the object at or within :data:`NEAR` pixels of the click
    ``(cy, cx)`` (window pixels); None when there is none or it is smaller than ``min_size``."""
    r, c = min(int(cy), labels.shape[0] - 1), min(int(cx), labels.shape[1] - 1)
    ident = int(labels[r, c])
    if ident == 0:
        r0, c0 = max(r - NEAR, 0), max(c - NEAR, 0)
        box = labels[r0 : r + NEAR + 1, c0 : c + NEAR + 1]
        near = np.argwhere(box > 0)
        if near.size == 0:
            return None
        d2 = ((near + [r0, c0] - [r, c]) ** 2).sum(axis=1)
        if d2.min() > NEAR * NEAR:
            return None
        ident = int(box[tuple(near[int(np.argmin(d2))])])
    obj = labels == ident
    if int(obj.sum()) < max(min_size, 1):
        return None
    pieces, n = ndi.label(obj, structure=_EIGHT)
    if n == 1:
        return obj
    if pieces[r, c]:
        return pieces == pieces[r, c]
    where = np.argwhere(pieces > 0)
    nearest = where[int(np.argmin(((where - [r, c]) ** 2).sum(axis=1)))]
    return pieces == pieces[tuple(nearest)]
