"""A model imported from a bioimage.io package made elsewhere, as segstudio's tiled prediction runs it.

Its TorchScript weights run with the description's pre-processing (:mod:`core.bioimageio.processing`,
statistics taken once per image) and post-processing; every output channel is then one label's
probability map, so the result is a semantic one: each label's pixels above 0.5 (the card's post-processing,
changeable like any model's). :class:`ForeignPredictor` is a :class:`~core.inference.predictor.Predictor`
whose network is :class:`ForeignNet`; :func:`foreign_card` writes the model card of such a model.

The tiles segstudio gives the network (sides that are multiples of 32) are padded (reflect) to the next size
the description allows (``min + k * step``, or its fixed size: the tiles are then chosen to fit in it) and
the outputs cropped back. A model that takes one image at a time gets them one at a time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from core.bioimageio import processing
from core.bioimageio.rdf import Description, Tensor, card_description, kept_fields
from core.errors import ModelPackageError
from core.inference.export import DEFAULT_COLORS
from core.inference.predictor import TILE, Predictor
from core.inference.receptive import round_halo
from core.training.card_schema import BIOIMAGEIO_ARCHITECTURE, FORMAT_VERSION
from core.training.device import pick_device
from core.training.models import MAX_CHANNELS
from core.training.normalization import sample_pixels
from core.training.package import TORCHSCRIPT, read_card
from core.training.sources import ReadFn

STANDARD = ("batch", "channel", "y", "x")
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64, "uint8": torch.uint8, "int8": torch.int8,
                "uint16": torch.uint16, "int16": torch.int16, "uint32": torch.uint32, "int32": torch.int32,
                "int64": torch.int64, "uint64": torch.uint64, "bool": torch.bool}
#: the threshold every label's probability map is cut at (the card's post-processing; tuned by nobody)
THRESHOLD = 0.5
#: tile cores a model with a fixed input size may get: divisors of tiled prediction's block, largest first
TILES = (512, 256, 128, 64, 32)


class ForeignNet(torch.nn.Module):
    """``(N, C, h, w)`` pre-processed float32 tiles -> ``(N, L, h, w)`` probability maps: the package's
    TorchScript ``script`` run as its description says (axes, sizes, data type, post-processing)."""

    def __init__(self, script: torch.nn.Module, description: Description) -> None:
        super().__init__()
        self.script = script
        self.description = description

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        spec = self.description.input
        n, _, h, w = batch.shape
        target = (_valid(h, spec.min_size[0], spec.step[0]), _valid(w, spec.min_size[1], spec.step[1]))
        x = _pad(batch, *target).to(TORCH_DTYPES[_network_dtype(spec)])
        stacked = "batch" not in spec.axes
        if stacked:  # one image at a time, stacked afterwards along a new first axis
            parts = [self._call(_declared(x[i : i + 1], spec.axes)) for i in range(n)]
            results = [torch.stack(items, dim=0) for items in zip(*parts, strict=True)]
        elif spec.batch is not None and spec.batch != n:  # a fixed batch size: one image at a time
            if spec.batch != 1:
                raise ModelPackageError(f"the model takes batches of exactly {spec.batch} images; segstudio "
                                        "runs models that take any batch size, or one image at a time")
            parts = [self._call(_declared(x[i : i + 1], spec.axes)) for i in range(n)]
            results = [torch.cat(items, dim=0) for items in zip(*parts, strict=True)]
        else:
            results = self._call(_declared(x, spec.axes))
        maps = []
        for tensor, out in zip(results, self.description.outputs, strict=True):
            standard = to_standard(tensor, out.axes, stacked=stacked)
            expected = (n, len(out.channels), *target)
            if tuple(standard.shape) != expected:
                raise ModelPackageError(
                    f"the model's output {out.id!r} has the shape {tuple(standard.shape)} for an input of "
                    f"{tuple(x.shape)}; its description says {expected} (batch, channel, y, x)")
            maps.append(processing.apply_output(standard[:, :, :h, :w], out.steps))
        return torch.cat(maps, dim=1)

    def _call(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = self.script(x)
        out = [out] if isinstance(out, torch.Tensor) else out
        if not isinstance(out, (list, tuple)) or not all(isinstance(t, torch.Tensor) for t in out):
            raise ModelPackageError(f"the model returned {type(out).__name__}, not tensors")
        if len(out) != len(self.description.outputs):
            raise ModelPackageError(f"the model returned {len(out)} tensors; its description lists "
                                    f"{len(self.description.outputs)} outputs")
        return list(out)


@dataclass
class ForeignPredictor(Predictor):
    """A :class:`~core.inference.predictor.Predictor` for an imported bioimage.io model: the
    description's pre-processing instead of segstudio's normalisation, and the outputs as probability maps.
    Build with :meth:`from_package`."""

    description: Description | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.description is None:
            self.description = card_description(self.card)

    @classmethod
    def from_package(cls, package_dir: Path, *, device: str = "auto", batch_size: int | None = None,
                     views: int | None = None) -> ForeignPredictor:
        """Load an imported bioimage.io model (its TorchScript) onto ``device`` (auto | cpu | cuda)."""
        package_dir = Path(package_dir)
        card = read_card(package_dir)
        description = card_description(card)
        choice = pick_device(device)
        net = ForeignNet(load_script(package_dir / TORCHSCRIPT, choice.device), description)
        if batch_size is None:
            batch_size = 4 if choice.device.type == "cuda" else 1
        return cls(net, card, choice.device, None, False, batch_size, views, description=description)

    def normalize(self, image: np.ndarray, record: dict | None = None) -> np.ndarray:
        """``(C, H, W)`` raw pixels -> the network's float32 input: the description's pre-processing with
        ``record`` (:meth:`image_normalization` of the whole image), or with this image's own statistics."""
        image = np.asarray(image)
        if record is None:
            record = self.image_normalization(image.shape, lambda y, x, h, w: image[:, y : y + h, x : x + w])
        return processing.apply_fixed(image, record["steps"])

    def image_normalization(self, shape: tuple[int, ...], read: ReadFn) -> dict:
        """The pre-processing resolved for one whole image (its statistics from sampled pixels)."""
        return self._record(sample_pixels(shape, read))

    def _record(self, values: np.ndarray) -> dict:
        steps = processing.resolve(self.description.input.steps, np.asarray(values, dtype=np.float64))
        return {"method": "bioimageio", "steps": steps}

    def _network(self, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"prob": self.model(tensor).float()}

    @property
    def tile(self) -> int:
        """The tile core tiled prediction uses: segstudio's, or for a model with a fixed input size the
        largest that fits in it with the halo around (a divisor of tiled prediction's block)."""
        return fitting_tile(self.description.input, self.halo)


def load_script(path: Path, device: torch.device | str = "cpu") -> torch.jit.ScriptModule:
    """The TorchScript module at ``path`` (TorchScript runs its own operators only, never Python code)."""
    if not Path(path).is_file():
        raise ModelPackageError(f"{path} is missing; the imported model is incomplete")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        try:
            return torch.jit.load(str(path), map_location=device).eval()
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelPackageError(f"{Path(path).name} cannot be loaded as TorchScript "
                                    f"({str(exc).splitlines()[0][:200]}); the package is damaged") from exc


def foreign_card(description: Description, rdf: dict, *, source: str) -> dict:
    """The model card of an imported bioimage.io model (it passes :mod:`core.training.card_schema`)."""
    channels = len(description.input.channels)
    if channels > MAX_CHANNELS:
        raise ModelPackageError(f"this bioimage.io package cannot be used: its input has {channels} "
                                f"channels; segstudio runs images of 1 to {MAX_CHANNELS} channels")
    halo = round_halo(max(out.halo for out in description.outputs))
    fitting_tile(description.input, halo)  # a fixed input size must hold a tile and its halo
    names = description.labels
    labels = [{"id": i + 1, "name": name, "color": DEFAULT_COLORS[i % len(DEFAULT_COLORS)]}
              for i, name in enumerate(names)]
    return {
        "format_version": FORMAT_VERSION,
        "architecture": BIOIMAGEIO_ARCHITECTURE,
        "in_channels": channels,
        "out_channels": len(names),
        "training_type": "semantic",
        "labels": labels,
        "distance_head": False,
        "normalization": {"method": "bioimageio"},
        "postprocess": {"threshold": THRESHOLD, "min_size": 0},
        "halo": halo,
        "name": description.name,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "bioimageio": {"rdf": kept_fields(rdf), "source": source[:200]},
    }


def fitting_tile(spec: Tensor, halo: int) -> int:
    """The tile core for an input ``spec`` with ``halo`` pixels around each tile (see
    :attr:`ForeignPredictor.tile`); :class:`ModelPackageError` when even the smallest does not fit."""
    side = spec.fixed_side
    if side is None:
        return TILE
    fitting = [t for t in TILES if t + 2 * halo <= side]
    if not fitting:
        raise ModelPackageError(f"this bioimage.io package cannot be used: its input has the fixed size "
                                f"{side} pixels, too small for tiles of at least {TILES[-1]} pixels with a "
                                f"margin of {halo} pixels on each side")
    return fitting[0]


def _network_dtype(spec: Tensor) -> str:
    """The data type the network receives: the input's own type when it has no pre-processing, else the
    type its last step casts to (float32 after any other step)."""
    if not spec.steps:
        return spec.dtype
    last = spec.steps[-1]
    return last["dtype"] if last["op"] == "cast" else "float32"


def _valid(n: int, low: int, step: int) -> int:
    """The smallest size ``low + k * step`` at least ``n`` (``step`` 0: the fixed size ``low``)."""
    if n <= low:
        return low
    if step == 0:
        raise ModelPackageError(f"a tile of {n} pixels is larger than the model's fixed input size {low}")
    return low + -(-(n - low) // step) * step


def _pad(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    pad_h, pad_w = h - x.shape[2], w - x.shape[3]
    if pad_h == 0 and pad_w == 0:
        return x
    mode = "reflect" if min(x.shape[2], x.shape[3]) > max(pad_h, pad_w) else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def _declared(x: torch.Tensor, axes: tuple[str, ...]) -> torch.Tensor:
    """``x`` ``(N, C, H, W)`` in the description's axes (a missing batch or channel axis: size 1 dropped)."""
    names = list(STANDARD)
    if "channel" not in axes:
        x, _ = x[:, 0], names.remove("channel")
    if "batch" not in axes:
        x, _ = x[0], names.remove("batch")
    return x.permute([names.index(a) for a in axes])


def to_standard(y: torch.Tensor, axes: tuple[str, ...], *, stacked: bool) -> torch.Tensor:
    """An output in the description's ``axes`` (after a leading batch axis when ``stacked``: outputs of
    one image at a time) as ``(N, C, H, W)``."""
    if y.dim() != len(axes) + stacked:
        raise ModelPackageError(f"the model returned a tensor of {y.dim() - stacked} dimensions; its "
                                f"description lists the axes {list(axes)}")
    present = [a for a in STANDARD if a in axes]
    if stacked:
        y = y.permute([0, *[1 + axes.index(a) for a in present]])
        present = ["batch", *present]
    else:
        y = y.permute([axes.index(a) for a in present])
    if "batch" not in present:
        y = y.unsqueeze(0)
    if "channel" not in present:
        y = y.unsqueeze(1)
    return y
