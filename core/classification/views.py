"""Class probabilities of fitted examples, averaged over test-time views (the dihedral views of
:mod:`core.training.views`: mirror, half and quarter turns). A classifier trained with mirroring and
rotations answers slightly differently for each view of the same example; the mean of the views'
probabilities is steadier. Training keeps the views only where they score better on validation (the card's
``views``); one view is the example as it is.
"""

from __future__ import annotations

import numpy as np
import torch

from core.training.config import check_views
from core.training.device import DeviceChoice
from core.training.views import _VIEWS, _turn

#: the views in the order the counts take them (1, 2, 4 or 8)
VIEW_NAMES = tuple(f"{90 * t} degrees{', mirrored' if m else ''}" for t, m in _VIEWS)


def view_probabilities(model: torch.nn.Module, x: torch.Tensor, views: int) -> torch.Tensor:
    """float32 ``(B, K)``: softmax of ``model`` averaged over ``views`` views of ``x`` ``(B, C, S, S)``."""
    views = check_views(views)
    total = None
    for turns, mirror in _VIEWS[:views]:
        p = model(_turn(x, turns, mirror)).float().softmax(dim=1)
        total = p if total is None else total + p
    return total / views


def predict_views(
    model: torch.nn.Module, x: torch.Tensor, views: int, choice: DeviceChoice, *, batch: int = 256
) -> np.ndarray:
    """float64 ``(N, K)`` class probabilities of the fitted examples ``x`` ``(N, C, S, S)`` (model in eval
    mode, no gradients, the device's precision)."""
    model.eval()
    out = []
    with torch.no_grad(), choice.autocast():
        for i in range(0, len(x), batch):
            xb = x[i : i + batch].to(choice.device).float()
            if choice.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            out.append(view_probabilities(model, xb, views).cpu())
    return torch.cat(out).double().numpy()
