"""Assembly of the report ZIP: :func:`build_report_zip`, the one public entry point of the package.

ZIP layout (full report of a succeeded training)::

    report.pdf                       the PDF report
    metrics.json                     facts and every metric (null = not defined)
    metrics_per_image.csv            one row per validation image and label
    curves.csv                       one row per epoch
    precision_recall.csv             detection: the precision-recall curve of each label
    metrics_per_class.csv            classification: precision, recall, F1 and support per class
    confusion_matrix.csv / _normalised.csv / .png   classification: the confusion matrix
    validation_visualizations/*.png  image | ground truth | prediction | TP/FP/FN, per validation image
                                     (classification: each misclassified example, true -> predicted)
    model/...                        a copy of the model package folder
    README.txt                       what each file is

A failed or cancelled training gets the short report: report.pdf, metrics.json, curves.csv, README.txt.
The ZIP is written to a temporary file next to ``out_path`` and renamed into place, so a reader never sees
half a report and a failure leaves no file behind.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from core.errors import InvalidInputError, StorageError
from core.reports import class_visuals
from core.reports import sections_classes as classes
from core.reports import sections_overview as overview
from core.reports import sections_results as results
from core.reports._checks import check_report_data
from core.reports.box_visuals import render_box_panel
from core.reports.data import BoxExample, ClassifiedExample, ReportData
from core.reports.document import ReportPDF
from core.reports.exports import (
    PR_FILE,
    curves_csv,
    metrics_json,
    per_image_csv,
    pr_csv,
    visualization_file_names,
)
from core.reports.figures import CURVES, curves_png, pr_curves_png
from core.reports.fonts import missing_characters
from core.reports.readme import readme_text
from core.reports.visuals import TILE_SIDE, png_bytes, render_panel
from core.training import types as training_types
from core.training.types.base import CLASS_LISTS, PIXEL_KEPT_SCORES

VIS_DIR = "validation_visualizations"
MODEL_DIR = "model"
_STORED_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".pt", ".pth", ".zip", ".onnx")


def build_report_zip(data: ReportData, out_path: Path, *, tile_side: int = TILE_SIDE) -> Path:
    """Build the training report ZIP at ``out_path`` (replaced if it exists) and return its path.

    Args:
        data: everything the report shows (see :class:`core.reports.data.ReportData`); validated here.
        out_path: the ZIP file to write; its folder is created when missing.
        tile_side: longest side, in pixels, of each tile of a validation visualisation.

    Raises:
        InvalidInputError: ``data`` is malformed (the message names the field and how to fix it), or
            ``tile_side`` is out of range.
        NotFoundError: ``data.model_dir`` does not exist.
        StorageError: the ZIP could not be written (nothing is left behind).
    """
    data = check_report_data(data)
    if isinstance(tile_side, bool) or not isinstance(tile_side, int) or not 64 <= tile_side <= 2048:
        raise InvalidInputError(
            f"tile_side must be a whole number of pixels from 64 to 2048, got {tile_side!r}."
        )
    out_path = Path(out_path)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise StorageError(
            f"cannot write the report to {out_path.parent}: {exc}; check the folder and disk space."
        ) from exc
    tmp = Path(tmp_name)
    try:
        _write_zip(data, tmp, tile_side)
        os.replace(tmp, out_path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(
            f"could not write the report {out_path}: {exc}; free disk space and try again."
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out_path


def _write_zip(data: ReportData, path: Path, tile_side: int) -> None:
    names = visualization_file_names([ex.name for ex in data.examples])
    visualizations = {ex.name: f"{VIS_DIR}/{file}" for ex, file in zip(data.examples, names, strict=True)}
    model_files = _model_files(data.model_dir) if data.model_dir is not None else []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        pdf_panels = []
        tiles = []  # misclassified examples of a classification: drawn in sheets in the PDF
        labels, colors = data.label_names, data.label_colors
        kind = training_types.TRAINING_TYPES.get(data.training_type)  # checked for full reports
        instance = kind is not None and kind.object_ids
        for example, arcname in zip(data.examples, visualizations.values(), strict=True):
            if isinstance(example, BoxExample):
                panel = render_box_panel(
                    example, label_names=labels, label_colors=colors, tile_side=tile_side
                )
            elif isinstance(example, ClassifiedExample):
                panel = class_visuals.render_class_tile(example)
                tiles.append(panel)
            else:
                panel = render_panel(
                    example, instance=instance, label_names=labels, label_colors=colors, tile_side=tile_side
                )
            _add(zf, arcname, png_bytes(panel))
            if not isinstance(example, ClassifiedExample) and len(pdf_panels) < results.MAX_PDF_EXAMPLES:
                pdf_panels.append(
                    results.PdfPanel(example.name, results.panel_jpeg(panel), panel.shape[0] / panel.shape[1])
                )
        for sheet in class_visuals.tile_sheets(tiles):
            pdf_panels.append(results.PdfPanel("misclassified", results.panel_jpeg(sheet),
                                               sheet.shape[0] / sheet.shape[1]))
        confusion = data.metrics.get("confusion") if data.is_full else None
        confusion_png = class_visuals.confusion_png(
            confusion["classes"], confusion["counts"], confusion["normalised"]) if confusion else None
        _add(zf, "report.pdf", _pdf(data, pdf_panels, confusion_png))
        if confusion:
            _add(zf, class_visuals.CONFUSION_FIGURE, confusion_png)  # type: ignore[arg-type]
            for name, matrix in ((class_visuals.CONFUSION_FILE, confusion["counts"]),
                                 (class_visuals.CONFUSION_NORMALISED_FILE, confusion["normalised"])):
                _add(zf, name, class_visuals.confusion_csv(confusion["classes"], matrix).encode("utf-8"))
            per_class = class_visuals.per_class_csv(data.metrics.get("per_label") or [])
            _add(zf, class_visuals.PER_CLASS_FILE, per_class.encode("utf-8"))
        _add(zf, "metrics.json", metrics_json(data, visualizations).encode("utf-8"))
        if data.is_full:
            _add(
                zf,
                "metrics_per_image.csv",
                per_image_csv(data.metrics.get("per_image") or []).encode("utf-8"),
            )
        charts = kind.curves if kind is not None else None
        _add(zf, "curves.csv", curves_csv(data.curves, charts).encode("utf-8"))
        if data.pr_curves:
            _add(zf, PR_FILE, pr_csv(data.pr_curves).encode("utf-8"))
        for relative, source in model_files:
            zf.write(source, f"{MODEL_DIR}/{relative}", compress_type=_compression(relative))
        readme = readme_text(
            data,
            visualizations=list(visualizations.values()),
            model_files=[f"{MODEL_DIR}/{r}" for r, _ in model_files],
        )
        _add(zf, "README.txt", readme.encode("utf-8"))


def _pdf(data: ReportData, panels: list[results.PdfPanel], confusion_png: bytes | None = None) -> bytes:
    with tempfile.TemporaryDirectory(prefix="segstudio-report-") as workdir:
        pdf = ReportPDF(
            title="segstudio training report",
            subtitle=data.training["name"],
            fallback_chars=missing_characters(_texts(data)),
            workdir=Path(workdir),
        )
        _sections(pdf, data, panels, confusion_png)
        return bytes(pdf.output())


def _sections(pdf: ReportPDF, data: ReportData, panels: list[results.PdfPanel],
              confusion_png: bytes | None = None) -> None:
    overall = data.metrics.get("overall") or {}
    kind = training_types.TRAINING_TYPES.get(data.training_type)
    charts = kind.curves if kind is not None else CURVES
    marks = kind.kept_scores if kind is not None else PIXEL_KEPT_SCORES
    kept = None if data.kept_weights != "epoch" else {
        val_key: overall.get(key) for val_key, key in marks.items()}
    best = data.training.get("best_epoch")
    chart = curves_png(data.curves, charts=charts, best_epoch=best, kept=kept) if data.curves else None
    overview.title_page(pdf, data)
    if data.is_full:
        pdf.add_page()
        overview.dataset_section(pdf, data)
        pdf.add_page()
        overview.configuration_section(pdf, data)
        overview.methods_section(pdf, data)
        pdf.add_page()
        results.curves_section(pdf, data, chart)
        pdf.add_page()
        if kind is not None and kind.result_kind == CLASS_LISTS:
            classes.metrics_section(pdf, data, confusion_png)
            pdf.add_page()
            classes.misclassified_section(pdf, data, panels, len(data.examples))
        else:
            results.metrics_section(pdf, data)
            if data.pr_curves:
                colors = dict(zip(data.label_names, data.label_colors, strict=True))
                results.pr_curves_section(pdf, data, pr_curves_png(data.pr_curves, label_colors=colors))
            pdf.add_page()
            results.visualizations_section(pdf, data, panels, len(data.examples))
    else:
        pdf.add_page()
        results.curves_section(pdf, data, chart)
        overview.configuration_section(pdf, data)
        pdf.add_page()
        overview.dataset_section(pdf, data)
    pdf.add_page()
    results.reproducibility_section(pdf, data)


def _texts(data: ReportData) -> list[str]:
    """Every string the PDF may show (to decide whether the fallback font is needed)."""
    out: list[str] = [ex.name for ex in data.examples]

    def walk(value: object) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                out.append(str(key))
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    for part in (data.training, data.dataset, data.config, data.metrics, data.reproducibility):
        walk(part)
    return out


def _model_files(model_dir: Path) -> list[tuple[str, Path]]:
    files = [p for p in sorted(model_dir.rglob("*")) if p.is_file() and not p.name.endswith(".tmp")]
    return [(p.relative_to(model_dir).as_posix(), p) for p in files]


def _add(zf: zipfile.ZipFile, arcname: str, payload: bytes) -> None:
    zf.writestr(arcname, payload, compress_type=_compression(arcname))


def _compression(name: str) -> int:
    return zipfile.ZIP_STORED if name.lower().endswith(_STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
