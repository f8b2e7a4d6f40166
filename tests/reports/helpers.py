"""Seeded synthetic trainings for the report tests and the report benchmark (real metrics, tiny arrays)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from core.evaluation.instance import match_instances
from core.evaluation.pixel import pixel_counts
from core.evaluation.report import image_rows, label_rows
from core.reports import ReportData, ValidationExample

COLORS = ("#e6194b", "#3cb44b", "#0082c8", "#f58230")


def discs(shape: tuple[int, int], n: int, rng: np.random.Generator, radius: tuple[int, int]) -> np.ndarray:
    """int32 (H, W) labels of ``n`` random discs (later ones paint over earlier ones)."""
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    labels = np.zeros(shape, dtype=np.int32)
    for label in range(1, n + 1):
        r = int(rng.integers(*radius))
        cy, cx = int(rng.integers(0, shape[0])), int(rng.integers(0, shape[1]))
        labels[(rows - cy) ** 2 + (cols - cx) ** 2 <= r * r] = label
    return labels


def imperfect(gt: np.ndarray, rng: np.random.Generator, radius: tuple[int, int]) -> np.ndarray:
    """A 'prediction' of ``gt``: shifted by a pixel, one object dropped, one false object added."""
    pred = np.roll(gt, 1, axis=1).copy()
    ids = np.unique(pred)[1:]
    if len(ids) > 1:
        pred[pred == ids[0]] = 0
    extra = discs(gt.shape, 1, rng, radius)
    pred[(extra > 0) & (pred == 0)] = int(gt.max()) + 1
    return pred


def synthetic_report(
    *,
    training_type: str = "instance",
    labels: tuple[str, ...] = ("nucleus",),
    image_names: list[str] | None = None,
    n_train: int = 3,
    n_val: int = 2,
    size: tuple[int, int] = (48, 64),
    n_objects: int = 6,
    radius: tuple[int, int] = (3, 8),
    empty_label: int | None = None,
    status: str = "succeeded",
    n_epochs: int = 5,
    model_dir: Path | None = None,
    training_name: str = "nuclei run 1",
    seed: int = 0,
) -> ReportData:
    """A ReportData whose metrics are computed by core.evaluation from seeded random discs.

    ``empty_label`` (an index) gives that label no validation objects (and no predicted ones), so its
    metrics are not defined.
    """
    rng = np.random.default_rng(seed)
    n_images = n_train + n_val
    names = image_names or [f"img_{k:03d}.tif" for k in range(n_images)]
    h, w = size
    examples, pixel, instance, dataset_images, hashes = [], {}, {}, [], {}
    for k, name in enumerate(names):
        is_val = k >= n_train
        gts = [discs(size, n_objects, rng, radius) for _ in labels]
        if is_val and empty_label is not None:
            gts[empty_label][:] = 0
        image = np.clip(rng.normal(40, 12, (h, w, 3)), 0, 255).astype(np.uint8)
        image[np.any([g > 0 for g in gts], axis=0)] += 120
        dataset_images.append(
            {
                "name": name,
                "width": w,
                "height": h,
                "channels": 3,
                "dtype": "uint8",
                "set": "validation" if is_val else "training",
                "objects": {lab: len(np.unique(g)) - 1 for lab, g in zip(labels, gts, strict=True)},
                "annotated_by": "hand" if k % 3 else "proposal",
            }
        )
        hashes[name] = hashlib.sha256(image.tobytes()).hexdigest()
        if not is_val:
            continue
        preds = [imperfect(g, rng, radius) if g.any() else np.zeros_like(g) for g in gts]
        gt_stack, pred_stack = np.stack(gts), np.stack(preds)
        pixel[name] = pixel_counts(pred_stack > 0, gt_stack > 0)
        if training_type == "instance":
            instance[name] = [match_instances(p, g) for p, g in zip(preds, gts, strict=True)]
            gt_out, pred_out = (gts[0], preds[0]) if len(labels) == 1 else (gt_stack, pred_stack)
        else:
            gt_out, pred_out = gt_stack > 0, pred_stack > 0
        examples.append(ValidationExample(name, image, gt_out, pred_out))
    inst = instance if training_type == "instance" else None
    per_label = label_rows(list(labels), pixel=pixel, instance=inst)
    per_image = image_rows(list(labels), pixel=pixel, instance=inst)
    ious = [r["pixel_iou"] for r in per_label[: len(labels)] if r["pixel_iou"] is not None]
    overall = {"mean_iou": float(np.mean(ious)) if ious else None}
    if training_type == "instance":
        f1s = [r["f1"] for r in per_label[: len(labels)] if r["f1"] is not None]
        overall["mean_f1"] = float(np.mean(f1s)) if f1s else None
    start = datetime(2026, 3, 4, 9, 30, tzinfo=timezone.utc)
    curves = [
        {
            "epoch": e,
            "train_loss": 1.0 / e,
            "val_loss": 1.1 / e + 0.05,
            "train_accuracy": 0.98 - 0.1 / e,
            "val_accuracy": 0.97 - 0.12 / e,
            "train_iou": 0.85 - 0.4 / e,
            "val_iou": 0.8 - 0.45 / e,
            "learning_rate": 3e-4,
            "seconds": 12.5,
        }
        for e in range(1, n_epochs + 1)
    ]
    label_dicts = [{"name": lab, "color": COLORS[i % len(COLORS)]} for i, lab in enumerate(labels)]
    training = {
        "id": 7,
        "name": training_name,
        "project": "Kidney nuclei",
        "status": status,
        "created": start,
        "started": (start + timedelta(minutes=1)).isoformat(),
        "finished": start + timedelta(minutes=13),
        "duration_s": 725.4,
        "hardware": "cpu bf16, channels_last (2 cores)",
        "best_epoch": max(1, n_epochs - 1),
    }
    if status != "succeeded":
        training["error"] = "out of memory while validating image img_004.tif (needed 3.1 GiB, 1.2 GiB free)"
    config = {
        "training_type": training_type,
        "labels": label_dicts,
        "split": {"mode": "random", "validation_fraction": 0.2},
        "roi_only": False,
        "duration": "quick",
        "encoder": "resnet18",
        "in_channels": 3,
        "patch_size": 256,
        "learning_rate": 3.16e-4,
        "lr_test": {"lr": 3.16e-4, "reason": "lowest smoothed loss / 10"},
        "batch_size": 8,
        "epochs": n_epochs,
        "weight_decay": 1e-4,
        "augment": {
            "flips": True,
            "rot90": True,
            "elastic": True,
            "intensity": True,
            "noise": False,
            "elastic_alpha": 6.0,
            "elastic_grid": 32,
        },
        "normalization": {
            "method": "percentile",
            "low_percentile": 1.0,
            "high_percentile": 99.8,
            "low": [3.0, 3.0, 3.0],
            "high": [250.0, 250.0, 250.0],
        },
        "postprocess": [
            {
                "label_id": i + 1,
                "label": lab,
                "threshold": 0.45,
                "seed_threshold": 0.7,
                "min_size": 10,
                "tuned_score": 0.81,
            }
            for i, lab in enumerate(labels)
        ],
        "seed": seed,
    }
    return ReportData(
        training=training,
        dataset={"images": dataset_images, "labels": label_dicts},
        config=config,
        curves=curves,
        metrics={"per_label": per_label, "per_image": per_image, "overall": overall},
        examples=examples,
        reproducibility={
            "seed": seed,
            "package_versions": {
                "python": "3.11.2",
                "torch": "2.14.0",
                "segmentation-models-pytorch": "0.5.0",
                "numpy": "2.3.0",
                "segstudio": "0.1.0",
            },
            "data_hashes": hashes,
        },
        model_dir=model_dir,
    )
