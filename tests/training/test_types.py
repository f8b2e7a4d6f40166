"""The registry of training types: one entry per type, the same interface, and no type questions elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import InvalidInputError
from core.training import config as config_module
from core.training import card_schema
from core.training.types import TRAINING_TYPES, TrainingType, training_type
from tests.training.synth import config, discs

ROOT = Path(__file__).resolve().parents[2]
_ASKS = re.compile(r'training_type\s*[!=]=|[!=]=\s*"(instance|semantic|detection|classification)"')


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(InvalidInputError) as err:
        training_type("segmentation")
    assert all(name in str(err.value) for name in TRAINING_TYPES)
    with pytest.raises(InvalidInputError):
        training_type(None)


def test_the_configuration_and_the_card_schema_take_their_names_from_the_registry():
    assert config_module.TRAINING_TYPES == tuple(TRAINING_TYPES)
    assert card_schema.TRAINING_TYPES is config_module.TRAINING_TYPES
    with pytest.raises(InvalidInputError, match="semantic"):
        config("segmentation")


#: the entries with network maps (classification answers with class probabilities: tests/classification)
MAP_TYPES = [name for name, kind in TRAINING_TYPES.items() if kind.result_kind != "classes"]


@pytest.mark.parametrize("name", MAP_TYPES)
def test_each_entry_answers_the_same_interface_consistently(name):
    kind = TRAINING_TYPES[name]
    assert isinstance(kind, TrainingType) and kind.name == name and kind.annotation_kinds
    labels = [{"id": 7, "name": "nucleus"}, {"id": 8, "name": "membrane"}]
    distance = kind.distance(True)
    n_out = kind.out_channels(2, distance=distance)
    layout = kind.output_layout(labels, distance=distance)
    assert [c["channel"] for c in layout] == list(range(n_out))
    assert kind.training_channels(2, distance=distance, rays=False) == n_out
    logits = torch.randn(1, kind.training_channels(2, distance=distance, rays=True), 32, 32)
    maps = {k: v[0].numpy() for k, v in kind.logits_to_maps(logits, 2, distance=distance).items()}
    assert set(kind.maps_used) <= set(maps) and kind.foreground(maps).shape == (2, 32, 32)
    image, instances = discs(0, size=64)
    both = np.concatenate([instances, instances])
    truth = {"instances": both, "masks": both > 0}
    gt = kind.ground_truth(truth)
    assert gt.dtype == (np.int32 if kind.object_ids else bool) and gt.shape == (2, 64, 64)
    cfg = config(name, labels=({"id": 7, "name": "nucleus"}, {"id": 8, "name": "membrane"}))
    targets = kind.network_targets(gt, np.ones((64, 64), bool), cfg, rays=False)
    tlogits = torch.randn(1, n_out, 64, 64)
    ttargets = {k: torch.from_numpy(np.ascontiguousarray(v)).unsqueeze(0) for k, v in targets.items()}
    assert torch.isfinite(kind.loss(tlogits, ttargets))
    values = kind.default_postprocess()
    plane = kind.result_plane(maps, 0, {**values, "min_size": 0})
    assert plane.shape == (32, 32) and kind.objects_plane(maps, 0, values).shape == (32, 32)
    assert kind.score_key in ("mean_iou", "mean_f1", "map_50") and kind.label_file_suffix
    assert set(kind.card_fields(cfg)) == {"distance_head"}


@pytest.mark.parametrize("name", list(TRAINING_TYPES))
def test_each_entry_names_its_curves_and_where_the_kept_model_marks_them(name):
    kind = TRAINING_TYPES[name]
    assert 3 <= len(kind.curves) <= 4 and kind.curves[0][2:] == ("train_loss", "val_loss")
    for title, ylabel, train_key, val_key in kind.curves:
        assert title and ylabel and train_key.startswith("train_") and val_key == "val_" + train_key[6:]
    validation = {chart[3] for chart in kind.curves}
    assert kind.kept_scores and set(kind.kept_scores) <= validation  # a star only on a drawn curve
    key, shown = kind.headline
    assert key and shown


def test_detection_curves_are_its_epoch_records_keys():
    kind = training_type("detection")
    assert [chart[0] for chart in kind.curves] == ["Loss", "mAP@0.5", "Precision", "Recall"]
    assert kind.kept_scores == {"val_map50": "map_50", "val_precision": "precision", "val_recall": "recall"}
    assert kind.headline[0] == "map_50"


def test_no_code_outside_the_registry_asks_which_type_it_has():
    found = []
    for folder in ("core", "pages", "ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.is_relative_to(ROOT / "core" / "training" / "types"):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _ASKS.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "ask the training type's registry entry instead:\n" + "\n".join(found)
