"""Validation on whole images (tiled when large), not on patches.

Per epoch: loss, pixel accuracy and foreground IoU (counts summed over images, reduced once) and, for
instance training, F1 at IoU 0.5 with the post-processing tuned on that epoch's maps. After training: tuning of the
post-processing on the validation maps and the final per-label metrics with the tuned values.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.evaluation.instance import InstanceCounts, instance_scores, match_instances
from core.evaluation.pixel import pixel_counts, pixel_scores
from core.evaluation.postprocess import POSTPROCESS_DEFAULTS, instances_from_maps, semantic_from_prob
from core.evaluation.tuning import tune_postprocessing
from core.training.config import TrainConfig
from core.training.losses import loss_from_maps
from core.training.predict import predict_maps
from core.training.sampling import network_targets
from core.training.sources import TrainingImage


#: Post-processing values searched after training (wider than the evaluation defaults: short trainings give
#: soft maps whose best thresholds are often high).
TUNING_GRIDS = {
    "instance": {
        "threshold": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        "seed_threshold": [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        "seed_height": [0.0, 0.1, 0.2],
        "min_size": [0, 5, 10, 20, 40],
    },
    "semantic": {"threshold": [0.3, 0.4, 0.5, 0.6, 0.7], "min_size": [0, 10, 50, 200]},
}
#: Each epoch's instance F1 (which picks the best epoch) searches threshold seeds only: h-maxima seeds cost
#: five times the search time every epoch, and the final search tries them on the chosen weights.
EPOCH_GRID = {**TUNING_GRIDS["instance"], "seed_height": [0.0]}
#: Offsets from the chosen seed height that :func:`refine_seed_height` tries on the final maps. Which maxima
#: split two touching objects turns on steps finer than the grid's 0.1: on five kept dsb2018_fluo models the
#: finer heights raised F1@0.5 by 0.000 to 0.013 (0.006 on average).
SEED_HEIGHT_OFFSETS = (-0.05, -0.025, 0.025, 0.05)


@dataclass
class ValImage:
    """A validation image held in memory: pixels ``(C, H, W)``, labels ``(L, H, W)`` (instance ids or
    bool masks), valid ``(H, W)``."""

    key: str
    pixels: np.ndarray
    labels: np.ndarray
    valid: np.ndarray


def load_val_images(images: Sequence[TrainingImage], config: TrainConfig) -> list[ValImage]:
    """Read the validation images and their ground truth once."""
    out = []
    for im in images:
        truth = im.targets(0, 0, im.height, im.width)
        if config.training_type == "instance":
            labels = np.asarray(truth["instances"], dtype=np.int32)
        else:
            labels = np.asarray(truth["masks"] if "masks" in truth else truth["instances"] > 0, dtype=bool)
        pixels = np.asarray(im.read(0, 0, im.height, im.width))
        out.append(ValImage(im.key, pixels, labels, np.asarray(truth["valid"], dtype=bool)))
    return out


def foreground(maps: dict[str, np.ndarray], training_type: str) -> np.ndarray:
    """bool ``(L, H, W)`` foreground at probability 0.5 (semantic prob; instance interior + boundary)."""
    if training_type == "semantic":
        return maps["prob"] > 0.5
    return (maps["interior"] + maps["boundary"]) > 0.5


def validate(
    model: torch.nn.Module, card: dict, images: Sequence[ValImage], config: TrainConfig, *, views: int = 1
) -> tuple[dict, list[dict[str, np.ndarray]]]:
    """Epoch validation: ``({"val_loss", "val_accuracy", "val_iou", "val_f1", "predict_seconds"}, maps per
    image)``; ``val_f1`` (instance only) is the F1 with post-processing tuned on these maps (see
    :func:`_epoch_f1`); ``predict_seconds`` the time the network passes took. Epochs are validated with one
    view (cheap, comparable); the chosen weights once more with the card's views."""
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
        losses.append(float(loss_from_maps(tmaps, ttargets, config.training_type)))
        weights.append(float(im.valid.sum()))
        gt = im.labels > 0 if config.training_type == "instance" else im.labels
        counts += pixel_counts(foreground(maps, config.training_type), gt, im.valid)
    record = {"val_loss": float(np.average(losses, weights=np.maximum(weights, 1.0)))}
    record["predict_seconds"] = predict_s
    record.update(_pixel_summary(counts, "val"))
    if config.training_type == "instance":
        record["val_f1"] = _epoch_f1(all_maps, images, config)
    elif config.tune_postprocessing:
        record["val_iou_tuned"] = _epoch_tuned_iou(all_maps, images, config)
    return record, all_maps


def _epoch_tuned_iou(
    maps: Sequence[dict[str, np.ndarray]], images: Sequence[ValImage], config: TrainConfig
) -> float:
    """Mean foreground IoU over labels with the threshold and minimum size tuned on these maps: the number
    the package will be scored by (the IoU at 0.5 alone can prefer weights whose best threshold is
    elsewhere)."""
    return float(np.mean([
        tune_postprocessing(_label_items(maps, images, i, "semantic"), mode="semantic",
                            grid=TUNING_GRIDS["semantic"])[1]
        for i in range(config.n_labels)
    ]))


def _epoch_f1(maps: Sequence[dict[str, np.ndarray]], images: Sequence[ValImage], config: TrainConfig) -> float | None:
    """Mean F1 at IoU 0.5 over labels with the post-processing tuned on these maps (the number the package
    will be scored by), or with the default values when tuning is off. The default values alone make a
    noisy score (the best thresholds move from epoch to epoch) that picks undertrained checkpoints."""
    f1s = []
    for i in range(config.n_labels):
        items = _label_items(maps, images, i, "instance")
        if config.tune_postprocessing:
            f1s.append(tune_postprocessing(items, mode="instance", grid=EPOCH_GRID)[1])
            continue
        counts = InstanceCounts()
        for m, im in zip(maps, images, strict=True):
            counts = counts + match_instances(_instances(m, i, POSTPROCESS_DEFAULTS), im.labels[i], im.valid)
        f1s.append(instance_scores(counts)["f1"])
    defined = [f for f in f1s if f is not None]
    return float(np.mean(defined)) if defined else None


def _label_items(maps, images, i: int, mode: str) -> list:
    """``(maps, ground truth, valid)`` of label ``i`` per validation image, as the tuning takes them."""
    keys = ("interior", "boundary", "distance") if mode == "instance" else ("prob",)
    return [({k: m[k][i] for k in keys if k in m}, im.labels[i], im.valid) for m, im in zip(maps, images, strict=True)]


def score_of(record: dict, training_type: str) -> float:
    """The number the best checkpoint is chosen by: instance F1, semantic IoU, both with post-processing tuned
    (else the IoU at probability 0.5)."""
    value = record.get("val_f1") if training_type == "instance" else record.get("val_iou_tuned")
    if value is None:
        value = record.get("val_iou")
    return -1.0 if value is None else float(value)


def tune_and_score(
    maps: Sequence[dict[str, np.ndarray]], images: Sequence[ValImage], config: TrainConfig, *, tune: bool = True
) -> tuple[list[dict], dict]:
    """Tune post-processing per label on the validation maps; then the final metrics with those values.

    Returns ``(postprocess values per label, metrics)`` where metrics has ``per_label`` (pixel scores,
    and instance scores for instance training) and ``mean_iou`` / ``mean_f1``.
    """
    mode = config.training_type
    params: list[dict] = []
    for i, lab in enumerate(config.labels):
        items = _label_items(maps, images, i, mode)
        default = dict(POSTPROCESS_DEFAULTS) if mode == "instance" else {"threshold": 0.5, "min_size": 0}
        values, score = tune_postprocessing(items, mode=mode, grid=TUNING_GRIDS[mode]) if tune else (default, None)
        params.append({"label_id": lab.id, "label": lab.name, **values, "tuned_score": score})
    return params, final_metrics(maps, images, config, params)


def refine_seed_height(
    maps: Sequence[dict[str, np.ndarray]], images: Sequence[ValImage], config: TrainConfig, params: list[dict]
) -> tuple[list[dict], dict | None]:
    """Search again, per label, the seed heights at :data:`SEED_HEIGHT_OFFSETS` from the tuned one (with the
    rest of the grid), and keep what scores strictly better.

    ``params`` as :func:`tune_and_score` returned them for these maps. Returns ``(params, metrics)``, where
    metrics is None when no label changed (the caller's metrics stand). Semantic trainings and untuned values
    are returned as they are.
    """
    if config.training_type != "instance":
        return params, None
    refined, changed = [], False
    for i, values in enumerate(params):
        if values.get("tuned_score") is None:
            refined.append(values)
            continue
        start = float(values["seed_height"])
        heights = sorted({round(start + d, 3) for d in SEED_HEIGHT_OFFSETS if 0.0 <= start + d < 1.0})
        grid = {**TUNING_GRIDS["instance"], "seed_height": heights}
        items = _label_items(maps, images, i, "instance")
        found, score = tune_postprocessing(items, mode="instance", grid=grid)
        if score > values["tuned_score"]:
            refined.append({**values, **found, "tuned_score": score})
            changed = True
        else:
            refined.append(values)
    return (refined, final_metrics(maps, images, config, refined)) if changed else (params, None)


def final_metrics(
    maps: Sequence[dict[str, np.ndarray]], images: Sequence[ValImage], config: TrainConfig, params: list[dict]
) -> dict:
    """Per-label pixel (and instance) scores on the validation images with the given post-processing."""
    counts = np.zeros((config.n_labels, 4), dtype=np.int64)
    inst = [InstanceCounts() for _ in range(config.n_labels)]
    for m, im in zip(maps, images, strict=True):
        if config.training_type == "instance":
            preds = [_instances(m, i, params[i]) for i in range(config.n_labels)]
            for i, pred in enumerate(preds):
                inst[i] = inst[i] + match_instances(pred, im.labels[i], im.valid)
            pred_masks, gt = np.stack(preds) > 0, im.labels > 0
        else:
            pred_masks = np.stack([
                semantic_from_prob(m["prob"][i], threshold=params[i]["threshold"], min_size=params[i]["min_size"])
                for i in range(config.n_labels)
            ])
            gt = im.labels
        counts += pixel_counts(pred_masks, gt, im.valid)
    per_label = []
    for i, (lab, scores) in enumerate(zip(config.labels, pixel_scores(counts), strict=True)):
        entry = {"label_id": lab.id, "label": lab.name, "pixel": scores}
        if config.training_type == "instance":
            entry["instance"] = instance_scores(inst[i])
        per_label.append(entry)
    ious = [e["pixel"]["iou"] for e in per_label if e["pixel"]["iou"] is not None]
    out = {"per_label": per_label, "mean_iou": float(np.mean(ious)) if ious else None}
    if config.training_type == "instance":
        f1s = [e["instance"]["f1"] for e in per_label if e["instance"]["f1"] is not None]
        out["mean_f1"] = float(np.mean(f1s)) if f1s else None
    return out


def _instances(maps: dict[str, np.ndarray], i: int, params: dict) -> np.ndarray:
    return instances_from_maps(
        maps["interior"][i],
        maps["boundary"][i],
        threshold=params["threshold"],
        seed_threshold=params["seed_threshold"],
        min_size=params["min_size"],
        distance=maps["distance"][i] if "distance" in maps else None,
        seed_height=params["seed_height"],
    )


def _pixel_summary(counts: np.ndarray, prefix: str) -> dict:
    """Mean foreground IoU over labels and pixel accuracy of summed counts (None where undefined)."""
    scores = pixel_scores(counts)
    ious = [s["iou"] for s in scores if s["iou"] is not None]
    accs = [s["accuracy"] for s in scores if s["accuracy"] is not None]
    return {
        f"{prefix}_iou": float(np.mean(ious)) if ious else None,
        f"{prefix}_accuracy": float(np.mean(accs)) if accs else None,
    }
