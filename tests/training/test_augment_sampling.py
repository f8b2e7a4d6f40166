from __future__ import annotations

import numpy as np

from core.training.augment import augment_patch
from core.training.config import AugmentOptions
from core.training.normalization import apply_normalization, compute_normalization, image_normalization
from core.training.sampling import PatchSampler, read_window
from core.training.sources import ArrayImage, TrainingImage
from tests.training.synth import config, discs, make_images


def _coordinate_patch(p: int = 48):
    yy, xx = np.mgrid[:p, :p]
    image = np.stack([yy, xx]).astype(np.float32)
    labels = np.stack([yy, xx]).astype(np.int32)
    return image, labels, np.ones((p, p), dtype=bool)


def test_geometric_augmentation_keeps_image_and_targets_aligned():
    options = AugmentOptions(intensity=False, noise=False, elastic=True, elastic_alpha=4.0, elastic_grid=16)
    deformed = 0
    for seed in range(12):
        image, labels, valid = _coordinate_patch()
        out_img, out_lab, out_valid = augment_patch(image, labels, valid, np.random.default_rng(seed), options)
        assert out_img.shape == image.shape and out_lab.shape == labels.shape and out_valid.shape == valid.shape
        assert out_img.dtype == np.float32 and out_lab.dtype == np.int32 and out_valid.dtype == bool
        # nearest (labels) vs linear (image) sampling of the same displacement: at most half a pixel apart
        diff = np.abs(out_img - out_lab)[:, out_valid]
        assert diff.max() <= 0.5 + 1e-4
        deformed += int(np.abs(out_img - np.round(out_img)).max() > 1e-3)
    assert deformed > 0  # the elastic deformation did run


def test_flips_and_rotations_are_exact_permutations():
    options = AugmentOptions(intensity=False, noise=False, elastic=False)
    image, labels, valid = _coordinate_patch(32)
    for seed in range(8):
        out_img, out_lab, _ = augment_patch(image, labels, valid, np.random.default_rng(seed), options)
        assert np.array_equal(out_img, out_lab.astype(np.float32))
        assert sorted(out_lab[0].ravel()) == sorted(labels[0].ravel())


def test_photometric_augmentation_touches_the_image_only():
    options = AugmentOptions(flips=False, rot90=False, elastic=False)
    image, labels, valid = _coordinate_patch(16)
    out_img, out_lab, out_valid = augment_patch(image, labels, valid, np.random.default_rng(0), options)
    assert not np.array_equal(out_img, image)
    assert np.array_equal(out_lab, labels) and np.array_equal(out_valid, valid)


def test_normalisation_maps_percentiles_to_zero_and_one():
    rng = np.random.default_rng(0)
    a = ArrayImage("a", rng.integers(0, 4096, (2, 64, 64)).astype(np.uint16), masks=np.zeros((1, 64, 64), bool))
    norm = compute_normalization([a], low=0.0, high=100.0)
    out = apply_normalization(a.read(0, 0, 64, 64), norm)
    assert out.dtype == np.float32
    assert np.allclose(out.reshape(2, -1).min(1), 0) and np.allclose(out.reshape(2, -1).max(1), 1)


def test_normalisation_reads_regions_of_large_images_only():
    reads = []

    def read(y, x, h, w):
        reads.append((h, w))
        return np.full((1, h, w), 7, dtype=np.uint16)

    big = TrainingImage("big", read, lambda *a: {}, (1, 20000, 30000), "uint16")
    norm = compute_normalization([big])
    assert reads and max(h * w for h, w in reads) <= 512 * 512
    assert norm["low"] == [7.0] and norm["high"] == [8.0]  # a flat channel maps to 0, never divides by 0


def test_small_images_are_padded_and_padding_is_not_valid():
    image, inst = discs(0, size=40)
    im = ArrayImage("small", image, instances=inst)
    norm = compute_normalization([im])
    pix, lab, valid = read_window(im, 0, 0, 64, norm, instance=True)
    assert pix.shape == (1, 64, 64) and lab.shape == (1, 64, 64)
    assert valid[:40, :40].all() and not valid[40:].any() and not valid[:, 40:].any()
    assert np.array_equal(lab[0, :40, :40], inst[0])


def test_batches_are_deterministic_biased_to_objects_and_shaped():
    images = make_images(3)
    cfg = config("instance", object_bias=1.0)
    norm = compute_normalization(images)
    sampler = PatchSampler(images, cfg, norm, batch_size=4)
    a, b = sampler.batch(5), sampler.batch(5)
    assert np.array_equal(a.x, b.x) and all(np.array_equal(a.targets[k], b.targets[k]) for k in a.targets)
    assert a.x.shape == (4, 1, 64, 64) and a.x.dtype == np.float32
    assert a.targets["cls"].shape == (4, 1, 64, 64) and set(np.unique(a.targets["cls"])) <= {0, 1, 2}
    assert a.targets["dist"].shape == (4, 1, 64, 64) and a.targets["dist"].max() <= 1.0
    assert set(np.unique(a.targets["weight"])) <= {1.0, 1.0 + cfg.contact_weight}
    unweighted = PatchSampler(images, config("instance", contact_weight=0.0), norm, batch_size=1)
    assert "weight" not in unweighted.batch(0).targets
    assert a.targets["rays"].shape == (4, 16, 32, 32) and a.targets["rays"].dtype == np.float32  # every 2nd
    assert a.targets["ray_cut"].shape == (4, 16, 32, 32) and a.targets["ray_cut"].dtype == bool
    objects = a.targets["cls"][:, 0, ::2, ::2] > 0
    assert (a.targets["rays"].transpose(1, 0, 2, 3)[:, objects] >= 0.5).all()
    assert (a.targets["rays"].transpose(1, 0, 2, 3)[:, ~objects] == 0).all()
    no_rays = PatchSampler(images, config("instance", edge_rays=False), norm, batch_size=1).batch(0)
    assert "rays" not in no_rays.targets and "ray_cut" not in no_rays.targets
    assert all((sampler.batch(i).targets["cls"] > 0).reshape(4, -1).any(1).all() for i in range(5))
    sem = PatchSampler(images, config("semantic"), norm, batch_size=2).batch(0)
    assert sem.targets["mask"].shape == (2, 1, 64, 64) and sem.targets["mask"].dtype == np.float32
    assert "rays" not in sem.targets


def test_edge_rays_that_end_on_pixels_without_ground_truth_count_as_cut():
    from core.training.sampling import network_targets

    labels = np.zeros((1, 32, 32), dtype=np.int32)
    labels[0, 4:10, 2:8] = 1
    valid = np.ones((32, 32), dtype=bool)
    valid[:, 8:] = False  # outside the ROI right of the object: it may go on there
    targets = network_targets(labels, valid, config("instance", patch_size=32))
    right, left = 0, 8  # RAY_STEPS indices of (0, 1) and (0, -1)
    assert targets["ray_cut"][right, 3, 2] and not targets["ray_cut"][left, 3, 2]  # pixel (6, 4) on the grid


def test_roi_only_patches_come_from_the_roi():
    image, inst = discs(1, size=256)
    valid = np.zeros((256, 256), bool)
    valid[150:250, 150:250] = True
    im = ArrayImage("roi", image, instances=np.zeros_like(inst), valid=valid, roi_boxes=[(150, 150, 250, 250)])
    cfg = config("semantic", roi_only=True, object_bias=0.0, augment=AugmentOptions(
        flips=False, rot90=False, elastic=False, intensity=False, noise=False))
    sampler = PatchSampler([im], cfg, compute_normalization([im]), batch_size=8)
    batch = sampler.batch(0)
    assert (batch.targets["valid"].reshape(8, -1).mean(1) > 0.2).all()


def test_image_scope_uses_each_images_own_percentiles_the_same_way_everywhere():
    rng = np.random.default_rng(3)  # dim: 4x darker, above the stretch floor (a quarter of the median range)
    empty = np.zeros((1, 40, 40), bool)
    dim = ArrayImage("dim", rng.integers(0, 1000, (1, 40, 40)).astype(np.uint16), masks=empty)
    bright = ArrayImage("bright", rng.integers(0, 4000, (1, 40, 40)).astype(np.uint16), masks=empty)
    norm = compute_normalization([dim, bright], scope="image")
    assert norm["scope"] == "image" and len(norm["low"]) == 1
    for im in (dim, bright):
        record = image_normalization(im, norm)
        whole = apply_normalization(im.read(0, 0, 40, 40), norm)  # inference: the whole image
        patch = apply_normalization(im.read(0, 0, 20, 20), record)  # training: a region, the image's record
        assert np.allclose(whole[:, :20, :20], patch)
        assert 0.9 < np.percentile(whole, 99.8) <= 1.0 + 1e-6
    assert image_normalization(dim, {**norm, "scope": "dataset"})["low"] == norm["low"]


def test_auto_scope_chooses_per_image_values_when_brightness_varies_between_images():
    rng = np.random.default_rng(4)
    empty = np.zeros((1, 40, 40), bool)
    dim = ArrayImage("dim", rng.integers(0, 100, (1, 40, 40)).astype(np.uint16), masks=empty)
    bright = ArrayImage("bright", rng.integers(0, 4000, (1, 40, 40)).astype(np.uint16), masks=empty)
    alike = ArrayImage("alike", rng.integers(0, 110, (1, 40, 40)).astype(np.uint16), masks=empty)
    varied = compute_normalization([dim, bright], scope="auto")
    assert varied["scope"] == "image" and varied["auto"]["spread"] > varied["auto"]["limit"]
    steady = compute_normalization([dim, alike], scope="auto")
    assert steady["scope"] == "dataset" and steady["auto"]["spread"] < steady["auto"]["limit"]
    assert compute_normalization([dim], scope="auto")["scope"] == "dataset"  # one image: nothing varies


def test_the_zoom_augmentation_shows_objects_larger_and_smaller_than_they_are():
    image, inst = discs(2, size=256)
    im = ArrayImage("discs", image, instances=inst)
    still = AugmentOptions(flips=False, rot90=False, elastic=False, intensity=False, noise=False)
    zoomed = AugmentOptions(flips=False, rot90=False, elastic=False, intensity=False, noise=False, zoom=2.0)
    norm = compute_normalization([im])

    def object_areas(options):
        sampler = PatchSampler([im], config("instance", object_bias=1.0, augment=options), norm, batch_size=1)
        areas = []
        for index in range(40):
            cls = sampler.batch(index).targets["cls"][0, 0]
            ids, counts = np.unique(cls > 0, return_counts=True)
            areas.append(counts[ids].sum() if ids.any() else 0)
        return np.array(areas, dtype=float)

    plain, varied = object_areas(still), object_areas(zoomed)
    assert varied.max() > 1.5 * plain.max() and varied.min() < 0.7 * np.median(plain)
    again = PatchSampler([im], config("instance", augment=zoomed), norm, batch_size=2)
    assert np.array_equal(again.batch(3).x, again.batch(3).x)  # still one batch per (seed, index)
    # off by default, and then no random draw: the batches of earlier trainings stay what they were
    assert AugmentOptions().zoom == 1.0
