"""The training configuration: what the wizard (or the CLI) chose, as one plain dataclass.

`TrainConfig.to_dict()` gives JSON for the database; `TrainConfig.from_dict()` reads it back and validates it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from core.errors import InvalidInputError
from core.training.encoders import DEFAULT_ENCODER
from core.training.types import TRAINING_TYPES as _REGISTRY
from core.training.types import training_type
from core.values import is_number, is_whole

#: The names of the training types (the keys of :data:`core.training.types.TRAINING_TYPES`).
TRAINING_TYPES = tuple(_REGISTRY)
MIN_SCALE = 0.25  # the smallest working scale (see core.training.scale)
#: Test-time view counts (see core.training.views): 1 = the image as it is; 2 adds its mirror image; 4 every
#: mirroring; 8 every mirroring and rotation.
VIEW_COUNTS = (1, 2, 4, 8)
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class LabelSpec:
    """One label the model learns: its database id, its name and its display colour (``#rrggbb``)."""

    id: int
    name: str
    color: str = "#e6194b"


@dataclass(frozen=True)
class AugmentOptions:
    """Which augmentations run on each training patch (all on by default)."""

    flips: bool = True
    rot90: bool = True
    elastic: bool = True
    intensity: bool = True
    noise: bool = True
    elastic_alpha: float = 6.0  # displacement amplitude in pixels
    elastic_grid: int = 32  # spacing of the coarse random displacement grid in pixels
    # pixel trainings: each patch is magnified by a factor drawn log-uniformly from [1/zoom, zoom], so that
    # objects are learnt at sizes other than the training images' own (a generalist model); 1 = off
    zoom: float = 1.0


@dataclass(frozen=True)
class StartChoice:
    """The trained model a training starts from (fine-tuning, :mod:`core.training.transfer`): its key in
    the model catalog ("training:12", "imported:<folder>"; :func:`core.predictions.model_catalog`) and the
    label mapping as pairs (this training's label id, the model's label id); a label left out learns from
    scratch."""

    key: str
    label_map: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        pairs = tuple(tuple(pair) for pair in self.label_map)
        object.__setattr__(self, "label_map", pairs)

    @property
    def mapping(self) -> dict[int, int]:
        return {int(new): int(old) for new, old in self.label_map}


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs besides the images.

    ``batch_size`` and ``learning_rate`` accept ``"auto"`` (chosen from memory / by a range test).
    ``max_steps`` and ``steps_per_epoch`` make a run step-bound (tests, reproducibility); by default the
    run is bound by the time budget given to :func:`core.training.loop.train` and an epoch is a slice of it.
    """

    training_type: str
    labels: tuple[LabelSpec, ...]
    encoder: str = DEFAULT_ENCODER
    patch_size: int = 128  # on 2 CPU cores more small patches learn faster than fewer large ones
    batch_size: int | str = "auto"
    learning_rate: float | str = "auto"
    seed: int = 0
    roi_only: bool = False
    duration: str = "quick"
    epochs: int = 15  # number of time slices the budget is cut into when steps_per_epoch is None
    steps_per_epoch: int | None = None
    max_steps: int | None = None
    object_bias: float = 2 / 3  # share of patches centred on a random annotated object
    weight_decay: float = 1e-4
    boundary_width: int = 1
    use_distance_head: bool = True  # instance only: a distance-to-boundary map per label
    # instance only: extra loss weight of the pixels where two objects meet (core.training.losses); 0: none
    contact_weight: float = 4.0
    # instance only: the network also learns each object pixel's distance to the object's edge along 16
    # directions (core.evaluation.targets.ray_distances), a training-only task (core.training.models)
    edge_rays: bool = True
    augment: AugmentOptions = field(default_factory=AugmentOptions)
    tune_postprocessing: bool = True
    normalization: str = "auto"  # auto | dataset | image (see core.training.normalization)
    scale: float | str = "auto"  # working scale: auto | a number in [MIN_SCALE, 1] (see core.training.scale)
    views: int = 8  # flipped/rotated views tried; kept where they validate better (core.training.views)
    # share of the training after which the weights are averaged (core.training.averaging); None: not at all
    average_from: float | None = 0.7
    start: StartChoice | None = None  # a trained model to start from; None: random weights

    def __post_init__(self) -> None:
        labels = tuple(lab if isinstance(lab, LabelSpec) else LabelSpec(**lab) for lab in self.labels)
        object.__setattr__(self, "labels", labels)
        if isinstance(self.augment, dict):
            object.__setattr__(self, "augment", AugmentOptions(**self.augment))
        if isinstance(self.start, dict):
            object.__setattr__(self, "start", _start_choice(self.start))
        _validate(self)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = [asdict(lab) for lab in self.labels]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(
                f"training configuration has unknown keys {unknown}; known keys are {sorted(known)}"
            )
        values = dict(data)
        values["labels"] = tuple(LabelSpec(**lab) for lab in values.get("labels", ()))
        if "augment" in values and isinstance(values["augment"], dict):
            values["augment"] = AugmentOptions(**values["augment"])
        if isinstance(values.get("start"), dict):
            values["start"] = _start_choice(values["start"])
        return cls(**values)


def _start_choice(data: dict) -> StartChoice:
    unknown = sorted(set(data) - {"key", "label_map"})
    if unknown:
        raise InvalidInputError(f"the starting model {data!r} has unknown keys {unknown}; known: key, label_map")
    pairs = data.get("label_map") or ()
    if not isinstance(pairs, (list, tuple)) or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(is_whole(v) for v in p) for p in pairs):
        raise InvalidInputError(f"the starting model's label_map {pairs!r} must be a list of [this training's "
                                "label id, the model's label id] pairs")
    return StartChoice(str(data.get("key", "")), tuple((int(a), int(b)) for a, b in pairs))


def check_scale(value: object) -> float:
    """A working scale given as a number: from :data:`MIN_SCALE` to 1."""
    ok = is_number(value) and MIN_SCALE <= float(value) <= 1.0
    if not ok:
        raise InvalidInputError(
            f"scale={value!r} must be 'auto' or a number from {MIN_SCALE} to 1 (1 = full resolution, "
            "0.5 = half the pixels in each direction)"
        )
    return float(value)


def check_views(value: object) -> int:
    """A test-time view count: one of :data:`VIEW_COUNTS`."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in VIEW_COUNTS:
        raise InvalidInputError(
            f"views={value!r} must be one of {list(VIEW_COUNTS)} (1 = the fastest prediction; 8 = every flip "
            "and rotation averaged, 8 times the prediction time)"
        )
    return value


def _validate(cfg: TrainConfig) -> None:
    training_type(cfg.training_type)  # an unknown name lists the known ones
    if not cfg.labels:
        raise InvalidInputError("no label chosen; select at least one label to train on")
    ids = [lab.id for lab in cfg.labels]
    if len(set(ids)) != len(ids):
        raise InvalidInputError(f"label ids {ids} contain duplicates; select each label once")
    for lab in cfg.labels:
        if not _COLOUR.match(lab.color):
            raise InvalidInputError(f"label {lab.name!r} has colour {lab.color!r}; use #rrggbb, e.g. '#e6194b'")
    if not isinstance(cfg.patch_size, int) or cfg.patch_size < 32 or cfg.patch_size % 32:
        raise InvalidInputError(f"patch_size={cfg.patch_size!r} must be a multiple of 32 and at least 32, e.g. 256")
    if cfg.batch_size != "auto" and (not isinstance(cfg.batch_size, int) or cfg.batch_size < 1):
        raise InvalidInputError(f"batch_size={cfg.batch_size!r} must be 'auto' or a positive integer")
    if cfg.learning_rate != "auto" and (
        not isinstance(cfg.learning_rate, (int, float)) or not 0 < float(cfg.learning_rate) < 1
    ):
        raise InvalidInputError(f"learning_rate={cfg.learning_rate!r} must be 'auto' or a number in (0, 1)")
    for name in ("steps_per_epoch", "max_steps"):
        value = getattr(cfg, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise InvalidInputError(f"{name}={value!r} must be None or a positive integer")
    if not isinstance(cfg.epochs, int) or cfg.epochs < 1:
        raise InvalidInputError(f"epochs={cfg.epochs!r} must be a positive integer")
    if cfg.normalization not in ("auto", "dataset", "image"):
        raise InvalidInputError(
            f"normalization={cfg.normalization!r} is not known; use 'auto', 'dataset' or 'image'"
        )
    if cfg.scale != "auto":
        check_scale(cfg.scale)
    check_views(cfg.views)
    if cfg.average_from is not None and not (is_number(cfg.average_from) and 0.0 <= cfg.average_from < 1.0):
        raise InvalidInputError(
            f"average_from={cfg.average_from!r} must be None (no weight averaging) or a share of the training "
            "from 0 up to, not including, 1, e.g. 0.5 for its second half"
        )
    if not (is_number(cfg.contact_weight) and 0.0 <= cfg.contact_weight <= 100.0):
        raise InvalidInputError(
            f"contact_weight={cfg.contact_weight!r} must be a number from 0 (no extra weight where objects "
            "touch) to 100, e.g. 4 to count those pixels five times"
        )
    if not isinstance(cfg.edge_rays, bool):
        raise InvalidInputError(
            f"edge_rays={cfg.edge_rays!r} must be True (also learn the distances to the object's edge along 16 "
            "directions, which helps to keep touching objects apart) or False"
        )
    zoom = cfg.augment.zoom
    if not (is_number(zoom) and 1.0 <= zoom <= 4.0):
        raise InvalidInputError(
            f"augment zoom={zoom!r} must be a number from 1 (off) to 4, e.g. 1.6 to magnify or shrink each "
            "training patch by up to 1.6 times")
    if cfg.start is not None:
        _check_start(cfg)
    if not 0.0 <= cfg.object_bias <= 1.0:
        raise InvalidInputError(f"object_bias={cfg.object_bias!r} must be between 0 and 1")


def _check_start(cfg: TrainConfig) -> None:
    start = cfg.start
    if not isinstance(start, StartChoice) or not isinstance(start.key, str) or ":" not in start.key:
        raise InvalidInputError(
            f"start={start!r} must name a model of the catalog, e.g. 'training:12' or 'imported:<folder>'")
    ids = {lab.id for lab in cfg.labels}
    news = [new for new, _ in start.label_map]
    if len(set(news)) != len(news) or not set(news) <= ids:
        raise InvalidInputError(
            f"the starting model's label mapping {list(start.label_map)} must map each of this training's label "
            f"ids ({sorted(ids)}) at most once")
