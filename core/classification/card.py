"""The classifier's model card: the fields the other training types' cards have (so that the Models and
Apply pages list it, :mod:`core.training.card_schema` checks it), and the classifier's own:

* ``input``: how images are fitted (:func:`core.classification.fitting.fit_record`: input size, resize or
  tiles, the training examples' typical side) and ``input_description``, the sentence for the methods;
* ``normalization``: percentile normalisation per image (scope "image"); ``low``/``high`` are the medians of
  the training examples' own values, for reference;
* ``output_layout``: one softmax channel per class (map "class");
* the loop adds ``views``, ``augmentation``, ``imbalance`` (sentences for the report), ``metrics``,
  ``training`` and ``methods`` (:func:`methods_sentences`: the methods paragraph's sentences by topic);
  :func:`core.training.package.write_package` adds ``format_version``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np
import torch

from core.classification.data import FittedSet
from core.classification.defaults import LABEL_SMOOTHING
from core.classification.examples import ClassExample
from core.classification.fitting import describe_input
from core.classification.model import ARCHITECTURE, DROPOUT
from core.training.start_words import initialisation, start_sentence
from core.training.config import TrainConfig
from core.training.models import ENCODERS
from core.training.normalization import HIGH_PERCENTILE, LOW_PERCENTILE
from core.training.package import package_versions

#: the output map of a classifier's channels (one per class, softmax over the classes)
CLASS_MAP, SOFTMAX = "class", "softmax"


def classifier_card(
    config: TrainConfig,
    fit: dict,
    in_channels: int,
    train: Sequence[ClassExample],
    val: Sequence[ClassExample],
    fitted: FittedSet,
    loss: str,
) -> dict:
    """The card of a classifier trained with ``config`` on ``train`` (fitted as ``fitted``), validated on
    ``val``; ``fit`` is the input record, ``loss`` the loss in words."""
    labels = [{"id": lab.id, "name": lab.name, "color": lab.color} for lab in config.labels]
    spec = ENCODERS[config.encoder]
    depths = Counter(str(np.dtype(ex.dtype)) for ex in train)
    dtype = max(depths, key=depths.__getitem__)
    norm = {
        "method": "percentile",
        "scope": "image",
        "low_percentile": LOW_PERCENTILE,
        "high_percentile": HIGH_PERCENTILE,
        "low": [float(v) for v in np.median(fitted.low, axis=0)],
        "high": [float(v) for v in np.median(fitted.high, axis=0)],
        "dtype": dtype,
    }
    if len(depths) > 1:
        norm["mixed_depths"] = dict(sorted(depths.items()))
    return {
        "architecture": ARCHITECTURE,
        "encoder": config.encoder,
        "smp_encoder": spec["smp_encoder"],
        "encoder_depth": int(spec.get("encoder_depth", 5)),
        "head": f"global average pooling, dropout {DROPOUT:g} and one linear layer",
        "in_channels": in_channels,
        "dtype": dtype,
        "out_channels": len(labels),
        "training_type": config.training_type,
        "labels": labels,
        "distance_head": False,
        "output_layout": [{"channel": i, "label_id": lab["id"], "label": lab["name"], "map": CLASS_MAP,
                           "activation": SOFTMAX} for i, lab in enumerate(labels)],
        "normalization": norm,
        "input": fit,
        "input_description": describe_input(fit),
        "patch_size": int(fit["size"]),
        "loss": loss,
        "seed": config.seed,
        "config": config.to_dict(),
        "split": {"train": [ex.key for ex in train], "val": [ex.key for ex in val]},
        "class_counts": {
            "train": _counts(train, labels), "val": _counts(val, labels),
        },
        "package_versions": package_versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _counts(examples: Sequence[ClassExample], labels: list[dict]) -> dict[str, int]:
    counts = Counter(int(ex.label) for ex in examples)
    return {lab["name"]: int(counts.get(i, 0)) for i, lab in enumerate(labels)}


def methods_sentences(card: dict) -> dict[str, str]:
    """The report's methods sentences of a classifier card, by topic: ``network``, ``input``,
    ``augmentation``, ``imbalance``, ``training`` (budget, steps, optimiser, device) and ``selection``
    (which weights and views were kept)."""
    spec = ENCODERS.get(card["encoder"], {})
    depth = int(card.get("encoder_depth", 5))
    stages = "all five stages" if depth >= 5 else f"its first {depth} stages"
    n = len(card["labels"])
    network = (
        f"The classifier is a {spec.get('smp_encoder', card['encoder'])} encoder ({stages}; registry entry "
        f"{card['encoder']!r}) {initialisation(card.get('start'))}, followed by "
        f"{card.get('head', 'global average pooling and a linear layer')} giving one logit per class ({n} "
        "classes, softmax for the probabilities); its loss is "
        f"{card.get('loss', 'cross-entropy')}."
    )
    info = card.get("training") or {}
    config = card.get("config") or {}
    steps, epochs = info.get("steps"), info.get("epochs")
    budget = info.get("budget_seconds")
    training = (
        f"It was trained for {steps} steps of {info.get('batch_size')} images ({epochs} "
        f"epoch{'' if epochs == 1 else 's'}"
        + (f", a time budget of {budget / 60:.0f} min" if budget and budget < 1e5 else "")
        + f") with AdamW (learning rate {info.get('learning_rate', 0):.2g}, weight decay "
        f"{config.get('weight_decay', 0):g}; warm-up, then cosine decay) on "
        f"{str(info.get('device', 'the CPU')).split(' (')[0]}."
    )
    metrics = card.get("metrics") or {}
    average = metrics.get("weight_average") or {}
    views = int(card.get("views", 1))
    kept = ("an exponential moving average of the weights" if average.get("kept")
            else f"the weights of epoch {metrics.get('best_epoch')}, the best on the validation images")
    selection = (
        f"The model kept is {kept}; "
        + ("each image is classified as it is." if views == 1 else
           f"its class probabilities are averaged over {views} mirrored and turned views of each image "
           "(they scored better on the validation images).")
    )
    return {
        "network": network,
        "input": card.get("input_description", ""),
        "augmentation": card.get("augmentation", ""),
        "imbalance": card.get("imbalance", ""),
        "training": training,
        "selection": selection,
        **({"start": start_sentence(card["start"])} if card.get("start") else {}),
    }


def imbalance_sentence(y: torch.Tensor, weights: torch.Tensor, names: Sequence[str]) -> str:
    """How class imbalance was handled, with the training set's class ratio and the class weights."""
    counts = torch.bincount(y, minlength=len(names)).tolist()
    present = [c for c in counts if c]
    ratio = max(present) / min(present)
    return (
        "Class imbalance: the cross-entropy weighted each class inversely to the square root of its share of "
        f"the training images (largest to smallest class {ratio:.1f}:1; weights "
        + ", ".join(f"{n} {w:.2f}" for n, w in zip(names, weights.tolist(), strict=True))
        + f"), with label smoothing {LABEL_SMOOTHING:g}."
    )
