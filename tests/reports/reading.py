"""Reading a built report back: ZIP entries, PDF text lines, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from pypdf import PdfReader


class OpenedReport:
    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path)
        self.names = set(self.zip.namelist())
        self.reader = PdfReader(io.BytesIO(self.zip.read("report.pdf")))
        self.pages = [page.extract_text() for page in self.reader.pages]
        self.text = "\n".join(self.pages)
        self.lines = [line.strip() for line in self.text.splitlines()]
        self.metrics = json.loads(self.zip.read("metrics.json").decode("utf-8"))

    def csv_rows(self, name: str) -> list[dict]:
        return list(csv.DictReader(io.StringIO(self.zip.read(name).decode("utf-8"))))

    def close(self) -> None:
        self.zip.close()
