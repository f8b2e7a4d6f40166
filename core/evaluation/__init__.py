"""Evaluation and post-processing: arrays in, arrays or plain dicts out.

Modules, one concept each:

- :mod:`.pixel`        pixel counts (TP/FP/FN/TN per label) and the scores reduced from them
- :mod:`.instance`     one-to-one object matching on IoU, instance counts and scores (DSB AP)
- :mod:`.detection`    box IoU, COCO greedy matching, precision-recall curves, AP / mAP, best score threshold
- :mod:`.postprocess`  probability maps -> masks or instance labels (threshold, watershed, min size)
- :mod:`.targets`      instance labels -> 3-class (background / interior / boundary) and distance targets
- :mod:`.tuning`       grid search of the post-processing values on validation images
- :mod:`.overlay`      TP/FP/FN and label overlays for the report and the UI
- :mod:`.report`       per-image and per-label table rows for the report

Metrics work in two stages: count per image (counts add up across images and tiles), then reduce once.
"""
