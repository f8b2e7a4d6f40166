"""What a training report is built from: one :class:`ReportData`, plain values and arrays, no database.

The caller (the worker, the CLI) gathers these from the database, the model package and the evaluation;
:func:`core.reports.build.build_report_zip` turns one of them into the ZIP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Training statuses that get the full report; any other status (failed, cancelled) gets the short one.
FULL_REPORT_STATUSES = ("succeeded",)


@dataclass
class ValidationExample:
    """One validation image with its ground truth and prediction, already downscaled by the caller.

    Attributes:
        name: image name (shown in the PDF and used for ``validation_visualizations/<name>.png``).
        image_rgb: uint8 (H, W, 3) or (H, W) display image, at most ~1024 px per side
            (see :func:`core.reports.images.downscale_example`; larger ones are downscaled again here).
        gt: ground truth. Instance training: int (H, W) object labels (0 = background), or (L, H, W), one
            label image per label. Semantic training: bool (L, H, W) masks, one per label, or (H, W) for
            one label.
        pred: the prediction, same layout as ``gt``.
        label_index: for per-label examples, the index (into the report's labels) of the single label
            that ``gt`` / ``pred`` hold as (H, W); None when they cover all labels.
    """

    name: str
    image_rgb: np.ndarray
    gt: np.ndarray
    pred: np.ndarray
    label_index: int | None = None


@dataclass
class BoxExample:
    """One validation image of a detection training with its true and predicted boxes, already downscaled
    by the caller (:func:`core.reports.images.downscale_box_example`).

    Boxes are float ``(N, 4)`` ``[x_min, y_min, x_max, y_max]`` in ``image_rgb``'s pixels, one array per
    label of the report (in label order).

    Attributes:
        name: image name (as :class:`ValidationExample`).
        image_rgb: uint8 (H, W, 3) or (H, W) display image.
        truth: per label, the true boxes ``(M, 4)``.
        pred: per label, the predicted boxes ``(N, 4)`` at or above the label's score threshold.
        matched: per label, int ``(N,)``: the index of the true box each prediction matched at IoU >= 0.5,
            -1 for a false positive (:func:`core.evaluation.detection.matched_truth`); true boxes that no
            prediction matched are the false negatives.
    """

    name: str
    image_rgb: np.ndarray
    truth: list[np.ndarray]
    pred: list[np.ndarray]
    matched: list[np.ndarray]


@dataclass
class ClassifiedExample:
    """One validation example of a classification training (an image or an ROI crop) with its true and
    predicted class, already downscaled by the caller; the report shows the misclassified ones.

    Attributes:
        name: the example's name (the image's, with " · ROI k" for a crop).
        image_rgb: uint8 (H, W, 3) or (H, W) display image.
        truth: the true class's name.
        predicted: the predicted class's name (the most probable).
        probability: the predicted class's probability, 0..1.
    """

    name: str
    image_rgb: np.ndarray
    truth: str
    predicted: str
    probability: float


@dataclass
class ReportData:
    """Everything in one training report.

    Attributes:
        training: ``name``, ``status`` (queued | running | succeeded | failed | cancelled) and optionally
            ``id``, ``project``, ``created`` / ``started`` / ``finished`` (datetime or ISO string),
            ``duration_s``, ``hardware``, ``error`` (why a training failed), ``best_epoch``,
            ``weight_average`` (the card's record: ``weights``, ``from_share``, ``kept``), ``start_model``
            (a fine-tuning's: the starting network's own ``score``, the trained ``trained_score``, ``kept``).
        dataset: ``images``: list of ``{name, width, height, channels, dtype, set ("training" |
            "validation"), objects ({label name: count}), annotated_by ("hand" | "proposal" | "import")}``;
            ``labels``: list of ``{name, color ("#rrggbb")}``.
        config: the training configuration; ``training_type`` (a key of
            :data:`core.training.types.TRAINING_TYPES`) is required, the rest is shown as given. The
            methods paragraph reads ``encoder``, ``in_channels``, ``normalization``, ``patch_size``,
            ``batch_size``, ``learning_rate``, ``lr_test``, ``augment``, ``loss``, ``optimizer``,
            ``weight_decay``, ``epochs``, ``postprocess``, ``split``, ``roi_only``, ``duration`` when present.
        curves: one dict per epoch: ``epoch`` and the training type's curve keys
            (:attr:`~core.training.types.base.TrainingType.curves`: ``train_loss``, ``val_loss``,
            ``train_accuracy``, ... or ``train_map50``, ``val_map50``, ...), None where not measured; extra
            keys are kept in ``curves.csv``.
        metrics: ``per_label`` and ``per_image`` rows (:mod:`core.evaluation.report`, or the detection
            assessment's, or per class and per validation example for classification) and ``overall`` (a
            flat dict of headline numbers); classification also ``confusion`` (``classes``, ``counts`` and
            ``normalised``: K x K, rows = true class). None means "not defined" and is shown as "n/d".
        examples: validation examples for the visualisations: :class:`ValidationExample` (label images) or,
            for a training type whose results are boxes, :class:`BoxExample`; for classes, the misclassified
            validation examples as :class:`ClassifiedExample`.
        pr_curves: precision-recall curves per label (detection): ``label``, ``ap`` (at IoU 0.5),
            ``precision`` and ``recall`` (one value per prediction ranked by score), ``score_threshold`` and
            the ``operating_point`` ``(recall, precision)`` there; drawn in the report and written to
            ``precision_recall.csv``.
        reproducibility: ``seed``, ``package_versions`` ({name: version}), ``data_hashes``
            ({image name: sha256}).
        model_dir: the model package folder, copied into ``model/``; None for a failed training.
    """

    training: dict
    dataset: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    curves: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    examples: list[ValidationExample | BoxExample | ClassifiedExample] = field(default_factory=list)
    pr_curves: list[dict] = field(default_factory=list)
    reproducibility: dict = field(default_factory=dict)
    model_dir: Path | None = None

    @property
    def is_full(self) -> bool:
        """True for a succeeded training (full report); False for the short report of a failed one."""
        return str(self.training.get("status", "")).lower() in FULL_REPORT_STATUSES

    @property
    def kept_weights(self) -> str:
        """Which weights the metrics score (:func:`kept_weights`)."""
        return kept_weights(self.training)

    @property
    def training_type(self) -> str:
        return str(self.config.get("training_type", ""))

    @property
    def label_names(self) -> list[str]:
        """Label names from the dataset, else from the configuration."""
        labels = self.dataset.get("labels") or self.config.get("labels") or []
        return [lab["name"] if isinstance(lab, dict) else str(lab) for lab in labels]

    @property
    def label_colors(self) -> list[str]:
        """``#rrggbb`` per label (as :attr:`label_names`); a default palette colour where none is given."""
        labels = self.dataset.get("labels") or self.config.get("labels") or []
        out = []
        for k, lab in enumerate(labels):
            color = lab.get("color") if isinstance(lab, dict) else None
            out.append(color or DEFAULT_COLORS[k % len(DEFAULT_COLORS)])
        return out


#: Label colours used when the data gives none (same as the overlays' palette).
DEFAULT_COLORS = ("#e6194b", "#3cb44b", "#ffe119", "#0082c8", "#f58230", "#911eb4", "#46f0f0", "#f032e6")


def kept_weights(records: dict) -> str:
    """Which weights a training's metrics score, from the card's metrics records (or a report's training
    record, which carries the same): "start_model" (a fine-tuning's start, as it was), "weight_average" (the
    mean of the late weights) or "epoch" (the best epoch's, marked on the curves)."""
    for record in ("start_model", "weight_average"):
        if (records.get(record) or {}).get("kept"):
            return record
    return "epoch"
