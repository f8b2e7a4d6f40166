"""Fitting images to the classifier's input, tiles, batch augmentation and the batch order."""

import numpy as np
import pytest
import torch

from core.classification.augment import augment_batch, describe_augmentation
from core.classification.data import batch_indices, class_weights
from core.classification.examples import ArrayExample, check_examples, read_checked
from core.classification.fitting import fit_image, fit_record, tile_boxes
from core.errors import InvalidInputError
from core.training.config import AugmentOptions


def test_fit_image_resizes_normalises_and_pads_with_the_median():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 200, (2, 60, 30)).astype(np.uint8)  # tall: padded left and right
    out = fit_image(image, 32)
    assert out.shape == (2, 32, 32) and out.dtype == np.float32
    inner = out[:, :, 8:24]  # 30 px wide at 60 px tall -> 16 px at 32
    for c in range(2):
        lo, hi = np.percentile(inner[c], [1, 99.8])
        assert lo == pytest.approx(0.0, abs=0.05) and hi == pytest.approx(1.0, abs=0.05)
        assert np.allclose(out[c, :, :8], np.median(inner[c]), atol=0.02)  # padding: the median


def test_8_and_16_bit_versions_of_one_image_fit_alike():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, (1, 48, 48))
    eight = fit_image((base * 255).astype(np.uint8), 32)
    sixteen = fit_image((base * 60000).astype(np.uint16), 32)
    assert np.abs(eight - sixteen).max() < 0.02


def test_a_flat_image_fits_to_zero_instead_of_dividing_by_zero():
    out = fit_image(np.full((3, 20, 20), 7, np.uint16), 32)
    assert np.isfinite(out).all() and np.allclose(out, 0.0)


def test_small_images_are_resized_whole_and_large_ones_cut_into_tiles():
    record = fit_record([40, 44, 40, 36], 32)
    assert record["reference_side"] == 40 and record["size"] == 32 and record["mode"] == "resize"
    assert tile_boxes(60, 80, record) == [(0, 0, 60, 80)]  # within 2x the typical side
    boxes = tile_boxes(100, 170, record)
    assert len(boxes) == 3 * 5
    assert all(h == w == 40 for _, _, h, w in boxes)
    covered = np.zeros((100, 170), bool)
    for y, x, h, w in boxes:
        covered[y : y + h, x : x + w] = True
    assert covered.all()
    assert tile_boxes(30, 400, record)[0] == (0, 0, 30, 40)  # a thin strip: tiles clipped to the image


def test_fit_record_refuses_a_bad_size():
    with pytest.raises(InvalidInputError, match="input size"):
        fit_record([40], 16)


def test_augmentation_is_seeded_keeps_shapes_and_does_nothing_when_off():
    x = torch.rand(4, 3, 32, 32)
    on = AugmentOptions()
    a = augment_batch(x, on, torch.Generator().manual_seed(3))
    b = augment_batch(x, on, torch.Generator().manual_seed(3))
    c = augment_batch(x, on, torch.Generator().manual_seed(4))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    off = AugmentOptions(flips=False, rot90=False, elastic=False, intensity=False, noise=False)
    assert torch.equal(augment_batch(x, off, torch.Generator().manual_seed(3)), x)
    assert describe_augmentation(off) == "No augmentation."
    assert "rotation by any angle" in describe_augmentation(on)


def test_a_mirror_only_augmentation_mirrors_or_keeps_each_example():
    x = torch.rand(8, 1, 32, 32)
    only = AugmentOptions(flips=True, rot90=False, elastic=False, intensity=False, noise=False)
    out = augment_batch(x, only, torch.Generator().manual_seed(0))
    for i in range(8):
        same = torch.allclose(out[i], x[i], atol=1e-5)
        mirrored = torch.allclose(out[i], x[i].flip(-1), atol=1e-5)
        assert same or mirrored


def test_batches_cover_every_example_once_per_pass_and_continue_across_passes():
    n, bs = 10, 4
    stream = np.concatenate([batch_indices(s, n, bs, seed=2) for s in range(5)])  # 20 = two passes
    assert sorted(stream[:10]) == list(range(10)) and sorted(stream[10:]) == list(range(10))
    assert not np.array_equal(stream[:10], stream[10:])
    assert np.array_equal(batch_indices(3, n, bs, seed=2), stream[12:16])


def test_class_weights_favour_rare_classes_and_average_one_per_example():
    y = torch.tensor([0] * 9 + [1] * 1)
    w = class_weights(y, 3)
    assert w[1] > w[0] and w[2] == pytest.approx(w[2])  # class 2 has no example
    assert float(w[y].mean()) == pytest.approx(1.0)
    assert float(w[1] / w[0]) == pytest.approx(3.0)  # sqrt(9 / 1)


def test_examples_are_checked_with_messages_that_name_the_example():
    good = ArrayExample("a", np.zeros((1, 8, 8), np.uint8), 0)
    assert check_examples([good], 2, "training") == 1
    with pytest.raises(InvalidInputError, match="'b' has class index 5"):
        check_examples([good, ArrayExample("b", np.zeros((8, 8)), 5)], 2, "training")
    with pytest.raises(InvalidInputError, match="different channel counts"):
        check_examples([good, ArrayExample("c", np.zeros((3, 8, 8)), 1)], 2, "validation")
    with pytest.raises(InvalidInputError, match="no example"):
        check_examples([], 2, "validation")
    liar = ArrayExample("d", np.zeros((1, 8, 8)), 0)
    liar.shape = (1, 9, 9)
    with pytest.raises(InvalidInputError, match="disagree"):
        read_checked(liar)
