"""The pixel and box types' validation after training: the packaged model re-predicts the validation images
whole and is scored against their ground truth (:func:`core.training.assessment.assess`); what
:meth:`~core.training.types.base.TrainingType.score_validation` gives the training job unless a type answers
otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.training.assessment import Sample, assess
from core.training.config import TrainConfig
from core.training.package import load_model
from core.training.sources import TrainingImage
from core.training.types import training_type
from core.training.types.steps import ScoredValidation


def validation_samples(images: list[TrainingImage], config: TrainConfig) -> list[Sample]:
    """The validation images read whole with their ground truth (and exact object boxes) for
    :func:`~core.training.assessment.assess`."""
    samples = []
    for im in images:
        truth = im.targets(0, 0, im.height, im.width)
        labels = training_type(config.training_type).ground_truth(truth)
        samples.append(Sample(im.key, np.asarray(im.read(0, 0, im.height, im.width)), np.asarray(labels),
                              np.asarray(truth["valid"], dtype=bool), list(im.object_boxes)))
    return samples


def metrics_summary(assessment: Any, train_metrics: dict) -> dict[str, Any]:
    """What a training's ``metrics`` hold: the assessment's ``overall``, ``per_label`` and ``per_image`` and
    the training's own final metrics (without their per-label rows)."""
    return {
        "overall": assessment.overall(),
        "per_label": assessment.per_label(),
        "per_image": assessment.per_image(),
        "training": {k: v for k, v in train_metrics.items() if k != "per_label"},
    }


def assess_package(
    package_dir: Path, val_images: list[TrainingImage], config: TrainConfig, train_metrics: dict
) -> ScoredValidation:
    """The package's model scored on the validation images: metrics, validation pictures and (boxes) the
    precision-recall curves."""
    from core.training.report_assembly import examples_from

    model, card = load_model(package_dir, "cpu")
    samples = validation_samples(val_images, config)
    assessment = assess(model, card, samples)
    return ScoredValidation(metrics_summary(assessment, train_metrics), examples_from(samples, assessment),
                            assessment.pr_curves())
