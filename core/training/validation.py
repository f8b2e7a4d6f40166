"""Validation on whole images (tiled when large), not on patches.

Per epoch: loss, pixel accuracy and foreground IoU (counts summed over images, reduced once) and the
training type's own scores (instance F1 at IoU 0.5 with the post-processing tuned on that epoch's maps,
detection mAP@0.5). After training: tuning of the
post-processing on the validation maps and the final per-label metrics with the tuned values.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.evaluation.pixel import pixel_counts, pixel_scores
from core.training.config import TrainConfig
from core.training.predict import predict_maps
from core.training.sampling import network_targets
from core.training.sources import TrainingImage
from core.training.types import TRAINING_TYPES
from core.training.types import training_type as _type
from core.training.types.instance import EPOCH_GRID, SEED_HEIGHT_OFFSETS  # noqa: F401  (re-exported)

#: Post-processing values searched after training, per training type (see its entry's ``tuning_grid``).
TUNING_GRIDS = {name: kind.tuning_grid for name, kind in TRAINING_TYPES.items()}


@dataclass
class ValImage:
    """A validation image held in memory: pixels ``(C, H, W)``, labels ``(L, H, W)`` (instance ids or
    bool masks), valid ``(H, W)``."""

    key: str
    pixels: np.ndarray
    labels: np.ndarray
    valid: np.ndarray
    #: the source's exact object boxes ``(label, y0, x0, y1, x1)`` (detection scores boxes, not planes)
    boxes: list = field(default_factory=list)


def load_val_images(images: Sequence[TrainingImage], config: TrainConfig) -> list[ValImage]:
    """Read the validation images and their ground truth once."""
    kind = _type(config.training_type)
    out = []
    for im in images:
        truth = im.targets(0, 0, im.height, im.width)
        labels = kind.ground_truth(truth)
        pixels = np.asarray(im.read(0, 0, im.height, im.width))
        valid = np.asarray(truth["valid"], dtype=bool)
        out.append(ValImage(im.key, pixels, labels, valid, list(im.object_boxes)))
    return out


def foreground(maps: dict[str, np.ndarray], training_type: str) -> np.ndarray:
    """bool ``(L, H, W)`` foreground at probability 0.5 (the training type's foreground maps)."""
    return _type(training_type).foreground(maps)


def validate(
    model: torch.nn.Module, card: dict, images: Sequence[ValImage], config: TrainConfig, *, views: int = 1,
    type_scores: bool = True,
) -> tuple[dict, list[dict[str, np.ndarray]]]:
    """Epoch validation: ``({"val_loss", "val_accuracy", "val_iou", "predict_seconds", ...}, maps per
    image)``, where the training type adds its own scores (instance ``val_f1``, semantic ``val_iou_tuned``:
    :meth:`~core.training.types.base.TrainingType.epoch_record`; left out with ``type_scores=False``, for the
    final stage, which searches the maps completely itself); ``predict_seconds`` the time the network
    passes took, ``search_seconds`` the time the type's scores took (its post-processing search). Epochs are
    validated with one view (cheap, comparable); the chosen weights once more with the card's views."""
    kind = _type(config.training_type)
    counts = np.zeros((config.n_labels, 4), dtype=np.int64)
    losses, weights, all_maps = [], [], []
    predict_s = 0.0
    for im in images:
        start = time.monotonic()
        maps = predict_maps(model, card, im.pixels, views=views)
        predict_s += time.monotonic() - start
        all_maps.append(maps)
        targets = network_targets(im.labels, im.valid, config, rays=False)
        tmaps = {k: torch.from_numpy(v).unsqueeze(0) for k, v in maps.items()}
        ttargets = {k: torch.from_numpy(np.ascontiguousarray(v)).unsqueeze(0) for k, v in targets.items()}
        losses.append(float(kind.loss_from_maps(tmaps, ttargets)))
        weights.append(float(im.valid.sum()))
        counts += pixel_counts(kind.foreground(maps), kind.truth_foreground(im.labels), im.valid)
    record = {"val_loss": float(np.average(losses, weights=np.maximum(weights, 1.0)))}
    record["predict_seconds"] = predict_s
    record.update(_pixel_summary(counts, "val"))
    start = time.monotonic()
    if type_scores:
        record.update(kind.epoch_record(all_maps, images, config))
    record["search_seconds"] = time.monotonic() - start
    return record, all_maps


def score_of(record: dict, training_type: str) -> float:
    """The number the best checkpoint is chosen by: the training type's score (instance F1, semantic IoU, both
    with post-processing tuned), else the IoU at probability 0.5."""
    value = _type(training_type).score(record)
    if value is None:
        value = record.get("val_iou")
    return -1.0 if value is None else float(value)


def tune_and_score(
    maps: Sequence[dict[str, np.ndarray]],
    images: Sequence[ValImage],
    config: TrainConfig,
    *,
    tune: bool = True,
) -> tuple[list[dict], dict]:
    """Tune post-processing per label on the validation maps; then the final metrics with those values.

    Returns ``(postprocess values per label, metrics)`` where metrics has ``per_label`` and the training
    type's headline scores (pixel types: ``mean_iou``, and ``mean_f1`` for instance; detection ``map_50``):
    :meth:`~core.training.types.base.TrainingType.tune_and_score`.
    """
    return _type(config.training_type).tune_and_score(maps, images, config, tune=tune)


def refine_seed_height(
    maps: Sequence[dict[str, np.ndarray]], images: Sequence[ValImage], config: TrainConfig, params: list[dict]
) -> tuple[list[dict], dict | None]:
    """Search again, per label, the seed heights at
    :data:`~core.training.types.instance.SEED_HEIGHT_OFFSETS` from the tuned one (with the rest of the grid),
    and keep what scores strictly better (:meth:`~core.training.types.base.TrainingType.refine`).

    ``params`` as :func:`tune_and_score` returned them for these maps. Returns ``(params, metrics)``, where
    metrics is None when no label changed (the caller's metrics stand). Types without a refinement
    (semantic) and untuned values are returned as they are.
    """
    refined = _type(config.training_type).refine(maps, images, params)
    return (refined, final_metrics(maps, images, config, refined)) if refined is not None else (params, None)


def final_metrics(
    maps: Sequence[dict[str, np.ndarray]], images: Sequence[ValImage], config: TrainConfig, params: list[dict]
) -> dict:
    """Per-label scores on the validation images with the given post-processing (the training type's
    :meth:`~core.training.types.base.TrainingType.final_metrics`)."""
    return _type(config.training_type).final_metrics(maps, images, config, params)


def _pixel_summary(counts: np.ndarray, prefix: str) -> dict:
    """Mean foreground IoU over labels and pixel accuracy of summed counts (None where undefined)."""
    scores = pixel_scores(counts)
    ious = [s["iou"] for s in scores if s["iou"] is not None]
    accs = [s["accuracy"] for s in scores if s["accuracy"] is not None]
    return {
        f"{prefix}_iou": float(np.mean(ious)) if ious else None,
        f"{prefix}_accuracy": float(np.mean(accs)) if accs else None,
    }
