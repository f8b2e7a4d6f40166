"""The "Download for bioimage.io (ZIP)" button of the Trainings and Models pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.model_library import bioimageio_file_name, bioimageio_refusal, export_bioimageio_zip

LABEL = "Download for bioimage.io (ZIP)"
HELP = ("A BioImage Model Zoo package (spec 0.5) that ilastik, deepImageJ, QuPath and napari can run; it "
        "also holds this model's segstudio package, so segstudio can import it back. Made when clicked (a "
        "few seconds).")


def bioimageio_download(target: Any, package_dir: Path, name: str, *, key: str) -> None:
    """The download button in ``target`` (``st`` or a column) for the package at ``package_dir`` (exported
    when clicked; the click does not rerun the page), or one line saying why the model has none."""
    reason = bioimageio_refusal(package_dir)
    if reason is not None:
        target.caption(f"No bioimage.io download: {reason}.")
        return
    target.download_button(LABEL, lambda: export_bioimageio_zip(package_dir, name),
                           file_name=bioimageio_file_name(name), mime="application/zip", key=key,
                           on_click="ignore", icon=":material/download:", help=HELP)
