"""Readers of COCO JSON, Pascal VOC XML and CSV box files (YOLO: :mod:`.yolo`); every reader turns one file
into neutral :class:`~core.annotations.boxes.records.BoxRecord`\\ s and one line per problem.

* **COCO** (``.json``): ``images[]`` (``id``, ``file_name``, ``width``, ``height``), ``annotations[]``
  (``image_id``, ``category_id``, ``bbox = [x, y, width, height]`` in pixels) and ``categories[]``
  (``id`` -> ``name``).
* **Pascal VOC** (``.xml``, one per image): ``filename``, ``size/width|height`` and ``object``\\ s with a
  ``name`` and a ``bndbox`` of ``xmin ymin xmax ymax``, 1-based and inclusive as VOC defines them: the box
  covers pixels ``xmin-1 .. xmax-1``, so ``x_min = xmin - 1`` and ``x_max = xmax`` (exclusive).
* **CSV** (``.csv``): a header ``label,x_min,y_min,x_max,y_max`` (pixels, 0-based, maximum exclusive), either
  one file per image named by its stem, or one file with an extra ``image`` (or ``file``) column naming each
  box's image.
"""

from __future__ import annotations

import csv
import io
import json
import math
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from core.annotations.boxes.records import BoxReading, BoxRecord, ImageRef, image_stem
from core.annotations.boxes.textfile import Unreadable, read_bytes, read_text

CSV_COLUMNS = ("label", "x_min", "y_min", "x_max", "y_max")
CSV_IMAGE_COLUMNS = ("image", "file", "filename", "file_name")


def _number(value: Any) -> float | None:
    """A finite number, or None (text that is not one, NaN, infinity, booleans, lists, ...)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _key(value: Any) -> int | float | str | None:
    """An id of the file: a number or text as it is; anything else (a list, an object, a boolean) is no id."""
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return value
    return None


def _size(width: Any, height: Any) -> tuple[int, int] | None:
    w, h = _number(width), _number(height)
    return (int(w), int(h)) if w and h and w > 0 and h > 0 else None


def _image_name(value: str) -> str:
    """The value as an image file name when it ends in an image suffix, else ``""`` (it is a stem)."""
    base = value.replace("\\", "/").rsplit("/", 1)[-1]
    return base if image_stem(base) != base else ""


# --- COCO -------------------------------------------------------------------------------------------------
def read_coco(path: Path, *, shown: str | None = None, **_: Any) -> BoxReading:
    """Read a COCO detection file (see the module's docstring); images it lists with no annotation are
    ``empty``."""
    shown = shown or path.name
    out = BoxReading(files=[shown])
    try:
        data = json.loads(read_text(path))
    except Unreadable as exc:
        out.problems.append(f"{shown}: could not be read as COCO JSON ({exc}); skipped.")
        return out
    except json.JSONDecodeError as exc:
        out.problems.append(f"{shown}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                            "skipped.")
        return out
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        out.problems.append(
            f"{shown}: not a COCO detection file: it needs the lists \"images\", \"annotations\" and "
            "\"categories\"; skipped."
        )
        return out
    categories: dict[Any, str] = {}
    for entry in data.get("categories") or []:
        if isinstance(entry, dict) and _key(entry.get("id")) is not None and entry.get("name"):
            categories[_key(entry["id"])] = str(entry["name"])
    images: dict[Any, ImageRef] = {}
    nameless = 0
    for entry in data["images"]:
        if not isinstance(entry, dict) or _key(entry.get("id")) is None \
                or not isinstance(entry.get("file_name"), str):
            nameless += 1
            continue
        name = entry["file_name"].replace("\\", "/").rsplit("/", 1)[-1]
        size = _size(entry.get("width"), entry.get("height"))
        images[_key(entry["id"])] = ImageRef(shown, name, image_stem(name), size)
    if nameless:
        out.problems.append(f"{shown}: {nameless} entr(ies) of images[] have no id or file_name; their boxes "
                            "cannot be matched to images and were skipped.")
    used: set[Any] = set()
    no_image: Counter[Any] = Counter()
    no_category: Counter[Any] = Counter()
    for index, ann in enumerate(data["annotations"], start=1):
        if not isinstance(ann, dict):
            out.problems.append(f"{shown} annotation #{index}: not an object {{...}}; skipped.")
            continue
        where = f"{shown} annotation {ann.get('id', f'#{index}')}"
        image_id, category_id = _key(ann.get("image_id")), _key(ann.get("category_id"))
        ref = images.get(image_id)
        if ref is None:
            no_image[image_id] += 1
            continue
        used.add(image_id)
        label = categories.get(category_id)
        if label is None:
            no_category[category_id] += 1
            continue
        bbox = ann.get("bbox")
        values = [_number(v) for v in bbox] if isinstance(bbox, list) and len(bbox) == 4 else [None]
        if any(v is None for v in values):
            out.problems.append(f"{where}: bbox {json.dumps(bbox)[:60]} is not [x, y, width, height] (4 "
                                "numbers); skipped.")
            continue
        x, y, w, h = values  # type: ignore[misc]
        out.records.append(BoxRecord(ref, where, label, x, y, x + w, y + h))  # type: ignore[operator]
    for image_id, count in no_image.items():
        out.problems.append(f"{shown}: {count} annotation(s) name image_id {image_id!r}, which images[] does "
                            "not list; skipped. Add the image to images[] (id and file_name).")
    for category_id, count in no_category.items():
        known = ", ".join(f"{k} = {v}" for k, v in list(categories.items())[:12]) or "none"
        out.problems.append(f"{shown}: {count} annotation(s) have category_id {category_id!r}, which "
                            f"categories[] does not name (it names {known}); skipped. Add the category with "
                            "its name to categories[].")
    out.empty += [ref for key, ref in images.items() if key not in used]
    return out


# --- Pascal VOC -------------------------------------------------------------------------------------------
def _text(element: ET.Element, tag: str) -> str:
    child = element.find(tag)
    return (child.text or "").strip() if child is not None else ""


def read_voc(path: Path, *, shown: str | None = None, **_: Any) -> BoxReading:
    """Read one Pascal VOC file; its image is named by ``<filename>``, else by the XML file's stem (which is
    also tried when no image has that file name)."""
    shown = shown or path.name
    out = BoxReading(files=[shown])
    try:
        root = ET.fromstring(read_bytes(path))
    except Unreadable as exc:
        out.problems.append(f"{shown}: could not be read as Pascal VOC XML ({exc}); skipped.")
        return out
    except ET.ParseError as exc:
        out.problems.append(f"{shown}: not valid XML ({exc}); skipped.")
        return out
    if root.tag != "annotation":
        out.problems.append(f"{shown}: not a Pascal VOC annotation (its root element is <{root.tag}>, not "
                            "<annotation>); skipped.")
        return out
    size = root.find("size")
    ref = ImageRef(shown, _text(root, "filename").replace("\\", "/").rsplit("/", 1)[-1], path.stem,
                   _size(_text(size, "width"), _text(size, "height")) if size is not None else None)
    objects = root.findall("object")
    for number, obj in enumerate(objects, start=1):
        where = f"{shown} object {number}"
        label, box = _text(obj, "name"), obj.find("bndbox")
        values = ([_number(_text(box, t)) for t in ("xmin", "ymin", "xmax", "ymax")] if box is not None
                  else [None])
        if not label or any(v is None for v in values):
            out.problems.append(f"{where}: needs a <name> and a <bndbox> with xmin, ymin, xmax and ymax "
                                "numbers; skipped.")
            continue
        xmin, ymin, xmax, ymax = values  # type: ignore[misc]
        out.records.append(BoxRecord(ref, where, label, xmin - 1, ymin - 1, xmax, ymax))  # type: ignore[operator]
    if not objects:
        out.empty.append(ref)
    return out


# --- CSV --------------------------------------------------------------------------------------------------
def read_csv(path: Path, *, shown: str | None = None, **_: Any) -> BoxReading:
    """Read a box CSV (see the module's docstring); a per-image CSV with a header and no rows lists its image
    with no boxes (``empty``)."""
    shown = shown or path.name
    out = BoxReading(files=[shown])
    try:
        rows = list(csv.reader(io.StringIO(read_text(path), newline="")))
    except Unreadable as exc:
        out.problems.append(f"{shown}: could not be read as CSV ({exc}); skipped.")
        return out
    except csv.Error as exc:
        out.problems.append(f"{shown}: not a readable CSV ({exc}); skipped.")
        return out
    header = [h.strip().lower() for h in rows[0]] if rows else list(CSV_COLUMNS)
    columns = {name: header.index(name) for name in (*CSV_COLUMNS, *CSV_IMAGE_COLUMNS) if name in header}
    missing = [name for name in CSV_COLUMNS if name not in columns]
    if missing:
        out.problems.append(
            f"{shown}: its header ({','.join(rows[0])[:80]}) lacks {', '.join(missing)}; a box CSV starts "
            "with the header label,x_min,y_min,x_max,y_max (plus an image column for a CSV of several "
            "images); skipped."
        )
        return out
    image_column = next((columns[name] for name in CSV_IMAGE_COLUMNS if name in columns), None)
    own = ImageRef(shown, "", path.stem)
    refs: dict[str, ImageRef] = {}
    width = max(columns.values()) + 1
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{shown} line {number}"
        if len(row) < width:
            out.problems.append(f"{where}: {len(row)} value(s), the header has {len(header)}; line skipped.")
            continue
        label = row[columns["label"]].strip()
        values = [_number(row[columns[name]]) for name in CSV_COLUMNS[1:]]
        bad = [f"{name} {row[columns[name]]!r}"
               for name, v in zip(CSV_COLUMNS[1:], values, strict=True) if v is None]
        if not label or bad:
            out.problems.append(f"{where}: " + ("no label" if not label else f"{', '.join(bad)} not a number")
                                + "; line skipped.")
            continue
        ref = own
        if image_column is not None:
            value = row[image_column].strip()
            if not value:
                out.problems.append(f"{where}: no image named in the {header[image_column]} column; line "
                                    "skipped.")
                continue
            ref = refs.setdefault(value, ImageRef(shown, _image_name(value), image_stem(value)))
        out.records.append(BoxRecord(ref, where, label, *values))  # type: ignore[arg-type]
    if image_column is None and len(rows) <= 1:
        out.empty.append(own)
    return out


def sniff_text_file(path: Path) -> str | None:
    """``"yolo"`` for a ``.txt`` of YOLO lines (or an empty one), ``"csv"`` for one with a box CSV header,
    else None (a list of image names, a README, ...)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            first = next((line for line in handle if line.strip()), "")
    except OSError:
        return None
    if not first:
        return "yolo"
    tokens = first.split()
    if len(tokens) == 5 and all(_number(t) is not None for t in tokens):
        return "yolo"
    if "," in first and all(c in first.lower() for c in CSV_COLUMNS):
        return "csv"
    return None
