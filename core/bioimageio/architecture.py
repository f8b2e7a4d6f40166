"""The segstudio U-Net as a bioimage.io package runs it (this file is copied into every exported package).

Self-contained on purpose: it imports only ``torch`` and ``segmentation_models_pytorch``, so that any tool
that runs bioimage.io models (bioimageio.core, ilastik, napari, QuPath, deepImageJ) can build the network
from it without segstudio; its annotations are ``typing``'s (TorchScript reads them, and older Pythons too).

The network is segstudio's smp U-Net (``encoder_weights=None``: nothing is downloaded) with the encoder stages
beyond ``encoder_depth`` removed, as segstudio builds it, so that segstudio's ``weights.pt`` loads into
:class:`SegstudioUNet` with ``strict=True``. What differs is the forward pass, which takes a normalised
image at its own pixel size (any height and width) and returns the network's logits at that size:

1. the image is padded (reflect; bottom and right) to a multiple of 32 pixels;
2. at a working scale ``factor`` below 1 it is shrunk to ``round(side * factor)`` pixels (the mean of the
   covered pixels), then padded again to a multiple of 32 (reflect, or replicate when the image is smaller
   than the padding);
3. the U-Net runs; its logits are cropped to the shrunk image and enlarged back (bilinear), then cropped
   to the input's size;
4. the output channels are split into the package's output tensors: ``splits`` lists ``[start, stop)``
   channel ranges, one per output tensor.

:class:`ScriptedSteps` does the same around a traced U-Net, for the TorchScript weights.
"""

from typing import List, Optional

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F


def _ceil32(n: int) -> int:
    return (n + 31) // 32 * 32


def _pad_to(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``x`` padded at the bottom and right to ``(h, w)``: reflect, or replicate when too small to reflect."""
    pad_h = h - x.shape[2]
    pad_w = w - x.shape[3]
    if pad_h == 0 and pad_w == 0:
        return x
    if min(x.shape[2], x.shape[3]) > max(pad_h, pad_w):
        return F.pad(x, [0, pad_w, 0, pad_h], mode="reflect")
    return F.pad(x, [0, pad_w, 0, pad_h], mode="replicate")


def _resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``x`` resized to ``(h, w)``: the mean of the covered pixels when shrinking, bilinear when enlarging."""
    if x.shape[2] == h and x.shape[3] == w:
        return x
    if h <= x.shape[2] and w <= x.shape[3]:
        return F.interpolate(x, size=[h, w], mode="area")
    return F.interpolate(x, size=[h, w], mode="bilinear", align_corners=False)


def _working_size(n: int, factor: float) -> int:
    return max(1, int(round(float(n) * factor)))  # noqa: RUF046 - TorchScript's round gives a float


def network_input(x: torch.Tensor, factor: float) -> torch.Tensor:
    """The batch the U-Net sees for a normalised image batch ``x`` ``(B, C, H, W)`` (steps 1 and 2)."""
    padded = _pad_to(x, _ceil32(x.shape[2]), _ceil32(x.shape[3]))
    if factor == 1.0:
        return padded
    small = _resize(padded, _working_size(padded.shape[2], factor), _working_size(padded.shape[3], factor))
    return _pad_to(small, _ceil32(small.shape[2]), _ceil32(small.shape[3]))


def image_outputs(
    logits: torch.Tensor, height: int, width: int, factor: float, splits: List[List[int]]
) -> List[torch.Tensor]:
    """The output tensors at the image's size ``(height, width)`` from the U-Net's logits (steps 3 and 4)."""
    if factor != 1.0:
        hp, wp = _ceil32(height), _ceil32(width)
        logits = logits[:, :, : _working_size(hp, factor), : _working_size(wp, factor)]
        logits = _resize(logits, hp, wp)
    logits = logits[:, :, :height, :width]
    return [logits[:, split[0] : split[1]] for split in splits]


def _drop_unused_stages(encoder: torch.nn.Module, depth: int) -> None:
    """Remove the encoder stages a shallower ``depth`` does not use (segstudio's weights do not have them)."""
    stages = encoder.get_stages() if hasattr(encoder, "get_stages") else {}
    for stride, modules in stages.items():
        if stride > 2**depth:
            for module in modules:
                for name, child in list(encoder.named_children()):
                    if child is module:
                        delattr(encoder, name)


class SegstudioUNet(smp.Unet):
    """segstudio's U-Net with the forward pass of this module's docstring (the pytorch_state_dict weights'
    architecture). Keyword arguments: the smp encoder name, input channels, output channels (``classes``),
    encoder depth and decoder widths of the model card, the working scale ``factor`` and the output
    tensors' channel ``splits``."""

    def __init__(
        self,
        encoder_name: str,
        in_channels: int,
        classes: int,
        encoder_depth: int,
        decoder_channels: List[int],
        factor: float = 1.0,
        splits: Optional[List[List[int]]] = None,
    ):
        super().__init__(
            encoder_name=encoder_name,
            encoder_weights=None,
            in_channels=in_channels,
            classes=classes,
            encoder_depth=encoder_depth,
            decoder_channels=tuple(decoder_channels),
        )
        _drop_unused_stages(self.encoder, encoder_depth)
        self.factor = float(factor)
        self.splits = [list(s) for s in splits] if splits else [[0, classes]]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        logits = super().forward(network_input(x, self.factor))
        return image_outputs(logits, x.shape[2], x.shape[3], self.factor, self.splits)


class ScriptedSteps(torch.nn.Module):
    """The same forward pass around any U-Net module (a traced one, for :func:`torch.jit.script`)."""

    def __init__(self, net: torch.nn.Module, factor: float, splits: List[List[int]]):
        super().__init__()
        self.net = net
        self.factor = float(factor)
        self.splits = [list(s) for s in splits]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        logits = self.net(network_input(x, self.factor))
        return image_outputs(logits, x.shape[2], x.shape[3], self.factor, self.splits)
