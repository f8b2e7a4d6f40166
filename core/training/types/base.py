"""The interface every training type implements (one entry of :data:`core.training.types.TRAINING_TYPES`).

The engine (sampling, augmentation, the loop, checkpoints, tiled prediction, exports, the report) is shared;
whatever differs between training types is asked of the type's entry, never by comparing its name.
A type says:

* what it trains on: :attr:`annotation_kinds` (shapes with pixel outlines, boxes, image classes) and whether
  its ground truth is pixel masks at all (:attr:`pixel_masks`);
* the wizard's rules: :attr:`title`, :attr:`image_types`;
* targets from annotations: :attr:`object_ids`, :meth:`ground_truth`, :meth:`network_targets`;
* output channels and heads: :meth:`out_channels`, :meth:`training_channels`, :meth:`output_layout`,
  :meth:`logits_to_maps`, :meth:`distance`, :attr:`maps_used`;
* the loss: :meth:`loss`, :meth:`loss_from_maps`, :meth:`loss_description`;
* validation metrics and the post-processing search: :meth:`batch_foreground`, :meth:`foreground`,
  :meth:`epoch_record`, :meth:`score`, :attr:`score_key`, :attr:`search_mode`, :attr:`tuning_grid`,
  :meth:`default_postprocess`, :meth:`refine`, :attr:`object_metrics`;
* network outputs to results: :meth:`result_plane`, :meth:`objects_plane`, :meth:`plane_foreground`;
* the card's fields: :meth:`card_fields`;
* the report: :attr:`task`, :meth:`methods_sentences`, :meth:`postprocess_phrases`,
  :attr:`metrics_sentence`, :attr:`per_image_columns`, :attr:`per_image_names`;
* what Apply shows and exports: :attr:`result_kind` (label images or boxes), :attr:`label_file_suffix`
  (and :attr:`object_ids`: object ids or masks);
* the curves: :attr:`curves` (the charts of the training's page and report, side by side),
  :attr:`kept_scores` (where the kept model's own scores mark them) and :attr:`train_probe_images`
  (training images scored like the validation images each epoch);
* the headline: :attr:`headline` (the overall score a training is listed with) and :attr:`score_names`
  (the names of its overall scores where they differ from the pixel types');
* the wizard and the split: :attr:`min_labels`, :attr:`label_noun`, :attr:`uses_background`,
  :attr:`roi_only_applies`, :attr:`network_phrase`, :meth:`encoder_choice`, :meth:`annotation_counts`,
  :meth:`split_images`, :meth:`training_rules`, :meth:`split`;
* the training job: :meth:`load_split` (the engine's data from the stored split), :meth:`train_model`,
  :meth:`score_validation` (metrics, the report's pictures), :meth:`package_card`;
* the report's configuration and methods: :meth:`report_config`, :meth:`methods_network`;
* the Trainings page: :attr:`pictures_caption`;
* scoring a trained model on images with ground truth (the report after training, a rebuilt report,
  ``segstudio evaluate``): :meth:`assess`;
* ground truth from annotation shapes: :meth:`truth_planes`; the final search and scores:
  :meth:`tune_and_score`, :meth:`final_metrics` (the pixel types share :mod:`.pixel_results`).

A type without pixel masks (boxes, image classes) answers the pixel questions with what it has; the
attributes above that only make sense for pixel outputs say so in their documentation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.training.types.steps import JourneySteps

if TYPE_CHECKING:
    from core.training.config import TrainConfig

#: Annotation kinds a type may train on: shapes with pixel outlines (polygons, brush strokes, rectangles
#: as areas), boxes (a rectangle or a shape's bounding box per object), classes of whole images.
SHAPES, BOXES, IMAGE_CLASSES = "shapes", "boxes", "image_classes"
#: What a prediction produces: label images (one plane per label), boxes with labels and scores, or a
#: class with the probabilities of every class (per image or ROI).
LABEL_IMAGES, BOX_LISTS, CLASS_LISTS = "labels", "boxes", "classes"
#: The three charts of the pixel types: (title, y-axis label, training key, validation key).
PIXEL_CURVES = (
    ("Loss", "loss", "train_loss", "val_loss"),
    ("Accuracy", "pixel accuracy", "train_accuracy", "val_accuracy"),
    ("IoU", "IoU", "train_iou", "val_iou"),
)
#: Where the kept model's scores (its post-processed metrics, key of the assessment's ``overall``) mark the
#: pixel types' curves: validation key -> overall key.
PIXEL_KEPT_SCORES = {"val_accuracy": "accuracy", "val_iou": "iou"}
#: One validation image's maps (``{name: (L, H, W)}``), as the epoch and final searches take them.
Maps = dict[str, np.ndarray]
#: What the Trainings page says above the pixel and box types' validation pictures.
PIXEL_PICTURES = ("Validation images — image · ground truth · prediction · TP (green) / FP (red) / "
                  "FN (blue)")


class TrainingType(JourneySteps, ABC):
    """One training type. Subclasses set the class attributes and implement the methods; one instance each
    is registered in :data:`core.training.types.TRAINING_TYPES`."""

    #: the registry key, stored in configurations, cards and label files
    name: str
    #: the wizard's description of the choice
    title: str
    #: the type in a sentence's words ("instance segmentation"), e.g. in the wizard's hints
    short_title: str
    #: the report's methods phrase for the task ("semantic segmentation (one probability map ...)")
    task: str
    #: what the wizard says this type trains on, and how to annotate for it
    annotation_hint: str = ""
    #: annotation kinds it trains on (:data:`SHAPES`, :data:`BOXES`, :data:`IMAGE_CLASSES`)
    annotation_kinds: frozenset[str]
    #: whether its ground truth and outputs are pixel masks (False for boxes or image classes)
    pixel_masks: bool = True
    #: the wizard's image types it accepts ("2d", "multichannel")
    image_types: tuple[str, ...] = ("2d",)
    #: ground truth keeps each object's own id (``(L, H, W)`` int32), else one bool mask per label; the
    #: predicted label planes likewise hold object ids, else connected regions of a mask
    object_ids: bool
    #: whether the metrics match objects one to one (F1, AP) besides counting pixels
    object_metrics: bool
    #: the final metric the package is scored by (a key of the final metrics)
    score_key: str
    #: the maps post-processing reads (besides "distance" where :meth:`distance` holds)
    maps_used: tuple[str, ...]
    #: the post-processing search of :func:`core.evaluation.tuning.tune_postprocessing` (its ``mode``)
    search_mode: str
    #: post-processing values searched after training
    tuning_grid: dict[str, list]
    #: the progress message of :meth:`refine` (None: the type refines nothing)
    refine_message: str | None = None
    #: how many extra searches :meth:`refine` costs (for the final stage's time estimate)
    refine_searches: int = 0
    #: the report's sentence on how its metrics are computed, after the pixel metrics' (may be "")
    metrics_sentence: str = ""
    #: the report's per-image table columns, and their printed names where they differ
    per_image_columns: tuple[str, ...]
    per_image_names: dict[str, str]
    #: Apply's label file per label: ``<stem>_<label>_<suffix>.tif``
    label_file_suffix: str
    #: what a prediction produces (:data:`LABEL_IMAGES`, :data:`BOX_LISTS` or :data:`CLASS_LISTS`)
    result_kind: str = LABEL_IMAGES
    #: the training's charts per epoch, side by side (three for segmentation, four for detection): (title, y-axis label, training key, validation key) each
    curves: tuple[tuple[str, str, str, str], ...] = PIXEL_CURVES
    #: the validation curves (keys of :attr:`curves`) on which the kept model's post-processed score is marked
    #: at the kept epoch: validation key -> key of the assessment's ``overall`` (the metrics table's number)
    kept_scores: dict[str, str] = PIXEL_KEPT_SCORES
    #: the overall score a training is listed with: (key of the assessment's ``overall``, its name)
    headline: tuple[str, str] = ("iou", "IoU")
    #: training images scored each epoch as validation scores its images (their record's keys start with
    #: ``train_``); 0: the training curves come from the training batches' pixel counts
    train_probe_images: int = 0
    #: patches centred on an object pick a label first, then one of its objects (rare labels are learnt as
    #: often as common ones); else any object
    balance_labels: bool = False
    #: the working scale keeps the label with the smallest objects visible (its median width), not the
    #: median object of all labels
    scale_by_smallest_label: bool = False
    #: the automatic working scale halves the resolution while the objects are this many pixels wide or more
    scale_max_width: float = 32.0
    #: the type's own defaults of :class:`~core.training.config.TrainConfig` fields (e.g. augmentations
    #: that do not suit it), applied where a training is configured
    config_defaults: dict[str, Any] = {}  # noqa: RUF012 - read only
    #: the names of its scores (keys of the assessment's ``overall`` and per-label rows) where they differ
    #: from the pixel types' (a classifier's ``accuracy`` is of examples, not of pixels)
    score_names: dict[str, str] = {}  # noqa: RUF012 - read only
    #: the fewest labels a training selects (a classifier tells at least 2 classes apart)
    min_labels: int = 1
    #: what the wizard and the report call a label ("label"; "class" for classification)
    label_noun: str = "label"
    #: what the report and the validation-size warning count per label and image ("object"; "example" for
    #: classification)
    count_noun: str = "object"
    #: background-only images may be added as negatives
    uses_background: bool = True
    #: "Train on ROIs only" applies (patches are taken inside ROIs)
    roi_only_applies: bool = True
    #: the network in the wizard's review ("{encoder}": the chosen encoder)
    network_phrase: str = "U-Net with {encoder}"
    #: the network's kind, as its model card records it: a training can start from a model of the same kind
    #: (:mod:`core.training.transfer`)
    architecture: str = "smp.Unet"
    #: the Trainings page's words above the validation pictures
    pictures_caption: str = PIXEL_PICTURES
    # the wizard's, the job's and the report's steps with their defaults: core.training.types.steps

    # Targets -----------------------------------------------------------------------------------------
    @abstractmethod
    def ground_truth(self, truth: dict[str, np.ndarray]) -> np.ndarray:
        """``(L, H, W)`` ground truth from a source's ``targets()`` dict (``"instances"`` and/or
        ``"masks"``)."""

    @abstractmethod
    def network_targets(
        self, labels: np.ndarray, valid: np.ndarray, config: TrainConfig, *, rays: bool
    ) -> dict[str, np.ndarray]:
        """One patch's training targets from its ground truth ``(L, P, P)`` and valid mask ``(P, P)``."""

    def truth_planes(
        self,
        shapes: Sequence[Any],
        label_ids: Sequence[int],
        hw: tuple[int, int],
        region: tuple[int, int, int, int],
    ) -> np.ndarray:
        """int32 ``(L, h, w)`` object ids of annotation ``shapes``
        (:class:`~core.annotations.shapes.ShapeData`) in ``region`` ``(y, x, h, w)`` of an image of size
        ``hw``: each shape one object (the training's ``"instances"``)."""
        from core.annotations.raster import instance_labels

        return np.stack([instance_labels(shapes, lab, hw, region=region) for lab in label_ids])

    def truth_foreground(self, labels: np.ndarray) -> np.ndarray:
        """bool ``(L, H, W)``: where the ground truth has an object (for the pixel counts)."""
        return labels > 0 if self.object_ids else labels.astype(bool)

    # Outputs -----------------------------------------------------------------------------------------
    @abstractmethod
    def distance(self, use_distance_head: bool) -> bool:
        """Whether the network has a distance head when the configuration asks for one."""

    @abstractmethod
    def out_channels(self, n_labels: int, *, distance: bool) -> int:
        """Output channels of the packaged network (see :mod:`core.training.models`)."""

    def training_channels(self, n_labels: int, *, distance: bool, rays: bool) -> int:
        """Output channels while training (training-only heads included)."""
        return self.out_channels(n_labels, distance=distance)

    def output_bias(self, n_labels: int) -> dict[int, float]:
        """Starting biases of output channels (channel -> value) where the default 0 does not suit."""
        return {}

    @abstractmethod
    def output_layout(self, labels: list[dict], *, distance: bool) -> list[dict]:
        """One record per output channel (:func:`channel_record`)."""

    @abstractmethod
    def logits_to_maps(
        self, logits: torch.Tensor, n_labels: int, *, distance: bool
    ) -> dict[str, torch.Tensor]:
        """Logits ``(B, K, H, W)`` -> probability maps, each ``(B, L, H, W)`` float32."""

    # Loss --------------------------------------------------------------------------------------------
    @abstractmethod
    def loss(self, logits: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        """The training loss of a batch from its logits and :meth:`network_targets`."""

    @abstractmethod
    def loss_from_maps(self, maps: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        """The same loss from probability maps (validation)."""

    @abstractmethod
    def loss_description(self, *, distance: bool, rays: bool) -> str:
        """The loss in words (model card, report)."""

    # Validation and post-processing --------------------------------------------------------------------
    @abstractmethod
    def batch_foreground(
        self, logits: torch.Tensor, targets: dict[str, torch.Tensor], n_labels: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """bool ``(B, L, H, W)`` predicted and true foreground of a training batch (accuracy/IoU curves)."""

    @abstractmethod
    def foreground(self, maps: Maps) -> np.ndarray:
        """bool ``(L, H, W)`` foreground of validation maps at probability 0.5."""

    @abstractmethod
    def label_maps(self, maps: Maps, index: int) -> Maps:
        """Label ``index``'s maps ``{name: (H, W)}`` as the post-processing search takes them."""

    @abstractmethod
    def epoch_record(self, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig) -> dict:
        """What an epoch's validation adds to its record besides loss, accuracy and IoU (``images`` are
        :class:`core.training.validation.ValImage`)."""

    @abstractmethod
    def score(self, record: dict) -> float | None:
        """The number an epoch's record is ranked by (None: the record has none; the IoU stands in)."""

    @abstractmethod
    def default_postprocess(self) -> dict:
        """Post-processing values used when tuning is off."""

    def refine(self, maps: Sequence[Maps], images: Sequence[Any], params: list[dict]) -> list[dict] | None:
        """A finer search around the tuned values, per label: the new values, or None when none changed."""
        return None

    def tune_and_score(
        self, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig, *, tune: bool
    ) -> tuple[list[dict], dict]:
        """Post-processing values per label (``{"label_id", "label", ..., "tuned_score"}``) searched on the
        validation maps (the defaults when ``tune`` is off) and :meth:`final_metrics` with them."""
        from core.training.types import pixel_results

        return pixel_results.tune_and_score(self, maps, images, config, tune=tune)

    def final_metrics(
        self, maps: Sequence[Maps], images: Sequence[Any], config: TrainConfig, params: list[dict]
    ) -> dict:
        """``{"per_label": [...], <score_key>: ..., ...}`` on the validation images with ``params``."""
        from core.training.types import pixel_results

        return pixel_results.final_metrics(self, maps, images, config, params)

    def assess(
        self,
        model: torch.nn.Module,
        card: dict,
        samples: Sequence[Any],
        *,
        on_image: Callable[[int, int], None] | None = None,
        keep_predictions: bool = True,
    ) -> Any:
        """Score a trained ``model`` (its ``card``) on ``samples``
        (:class:`~core.training.assessment.Sample`: images with ground truth, re-predicted here). Returns an
        assessment with ``overall()``, ``per_label()``, ``per_image()`` (rows for the tables),
        ``example(sample, rgb)`` (a sample's validation picture, or None) and ``pr_curves()``; the pixel
        types' is :class:`~core.training.assessment.Assessment` (label images, pixel and object counts)."""
        from core.training.assessment import assess_label_images

        return assess_label_images(self, model, card, samples, on_image=on_image,
                                   keep_predictions=keep_predictions)

    @abstractmethod
    def result_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        """Label ``index``'s result ``(H, W)`` with post-processing ``values`` (object ids or a bool mask)."""

    @abstractmethod
    def objects_plane(self, maps: Maps, index: int, values: dict) -> np.ndarray:
        """int32 ``(h, w)`` objects (or connected regions) of label ``index``, no size filter (tiled
        prediction filters sizes once the pieces are stitched)."""

    def plane_foreground(self, planes: np.ndarray) -> np.ndarray:
        """bool ``(L, H, W)`` foreground of stacked :meth:`result_plane` results."""
        return planes > 0 if self.object_ids else planes.astype(bool)

    # Card and report ------------------------------------------------------------------------------------
    def card_fields(self, config: TrainConfig, images: Sequence[Any] = ()) -> dict:
        """The card's type-specific fields (``images``: the training images,
        :class:`~core.training.sources.TrainingImage`, for what the card records about them)."""
        return {"distance_head": bool(self.distance(config.use_distance_head))}

    def methods_sentences(self, config: dict) -> str:
        """The report's type-specific sentences on how it trained (``config`` as the report has it)."""
        return ""

    def postprocess_phrases(self, values: dict, fmt: Callable[[object], str]) -> list[str]:
        """The report's type-specific phrases on one label's post-processing values, numbers written by
        ``fmt`` (the report's number format)."""
        return []


def channel_record(index: int, label: dict, name: str, activation: str) -> dict:
    """One output channel of :meth:`TrainingType.output_layout`."""
    return {
        "channel": index, "label_id": label["id"], "label": label["name"], "map": name, "activation": activation
    }


def label_items(
    kind: TrainingType, maps: Sequence[Maps], images: Sequence[Any], index: int
) -> list[tuple[Maps, np.ndarray, np.ndarray]]:
    """``(maps, ground truth, valid)`` of label ``index`` per validation image, as the tuning takes them."""
    return [
        (kind.label_maps(m, index), im.labels[index], im.valid) for m, im in zip(maps, images, strict=True)
    ]
