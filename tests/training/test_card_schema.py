"""The model card schema: cards of earlier versions still pass; each kind of wrong value names its field."""

from __future__ import annotations

import copy
import json
import math

import pytest

from core.errors import ModelPackageError
from core.training.card_schema import check_card


def _first_card() -> dict:
    """A card as the first training engine (d91b222) wrote it: no dtype, encoder_depth, scale, views or loss;
    post-processing per label; a score that never improved recorded as -Infinity."""
    labels = [{"id": 3, "name": "nucleus", "color": "#ff0000"}, {"id": 4, "name": "cell", "color": "#00FF00"}]
    return {
        "format_version": 1, "architecture": "smp.Unet", "encoder": "resnet18", "smp_encoder": "resnet18",
        "decoder_channels": [256, 128, 64, 32, 16], "in_channels": 2, "out_channels": 6,
        "training_type": "instance", "labels": labels, "distance_head": False,
        "output_layout": [{"channel": i, "label_id": 3 + i // 3, "label": labels[i // 3]["name"],
                           "map": ("background", "interior", "boundary")[i % 3], "activation": "softmax3"}
                          for i in range(6)],
        "normalization": {"method": "percentile", "low_percentile": 1.0, "high_percentile": 99.8,
                          "low": [10.0, 0.0], "high": [900.5, 255.0]},
        "patch_size": 256, "input_padding": "reflect to a multiple of 32", "seed": 0,
        "config": {"training_type": "instance", "learning_rate": "auto", "batch_size": "auto"},
        "split": {"train": ["image:1"], "val": ["image:2"]}, "data_hashes": {"image:1": "ab" * 32},
        "package_versions": {"python": "3.11.7", "torch": "2.3.0"}, "created_at": "2025-01-01T00:00:00+00:00",
        "postprocess": [
            {"label_id": 3, "label": "nucleus", "threshold": 0.5, "seed_threshold": 0.7, "min_size": 10},
            {"label_id": 4, "label": "cell", "threshold": 0.4, "seed_threshold": 0.6, "min_size": 0},
        ],
        "metrics": {"per_label": [], "best_epoch": 0, "best_val_score": -math.inf, "weight_average": None,
                    "history": [{"epoch": 1, "train_loss": math.nan, "val_f1": None}]},
        "training": {"steps": 10, "epochs": 1, "batch_size": 4, "learning_rate": 0.001, "lr_test": None,
                     "device": "cpu", "budget_seconds": 60.0, "seconds": 12.5},
    }


def test_cards_of_earlier_versions_pass():
    card = _first_card()
    assert check_card(json.loads(json.dumps(card)), "old") is not None
    required = ("format_version", "architecture", "encoder", "in_channels", "out_channels", "training_type",
                "labels", "normalization", "distance_head")
    minimal = {k: card[k] for k in required}
    minimal["normalization"] = {"low": [0, 0], "high": [1, 1]}
    check_card(minimal, "minimal")
    check_card({**minimal, "scale": 0.5, "views": 8, "dtype": "uint8", "halo": 96, "loss": "Dice"}, "x")
    check_card({**minimal, "scale": {"factor": 1.0, "rule": "set by the user"}}, "x")
    check_card({**minimal, "postprocess": {"threshold": 0.3}}, "x")  # one set of values for every label
    check_card({**minimal, "postprocess": {"cell": {"min_size": 4}, "3": {"threshold": 0.2}}}, "x")


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("labels", 0), 1, r"labels\[0\] is 1"),
        (("normalization", "scope"), "auto", r"normalization\.scope is 'auto'.*\['dataset', 'image'\]"),
        (("postprocess", 1, "seed_threshold"), math.inf, r"postprocess\[1\]\.seed_threshold is inf"),
        (("metrics", "history"), {"epoch": 1}, r"metrics\.history is \{'epoch': 1\} \(an object\)"),
        (("output_layout", 0, "map"), "logits", r"output_layout\[0\]\.map is 'logits'"),
        (("split", "train"), "image:1", r"split\.train is 'image:1' \(text\)"),
        (("training", "learning_rate"), -1, r"training\.learning_rate is -1"),
        (("in_channels",), True, r"in_channels is True \(true/false\)"),
        (("patch_size",), 100, r"patch_size is 100 .*a multiple of 32"),
    ],
)
def test_a_wrong_value_names_its_field(path, value, match):
    card = copy.deepcopy(_first_card())
    node = card
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ModelPackageError, match=match):
        check_card(card, "pkg")


def test_per_label_values_must_name_a_label_and_percentiles_must_be_ordered():
    card = _first_card()
    with pytest.raises(ModelPackageError, match=r"postprocess\.nuclei .*one of the labels' names or ids"):
        check_card({**card, "postprocess": {"nuclei": {"threshold": 0.5}}}, "pkg")
    norm = {**card["normalization"], "low_percentile": 99.0, "high_percentile": 1.0}
    with pytest.raises(ModelPackageError, match=r"normalization\.high_percentile is 1\.0"):
        check_card({**card, "normalization": norm}, "pkg")
    with pytest.raises(ModelPackageError, match=r"postprocess is .*one entry per label \(2\)"):
        check_card({**card, "postprocess": card["postprocess"][:1]}, "pkg")
