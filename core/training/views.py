"""Test-time views: predict an image as seen flipped and rotated, and average the maps.

A network trained with flips and 90-degree rotations answers slightly differently for each of the eight
views of the same image (the dihedral group of the square: four rotations, each with and without a mirror).
Averaging the maps of ``n`` views, each turned back to the image's orientation, removes much of that
variation: re-scoring the 30-minute models of bench/train_quality.py, the DSB2018 nuclei validation F1 rose
from 0.869 to 0.885 with eight views and Lucchi's mitochondria IoU from 0.860 to 0.866. The cost is ``n``
network passes.

Not every model gains (one Lucchi model lost 0.009 IoU with eight views), so training scores the chosen
weights with one view and with ``TrainConfig.views`` and keeps the better. A model card's ``views`` (1, 2, 4
or 8) says how many views its metrics were measured with and how inference predicts by default; cards
without it use one view.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from core.errors import InvalidInputError, ModelPackageError
from core.training.config import check_views

#: (quarter turns, mirror) per view, in the order the counts take them: 2 and 4 views only flip, so that
#: they work on rectangular batches without transposing.
_VIEWS = ((0, False), (0, True), (2, False), (2, True), (1, False), (1, True), (3, False), (3, True))

Maps = dict[str, torch.Tensor]
#: Maps that hold a length along one image axis (0: rows, 1: columns), e.g. a detection's box height and
#: width: a quarter turn swaps the axes, and a working scale below 1 shortens them
#: (:func:`core.training.predict.predict_maps` stretches them back).
LENGTH_MAPS = {"box_h": 0, "box_w": 1}
_ACROSS = {"box_h": "box_w", "box_w": "box_h"}


def card_views(card: dict) -> int:
    """The view count a model card records (1 for cards written before views existed)."""
    value = card.get("views", 1)
    try:
        return check_views(value)
    except InvalidInputError as exc:
        raise ModelPackageError(f"the model card's views {value!r} are not valid: {exc}") from None


def averaged_maps(network: Callable[[torch.Tensor], Maps], batch: torch.Tensor, views: int) -> Maps:
    """The mean over ``views`` views of ``network``'s maps of ``batch`` ``(N, C, H, W)``.

    ``network`` takes a batch and returns float maps ``{name: (N, L, H', W')}`` with the batch's own spatial
    layout (H' = H, W' = W). Each view's maps are turned back before they are added, so the result is in
    the batch's orientation. One view calls ``network`` once on the batch as it is.
    """
    views = check_views(views)
    total: Maps | None = None
    for turns, mirror in _VIEWS[:views]:
        maps = network(_turn(batch, turns, mirror))
        back = {name: _unturn(value, turns, mirror) for name, value in maps.items()}
        if turns % 2:  # a length along the turned view's rows is one along the image's columns
            back = {_ACROSS.get(name, name): value for name, value in back.items()}
        total = back if total is None else {name: total[name] + back[name] for name in total}
    assert total is not None  # views >= 1
    if views == 1:
        return total
    return {name: value / views for name, value in total.items()}


def _turn(x: torch.Tensor, turns: int, mirror: bool) -> torch.Tensor:
    if mirror:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, turns, dims=(-2, -1)) if turns else x


def _unturn(x: torch.Tensor, turns: int, mirror: bool) -> torch.Tensor:
    if turns:
        x = torch.rot90(x, -turns, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if mirror else x
