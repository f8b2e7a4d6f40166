"""The auto-written methods paragraph: the training described in prose, numbers filled in.

Each sentence is written only from values the report data holds; a value that is missing leaves its
sentence (or clause) out rather than guessing. Loss and optimiser default to what segstudio's training
engine uses (:mod:`core.training.losses`, :mod:`core.training.loop`) when the configuration does not name
them.
"""

from __future__ import annotations

from collections import Counter

from core.reports.data import ReportData
from core.reports.formatting import TIMES, annotated_by_text, format_duration, format_value
from core.training import types as training_types
from core.training.start_words import initialisation, start_sentence
from core.training.types.base import CLASS_LISTS
from core.values import is_number, is_whole

DEFAULT_LOSS = (
    "the sum of a soft Dice loss and a focal loss (unannotated pixels outside regions of interest ignored)"
)
DEFAULT_OPTIMIZER = "AdamW"
_AUGMENTATIONS = {
    "flips": "random horizontal and vertical flips",
    "rot90": "rotations by multiples of 90°",
    "elastic": "elastic deformation",
    "intensity": "intensity and contrast jitter",
    "noise": "Gaussian noise",
}
_SOFTWARE = (
    ("segstudio", "segstudio"),
    ("python", "Python"),
    ("torch", "PyTorch"),
    ("segmentation-models-pytorch", "segmentation_models_pytorch"),
    ("numpy", "NumPy"),
    ("scikit-image", "scikit-image"),
    ("scipy", "SciPy"),
)


def methods_paragraph(data: ReportData) -> str:
    """A paragraph for a paper's methods section describing this training."""
    cfg, versions = data.config, data.reproducibility.get("package_versions") or {}
    parts = [
        _task(data),
        _data(data),
        _network_of_type(cfg, versions, data),
        start_sentence(cfg.get("start")),
        _training(data),
        _postprocess(cfg, data.training_type),
        _metrics(data.training_type),
        _software(versions),
    ]
    return " ".join(part for part in parts if part)


def _task(data: ReportData) -> str:
    names = data.label_names
    entry = training_types.TRAINING_TYPES.get(data.training_type)
    kind = entry.task if entry is not None else "segmentation"
    labels = f" of {_join(names)}" if names else ""
    return f"A deep-learning model was trained for {kind}{labels} with segstudio."


#: how the methods paragraph says where an image's annotations came from (``annotated_by`` codes)
ORIGIN_CLAUSES = {
    "hand": "drawn by hand",
    "proposal": "accepted from the random-forest assistant's proposals after review",
    "prediction": "corrected from a trained model's predictions",
    "import": "imported from label masks",
    "class": "image classes",
    "roi class": "classes of regions of interest (ROIs)",
}


def _data(data: ReportData) -> str:
    images = data.dataset.get("images") or []
    if not images:
        return ""
    sets = Counter(str(im.get("set", "")) for im in images)
    sentence = (
        f"The dataset comprised {len(images)} annotated image{'s' if len(images) != 1 else ''}, "
        f"{sets.get('training', 0)} used for training and {sets.get('validation', 0)} for validation"
    )
    split = data.config.get("split")
    if split not in (None, "", {}):
        sentence += f" ({_split_text(split)} split)"
    sentence += "."
    sources = Counter(str(im.get("annotated_by", "")) for im in images if im.get("annotated_by"))
    if sources:
        sentence += (
            " Annotations were "
            + _join(
                [
                    f"{annotated_by_text(src, words=ORIGIN_CLAUSES, joiner=' and ')} for {n} image{'s' if n != 1 else ''}"
                    for src, n in sources.most_common()
                ]
            )
            + "."
        )
    if data.config.get("roi_only"):
        sentence += " Training patches were taken only inside the annotated regions of interest."
    return sentence


def _network_of_type(cfg: dict, versions: dict, data: ReportData) -> str:
    """The training type's own network sentences, else the U-Net's."""
    entry = training_types.TRAINING_TYPES.get(data.training_type)
    own = entry.methods_network(cfg, versions) if entry is not None else None
    return own if own is not None else _network(cfg, versions, data)


def _network(cfg: dict, versions: dict, data: ReportData) -> str:
    encoder = cfg.get("encoder")
    smp_version = versions.get("segmentation-models-pytorch")
    arch = "a U-Net" + (f" (segmentation_models_pytorch {smp_version})" if smp_version else "")
    if encoder:
        weights = cfg.get("encoder_weights")
        init = f"initialised with {weights} weights" if weights else initialisation(cfg.get("start"))
        arch += f" with a {encoder} encoder, {init}"
    channels = cfg.get("in_channels")
    if channels is None:
        found = {im.get("channels") for im in data.dataset.get("images") or [] if im.get("channels")}
        channels = found.pop() if len(found) == 1 else None
    sentence = f"The network was {arch}"
    if channels:
        sentence += f", taking {channels} input channel{'s' if channels != 1 else ''}"
    sentence += "."
    norm = cfg.get("normalization")
    if isinstance(norm, dict) and "low_percentile" in norm and "high_percentile" in norm:
        levels = f"{_ordinal(norm['low_percentile'])} and {_ordinal(norm['high_percentile'])} percentiles"
        if norm.get("scope") == "image":
            why = " (brightness varied between the training images)" if "auto" in norm else ""
            depths = norm.get("mixed_depths")
            if isinstance(depths, dict) and len(depths) > 1:
                mix = ", ".join(f"{n} {kind}" for kind, n in depths.items())
                why = (f" (the training images mixed bit depths: {mix} images; percentiles of each image make"
                       " the bit depth irrelevant)")
            sentence += f" Each input channel was scaled linearly so that the {levels} of each image mapped to 0 and 1{why}."
            sentence += _floor(norm)
            if isinstance(depths, dict) and len(depths) > 1 and norm.get("stretch_floor") and norm.get("dtype"):
                sentence += (f" That floor is measured in {norm['dtype']} units: it applied to the"
                             f" {norm['dtype']} images, and images of other bit depths kept their own range.")
        else:
            sentence += f" Each input channel was scaled linearly so that its {levels} over the training images mapped to 0 and 1."
            if norm.get("dtype"):
                sentence += (f" An image of another bit depth than the training images' ({norm['dtype']}) is"
                             " scaled with its own percentiles instead.")
    return sentence + _scale(cfg.get("scale"))


def _floor(norm: dict) -> str:
    """The sentence on nearly empty images (per-image scaling with the card's stretch floor); a record
    without a floor (models trained before it existed) scaled every image with its own range."""
    reference, floor = norm.get("reference"), norm.get("stretch_floor")  # floor: the threshold
    if not isinstance(reference, dict) or not isinstance(floor, list) or not floor:
        return " Every image, however faint, was stretched to its own range."
    share = float(norm.get("floor_fraction", 0.25))
    typical = ", ".join(f"{float(v):g}" for v in reference.get("stretch", []))
    return (
        f" An image whose own range (between those percentiles) was below {share:.0%} of the training images'"
        f" median range ({typical}, over {reference.get('images')} training images) was scaled with that"
        " median range instead of its own, in training, validation and prediction alike, so that an empty"
        " field's background noise is not stretched into objects;"
        " predictions on such images carry a warning."
    )


def _scale(record: object) -> str:
    """The working-scale sentence (nothing at full resolution)."""
    if not isinstance(record, dict) or not isinstance(record.get("factor"), (int, float)) or record["factor"] >= 1:
        return ""
    why = ""
    if record.get("median_width") is not None and record.get("max_width") is not None:
        why = (
            f" (the annotated objects were {float(record['median_width']):g} pixels wide at the median;"
            f" the resolution is halved while they are {float(record['max_width']):g} pixels wide or more)"
        )
    return (
        f" Images were shrunk by a factor of {float(record['factor']):g} before the network{why};"
        " its output maps were resized back to the original pixels before post-processing."
    )


def _training(data: ReportData) -> str:
    cfg, training = data.config, data.training
    clauses = []
    if cfg.get("patch_size"):
        clauses.append(f"on patches of {cfg['patch_size']} {TIMES} {cfg['patch_size']} pixels")
    if isinstance(cfg.get("batch_size"), int):
        clauses.append(f"in batches of {cfg['batch_size']}")
    sentence = ("It was trained " + ", ".join(clauses)) if clauses else "It was trained"
    entry = training_types.TRAINING_TYPES.get(data.training_type)
    engine_defaults = entry is None or entry.result_kind != CLASS_LISTS
    # the segmentation engine's loss and optimiser when the record names none; another engine's when named
    loss = cfg.get("loss") or (DEFAULT_LOSS if engine_defaults else None)
    optimizer = cfg.get("optimizer") or (DEFAULT_OPTIMIZER if engine_defaults else None)
    if loss:
        sentence += f" with {loss}"
    if optimizer:
        sentence += f" {'and' if loss else 'with'} the {optimizer} optimiser"
    lr = _learning_rate(cfg)
    if lr is not None:
        sentence += f" (learning rate {format_value(lr)}"
        reason = (cfg.get("lr_test") or {}).get("reason", "") if isinstance(cfg.get("lr_test"), dict) else ""
        if cfg.get("learning_rate") == "auto" or (reason and reason != "set by the user"):
            sentence += ", chosen by a learning-rate range test"
        if isinstance(cfg.get("weight_decay"), (int, float)):
            sentence += f"; weight decay {format_value(float(cfg['weight_decay']))}"
        sentence += ")"
    sentence += "." + (entry.methods_sentences(cfg) if entry is not None else "")
    augment = cfg.get("augment")
    if isinstance(augment, dict):
        used = [text for key, text in _AUGMENTATIONS.items() if augment.get(key)]
        zoom = augment.get("zoom")
        if is_number(zoom) and zoom > 1:
            used.append(f"random magnification by a factor from 1/{zoom:g} to {zoom:g}")
        sentence += f" Augmentation: {_join(used)}." if used else " No augmentation was used."
    epochs = f"{len(data.curves)} epoch{'s' if len(data.curves) != 1 else ''}" if data.curves else ""
    duration = format_duration(training["duration_s"]) if training.get("duration_s") is not None else ""
    hardware = training.get("hardware") or ""
    if epochs or duration or hardware:
        sentence += " Training ran"
        if epochs:
            sentence += f" for {epochs}" + (f" ({duration})" if duration else "")
        elif duration:
            sentence += f" for {duration}"
        if hardware:
            sentence += f" on {hardware}"
        sentence += "."
    if data.kept_weights == "start_model":
        sentence += _start_kept(training["start_model"])
    elif data.kept_weights == "weight_average":
        sentence += _weight_average(training["weight_average"], training.get("best_epoch"))
    elif training.get("best_epoch") is not None:
        best = training["best_epoch"]
        sentence += f" The weights of the epoch with the best validation score (epoch {best}) were kept."
    return sentence


def _start_kept(start: dict) -> str:
    """The sentence for a fine-tuning whose starting network, unchanged, validated better than its training."""
    scores = ""
    if is_number(start.get("score")) and is_number(start.get("trained_score")):
        scores = f" ({format_value(start['score'])} against {format_value(start['trained_score'])})"
    return (f" The starting model as it was validated better than the fine-tuned weights{scores}, so it was "
            "kept unchanged (with post-processing tuned on these validation images).")


def _weight_average(average: dict, best_epoch: object) -> str:
    """The sentence for weights averaged over the end of the training that beat the best epoch: a plain
    mean of snapshots, or an exponential moving average where the record has its ``decay`` (the
    classifier's)."""
    count, share, decay = average.get("weights"), average.get("from_share"), average.get("decay")
    over = ""
    if is_number(share):
        over = f" over the last {format_value(round(100 * (1 - share)))} % of the training"
    best = f" (epoch {best_epoch})" if best_epoch is not None else ""
    if is_number(decay):
        return (
            f" An exponential moving average of the weights{over} (each step's weights counting "
            f"{format_value(round(100 * (1 - decay), 2))} % of it; BatchNorm statistics recomputed for it) "
            f"validated better than the best single epoch{best} and was kept."
        )
    what = f"{count} weight snapshots" if is_whole(count) else "weight snapshots"
    if over:
        what += f" taken{over}"
    return (
        f" The mean of {what} (stochastic weight averaging; BatchNorm statistics recomputed for it) validated "
        f"better than the best single epoch{best} and was kept."
    )


def _views(value: object) -> str:
    """The test-time views sentence (nothing for one view)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 1:
        return ""
    which = {2: "the image and its mirror image", 4: "the image mirrored in each direction",
             8: "the image in its four 90-degree rotations, each mirrored or not"}.get(value, "flipped views")
    return (
        f"Predictions averaged the probability maps of {value} views ({which}), each turned back to the "
        "image's orientation; validation metrics were computed the same way."
    )


def _postprocess(cfg: dict, training_type: str) -> str:
    views = _views(cfg.get("views"))
    values = cfg.get("postprocess")
    if not values:
        return views
    items = values if isinstance(values, list) else [values]
    entry = training_types.TRAINING_TYPES.get(training_type)
    texts = []
    for item in items:
        if not isinstance(item, dict):
            continue
        parts = []
        if "threshold" in item:
            parts.append(f"probability threshold {format_value(item['threshold'])}")
        if entry is not None:
            parts.extend(entry.postprocess_phrases(item, format_value))
        if "min_size" in item:
            parts.append(f"minimum object size {format_value(item['min_size'])} pixels")
        if parts:
            prefix = f"{item['label']}: " if len(items) > 1 and item.get("label") else ""
            texts.append(prefix + ", ".join(parts))
    if not texts:
        return views
    tuned = any(isinstance(i, dict) and i.get("tuned_score") is not None for i in items)
    how = " (tuned on the validation images)" if tuned else ""
    return " ".join(part for part in (views, f"Post-processing{how}: " + "; ".join(texts) + ".") if part)


def _metrics(training_type: str) -> str:
    pixel = (
        "Pixel metrics were computed on the validation images with counts summed over images: "
        "IoU = TP / (TP + FP + FN), Dice = 2TP / (2TP + FP + FN), precision = TP / (TP + FP), "
        "recall = TP / (TP + FN)."
    )
    entry = training_types.TRAINING_TYPES.get(training_type)
    if entry is None:
        return pixel
    if not entry.pixel_masks:  # boxes or image classes: no pixel metrics, only the type's own
        return entry.metrics_sentence.strip()
    return pixel + entry.metrics_sentence


def _software(versions: dict) -> str:
    named = [f"{label} {versions[key]}" for key, label in _SOFTWARE if versions.get(key)]
    return f"Software: {', '.join(named)}." if named else ""


def _learning_rate(cfg: dict) -> float | None:
    for value in (
        cfg.get("learning_rate"),
        (cfg.get("lr_test") or {}).get("lr") if isinstance(cfg.get("lr_test"), dict) else None,
    ):
        if is_number(value):
            return float(value)
    return None


def _split_text(split: object) -> str:
    if isinstance(split, dict):
        mode = split.get("mode") or split.get("type")
        fraction = split.get("validation_fraction") or split.get("val_fraction")
        if mode and fraction:
            return f"{mode}, {round(100 * (1 - float(fraction)))}/{round(100 * float(fraction))}"
        if mode:
            return str(mode)
        return ", ".join(f"{k} {format_value(v)}" for k, v in split.items())
    return str(split)


def _ordinal(value: object) -> str:
    """1 -> "1st", 2 -> "2nd", 99.8 -> "99.8th"."""
    number = float(value)  # type: ignore[arg-type]
    if not number.is_integer():
        return f"{number:g}th"
    n = int(number)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _join(items: list[str]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
