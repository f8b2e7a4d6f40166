"""Augmentation of a batch of fitted examples ``(B, C, S, S)`` (normalised float32), in torch, in one pass.

Which transforms run follows :class:`~core.training.config.AugmentOptions`:

* ``flips``: mirror image (half of the examples);
* ``rot90``: rotation by any angle (cells and tissue have no "up"; the corners are filled by reflection);
* ``elastic``: for a classifier, a small geometric jitter instead of a deformation: scale by up to
  :data:`SCALE_JITTER` and shift by up to :data:`SHIFT_JITTER` of the side;
* ``intensity``: contrast (up to :data:`CONTRAST_JITTER`) and brightness (up to :data:`BRIGHTNESS_JITTER`)
  per example, gain per channel (up to :data:`GAIN_JITTER`: a colour / channel-balance shift) and, for
  three-channel (RGB) examples, saturation (up to :data:`SATURATION_JITTER`);
* ``noise``: Gaussian noise (standard deviation up to :data:`NOISE_MAX`) on half of the examples.

The geometric transforms are one affine resampling (bilinear), so they cost about as much together as one.
Every random draw comes from the ``generator`` passed in (seeded per step: a resumed training repeats them).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from core.training.config import AugmentOptions

SCALE_JITTER = 0.15
SHIFT_JITTER = 0.08
CONTRAST_JITTER = 0.2
BRIGHTNESS_JITTER = 0.1
GAIN_JITTER = 0.1
SATURATION_JITTER = 0.2
NOISE_MAX = 0.03


def augment_batch(x: torch.Tensor, options: AugmentOptions, generator: torch.Generator) -> torch.Tensor:
    """A new augmented batch ``(B, C, S, S)`` float32 from ``x`` (left untouched)."""
    b, c = x.shape[0], x.shape[1]
    device = x.device

    def draw(*shape: int) -> torch.Tensor:  # in [-1, 1), on the CPU (the generator's device)
        return torch.rand(*shape, generator=generator) * 2 - 1

    def uniform(*shape: int) -> torch.Tensor:  # the same, moved to x's device
        return draw(*shape).to(device)

    if options.flips or options.rot90 or options.elastic:
        angle = torch.rand(b, generator=generator) * 2 * math.pi if options.rot90 else torch.zeros(b)
        mirror = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
        mirror = mirror if options.flips else torch.ones(b)
        zoom = 1 + SCALE_JITTER * draw(b) if options.elastic else torch.ones(b)
        shift = SHIFT_JITTER * 2 * draw(b, 2) if options.elastic else torch.zeros(b, 2)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack([
            torch.stack([cos * mirror, -sin, shift[:, 0]], dim=1),
            torch.stack([sin * mirror, cos, shift[:, 1]], dim=1),
        ], dim=1)
        grid = F.affine_grid(theta.to(device), list(x.shape), align_corners=False)
        x = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    else:
        x = x.float().clone()
    if options.intensity:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        contrast = 1 + CONTRAST_JITTER * uniform(b, 1, 1, 1)
        x = (x - mean) * contrast + mean
        x = x * (1 + GAIN_JITTER * uniform(b, c, 1, 1)) + BRIGHTNESS_JITTER * uniform(b, 1, 1, 1)
        if c == 3:
            grey = x.mean(dim=1, keepdim=True)
            x = grey + (x - grey) * (1 + SATURATION_JITTER * uniform(b, 1, 1, 1))
    if options.noise:
        sigma = NOISE_MAX * torch.rand(b, 1, 1, 1, generator=generator)
        sigma = sigma * (torch.rand(b, 1, 1, 1, generator=generator) < 0.5)
        x = x + (sigma * torch.randn(x.shape, generator=generator)).to(device)
    return x


def describe_augmentation(options: AugmentOptions) -> str:
    """The augmentation in words (card, methods)."""
    parts = []
    if options.flips:
        parts.append("mirroring")
    if options.rot90:
        parts.append("rotation by any angle")
    if options.elastic:
        parts.append(f"scaling by up to {SCALE_JITTER:.0%} and shifts by up to {SHIFT_JITTER:.0%} of the "
                     "side")
    if options.intensity:
        parts.append(
            f"contrast (up to {CONTRAST_JITTER:.0%}), brightness (up to {BRIGHTNESS_JITTER:g}) and "
            f"per-channel gain (up to {GAIN_JITTER:.0%}) jitter, and saturation jitter (up to "
            f"{SATURATION_JITTER:.0%}) for RGB images"
        )
    if options.noise:
        parts.append(f"Gaussian noise (standard deviation up to {NOISE_MAX:g}) on half of the images")
    if not parts:
        return "No augmentation."
    return "Each training image was augmented at random: " + "; ".join(parts) + "."
