"""Semantic segmentation: which pixels belong to each label (one sigmoid map per label; labels may
overlap)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.evaluation import postprocess, tuning
from core.training import losses
from core.training.sources import truth_labels
from core.training.types.base import SHAPES, Maps, TrainingType, channel_record, label_items

if TYPE_CHECKING:
    from core.training.config import TrainConfig


class Semantic(TrainingType):
    name = "semantic"
    title = "Semantic segmentation — which pixels belong to each label (labels may overlap)"
    short_title = "semantic segmentation"
    task = "semantic segmentation (one probability map per label; labels may overlap)"
    annotation_hint = (
        "Trains on the outlines you drew (polygons, rectangles and brush strokes) as areas of each label."
    )
    annotation_kinds = frozenset({SHAPES})
    object_ids = False
    object_metrics = False
    score_key = "mean_iou"
    maps_used = ("prob",)
    search_mode = "semantic"
    tuning_grid = {"threshold": [0.3, 0.4, 0.5, 0.6, 0.7], "min_size": [0, 10, 50, 200]}
    per_image_columns = ("pixel_iou", "pixel_dice", "pixel_precision", "pixel_recall")
    per_image_names: dict[str, str] = {}
    label_file_suffix = "mask"

    def ground_truth(self, truth: dict[str, np.ndarray]) -> np.ndarray:
        return truth_labels(truth, instance=False)

    def network_targets(
        self, labels: np.ndarray, valid: np.ndarray, config: TrainConfig, *, rays: bool
    ) -> dict[str, np.ndarray]:
        return {"mask": labels.astype(np.float32), "valid": valid}

    def distance(self, use_distance_head: bool) -> bool:
        return False

    def out_channels(self, n_labels: int, *, distance: bool) -> int:
        return n_labels

    def output_layout(self, labels: list[dict], *, distance: bool) -> list[dict]:
        return [channel_record(i, lab, "prob", "sigmoid") for i, lab in enumerate(labels)]

    def logits_to_maps(
        self, logits: torch.Tensor, n_labels: int, *, distance: bool
    ) -> dict[str, torch.Tensor]:
        return {"prob": torch.sigmoid(logits.float())}

    def loss(self, logits: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return losses.semantic_loss(logits, targets["mask"], targets["valid"])

    def loss_from_maps(self, maps: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return losses.semantic_loss_from_maps(maps, targets)

    def loss_description(self, *, distance: bool, rays: bool) -> str:
        return "Dice + focal + Lovász hinge (ignoring unannotated pixels)"

    def batch_foreground(
        self, logits: torch.Tensor, targets: dict[str, torch.Tensor], n_labels: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return logits > 0, targets["mask"] > 0.5

    def foreground(self, maps: Maps) -> np.ndarray:
        return maps["prob"] > 0.5

    def label_maps(self, maps: Maps, index: int) -> Maps:
        return {"prob": maps["prob"][index]}

    def epoch_record(self, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig) -> dict:
        """With tuning on, ``val_iou_tuned``: the mean foreground IoU over labels with the threshold and
        minimum size tuned on these maps, the number the package will be scored by (the IoU at 0.5 alone
        can prefer weights whose best threshold is elsewhere)."""
        if not config.tune_postprocessing:
            return {}
        return {"val_iou_tuned": float(np.mean([
            tuning.tune_postprocessing(label_items(self, maps, images, i), mode=self.search_mode,
                                       grid=self.tuning_grid)[1]
            for i in range(config.n_labels)
        ]))}

    def score(self, record: dict) -> float | None:
        return record.get("val_iou_tuned")

    def default_postprocess(self) -> dict:
        return {"threshold": 0.5, "min_size": 0}

    def result_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        return postprocess.semantic_from_prob(
            maps["prob"][index], threshold=values["threshold"], min_size=values["min_size"]
        )

    def objects_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        return postprocess.label_components(maps["prob"][index] > values["threshold"], min_size=0)


SEMANTIC = Semantic()
