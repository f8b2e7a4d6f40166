"""Starting a training from a trained model (fine-tuning): its weights copied into the new network where
they fit, and in words what was kept and what is new.

The rules, the same for every training type:

* The start must be a network of the same kind (its card's ``architecture``): a U-Net (segmentation and
  detection) starts a U-Net, an image classifier a classifier. Anything else is refused in words
  (:func:`check_start`), and so is a start whose encoder differs from the training's.
* Every tensor of the new network that the start has with the same name and shape is copied (encoder,
  decoder, normalisation statistics).
* The first layer adapts to another channel count: its weights for each new input channel are the mean of
  the start's per-channel weights, scaled by (start channels / new channels), so that an image with the same
  value in every channel gives the start's response (:func:`adapt_input_weight`).
* The output layer is copied channel by channel through the label mapping: a new label mapped to one of the
  start's labels takes that label's output channels of the same map ("interior", "prob", "class", …); an
  unmapped label, and a map the start does not have, keep their new, untrained weights. Training-only
  channels (the edge rays of an instance training) are always new.

Arrays in, arrays out: the caller loads the start (:func:`load_start`) and passes it to the engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from core.classification.defaults import ARCHITECTURE as CLASSIFIER
from core.errors import InvalidInputError, ModelPackageError
from core.training.card_schema import ARCHITECTURE as UNET
from core.training.card_schema import BIOIMAGEIO_ARCHITECTURE

if TYPE_CHECKING:
    from core.training.config import TrainConfig

#: the output layer (its parameters' prefix) of each network kind, by the card's ``architecture``
OUTPUT_LAYERS = {UNET: "segmentation_head.0", CLASSIFIER: "head"}
#: each network kind in words, for refusals and the review
NETWORK_WORDS = {
    UNET: "a U-Net (encoder, decoder and output maps; segmentation and detection)",
    CLASSIFIER: "an image classifier (encoder and one linear layer)",
    BIOIMAGEIO_ARCHITECTURE: ("a bioimage.io model made elsewhere (TorchScript weights without their network's "
                              "code, which can be applied but not fine-tuned)"),
}


@dataclass(frozen=True)
class StartModel:
    """A trained model to start from: its weights (``state``), its card, who it is (``key``, ``name``, the
    SHA-256 of its weights file) and the label mapping (the new training's label id -> the start's label id;
    an absent label learns from scratch)."""

    state: Mapping[str, torch.Tensor]
    card: dict
    key: str
    name: str
    sha256: str
    label_map: Mapping[int, int] = field(default_factory=dict)

    def identity(self) -> dict:
        """Who the start is, for the card: key, name, weights hash, the task it was trained for (its type in
        words) and its labels."""
        from core.training.types import TRAINING_TYPES

        kind = str(self.card.get("training_type", ""))
        return {"key": self.key, "name": self.name, "sha256": self.sha256, "training_type": kind,
                "task": TRAINING_TYPES[kind].short_title if kind in TRAINING_TYPES else kind,
                "labels": [str(lab.get("name")) for lab in self.card.get("labels", [])]}


@dataclass(frozen=True)
class Transfer:
    """What a start gave the new network, in sentences (the wizard's review, the card, the methods)."""

    kept: tuple[str, ...]
    new: tuple[str, ...]
    copied: int = 0  # tensors copied whole
    adapted: int = 0  # tensors adapted to another channel count
    fresh: int = 0  # tensors left as initialised

    def card_record(self, start: StartModel) -> dict:
        return {**start.identity(), "label_map": {str(k): v for k, v in start.label_map.items()},
                "kept": list(self.kept), "new": list(self.new)}


def load_start(package_dir: Path, *, key: str, name: str, label_map: Mapping[int, int]) -> StartModel:
    """The package's weights (loaded with ``weights_only``), card and SHA-256, as a :class:`StartModel`."""
    from core.training.package import CARD, WEIGHTS, read_card

    package_dir = Path(package_dir)
    card = read_card(package_dir)
    path = package_dir / WEIGHTS
    try:
        data = path.read_bytes()
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ModelPackageError(f"{path} is missing; the model {name!r} cannot be started from") from exc
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelPackageError(f"{path} cannot be loaded safely ({exc}); the package of {name!r} is damaged "
                                f"(its card is {package_dir / CARD})") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelPackageError(f"{path} does not hold a network's weights; the package of {name!r} is damaged")
    return StartModel(state, card, key, name, hashlib.sha256(data).hexdigest(), dict(label_map))


def check_start(card: dict, *, architecture: str, task: str, encoder: str | None = None, name: str = "") -> None:
    """Refuse, in words, a start that cannot begin this training: another kind of network (``architecture``
    is the training's; ``task`` its type in words), or another encoder than ``encoder``."""
    shown = f"The model {name!r}" if name else "The model"
    theirs = card.get("architecture")
    if theirs != architecture:
        words = NETWORK_WORDS.get(str(theirs), f"a network of the unknown kind {theirs!r}")
        raise InvalidInputError(
            f"{shown} is {words}; {task} needs {NETWORK_WORDS.get(architecture, architecture)}. Choose a model "
            f"trained for {task} (or a type that shares its network), or start from random weights.")
    if encoder is not None and card.get("encoder") != encoder:
        raise InvalidInputError(
            f"{shown} uses the network {card.get('encoder')!r}, this training {encoder!r}; a start's weights "
            f"fit only its own network: choose the network {card.get('encoder')!r} for this training.")


def check_label_map(card: dict, label_map: Mapping[int, int], new_labels: Sequence[int], name: str = "") -> None:
    """Each mapped new label is one of the training's, and each start label one the start model has."""
    theirs = {int(lab["id"]): lab["name"] for lab in card.get("labels", [])}
    shown = f"the model {name!r}" if name else "the model"
    for new, old in label_map.items():
        if new not in new_labels:
            raise InvalidInputError(f"The label mapping names label id {new}, which this training does not "
                                    "train; map only the training's labels.")
        if old not in theirs:
            known = ", ".join(f"{i} ({n})" for i, n in theirs.items())
            raise InvalidInputError(f"The label mapping maps to label id {old}, which {shown} does not have; "
                                    f"its labels are {known}.")


def adapt_input_weight(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """A first layer's weight ``(O, C, ...)`` for ``channels`` input channels: each new channel's weight is the
    mean over the old channels times ``C / channels`` (an image with the same value in every channel gives
    the same response as before)."""
    old = weight.shape[1]
    mean = weight.mean(dim=1, keepdim=True)
    return (mean * (old / channels)).repeat(1, channels, *([1] * (weight.dim() - 2))).to(weight.dtype)


def plan_transfer(card: dict, *, layout: Sequence[dict], in_channels: int, label_map: Mapping[int, int],
                  labels: Mapping[int, str], training_type: str) -> Transfer:
    """What :func:`apply_transfer` will keep and make new, in sentences, from the cards alone (the wizard's
    review shows it before anything is loaded). ``layout`` is the new network's output layout, ``labels``
    the new training's label names by id."""
    theirs = {int(lab["id"]): str(lab["name"]) for lab in card.get("labels", [])}
    body = "encoder and decoder" if card.get("architecture") == UNET else "encoder"
    kept = [f"the {body} ({card.get('encoder')}) with their normalisation statistics"]
    new: list[str] = []
    old_channels = int(card.get("in_channels", in_channels))
    if old_channels != in_channels:
        kept.append(f"the first layer, adapted from {old_channels} to {in_channels} input channel(s): each new "
                    f"channel's weights are the mean of the model's per-channel weights, scaled by "
                    f"{old_channels}/{in_channels}")
    pairs = _channel_pairs(card.get("output_layout", []), layout, label_map)
    mapped = sorted({labels.get(int(layout[i]["label_id"]), "?") for i in pairs})
    for new_id, old_id in label_map.items():
        if new_id in labels and old_id in theirs and labels[new_id] in mapped:
            kept.append(f"the output of the model's {theirs[old_id]!r} for {labels[new_id]!r}")
    unmapped = [name for lab_id, name in labels.items() if lab_id not in label_map]
    if unmapped:
        new.append(f"the output for {', '.join(repr(n) for n in unmapped)} (not mapped to one of the model's "
                   "labels: learnt from scratch)")
    lost = [labels.get(new_id, "?") for new_id in label_map if new_id in labels and labels[new_id] not in mapped]
    if lost:
        why = (f"the model was trained for {card.get('training_type')}, this training is {training_type}"
               if card.get("training_type") != training_type else "its outputs do not match")
        new.append(f"the output for {', '.join(repr(n) for n in lost)} ({why}: learnt from scratch)")
    return Transfer(tuple(kept), tuple(new))


def apply_transfer(model: torch.nn.Module, start: StartModel, *, layout: Sequence[dict], in_channels: int,
                   labels: Mapping[int, str], training_type: str) -> Transfer:
    """Copy ``start``'s weights into ``model`` (see the module's rules); returns what was kept and new."""
    architecture = str(start.card.get("architecture"))
    prefix = OUTPUT_LAYERS.get(architecture)
    if prefix is None:
        raise InvalidInputError(f"The model {start.name!r} is a network of the unknown kind {architecture!r}; "
                                "it cannot be started from.")
    target = model.state_dict()
    pairs = _channel_pairs(start.card.get("output_layout", []), layout, start.label_map)
    copied = adapted = fresh = 0
    with torch.no_grad():
        for name, tensor in target.items():
            source = start.state.get(name)
            if name.startswith(prefix + ".") and source is not None and tensor.dim() >= 1:
                if _copy_rows(tensor, source, pairs):
                    adapted += 1
                else:
                    fresh += 1
            elif source is not None and source.shape == tensor.shape:
                tensor.copy_(source.to(tensor.dtype))
                copied += 1
            elif (source is not None and tensor.dim() == 4 and source.dim() == 4
                  and source.shape[0] == tensor.shape[0] and source.shape[2:] == tensor.shape[2:]
                  and tensor.shape[1] == in_channels):
                tensor.copy_(adapt_input_weight(source, in_channels).to(tensor.dtype))
                adapted += 1
            else:
                fresh += 1
    if copied == 0:
        raise InvalidInputError(f"None of the weights of {start.name!r} fit this training's network; choose a "
                                "model with the same network, or start from random weights.")
    model.load_state_dict(target)
    plan = plan_transfer(start.card, layout=layout, in_channels=in_channels, label_map=start.label_map,
                         labels=labels, training_type=training_type)
    return Transfer(plan.kept, plan.new, copied, adapted, fresh)


def start_network(model: torch.nn.Module, start: StartModel, config: TrainConfig, in_channels: int) -> dict:
    """:func:`apply_transfer` into a new training's network (its type's output layout and labels, as its
    card will record them); returns the card's ``start`` record."""
    from core.training.types import training_type

    labels = [{"id": lab.id, "name": lab.name} for lab in config.labels]
    layout = training_type(config.training_type).output_layout(labels, distance=config.use_distance_head)
    transfer = apply_transfer(model, start, layout=layout, in_channels=in_channels,
                              labels={lab.id: lab.name for lab in config.labels},
                              training_type=config.training_type)
    return transfer.card_record(start)


def default_label_map(card: dict, labels: Mapping[int, str]) -> dict[int, int]:
    """The mapping a user starts from: labels of the same name (letter case aside) map to each other; one
    label on each side map to each other whatever their names."""
    theirs = [(int(lab["id"]), str(lab["name"])) for lab in card.get("labels", [])]
    if len(theirs) == 1 and len(labels) == 1:
        return {next(iter(labels)): theirs[0][0]}
    by_name = {name.strip().lower(): lab_id for lab_id, name in theirs}
    return {new: by_name[name.strip().lower()] for new, name in labels.items() if name.strip().lower() in by_name}


def _channel_pairs(old_layout: Sequence[dict], new_layout: Sequence[dict],
                   label_map: Mapping[int, int]) -> dict[int, int]:
    """New output channel -> the start's channel of the mapped label and the same map."""
    old = {(int(c["label_id"]), str(c["map"])): int(c["channel"]) for c in old_layout}
    pairs = {}
    for c in new_layout:
        source = label_map.get(int(c["label_id"]))
        if source is not None and (source, str(c["map"])) in old:
            pairs[int(c["channel"])] = old[(source, str(c["map"]))]
    return pairs


def _copy_rows(tensor: torch.Tensor, source: torch.Tensor, pairs: Mapping[int, int]) -> bool:
    """Copy the output layer's rows ``pairs`` (new -> old) when the rest of the shapes agree."""
    if source.dim() != tensor.dim() or source.shape[1:] != tensor.shape[1:]:
        return False
    done = False
    for new, old in pairs.items():
        if new < tensor.shape[0] and old < source.shape[0]:
            tensor[new].copy_(source[old].to(tensor.dtype))
            done = True
    return done
