"""Import a bioimage.io model package made elsewhere (a ZIP, or a folder, holding ``rdf.yaml`` or
``bioimageio.yaml``) as a segstudio model for Apply.

Called by :func:`core.inference.package_io.import_model_package` for a package without segstudio's own
model card (a package segstudio exported holds its card and weights and imports as a full segstudio
package). Nothing here trusts the package:

* its ZIP entries were checked by the caller (no path traversal, absolute paths or links); a folder's files
  are read only when they are regular files inside it (no links);
* only the description (at most :data:`RDF_LIMIT` bytes, safe YAML), the TorchScript weights (the caller's
  size limit for ``model.torchscript.pt``, the bytes actually inflated counted, the declared sha256 checked)
  and the test tensors (at most :data:`TENSOR_LIMIT` bytes each, ``.npy`` read without pickles) are read;
* the description must be one segstudio runs (:func:`core.bioimageio.rdf.read_description`: one 2D input,
  outputs at its size, local TorchScript weights, known processing steps) and the model must reproduce its
  own test outputs with segstudio's runtime (:data:`TOLERANCE`), so that Apply gives what the package
  promises;
* it writes only into ``staging`` (the caller's hidden folder, removed on failure).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
import torch
import yaml

from core.bioimageio.rdf import Description, read_description
from core.bioimageio.runtime import ForeignPredictor, foreign_card, to_standard
from core.errors import ModelPackageError
from core.training.package import CARD, TORCHSCRIPT

#: the names a description may have (spec 0.5), in the package's root or in its one top folder
RDF_NAMES = ("rdf.yaml", "bioimageio.yaml")
RDF_LIMIT = 1 << 20
#: a description holds at most this many values (keys, items, scalars), aliases expanded
MAX_VALUES = 50_000
TENSOR_LIMIT = 256 << 20
_CHUNK = 1 << 20
#: the model must reproduce its test outputs: |ours - theirs| <= ATOL + RTOL * |theirs| on all but
#: MISMATCH of the values (probabilities; the spec's own test allows 1e-3 and 100 per million)
ATOL, RTOL, MISMATCH = 0.01, 0.01, 0.001


def description_entry(names: list[str]) -> str | None:
    """The description among the package's file ``names`` (posix paths): in its root, or in the one
    folder that holds a description; None when there is none."""
    found = [n for n in names if _is_description(n)]
    if not found:
        return None
    rooted = [n for n in found if "/" not in n]
    if rooted:
        return sorted(rooted, key=lambda n: (n not in RDF_NAMES, n))[0]
    folders = {str(PurePosixPath(n).parent) for n in found}
    if len(folders) > 1:
        raise ModelPackageError(f"the package holds descriptions in several folders ({sorted(folders)[:4]}); "
                                "import one model at a time")
    return sorted(found, key=lambda n: (PurePosixPath(n).name not in RDF_NAMES, n))[0]


def import_zip(zf: zipfile.ZipFile, staging: Path, *, shown_as: str, weights_limit: int) -> dict:
    """Import the bioimage.io package in ``zf`` (entries already checked) into ``staging``; returns its
    card."""
    return _import(_ZipFiles(zf, shown_as), staging, shown_as=shown_as, weights_limit=weights_limit)


def import_folder(folder: Path, staging: Path, *, weights_limit: int, description: str | None = None) -> dict:
    """Import the bioimage.io package in ``folder`` (its description ``description``, a file name in it, or
    the one found) into ``staging``; returns the card."""
    files = _FolderFiles(folder)
    return _import(files, staging, shown_as=folder.name, weights_limit=weights_limit, entry=description)


def is_description(path: Path) -> bool:
    """Whether ``path`` is named as a bioimage.io description (``rdf.yaml``, ``*bioimageio.yaml``)."""
    return _is_description(Path(path).name)


def _import(files: _ZipFiles | _FolderFiles, staging: Path, *, shown_as: str, weights_limit: int,
            entry: str | None = None) -> dict:
    entry = entry or description_entry(files.names())
    if entry is None:
        raise ModelPackageError(f"{shown_as} holds no {CARD} nor a bioimage.io description "
                                f"({' or '.join(RDF_NAMES)}); choose a model package")
    rdf = _yaml(files.read(entry, RDF_LIMIT), entry)
    description = read_description(rdf)
    root = PurePosixPath(entry).parent
    digest = files.copy(_inside(root, description.torchscript), staging / TORCHSCRIPT, weights_limit)
    if description.torchscript_sha256 is not None and digest != description.torchscript_sha256:
        raise ModelPackageError(f"the TorchScript weights {description.torchscript} do not have the sha256 "
                                "the description gives; the package is damaged")
    card = foreign_card(description, rdf, source=shown_as)
    (staging / CARD).write_text(json.dumps(card, indent=2), encoding="utf-8")
    test_input = _tensor(files, root, description.test_input)
    test_outputs = [_tensor(files, root, name) for name in description.test_outputs]
    check_reproduces(staging, description, test_input, test_outputs)
    return card


def check_reproduces(package: Path, description: Description, test_input: np.ndarray | None,
                     test_outputs: list[np.ndarray | None]) -> None:
    """Run the imported model (at ``package``) on its test input (or, without one, on a blank image of its
    smallest size) with segstudio's runtime, and compare with its test outputs."""
    predictor = ForeignPredictor.from_package(package, device="cpu")
    spec = description.input
    if test_input is None:
        image = np.zeros((len(spec.channels), *spec.min_size), dtype=np.float32)
    else:
        image = _as_chw(test_input, spec.axes, "the test input")
        if image.shape[0] != len(spec.channels):
            raise ModelPackageError(f"the test input has {image.shape[0]} channels; the description lists "
                                    f"{len(spec.channels)}")
    try:
        with torch.inference_mode():
            maps = predictor.model(torch.from_numpy(predictor.normalize(image)[None]))[0].numpy()
    except ModelPackageError:
        raise
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ModelPackageError(f"the model's TorchScript failed on its test input: {first}") from exc
    start = 0
    for out, expected in zip(description.outputs, test_outputs, strict=True):
        stop = start + len(out.channels)
        if expected is not None:
            theirs = _as_chw(expected, out.axes, f"the test output {out.id!r}").astype(np.float64)
            ours = maps[start:stop].astype(np.float64)
            if theirs.shape != ours.shape:
                raise ModelPackageError(f"the test output {out.id!r} has the shape {theirs.shape}; the model "
                                        f"gives {ours.shape} (channel, y, x)")
            wrong = np.abs(ours - theirs) > ATOL + RTOL * np.abs(theirs)
            if wrong.mean() > MISMATCH:
                raise ModelPackageError(
                    f"run by segstudio, the model does not reproduce its test output {out.id!r} "
                    f"({wrong.mean():.1%} of the values differ, by up to "
                    f"{float(np.abs(ours - theirs).max()):.3g}); its processing may need what segstudio does "
                    "not implement")
        start = stop


def _as_chw(array: np.ndarray, axes: tuple[str, ...], what: str) -> np.ndarray:
    """``(C, H, W)`` of a tensor in the description's ``axes`` (the first image of a batch)."""
    if array.ndim != len(axes):
        raise ModelPackageError(f"{what} has {array.ndim} dimensions; the description lists the axes "
                                f"{list(axes)}")
    tensor = to_standard(torch.from_numpy(np.ascontiguousarray(array)), axes, stacked=False)
    return tensor[0].numpy()


def _tensor(files: _ZipFiles | _FolderFiles, root: PurePosixPath, name: str | None) -> np.ndarray | None:
    if name is None:
        return None
    path = _inside(root, name)
    if not files.has(path):
        raise ModelPackageError(f"the test tensor {name} named by the description is not in the package")
    try:
        array = np.load(io.BytesIO(files.read(path, TENSOR_LIMIT)), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ModelPackageError(f"the test tensor {name} is not a plain .npy array ({str(exc)[:120]}); "
                                "pickled objects are refused") from exc
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf" or array.size == 0:
        raise ModelPackageError(f"the test tensor {name} holds {array.dtype} values; expected numbers")
    return array


def _yaml(data: bytes, name: str) -> object:
    """The parsed description, refused when its aliases expand it beyond :data:`MAX_VALUES` values."""
    try:
        parsed = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise ModelPackageError(f"the description {name} is not readable YAML ({first}); the package is "
                                "damaged") from exc
    except RecursionError:
        raise ModelPackageError(f"the description {name} nests too deeply to be a description") from None
    if _expanded_size(parsed) > MAX_VALUES:
        raise ModelPackageError(f"the description {name} expands to more than {MAX_VALUES} values (YAML "
                                "aliases); it is malformed or hostile")
    return parsed


def _expanded_size(value: object) -> int:
    """How many values ``value`` holds with every shared (aliased) part counted each time it appears,
    counting stops past :data:`MAX_VALUES` (a "billion laughs" description is never walked whole)."""
    count, stack = 0, [value]
    while stack and count <= MAX_VALUES:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _inside(root: PurePosixPath, name: str) -> str:
    return (root / name).as_posix() if str(root) != "." else PurePosixPath(name).as_posix()


def _is_description(name: str) -> bool:
    base = PurePosixPath(name).name
    return base in RDF_NAMES or base.endswith(".bioimageio.yaml")


class _ZipFiles:
    """The files of a checked ZIP, read within limits (declared and inflated sizes)."""

    def __init__(self, zf: zipfile.ZipFile, shown_as: str) -> None:
        self.zf, self.shown_as = zf, shown_as
        self.infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}

    def names(self) -> list[str]:
        return list(self.infos)

    def has(self, name: str) -> bool:
        return name in self.infos

    def read(self, name: str, limit: int) -> bytes:
        buffer = io.BytesIO()
        self._stream(name, limit, buffer.write)
        return buffer.getvalue()

    def copy(self, name: str, dest: Path, limit: int) -> str:
        digest = hashlib.sha256()
        with open(dest, "wb") as target:
            def write(block: bytes) -> None:
                digest.update(block)
                target.write(block)

            self._stream(name, limit, write)
        return digest.hexdigest()

    def _stream(self, name: str, limit: int, write) -> None:
        info = self.infos.get(name)
        if info is None:
            raise ModelPackageError(f"{self.shown_as} lacks {name}, which its description names; the package "
                                    "is incomplete")
        if info.file_size > limit:
            raise ModelPackageError(f"{name} declares {info.file_size} bytes, more than the {limit} allowed")
        written = 0
        try:
            with self.zf.open(info) as source:
                while block := source.read(_CHUNK):
                    written += len(block)
                    if written > limit:
                        raise ModelPackageError(f"{name} inflates to more than {limit} bytes; the ZIP is "
                                                "malformed or hostile")
                    write(block)
        except (zipfile.BadZipFile, EOFError, RuntimeError) as exc:
            raise ModelPackageError(f"{name} in {self.shown_as} cannot be extracted ({exc}); the ZIP is "
                                    "damaged") from exc


class _FolderFiles:
    """The regular files of a folder (links refused), read within limits."""

    MAX_FILES = 10_000

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def names(self) -> list[str]:
        """The files of the folder and of its folders one level down (where a description may be)."""
        names = []
        for path in [*self.folder.glob("*"), *self.folder.glob("*/*")]:
            if len(names) > self.MAX_FILES:
                raise ModelPackageError(f"{self.folder} holds more than {self.MAX_FILES} files; it is not a "
                                        "model package")
            if path.is_file() or path.is_symlink():
                names.append(path.relative_to(self.folder).as_posix())
        return names

    def has(self, name: str) -> bool:
        path = self.folder / name
        return path.is_file() or path.is_symlink()

    def read(self, name: str, limit: int) -> bytes:
        return self._path(name, limit).read_bytes()

    def copy(self, name: str, dest: Path, limit: int) -> str:
        digest = hashlib.sha256()
        with open(self._path(name, limit), "rb") as source, open(dest, "wb") as target:
            while block := source.read(_CHUNK):
                digest.update(block)
                target.write(block)
        return digest.hexdigest()

    def _path(self, name: str, limit: int) -> Path:
        path = self.folder / name
        for part in [path, *path.parents]:
            if part == self.folder:
                break
            if part.is_symlink():
                raise ModelPackageError(f"{path} is (or lies under) a symbolic link; packages with links are "
                                        "refused")
        if not path.is_file():
            raise ModelPackageError(f"{path} is missing; the package is incomplete")
        size = path.stat().st_size
        if size > limit:
            raise ModelPackageError(f"{path} has {size} bytes, more than the {limit} allowed")
        return path
