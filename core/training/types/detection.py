"""Object detection: a box per object with its label and a score ("what is on the image and where").

The network is the engine's U-Net with a dense head, "objects as points" (Zhou et al. 2019): per label a
heat map whose peaks are object centres, and for all labels together the box height and width at each
centre (:mod:`core.detection`). It reuses the patch sampler, the augmentations (flips, 90-degree turns;
elastic deformation off: it bends boxes), the working scale, tiled prediction and whole-slide images.
Rectangles are the boxes; any other annotation shape counts as its bounding box.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.detection import loss as box_loss
from core.detection import scoring
from core.detection.decode import label_boxes
from core.detection.targets import centre_targets, paint_boxes
from core.training.types.base import BOX_LISTS, BOXES, SHAPES, Maps, TrainingType, channel_record

if TYPE_CHECKING:
    from core.training.config import TrainConfig

HEAT_PRIOR_BIAS = -2.19  # logit of 0.1
LOG_SIZE_LIMIT = 9.0  # log pixels: box sides are read back up to e^9 (8,100 pixels)
#: the size channels belong to no label; the card's layout names them so
ALL_LABELS = {"id": 0, "name": "all labels"}


class Detection(TrainingType):
    name = "detection"
    title = "Object detection — a box per object with its label (counting and locating, cheap to annotate)"
    short_title = "object detection"
    task = ("object detection (per label a heat map whose peaks are object centres, with the box height and "
            "width at each centre)")
    annotation_hint = (
        "Trains on boxes: each rectangle is an object's box, and any other outline counts as its bounding "
        "box. Draw (or import) a box around every object of a label."
    )
    annotation_kinds = frozenset({BOXES, SHAPES})
    pixel_masks = False
    image_types = ("2d", "multichannel")
    object_ids = True
    object_metrics = True
    score_key = "map_50"
    maps_used = ("heat", "box_h", "box_w")
    search_mode = "detection"
    tuning_grid = {"nms_iou": list(scoring.NMS_GRID)}
    metrics_sentence = (
        " Predicted boxes were matched to true boxes greedily in the order of their scores (as in COCO): "
        "each to the unmatched true box of its label that it overlaps most, if the intersection over union (IoU) "
        "is at least the threshold. Average precision (AP) is the area under the interpolated "
        "precision-recall curve at 101 recall points, at IoU 0.5 (AP50) and averaged over IoU 0.5 to 0.95 "
        "(AP50:95); precision, recall and F1 count matches at IoU 0.5 for the boxes above the label's score "
        "threshold."
    )
    per_image_columns = ("n_gt", "n_pred", "tp", "fp", "fn", "f1")
    per_image_names = {"n_gt": "true\nboxes", "n_pred": "predicted\nboxes"}  # noqa: RUF012 - read only
    label_file_suffix = "boxes"
    result_kind = BOX_LISTS
    curves = (
        ("Loss", "loss", "train_loss", "val_loss"),
        ("mAP@0.5", "mAP@0.5", "train_map50", "val_map50"),
        ("Precision", "precision (best score threshold)", "train_precision", "val_precision"),
        ("Recall", "recall (best score threshold)", "train_recall", "val_recall"),
    )
    kept_scores = {"val_map50": "map_50", "val_precision": "precision", "val_recall": "recall"}  # noqa: RUF012
    headline = ("map_50", "mAP@0.5")
    train_probe_images = 8
    # counts are often lopsided (BCCD's dev set: 2,539 red cells, 220 white cells, 215 platelets)
    balance_labels = True
    scale_by_smallest_label = True
    # a centre and a size need fewer pixels than an outline: BCCD's platelets (38 px) are learnt at a quarter
    scale_max_width = 16.0
    #: elastic deformation bends boxes out of shape (flips and quarter turns keep them boxes)
    config_defaults = {  # noqa: RUF012 - read only
        "augment": {"elastic": False},
        # the segmentation heads' settings do not apply: off, so that the configuration says so
        "use_distance_head": False, "edge_rays": False, "contact_weight": 0.0,
    }

    # Targets -----------------------------------------------------------------------------------------
    def truth_planes(
        self,
        shapes: Sequence[Any],
        label_ids: Sequence[int],
        hw: tuple[int, int],
        region: tuple[int, int, int, int],
    ) -> np.ndarray:
        """Each annotation's bounding box painted as a filled rectangle of its own id
        (:func:`~core.detection.targets.paint_boxes`) in ``region``."""
        y, x, h, w = region
        planes = []
        for lab in label_ids:
            boxes = []
            for s in shapes:
                if s.kind == "annotation" and s.label_id == lab:
                    x0, y0, x1, y1 = s.bbox()
                    boxes.append((int(np.floor(y0)) - y, int(np.floor(x0)) - x,
                                  int(np.ceil(y1)) - y, int(np.ceil(x1)) - x))
            inside = [b if (b[2] > 0 and b[3] > 0 and b[0] < h and b[1] < w) else (0, 0, 0, 0) for b in boxes]
            planes.append(paint_boxes(inside, (h, w)))
        return np.stack(planes)

    def ground_truth(self, truth: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(truth["instances"], dtype=np.int32)

    def network_targets(
        self, labels: np.ndarray, valid: np.ndarray, config: TrainConfig, *, rays: bool
    ) -> dict[str, np.ndarray]:
        return {**centre_targets(labels), "valid": valid}

    # Outputs -----------------------------------------------------------------------------------------
    def distance(self, use_distance_head: bool) -> bool:
        return False

    def out_channels(self, n_labels: int, *, distance: bool) -> int:
        return n_labels + 2

    def output_bias(self, n_labels: int) -> dict[int, float]:
        """Heat maps start at a probability of 0.1 everywhere (CenterNet's prior), box sides at e^3 = 20
        pixels."""
        return {**{i: HEAT_PRIOR_BIAS for i in range(n_labels)}, n_labels: 3.0, n_labels + 1: 3.0}

    def output_layout(self, labels: list[dict], *, distance: bool) -> list[dict]:
        n = len(labels)
        layout = [channel_record(i, lab, "heat", "sigmoid") for i, lab in enumerate(labels)]
        return [*layout, channel_record(n, ALL_LABELS, "box_h", "exp"),
                channel_record(n + 1, ALL_LABELS, "box_w", "exp")]

    def logits_to_maps(
        self, logits: torch.Tensor, n_labels: int, *, distance: bool
    ) -> dict[str, torch.Tensor]:
        logits = logits.float()
        sizes = torch.exp(logits[:, n_labels : n_labels + 2].clamp(-LOG_SIZE_LIMIT, LOG_SIZE_LIMIT))
        return {"heat": torch.sigmoid(logits[:, :n_labels]), "box_h": sizes[:, :1], "box_w": sizes[:, 1:2]}

    # Loss --------------------------------------------------------------------------------------------
    def loss(self, logits: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return box_loss.detection_loss(logits, targets)

    def loss_from_maps(self, maps: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        return box_loss.detection_loss_from_maps(maps, targets)

    def loss_description(self, *, distance: bool, rays: bool) -> str:
        return ("penalty-reduced focal loss on Gaussian centre heat maps (CenterNet) + L1 on the log box "
                "height and width around each centre (ignoring unannotated pixels)")

    # Validation and post-processing --------------------------------------------------------------------
    def batch_foreground(
        self, logits: torch.Tensor, targets: dict[str, torch.Tensor], n_labels: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The centre areas (heat above 0.5) predicted and true."""
        return logits[:, :n_labels] > 0, targets["heat"] > 0.5

    def foreground(self, maps: Maps) -> np.ndarray:
        return maps["heat"] > 0.5

    def truth_foreground(self, labels: np.ndarray) -> np.ndarray:
        return np.stack([centre_targets(labels[i : i + 1])["heat"][0] > 0.5 for i in range(len(labels))])

    def label_maps(self, maps: Maps, index: int) -> Maps:
        return {"heat": maps["heat"][index], "box_h": maps["box_h"][0], "box_w": maps["box_w"][0]}

    def epoch_record(self, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig) -> dict:
        """``val_map50`` (mean AP at IoU 0.5 over labels, default box merging) and the mean precision, recall
        and F1 at each label's best score threshold."""
        return scoring.epoch_scores(maps, images, config.n_labels)

    def score(self, record: dict) -> float | None:
        return record.get("val_map50")

    def default_postprocess(self) -> dict:
        return dict(scoring.DEFAULT_VALUES)

    def tune_and_score(
        self, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig, *, tune: bool
    ) -> tuple[list[dict], dict]:
        params = scoring.tune(maps, images, config.labels, tune=tune)
        return params, self.final_metrics(maps, images, config, params)

    def final_metrics(
        self, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig, params: list[dict]
    ) -> dict:
        return scoring.final_metrics(maps, images, config.labels, params)

    def assess(
        self,
        model: torch.nn.Module,
        card: dict,
        samples: Sequence[Any],
        *,
        on_image: Callable[[int, int], None] | None = None,
        keep_predictions: bool = True,
    ) -> Any:
        """The boxes of each sample scored against its true boxes
        (:class:`~core.training.box_assessment.BoxAssessment`: COCO AP per label, counts per image,
        precision-recall curves, pictures with TP / FP / FN boxes); boxes are small, so they are always
        kept."""
        from core.training.box_assessment import assess_boxes

        return assess_boxes(self, model, card, samples, on_image=on_image)

    def result_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        """The label's boxes above its score threshold, painted as rectangles of their own ids."""
        boxes, scores = label_boxes(maps["heat"][index], maps["box_h"][0], maps["box_w"][0],
                                    nms_iou=values["nms_iou"])
        kept = boxes[scores >= values["score_threshold"]]
        rows = [(int(y0), int(x0), int(np.ceil(y1)), int(np.ceil(x1))) for x0, y0, x1, y1 in kept]
        return paint_boxes(rows, maps["heat"].shape[1:])

    def objects_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        return self.result_plane(maps, index, values)

    # Card and report ------------------------------------------------------------------------------------
    def card_fields(self, config: TrainConfig, images: Sequence[Any] = ()) -> dict:
        """Also ``largest_box``: the longest side in pixels of the training images' boxes (Apply's tiles
        overlap by more than that, :mod:`core.inference.tiled_boxes`); absent without boxes."""
        sides = [max(y1 - y0, x1 - x0) for im in images for _, y0, x0, y1, x1 in im.object_boxes]
        return {"distance_head": False, **({"largest_box": int(max(sides))} if sides else {})}

    def methods_sentences(self, config: dict) -> str:
        return (" Each box was learnt as a Gaussian peak at its centre (spread 0.09 times the box's height "
                "and width) on its label's heat map, and its height and width (log pixels) where that peak is "
                "above 0.3; objects are the heat maps' local maxima, their boxes read from the size maps there, "
                "and boxes of one label overlapping a higher-scoring box by more than the tuned IoU are "
                "dropped.")

    def postprocess_phrases(self, values: dict, fmt: Callable[[object], str]) -> list[str]:
        if "score_threshold" not in values:
            return []
        return [f"score threshold {fmt(values['score_threshold'])}",
                f"overlapping boxes merged above IoU {fmt(values['nms_iou'])}"]


DETECTION = Detection()
