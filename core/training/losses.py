"""The training losses, with an ignore mask: pixels where ``valid`` is False contribute nothing.

Semantic: sigmoid focal + soft Dice + Lovasz hinge per label. Instance: softmax focal + soft Dice over
background / interior / boundary, plus binary cross-entropy on the distance map with a distance head, and
with edge rays a second task, :func:`ray_loss` (added by the training step; the curves show the first).

Shapes: logits ``(B, K, H, W)`` (layout of :mod:`core.training.models`), ``valid`` ``(B, H, W)`` bool.
Semantic targets ``mask`` ``(B, L, H, W)`` float; instance targets ``cls`` ``(B, L, H, W)`` int64 in
{0, 1, 2} and optionally ``dist`` ``(B, L, H, W)`` float in [0, 1] and ``weight`` ``(B, L, H, W)`` float:
per-pixel weights of the focal and distance terms (the contact weighting of :mod:`core.training.sampling`:
pixels where touching objects meet count more, so the network learns to keep them apart). The weights scale
each pixel's share of a sum that is still divided by the number of valid pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.training import types

FOCAL_GAMMA = 2.0
FOCAL_WEIGHT = 5.0  # focal values are small (easy pixels are down-weighted); this balances them with Dice
DISTANCE_WEIGHT = 1.0
LOVASZ_WEIGHT = 1.0  # semantic trainings: the Lovasz hinge, a direct surrogate of the IoU they are scored by
RAY_WEIGHT = 0.2  # edge rays: their error is in pixels; StarDist weighs its distance term the same
_EPS = 1.0
_TINY = 1e-6  # probabilities are clamped this far from 0 and 1 before their logarithm


def loss_description(training_type: str, *, distance: bool, rays: bool = False) -> str:
    """The loss in words, as the model card records it and the report's methods write it."""
    return types.training_type(training_type).loss_description(distance=distance, rays=rays)


def semantic_loss(logits: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Sigmoid focal + soft Dice + Lovasz hinge per label, averaged over labels, on valid pixels only."""
    return _semantic(logits.float(), mask, valid)


def instance_loss(
    logits: torch.Tensor,
    cls: torch.Tensor,
    valid: torch.Tensor,
    dist: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per label: softmax focal over background/interior/boundary + soft Dice of interior and boundary,
    plus, with a distance head, a masked binary cross-entropy on the distance map; ``weight`` (None: all 1)
    weighs each pixel's focal and distance terms."""
    logits = logits.float()
    b, _, h, wd = logits.shape
    n_labels = cls.shape[1]
    logp = F.log_softmax(logits[:, : 3 * n_labels].reshape(b, n_labels, 3, h, wd), dim=2)
    dlogits = logits[:, 3 * n_labels : 4 * n_labels] if dist is not None else None
    return _instance(logp, cls, valid, dlogits, dist, weight)


def loss_from_maps(
    maps: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], training_type: str
) -> torch.Tensor:
    """The same loss from probability maps (validation, where the network gave maps, not logits).

    ``maps`` as :func:`core.training.models.logits_to_maps` gives them, each ``(B, L, H, W)``.
    """
    return types.training_type(training_type).loss_from_maps(maps, targets)


def semantic_loss_from_maps(maps: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """:func:`semantic_loss` from the probability maps ``{"prob"}``."""
    prob = maps["prob"].float().clamp(_TINY, 1 - _TINY)
    return _semantic(torch.logit(prob), targets["mask"], targets["valid"])


def instance_loss_from_maps(maps: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """:func:`instance_loss` from the probability maps ``{"background", "interior", "boundary"}`` (and
    ``"distance"``)."""
    tiny = _TINY
    stack = torch.stack([maps["background"], maps["interior"], maps["boundary"]], dim=2).float()
    logp = stack.clamp_min(tiny).log()
    dist = targets.get("dist")
    dlogits = None
    if dist is not None and "distance" in maps:
        dlogits = torch.logit(maps["distance"].float().clamp(tiny, 1 - tiny))
    dist = dist if dlogits is not None else None
    return _instance(logp, targets["cls"], targets["valid"], dlogits, dist, targets.get("weight"))


def _semantic(logits, mask, valid) -> torch.Tensor:
    w = valid.unsqueeze(1).float()
    prob = torch.sigmoid(logits)
    bce = -(mask * F.logsigmoid(logits) + (1 - mask) * F.logsigmoid(-logits))
    pt = prob * mask + (1 - prob) * (1 - mask)
    focal = ((1 - pt) ** FOCAL_GAMMA * bce * w).sum() / (w.sum() * prob.shape[1]).clamp_min(1.0)
    dice = soft_dice_loss(prob, mask, w)
    return FOCAL_WEIGHT * focal + dice + LOVASZ_WEIGHT * lovasz_hinge(logits, mask, valid)


def _instance(logp, cls, valid, dlogits, dist, weight=None) -> torch.Tensor:
    """``logp`` (B, L, 3, H, W) log-probabilities; ``dlogits``/``dist``/``weight`` (B, L, H, W) or None."""
    n_labels = cls.shape[1]
    w = valid.unsqueeze(1).float()  # (B, 1, H, W)
    pw = w if weight is None else w * weight.float()  # (B, 1 or L, H, W): each pixel's share of the sums
    logpt = logp.gather(2, cls.unsqueeze(2)).squeeze(2)  # (B, L, H, W)
    focal = -((1 - logpt.exp()) ** FOCAL_GAMMA) * logpt
    focal = (focal * pw).sum() / (w.sum() * n_labels).clamp_min(1.0)
    prob = logp.exp()
    onehot = F.one_hot(cls, 3).permute(0, 1, 4, 2, 3).float()  # (B, L, 3, H, W)
    dice = soft_dice_loss(prob[:, :, 1:].flatten(1, 2), onehot[:, :, 1:].flatten(1, 2), w)
    loss = FOCAL_WEIGHT * focal + dice
    if dlogits is not None:
        dbce = F.binary_cross_entropy_with_logits(dlogits, dist, reduction="none")
        loss = loss + DISTANCE_WEIGHT * (dbce * pw).sum() / (w.sum() * n_labels).clamp_min(1.0)
    return loss


def ray_loss(rays: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean absolute error in pixels of the edge rays ``(B, L * K, H, W)`` (the training network's ray
    channels, :func:`core.training.models.ray_logits`) against ``targets["rays"]``, which may hold them on
    every ``g``-th pixel only (``(B, L * K, H / g, W / g)``: the network's rays are compared there).

    Only object pixels on valid pixels count, each weighted by its normalised distance to the edge
    (``targets["dist"]``; 1 without a distance head), so that pixels near an object's centre, whose rays
    describe its whole outline, count most (as in StarDist). Rays whose true length is unknown
    (``"ray_cut"``: they left the patch or ended on a pixel without ground truth) count nothing.
    """
    step = rays.shape[-1] // targets["rays"].shape[-1]
    rays = rays[..., ::step, ::step].float()
    b, channels, h, w = rays.shape
    n_labels = targets["cls"].shape[1]
    per_pixel = targets["dist"] if "dist" in targets else targets["cls"] > 0
    # (B, L, h, w): the pixels the rays are compared on
    per_pixel = per_pixel[..., ::step, ::step].float() * targets["valid"][:, None, ::step, ::step]
    k = channels // n_labels
    weight = per_pixel.unsqueeze(2).expand(b, n_labels, k, h, w).reshape(b, channels, h, w)
    weight = weight * ~targets["ray_cut"]
    error = (rays - targets["rays"]).abs()
    return (error * weight).sum() / weight.sum().clamp_min(1.0)


def lovasz_hinge(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The Lovasz hinge (Berman et al., CVPR 2018): a convex surrogate of ``1 - IoU`` of the foreground, per
    channel over the batch's valid pixels, averaged over channels.

    ``logits``/``target`` ``(B, K, H, W)`` (target in {0, 1}), ``valid`` ``(B, H, W)`` bool. Pixels' hinge
    errors ``1 - logit * sign`` are sorted, and each error is weighted by how much the IoU loss grows when
    that pixel joins the wrong ones (the gradient of the Lovasz extension).
    """
    keep = valid.reshape(-1)
    losses = []
    for k in range(logits.shape[1]):
        z = logits[:, k].reshape(-1)[keep]
        y = target[:, k].reshape(-1)[keep].float()
        if z.numel() == 0:
            continue
        errors = 1.0 - z * (2.0 * y - 1.0)
        errors, order = torch.sort(errors, descending=True)
        y = y[order]
        positives = y.sum()
        jaccard = 1.0 - (positives - y.cumsum(0)) / (positives + (1.0 - y).cumsum(0))
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])
        losses.append(torch.dot(F.relu(errors), jaccard))
    return torch.stack(losses).mean() if losses else logits.sum() * 0.0


def soft_dice_loss(prob: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``1 - Dice`` per channel over the batch and the pixels where ``weight`` is 1, averaged over channels.

    ``prob``/``target`` ``(B, K, H, W)``, ``weight`` ``(B, 1, H, W)``.
    """
    dims = (0, 2, 3)
    inter = (prob * target * weight).sum(dims)
    total = (prob * weight).sum(dims) + (target * weight).sum(dims)
    return (1 - (2 * inter + _EPS) / (total + _EPS)).mean()


def compute_loss(logits: torch.Tensor, targets: dict[str, torch.Tensor], training_type: str) -> torch.Tensor:
    """The training loss for a batch of targets from :mod:`core.training.sampling`."""
    return types.training_type(training_type).loss(logits, targets)
