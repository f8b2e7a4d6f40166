"""Export a segstudio segmentation model package as a bioimage.io model package (spec 0.5, a ZIP).

The ZIP holds, at its root:

* ``rdf.yaml``: the description (:mod:`core.bioimageio.description`);
* ``weights.pt``: segstudio's own state_dict, the ``pytorch_state_dict`` weights, with the architecture
  ``segstudio_unet.py`` (:mod:`core.bioimageio.architecture`, copied as is) and ``environment.yaml``;
* ``torchscript.pt``: the ``torchscript`` weights, the same network and forward pass, traced and scripted;
* ``test_input.npy`` and one ``test_output_<id>.npy`` per output tensor, computed by the model itself from a
  sample image (the caller's, or a synthetic one in the training images' intensity range), and the same as
  TIFF files for people (``sample_input.tif``, ``sample_output_<id>.tif``);
* ``cover.png`` and ``README.md`` (:mod:`core.bioimageio.docs`);
* ``model_card.json``: segstudio's card, an attachment, so that importing the ZIP into segstudio restores
  the complete package (:mod:`core.bioimageio.importer`).

Before the ZIP is written the description is validated by ``bioimageio.spec`` (offline, imported only
here), and the TorchScript weights are checked to give the eager network's outputs.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from core.bioimageio import architecture, tensors
from core.bioimageio.description import (
    ARCHITECTURE_FILE,
    ENVIRONMENT_FILE,
    RDF,
    TORCHSCRIPT_FILE,
    model_description,
    write_yaml,
)
from core.bioimageio.docs import cover_png, readme
from core.bioimageio.samples import sample_image
from core.bioimageio.validation import check_description, check_license
from core.errors import InvalidInputError, ModelPackageError
from core.imaging.atomic import atomic_output
from core.training.checkpoint import in_memory
from core.training.models import encoder_spec
from core.training.package import CARD, WEIGHTS, load_model, read_card
from core.training.scale import card_scale

#: TorchScript and eager outputs may differ by this much (logits) before the export is refused
TORCHSCRIPT_TOLERANCE = 1e-3

__all__ = ["export_bioimageio", "export_refusal"]

export_refusal = tensors.export_refusal


def export_bioimageio(
    package_dir: Path,
    dest_zip: Path,
    *,
    name: str | None = None,
    authors: Sequence[str | Mapping[str, str]] | None = None,
    description: str | None = None,
    license: str = "CC-BY-4.0",
    sample: np.ndarray | None = None,
) -> Path:
    """Write the segstudio model package at ``package_dir`` as a bioimage.io ZIP at ``dest_zip``.

    ``name`` defaults to the card's name; ``authors`` are names or ``{"name", "affiliation", "email",
    "orcid", "github_user"}`` dicts; ``sample`` is a raw image ``(C, H, W)`` (or ``(H, W)``) for the test
    tensors and the cover (default: a synthetic image); ``license`` an SPDX identifier. Raises
    :class:`ModelPackageError` when the model is of a kind the export does not cover, or the package is
    broken, and :class:`InvalidInputError` for a licence, author or sample image that does not fit.
    """
    package_dir, dest_zip = Path(package_dir), Path(dest_zip)
    check_license(license)
    card = read_card(package_dir)
    refusal = tensors.export_refusal(card)
    if refusal is not None:
        raise ModelPackageError(f"{package_dir.name} cannot be exported for bioimage.io: {refusal}")
    model, card = load_model(package_dir, "cpu")
    outputs = tensors.outputs(card)
    net = _eager_network(model, card, outputs)
    image = sample_image(card, sample)
    normalised = tensors.spec_normalize(image, card)
    with torch.inference_mode():
        logits = net(torch.from_numpy(normalised[None]))
    results = {o.id: _activated(o, t)[0].numpy() for o, t in zip(outputs, logits, strict=True)}
    scripted = _torchscript(model, card, outputs, logits, normalised)
    files: dict[str, bytes] = {
        ARCHITECTURE_FILE: Path(architecture.__file__).read_bytes(),
        WEIGHTS: (package_dir / WEIGHTS).read_bytes(),
        CARD: (package_dir / CARD).read_bytes(),
        TORCHSCRIPT_FILE: scripted,
        ENVIRONMENT_FILE: _environment().encode("utf-8"),
        "test_input.npy": _npy(image[None].astype(np.float32)),
        **{f"test_output_{o.id}.npy": _npy(results[o.id][None].astype(np.float32)) for o in outputs},
        "sample_input.tif": _tif(image),
        **{f"sample_output_{o.id}.tif": _tif(results[o.id]) for o in outputs},
    }
    first = outputs[0]
    channel = 1 if len(first.channel_names) == 3 else 0  # the interior of three classes, else the first map
    files["cover.png"] = cover_png(normalised, results[first.id][channel], card["labels"][0].get("color"))
    title = _spec_name(name or card.get("display_name") or card.get("name") or card.get("training_name"))
    summary = description or _description(card)
    files["README.md"] = readme(card, name=title, description=summary, outputs=outputs,
                                notes=tensors.unexpressed(card),
                                preprocessing=tensors.preprocessing(card)).encode("utf-8")
    digests = {file: hashlib.sha256(data).hexdigest() for file, data in files.items()}
    rdf = model_description(card, name=title, description=summary, authors=_authors(authors), license=license,
                            outputs=outputs, digests=digests, kwargs=_kwargs(card, outputs))
    with tempfile.TemporaryDirectory(prefix="segstudio-bioimageio-") as scratch:
        folder = Path(scratch)
        for file, data in files.items():
            (folder / file).write_bytes(data)
        write_yaml(rdf, folder / RDF)
        check_description(folder / RDF)
        dest_zip.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(dest_zip) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.iterdir()):
                zf.write(path, path.name)
    return dest_zip


def _kwargs(card: dict, outputs: Sequence[tensors.Output]) -> dict:
    """The keyword arguments of :class:`~core.bioimageio.architecture.SegstudioUNet` for ``card``."""
    spec = encoder_spec(card["encoder"])
    return {
        "encoder_name": spec["smp_encoder"],
        "in_channels": int(card["in_channels"]),
        "classes": int(card["out_channels"]),
        "encoder_depth": int(spec.get("encoder_depth", 5)),
        "decoder_channels": [int(v) for v in spec["decoder_channels"]],
        "factor": float(card_scale(card)),
        "splits": [[o.start, o.stop] for o in outputs],
    }


def _eager_network(model: torch.nn.Module, card: dict, outputs: Sequence[tensors.Output]) -> torch.nn.Module:
    """The package's architecture with segstudio's weights (strict: the keys must be the same)."""
    net = architecture.SegstudioUNet(**_kwargs(card, outputs))
    try:
        net.load_state_dict(model.state_dict(), strict=True)
    except RuntimeError as exc:
        raise ModelPackageError(
            f"the weights do not fit the exported architecture ({str(exc)[:300]}); the package is damaged"
        ) from exc
    return net.eval()


def _torchscript(model: torch.nn.Module, card: dict, outputs: Sequence[tensors.Output],
                 expected: Sequence[torch.Tensor], normalised: np.ndarray) -> bytes:
    """The TorchScript weights (a traced U-Net inside the scripted forward pass), checked against the
    eager network's logits ``expected`` of ``normalised``."""
    kwargs = _kwargs(card, outputs)
    example = torch.zeros(1, int(card["in_channels"]), 64, 64)
    with warnings.catch_warnings():  # TorchScript is deprecated upstream but still the portable format
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        with torch.no_grad():
            traced = torch.jit.trace(model.eval(), example, check_trace=False)
        scripted = torch.jit.script(architecture.ScriptedSteps(traced, kwargs["factor"], kwargs["splits"]))
        data = in_memory(lambda buffer: torch.jit.save(scripted, buffer))
        loaded = torch.jit.load(io.BytesIO(bytes(data)), map_location="cpu")
    with torch.inference_mode():
        got = loaded(torch.from_numpy(normalised[None]))
    worst = max(float((a - b).abs().max()) for a, b in zip(got, expected, strict=True))
    if worst > TORCHSCRIPT_TOLERANCE:
        raise ModelPackageError(f"the TorchScript weights differ from the network by {worst:.3g} (logits); "
                                "export the model again, or report this model to segstudio's developers")
    return bytes(data)


def _activated(output: tensors.Output, logits: torch.Tensor) -> torch.Tensor:
    ids = [step["id"] for step in output.postprocessing]
    if ids == ["softmax"]:
        return torch.softmax(logits.float(), dim=1)
    return torch.sigmoid(logits.float())


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _tif(array: np.ndarray) -> bytes:
    """A float32 TIFF of ``(C, H, W)`` (the spec's sample tensors, for people and viewers)."""
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.ascontiguousarray(array, dtype=np.float32), photometric="minisblack")
    return buffer.getvalue()


def _environment() -> str:
    """The conda environment of the pytorch_state_dict weights: torch and segmentation_models_pytorch."""
    versions = {}
    for package in ("torch", "segmentation-models-pytorch", "timm"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    pip = [f"segmentation-models-pytorch=={versions['segmentation-models-pytorch']}"]
    if versions["timm"]:
        pip.append(f"timm=={versions['timm']}")
    torch_version = str(versions["torch"]).split("+")[0]
    lines = ["name: segstudio-unet", "channels:", "  - conda-forge", "  - nodefaults", "dependencies:",
             "  - python>=3.10", f"  - pytorch=={torch_version}", "  - pip", "  - pip:",
             *[f"    - {p}" for p in pip]]
    return "\n".join(lines) + "\n"


def _spec_name(raw: object) -> str:
    """A name the spec accepts: letters, digits, ``_+- ()``, 5 to 128 characters."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+- ()")
    text = "".join(ch if ch in allowed else " " for ch in str(raw or "")).strip()
    text = " ".join(text.split())[:120]
    if len(text) < 5:
        text = f"segstudio model {text}".strip()
    return text


def _description(card: dict) -> str:
    labels = ", ".join(str(lab["name"]) for lab in card["labels"])
    from core.training.types import training_type

    kind = training_type(card["training_type"])
    return (f"{kind.short_title.capitalize()} of {labels} in {card['in_channels']}-channel 2D images: a "
            "U-Net trained with segstudio.")[:1000]


def _authors(authors: Sequence[str | Mapping[str, str]] | None) -> list[dict]:
    keys = ("name", "affiliation", "email", "orcid", "github_user")
    out = []
    for author in authors or ():
        entry = {"name": author} if isinstance(author, str) else {k: author[k] for k in keys if author.get(k)}
        if not str(entry.get("name", "")).strip():
            raise InvalidInputError(f"author {author!r} has no name; give each author a name")
        out.append(entry)
    return out
