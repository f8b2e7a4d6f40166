"""Whole-image prediction with a trained network: probability maps for validation and inference.

The image is normalised with the model card's record, reflect-padded to a multiple of 32 and run in one
pass when it is at most ``max_side`` pixels on each side; larger images are run in overlapping tiles
(each tile's border margin is thrown away, so seams never show).

A model trained at a working scale below 1 (:mod:`core.training.scale`) sees the image shrunk by that factor
(after padding to a multiple of 32, so that tiled inference, whose tiles start at multiples of 32 pixels, lines
up with this pass exactly at the halving scales "auto" chooses); its maps are resized back to the image's
pixels.

With ``views`` above 1 (:mod:`core.training.views`) every pass is the mean of that many flipped and rotated
views.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from core.errors import InvalidInputError
from core.training.models import logits_to_maps
from core.training.normalization import apply_normalization, card_normalization
from core.training.scale import card_scale, resize_pixels, scaled_size
from core.training.views import LENGTH_MAPS, averaged_maps, card_views, check_views

MAX_SIDE = 1024
TILE = 512
MARGIN = 32


def predict_maps(
    model: torch.nn.Module,
    card: dict,
    image: np.ndarray,
    *,
    max_side: int = MAX_SIDE,
    tile: int = TILE,
    margin: int = MARGIN,
    views: int | None = None,
) -> dict[str, np.ndarray]:
    """Probability maps of ``image`` ``(C, H, W)``: a dict of float32 ``(L, H, W)`` arrays.

    Semantic: ``{"prob"}``. Instance: ``{"background", "interior", "boundary"}`` and ``"distance"`` when
    the model has a distance head. ``card`` is the model card (normalisation, training type, labels, and
    the working scale and views when it has them). ``views`` None takes the card's.
    """
    image = _check_image(image, card)
    views = card_views(card) if views is None else check_views(views)
    norm = apply_normalization(image, card_normalization(card))
    factor = card_scale(card)
    if factor == 1.0:
        return _network_maps(model, card, norm, max_side, tile, margin, views)
    _, h, w = norm.shape
    hp, wp = _ceil32(h), _ceil32(w)
    padded = _pad_to(norm, 0, hp - h, 0, wp - w)
    small = resize_pixels(padded, (scaled_size(hp, factor), scaled_size(wp, factor)))
    maps = _network_maps(model, card, small, max_side, tile, margin, views)
    stretch = (hp / small.shape[1], wp / small.shape[2])
    return {key: np.ascontiguousarray(resize_pixels(value, (hp, wp))[:, :h, :w])
            * (stretch[LENGTH_MAPS[key]] if key in LENGTH_MAPS else 1.0) for key, value in maps.items()}


def _network_maps(
    model: torch.nn.Module, card: dict, norm: np.ndarray, max_side: int, tile: int, margin: int, views: int
) -> dict[str, np.ndarray]:
    """Maps of a normalised image at the network's own resolution (one pass, or tiles when large)."""
    _, h, w = norm.shape
    if h <= max_side and w <= max_side:
        return _run(model, card, _pad_to(norm, 0, _ceil32(h) - h, 0, _ceil32(w) - w), h, w, views)
    if tile % 32 or tile <= 2 * margin:
        raise InvalidInputError(f"tile={tile} must be a multiple of 32 larger than twice margin={margin}")
    stride = tile - 2 * margin
    ny, nx = -(-h // stride), -(-w // stride)
    padded = _pad_to(norm, margin, ny * stride - h + margin, margin, nx * stride - w + margin)
    out: dict[str, np.ndarray] | None = None
    for iy in range(ny):
        for ix in range(nx):
            y, x = iy * stride, ix * stride
            maps = _run(model, card, padded[:, y : y + tile, x : x + tile], tile, tile, views)
            if out is None:
                out = {k: np.zeros((v.shape[0], ny * stride, nx * stride), np.float32) for k, v in maps.items()}
            for key, value in maps.items():
                inner = value[:, margin : margin + stride, margin : margin + stride]
                out[key][:, y : y + stride, x : x + stride] = inner
    return {key: np.ascontiguousarray(value[:, :h, :w]) for key, value in out.items()}


def _run(
    model: torch.nn.Module, card: dict, x: np.ndarray, h: int, w: int, views: int
) -> dict[str, np.ndarray]:
    param = next(model.parameters())
    tensor = torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(0).to(param.device)
    amp = torch.autocast("cuda", dtype=torch.float16) if param.device.type == "cuda" else contextlib.nullcontext()
    n_labels, distance = len(card["labels"]), bool(card.get("distance_head", False))

    def network(batch: torch.Tensor) -> dict[str, torch.Tensor]:
        with amp:
            logits = model(batch)
        maps = logits_to_maps(logits, card["training_type"], n_labels, distance=distance)
        return {key: value.float() for key, value in maps.items()}

    was_training = model.training
    model.eval()
    with torch.inference_mode():
        maps = averaged_maps(network, tensor, views)
    model.train(was_training)
    return {key: value[0, :, :h, :w].cpu().numpy() for key, value in maps.items()}


def _pad_to(x: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    if top == bottom == left == right == 0:
        return x
    mode = "reflect" if min(x.shape[1:]) > 1 else "edge"
    return np.pad(x, ((0, 0), (top, bottom), (left, right)), mode=mode)


def _ceil32(n: int) -> int:
    return -(-n // 32) * 32


def _check_image(image: np.ndarray, card: dict) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[None]
    expected = int(card["in_channels"])
    if image.ndim != 3 or image.shape[0] != expected:
        raise InvalidInputError(
            f"image has shape {image.shape}; this model expects (C={expected}, H, W). "
            "Use images with the channels the model was trained on."
        )
    return image
