"""The bioimage.io model description (``rdf.yaml``, spec 0.5) of an exported segstudio model, as plain
YAML data: every file it names is in the package, with its sha256."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import yaml

from core.bioimageio import tensors
from core.training.package import CARD, WEIGHTS
from core.training.types import training_type

#: the spec version written (the newest 0.5 release the bioimageio.spec this segstudio ships reads)
FORMAT_VERSION = "0.5.12"
ARCHITECTURE_FILE = "segstudio_unet.py"
TORCHSCRIPT_FILE = "torchscript.pt"
ENVIRONMENT_FILE = "environment.yaml"
RDF = "rdf.yaml"
#: what marks a package as segstudio's (``config.segstudio``): the card and weights to restore
SEGSTUDIO_CONFIG = {"card": CARD, "weights": WEIGHTS}
#: the works cited, by DOI only: a URL would make validation reach for the network (the README names
#: segmentation_models_pytorch's repository)
CITATIONS = (
    {"text": "Ronneberger, Fischer and Brox. U-Net: Convolutional Networks for Biomedical Image "
             "Segmentation. MICCAI 2015.", "doi": "10.1007/978-3-319-24574-4_28"},
)


def model_description(
    card: dict,
    *,
    name: str,
    description: str,
    authors: list[dict],
    license: str,
    outputs: Sequence[tensors.Output],
    digests: dict[str, str],
    kwargs: dict,
) -> dict:
    """The description's YAML data; ``digests`` maps each file of the package to its sha256 (the files are
    named as :mod:`core.bioimageio.export` writes them), ``kwargs`` are the architecture's arguments."""
    files = {"input": {"test_tensor": _file("test_input.npy", digests),
                       "sample_tensor": _file("sample_input.tif", digests)}}
    for out in outputs:
        files[out.id] = {"test_tensor": _file(f"test_output_{out.id}.npy", digests),
                         "sample_tensor": _file(f"sample_output_{out.id}.tif", digests)}
    inputs, outs = tensors.tensor_descriptions(card, files)
    torch_version = metadata.version("torch").split("+")[0]
    kind = training_type(card["training_type"])
    return {
        "type": "model",
        "format_version": FORMAT_VERSION,
        "name": name,
        "description": description,
        "authors": authors,
        "cite": [dict(c) for c in CITATIONS],
        "license": license,
        "tags": ["segmentation", kind.short_title.replace(" ", "-"), "2d", "unet", "pytorch", "segstudio"],
        "documentation": _file("README.md", digests),
        "covers": [_file("cover.png", digests)],
        "attachments": [_file(CARD, digests)],
        "timestamp": _timestamp(card),
        "inputs": inputs,
        "outputs": outs,
        "weights": {
            "pytorch_state_dict": {
                **_file(WEIGHTS, digests),
                "architecture": {**_file(ARCHITECTURE_FILE, digests), "callable": "SegstudioUNet",
                                 "kwargs": kwargs},
                "pytorch_version": torch_version,
                "dependencies": _file(ENVIRONMENT_FILE, digests),
            },
            "torchscript": {
                **_file(TORCHSCRIPT_FILE, digests),
                "pytorch_version": torch_version,
                "parent": "pytorch_state_dict",
                "comment": "the same network and forward pass, traced (the U-Net) and scripted (padding, "
                           "working scale, output split)",
            },
        },
        "config": {"segstudio": dict(SEGSTUDIO_CONFIG)},
    }


class _Dumper(yaml.SafeDumper):
    """Writes repeated values in full (no ``&id001`` anchors: every YAML reader understands the file)."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def write_yaml(data: dict, path: Path) -> Path:
    path.write_text(yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _file(name: str, digests: dict[str, str]) -> dict:
    return {"source": name, "sha256": digests[name]}


def _timestamp(card: dict) -> str:
    """The card's creation time (ISO 8601), or now."""
    raw = card.get("created_at")
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw).isoformat()
        except ValueError:
            pass
    return datetime.now(timezone.utc).isoformat()
