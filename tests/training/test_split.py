from __future__ import annotations

import pytest

from core.errors import TrainingRuleError
from core.training.split import SplitImage, check_training_rules, make_split, random_split


def _images(n: int, labels_of=lambda i: {1}) -> list[SplitImage]:
    return [SplitImage(i, f"img{i}.tif", annotated=True, labels_present=labels_of(i)) for i in range(n)]


def test_valid_random_selection_has_no_problem():
    assert check_training_rules(_images(5), [1]) == []


def test_no_label_is_reported():
    problems = check_training_rules(_images(5), [])
    assert any("at least 1 label" in p for p in problems)


def test_fewer_than_two_annotated_images_is_reported_with_the_count():
    images = _images(1) + [SplitImage(9, "bg.tif", annotated=False, background=True)]
    problems = check_training_rules(images, [1])
    assert any("At least 2 annotated images" in p and "has 1" in p for p in problems)


def test_label_never_annotated_is_reported_by_name():
    problems = check_training_rules(_images(3), [1, 2], label_names={1: "nucleus", 2: "mito"})
    assert len(problems) == 1 and "'mito'" in problems[0]


def test_manual_split_every_rule_gives_its_reason():
    images = _images(4, labels_of=lambda i: {1} if i < 3 else {1, 2}) + [
        SplitImage(10, "bg.tif", annotated=False, background=True)
    ]
    # empty training list, validation with only a background image, missing label 2 is then not checked
    problems = check_training_rules(images, [1, 2], mode="manual", train_ids=[10], val_ids=[10, 99])
    text = " ".join(problems)
    assert "not in the selection" in text  # 99
    assert "in both the training and the validation set" in text  # 10
    assert "training set needs at least 1 annotated image" in text
    assert "validation set needs at least 1 annotated image" in text
    # validation lacks label 2
    problems = check_training_rules(images, [1, 2], mode="manual", train_ids=[0, 3], val_ids=[1],
                                    label_names={2: "mito"})
    assert problems == [
        "The validation set must contain every selected label; 'mito' is missing. "
        "Add a validation image annotated with it."
    ]
    assert check_training_rules(images, [1, 2], mode="manual", train_ids=[0, 1, 10], val_ids=[3]) == []


def test_make_split_raises_with_every_reason():
    with pytest.raises(TrainingRuleError) as err:
        make_split(_images(1), [], mode="random")
    assert "at least 1 label" in str(err.value) and "At least 2 annotated images" in str(err.value)


def test_random_split_is_seeded_80_20_and_by_image():
    images = _images(10)
    a = random_split(images, [1], seed=3)
    b = random_split(images, [1], seed=3)
    c = random_split(images, [1], seed=4)
    assert a == b
    assert a != c
    assert len(a.val) == 2 and len(a.train) == 8
    assert set(a.train).isdisjoint(a.val) and set(a.train) | set(a.val) == set(range(10))


def test_random_split_puts_every_label_in_validation():
    # label 2 in images 0 and 1 only, label 3 in images 8 and 9 only
    def labels_of(i):
        return {1} | ({2} if i in (0, 1) else set()) | ({3} if i in (8, 9) else set())

    images = _images(10, labels_of)
    for seed in range(20):
        split = random_split(images, [1, 2, 3], seed=seed)
        val_labels = set().union(*(images[i].labels_present for i in split.val))
        train_labels = set().union(*(images[i].labels_present for i in split.train))
        assert {1, 2, 3} <= val_labels and {1, 2, 3} <= train_labels


def test_background_images_are_negatives_in_both_sets():
    images = _images(5) + [SplitImage(100 + i, f"bg{i}", annotated=False, background=True) for i in range(5)]
    split = random_split(images, [1], seed=0)
    bg_val = [i for i in split.val if i >= 100]
    bg_train = [i for i in split.train if i >= 100]
    assert len(bg_val) == 1 and len(bg_train) == 4
    assert len([i for i in split.val if i < 100]) == 1
