"""The downloadable training report: one :class:`ReportData` in, one ZIP out (no database access).

Public API::

    from core.reports import (BoxExample, ClassifiedExample, ReportData, ValidationExample,
                              build_report_zip, downscale_box_example, downscale_example)

Modules, one concept each:

- :mod:`.data`              the input dataclasses
- :mod:`.images`            downscaling of images and label images for the report
- :mod:`.visuals`           validation visualisations (image | ground truth | prediction | TP/FP/FN)
- :mod:`.box_visuals`       the same for boxes (detection)
- :mod:`.class_visuals`     classification: the confusion matrix and the misclassified examples
- :mod:`.figures`           training curves and precision-recall curves (matplotlib Agg, PNG in memory)
- :mod:`.fonts`             DejaVu from matplotlib, Last Resort fallback for characters DejaVu lacks
- :mod:`.formatting`        numbers, "n/d", dates, durations, shortened names
- :mod:`.document`          the PDF frame and its building blocks (fpdf2)
- :mod:`.sections_overview` title page, dataset, configuration, methods
- :mod:`.sections_results`  curves, metrics, visualisations, reproducibility
- :mod:`.sections_classes`  classification: metrics per class, the confusion matrix, misclassified examples
- :mod:`.methods`           the auto-written methods paragraph
- :mod:`.exports`           metrics.json, CSV files, visualisation file names
- :mod:`.readme`            README.txt
- :mod:`.build`             the ZIP (atomic)
"""

from __future__ import annotations

from pathlib import Path

from core.reports.data import BoxExample, ClassifiedExample, ReportData, ValidationExample
from core.reports.images import EMBED_MAX_SIDE, downscale_box_example, downscale_example, downscale_for_report

__all__ = [
    "EMBED_MAX_SIDE",
    "BoxExample",
    "ClassifiedExample",
    "ReportData",
    "ValidationExample",
    "build_report_zip",
    "downscale_box_example",
    "downscale_example",
    "downscale_for_report",
]


def build_report_zip(data: ReportData, out_path: Path, **options: int) -> Path:
    """:func:`core.reports.build.build_report_zip`, imported when a report is built: the PDF and figure
    libraries it loads (fpdf2, matplotlib) cost seconds that pages which only format numbers
    (:mod:`.formatting`) should not pay."""
    from core.reports.build import build_report_zip as build

    return build(data, out_path, **options)
