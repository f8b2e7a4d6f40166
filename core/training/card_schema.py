"""The model card's schema: every field a reader of a card uses, with its type, range and length.

One table, :data:`CARD`, describes a card as :mod:`core.training.card`, the training loop and
:mod:`core.training.package` write it, and as its readers use it (:mod:`core.training.package`,
:mod:`core.inference.predictor`, :mod:`core.inference.fit`, :mod:`core.inference.receptive`,
:mod:`core.training.scale`, :mod:`core.training.views`, :mod:`core.training.normalization`,
:mod:`core.training.assessment`, :mod:`core.predictions`, the report). :func:`check_card` checks a parsed
card against it, then checks what ties fields together (output channels, one normalisation value per
channel, one post-processing entry per label), before anything is installed or loaded.

Cards written before a field existed stay valid: ``dtype``, ``encoder_depth``, ``scale``, ``views``, ``loss``
and every record field are optional; only what building and running the network needs is required (the
encoder for the networks built from the encoder registry; the description for a model imported from
bioimage.io, whose normalisation is its package's own pre-processing). Fields
no reader knows are allowed (checked as plain JSON: finite numbers, bounded strings and depth). Numbers must
be finite (``1e999`` parses as infinity), except inside ``metrics``, a record of the training that may hold
``-Infinity`` for a score that never improved.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ModelPackageError
from core.evaluation.postprocess import POSTPROCESS_DEFAULTS
from core.training.config import MIN_SCALE, TRAINING_TYPES, VIEW_COUNTS
from core.training.encoders import ENCODERS
from core.training.models import MAX_CHANNELS, out_channels
from core.training.schema_specs import (
    MISSING,
    Flag,
    Invalid,
    Json,
    ListOf,
    MapOf,
    Nullable,
    Number,
    Record,
    Text,
    Whole,
    shown,
)
from core.values import is_whole

FORMAT_VERSION = 1
ARCHITECTURE = "smp.Unet"
#: a model imported from a bioimage.io package made elsewhere: its TorchScript weights run as the package
#: describes them (core.bioimageio); its card has no encoder, and its normalisation is the package's own
#: pre-processing (card field ``bioimageio``)
BIOIMAGEIO_ARCHITECTURE = "bioimageio.torchscript"
#: the architectures built from the encoder registry (their cards need ``encoder``): the U-Net of the pixel
#: types and detection, and the classifier (an encoder, global average pooling, a linear layer:
#: core.classification.model)
ENCODER_ARCHITECTURES = (ARCHITECTURE, "smp.encoder+avgpool+linear")
#: every architecture a card may name
ARCHITECTURES = (*ENCODER_ARCHITECTURES, BIOIMAGEIO_ARCHITECTURE)
MAX_LABELS = 64
PIXEL_TYPES = ("uint8", "uint16", "uint32", "int8", "int16", "int32", "float32", "float64", "bool")
FIX = "re-export the package from the segstudio that trained it, or correct model_card.json"

__all__ = ["ARCHITECTURE", "BIOIMAGEIO_ARCHITECTURE", "CARD", "FORMAT_VERSION", "check_card"]


class Postprocess:
    """The post-processing values: a list with one object per label (the training's form), one object for
    every label, or an object keyed by label name or id (as
    :func:`core.inference.predictor.postprocess_values` reads them)."""

    expected = "a list with one object of post-processing values per label, or an object of such values"
    values = Record(
        {
            "threshold": Number(0.0, 1.0),
            "seed_threshold": Number(0.0, 1.0),
            "seed_height": Number(0.0, 1.0),
            "min_size": Whole(0, 10**9),
            "score_threshold": Number(0.0, 1.0),
            "nms_iou": Number(0.0, 1.0),
            "label_id": Whole(),
            "label": Text(100),
            "tuned_score": Nullable(Number(finite=False)),
        }
    )

    def check(self, value: object, path: str) -> None:
        if isinstance(value, list):
            ListOf(self.values, 1, MAX_LABELS).check(value, path)
        elif isinstance(value, dict) and set(value) & VALUE_KEYS:
            self.values.check(value, path)
        elif isinstance(value, dict):
            MapOf(self.values, 100).check(value, path)
        else:
            raise Invalid(path, value, self.expected)


#: the names of post-processing values (an object holding one of them is values, not values keyed by label)
VALUE_KEYS = set(Postprocess.values.fields) - {"label_id", "label", "tuned_score"}


class Scale:
    """The working scale: a number from MIN_SCALE to 1 (early cards) or the record of choose_scale."""

    expected = f"a number from {MIN_SCALE} to 1 or an object with 'factor'"

    def check(self, value: object, path: str) -> None:
        if isinstance(value, dict):
            SCALE_RECORD.check(value, path)
        else:
            Number(MIN_SCALE, 1.0).check(value, path)


_SCORE = Nullable(Number(finite=False))
LABEL = Record({"id": Whole(0), "name": Text(100), "color": Text(colour=True)}, required=("id", "name"))
NORMALIZATION = Record(
    {
        # "bioimageio": the imported package's own pre-processing steps (card field ``bioimageio``), no values
        "method": Text(choices=("percentile", "bioimageio")),
        "scope": Text(choices=("dataset", "image")),
        "low_percentile": Number(0.0, 100.0),
        "high_percentile": Number(0.0, 100.0),
        "low": ListOf(Number(), 1, MAX_CHANNELS),
        "high": ListOf(Number(), 1, MAX_CHANNELS),
        "auto": Record({"spread": Number(0.0), "limit": Number(0.0)}),
        # The training images' own values (medians over the images) and the stretch below which an image
        # counts as nearly empty (core.training.normalization); cards made before them have neither.
        "reference": Record({
            "low": ListOf(Number(), 1, MAX_CHANNELS),
            "high": ListOf(Number(), 1, MAX_CHANNELS),
            "stretch": ListOf(Number(0.0), 1, MAX_CHANNELS),
            "images": Whole(0),
        }),
        "floor_fraction": Number(0.0, 1.0),
        "stretch_floor": ListOf(Number(0.0), 1, MAX_CHANNELS),
        # the training images' pixel type, and how many images of each type a mixed training had
        "dtype": Text(choices=PIXEL_TYPES),
        "mixed_depths": MapOf(Whole(1), 16),
    },
)
#: the normalisation fields every method but "bioimageio" needs
NORMALIZATION_VALUES = ("low", "high")
SCALE_RECORD = Record(
    {
        "factor": Number(MIN_SCALE, 1.0),
        "rule": Text(200),
        "max_width": Nullable(Number(0.0)),
        "objects_measured": Whole(0),
        "median_width": Nullable(Number(0.0)),
    },
    required=("factor",),
)
OUTPUT_CHANNEL = Record(
    {
        "channel": Whole(0, 4 * MAX_LABELS),
        "label_id": Whole(0),
        "label": Text(100),
        "map": Text(choices=("prob", "background", "interior", "boundary", "distance", "heat", "box_h",
                             "box_w", "class")),
        "activation": Text(choices=("sigmoid", "softmax3", "exp", "softmax")),
    }
)
METRICS = Record(
    {
        "per_label": ListOf(Json(finite=False), 0, MAX_LABELS),
        "mean_iou": _SCORE,
        "mean_f1": _SCORE,
        "best_epoch": Nullable(Whole(0)),
        "best_val_score": _SCORE,
        "weight_average": Nullable(Record({}, other=Json(finite=False))),
        "history": ListOf(MapOf(Nullable(Number(finite=False)), 100)),
    },
    other=Json(finite=False),
)
TRAINING = Record(
    {
        "steps": Whole(0),
        "epochs": Whole(0),
        "batch_size": Whole(1),
        "learning_rate": Nullable(Number(0.0)),
        "lr_test": Nullable(Record({})),
        "device": Text(1000, min_len=0),
        "budget_seconds": Nullable(Number(0.0)),
        "seconds": Number(0.0),
        # where the seconds went (preparing, lr_test, data_wait, steps, validation, final) and the budget's
        # share spent in training steps
        "phase_seconds": MapOf(Number(0.0), 40),
        "step_share": Nullable(Number(0.0)),
        # the final stage's seconds (with the last validation and a margin) as the training estimated them, and
        # the validation's seconds (network passes, search) they came from
        "final_estimate": Nullable(MapOf(Number(0.0), 10)),
        # the final stage's refinements left out because the budget was spent
        "final_skipped": ListOf(Text(200), 0, 10),
    }
)

#: The model a training started from (:meth:`core.training.transfer.Transfer.card_record`)
START = Record(
    {
        "key": Text(300),
        "name": Text(300),
        "sha256": Text(64, min_len=0),
        "training_type": Text(100, min_len=0),
        "task": Text(200, min_len=0),
        "labels": ListOf(Text(100, min_len=0), 0, MAX_LABELS),
        "label_map": MapOf(Whole(0), 20),
        "kept": ListOf(Text(1000), 0, 20),
        "new": ListOf(Text(1000), 0, 20),
    },
    required=("key", "name"),
)

#: The model card: field -> spec. Required fields: what building and running the network needs.
CARD = Record(
    {
        "format_version": Whole(1, FORMAT_VERSION),
        "architecture": Text(choices=ARCHITECTURES),
        "encoder": Text(choices=tuple(ENCODERS)),
        "smp_encoder": Text(100),
        "decoder_channels": ListOf(Whole(1, 4096), 1, 8),
        "encoder_depth": Whole(1, 5),
        "in_channels": Whole(1, MAX_CHANNELS),
        "dtype": Nullable(Text(choices=PIXEL_TYPES)),
        "input_dtype": Nullable(Text(choices=PIXEL_TYPES)),
        "out_channels": Whole(1, 4 * MAX_LABELS),
        "training_type": Text(choices=TRAINING_TYPES),
        "labels": ListOf(LABEL, 1, MAX_LABELS),
        "distance_head": Flag(),
        "output_layout": ListOf(OUTPUT_CHANNEL, 1, 4 * MAX_LABELS),
        "normalization": NORMALIZATION,
        "scale": Nullable(Scale()),
        "views": Whole(1, max(VIEW_COUNTS)),
        "patch_size": Whole(32, 8192, multiple_of=32),
        "largest_box": Whole(0),  # detection: the longest side of the training's boxes (pixels)
        "halo": Whole(0, 8192, multiple_of=32),
        "loss": Text(1000),
        "input_padding": Text(1000),
        "seed": Whole(),
        "config": Record({}),
        "split": Record({"train": ListOf(Text(1000)), "val": ListOf(Text(1000))}),
        "data_hashes": MapOf(Text(200, min_len=0), 1000),
        "package_versions": MapOf(Text(200, min_len=0), 200),
        "created_at": Text(64),
        "name": Text(200),
        "training_name": Text(200),
        "display_name": Text(200),  # a name given on the Models page (imported packages)
        "postprocess": Nullable(Postprocess()),
        "metrics": METRICS,
        "training": TRAINING,
        "start": Nullable(START),
        # a model imported from bioimage.io: the description's input, outputs and TorchScript weights as
        # core.bioimageio.rdf reads them (it checks them whenever the model loads)
        "bioimageio": Record({}, other=Json()),
        # a model shipped with segstudio (core.starters): the data it learnt from, the command that rebuilds it
        "shipped": Record({}, other=Json()),
    },
    required=("format_version", "architecture", "in_channels", "out_channels", "training_type", "labels",
              "normalization", "distance_head"),
)


# The checks -----------------------------------------------------------------------------------------------
def check_card(card: object, package_dir: Path | str) -> dict:
    """``card`` when it matches :data:`CARD` and its fields agree; else :class:`ModelPackageError` naming the
    field, the value found, what is expected and what to do."""
    where = f"the model card in {package_dir}"
    if not isinstance(card, dict):
        raise ModelPackageError(f"{where} is {shown(card)}, not a JSON object; {FIX}")
    _check_version(card, where)
    try:
        CARD.check(card, "")
        _check_agreement(card)
    except Invalid as bad:
        found = "is missing" if bad.value is MISSING else f"is {shown(bad.value)}"
        raise ModelPackageError(
            f"{where}: the field {bad.path} {found}; expected {bad.expected}. "
            f"The package cannot be used: {FIX}"
        ) from None
    return card


def _check_version(card: dict, where: str) -> None:
    version = card.get("format_version", MISSING)
    if is_whole(version) and version > FORMAT_VERSION:
        raise ModelPackageError(
            f"{where} has format version {version}, newer than this segstudio reads ({FORMAT_VERSION}); "
            "update segstudio to use it"
        )
    if not is_whole(version) or version < 1:
        found = "is missing" if version is MISSING else f"is {shown(version)}"
        wanted = f"a whole number from 1 to {FORMAT_VERSION}" if FORMAT_VERSION > 1 else "the whole number 1"
        hint = f" (write {version}, without quotes)" if isinstance(version, str) and version.isdigit() else ""
        raise ModelPackageError(
            f"{where}: the field format_version {found}, the wrong type or value; expected {wanted}{hint}. "
            f"The package cannot be used: {FIX}"
        )


def _check_agreement(card: dict) -> None:
    architecture = card["architecture"]
    if architecture in ENCODER_ARCHITECTURES and "encoder" not in card:
        raise Invalid("encoder", MISSING, f"one of {list(ENCODERS)} (the {architecture} network's encoder)")
    if architecture == BIOIMAGEIO_ARCHITECTURE and "bioimageio" not in card:
        raise Invalid("bioimageio", MISSING, "the imported bioimage.io description's input and outputs")
    labels = card["labels"]
    for key in ("id", "name"):
        values = [lab[key] for lab in labels]
        if len(set(values)) != len(values):
            raise Invalid(f"labels[*].{key}", values, f"a different {key} for each label")
    expected = out_channels(card["training_type"], len(labels), distance=card["distance_head"])
    if card["out_channels"] != expected:
        head = " with a distance head" if expected > 3 * len(labels) else ""
        raise Invalid("out_channels", card["out_channels"],
                      f"{expected} for {len(labels)} {card['training_type']} label(s){head}")
    _check_normalization(card)
    if "output_layout" in card and len(card["output_layout"]) != expected:
        raise Invalid("output_layout", card["output_layout"], f"one entry per output channel ({expected})")
    if card.get("views", 1) not in VIEW_COUNTS:
        raise Invalid("views", card["views"], f"one of {list(VIEW_COUNTS)}")
    _check_postprocess_labels(card.get("postprocess"), labels)


def _check_normalization(card: dict) -> None:
    """The normalisation record against the card: values per input channel, in order (a model imported
    from bioimage.io has its package's steps instead, and only it)."""
    norm = card["normalization"]
    if norm.get("method") == "bioimageio" or card["architecture"] == BIOIMAGEIO_ARCHITECTURE:
        if (norm.get("method") == "bioimageio") != (card["architecture"] == BIOIMAGEIO_ARCHITECTURE):
            raise Invalid("normalization.method", norm.get("method", MISSING),
                          "'bioimageio' exactly for a model imported from bioimage.io")
        return
    for key in NORMALIZATION_VALUES:
        if key not in norm:
            raise Invalid(f"normalization.{key}", MISSING, "one value per input channel")
    for key in ("low", "high"):
        if len(norm[key]) != card["in_channels"]:
            wanted = f"one value per input channel ({card['in_channels']})"
            raise Invalid(f"normalization.{key}", norm[key], wanted)
    per_channel = {f"reference.{k}": v for k, v in (norm.get("reference") or {}).items() if k != "images"}
    if "stretch_floor" in norm:
        per_channel["stretch_floor"] = norm["stretch_floor"]
        if "stretch" not in (norm.get("reference") or {}):
            raise Invalid("normalization.reference.stretch", MISSING, "the training images' stretch per channel "
                          "(stretch_floor is measured against it)")
    for key, values in per_channel.items():
        if len(values) != card["in_channels"]:
            raise Invalid(f"normalization.{key}", values, f"one value per input channel ({card['in_channels']})")
    for i, (low, high) in enumerate(zip(norm["low"], norm["high"], strict=True)):
        if not high > low:
            raise Invalid(f"normalization.high[{i}]", high, f"a number above normalization.low[{i}] ({low})")
    if norm.get("scope") == "image":
        missing = [k for k in ("low_percentile", "high_percentile") if k not in norm]
        if missing:
            raise Invalid(f"normalization.{missing[0]}", MISSING, "a percentile (scope 'image' uses both)")
    percentiles = norm.get("low_percentile"), norm.get("high_percentile")
    if None not in percentiles and not percentiles[0] < percentiles[1]:
        raise Invalid("normalization.high_percentile", norm["high_percentile"],
                      f"a percentile above low_percentile ({norm['low_percentile']})")


def _check_postprocess_labels(raw: object, labels: list[dict]) -> None:
    if isinstance(raw, list) and len(raw) != len(labels):
        raise Invalid("postprocess", raw, f"one entry per label ({len(labels)})")
    if isinstance(raw, dict) and not set(raw) & VALUE_KEYS:
        known = {str(lab["name"]) for lab in labels} | {str(lab["id"]) for lab in labels}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise Invalid(f"postprocess.{unknown[0]}", raw[unknown[0]],
                           f"values keyed by one of the labels' names or ids {sorted(known)}")
