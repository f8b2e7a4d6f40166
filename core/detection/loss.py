"""The detection loss: CenterNet's penalty-reduced focal loss on the heat maps (Law & Deng 2018, Zhou et al.
2019) plus an L1 loss on the log box sizes where they are learnt, both ignoring pixels without ground truth.

Logits ``(B, L + 2, H, W)``: ``L`` heat logits, then log height and log width. Targets from
:func:`core.detection.targets.centre_targets`, stacked, and ``valid`` ``(B, H, W)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ALPHA, BETA = 2.0, 4.0  # CenterNet's focusing powers
SIZE_WEIGHT = 1.0  # L1 of log sizes (about 0.1 for a 10 % error) against the focal term per object
_TINY = 1e-6


def heat_focal(log_p: torch.Tensor, log_q: torch.Tensor, p: torch.Tensor, target: torch.Tensor,
               valid: torch.Tensor) -> torch.Tensor:
    """Focal loss of heat probabilities ``p`` (with ``log p`` and ``log (1 - p)``) against Gaussian targets,
    summed over valid pixels and divided by the number of object centres (at least 1)."""
    pos = (target >= 1.0).float() * valid
    neg = (1.0 - pos) * valid
    pos_term = pos * (1.0 - p) ** ALPHA * log_p
    neg_term = neg * (1.0 - target) ** BETA * p**ALPHA * log_q
    return -(pos_term + neg_term).sum() / pos.sum().clamp(min=1.0)


def size_l1(log_size: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Weighted L1 of predicted log sizes ``(B, 2, H, W)`` where sizes are learnt."""
    weight = targets["size_weight"] * targets["valid"].float()
    err = (log_size - targets["size"]).abs().sum(1)
    return (err * weight).sum() / weight.sum().clamp(min=1.0)


def detection_loss(logits: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
    logits = logits.float()
    n = targets["heat"].shape[1]
    z = logits[:, :n]
    valid = targets["valid"].float().unsqueeze(1)
    heat = heat_focal(F.logsigmoid(z), F.logsigmoid(-z), torch.sigmoid(z), targets["heat"], valid)
    return heat + SIZE_WEIGHT * size_l1(logits[:, n : n + 2], targets)


def detection_loss_from_maps(maps: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """The same loss from probability maps (validation): heat in (0, 1), sizes in pixels."""
    p = maps["heat"].clamp(_TINY, 1.0 - _TINY)
    valid = targets["valid"].float().unsqueeze(1)
    heat = heat_focal(torch.log(p), torch.log1p(-p), p, targets["heat"], valid)
    log_size = torch.cat([maps["box_h"], maps["box_w"]], 1).clamp(min=_TINY).log()
    return heat + SIZE_WEIGHT * size_l1(log_size, targets)
