"""The network as tiled inference sees it: a trained model, its card, a device and a precision.

:class:`Predictor` turns batches of normalised tiles ``(N, C, h, w)`` float32 into probability maps
(the maps its training type uses: ``{"prob"}`` for semantic models, ``{"interior", "boundary"}`` +
``"distance"`` for instance models, ``{"heat", "box_h", "box_w"}`` for detection models; each
``(N, L, h, w)`` float32, the box sides ``(N, 1, h, w)`` in image pixels). It also reads from the model
card what the tiled pipeline needs: the normalisation, the post-processing values per label and the halo
(:mod:`core.inference.receptive`).

Model card keys read here: ``training_type``, ``labels`` (``[{"id", "name", "color"}, ...]``),
``in_channels``, ``normalization``, ``distance_head``, ``encoder``; optional ``postprocess``: either one
dict ``{"threshold", "seed_threshold", "seed_height", "min_size"}`` (detection: ``{"score_threshold",
"nms_iou"}``) for every label, a list of such dicts in label order, or a dict keyed by label name (or id) of
such dicts; missing values fall back to :data:`core.evaluation.postprocess.POSTPROCESS_DEFAULTS` and the
training type's defaults; optional ``largest_box`` (detection: the longest side of the training's boxes,
which sets the tiles' overlap, :mod:`core.inference.tiled_boxes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.errors import InvalidInputError, ModelPackageError
from core.evaluation.postprocess import POSTPROCESS_DEFAULTS
from core.inference.receptive import default_halo, round_halo
from core.training.device import pick_device
from core.training.models import logits_to_maps
from core.training.normalization import apply_normalization, card_normalization, region_normalization
from core.training.scale import card_scale, resize_batch, scaled_size
from core.training.types import TRAINING_TYPES, TrainingType
from core.training.views import LENGTH_MAPS, averaged_maps, card_views, check_views
from core.training.package import load_model
from core.training.sources import ReadFn

_CARD_KEYS = ("training_type", "labels", "in_channels", "normalization")
#: the network tile's core side tiled prediction uses by default (pixels)
TILE = 512


@dataclass
class Predictor:
    """A model ready for inference. Build with :meth:`from_package` or directly from a model and its card.

    ``amp_dtype`` None runs in float32; ``channels_last`` converts model and batches to NHWC;
    ``batch_size`` is how many tiles go through one forward call; ``views`` how many flipped and rotated
    views of each tile are averaged (:mod:`core.training.views`), None for the model card's.
    """

    model: torch.nn.Module
    card: dict
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False
    batch_size: int = 4
    views: int | None = None

    def __post_init__(self) -> None:
        _check_card(self.card)
        self.device = torch.device(self.device)
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise InvalidInputError(f"batch_size={self.batch_size!r} must be a positive integer, e.g. 4")
        self.model = self.model.to(self.device).eval()
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.postprocess = postprocess_values(self.card)
        self.scale = card_scale(self.card)
        self.views = card_views(self.card) if self.views is None else check_views(self.views)

    @classmethod
    def from_package(
        cls,
        package_dir: Path,
        *,
        device: str = "auto",
        batch_size: int | None = None,
        views: int | None = None,
    ) -> Predictor:
        """Load a model package (weights with ``weights_only=True``) onto ``device`` (auto | cpu | cuda);
        ``views`` None predicts with as many views as the model card says."""
        choice = pick_device(device)
        model, card = load_model(Path(package_dir), choice.device)
        if batch_size is None:
            batch_size = 8 if choice.device.type == "cuda" else 2
        return cls(model, card, choice.device, choice.amp_dtype, choice.channels_last, batch_size, views)

    # What the card says ---------------------------------------------------------------
    @property
    def training_type(self) -> str:
        return str(self.card["training_type"])

    @property
    def kind(self) -> TrainingType:
        """The training type's registry entry."""
        return TRAINING_TYPES[self.training_type]

    @property
    def in_channels(self) -> int:
        return int(self.card["in_channels"])

    @property
    def labels(self) -> list[dict]:
        return list(self.card["labels"])

    @property
    def n_labels(self) -> int:
        return len(self.card["labels"])

    @property
    def distance(self) -> bool:
        return self.kind.distance(bool(self.card.get("distance_head", False)))

    @property
    def map_names(self) -> tuple[str, ...]:
        """Names of the maps :meth:`forward` returns."""
        return self.kind.maps_used + (("distance",) if self.distance else ())

    @property
    def tile(self) -> int:
        """The network tile's core side tiled prediction uses (pixels, a multiple of 32)."""
        return TILE

    @property
    def halo(self) -> int:
        """The default halo in image pixels for this model's encoder (see :mod:`core.inference.receptive`);
        a model working at a scale below 1 sees that much further in image pixels."""
        halo = default_halo(self.card)
        return halo if self.scale == 1.0 else round_halo(halo / self.scale)

    # Work --------------------------------------------------------------------------------
    def normalize(self, image: np.ndarray, record: dict | None = None) -> np.ndarray:
        """``(C, H, W)`` raw pixels -> float32 ``(C, H, W)`` with the card's normalisation, or with
        ``record`` (the card's resolved for the whole image by :meth:`image_normalization`, for regions)."""
        return apply_normalization(image, card_normalization(self.card) if record is None else record)

    def image_normalization(self, shape: tuple[int, ...], read: ReadFn) -> dict:
        """The card's normalisation resolved for one whole image of ``shape`` ``(C, H, W)`` read by
        ``read(y, x, h, w)``: its own percentiles with the stretch floor when the card's scope is "image"
        (as training and validation resolve it; :func:`~core.training.normalization.floor_warning` says when
        the floor applied), else the card's record itself."""
        return region_normalization(shape, read, card_normalization(self.card))

    def forward(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Normalised tiles ``(N, C, h, w)`` float32 (h, w multiples of 32) -> ``{map: (N, L, h, w)}``.

        At a working scale below 1 the tiles are shrunk for the network and its maps resized back (maps of
        lengths, :data:`~core.training.views.LENGTH_MAPS`, also multiplied by the stretch); with several views
        each network pass is the mean of the views' maps."""
        batch = self._check_batch(batch)
        h, w = batch.shape[2:]
        with torch.inference_mode():
            tensor = torch.from_numpy(batch).to(self.device, non_blocking=True)
            if self.scale == 1.0:
                maps = averaged_maps(self._network, tensor, self.views)
            else:
                hs, ws = scaled_size(h, self.scale), scaled_size(w, self.scale)
                small = resize_batch(tensor, (hs, ws))
                pad_h, pad_w = -hs % 32, -ws % 32
                if pad_h or pad_w:
                    mode = "reflect" if min(hs, ws) > max(pad_h, pad_w) else "replicate"
                    small = torch.nn.functional.pad(small, (0, pad_w, 0, pad_h), mode=mode)
                maps = averaged_maps(self._network, small, self.views)
                stretch = (h / hs, w / ws)  # lengths in working pixels (box sides) become image pixels
                maps = {name: resize_batch(value[:, :, :hs, :ws], (h, w))
                        * (stretch[LENGTH_MAPS[name]] if name in LENGTH_MAPS else 1.0)
                        for name, value in maps.items()}
            return {name: value.cpu().numpy() for name, value in maps.items()}

    def _network(self, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
        """The maps this predictor keeps (float32), from a batch whose sides are multiples of 32; call in
        inference mode."""
        if self.channels_last:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        autocast = (
            torch.autocast(self.device.type, dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else torch.autocast(self.device.type, enabled=False)
        )
        with autocast:
            logits = self.model(tensor)
        maps = logits_to_maps(logits, self.training_type, self.n_labels, distance=self.distance)
        return {name: maps[name].float() for name in self.map_names}

    def _check_batch(self, batch: np.ndarray) -> np.ndarray:
        arr = np.asarray(batch)
        if arr.ndim != 4 or arr.shape[1] != self.in_channels:
            raise InvalidInputError(
                f"batch has shape {arr.shape}; expected (N, C={self.in_channels}, h, w) normalised tiles"
            )
        if arr.shape[2] % 32 or arr.shape[3] % 32 or 0 in arr.shape:
            raise InvalidInputError(
                f"tile size {arr.shape[2]}x{arr.shape[3]} must be a positive multiple of 32 "
                "in both directions; "
                "pad the tiles (reflect) to a multiple of 32"
            )
        return np.ascontiguousarray(arr, dtype=np.float32)


def postprocess_values(card: dict) -> list[dict]:
    """Post-processing values per label, in label order: ``{"threshold", "seed_threshold", "seed_height",
    "min_size"}`` (values a card lacks take :data:`~core.evaluation.postprocess.POSTPROCESS_DEFAULTS`) and
    the values of the card's training type that those do not name (a detection model's
    ``score_threshold`` and ``nms_iou``, from the type's :meth:`~TrainingType.default_postprocess` where the
    card lacks them)."""
    name = card.get("training_type")
    known = TRAINING_TYPES.get(name) if isinstance(name, str) else None
    defaults = dict(POSTPROCESS_DEFAULTS)
    if known is not None:
        defaults.update({k: v for k, v in known.default_postprocess().items() if k not in defaults})
    raw = card.get("postprocess") or {}
    if isinstance(raw, list):  # the training package's form: one entry per label, in label order
        if len(raw) != len(card["labels"]):
            raise ModelPackageError(
                f"the model card has post-processing values for {len(raw)} labels but {len(card['labels'])} labels"
            )
        raw = {str(lab.get("name")): entry for lab, entry in zip(card["labels"], raw, strict=True)}
    if not isinstance(raw, dict):
        raise ModelPackageError(f"the model card's postprocess is {raw!r}; expected a JSON object")
    per_label = not (set(raw) & set(defaults))
    out = []
    for lab in card["labels"]:
        values = dict(defaults)
        if per_label:
            chosen = raw.get(str(lab.get("name")), raw.get(str(lab.get("id")), {}))
        else:
            chosen = raw
        if not isinstance(chosen, dict):
            raise ModelPackageError(
                f"post-processing values {chosen!r} of label {lab.get('name')!r} are not an object"
            )
        values.update({k: v for k, v in chosen.items() if k in defaults})
        out.append(_check_values(values, lab))
    return out


#: post-processing values that are fractions (probabilities, IoUs)
FRACTIONS = ("threshold", "seed_threshold", "seed_height", "score_threshold", "nms_iou")


def _check_values(values: dict, lab: dict) -> dict:
    name = lab.get("name")
    for key in (k for k in FRACTIONS if k in values):
        try:
            number = float(values[key])
        except (TypeError, ValueError):
            number = float("nan")
        if not 0.0 <= number <= 1.0:
            raise ModelPackageError(
                f"the model card's {key}={values[key]!r} for label {name!r} must be a number between 0 and 1"
            )
        values[key] = number
    size = values["min_size"]
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
        raise ModelPackageError(
            f"the model card's min_size={size!r} for label {name!r} must be a whole number >= 0"
        )
    values["min_size"] = int(size)
    return values


def _check_card(card: dict) -> None:
    if not isinstance(card, dict):
        raise ModelPackageError(f"the model card must be a JSON object, got {type(card).__name__}")
    missing = [key for key in _CARD_KEYS if key not in card]
    if missing:
        raise ModelPackageError(f"the model card lacks {missing}; the package is damaged, export it again")
    if card["training_type"] not in TRAINING_TYPES:
        raise ModelPackageError(
            f"the model card's training_type {card['training_type']!r} is not known; "
            f"expected one of {list(TRAINING_TYPES)}"
        )
    labels = card["labels"]
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(lab, dict) and "name" in lab for lab in labels)
    ):
        raise ModelPackageError(
            f"the model card's labels {labels!r:.120} must be a non-empty list of {{'id', 'name'}}"
        )
