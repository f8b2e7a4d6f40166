"""Annotations: vector shapes <-> canvas JSON <-> raster masks; ROIs; mask import. No database access.

Modules: :mod:`.shapes` (``ShapeData``), :mod:`.clean` (validation and repair), :mod:`.geometry`,
:mod:`.viewport` (``Viewport``), :mod:`.canvas` (streamlit-drawable-canvas JSON), :mod:`.raster`
(masks), :mod:`.mask_import` (label images -> polygons), :mod:`.view` (canvas background picture).

Typical save path of the annotate page::

    vp = Viewport.fit(reader.shape[1:], 1024, 768, level_shapes=reader.level_shapes)
    drawing = shapes_to_canvas(stored_shapes, vp, colors)                 # initial_drawing
    new = canvas_to_shapes(result.json_data, vp, kind="annotation", label_id=label.id)
    report = clean_shapes(new, vp.image_hw)                               # report.kept -> database
"""

from core.annotations.canvas import (
    canvas_to_shapes,
    is_existing,
    new_objects,
    shapes_in_view,
    shapes_to_canvas,
)
from core.annotations.clean import CleanReport, clean_shape, clean_shapes
from core.annotations.mask_import import check_mask_matches, mask_to_shapes
from core.annotations.raster import annotated_area, instance_labels, roi_mask, semantic_masks
from core.annotations.shapes import GEOMETRIES, KIND_ANNOTATION, KIND_ROI, KINDS, ShapeData
from core.annotations.view import render_view
from core.annotations.viewport import Viewport, level_downsamples, overview_box, overview_to_image

__all__ = [
    "GEOMETRIES",
    "KINDS",
    "KIND_ANNOTATION",
    "KIND_ROI",
    "CleanReport",
    "ShapeData",
    "Viewport",
    "annotated_area",
    "canvas_to_shapes",
    "check_mask_matches",
    "clean_shape",
    "clean_shapes",
    "instance_labels",
    "is_existing",
    "level_downsamples",
    "mask_to_shapes",
    "new_objects",
    "overview_box",
    "overview_to_image",
    "render_view",
    "roi_mask",
    "semantic_masks",
    "shapes_in_view",
    "shapes_to_canvas",
]
