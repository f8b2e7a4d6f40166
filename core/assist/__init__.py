"""Scribble assistant: brush a few strokes per label and for background, get a proposal for the whole view.

An ilastik-style pixel classifier: multi-scale pixel features (intensity, edges, texture per channel) and a
scikit-learn random forest fitted on the stroked pixels, with a second "auto-context" stage and a light
smoothing. No database, no streamlit, no torch: numpy arrays in and out.

Class convention: a forest knows ``label_ids`` (database label ids >= 1); class index 0 is background and
class index k (1..K-1) is ``label_ids[k - 1]``; K = 1 + ``len(label_ids)``.

Modules, one concept each:

- :mod:`.features`  :class:`FeatureSpec`, :func:`pixel_features` (C, H, W) -> (H, W, F)
- :mod:`.scale`     :func:`channel_scale`: per-image percentiles used for every region of the image
- :mod:`.strokes`   :class:`Stroke`, :func:`stroke_map`, :func:`stroke_samples`
- :mod:`.context`   auto-context features and probability smoothing (local, tile-exact)
- :mod:`.forest`    :class:`ScribbleForest`: fit, predict; :mod:`.store` saves and loads it
- :mod:`.proposal`  :class:`Proposal`: probabilities, classes, uncertainty
- :mod:`.view`      :func:`propose` for one view; :func:`predict_region`; :func:`stroke_regions`
- :mod:`.clean`     :func:`clean_classes`: speck removal (what the user sees is what gets accepted)
- :mod:`.shapes`    :func:`proposal_to_shapes`: class map -> pixel-exact annotation polygons
- :mod:`.tiled`     :func:`predict_image`: a whole image, tiled, for the background job
- :mod:`.render`    :func:`overlay_rgb`, :func:`uncertainty_rgb`

Typical "update proposal" of the annotate page::

    scale = channel_scale(reader)                                   # once per image
    pixels = reader.read_region(0, *region)                         # the view, full resolution
    forest, proposal = propose(pixels, scale, strokes, label_ids, region=region)
    shown = clean_classes(proposal.classes)
    picture = overlay_rgb(view_rgb, shown, {k: label.color for k, label in enumerate(labels, 1)})
    # accept:
    shapes = proposal_to_shapes(shown, label_ids, mode="instance", origin=(region[1], region[0]))
"""

from core.assist.clean import MIN_SIZE, clean_classes, clean_tiled
from core.assist.features import ChannelScale, FeatureSpec, pixel_features
from core.assist.forest import ScribbleForest
from core.assist.proposal import Proposal
from core.assist.render import overlay_rgb, uncertainty_rgb
from core.assist.scale import channel_scale
from core.assist.shapes import MODES, proposal_to_shapes
from core.assist.store import metadata_path, read_metadata
from core.assist.strokes import Stroke, stroke_map, stroke_samples
from core.assist.tiled import predict_image
from core.assist.view import predict_region, propose, stroke_regions

__all__ = [
    "MIN_SIZE",
    "MODES",
    "ChannelScale",
    "FeatureSpec",
    "Proposal",
    "ScribbleForest",
    "Stroke",
    "channel_scale",
    "clean_classes",
    "clean_tiled",
    "metadata_path",
    "overlay_rgb",
    "pixel_features",
    "predict_image",
    "predict_region",
    "proposal_to_shapes",
    "propose",
    "read_metadata",
    "stroke_map",
    "stroke_regions",
    "stroke_samples",
    "uncertainty_rgb",
]
