"""Batch size chosen to fit memory.

* CPU: the activations one sample keeps for the backward pass are measured on a real forward pass (a
  saved-tensors hook adds up their bytes); the batch is what fits in a RAM budget (a quarter of the
  available memory by default), capped at :data:`CPU_MAX_BATCH` because on a CPU more, smaller steps learn
  faster per second than big batches.
* CUDA: try a training step at :data:`CUDA_MAX_BATCH` and halve on out-of-memory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from core.errors import InvalidInputError
from core.training.device import DeviceChoice

CPU_MAX_BATCH = 4
CUDA_MAX_BATCH = 32
_MEMINFO = Path("/proc/meminfo")


def activation_bytes_per_sample(
    model: torch.nn.Module, in_channels: int, patch_size: int, choice: DeviceChoice
) -> int:
    """Bytes of tensors saved for backward by one ``(1, C, P, P)`` sample (parameters not counted)."""
    total = 0
    params = {p.data_ptr() for p in model.parameters()}

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        if t.data_ptr() not in params:
            total += t.numel() * t.element_size()
        return t

    x = torch.zeros(1, in_channels, patch_size, patch_size, device=choice.device)
    was_training = model.training
    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), choice.autocast():
        out = model(x)
    del out
    model.train(was_training)
    return max(total, 1)


def choose_batch_size(
    model: torch.nn.Module,
    in_channels: int,
    patch_size: int,
    choice: DeviceChoice,
    *,
    ram_budget_bytes: int | None = None,
    step: Callable[[int], None] | None = None,
) -> int:
    """The batch size for this model and patch on this device.

    ``step(batch_size)`` runs one training step (CUDA only; needed to probe the GPU memory).
    """
    if choice.device.type == "cuda":
        if step is None:
            raise InvalidInputError("choose_batch_size on CUDA needs step(batch_size) to probe GPU memory")
        return _cuda_batch(step)
    budget = ram_budget_bytes if ram_budget_bytes is not None else available_ram_bytes() // 4
    per_sample = activation_bytes_per_sample(model, in_channels, patch_size, choice)
    return int(max(1, min(CPU_MAX_BATCH, budget // (2 * per_sample))))  # x2: gradients of activations


def available_ram_bytes() -> int:
    """MemAvailable from /proc/meminfo (4 GiB where that file does not exist)."""
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 1024**3


def _cuda_batch(step) -> int:
    batch = CUDA_MAX_BATCH
    while batch >= 1:
        try:
            step(batch)
            return batch
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            batch //= 2
    raise InvalidInputError("even a batch of 1 does not fit in GPU memory; use a smaller patch size or encoder")
