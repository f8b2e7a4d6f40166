"""The training types, one registry: :data:`TRAINING_TYPES` maps each name to its entry (the interface is
:class:`~core.training.types.base.TrainingType`). Code outside the entries never asks which type it has: it
asks the entry (``training_type(config.training_type).out_channels(...)``)."""

from __future__ import annotations

from core.errors import InvalidInputError
from core.training.types.base import BOXES, IMAGE_CLASSES, SHAPES, TrainingType
from core.training.types.classification import CLASSIFICATION
from core.training.types.detection import DETECTION
from core.training.types.instance import INSTANCE
from core.training.types.semantic import SEMANTIC

TRAINING_TYPES: dict[str, TrainingType] = {t.name: t for t in (SEMANTIC, INSTANCE, DETECTION, CLASSIFICATION)}

__all__ = [
    "BOXES", "IMAGE_CLASSES", "SHAPES", "TRAINING_TYPES", "TrainingType", "stored_type", "training_type",
]


def training_type(name: object) -> TrainingType:
    """The entry of ``name``; an unknown name raises :class:`InvalidInputError` listing the known ones."""
    entry = TRAINING_TYPES.get(name) if isinstance(name, str) else None
    if entry is None:
        raise InvalidInputError(f"training type {name!r} is not known; choose one of {list(TRAINING_TYPES)}")
    return entry


def stored_type(config: object) -> TrainingType | None:
    """The entry a stored training's configuration names (``Training.config``: its ``train_config``'s
    ``training_type``, else the wizard's), or None when it names none that is known (old or hand-made
    records)."""
    if not isinstance(config, dict):
        return None
    for part in ("train_config", "wizard"):
        section = config.get(part)
        name = section.get("training_type") if isinstance(section, dict) else None
        if isinstance(name, str) and name in TRAINING_TYPES:
            return TRAINING_TYPES[name]
    return None
