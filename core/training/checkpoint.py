"""Checkpoints in the training work folder, all loadable with ``torch.load(..., weights_only=True)``.

* ``last.pt``: model + optimiser (+ gradient scaler) + step/epoch + training seconds used + history +
  best score + RNG states (torch, numpy, random) + learning rate + normalisation + batch size + config,
  written at every epoch end (and on cancel) so that ``resume=True`` continues from it.
* ``best.pt``: the model state_dict with the best validation score so far.

Writes go to a temporary file renamed into place: a crash never leaves a half-written checkpoint.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from core.errors import StorageError, TrainingRuleError

LAST = "last.pt"
BEST = "best.pt"


def save(path: Path, payload: dict) -> None:
    """Write ``payload`` to ``path`` atomically."""
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise StorageError(f"could not write checkpoint {path}: {exc}; free disk space and resume") from exc


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
