"""One training step of the classifier and the pieces around it: the optimiser, the augmented batch of a
step, the BatchNorm statistics before validation, the validation loss."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core.classification.augment import augment_batch
from core.classification.data import FittedSet, batch_indices
from core.classification.defaults import LABEL_SMOOTHING
from core.training.bn import recalibrate_batchnorm
from core.training.config import AugmentOptions
from core.training.device import DeviceChoice

BN_BATCHES = 4  # training batches the BatchNorm statistics are averaged over before each validation
BN_STEP_OFFSET = 50_000_000  # stream position of those batches (never a training batch)


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW (fused), without weight decay on biases and BatchNorm."""
    decay, plain = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 else plain).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, fused=True)


def augmented(
    x: torch.Tensor, options: AugmentOptions, seed: int, step: int, choice: DeviceChoice
) -> torch.Tensor:
    """Batch ``x`` (fitted, float16) augmented with the draws of ``step`` (seeded: a resumed training
    repeats them), on the device, in the device's layout."""
    gen = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(step))
    out = augment_batch(x.to(choice.device).float(), options, gen)
    return out.contiguous(memory_format=torch.channels_last) if choice.channels_last else out


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    weights: torch.Tensor,
    choice: DeviceChoice,
) -> tuple[float, np.ndarray, np.ndarray]:
    """One step on the augmented batch ``x`` with classes ``y``; returns the loss (class-weighted
    cross-entropy with label smoothing) and the batch's true and predicted classes (training curves)."""
    y = y.to(choice.device)
    model.train()
    with choice.autocast():
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y, weight=weights, label_smoothing=LABEL_SMOOTHING)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    pred = logits.detach().float().argmax(1).cpu().numpy()
    return float(loss.detach()), y.cpu().numpy(), pred


def recalibrate(model: torch.nn.Module, fitted: FittedSet, batch_size: int, seed: int, epoch: int,
                options: AugmentOptions, choice: DeviceChoice) -> None:
    """BatchNorm statistics recomputed on :data:`BN_BATCHES` augmented training batches (see
    :mod:`core.training.bn`), a different seeded set each epoch."""
    first = BN_STEP_OFFSET + epoch * BN_BATCHES

    def batches():
        for i in range(BN_BATCHES):
            idx = torch.from_numpy(batch_indices(first + i, len(fitted), batch_size, seed))
            yield augmented(fitted.x[idx], options, seed, first + i, choice)

    recalibrate_batchnorm(model, batches(), autocast=choice.autocast)


def cross_entropy(probs: np.ndarray, truth: np.ndarray) -> float:
    """Mean cross-entropy of class probabilities ``(N, K)`` against class indices ``truth``."""
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(truth)), truth], 1e-7, 1.0))))
