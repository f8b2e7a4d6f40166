"""Render every PDF page to PNG with poppler's pdftoppm, for a person to look at (slow)."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.reports import build_report_zip
from tests.reports.helpers import synthetic_report

PDFTOPPM = shutil.which("pdftoppm") or ("/usr/bin/pdftoppm" if Path("/usr/bin/pdftoppm").exists() else None)


@pytest.mark.slow
@pytest.mark.skipif(PDFTOPPM is None, reason="pdftoppm (Debian package poppler-utils) is not installed")
@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_pdf_pages_render_to_png(tmp_path, status):
    """Pages go to $SEGSTUDIO_REPORT_PAGES/<status>/ when that is set (to keep them), else to tmp_path."""
    data = synthetic_report(
        labels=("nucleus", "Zellkern 細胞核", "ядро"),
        n_train=6,
        n_val=4,
        size=(96, 128),
        n_objects=10,
        radius=(4, 12),
        empty_label=2,
        status=status,
        n_epochs=12,
        image_names=[f"img_{k:02d}.tif" for k in range(9)]
        + ["plate_A01_" + "long-description-" * 12 + "0042.tif"],
        training_name="Kidney nuclei — U-Net resnet18 " + "with a long descriptive name " * 5,
    )
    path = build_report_zip(data, tmp_path / "report.zip")
    out = Path(os.environ.get("SEGSTUDIO_REPORT_PAGES", tmp_path / "pages")) / status
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path) as zf:
        (out / "report.pdf").write_bytes(zf.read("report.pdf"))
    subprocess.run(
        [PDFTOPPM, "-r", "60", "-png", str(out / "report.pdf"), str(out / "page")], check=True, timeout=120
    )
    pages = sorted(out.glob("page-*.png"))
    assert len(pages) >= (7 if status == "succeeded" else 4)
    for page in pages:
        with Image.open(page) as im:
            pixels = np.asarray(im.convert("L"))
        assert im.width < im.height  # A4 portrait
        assert pixels.min() < 100 and (pixels < 250).mean() > 0.002  # something is printed on every page
        margin = pixels[:, : int(0.04 * im.width)]  # nothing runs into the left or right page edge
        assert (margin > 245).all() and (pixels[:, -int(0.04 * im.width) :] > 245).all()
