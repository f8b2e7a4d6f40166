"""A segstudio model card as bioimage.io (spec 0.5) tensors: the input with its pre-processing, the outputs
with their post-processing, the network's channel splits and the tile sizes.

Plain dicts in the spec's YAML form (no bioimageio import here). What the spec can say is said with its own
operations; what it cannot is listed by :func:`unexpressed` for the documentation.

* Input ``raw``: axes batch, channel, y, x; float32 raw intensities. Pre-processing: the card's per-image
  normalisation (scope "image") is ``scale_range`` over y and x with the card's percentiles; the dataset
  normalisation (scope "dataset") is ``fixed_zero_mean_unit_variance`` along the channel axis with
  ``mean = low`` and ``std = high - low``, exactly segstudio's ``(x - low) / (high - low)``.
* Outputs, from the card's output layout (:func:`core.training.models.output_layout`): the channels of one
  map with a sigmoid (a semantic model's label probabilities, an instance model's distances) form one tensor
  with the ``sigmoid`` post-processing; each label's three background / interior / boundary channels of an
  instance model form one tensor with ``softmax`` along the channel axis.

Only models whose outputs are label images (semantic and instance segmentation) are covered:
:func:`export_refusal` says why another model is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ModelPackageError
from core.inference.receptive import default_halo, round_halo
from core.training.card_schema import ARCHITECTURE, BIOIMAGEIO_ARCHITECTURE
from core.training.models import output_layout
from core.training.normalization import card_normalization
from core.training.scale import card_scale
from core.training.types import training_type
from core.training.types.base import LABEL_IMAGES
from core.training.views import card_views

INPUT_ID = "raw"
#: the halo declared on the outputs at most (pixels): a larger one would make the smallest tile larger
MAX_DECLARED_HALO = 64
#: output tensor id of a sigmoid map, by the map's name in the output layout
SIGMOID_IDS = {"prob": "probabilities", "distance": "distance"}
THREE_CLASSES = ("background", "interior", "boundary")
EPS = 1e-6


@dataclass(frozen=True)
class Output:
    """One output tensor: its id, its channels' names, the network channels ``[start, stop)`` it holds,
    the spec's post-processing and a sentence."""

    id: str
    channel_names: tuple[str, ...]
    start: int
    stop: int
    postprocessing: tuple[dict, ...]
    description: str


def export_refusal(card: dict) -> str | None:
    """Why the model of ``card`` cannot be exported as a bioimage.io package, or None when it can."""
    architecture = card.get("architecture", ARCHITECTURE)
    if architecture == BIOIMAGEIO_ARCHITECTURE:
        return "it was imported from a bioimage.io package made elsewhere; share that package instead"
    kind = training_type(card["training_type"])
    if kind.result_kind != LABEL_IMAGES:
        return (f"{kind.short_title} models give {kind.result_kind}, not label images; the bioimage.io "
                "export covers semantic and instance segmentation models")
    if architecture != ARCHITECTURE:
        return f"its network ({architecture}) is not a segstudio U-Net"
    return None


def outputs(card: dict) -> list[Output]:
    """The output tensors of the card's network, in channel order (see the module docstring)."""
    layout = card.get("output_layout") or output_layout(
        card["training_type"], card["labels"], distance=bool(card.get("distance_head", False))
    )
    out: list[Output] = []
    index = 0
    several = len(card["labels"]) > 1
    while index < len(layout):
        record = layout[index]
        if record["activation"] == "softmax3":
            group = layout[index : index + 3]
            if [r["map"] for r in group] != list(THREE_CLASSES):
                raise ModelPackageError(f"the card's output layout has {[r['map'] for r in group]} at "
                                        f"channel {index}; expected {list(THREE_CLASSES)}")
            number = sum(o.id.startswith("classes") for o in out) + 1
            out.append(Output(
                f"classes{number}" if several else "classes", THREE_CLASSES, index, index + 3,
                ({"id": "softmax", "kwargs": {"axis": "channel"}},),
                f"label {record['label']!r}: probabilities of background, object interior and object "
                "boundary (they add up to 1 per pixel)"))
            index += 3
        elif record["activation"] == "sigmoid":
            stop = index
            while stop < len(layout) and layout[stop]["activation"] == "sigmoid" \
                    and layout[stop]["map"] == record["map"]:
                stop += 1
            names = tuple(str(r["label"]) for r in layout[index:stop])
            what = ("probability that the pixel belongs to the label (labels may overlap)"
                    if record["map"] == "prob" else
                    "distance to the object's edge, 1 at the object's centre (normalised per object)")
            out.append(Output(SIGMOID_IDS.get(record["map"], record["map"]), names, index, stop,
                              ({"id": "sigmoid"},), f"per label ({', '.join(names)}): {what}"))
            index = stop
        else:
            raise ModelPackageError(
                f"output channel {index} has the activation {record['activation']!r}, which the bioimage.io "
                "export does not describe; only sigmoid and three-class softmax outputs are exported")
    return out


def preprocessing(card: dict) -> list[dict]:
    """The spec's pre-processing of the input tensor for the card's normalisation."""
    norm = card_normalization(card)
    if norm.get("scope", "dataset") == "image":
        return [{"id": "scale_range", "kwargs": {
            "axes": ["y", "x"], "min_percentile": float(norm["low_percentile"]),
            "max_percentile": float(norm["high_percentile"]), "eps": EPS}}]
    low = [float(v) for v in norm["low"]]
    std = [float(h) - float(lo) for lo, h in zip(low, norm["high"], strict=True)]
    return [{"id": "fixed_zero_mean_unit_variance", "kwargs": {"axis": "channel", "mean": low, "std": std}}]


def image_halo(card: dict) -> int:
    """The halo segstudio's tiled prediction gives this model, in image pixels."""
    halo = default_halo(card)
    factor = card_scale(card)
    return halo if factor == 1.0 else round_halo(halo / factor)


def declared_halo(card: dict) -> int:
    return min(image_halo(card), MAX_DECLARED_HALO)


def min_side(card: dict) -> int:
    """The smallest input side declared: a multiple of 32 holding twice the declared halo and 32 pixels."""
    need = 2 * declared_halo(card) + 32
    return -(-need // 32) * 32


def tensor_descriptions(card: dict, files: dict[str, dict]) -> tuple[list[dict], list[dict]]:
    """``(inputs, outputs)`` of the spec for ``card``; ``files`` maps ``"input"`` and each output id to its
    ``{"test_tensor", "sample_tensor"}`` file records (``{"source", "sha256"}``)."""
    channels = int(card["in_channels"])
    size = {"min": min_side(card), "step": 32}
    inputs = [{
        "id": INPUT_ID,
        "description": ("raw image intensities as float32 (any pixel type converted to float32 without "
                        "scaling), channels first"),
        "axes": [
            {"type": "batch"},
            {"type": "channel", "channel_names": [f"channel{i + 1}" for i in range(channels)]},
            {"type": "space", "id": "y", "size": size},
            {"type": "space", "id": "x", "size": size},
        ],
        **files["input"],
        "data": {"type": "float32"},
        "preprocessing": preprocessing(card),
    }]
    halo = declared_halo(card)
    outs = []
    for out in outputs(card):
        outs.append({
            "id": out.id,
            "description": out.description,
            "axes": [
                {"type": "batch"},
                {"type": "channel", "channel_names": list(out.channel_names)},
                *({"type": "space", "id": axis, "halo": halo,
                   "size": {"tensor_id": INPUT_ID, "axis_id": axis}} for axis in ("y", "x")),
            ],
            **files[out.id],
            "data": {"type": "float32", "range": [0.0, 1.0]},
            "postprocessing": [dict(step) for step in out.postprocessing],
        })
    return inputs, outs


def unexpressed(card: dict) -> list[str]:
    """What segstudio does with this model that the spec's tensors and operations do not say, in words."""
    notes = []
    norm = card_normalization(card)
    if norm.get("scope", "dataset") == "image" and norm.get("stretch_floor") is not None:
        floor = ", ".join(f"{v:.4g}" for v in norm["stretch_floor"])
        typical = ", ".join(f"{v:.4g}" for v in (norm.get("reference") or {}).get("stretch", []))
        notes.append(
            "Nearly empty images: when an image's own percentile range (high minus low) is below "
            f"{floor} (per channel; a quarter of the training images' typical range {typical}), segstudio "
            "divides by the typical range instead of the image's own, so that background noise is not "
            "stretched into objects. The spec's scale_range always uses the image's own range.")
    if norm.get("dtype") is not None and norm.get("scope", "dataset") != "image":
        notes.append(
            f"Bit depth: the fixed normalisation values are in the units of the training images "
            f"({norm['dtype']}). segstudio scales an image of another pixel type with its own "
            f"{norm.get('low_percentile', 1.0):g} and {norm.get('high_percentile', 99.8):g} percentiles "
            "instead; give this package images of the training images' pixel type.")
    factor = card_scale(card)
    if factor != 1.0:
        notes.append(
            f"Working scale: the network was trained on images shrunk to {factor:g} of their size. The "
            "exported model shrinks the image itself (the mean of the covered pixels), runs the U-Net and "
            "enlarges the logits back (bilinear), so inputs and outputs are at the image's own pixel size.")
    views = card_views(card)
    if views > 1:
        notes.append(
            f"Test-time views: segstudio averages the probability maps of {views} flipped and rotated views "
            "of each image; the exported model runs one view (the image as it is), so its maps are "
            "slightly less smooth.")
    notes.append(
        f"Tiles: segstudio's own tiled prediction gives each tile a margin (halo) of {image_halo(card)} "
        f"pixels; the outputs declare a halo of {declared_halo(card)} pixels so that tiles can stay small.")
    return notes


def spec_normalize(image: np.ndarray, card: dict) -> np.ndarray:
    """float32 ``(C, H, W)``: ``image`` normalised exactly as the package's pre-processing says
    (:func:`preprocessing`, as bioimageio.core computes it): per channel ``(x - p_low) / (p_high - p_low +
    eps)`` with the image's own percentiles, or ``(x - mean) / (std + eps)`` with the card's fixed values."""
    x = np.asarray(image, dtype=np.float64)
    step = preprocessing(card)[0]
    kwargs = step["kwargs"]
    if step["id"] == "scale_range":
        flat = x.reshape(x.shape[0], -1)
        low = np.percentile(flat, kwargs["min_percentile"], axis=1)[:, None, None]
        high = np.percentile(flat, kwargs["max_percentile"], axis=1)[:, None, None]
        return ((x - low) / (high - low + kwargs["eps"])).astype(np.float32)
    mean = np.asarray(kwargs["mean"])[:, None, None]
    std = np.asarray(kwargs["std"])[:, None, None]
    return ((x - mean) / (std + EPS)).astype(np.float32)
