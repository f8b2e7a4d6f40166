"""Apply a trained model: tiled prediction of any image size, measurements, exports, model import.

Modules, one concept each:

- :mod:`.predictor`   :class:`Predictor`: model + card + device + precision; batches of tiles -> maps
- :mod:`.receptive`   receptive field of the U-Nets and the default halo
- :mod:`.grid`        owned blocks, map blocks and network tiles of an image (integer geometry)
- :mod:`.tiled`       :func:`predict_image`: streaming tiled prediction -> ``(L, H, W)`` label TIFF
- :mod:`.tiled_boxes` :func:`predict_boxes`: tiled prediction of a detection model -> boxes, labels, scores
- :mod:`.stitch`      post-processing per block and stitching of objects cut by block borders
- :mod:`.labelstore`  provisional labels on disk and the union-find that numbers objects
- :mod:`.labels_io`   region reads of prediction label TIFFs
- :mod:`.measure`     per-object measurements (regionprops values), streamed per block
- :mod:`.polygons`    label image -> pixel-exact shapely geometries
- :mod:`.export`      label TIFFs per label, measurements CSV, GeoJSON for QuPath, one ZIP
- :mod:`.boxes`       detection boxes: NMS (per label), centre ownership, merging of overlapping tiles
- :mod:`.box_export`  detection outputs: boxes CSV, counts, COCO JSON, GeoJSON for QuPath, drawn boxes
- :mod:`.classes`     classification outputs: each image's class and every class's probability, the CSV
- :mod:`.fit`         does an image fit a model (channels, bit depth, not empty)
- :mod:`.package_io`  model package import (checked) and export
- :mod:`.accept`      predictions -> annotation shapes (source "prediction")
"""

from core.inference.accept import prediction_to_shapes, read_prediction_region
from core.inference.export import (
    export_prediction,
    export_zip,
    measure_prediction,
    write_geojson,
    write_label_tiffs,
    write_measurements_csv,
)
from core.inference.fit import check_image_fits, check_not_empty
from core.inference.labels_io import LabelImage, open_labels
from core.inference.measure import measure_objects, measure_streamed
from core.inference.package_io import export_model_package, import_model_package
from core.inference.predictor import Predictor
from core.inference.progress import PredictionCancelled
from core.inference.receptive import default_halo, measure_halo
from core.inference.tiled import PredictionResult, predict_image
from core.inference.tiled_boxes import BoxPrediction, predict_boxes

__all__ = [
    "BoxPrediction",
    "LabelImage",
    "PredictionCancelled",
    "PredictionResult",
    "Predictor",
    "check_image_fits",
    "check_not_empty",
    "default_halo",
    "export_model_package",
    "export_prediction",
    "export_zip",
    "import_model_package",
    "measure_halo",
    "measure_objects",
    "measure_prediction",
    "measure_streamed",
    "open_labels",
    "predict_boxes",
    "predict_image",
    "prediction_to_shapes",
    "read_prediction_region",
    "write_geojson",
    "write_label_tiffs",
    "write_measurements_csv",
]
