"""Instance segmentation: each object separately, touching objects split.

Per label, background / interior / boundary logits (softmax over the three), with the distance head a
normalised distance to the object's edge, and while training, with edge rays, the distances to the edge
along 16 directions (:data:`~core.evaluation.targets.RAY_STEPS`). Objects are recovered by a seeded
watershed whose values are tuned on the validation images, then the seed height refined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.evaluation import instance as matching
from core.evaluation import postprocess, targets, tuning
from core.training import losses
from core.training.sources import truth_labels
from core.training.types.base import SHAPES, Maps, TrainingType, channel_record, label_items
from core.values import is_number, is_whole

if TYPE_CHECKING:
    from core.training.config import TrainConfig

RAY_COUNT = len(targets.RAY_STEPS)  # edge-ray channels per label of an instance network in training
CONTACT_REACH = 2  # pixels: the band along a contact line that gets the contact weight is twice this wide
# edge rays are learnt on every RAY_GRID-th pixel of a row and column (as StarDist predicts them on a grid of
# 2): neighbouring pixels' rays say nearly the same, and the training step costs less
RAY_GRID = 2
#: Post-processing values searched after training (wider than the evaluation defaults: short trainings give
#: soft maps whose best thresholds are often high).
TUNING_GRID = {
    "threshold": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    "seed_threshold": [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    "seed_height": [0.0, 0.1, 0.2],
    "min_size": [0, 5, 10, 20, 40],
}
#: Each epoch's F1 (which picks the best epoch) searches threshold seeds only: h-maxima seeds cost five times
#: the search time every epoch, and the final search tries them on the chosen weights.
EPOCH_GRID = {**TUNING_GRID, "seed_height": [0.0]}
#: Offsets from the chosen seed height that :meth:`Instance.refine` tries on the final maps. Which maxima
#: split two touching objects turns on steps finer than the grid's 0.1: on five kept dsb2018_fluo models the
#: finer heights raised F1@0.5 by 0.000 to 0.013 (0.006 on average).
SEED_HEIGHT_OFFSETS = (-0.05, -0.025, 0.025, 0.05)
_CLASSES = ("background", "interior", "boundary")


class Instance(TrainingType):
    name = "instance"
    title = "Instance segmentation — each object separately, touching objects split (counting, measuring)"
    short_title = "instance segmentation"
    task = ("instance segmentation (per label, background / interior / boundary maps from which "
            "touching objects were separated by a seeded watershed)")
    annotation_hint = (
        "Trains on each outline you drew (polygon, rectangle or brush stroke) as one object; draw every "
        "object of a label."
    )
    annotation_kinds = frozenset({SHAPES})
    image_types = ("2d", "multichannel")
    object_ids = True
    object_metrics = True
    score_key = "mean_f1"
    maps_used = ("interior", "boundary")
    search_mode = "instance"
    tuning_grid = TUNING_GRID
    refine_message = "refining the watershed seed height"
    refine_searches = len(SEED_HEIGHT_OFFSETS)
    metrics_sentence = (
        " Objects were matched one-to-one by an optimal assignment on their intersection over union (IoU); "
        "precision, recall and F1 count matches at IoU ≥ 0.5, and the average precision "
        "TP / (TP + FP + FN) is reported at IoU thresholds 0.5 to 0.95 in steps of 0.05 (as in the 2018 Data "
        "Science Bowl) together with its mean."
    )
    per_image_columns = ("n_gt", "n_pred", "tp", "fp", "fn", "f1", "ap_50", "mean_ap", "pixel_iou")
    per_image_names = {"pixel_iou": "pixel\nIoU"}
    label_file_suffix = "labels"
    headline = ("f1", "F1@0.5")

    # Targets ---------------------------------------------------------------------------------------------
    def ground_truth(self, truth: dict[str, np.ndarray]) -> np.ndarray:
        return truth_labels(truth, instance=True)

    def network_targets(
        self, labels: np.ndarray, valid: np.ndarray, config: TrainConfig, *, rays: bool
    ) -> dict[str, np.ndarray]:
        width = config.boundary_width
        cls = np.stack([targets.three_class_targets(plane, boundary_width=width) for plane in labels])
        out = {"cls": cls.astype(np.int64), "valid": valid}
        if config.contact_weight > 0:
            contact = np.stack([targets.contact_zone(plane, reach=CONTACT_REACH) for plane in labels])
            out["weight"] = (1.0 + config.contact_weight * contact).astype(np.float32)
        if config.use_distance_head:
            out["dist"] = np.stack([targets.distance_targets(plane) for plane in labels])
        if rays and config.edge_rays:
            distances, cut = zip(*(targets.ray_distances(plane, valid) for plane in labels), strict=True)
            grid = (slice(None), slice(None, None, RAY_GRID), slice(None, None, RAY_GRID))
            out["rays"] = np.ascontiguousarray(np.concatenate(distances)[grid])
            out["ray_cut"] = np.ascontiguousarray(np.concatenate(cut)[grid])
        return out

    # Outputs ---------------------------------------------------------------------------------------------
    def distance(self, use_distance_head: bool) -> bool:
        return bool(use_distance_head)

    def out_channels(self, n_labels: int, *, distance: bool) -> int:
        return 3 * n_labels + (n_labels if distance else 0)

    def training_channels(self, n_labels: int, *, distance: bool, rays: bool) -> int:
        return self.out_channels(n_labels, distance=distance) + (RAY_COUNT * n_labels if rays else 0)

    def output_layout(self, labels: list[dict], *, distance: bool) -> list[dict]:
        layout = [channel_record(3 * i + j, lab, name, "softmax3")
                  for i, lab in enumerate(labels) for j, name in enumerate(_CLASSES)]
        if distance:
            start = 3 * len(labels)
            layout += [channel_record(start + i, lab, "distance", "sigmoid") for i, lab in enumerate(labels)]
        return layout

    def logits_to_maps(
        self, logits: torch.Tensor, n_labels: int, *, distance: bool
    ) -> dict[str, torch.Tensor]:
        logits = logits.float()
        b, _, h, w = logits.shape
        cls = torch.softmax(logits[:, : 3 * n_labels].reshape(b, n_labels, 3, h, w), dim=2)
        maps = {"background": cls[:, :, 0], "interior": cls[:, :, 1], "boundary": cls[:, :, 2]}
        if distance:
            maps["distance"] = torch.sigmoid(logits[:, 3 * n_labels : 4 * n_labels])
        return maps

    # Loss ------------------------------------------------------------------------------------------------
    def loss(self, logits: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return losses.instance_loss(logits, targets["cls"], targets["valid"], targets.get("dist"),
                                    targets.get("weight"))

    def loss_from_maps(self, maps: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return losses.instance_loss_from_maps(maps, targets)

    def loss_description(self, *, distance: bool, rays: bool) -> str:
        extra = ", and binary cross-entropy on the distance map" if distance else ""
        if rays:
            extra += (", plus the mean absolute error of the distances to the object's edge along 16 "
                      "directions")
        return f"Dice + focal over background, interior and boundary{extra} (ignoring unannotated pixels)"

    # Validation and post-processing ------------------------------------------------------------------------
    def batch_foreground(
        self, logits: torch.Tensor, targets: dict[str, torch.Tensor], n_labels: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, _, h, w = logits.shape
        return logits[:, : 3 * n_labels].reshape(b, n_labels, 3, h, w).argmax(2) > 0, targets["cls"] > 0

    def foreground(self, maps: Maps) -> np.ndarray:
        return (maps["interior"] + maps["boundary"]) > 0.5

    def label_maps(self, maps: Maps, index: int) -> Maps:
        return {k: maps[k][index] for k in ("interior", "boundary", "distance") if k in maps}

    def epoch_record(self, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig) -> dict:
        """``val_f1``: the mean F1 at IoU 0.5 over labels with the post-processing tuned on these maps (the
        number the package will be scored by), or with the default values when tuning is off. The default
        values alone make a noisy score (the best thresholds move from epoch to epoch) that picks
        undertrained checkpoints."""
        f1s = []
        for i in range(config.n_labels):
            if config.tune_postprocessing:
                items = label_items(self, maps, images, i)
                f1s.append(tuning.tune_postprocessing(items, mode=self.search_mode, grid=EPOCH_GRID)[1])
                continue
            counts = matching.InstanceCounts()
            for m, im in zip(maps, images, strict=True):
                pred = self.result_plane(m, i, self.default_postprocess())
                counts = counts + matching.match_instances(pred, im.labels[i], im.valid)
            f1s.append(matching.instance_scores(counts)["f1"])
        defined = [f for f in f1s if f is not None]
        return {"val_f1": float(np.mean(defined)) if defined else None}

    def score(self, record: dict) -> float | None:
        return record.get("val_f1")

    def default_postprocess(self) -> dict:
        return dict(postprocess.POSTPROCESS_DEFAULTS)

    def refine(self, maps: Sequence[Maps], images: Sequence[Any], params: list[dict]) -> list[dict] | None:
        """The seed heights at :data:`SEED_HEIGHT_OFFSETS` from the tuned one (with the rest of the grid),
        kept per label where they score strictly better; untuned values stay as they are."""
        refined, changed = [], False
        for i, values in enumerate(params):
            if values.get("tuned_score") is None:
                refined.append(values)
                continue
            start = float(values["seed_height"])
            heights = sorted({round(start + d, 3) for d in SEED_HEIGHT_OFFSETS if 0.0 <= start + d < 1.0})
            grid = {**TUNING_GRID, "seed_height": heights}
            items = label_items(self, maps, images, i)
            found, score = tuning.tune_postprocessing(items, mode=self.search_mode, grid=grid)
            if score > values["tuned_score"]:
                refined.append({**values, **found, "tuned_score": score})
                changed = True
            else:
                refined.append(values)
        return refined if changed else None

    def result_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        return self._watershed(maps, index, values, values["min_size"])

    def objects_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        return self._watershed(maps, index, values, 0)

    @staticmethod
    def _watershed(maps: Maps, index: int, values: dict, min_size: int) -> np.ndarray:
        return postprocess.instances_from_maps(
            maps["interior"][index],
            maps["boundary"][index],
            threshold=values["threshold"],
            seed_threshold=values["seed_threshold"],
            min_size=min_size,
            distance=maps["distance"][index] if "distance" in maps else None,
            seed_height=values["seed_height"],
        )

    # Report ----------------------------------------------------------------------------------------------
    def methods_sentences(self, config: dict) -> str:
        return _contact(config) + _rays(config)

    def postprocess_phrases(self, values: dict, fmt: Callable[[object], str]) -> list[str]:
        if "seed_threshold" not in values:
            return []
        parts = [f"watershed seed threshold {fmt(values['seed_threshold'])}"]
        if isinstance(values.get("seed_height"), (int, float)) and values["seed_height"] > 0:
            parts.append(f"seeds only at maxima rising at least {fmt(values['seed_height'])} "
                         "above their surroundings (h-maxima)")
        return parts


def _contact(cfg: dict) -> str:
    """The contact-weighting sentence (nothing when it was off or not recorded)."""
    weight, reach = cfg.get("contact_weight"), cfg.get("contact_reach")
    if not is_number(weight) or weight <= 0:
        return ""
    near = f"within {reach} pixels of" if is_whole(reach) else "near"
    terms = "focal and distance terms" if cfg.get("use_distance_head") else "focal term"
    return (
        f" Pixels {near} two different objects counted {1 + float(weight):g} times in the {terms},"
        " so that the network learns to keep touching objects apart."
    )


def _rays(cfg: dict) -> str:
    """The edge-ray sentence (nothing when it was off or not recorded)."""
    if cfg.get("edge_rays") is not True:
        return ""
    return (
        " As a second task during training, the network predicted each object pixel's distance to the"
        " object's edge in 16 directions (the star-convex distances of StarDist, Schmidt et al. 2018), which"
        " teaches it where each object ends and its neighbour begins; post-processing does not use them."
    )


INSTANCE = Instance()
