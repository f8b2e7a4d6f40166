"""The rules of a classification training and its split stratified by class (core.training.split), and
the classification entry asking them (the wizard and the queue go through the entry)."""

from __future__ import annotations

from collections import Counter

import pytest

from core.errors import TrainingRuleError
from core.training.split import SplitImage, check_class_rules, make_class_split, stratified_split
from core.training.types import training_type

NAMES = {1: "basophil", 2: "eosinophil", 3: "platelet"}


def _images(per_class: dict[int, int]) -> list[SplitImage]:
    out, next_id = [], 0
    for label, n in per_class.items():
        for _ in range(n):
            out.append(SplitImage(next_id, f"cell{next_id}.png", annotated=True, labels_present={label},
                                  primary=label))
            next_id += 1
    return out


def _class(images: list[SplitImage], ids) -> Counter:
    by_id = {im.id: im for im in images}
    return Counter(by_id[i].primary for i in ids)


def test_enough_classes_and_images_has_no_problem():
    assert check_class_rules(_images({1: 5, 2: 2}), [1, 2], label_names=NAMES) == []


def test_fewer_than_two_classes_is_reported_with_the_count():
    problems = check_class_rules(_images({1: 5}), [1], label_names=NAMES)
    assert problems == [
        "Select at least 2 classes: a classifier tells classes apart, and this selection has 1."]


def test_a_class_with_one_image_is_named_with_its_count():
    problems = check_class_rules(_images({1: 5, 2: 1, 3: 0}), [1, 2, 3], label_names=NAMES)
    assert len(problems) == 1
    assert "at least 2 images" in problems[0]
    assert "'eosinophil' (1), 'platelet' (0) have fewer" in problems[0]
    assert "Give more images that class, or deselect it" in problems[0]


def test_background_images_do_not_apply_and_are_named():
    images = [*_images({1: 3, 2: 3}), SplitImage(50, "empty.png", annotated=False, background=True)]
    problems = check_class_rules(images, [1, 2], label_names=NAMES)
    assert problems == ["Background-only images do not apply to image classification (every example is an "
                        "image or ROI of a class); deselect 'empty.png'."]


def test_manual_split_needs_every_class_in_validation_and_in_training():
    images = _images({1: 3, 2: 3})  # ids 0-2 basophil, 3-5 eosinophil
    problems = check_class_rules(images, [1, 2], mode="manual", train_ids=[0, 1, 3, 4], val_ids=[2],
                                 label_names=NAMES)
    assert problems == ["The validation set must contain every selected class; 'eosinophil' is missing. "
                        "Move an image of that class to validation."]
    problems = check_class_rules(images, [1, 2], mode="manual", train_ids=[0, 1], val_ids=[2, 5],
                                 label_names=NAMES)
    assert problems == ["The training set must contain every selected class; 'eosinophil' is missing. "
                        "Move an image of that class to training."]
    assert check_class_rules(images, [1, 2], mode="manual", train_ids=[0, 1, 3, 4], val_ids=[2, 5]) == []


def test_manual_split_overlap_and_unknown_ids_are_reported():
    images = _images({1: 3, 2: 3})
    problems = check_class_rules(images, [1, 2], mode="manual", train_ids=[0, 3, 99], val_ids=[0, 5])
    text = " ".join(problems)
    assert "[99] are not in the selection" in text
    assert "'cell0.png' are in both the training and the validation set" in text


def test_stratified_split_is_80_20_within_each_class_with_every_class_in_validation():
    images = _images({1: 50, 2: 10, 3: 2})
    split = stratified_split(images, [1, 2, 3], seed=0)
    assert _class(images, split.val) == {1: 10, 2: 2, 3: 1}
    assert _class(images, split.train) == {1: 40, 2: 8, 3: 1}
    assert not set(split.train) & set(split.val)
    assert stratified_split(images, [1, 2, 3], seed=0) == split  # seeded
    assert stratified_split(images, [1, 2, 3], seed=1) != split


def test_stratified_split_follows_the_primary_class_and_skips_images_without_a_selected_class():
    images = [*_images({1: 4, 2: 4}),
              SplitImage(20, "mixed.png", annotated=True, labels_present={1, 2}, primary=2),
              SplitImage(21, "other.png", annotated=True, labels_present={3}, primary=3)]
    split = stratified_split(images, [1, 2], seed=0)
    assert 21 not in split.train + split.val
    assert 20 in split.train + split.val
    assert _class(images, split.train + split.val)[2] == 5


def test_make_class_split_refuses_broken_rules_with_the_reasons():
    with pytest.raises(TrainingRuleError, match="at least 2 images"):
        make_class_split(_images({1: 4, 2: 1}), [1, 2])
    manual = make_class_split(_images({1: 2, 2: 2}), [1, 2], mode="manual", train_ids=[0, 2], val_ids=[1, 3])
    assert manual.to_dict() == {"train": [0, 2], "val": [1, 3]}


def test_the_classification_entry_asks_the_class_rules_and_the_stratified_split():
    kind = training_type("classification")
    images = _images({1: 10, 2: 5})
    assert kind.training_rules(images, [1], mode="random") == check_class_rules(images, [1])
    split = kind.split(images, [1, 2], mode="random", seed=3)
    assert split == stratified_split(images, [1, 2], seed=3)
    assert (kind.min_labels, kind.uses_background, kind.roi_only_applies) == (2, False, False)
    assert training_type("instance").training_rules(images, [1], mode="random") == []  # the pixel rules
