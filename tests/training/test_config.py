from __future__ import annotations

import json

import pytest

from core.errors import InvalidInputError
from core.training.config import AugmentOptions, LabelSpec, TrainConfig


def test_round_trip_through_json():
    cfg = TrainConfig(
        training_type="instance",
        labels=(LabelSpec(1, "nucleus", "#ff0000"), LabelSpec(2, "cell", "#00ff00")),
        batch_size=4,
        learning_rate="auto",
        roi_only=True,
        augment=AugmentOptions(elastic=False),
    )
    data = json.loads(json.dumps(cfg.to_dict()))
    assert TrainConfig.from_dict(data) == cfg


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"training_type": "panoptic"}, "training type 'panoptic'"),  # not a type of the registry
        ({"labels": ()}, "no label chosen"),
        ({"patch_size": 100}, "multiple of 32"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"learning_rate": 5.0}, "learning_rate=5.0"),
        ({"labels": (LabelSpec(1, "a", "red"),)}, "use #rrggbb"),
        ({"average_from": 1.0}, "average_from=1.0 must be None"),
        ({"average_from": -0.1}, "average_from=-0.1"),
        ({"average_from": True}, "average_from=True"),
        ({"average_from": "half"}, "average_from='half'"),
        ({"contact_weight": -1.0}, "contact_weight=-1.0 must be a number from 0"),
        ({"contact_weight": True}, "contact_weight=True"),
        ({"contact_weight": 1000}, "contact_weight=1000"),
        ({"edge_rays": 1}, "edge_rays=1 must be True"),
    ],
)
def test_bad_values_are_named(change, words):
    base = {"training_type": "semantic", "labels": (LabelSpec(1, "a"),)}
    with pytest.raises(InvalidInputError, match=words):
        TrainConfig(**{**base, **change})


def test_unknown_keys_are_listed():
    data = TrainConfig(training_type="semantic", labels=(LabelSpec(1, "a"),)).to_dict()
    data["colour_mode"] = "x"
    with pytest.raises(InvalidInputError, match="colour_mode"):
        TrainConfig.from_dict(data)


def test_the_zoom_augmentation_is_checked_and_kept():
    import pytest

    from core.errors import InvalidInputError

    cfg = TrainConfig(training_type="instance", labels=(LabelSpec(1, "nucleus"),),
                      augment=AugmentOptions(zoom=1.6))
    assert TrainConfig.from_dict(cfg.to_dict()).augment.zoom == 1.6
    for bad in (0.5, 10.0, "big"):
        with pytest.raises(InvalidInputError, match="zoom"):
            TrainConfig(training_type="instance", labels=(LabelSpec(1, "nucleus"),),
                        augment=AugmentOptions(zoom=bad))
