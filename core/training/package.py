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
import shutil
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from core.errors import ModelPackageError
from core.imaging.atomic import storage_error, temp_name
from core.training.card_schema import (
    ARCHITECTURE,
    BIOIMAGEIO_ARCHITECTURE,
    ENCODER_ARCHITECTURES,
    FORMAT_VERSION,
    check_card,
)
from core.training.checkpoint import in_memory
from core.training.models import build_model
from core.training.package_files import CARD, TORCHSCRIPT, WEIGHTS
from core.training.predict import predict_maps

#: the file a package's network is loaded from, by its card's architecture: the state_dict of the networks
#: segstudio builds, the TorchScript of a model imported from bioimage.io
WEIGHTS_FILES = {**dict.fromkeys(ENCODER_ARCHITECTURES, WEIGHTS), BIOIMAGEIO_ARCHITECTURE: TORCHSCRIPT}

__all__ = [
    "CARD", "FORMAT_VERSION", "TORCHSCRIPT", "WEIGHTS", "load_model", "load_torchscript", "package_versions",
    "predict_maps", "read_card", "weights_file", "write_package",
]


def write_package(package_dir: Path, model: torch.nn.Module, card: dict, *, trace_size: int = 64,
                  retry: str = "train the model again") -> Path:
    """Write weights, card (``format_version`` and ``architecture`` added) and TorchScript export.

    The package is written in a hidden temporary folder renamed into place (replacing an older package of
    that name), so a failure never leaves half a package: a full disk raises :class:`StorageError` (its
    advice ends with ``retry``) and removes the temporary folder.
    """
    package_dir = Path(package_dir)
    card = {"format_version": FORMAT_VERSION, "architecture": ARCHITECTURE, **card}
    _check_card(card, package_dir)
    model = model.float().to("cpu").to(memory_format=torch.contiguous_format).eval()
    example = torch.zeros(1, int(card["in_channels"]), trace_size, trace_size)
    with warnings.catch_warnings():  # TorchScript is deprecated upstream but still the portable format
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        with torch.no_grad():
            traced = torch.jit.trace(model, example, check_trace=False)
        files = {
            WEIGHTS: in_memory(lambda buffer: torch.save(model.state_dict(), buffer)),
            TORCHSCRIPT: in_memory(lambda buffer: torch.jit.save(traced, buffer)),
            CARD: json.dumps(card, indent=2, default=_json_default).encode("utf-8"),
        }
    staging = temp_name(package_dir)
    try:
        staging.mkdir(parents=True)
        for name, data in files.items():
            with open(staging / name, "wb") as handle:
                handle.write(data)
        _move_into_place(staging, package_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        fix = f"Free disk space in {package_dir.parent}, then {retry}"
        raise storage_error(package_dir, exc, full_fix=fix, retry=retry) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
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
    if card["architecture"] != ARCHITECTURE:
        raise ModelPackageError(
            f"the model in {package_dir} is a {card['architecture']} network, not segstudio's U-Net"
            + ("; it was imported from bioimage.io: apply it, or train a segstudio model to evaluate or "
               "fine-tune" if card["architecture"] == BIOIMAGEIO_ARCHITECTURE else "")
        )
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


def weights_file(card: dict) -> str:
    """The name of the file the network of ``card`` (a validated card) is loaded from."""
    return WEIGHTS_FILES[card.get("architecture", ARCHITECTURE)]


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


def _move_into_place(staging: Path, package_dir: Path) -> None:
    """Rename the complete ``staging`` folder to ``package_dir``; an older package there goes."""
    if not package_dir.exists():
        os.replace(staging, package_dir)
        return
    old = temp_name(package_dir, ".old")
    os.replace(package_dir, old)
    try:
        os.replace(staging, package_dir)
    except OSError:
        os.replace(old, package_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


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
