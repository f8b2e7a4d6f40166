"""Tiled prediction: agreement with a whole-image pass, stitching, streaming output, progress, cancel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from core.errors import InvalidInputError, ModelPackageError
from core.evaluation.instance import match_instances
from core.imaging import open_image
from core.inference import PredictionCancelled, Predictor, open_labels, predict_image
from core.training.predict import predict_maps
from tests.inference.helpers import (
    Pointwise,
    bumps,
    pointwise_card,
    same_objects,
    synthetic_cells,
    whole_image_labels,
    whole_image_maps,
)


def _agreement(tiled: np.ndarray, whole: np.ndarray) -> tuple[float, float]:
    pixels = float(((tiled > 0) == (whole > 0)).mean())
    counts = abs(int(tiled.max()) - int(whole.max())) / max(int(whole.max()), 1)
    return pixels, counts


@pytest.mark.parametrize("kind", ["instance", "semantic"])
def test_tiled_agrees_with_whole_image_across_many_blocks(kind, instance_predictor, semantic_predictor):
    predictor = instance_predictor if kind == "instance" else semantic_predictor
    image, truth = synthetic_cells((256, 448), seed=11)
    result = predict_image(image, predictor, tile=128, halo=64, block=256, context=64)
    whole = whole_image_labels(predictor, image)
    pixels, counts = _agreement(result.labels[0], whole)
    assert pixels >= 0.995 and counts <= 0.01
    assert result.counts == [int(result.labels[0].max())]
    # the model really segments the cells
    assert match_instances(result.labels[0], truth).tp[0] >= 0.85 * truth.max()


@pytest.mark.parametrize("kind", ["instance", "semantic"])
def test_a_model_at_half_scale_tiles_like_its_whole_image_pass_and_like_validation(kind, instance_predictor,
                                                                                  semantic_predictor):
    base = instance_predictor if kind == "instance" else semantic_predictor
    card = {**base.card, "scale": {"factor": 0.5, "rule": "set by the user"}}
    predictor = Predictor(base.model, card, batch_size=4)
    assert predictor.halo == 2 * base.halo  # the same context in working pixels is twice as wide in image pixels
    image, _ = synthetic_cells((300, 460), seed=13)
    result = predict_image(image, predictor, tile=128, block=256, context=64)
    whole = whole_image_labels(predictor, image)
    pixels, counts = _agreement(result.labels[0], whole)
    assert pixels >= 0.995 and counts <= 0.01
    assert result.labels.shape == (1, 300, 460)
    # the maps validation scores (core.training.predict) are the maps inference post-processes
    reference = whole_image_maps(predictor, image)
    validation = predict_maps(predictor.model, card, image)
    for name, value in reference.items():
        np.testing.assert_allclose(validation[name], value, atol=1e-4)


@pytest.mark.parametrize("kind", ["instance", "semantic"])
def test_a_model_with_eight_views_tiles_like_its_whole_image_pass_and_like_validation(kind, instance_predictor,
                                                                                    semantic_predictor):
    base = instance_predictor if kind == "instance" else semantic_predictor
    card = {**base.card, "views": 8}
    predictor = Predictor(base.model, card, batch_size=4)
    assert predictor.views == 8 and Predictor(base.model, card, views=1).views == 1
    image, _ = synthetic_cells((200, 330), seed=14)
    result = predict_image(image, predictor, tile=128, block=256, context=64)
    pixels, counts = _agreement(result.labels[0], whole_image_labels(predictor, image))
    assert pixels >= 0.995 and counts <= 0.01
    reference = whole_image_maps(predictor, image)
    validation = predict_maps(predictor.model, card, image)
    for name, value in reference.items():
        np.testing.assert_allclose(validation[name], value, atol=1e-4)
    single = whole_image_maps(base, image)
    assert any(not np.allclose(single[name], value, atol=1e-4) for name, value in reference.items())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["instance", "semantic"])
def test_tiled_agrees_with_whole_image_on_2048(kind, instance_predictor, semantic_predictor):
    predictor = instance_predictor if kind == "instance" else semantic_predictor
    image, _ = synthetic_cells((2048, 2048), seed=12)
    result = predict_image(image, predictor)  # defaults: 512 px tiles, 1024 px blocks
    whole = whole_image_labels(predictor, image)
    pixels, counts = _agreement(result.labels[0], whole)
    assert pixels >= 0.995, pixels
    assert counts <= 0.01, (result.counts, whole.max())
    assert whole.max() > 3000


@pytest.mark.parametrize("block", [64, 96, 256])
def test_instance_stitching_matches_whole_image_when_maps_do(block):
    """With context-free maps, the only differences left are watershed ties: skimage floods equal-valued
    seeds in heap order, which depends on what else is in the image, so a pixel between two touching objects
    may go either way. Everything else (foreground, every object, the count) must be identical."""
    predictor = Predictor(Pointwise("instance"), pointwise_card("instance"))
    image = bumps((300, 430), seed=3, n=220)
    result = predict_image(image, predictor, tile=32, halo=0, block=block, context=32)
    whole = whole_image_labels(predictor, image)
    tiled = result.labels[0]
    assert whole.max() > 100 and result.counts[0] == whole.max()
    assert np.array_equal(tiled > 0, whole > 0)
    counts = match_instances(tiled, whole)
    assert counts.tp[-1] == whole.max()  # every object matched at IoU 0.95
    pairs = np.unique(np.stack([tiled[tiled > 0], whole[whole > 0]]), axis=1, return_counts=True)[1]
    assert np.sort(pairs)[::-1][whole.max() :].sum() <= 0.001 * (whole > 0).sum()


def test_semantic_components_cross_many_blocks_exactly():
    predictor = Predictor(Pointwise("semantic"), pointwise_card("semantic", min_size=30))
    h, w = 260, 390
    image = np.zeros((1, h, w), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    image[0][(np.abs((yy - xx * 0.6) % 70) < 6)] = 255  # long diagonal stripes crossing every block
    image[0, 60:64, 62:70] = 255  # a 32-pixel speck cut by block borders: kept (min_size 30)
    image[0, 126:130, 30:36] = 255  # 24 pixels: removed
    result = predict_image(image, predictor, tile=32, halo=0, block=64, context=32)
    whole = whole_image_labels(predictor, image)
    assert same_objects(result.labels[0], whole)
    assert result.labels[0][61, 63] > 0 and result.labels[0][127, 32] == 0


def test_numbering_follows_raster_order_of_first_pixels():
    predictor = Predictor(Pointwise("instance"), pointwise_card("instance"))
    image = bumps((200, 260), seed=5, n=60)
    labels = predict_image(image, predictor, tile=32, halo=0, block=64, context=32).labels[0]
    flat = labels.ravel()
    ids, first = np.unique(flat, return_index=True)
    assert list(ids[1:][np.argsort(first[1:])]) == list(range(1, labels.max() + 1))


def test_streaming_output_tiff_from_a_reader(tmp_path: Path):
    predictor = Predictor(Pointwise("instance", 2), pointwise_card("instance", 2))
    image = bumps((300, 400), seed=8, n=90)
    source = tmp_path / "image.tif"
    tifffile.imwrite(source, image[0], tile=(64, 64))
    from_array = predict_image(image, predictor, tile=64, halo=0, block=128, context=32)
    with open_image(source) as reader:
        result = predict_image(
            reader, predictor, tile=64, halo=0, block=128, context=32, out=tmp_path / "out.tif"
        )
    assert result.labels is None and result.path == tmp_path / "out.tif"
    with open_labels(result.path) as labels:
        assert labels.shape == (2, 300, 400) and labels.dtype == np.uint16
        assert labels.names == ["label0", "label1"] and labels.counts == result.counts
        assert np.array_equal(np.stack([labels.read_plane(0), labels.read_plane(1)]), from_array.labels)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_progress_and_cancel(tmp_path: Path):
    predictor = Predictor(Pointwise("semantic"), pointwise_card("semantic"))
    image = bumps((200, 200), seed=1, n=30)
    seen: list[float] = []
    predict_image(image, predictor, tile=32, halo=0, block=64, context=32, on_progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 10
    calls = iter([False, False, True])
    with pytest.raises(PredictionCancelled):
        predict_image(
            image,
            predictor,
            tile=32,
            halo=0,
            block=64,
            context=32,
            out=tmp_path / "x.tif",
            should_stop=lambda: next(calls),
        )
    assert list(tmp_path.iterdir()) == []


def test_image_that_does_not_fit_the_model_is_refused(instance_predictor):
    rgb16 = np.ones((3, 64, 64), dtype=np.uint16)
    rgb16[:, :10] = 7
    with pytest.raises(
        ModelPackageError, match="the model expects 1 channel of uint8, this image has 3 channels of uint16"
    ):
        predict_image(rgb16, instance_predictor)


def test_empty_images_are_refused(instance_predictor):
    with pytest.raises(InvalidInputError, match="every pixel has the value 9"):
        predict_image(np.full((1, 64, 80), 9, dtype=np.uint8), instance_predictor)
    with pytest.raises(InvalidInputError, match="empty"):
        predict_image(np.zeros((1, 0, 80), dtype=np.uint8), instance_predictor)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tile": 100}, "tile=100"),
        ({"halo": 20}, "halo=20"),
        ({"block": 200, "tile": 64}, "block=200"),
        ({"block": 64, "tile": 64, "context": 64}, "2 \\* context"),
    ],
)
def test_bad_tiling_arguments(kwargs, match, instance_predictor):
    image, _ = synthetic_cells((64, 64), seed=0)
    with pytest.raises(InvalidInputError, match=match):
        predict_image(image, instance_predictor, **kwargs)


def test_large_images_need_an_output_path(monkeypatch, instance_predictor):
    import core.inference.tiled as tiled

    monkeypatch.setattr(tiled, "MAX_IN_MEMORY_PIXELS", 1000)
    image, _ = synthetic_cells((64, 64), seed=0)
    with pytest.raises(InvalidInputError, match="out="):
        predict_image(image, instance_predictor)


def test_not_an_image(instance_predictor):
    with pytest.raises(InvalidInputError, match="cannot predict on a str"):
        predict_image("image.tif", instance_predictor)
