"""The model package: one folder per trained model.

* ``weights.pt``: the state_dict (load with ``torch.load(..., weights_only=True)``);
* ``model_card.json``: format version, architecture, encoder, channels, labels and colours, training type,
  output layout, normalisation, working scale, patch size, post-processing values, metrics, seed, split,
  package versions, data hashes;
* ``model.torchscript.pt``: a traced TorchScript export giving the same logits as the eager model, for
  use without this code base (normalise the image as the card says and shrink it by the card's
  ``scale.factor`` first; resize the maps back).

:func:`read_card` (and so :func:`load_model`) validates the card against :mod:`core.training.card_schema`
before anything uses it; :func:`write_package` checks it the same way before writing.
"""

from __future__ import annotations

import json
import os
import platform
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from core.errors import ModelPackageError, StorageError
from core.training.card_schema import ARCHITECTURE, FORMAT_VERSION, check_card
from core.training.models import build_model
from core.training.predict import predict_maps

WEIGHTS = "weights.pt"
CARD = "model_card.json"
TORCHSCRIPT = "model.torchscript.pt"

__all__ = [
    "FORMAT_VERSION", "load_model", "load_torchscript", "package_versions", "predict_maps", "read_card",
    "write_package",
]


def write_package(package_dir: Path, model: torch.nn.Module, card: dict, *, trace_size: int = 64) -> Path:
    """Write weights, card (``format_version`` and ``architecture`` added) and TorchScript export.

    Files are written under temporary names and renamed, so a failure never leaves half a package.
    """
    package_dir = Path(package_dir)
    card = {"format_version": FORMAT_VERSION, "architecture": ARCHITECTURE, **card}
    _check_card(card, package_dir)
    model = model.float().to("cpu").to(memory_format=torch.contiguous_format).eval()
    example = torch.zeros(1, int(card["in_channels"]), trace_size, trace_size)
    try:
        package_dir.mkdir(parents=True, exist_ok=True)
        _atomic(package_dir / WEIGHTS, lambda p: torch.save(model.state_dict(), p))
        with warnings.catch_warnings():  # TorchScript is deprecated upstream but still the portable format
            warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
            with torch.no_grad():
                traced = torch.jit.trace(model, example, check_trace=False)
            _atomic(package_dir / TORCHSCRIPT, lambda p: torch.jit.save(traced, str(p)))
        text = json.dumps(card, indent=2, default=_json_default)
        _atomic(package_dir / CARD, lambda p: p.write_text(text, encoding="utf-8"))
    except OSError as exc:
        raise StorageError(f"could not write the model package to {package_dir}: {exc}; free disk space") from exc
    return package_dir


def read_card(package_dir: Path, *, shown_as: str | Path | None = None) -> dict:
    """The model card of a package, validated against :mod:`core.training.card_schema`; messages name the
    package as ``shown_as`` (e.g. the file a user imports) when given, else by its folder."""
    path = Path(package_dir) / CARD
    where = Path(package_dir) if shown_as is None else shown_as
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelPackageError(f"{path} is missing; this folder is not a model package") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelPackageError(
            f"the model card {CARD} in {where} cannot be read as JSON ({exc}); the package is damaged"
        ) from exc
    except RecursionError:
        raise ModelPackageError(
            f"the model card {CARD} in {where} nests its JSON too deeply to be a model card; "
            "the package is damaged"
        ) from None
    check_card(card, where)
    return card


def load_torchscript(package_dir: Path) -> torch.jit.ScriptModule:
    """The package's TorchScript export (logits, same layout as the eager model)."""
    path = Path(package_dir) / TORCHSCRIPT
    if not path.exists():
        raise ModelPackageError(f"{path} is missing; the package has no TorchScript export")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        return torch.jit.load(str(path), map_location="cpu")


def load_model(package_dir: Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """``(model in eval mode on device, card)`` from a package folder; weights loaded with weights_only."""
    card = read_card(package_dir)
    model = build_model(card["encoder"], int(card["in_channels"]), int(card["out_channels"]))
    path = Path(package_dir) / WEIGHTS
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ModelPackageError(f"{path} is missing; the package is incomplete") from exc
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelPackageError(f"{path} cannot be loaded safely ({exc}); the package is damaged or unsafe") from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelPackageError(
            f"the weights in {path} do not fit the card's {card['encoder']} U-Net with "
            f"{card['in_channels']} input / {card['out_channels']} output channels: {str(exc)[:300]}"
        ) from exc
    return model.to(device).eval(), card


def package_versions() -> dict[str, str]:
    """Versions of the packages a model depends on (recorded in the card)."""
    out = {"python": platform.python_version()}
    for name in ("torch", "segmentation-models-pytorch", "numpy", "scikit-image", "scipy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _check_card(card: dict, package_dir: Path) -> None:
    """The card against :data:`core.training.card_schema.CARD`, as it reads back from JSON."""
    check_card(json.loads(json.dumps(card, default=_json_default)), package_dir)


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _json_default(value: object) -> object:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
