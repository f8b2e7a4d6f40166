"""Reading a class table: a CSV (or tab- or semicolon-separated) file of ``file stem,class`` rows, as neutral
rows. No database: :func:`core.class_import.import_classes_csv` matches the rows to a project's images.

* **Header optional**: the first row is a header when it names its columns (``stem,label``,
  ``file,class``, ...) or when the caller says it is no data (its file matches no image and its class is no
  class); either way the notes say so. A header that names its columns picks them among more than two.
* **Columns**: without a header, the first two (file stem or file name, then class); others are left out and
  the notes say so.
* A file that cannot be read as such a table (binary, not UTF-8, empty, no second column) raises
  InvalidInputError saying what was wrong; a bad row is one problem line (by line number), the rest is read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InvalidInputError

MAX_CLASS_FILE_BYTES = 64 * 1024 * 1024
#: the column names of a header, the first one present picked
FILE_HEADERS = ("file stem", "file_stem", "stem", "file", "filename", "file name", "file_name", "image",
                "image name", "image_name", "image file", "name", "path", "file path", "filepath", "id")
CLASS_HEADERS = ("class", "class name", "class_name", "label", "label name", "label_name", "category",
                 "cell type", "cell_type", "type", "target")
_DELIMITERS = {",": "commas", "\t": "tabs", ";": "semicolons"}
_GIVE = "give a CSV file with one 'file stem,class' row per image (a header line is optional)"
_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP (or an Excel .xlsx workbook: save it as CSV)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF", "a PDF"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook (save it as CSV)"),
)


@dataclass(frozen=True)
class ClassRow:
    """One row: ``line`` its line number in the file, ``name`` the image's file stem or name, ``label`` its
    class, both as written (spaces around them removed)."""

    line: int
    name: str
    label: str


@dataclass
class ClassTable:
    rows: list[ClassRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the file was read
    problems: list[str] = field(default_factory=list)  # rows left out, one line each


def read_class_table(source: bytes | str | Path, *, shown: str | None = None,
                     is_data: Callable[[str, str], bool] | None = None) -> ClassTable:
    """The rows of a class table from its bytes or its path (see the module's notes). ``is_data(name,
    label)`` says whether a first row without header words is data (it names an image or a class)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        shown = shown or path.name
        data = _read_file(path, shown)
    else:
        shown = shown or "the class file"
        data = bytes(source)
    text = _decode(data, shown)
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise InvalidInputError(f"{shown} is empty; {_GIVE}.")
    delimiter = next((d for d in _DELIMITERS if d in first), ",")
    try:
        raw = [(n, [cell.strip() for cell in cells])
               for n, cells in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), 1)]
    except csv.Error as exc:
        raise InvalidInputError(f"{shown}: not readable as CSV ({exc}); {_GIVE}.") from exc
    raw = [(n, cells) for n, cells in raw if any(cells)]
    if not any(len(cells) >= 2 for _, cells in raw):
        raise InvalidInputError(
            f"{shown}: no line has two columns separated by commas (the first line is "
            f"{first.strip()[:80]!r}); {_GIVE}.")
    table = ClassTable()
    if delimiter != ",":
        table.notes.append(f"{shown}: read with {_DELIMITERS[delimiter]} between the columns.")
    columns = (0, 1)
    head = raw[0][1]
    header = _is_header(head, is_data)
    if header:
        columns = _columns(head)
        raw = raw[1:]
        table.notes.append(f"{shown}: the first line ({', '.join(head)}) was read as the header.")
        if not raw:
            raise InvalidInputError(f"{shown} has only its header line, no rows; {_GIVE}.")
    widest = max(len(cells) for _, cells in raw)
    if widest > 2:
        used = (f"the columns {head[columns[0]]!r} and {head[columns[1]]!r}" if header
                else "the first two columns")
        table.notes.append(f"{shown}: {used} were read as file and class; the other columns were left out.")
    for line, cells in raw:
        _row(table, shown, line, cells, columns)
    return table


def _read_file(path: Path, shown: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_CLASS_FILE_BYTES:
            raise InvalidInputError(f"{shown}: {size / 2**20:,.0f} MB, more than the "
                                    f"{MAX_CLASS_FILE_BYTES // 2**20} MB a class file may have; {_GIVE}.")
        return path.read_bytes()
    except IsADirectoryError as exc:
        raise InvalidInputError(f"{shown}: is a folder, not a file; {_GIVE}.") from exc
    except OSError as exc:
        raise InvalidInputError(f"{shown}: could not be read ({exc.strerror or exc}); check the "
                                "path.") from exc


def _decode(data: bytes, shown: str) -> str:
    for signature, what in _SIGNATURES:
        if data.startswith(signature):
            raise InvalidInputError(f"{shown}: not a CSV text file but {what}; {_GIVE}.")
    if b"\x00" in data[:65536]:
        raise InvalidInputError(f"{shown}: not a CSV text file (it holds binary data); {_GIVE}.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{shown}: not UTF-8 text (byte {exc.start}); save it as CSV UTF-8 and "
                                "import it again.") from exc


def _is_header(cells: list[str], is_data: Callable[[str, str], bool] | None) -> bool:
    words = [c.casefold() for c in cells]
    if any(w in FILE_HEADERS for w in words) and any(w in CLASS_HEADERS for w in words):
        return True
    return len(cells) >= 2 and is_data is not None and not is_data(cells[0], cells[1])


def _columns(head: list[str]) -> tuple[int, int]:
    words = [c.casefold() for c in head]
    file_col = next((words.index(w) for w in FILE_HEADERS if w in words), 0)
    class_col = next((words.index(w) for w in CLASS_HEADERS if w in words and words.index(w) != file_col),
                     None)
    if class_col is None:
        class_col = 1 if file_col != 1 else 0
    return file_col, class_col


def _row(table: ClassTable, shown: str, line: int, cells: list[str], columns: tuple[int, int]) -> None:
    where = f"{shown} line {line}"
    if len(cells) <= max(columns):
        table.problems.append(f"{where} ({','.join(cells)!r}) has no class column; write 'file stem,class'.")
        return
    name, label = cells[columns[0]], cells[columns[1]]
    if not name:
        table.problems.append(f"{where}: the file name is empty; write the image's file stem or name.")
    elif not label:
        table.problems.append(f"{where} ({name}): the class is empty; write its class, or leave the row out.")
    else:
        table.rows.append(ClassRow(line, name, label))
