"""README.txt of the report ZIP: what each file is."""

from __future__ import annotations

from core.reports import class_visuals as cv
from core.reports.data import ReportData
from core.reports.exports import PR_FILE
from core.training import types as training_types
from core.training.types.base import BOX_LISTS, CLASS_LISTS, PIXEL_CURVES


def readme_text(data: ReportData, *, visualizations: list[str], model_files: list[str]) -> str:
    name = data.training["name"]
    kind = training_types.TRAINING_TYPES.get(data.training_type)
    boxes = kind is not None and kind.result_kind == BOX_LISTS
    classes = kind is not None and kind.result_kind == CLASS_LISTS
    charts = kind.curves if kind is not None else PIXEL_CURVES
    status = str(data.training.get("status", "")).lower()
    lines = [
        f"segstudio training report: {name}",
        "=" * min(80, len("segstudio training report: ") + len(name)),
        "",
    ]
    if not data.is_full:
        lines += [
            f"This training did not succeed (status: {status}). This is the short report: the reason, the",
            "configuration and the curves of the epochs that were completed. There is no model and there are",
            "no validation metrics.",
            "",
        ]
    lines += [
        "report.pdf",
        "    The report: title page, dataset, configuration, a methods paragraph to adapt for a paper,",
        "    training curves, metrics per label and per image, validation visualisations and the",
        "    reproducibility record (seed, package versions, data hashes)."
        if data.is_full
        else "    The short report: why the training stopped, the curves so far, configuration, dataset.",
        "",
        "metrics.json",
        "    The training's facts and every metric in full precision: 'overall', 'per_label' and",
        "    'per_image' rows, and the visualisation file of each validation image. null means",
        "    'not defined' (the denominator is 0, e.g. a label without validation objects); the PDF shows",
        "    such values as n/d.",
        "",
    ]
    if data.is_full and classes:
        lines += [
            "metrics_per_image.csv",
            "    One row per validation example (an image, or an ROI crop named '<image> · ROI k'): its",
            "    true class (label), the predicted class (the most probable), that class's probability,",
            "    whether it is correct, and the probability of every class (p(<class>)).",
            "",
            cv.PER_CLASS_FILE,
            "    One row per class: precision, recall, F1 and its number of validation examples (support).",
            "",
            f"{cv.CONFUSION_FILE}, {cv.CONFUSION_NORMALISED_FILE}, {cv.CONFUSION_FIGURE}",
            "    The confusion matrix: one row per true class, one column per predicted class; counts of",
            "    validation examples, and each row divided by its total (the diagonal: each class's recall).",
            "",
        ]
    elif data.is_full and boxes:
        lines += [
            "metrics_per_image.csv",
            "    One row per validation image and label: the true boxes (n_gt) and the predicted boxes at or",
            "    above the label's score threshold (n_pred), and how many of them matched one-to-one at",
            "    IoU >= 0.5 (tp, fp, fn, precision, recall, f1); an empty cell means 'not defined'.",
            "",
        ]
    elif data.is_full:
        lines += [
            "metrics_per_image.csv",
            "    One row per validation image and label with all metric columns; an empty cell means",
            "    'not defined'. Pixel columns start with pixel_ (iou, dice, precision, recall, accuracy);",
            "    instance columns count objects matched one-to-one at IoU >= 0.5 (tp, fp, fn, precision,",
            "    recall, f1) and give the DSB 2018 average precision (ap_50, ap_75, mean_ap).",
            "",
        ]
    if data.is_full and data.pr_curves:
        lines += [
            PR_FILE,
            "    Per label, one row per predicted box of the validation images ranked by score: the",
            "    recall and precision of the boxes down to it (a true box is found at IoU >= 0.5) and its",
            "    score. The label's average precision (AP50) is the area under this curve (COCO's",
            "    101-point interpolation); metrics.json gives it with the score threshold chosen.",
            "",
        ]
    shown = [chart[1].split(" (")[0] for chart in charts]
    quantities = ", ".join(shown[:-1]) + (" and " if len(shown) > 1 else "") + shown[-1]
    lines += [
        "curves.csv",
        f"    One row per epoch: training and validation {quantities} (empty = not measured).",
        "",
    ]
    if visualizations and classes:
        lines += [
            f"validation_visualizations/ ({len(visualizations)} PNG files)",
            "    One picture per misclassified validation example (the first ones): the example, its true",
            "    class and the class it was given, with that class's probability. metrics.json maps each",
            "    example's name to its file.",
            "",
        ]
    elif visualizations and boxes:
        lines += [
            f"validation_visualizations/ ({len(visualizations)} PNG files)",
            "    One picture per validation image: image | true boxes | predicted boxes (at the label's",
            "    score threshold) | TP/FP/FN, one row per label. Green = predicted box matched to a true",
            "    box at IoU >= 0.5, red = predicted box without a match, blue = true box without a match.",
            "    Large images are downscaled. metrics.json maps each image name to its file.",
            "",
        ]
    elif visualizations:
        lines += [
            f"validation_visualizations/ ({len(visualizations)} PNG files)",
            "    One picture per validation image: image | ground truth | prediction | TP/FP/FN overlay,",
            "    one row per label. Green = true positive, red = false positive, blue = false negative",
            "    (instance training: whole objects by their match at IoU >= 0.5; semantic: pixels). Large",
            "    images are downscaled. metrics.json maps each image name to its file.",
            "",
        ]
    if model_files:
        described = {**_MODEL_FILES, **(_CLASSIFIER_FILES if classes else {})}
        lines += [
            "model/",
            "    The model package, usable without segstudio:",
            *[f"      {f}{described.get(f.rsplit('/', 1)[-1], '')}" for f in model_files],
            "",
        ]
    elif data.is_full:
        lines += ["model/", "    Not included: no model package was given when this report was built.", ""]
    lines += ["README.txt", "    This file.", ""]
    return "\n".join(lines)


_MODEL_FILES = {
    "weights.pt": "  the PyTorch state_dict (torch.load(..., weights_only=True))",
    "model_card.json": "  architecture, channels, labels, normalisation, working scale, post-processing, metrics, versions",
    "model.torchscript.pt": "  TorchScript export (torch.jit.load), same output as the weights (inputs as the card says)",
}
#: a classifier's package (core.classification): the same files, other contents
_CLASSIFIER_FILES = {
    "model_card.json": "  network, channels, classes, input size and how images are fitted (resize or "
                       "tiles), normalisation, augmentation, metrics, versions",
    "model.torchscript.pt": "  TorchScript export (torch.jit.load): an image fitted as the card's 'input' "
                            "says -> one logit per class",
}
