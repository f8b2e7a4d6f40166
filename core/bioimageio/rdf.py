"""A bioimage.io model description (spec 0.5) from anywhere, read as far as segstudio runs it: one 2D image
input, outputs at the input's size, TorchScript weights in the package, and pre- and post-processing steps
of :mod:`core.bioimageio.processing`.

:func:`read_description` checks the parsed YAML (never trusted: it may come from anywhere) and returns a
:class:`Description`, or raises :class:`ModelPackageError` with one sentence saying what is wrong. The
same function reads the description kept in an imported model's card (:func:`card_description`), so
whatever the card holds is checked again whenever the model loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from core.bioimageio import processing
from core.errors import ModelPackageError

#: the description's axes segstudio maps its tiles onto (others: time, z, index axes, are refused)
SPATIAL = ("y", "x")
MAX_OUTPUTS = 16
MAX_NAME = 100
#: an imported model's label names: at most this many channels over all outputs
MAX_LABELS = 64


@dataclass(frozen=True)
class Tensor:
    """One tensor: its id, its axes in order (``batch``, ``channel``, ``y``, ``x``), its channels' names
    (one name when it has no channel axis), its data type and its processing steps."""

    id: str
    axes: tuple[str, ...]
    channels: tuple[str, ...]
    dtype: str
    steps: tuple[dict, ...]
    min_size: tuple[int, int] = (1, 1)  # input: y and x sizes are min + k * step (step 0: a fixed size)
    step: tuple[int, int] = (1, 1)
    halo: int = 0  # output: the halo it declares (pixels, the largest of y and x)
    batch: int | None = None  # input: the batch size it takes, when fixed

    @property
    def fixed_side(self) -> int | None:
        """The smaller of the input's fixed y and x sizes (None when both may grow)."""
        fixed = [m for m, s in zip(self.min_size, self.step, strict=True) if s == 0]
        return min(fixed) if fixed else None


@dataclass(frozen=True)
class Description:
    """What segstudio uses of a bioimage.io model description."""

    name: str
    format_version: str
    input: Tensor
    outputs: tuple[Tensor, ...]
    torchscript: str  # the weights file, relative to the description
    torchscript_sha256: str | None
    test_input: str | None
    test_outputs: tuple[str | None, ...]

    @property
    def labels(self) -> list[str]:
        """One label name per output channel, over all outputs, unique."""
        names: list[str] = []
        for out in self.outputs:
            for channel in out.channels:
                name = channel if len(self.outputs) == 1 else f"{out.id} {channel}"
                name = name[:MAX_NAME]
                while name in names:
                    name = f"{name[: MAX_NAME - 2]} {len(names)}"
                names.append(name)
        return names


def read_description(rdf: object) -> Description:
    """The description ``rdf`` (parsed YAML) as segstudio runs it; :class:`ModelPackageError` says why not."""
    if not isinstance(rdf, dict):
        raise _bad(f"the description is {type(rdf).__name__}, not a mapping of fields")
    if rdf.get("type") != "model":
        raise _bad(f"its type is {rdf.get('type')!r}, not 'model'")
    version = rdf.get("format_version")
    if not isinstance(version, str) or not version.startswith("0.5."):
        raise _bad(f"it is written in format {version!r}; segstudio reads format 0.5 (convert an older "
                   "package with `bioimageio update-format` first)")
    name = rdf.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _bad("it has no name")
    inputs = rdf.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        count = len(inputs) if isinstance(inputs, list) else "no"
        raise _bad(f"it has {count} input tensors; segstudio runs models with exactly one image input")
    raw_input = _mapping(inputs[0], "inputs[0]")
    tensor = _input(raw_input)
    outputs = rdf.get("outputs")
    if not isinstance(outputs, list) or not 1 <= len(outputs) <= MAX_OUTPUTS:
        raise _bad(f"it needs 1 to {MAX_OUTPUTS} output tensors, not {_count(outputs)}")
    outs = tuple(_output(_mapping(o, f"outputs[{i}]"), i, tensor) for i, o in enumerate(outputs))
    if len({o.id for o in outs}) != len(outs):
        raise _bad("two outputs have the same id")
    if sum(len(o.channels) for o in outs) > MAX_LABELS:
        raise _bad(f"its outputs have more than {MAX_LABELS} channels in all")
    weights = _mapping(rdf.get("weights"), "weights")
    script = weights.get("torchscript")
    if script is None:
        formats = sorted(k for k, v in weights.items() if v is not None)
        raise _bad(f"it has no TorchScript weights (only {', '.join(formats) or 'none'}); segstudio runs "
                   "bioimage.io models through their TorchScript weights")
    script = _mapping(script, "weights.torchscript")
    raw_outputs = [_mapping(o, "outputs") for o in outputs]
    return Description(
        name=name.strip()[:200],
        format_version=version,
        input=tensor,
        outputs=outs,
        torchscript=_local_file(script.get("source"), "weights.torchscript.source"),
        torchscript_sha256=_sha(script.get("sha256")),
        test_input=_test_tensor(raw_input),
        test_outputs=tuple(_test_tensor(o) for o in raw_outputs),
    )


def card_description(card: dict) -> Description:
    """The description kept in an imported model's card (field ``bioimageio``), checked again."""
    raw = card.get("bioimageio")
    if not isinstance(raw, dict) or "rdf" not in raw:
        raise ModelPackageError("the model card has no bioimage.io description (field bioimageio.rdf); "
                                "import the bioimage.io package again")
    return read_description(raw["rdf"])


def kept_fields(rdf: dict) -> dict:
    """What an imported model's card keeps of its description (what :func:`read_description` reads)."""
    keep = ("type", "format_version", "name", "inputs", "outputs")
    return {**{k: rdf[k] for k in keep if k in rdf},
            "weights": {"torchscript": rdf["weights"]["torchscript"]}}


# Tensors -------------------------------------------------------------------------------------------------
def _input(raw: dict) -> Tensor:
    tid = _id(raw.get("id"), "inputs[0].id")
    axes, channels, records = _axes(raw, f"input {tid!r}")
    mins, steps = [], []
    for axis in SPATIAL:
        size = records[axis].get("size")
        if isinstance(size, dict) and {"min", "step"} <= set(size):
            low = _whole(size["min"], f"{axis}.size.min", 1)
            step = _whole(size["step"], f"{axis}.size.step", 1)
        elif isinstance(size, int) and not isinstance(size, bool):  # a fixed size: tiles padded to it
            low, step = _whole(size, f"{axis}.size", 1), 0
        else:
            raise _bad(f"its input's {axis} axis has the size {_short(size)}; segstudio runs inputs of a "
                       "fixed size, or of a minimum and a step (min + k * step)")
        mins.append(low)
        steps.append(step)
    batch = records["batch"].get("size") if "batch" in records else None
    if batch is not None:
        batch = _whole(batch, "the input's batch size", 1)
    dtype = _dtype(raw, f"input {tid!r}")
    steps_raw = raw.get("preprocessing") or []
    pre = processing.check_steps(steps_raw, processing.PREPROCESSING, where=f"input {tid!r}", axes=axes,
                                 channels=len(channels), tensor_id=tid)
    return Tensor(tid, axes, channels, dtype, pre, (mins[0], mins[1]), (steps[0], steps[1]), batch=batch)


def _output(raw: dict, index: int, source: Tensor) -> Tensor:
    tid = _id(raw.get("id"), f"outputs[{index}].id")
    axes, channels, records = _axes(raw, f"output {tid!r}")
    halo = 0
    for axis in SPATIAL:
        axis_record = records[axis]
        size = axis_record.get("size")
        ref = size if isinstance(size, dict) else {}
        if ref.get("tensor_id") != source.id or ref.get("axis_id", axis) != axis or ref.get("offset", 0) != 0:
            raise _bad(f"its output {tid!r} is not at the input's size along {axis} (size {size!r}); "
                       "segstudio runs models whose outputs have the input's height and width")
        scale = axis_record.get("scale", 1.0)
        if not isinstance(scale, (int, float)) or scale != 1:
            raise _bad(f"its output {tid!r} has the scale {scale!r} along {axis}; segstudio needs outputs at "
                       "the input's pixel size (scale 1)")
        halo = max(halo, _whole(axis_record.get("halo", 0), f"output {tid!r} {axis} halo", 0))
    post = processing.check_steps(raw.get("postprocessing") or [], processing.POSTPROCESSING,
                                  where=f"output {tid!r}", axes=axes, channels=len(channels), tensor_id=tid)
    return Tensor(tid, axes, channels, _dtype(raw, f"output {tid!r}"), post, halo=halo)


def _axes(raw: dict, where: str) -> tuple[tuple[str, ...], tuple[str, ...], dict]:
    """``(axis ids in order, channel names, {spatial axis id: its record})`` of a tensor."""
    items = raw.get("axes")
    if not isinstance(items, list) or not 2 <= len(items) <= 8:
        raise _bad(f"its {where} has the axes {_short(items)}; segstudio runs 2D images (batch, channel, "
                   "y, x)")
    ids: list[str] = []
    channels: tuple[str, ...] = ("1",)
    records: dict = {}
    for i, axis in enumerate(items):
        axis = _mapping(axis, f"{where} axes[{i}]")
        kind = axis.get("type")
        if kind == "batch":
            ids.append("batch")
            records["batch"] = axis
        elif kind == "channel":
            names = axis.get("channel_names")
            if not isinstance(names, list) or not 1 <= len(names) <= MAX_LABELS:
                raise _bad(f"its {where} channel axis lists {_short(names)}; expected 1 to {MAX_LABELS} "
                           "names")
            channels = tuple(str(n)[:MAX_NAME] for n in names)
            ids.append("channel")
        elif kind == "space" and axis.get("id", "x") in SPATIAL:
            ids.append(axis.get("id", "x"))
            records[ids[-1]] = axis
        else:
            what = f"{kind} axis {axis.get('id', '')!r}".replace(" ''", "")
            raise _bad(f"its {where} has a {what}; segstudio runs 2D images (axes batch, channel, y, x)")
    if len(set(ids)) != len(ids) or not set(SPATIAL) <= set(ids):
        raise _bad(f"its {where} has the axes {ids}; segstudio runs 2D images with one y and one x axis")
    return tuple(ids), channels, records


def _dtype(raw: dict, where: str) -> str:
    data = raw.get("data") or {}
    dtype = data.get("type", "float32") if isinstance(data, dict) else "float32"
    if dtype not in processing.DTYPES:
        raise _bad(f"its {where} has the data type {dtype!r}; expected one of {list(processing.DTYPES)}")
    return dtype


def _test_tensor(raw: dict) -> str | None:
    record = raw.get("test_tensor")
    if not isinstance(record, dict) or record.get("source") is None:
        return None
    return _local_file(record["source"], "test_tensor.source")


# Values --------------------------------------------------------------------------------------------------
def _local_file(value: object, where: str) -> str:
    """A file name inside the package: relative, forward slashes, no ``..``, no URL."""
    if not isinstance(value, str) or not value or len(value) > 500:
        raise _bad(f"{where} is {_short(value)}, not the name of a file in the package")
    if "://" in value or value.startswith(("http:", "https:", "zenodo:", "doi:")):
        raise _bad(f"{where} is the address {value[:120]!r}; segstudio never downloads weights or data: "
                   "use a package ZIP that holds its files")
    path = PurePosixPath(value)
    if "\\" in value or path.is_absolute() or ".." in path.parts or ":" in value or "\x00" in value:
        raise _bad(f"{where} is {value[:120]!r}, a path outside the package")
    return path.as_posix()


def _sha(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value):
        return value.lower()
    raise _bad(f"a sha256 is {_short(value)}, not 64 hexadecimal digits")


def _id(value: object, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise _bad(f"{where} is {_short(value)}, not a tensor id")
    return value


def _whole(value: object, where: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 100_000:
        raise _bad(f"{where} is {_short(value)}; expected a whole number from {low} to 100000")
    return value


def _mapping(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise _bad(f"{where} is {_short(value)}, not a mapping of fields")
    return value


def _count(value: object) -> str:
    return str(len(value)) if isinstance(value, list) else _short(value)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bad(reason: str) -> ModelPackageError:
    return ModelPackageError(f"this bioimage.io package cannot be used: {reason}")
