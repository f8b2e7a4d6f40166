"""The classifier network: an encoder of the registry (:data:`core.training.encoders.ENCODERS`, the same
smp encoders as the segmentation U-Net, as deep as the entry says), global average pooling, dropout and
one linear layer: ``(B, C, S, S) -> (B, K)`` class logits (softmax gives the probabilities).

Weights are never downloaded (``weights=None``): the network is trained from scratch.
"""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch

from core.classification.defaults import ARCHITECTURE  # noqa: F401  (re-exported)
from core.errors import InvalidInputError
from core.training.models import MAX_CHANNELS, _drop_unused_stages, encoder_spec

DROPOUT = 0.1


class ClassifierNet(torch.nn.Module):
    """Encoder -> global average pooling -> dropout -> linear."""

    def __init__(self, encoder: torch.nn.Module, features: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)[-1]
        return self.head(self.dropout(features.mean(dim=(2, 3))))


def build_classifier(
    encoder: str, in_channels: int, n_classes: int, *, dropout: float = DROPOUT
) -> ClassifierNet:
    """An untrained classifier on registry encoder ``encoder`` for ``in_channels`` input channels and
    ``n_classes`` classes. Inputs of any size from 32 px work (the pooling is global)."""
    spec = encoder_spec(encoder)
    if not isinstance(in_channels, int) or not 1 <= in_channels <= MAX_CHANNELS:
        raise InvalidInputError(f"in_channels={in_channels!r} must be an integer from 1 to {MAX_CHANNELS}")
    if not isinstance(n_classes, int) or n_classes < 2:
        raise InvalidInputError(f"n_classes={n_classes!r} must be an integer of at least 2")
    depth = int(spec.get("encoder_depth", 5))
    body = smp.encoders.get_encoder(spec["smp_encoder"], in_channels=in_channels, depth=depth, weights=None)
    _drop_unused_stages(body, depth)
    return ClassifierNet(body, int(body.out_channels[-1]), n_classes, dropout)
