"""Checkpoints in the training work folder, all loadable with ``torch.load(..., weights_only=True)``.

* ``last.pt``: model + optimiser (+ gradient scaler) + step/epoch + training seconds used + history +
  best score + RNG states (torch, numpy, random) + learning rate + normalisation + batch size + config,
  written at every epoch end (and on cancel) so that ``resume=True`` continues from it.
* ``best.pt``: the model state_dict with the best validation score so far.

Writes go to a temporary file renamed into place: a crash never leaves a half-written checkpoint, and a
failed write (a full disk above all) removes its temporary file and raises :class:`StorageError`.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from core.errors import StorageError, TrainingRuleError
from core.imaging.atomic import atomic_output

LAST = "last.pt"
BEST = "best.pt"
START = "start.pt"  # fine-tuning: the network as it started (the final stage weighs it)


def save(path: Path, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically (:class:`StorageError` when the disk is full)."""
    path = Path(path)
    write_serialized(path, lambda buffer: torch.save(payload, buffer),
                     full_fix=f"Free disk space in {path.parent}, then resume the training")


def in_memory(serialize: Callable[[io.BytesIO], object]) -> memoryview:
    """The bytes ``serialize(buffer)`` writes (``torch.save(obj, buf)``, ``torch.jit.save(module, buf)``).

    Serialise in memory, then write the bytes with Python: ``torch.save`` to a path on a full disk raises a
    ``RuntimeError`` that has lost the errno ("unexpected pos ..."), and ``torch.jit.save`` to a path aborts
    the whole process (a ``c10::Error`` thrown in a destructor). Written by Python, a full disk is an
    ``OSError`` (ENOSPC) that :func:`core.imaging.atomic.storage_error` turns into its message.
    """
    buffer = io.BytesIO()
    serialize(buffer)
    return buffer.getbuffer()


def write_serialized(path: Path, serialize: Callable[[io.BytesIO], object], *, full_fix: str,
                     retry: str = "try again") -> None:
    """Write what ``serialize(buffer)`` produces (see :func:`in_memory`) to ``path`` atomically: the temporary
    file is removed on any failure, and an ``OSError`` becomes a :class:`StorageError` ending with
    ``full_fix`` (disk full) or ``retry`` (anything else)."""
    data = in_memory(serialize)
    with atomic_output(Path(path), full_fix=full_fix, retry=retry) as tmp, open(tmp, "wb") as handle:
        handle.write(data)


def load(path: Path) -> dict:
    """Read a checkpoint written by :func:`save` (weights_only)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise TrainingRuleError(f"no checkpoint at {path}; start the training without resume") from exc
    except (OSError, RuntimeError, ValueError) as exc:
        raise StorageError(f"checkpoint {path} is damaged ({exc}); start the training again") from exc


def rng_state() -> dict:
    """The global RNG states as weights_only-safe values."""
    np_state = np.random.get_state()
    return {
        "torch": torch.random.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *map(_py, np_state[2:])],
        "random": _tupled(random.getstate()),
    }


def set_rng_state(state: dict) -> None:
    torch.random.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    random.setstate(_tupled(state["random"]))


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _py(value):
    return value.item() if isinstance(value, np.generic) else value


def _tupled(value):
    return tuple(_tupled(v) for v in value) if isinstance(value, (list, tuple)) else value
