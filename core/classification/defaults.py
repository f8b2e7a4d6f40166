"""The classifier's defaults, importable without torch (the training-type registry reads them)."""

from __future__ import annotations

#: What the classification entry sets in :class:`~core.training.config.TrainConfig`: ``patch_size`` is the
#: side of the square input (see :mod:`core.classification.fitting`), decoupled weight decay for AdamW,
#: eight test-time views (kept where they validate better), an exponential average of the weights of the
#: second half (kept where it validates better than the best epoch).
CONFIG_DEFAULTS: dict = {
    "patch_size": 64, "weight_decay": 0.05, "views": 8, "average_from": 0.5, "epochs": 15,
}
#: the card's ``architecture`` of a classifier package
ARCHITECTURE = "smp.encoder+avgpool+linear"
LABEL_SMOOTHING = 0.1
LOSS = (f"cross-entropy over the classes with label smoothing {LABEL_SMOOTHING:g}, each class weighted "
        "inversely to the square root of its share of the training images")
