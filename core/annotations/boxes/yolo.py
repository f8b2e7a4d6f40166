"""YOLO label files: one ``.txt`` per image (named by its stem), one box a line: ``class cx cy w h``, the
centre, width and height as fractions of the image's width and height.

Class names come from a ``classes.txt`` / ``obj.names`` (one name a line; the first line is class 0) or a
``data.yaml`` / ``dataset.yaml`` whose ``names:`` is a list or a ``{number: name}`` mapping, found in the
label file's folder or a folder above it (up to the folder that was given). Without one, class ``k`` is the
project's ``k``-th label, and a note says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import yaml

from core.annotations.boxes.records import BoxReading, BoxRecord, ImageRef
from core.annotations.boxes.textfile import Unreadable, read_text

NAME_LISTS = ("classes.txt", "obj.names")
NAME_YAMLS = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
PIXEL_LIKE = 2.0  # a coordinate above this is pixels, not a fraction of the image


def is_class_file(path: Path) -> bool:
    """Whether ``path`` names classes (``classes.txt``, ``*.names``, ``*.yaml``) rather than holding boxes."""
    name = path.name.lower()
    return name in NAME_LISTS or name.endswith((".names", ".yaml", ".yml"))


def _names_from_list(path: Path) -> dict[int, str]:
    lines = [line.strip() for line in read_text(path).splitlines()]
    return dict(enumerate(line for line in lines if line))


def _names_from_yaml(path: Path) -> dict[int, str] | None:
    try:
        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        raise Unreadable(f"not valid YAML ({str(exc).splitlines()[0]})") from exc
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, list):
        return {k: str(name) for k, name in enumerate(names)}
    if isinstance(names, dict):
        try:
            return {int(k): str(name) for k, name in names.items()}
        except (TypeError, ValueError) as exc:
            raise Unreadable("its names: mapping has keys that are not class numbers") from exc
    return None


def _candidates(folder: Path) -> list[Path]:
    found = [folder / n for n in NAME_LISTS] + sorted(folder.glob("*.names"))
    found += [folder / n for n in NAME_YAMLS] + sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    seen: list[Path] = []
    for path in found:
        if path.is_file() and path not in seen:
            seen.append(path)
    return seen


def find_class_names(folder: Path, root: Path) -> tuple[dict[int, str] | None, Path | None, list[str]]:
    """The class names for the label files of ``folder``: ``(names, file they came from, problems)``; the
    first class file found from ``folder`` up to ``root`` wins (a YAML without ``names:`` is passed over)."""
    problems: list[str] = []
    here, root = folder.resolve(), root.resolve()
    while True:
        for path in _candidates(here):
            try:
                names = (_names_from_list(path) if path.suffix.lower() in (".txt", ".names")
                         else _names_from_yaml(path))
            except Unreadable as exc:
                problems.append(f"{path.name}: could not be read for the YOLO class names ({exc}); "
                                "passed over.")
                continue
            if names is not None:
                return names, path, problems
        if here == root or root not in here.parents:
            return None, None, problems
        here = here.parent


def _names_note(names: dict[int, str], limit: int = 12) -> str:
    shown = ", ".join(f"{k} = {names[k]}" for k in sorted(names)[:limit])
    return shown + (f", … ({len(names)} classes)" if len(names) > limit else "")


def class_names(
    folder: Path, root: Path, project_labels: Sequence[str], root_shown: str = ""
) -> tuple[dict[int, str], str, list[str], list[str]]:
    """``(names, where they came from, notes, problems)`` for the label files of ``folder``."""
    names, source, problems = find_class_names(folder, root)
    if names is not None and source is not None:
        shown = _relative(source, root, root_shown)
        return names, shown, [f"YOLO class names from {shown}: {_names_note(names)}."], problems
    names = dict(enumerate(project_labels))
    if names:
        note = ("No classes.txt, obj.names or data.yaml lies beside the YOLO label files, so their class "
                f"numbers were read as the project's labels in their order: {_names_note(names)}. If that is "
                "not right, put a classes.txt (one class name a line, class 0 first) beside the files and "
                "import them again.")
    else:
        note = ("No classes.txt, obj.names or data.yaml lies beside the YOLO label files and the project has "
                "no labels, so the class numbers have no names; put a classes.txt (one class name a line, "
                "class 0 first) beside the files.")
    return names, "the project's labels", [note], problems


def _relative(path: Path, root: Path, root_shown: str) -> str:
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name
    return f"{root_shown}{rel}"


def read_yolo(
    path: Path, *, shown: str | None = None, root: Path | None = None, project_labels: Sequence[str] = (),
    root_shown: str = "",
) -> BoxReading:
    """Read one YOLO label file; its image is the image whose file stem is the label file's stem."""
    shown = shown or path.name
    root = root if root is not None else path.parent
    out = BoxReading(files=[shown])
    names, source, out.notes, out.problems = class_names(path.parent, root, project_labels, root_shown)
    try:
        lines = read_text(path).splitlines()
    except Unreadable as exc:
        out.problems.append(f"{shown}: could not be read as a YOLO label file ({exc}); skipped.")
        return out
    ref = ImageRef(shown, "", path.stem)
    nameless: Counter[int] = Counter()
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        where = f"{shown} line {number}"
        values = _numbers(tokens)
        if len(tokens) != 5 or values is None:
            out.problems.append(
                f"{where}: {line.strip()[:60]!r} is not a YOLO box line `class cx cy w h` (5 numbers"
                + ("; a 6th value, a confidence, or more, a polygon, is not a box" if len(tokens) > 5 else "")
                + "); line skipped."
            )
            continue
        cls, cx, cy, w, h = values
        if cls != int(cls) or cls < 0:
            out.problems.append(f"{where}: the class {tokens[0]!r} is not a class number (0, 1, 2, …); line "
                                "skipped.")
            continue
        if max(cx, cy, w, h) > PIXEL_LIKE:
            out.problems.append(
                f"{where}: {line.strip()[:60]!r} holds values above 1, but YOLO coordinates are fractions of "
                "the image's width and height (0–1); these look like pixels. Convert them, or import them as "
                "a CSV of pixel boxes; line skipped."
            )
            continue
        if int(cls) not in names:
            nameless[int(cls)] += 1
            continue
        out.records.append(BoxRecord(ref, where, names[int(cls)], cx - w / 2, cy - h / 2, cx + w / 2,
                                     cy + h / 2, normalized=True))
    for cls, count in sorted(nameless.items()):
        out.problems.append(
            f"{shown}: class {cls} ({count} box(es)) has no name in {source} (it names classes "
            f"{_span(names)}); those boxes were skipped. Add the class's name to {source}."
        )
    if not out.records and not nameless and not any(p.startswith(f"{shown} line") for p in out.problems):
        out.empty.append(ref)
    return out


def _span(names: dict[int, str]) -> str:
    return f"{min(names)}–{max(names)}" if names else "none"


def _numbers(tokens: list[str]) -> list[float] | None:
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        return None
    return values if all(v == v and abs(v) != float("inf") for v in values) else None
