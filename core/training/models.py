"""The network: an smp U-Net whose encoder comes from the :data:`ENCODERS` registry.

Output layout (``L`` labels; also written to the model card by :func:`output_layout`):

* semantic: channel ``l`` = logit of label ``l`` (sigmoid; labels may overlap);
* instance: channels ``3l, 3l+1, 3l+2`` = logits of background / interior / boundary of label ``l``
  (softmax over the three), then, with the distance head, channel ``3L + l`` = logit of label ``l``'s
  normalised distance to the object edge (sigmoid).

While it trains, an instance network with edge rays (``TrainConfig.edge_rays``) has :data:`RAY_COUNT`
more channels per label after those (:func:`training_channels`): its distances in pixels to the object's
edge along :data:`~core.evaluation.targets.RAY_STEPS`, an auxiliary task that post-processing does not use.
The package keeps only the layout above (:func:`inference_model`).

Weights are never downloaded (``encoder_weights=None``).
"""

from __future__ import annotations

import copy

import segmentation_models_pytorch as smp
import torch

from core.errors import InvalidInputError
from core.training.encoders import DEFAULT_ENCODER, ENCODERS  # noqa: F401  (re-exported)
from core.training.types import training_type as _type
from core.training.types.instance import INSTANCE, RAY_COUNT  # noqa: F401  (RAY_COUNT re-exported)

MAX_CHANNELS = 10


def encoder_spec(name: str) -> dict:
    """The registry entry of ``name``; an unknown name lists the known ones."""
    try:
        return ENCODERS[name]
    except KeyError:
        raise InvalidInputError(f"encoder {name!r} is not known; choose one of {list(ENCODERS)}") from None


def out_channels(training_type: str, n_labels: int, *, distance: bool) -> int:
    """Number of output channels for a training type and label count (see the module docstring)."""
    return _type(training_type).out_channels(n_labels, distance=distance)


def training_channels(training_type: str, n_labels: int, *, distance: bool, rays: bool) -> int:
    """Output channels of the network while it trains: :func:`out_channels`, plus :data:`RAY_COUNT` per
    label for the edge rays of an instance training (``rays``)."""
    return _type(training_type).training_channels(n_labels, distance=distance, rays=rays)


def ray_logits(logits: torch.Tensor, n_labels: int, *, distance: bool) -> torch.Tensor:
    """The edge-ray channels ``(B, L * RAY_COUNT, H, W)`` of a training network's instance logits."""
    start = INSTANCE.out_channels(n_labels, distance=distance)
    return logits[:, start : start + RAY_COUNT * n_labels]


def inference_model(model: torch.nn.Module, n_out: int) -> torch.nn.Module:
    """The network as packaged: a copy whose output is cut to its first ``n_out`` channels (training-only
    channels such as the edge rays dropped), or ``model`` itself when it has no more."""
    conv = model.segmentation_head[0]
    if conv.out_channels == n_out:
        return model
    if conv.out_channels < n_out:
        raise InvalidInputError(f"the network has {conv.out_channels} output channels, fewer than {n_out}")
    packaged = copy.deepcopy(model)
    head = packaged.segmentation_head[0]
    head.weight = torch.nn.Parameter(head.weight.detach()[:n_out].clone())
    if head.bias is not None:
        head.bias = torch.nn.Parameter(head.bias.detach()[:n_out].clone())
    head.out_channels = n_out
    return packaged


def build_model(encoder: str, in_channels: int, out_channels: int) -> torch.nn.Module:
    """An untrained smp U-Net ``(B, in_channels, H, W) -> (B, out_channels, H, W)`` logits.

    ``H`` and ``W`` must be multiples of 32.
    """
    spec = encoder_spec(encoder)
    if not isinstance(in_channels, int) or not 1 <= in_channels <= MAX_CHANNELS:
        raise InvalidInputError(f"in_channels={in_channels!r} must be an integer from 1 to {MAX_CHANNELS}")
    if not isinstance(out_channels, int) or out_channels < 1:
        raise InvalidInputError(f"out_channels={out_channels!r} must be a positive integer")
    depth = int(spec.get("encoder_depth", 5))
    model = smp.Unet(
        encoder_name=spec["smp_encoder"],
        encoder_weights=None,
        in_channels=in_channels,
        classes=out_channels,
        encoder_depth=depth,
        decoder_channels=tuple(spec["decoder_channels"]),
    )
    _drop_unused_stages(model.encoder, depth)
    return model


def set_output_bias(model: torch.nn.Module, biases: dict[int, float]) -> None:
    """Start output channel ``k``'s bias at ``biases[k]`` (e.g. a low prior for a sparse heat map, so that
    the first steps do not spend themselves unlearning 0.5 everywhere)."""
    head = model.segmentation_head[0]
    with torch.no_grad():
        for channel, value in biases.items():
            head.bias[channel] = float(value)


def _drop_unused_stages(encoder: torch.nn.Module, depth: int) -> None:
    """smp builds every stage of an encoder even when a shallower depth uses fewer; drop the unused ones so
    that they take no room in the weights, the TorchScript file or the optimiser."""
    stages = encoder.get_stages() if hasattr(encoder, "get_stages") else {}
    for stride, modules in stages.items():
        if stride > 2**depth:
            for module in modules:
                for name, child in list(encoder.named_children()):
                    if child is module:
                        delattr(encoder, name)


def output_layout(training_type: str, labels: list[dict], *, distance: bool) -> list[dict]:
    """One record per output channel: ``{"channel", "label_id", "label", "map", "activation"}``.

    ``labels`` are dicts with ``id`` and ``name``.
    """
    return _type(training_type).output_layout(labels, distance=distance)


def logits_to_maps(logits: torch.Tensor, training_type: str, n_labels: int, *, distance: bool) -> dict:
    """Logits ``(B, K, H, W)`` -> probability maps, each ``(B, L, H, W)`` float32.

    Semantic: ``{"prob"}``; instance: ``{"background", "interior", "boundary"}`` (+ ``"distance"``).
    """
    return _type(training_type).logits_to_maps(logits, n_labels, distance=distance)
