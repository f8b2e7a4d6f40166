"""Validation visualisations: four tiles per label, TP/FP/FN colours, bounded size."""

from __future__ import annotations

import numpy as np

from core.evaluation.overlay import FN_COLOR, FP_COLOR, TP_COLOR
from core.reports import ValidationExample
from core.reports.visuals import MIN_TILE_SIDE, render_panel, visualization_rows


def _dominant(panel: np.ndarray, color: tuple[int, int, int]) -> bool:
    channel = int(np.argmax(color))
    others = [c for c in range(3) if c != channel]
    strong = panel[..., channel].astype(int) - panel[..., others].max(axis=2).astype(int)
    return bool((strong > 60).any())


def _instance_example() -> ValidationExample:
    image = np.full((64, 64, 3), 30, np.uint8)
    gt = np.zeros((64, 64), np.int32)
    gt[5:20, 5:20] = 1  # matched
    gt[40:55, 40:55] = 2  # missed (false negative)
    pred = np.zeros_like(gt)
    pred[6:20, 5:20] = 1
    pred[40:55, 5:20] = 2  # false positive
    return ValidationExample("cells.tif", image, gt, pred)


def test_instance_panel_has_tp_fp_fn_colours_and_small_images_are_enlarged():
    panel = render_panel(
        _instance_example(), instance=True, label_names=["nucleus"], label_colors=["#e6194b"]
    )
    assert panel.dtype == np.uint8 and panel.ndim == 3
    assert panel.shape[1] >= 4 * MIN_TILE_SIDE
    for color in (TP_COLOR, FP_COLOR, FN_COLOR):
        assert _dominant(panel, color), color


def test_large_example_tiles_are_bounded():
    example = _instance_example()
    big = ValidationExample(
        "big",
        np.kron(example.image_rgb, np.ones((20, 20, 1), np.uint8)),
        np.kron(example.gt, np.ones((20, 20), np.int32)),
        np.kron(example.pred, np.ones((20, 20), np.int32)),
    )
    panel = render_panel(big, instance=True, label_names=["n"], label_colors=["#e6194b"], tile_side=200)
    assert panel.shape[1] <= 4 * 200 + 40


def test_semantic_rows_one_per_label_and_merged_instance_row():
    masks = np.zeros((2, 32, 32), bool)
    masks[0, :10] = True
    masks[1, 20:] = True
    example = ValidationExample("s", np.zeros((32, 32), np.uint8), masks, masks.copy())
    rows = visualization_rows(example, label_names=["a", "b"], label_colors=["#ff0000", "#00ff00"])
    assert [r[0] for r in rows] == ["a", "b"]
    one = ValidationExample("s", np.zeros((32, 32), np.uint8), masks[1], masks[1], label_index=1)
    assert [
        r[0] for r in visualization_rows(one, label_names=["a", "b"], label_colors=["#ff0000", "#00ff00"])
    ] == ["b"]
    merged = ValidationExample(
        "m", np.zeros((32, 32), np.uint8), np.zeros((32, 32), np.int32), np.zeros((32, 32), np.int32)
    )
    assert (
        visualization_rows(merged, label_names=["a", "b"], label_colors=["#ff0000", "#00ff00"])[0][0]
        == "all labels"
    )
    panel_one = render_panel(
        example, instance=False, label_names=["a", "b"], label_colors=["#ff0000", "#00ff00"]
    )
    panel_two_rows = panel_one.shape[0]
    single = render_panel(one, instance=False, label_names=["a", "b"], label_colors=["#ff0000", "#00ff00"])
    assert panel_two_rows > single.shape[0]


def test_non_latin_names_are_drawn_without_error():
    example = _instance_example()
    example.name = "Ядро πυρήνας 細胞核 " + "very long name " * 30
    panel = render_panel(example, instance=True, label_names=["細胞核"], label_colors=["#e6194b"])
    assert panel.shape[1] >= 4 * MIN_TILE_SIDE  # a long name is shortened, never widens the picture
    assert panel.shape[1] < 4 * MIN_TILE_SIDE + 100


def test_png_bytes_uses_a_palette_only_when_visually_lossless():
    import io

    import numpy as np
    from PIL import Image

    from core.reports.visuals import png_bytes

    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (64, 64, 1), dtype=np.uint8), 3, axis=2)
    grey[:8, :8] = (230, 25, 75)  # a label colour
    picture = Image.open(io.BytesIO(png_bytes(grey)))
    assert picture.mode == "P"
    assert np.abs(np.asarray(picture.convert("RGB"), dtype=int) - grey).mean() < 0.5
    colour = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # far more than 256 colours
    picture = Image.open(io.BytesIO(png_bytes(colour)))
    assert picture.mode == "RGB" and np.array_equal(np.asarray(picture), colour)
