"""Download buttons for files the app has written to disk (reports, measurements, predictions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def file_download(
    target: Any, label: str, path: Path, *, mime: str, key: str, file_name: str | None = None,
) -> None:
    """A button that downloads ``path``, saved as ``file_name`` (by default the file's own name); ``target``
    is ``st`` or a column/container.

    The file is read only when clicked (a report ZIP can be large, and most reruns never download it). Such
    a deferred download gets a new id on every full rerun, and by default a click also reruns the page: under
    load the rerun can finish, and retire the id, before the browser asks for the file, which then fails
    with "Failed to generate file for download". Downloading changes nothing on the page, so the click does
    not rerun it.
    """
    target.download_button(label, path.read_bytes, file_name=file_name or path.name, mime=mime, key=key,
                           on_click="ignore")
