"""Model import and export: a model package travels as its ``model/`` folder or inside a report ZIP.

Import is defensive, because a package may come from anywhere:

* ZIP entries with path traversal (``..``), absolute paths, drive letters, backslashes or symlinks make the
  whole package refused; only the known file names (:data:`KNOWN_FILES`) of one ``model/`` folder are
  extracted, each within a size limit (the declared size and the bytes actually inflated are both checked);
* the model card must parse and match :mod:`core.training.card_schema` completely (every field's type, range
  and length, nested ones included, and the fields' agreement), through
  :func:`core.training.package.read_card`; a :class:`ModelPackageError` names the field, the value and what
  is expected (a format version newer than this segstudio reads: both versions);
* the weights are loaded with ``torch.load(weights_only=True)`` only, by the loader a prediction uses for
  the model's result kind (:func:`core.inference.results.card_writer`: the U-Net of
  :func:`core.training.package.load_model`, or :func:`core.classification.predict.load_classifier`): a
  pickle that would run code is refused, and the weights must fit the card's network;
* everything is staged in a hidden folder inside ``models_dir`` and renamed into place at the end; nothing is
  ever written outside ``models_dir``, and a failed import leaves nothing behind.

``model.torchscript.pt`` is copied along when present (it is never loaded here, except as the network of a
model imported from bioimage.io).

A bioimage.io package is imported by the same call: one that segstudio exported holds segstudio's card and
weights next to its description and imports as a full segstudio package (above); one made elsewhere (a ZIP
or folder with ``rdf.yaml`` or ``bioimageio.yaml`` and no segstudio card) is imported by
:mod:`core.bioimageio.importer`, with the same protections (entries checked here first, size limits,
nothing written outside the staging folder) and its own checks of the description.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import shutil
import stat
import uuid
import zipfile
from pathlib import Path, PurePosixPath

from core.errors import ModelPackageError, NotFoundError, StorageError
from core.imaging.atomic import atomic_output
from core.inference.fit import check_image_fits, check_not_empty
from core.inference.results import card_writer
from core.training.package import CARD, TORCHSCRIPT, WEIGHTS, read_card, weights_file

__all__ = [
    "KNOWN_FILES",
    "check_image_fits",
    "check_not_empty",
    "export_model_package",
    "import_model_package",
]

#: file name -> largest size accepted, in bytes.
KNOWN_FILES: dict[str, int] = {CARD: 1 << 20, WEIGHTS: 2 << 30, TORCHSCRIPT: 2 << 30}
#: the files every package has (and the weights its card's architecture loads: core.training.package)
REQUIRED_FILES = (CARD,)
_MAX_ENTRIES = 10_000
_CHUNK = 1 << 20
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def import_model_package(src: Path, models_dir: Path) -> Path:
    """Import the model package at ``src`` (a ``model/`` folder, a folder holding one, or a ZIP holding one;
    or a bioimage.io package: ZIP, folder, or its description file) into a new folder of ``models_dir``;
    returns that folder.
    Importing the same weights twice returns the folder of the first import."""
    src, models_dir = Path(src), Path(models_dir)
    if not src.exists():
        raise NotFoundError(f"{src} does not exist; choose a model folder or a report ZIP")
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        staging = models_dir / f".import-{uuid.uuid4().hex[:12]}"
        staging.mkdir()
    except OSError as exc:
        raise StorageError(
            f"cannot create a folder in {models_dir}: {exc}; check the data directory"
        ) from exc
    try:
        if zipfile.is_zipfile(src):
            _extract_zip(src, staging)
        elif src.is_dir() and _package_folder(src) is None:
            from core.bioimageio.importer import import_folder

            import_folder(src, staging, weights_limit=KNOWN_FILES[TORCHSCRIPT])
        elif src.is_file() and src.name.endswith((".yaml", ".yml")):
            from core.bioimageio.importer import import_folder, is_description

            if not is_description(src):
                raise ModelPackageError(f"{src.name} is not named as a bioimage.io description (rdf.yaml, "
                                        "bioimageio.yaml or *.bioimageio.yaml); rename it or choose its ZIP")
            import_folder(src.parent, staging, weights_limit=KNOWN_FILES[TORCHSCRIPT], description=src.name)
        elif src.is_dir():
            _copy_folder(_package_folder(src), staging)
        else:
            raise ModelPackageError(
                f"{src.name} is neither a model folder nor a ZIP file; "
                "choose the model/ folder or the report ZIP"
            )
        card = read_card(staging, shown_as=src)
        weights = weights_file(card)
        if not (staging / weights).is_file():
            raise ModelPackageError(f"{src.name} lacks {weights} next to its model card; the package is "
                                    "incomplete")
        digest = _sha256(staging / weights)[:12]
        name = _SAFE_NAME.sub("-", str(card.get("name") or card.get("training_name") or "model")).strip("-.")[
            :60
        ]
        final = models_dir / f"{name or 'model'}-{digest}"
        if final.exists():  # the same weights were imported (and checked) before
            return final
        _load_weights_safely(staging, card)
        os.replace(staging, final)
        return final
    except OSError as exc:
        raise StorageError(
            f"cannot write the imported model to {models_dir}: {exc}; free disk space"
        ) from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def export_model_package(package_dir: Path, dest: Path) -> Path:
    """Write the package at ``package_dir`` as a ZIP holding ``model/<file>`` (importable elsewhere)."""
    package_dir, dest = Path(package_dir), Path(dest)
    card = read_card(package_dir)
    missing = [n for n in (*REQUIRED_FILES, weights_file(card)) if not (package_dir / n).is_file()]
    if missing:
        raise ModelPackageError(f"{package_dir} lacks {missing}; it is not a complete model package")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(dest) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in KNOWN_FILES:
            if (package_dir / name).is_file():
                zf.write(package_dir / name, f"model/{name}")
    return dest


def _extract_zip(src: Path, staging: Path) -> None:
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelPackageError(f"{src.name} is not a readable ZIP file ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > _MAX_ENTRIES:
            raise ModelPackageError(
                f"{src.name} has {len(infos)} entries (at most {_MAX_ENTRIES}); it is not a model package"
            )
        for info in infos:
            _check_entry(info, src.name)
        if not any(PurePosixPath(i.filename).name == CARD for i in infos):
            from core.bioimageio.importer import import_zip

            import_zip(zf, staging, shown_as=src.name, weights_limit=KNOWN_FILES[TORCHSCRIPT])
            return
        chosen = _choose_entries(infos, src.name)
        for name, info in chosen.items():
            limit = KNOWN_FILES[name]
            if info.file_size > limit:
                raise ModelPackageError(
                    f"{info.filename} declares {info.file_size} bytes, more than the {limit} allowed"
                )
            written = 0
            try:
                with zf.open(info) as source, open(staging / name, "wb") as target:
                    while block := source.read(_CHUNK):
                        written += len(block)
                        if written > limit:
                            raise ModelPackageError(
                                f"{info.filename} inflates to more than {limit} bytes; "
                                "the ZIP is malformed or hostile"
                            )
                        target.write(block)
            except (zipfile.BadZipFile, EOFError, RuntimeError) as exc:
                raise ModelPackageError(
                    f"{info.filename} in {src.name} cannot be extracted ({exc}); the ZIP is damaged"
                ) from exc


def _check_entry(info: zipfile.ZipInfo, zip_name: str) -> None:
    name = info.filename
    path = PurePosixPath(name)
    bad = (
        "\\" in name
        or name.startswith("/")
        or re.match(r"^[A-Za-z]:", name) is not None
        or ".." in path.parts
        or "\x00" in name
    )
    if bad:
        raise ModelPackageError(
            f"{zip_name} contains the entry {name!r}, a path outside the package "
            "(absolute, '..' or a drive); "
            "this ZIP is refused"
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ModelPackageError(
            f"{zip_name} contains the symbolic link {name!r}; packages with links are refused"
        )


def _choose_entries(infos: list[zipfile.ZipInfo], zip_name: str) -> dict[str, zipfile.ZipInfo]:
    """The known files of the one folder that holds a model card (``model/`` preferred, any depth)."""
    folders = {str(PurePosixPath(i.filename).parent) for i in infos if PurePosixPath(i.filename).name == CARD}
    if not folders:
        raise ModelPackageError(
            f"{zip_name} holds no {CARD}; choose the report ZIP of a finished training or a model folder"
        )
    named = sorted(f for f in folders if PurePosixPath(f).name == "model")
    if len(folders) > 1 and len(named) != 1:
        raise ModelPackageError(
            f"{zip_name} holds several model cards ({sorted(folders)}); export one model at a time"
        )
    folder = named[0] if named else next(iter(folders))
    chosen = {}
    for info in infos:
        path = PurePosixPath(info.filename)
        if str(path.parent) == folder and path.name in KNOWN_FILES and not info.is_dir():
            chosen[path.name] = info
    missing = [n for n in REQUIRED_FILES if n not in chosen]
    if missing:
        raise ModelPackageError(
            f"{zip_name} lacks {missing} next to its model card; the package is incomplete"
        )
    return chosen


def _package_folder(src: Path) -> Path | None:
    """The folder holding the package's card (``src`` or its ``model/``), or None (a bioimage.io package
    made elsewhere, or no package at all: :mod:`core.bioimageio.importer` says which)."""
    if (src / CARD).is_file():
        return src
    if (src / "model" / CARD).is_file():
        return src / "model"
    return None


def _copy_folder(folder: Path, staging: Path) -> None:
    for name, limit in KNOWN_FILES.items():
        path = folder / name
        if path.is_symlink():
            raise ModelPackageError(f"{path} is a symbolic link; copy the real file into the package")
        if not path.is_file():
            if name in REQUIRED_FILES:
                raise ModelPackageError(f"{path} is missing; the package is incomplete")
            continue
        if path.stat().st_size > limit:
            raise ModelPackageError(f"{path} has {path.stat().st_size} bytes, more than the {limit} allowed")
        shutil.copyfile(path, staging / name)


def _load_weights_safely(package: Path, card: dict) -> None:
    """Load the weights with ``weights_only=True`` into the card's network, as a prediction loads it (the
    loader of the model's result kind: the U-Net of the pixel and box types, the classifier of classes)."""
    try:
        card_writer(card).load(package, device="cpu")
    except pickle.UnpicklingError as exc:
        raise ModelPackageError(
            f"{WEIGHTS} was refused: it holds pickled objects other than tensors (code could run on load); "
            f"only plain weights are accepted ({str(exc).splitlines()[0][:200]})"
        ) from exc
    except (EOFError, zipfile.BadZipFile, AttributeError, TypeError) as exc:
        raise ModelPackageError(
            f"{WEIGHTS} cannot be read as weights ({str(exc)[:200]}); the package is damaged"
        ) from exc


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()
