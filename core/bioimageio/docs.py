"""The human side of an exported bioimage.io package: its README (what the model does, its tensors, what
segstudio does after the network and what the spec cannot say) and its cover picture."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

from core.bioimageio.tensors import Output
from core.inference.predictor import postprocess_values
from core.training.models import encoder_spec
from core.training.types import training_type

#: each half of the cover (input | output), pixels; the cover is twice as wide as high
COVER_SIDE = 256


def readme(card: dict, *, name: str, description: str, outputs: Sequence[Output], notes: Sequence[str],
           preprocessing: Sequence[dict]) -> str:
    """The package's README.md (Markdown)."""
    kind = training_type(card["training_type"])
    labels = ", ".join(str(lab["name"]) for lab in card["labels"])
    lines = [
        f"# {name}", "", description, "",
        "Made with segstudio, a no-code trainer for bioimage segmentation. The network is a U-Net "
        "(segmentation_models_pytorch, https://github.com/qubvel-org/segmentation_models.pytorch) with "
        f"{_encoder(card)}, for {kind.short_title} of: {labels}.", "",
        "## Input", "",
        f"One tensor `raw` with axes batch, channel ({card['in_channels']}), y, x: the image's raw "
        "intensities as float32. The package's pre-processing normalises them:", "",
        *[f"- `{step['id']}` {_kwargs(step)}" for step in preprocessing], "",
        "Any height and width works: the model pads the image to a multiple of 32 pixels itself.", "",
        "## Outputs", "",
        "| tensor | channels | meaning | post-processing |", "|---|---|---|---|",
        *[f"| `{o.id}` | {', '.join(o.channel_names)} | {o.description} | "
          f"{', '.join(step['id'] for step in o.postprocessing)} |" for o in outputs], "",
        "## From maps to label images (what segstudio does after the network)", "",
        "The bioimage.io specification has no operation for these steps; segstudio applies them, per label, "
        + ("with the values of the model card (searched on the validation images when the training tuned "
           "them):" if card.get("postprocess") else "with segstudio's default values:"), "",
        *_postprocess_lines(card, object_ids=kind.object_ids), "",
    ]
    if notes:
        lines += ["## What the specification does not express", "", *[f"- {n}" for n in notes], ""]
    lines += [*_training_lines(card), *_validation_lines(card), "## segstudio", "",
              "The package holds segstudio's own `model_card.json` (attachment) and `weights.pt` (the "
              "pytorch_state_dict weights). Importing this ZIP into segstudio (Apply page, or "
              "`segstudio model import`) restores the complete segstudio model, so it can be applied with "
              "segstudio's own tiling and post-processing, or fine-tuned.", ""]
    return "\n".join(lines)


def cover_png(image: np.ndarray, maps: np.ndarray, color: str | None = None) -> bytes:
    """A PNG twice as wide as high: the normalised input ``image`` ``(C, H, W)`` (grey, or RGB for 3
    channels) and a probability map ``maps`` ``(H, W)`` in 0..1 drawn in ``color`` over black."""
    left = _picture(image)
    rgb = np.asarray(_hex(color or "#e6194b"), dtype=np.float32)
    right = (np.clip(maps, 0.0, 1.0)[..., None] * rgb).astype(np.uint8)
    halves = [Image.fromarray(p).resize((COVER_SIDE, COVER_SIDE), Image.Resampling.BILINEAR)
              for p in (left, right)]
    cover = Image.new("RGB", (2 * COVER_SIDE, COVER_SIDE))
    cover.paste(halves[0], (0, 0))
    cover.paste(halves[1], (COVER_SIDE, 0))
    buffer = io.BytesIO()
    cover.save(buffer, format="PNG")
    return buffer.getvalue()


def _encoder(card: dict) -> str:
    """The encoder in words: smp's name, and the stages used when fewer than all."""
    spec = encoder_spec(card["encoder"])
    depth = int(spec.get("encoder_depth", 5))
    stages = f" (its first {depth} stages)" if depth < 5 else ""
    return f"a {spec['smp_encoder']} encoder{stages} and decoder widths {list(spec['decoder_channels'])}"


def _picture(image: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W, 3)`` of a normalised image: the first channel in grey, or three channels as RGB."""
    planes = image[:3] if image.shape[0] == 3 else np.repeat(image[:1], 3, axis=0)
    return (np.clip(np.moveaxis(planes, 0, -1), 0.0, 1.0) * 255).astype(np.uint8)


def _hex(color: str) -> tuple[int, int, int]:
    text = color.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def _kwargs(step: dict) -> str:
    kwargs = step.get("kwargs") or {}
    return "(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")" if kwargs else ""


def _postprocess_lines(card: dict, *, object_ids: bool) -> list[str]:
    lines = []
    for lab, values in zip(card["labels"], postprocess_values(card), strict=True):
        if object_ids:
            seeds = "distance map" if card.get("distance_head") else "interior probability"
            lines.append(
                f"- **{lab['name']}**: foreground where interior + boundary probability > "
                f"{values['threshold']:g}; "
                f"seeds where the {seeds} > {values['seed_threshold']:g}"
                + (f" (only maxima rising {values['seed_height']:g} above their surroundings)"
                   if values.get("seed_height", 0) > 0 else "")
                + f"; a seeded watershed on the inverted {seeds} splits the foreground into objects; "
                f"objects under {values['min_size']} pixels are removed.")
        else:
            lines.append(f"- **{lab['name']}**: pixels with probability > {values['threshold']:g}; connected "
                         f"regions under {values['min_size']} pixels are removed.")
    return lines


def _training_lines(card: dict) -> list[str]:
    training = card.get("training") or {}
    facts = []
    if "steps" in training:
        facts.append(f"{training['steps']} steps")
    if "seconds" in training:
        facts.append(f"{float(training['seconds']):.0f} s")
    if "device" in training:
        facts.append(f"on {training['device']}")
    if "patch_size" in card:
        facts.append(f"patches of {card['patch_size']} pixels")
    split = card.get("split") or {}
    if split:
        facts.append(f"{len(split.get('train', []))} training and {len(split.get('val', []))} "
                     "validation images")
    lines = ["## Training", ""]
    lines.append(f"Trained with segstudio ({', '.join(facts)})." if facts else "Trained with segstudio.")
    if card.get("loss"):
        lines.append(f"Loss: {card['loss']}.")
    if card.get("created_at"):
        lines.append(f"Created {card['created_at']}.")
    return [*lines, ""]


def _validation_lines(card: dict) -> list[str]:
    metrics = card.get("metrics") or {}
    named = (("mean_iou", "mean IoU"), ("mean_f1", "mean F1@0.5"))
    scores = [f"{name} {float(metrics[key]):.3f}" for key, name in named
              if isinstance(metrics.get(key), (int, float)) and np.isfinite(metrics[key])]
    lines = ["## Validation", ""]
    if scores:
        lines.append("On the training's validation images (never trained on), after the post-processing "
                     f"above: {', '.join(scores)}.")
    else:
        lines.append("The model card records no validation score.")
    lines.append("To validate the model on unseen data, score its label images against ground truth of your "
                 "own images (segstudio: `segstudio evaluate`), per label: pixel IoU for semantic "
                 "segmentation, object F1 at IoU 0.5 for instance segmentation.")
    return [*lines, ""]
