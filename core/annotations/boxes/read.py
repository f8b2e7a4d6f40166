"""Which reader reads a box file or folder (:func:`detect_format`), and reading them (:func:`read_boxes`)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from core.annotations.boxes.archive import discard_folder, unpack_box_zip
from core.annotations.boxes.formats import read_coco, read_csv, read_voc, sniff_text_file
from core.annotations.boxes.records import BoxReading
from core.annotations.boxes.yolo import is_class_file, read_yolo
from core.errors import InvalidInputError

BoxReader = Callable[..., BoxReading]
#: format name -> the reader of one file: ``reader(path, *, shown, root, project_labels, root_shown)``
READERS: dict[str, BoxReader] = {"coco": read_coco, "voc": read_voc, "yolo": read_yolo, "csv": read_csv}
FORMAT_TITLES = {"coco": "COCO JSON", "voc": "Pascal VOC XML", "yolo": "YOLO txt", "csv": "CSV"}
_SUFFIX_FORMATS = {".json": "coco", ".xml": "voc", ".csv": "csv"}
_GIVE = ("give a COCO .json, Pascal VOC .xml files, YOLO .txt files (with their classes.txt) or box .csv "
         "files, a folder of them, or a .zip of them")


def _hidden(path: Path, root: Path) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in path.relative_to(root).parts)


def _file_format(path: Path, *, strict: bool) -> str | None:
    """The format of one file by its suffix (``.txt``: by its first line; ``strict``: None unless it looks
    like YOLO or CSV, else YOLO, whose reader says what is wrong)."""
    suffix = path.suffix.lower()
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    if suffix == ".txt" and not is_class_file(path):
        return sniff_text_file(path) or (None if strict else "yolo")
    return None


def box_files(folder: Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """The box files of a folder (and its subfolders) by format, and the ``.txt`` files that are none
    (image lists, READMEs); class-name files, images and hidden files are neither."""
    found: dict[str, list[Path]] = {}
    other: list[Path] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or _hidden(path, folder) or is_class_file(path):
            continue
        fmt = _file_format(path, strict=True)
        if fmt is not None:
            found.setdefault(fmt, []).append(path)
        elif path.suffix.lower() == ".txt":
            other.append(path)
    return found, other


def detect_format(path: Path | str) -> str:
    """The format (a key of :data:`READERS`) of a box file or of the box files of a folder, by suffix and
    content; raises :class:`InvalidInputError` for a folder with none or with several formats."""
    path = Path(path)
    if path.is_dir():
        found, _ = box_files(path)
        if len(found) == 1:
            return next(iter(found))
        if not found:
            raise InvalidInputError(f"{path}: holds no box files; {_GIVE}.")
        counts = ", ".join(f"{FORMAT_TITLES[f]} ({len(files)})" for f, files in found.items())
        raise InvalidInputError(f"{path}: holds box files of several formats: {counts}; import one format at "
                                "a time (give that file, or a folder of one format).")
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file or folder; {_GIVE}.")
    if is_class_file(path):
        raise InvalidInputError(f"{path.name}: names YOLO classes but holds no boxes; give the YOLO label "
                                "files (or their folder) with it beside them.")
    fmt = _file_format(path, strict=False)
    if fmt is None:
        raise InvalidInputError(f"{path.name}: not a box file this program reads; {_GIVE}.")
    return fmt


def read_boxes(
    path: Path | str,
    *,
    project_labels: Sequence[str] = (),
    fmt: str | None = None,
    tmp_dir: Path | None = None,
) -> BoxReading:
    """Read a box file, a folder of box files of one format, or a ZIP of them.

    ``project_labels`` name YOLO's classes when no class-name file lies beside the label files; ``tmp_dir``
    is where a ZIP is unpacked (removed afterwards). Raises :class:`InvalidInputError` when the path holds no
    box files at all; a bad file or entry inside is one problem line and the rest is kept.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        if tmp_dir is not None:
            tmp_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="boxes-", dir=tmp_dir))
        try:
            if unpack_box_zip(path, folder) == 0:
                raise InvalidInputError(f"{path.name}: holds no box files; {_GIVE}.")
            return _read_folder(folder, project_labels, fmt, shown_root=f"{path.name}/")
        finally:
            discard_folder(folder)
    if path.is_dir():
        return _read_folder(path, project_labels, fmt, shown_root=f"{path.name}/")
    fmt = fmt or detect_format(path)
    return _reader(fmt)(path, shown=path.name, root=path.parent, project_labels=project_labels)


def _reader(fmt: str) -> BoxReader:
    if fmt not in READERS:
        raise InvalidInputError(f"box format {fmt!r} is not known; use one of {', '.join(READERS)}.")
    return READERS[fmt]


def _read_folder(
    folder: Path, project_labels: Sequence[str], fmt: str | None, *, shown_root: str
) -> BoxReading:
    fmt = fmt or detect_format(folder)
    found, other = box_files(folder)
    reader = _reader(fmt)
    out = BoxReading()
    for path in found.get(fmt, []):
        shown = f"{shown_root}{path.relative_to(folder).as_posix()}"
        out.extend(reader(path, shown=shown, root=folder, project_labels=project_labels,
                          root_shown=shown_root))
    if other:
        names = ", ".join(p.relative_to(folder).as_posix() for p in other[:5])
        out.notes.append(f"{len(other)} .txt file(s) in {shown_root.rstrip('/')} are not box files and were "
                         f"passed over: {names}{', …' if len(other) > 5 else ''}.")
    return out
