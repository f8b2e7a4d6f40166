"""A hand-built detection network whose boxes are known exactly, and synthetic pictures of its objects.

:class:`PointwiseBoxes` is a 1x1 convolution (no spatial context, so tiled and whole-image maps agree
exactly): input channel ``l`` (normalised intensity ``x``) is label ``l``'s heat logit ``20 * (x - 0.5)``; the
last channel is the log box side ``8 * x`` for both the height and the width. :func:`box_picture` draws a
cone (peak 255 at the centre pixel) per object in its label's channel and the object's side code over a disc
in the last channel, so each object's heat map has one peak, at its centre pixel, and its box is known.
"""

from __future__ import annotations

import numpy as np
import torch

from tests.inference.helpers import make_card

SIDE_GAIN = 8.0  # log side = SIDE_GAIN * (code / 255)
HEAT_GAIN = 20.0


class PointwiseBoxes(torch.nn.Module):
    """Detection logits ``(N, L + 2, H, W)`` from ``(N, L + 1, H, W)`` pictures of :func:`box_picture`."""

    def __init__(self, n_labels: int = 1) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(n_labels + 1, n_labels + 2, 1)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.bias.zero_()
            for lab in range(n_labels):
                self.conv.weight[lab, lab] = HEAT_GAIN
                self.conv.bias[lab] = -HEAT_GAIN / 2
            self.conv.weight[n_labels, n_labels] = SIDE_GAIN
            self.conv.weight[n_labels + 1, n_labels] = SIDE_GAIN

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def boxes_card(n_labels: int = 1, *, score_threshold: float = 0.5, nms_iou: float = 0.5, **extra) -> dict:
    labels = [{"id": 20 + i, "name": f"kind{i}", "color": ["#e6194b", "#4363d8", "#3cb44b"][i % 3]}
              for i in range(n_labels)]
    card = make_card("detection", labels=labels, channels=n_labels + 1, encoder="none",
                     postprocess={"score_threshold": score_threshold, "nms_iou": nms_iou})
    card["out_channels"] = n_labels + 2
    card["normalization"] = {"method": "percentile", "low": [0.0] * (n_labels + 1),
                             "high": [255.0] * (n_labels + 1)}
    return {**card, **extra}


def side_code(side: float) -> int:
    """The last channel's value whose box side is closest to ``side`` pixels."""
    return round(255 * float(np.log(side)) / SIDE_GAIN)


def code_side(code: int) -> float:
    """The box side (pixels) the network reads from the last channel's ``code``."""
    return float(np.exp(np.float32(SIDE_GAIN) * np.float32(code / 255.0)))


def box_picture(
    shape: tuple[int, int],
    objects: list[tuple[int, int, int, float]],
    n_labels: int = 1,
    *,
    radius: int = 10,
    peak: dict[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(picture uint8 (L + 1, H, W), boxes (N, 4), labels (N,))`` of ``objects`` ``(label, row, col,
    side)``: a cone of ``radius`` at the object's centre pixel in its label's channel (``peak`` maps an
    object's index to a lower peak value than 255), its side code on a disc in the last channel. The boxes
    are those the network reads, clipped to the picture."""
    h, w = shape
    picture = np.zeros((n_labels + 1, h, w), dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    boxes, labels = [], []
    for k, (label, row, col, side) in enumerate(objects):
        dist = np.hypot(yy - row, xx - col)
        top = (peak or {}).get(k, 255)
        cone = np.clip(1.0 - dist / radius, 0, 1) * top
        np.maximum(picture[label], cone, out=picture[label])
        code = side_code(side)
        picture[n_labels][dist <= radius + 2] = code
        s = code_side(code)
        cy, cx = row + 0.5, col + 0.5
        boxes.append([max(cx - s / 2, 0), max(cy - s / 2, 0), min(cx + s / 2, w), min(cy + s / 2, h)])
        labels.append(label)
    return (np.round(picture).astype(np.uint8), np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
            np.asarray(labels, dtype=np.int64))
