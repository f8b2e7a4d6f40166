"""Click-to-segment on real projects: stored TIFFs, training rows with model packages, brush strokes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from shapely.geometry import Polygon

from core.annotations import click_segment
from core.annotations.click_segment import NOTHING_TO_ASK, ClickProposal, propose_outline
from core.annotations.click_sources import ModelSource, clear_caches, latest_models
from core.db import repo, session_scope
from core.db.models import FAILED
from core.errors import InvalidInputError
from core.imaging.reader import ImageReader
from core.inference.polygons import rasterize
from tests.annotations.click_helpers import (
    add_training,
    card,
    disc_mask,
    discs_image,
    fitted_unet,
    project_with_label,
    store_image,
)

DISCS = [(100, 100, 12), (200, 220, 9), (60, 250, 15)]
SHAPE = (300, 300)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    clear_caches()
    yield
    clear_caches()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def semantic_model() -> torch.nn.Module:
    return fitted_unet("semantic")


@pytest.fixture(scope="module")
def instance_model() -> torch.nn.Module:
    return fitted_unet("instance")


def _iou(proposal: ClickProposal, truth: np.ndarray) -> float:
    got = rasterize(Polygon(proposal.points), truth.shape)
    return float((got & truth).sum() / (got | truth).sum())


@pytest.mark.parametrize("kind", ["semantic", "instance"])
def test_a_click_inside_a_disc_outlines_it_and_a_click_on_background_finds_nothing(
        settings, engine, semantic_model, instance_model, kind):
    pid, (nucleus,) = project_with_label(engine)
    image_id = store_image(settings, engine, pid, discs_image(SHAPE, DISCS))
    model = semantic_model if kind == "semantic" else instance_model
    add_training(settings, engine, pid, "nuclei v1", model, card(kind, [(nucleus, "nucleus")]))
    for cy, cx, r in DISCS:
        proposal = propose_outline(settings, engine, image_id, cx + 3.5, cy - 2.5, nucleus)
        assert proposal.source == "model nuclei v1"
        assert _iou(proposal, disc_mask(SHAPE, cy, cx, r)) > 0.8, proposal
        assert "press Enter" in proposal.message
    nothing = propose_outline(settings, engine, image_id, 20.0, 160.0, nucleus)
    assert nothing.points == [] and nothing.source == "model nuclei v1"
    assert "finds no nucleus at (20, 160)" in nothing.message


def test_without_model_or_strokes_it_says_what_to_do(settings, engine):
    pid, (nucleus,) = project_with_label(engine)
    image_id = store_image(settings, engine, pid, discs_image(SHAPE, DISCS))
    proposal = propose_outline(settings, engine, image_id, 100.0, 100.0, nucleus)
    assert proposal.points == [] and proposal.source == "none"
    assert NOTHING_TO_ASK in proposal.message


def test_the_assistant_forest_outlines_the_disc_when_there_is_no_model(settings, engine):
    pid, (nucleus,) = project_with_label(engine)
    image_id = store_image(settings, engine, pid, discs_image(SHAPE, DISCS))
    with session_scope(engine) as s:
        for cy, cx, _ in DISCS[:2]:  # strokes inside two discs, and on the background
            repo.add_scribble(s, image_id, [[cx - 5.0, cy], [cx + 5.0, cy]], width=3.0, label_id=nucleus)
        background = [[20.0, 20.0], [20.0, 280.0], [150.0, 160.0]]
        repo.add_scribble(s, image_id, background, width=5.0, label_id=None)
    cy, cx, r = DISCS[2]  # the disc nobody brushed
    proposal = propose_outline(settings, engine, image_id, cx + 0.5, cy + 0.5, nucleus)
    assert proposal.source == "assistant"
    assert _iou(proposal, disc_mask(SHAPE, cy, cx, r)) > 0.8, proposal
    nothing = propose_outline(settings, engine, image_id, 280.0, 150.0, nucleus)
    assert nothing.points == [] and "assistant finds no nucleus" in nothing.message


def test_strokes_of_background_only_are_not_an_assistant(settings, engine):
    pid, (nucleus,) = project_with_label(engine)
    image_id = store_image(settings, engine, pid, discs_image(SHAPE, DISCS))
    with session_scope(engine) as s:
        repo.add_scribble(s, image_id, [[20.0, 20.0], [20.0, 280.0]], width=5.0, label_id=None)
    assert NOTHING_TO_ASK in propose_outline(settings, engine, image_id, 100.0, 100.0, nucleus).message


def test_the_latest_succeeded_model_for_the_label_is_chosen(settings, engine, semantic_model):
    pid, (nucleus, membrane) = project_with_label(engine, labels=("nucleus", "membrane"))
    image_id = store_image(settings, engine, pid, discs_image(SHAPE, DISCS))
    add_training(settings, engine, pid, "old nuclei", semantic_model, _nuclei(nucleus))
    membranes = card("semantic", [(membrane, "membrane")])
    add_training(settings, engine, pid, "membranes", semantic_model, membranes)
    add_training(settings, engine, pid, "crashed", semantic_model, _nuclei(nucleus),
                 status=FAILED)
    other, _ = project_with_label(engine, name="other")  # another project's newer model is not this one's
    add_training(settings, engine, other, "elsewhere", semantic_model, _nuclei(nucleus))
    assert propose_outline(settings, engine, image_id, 100.0, 100.0, nucleus).source == "model old nuclei"
    assert propose_outline(settings, engine, image_id, 100.0, 100.0, membrane).source == "model membranes"

    add_training(settings, engine, pid, "new nuclei", fitted_unet("semantic", n_labels=2),
                 card("semantic", [(membrane, "membrane"), (nucleus, "nucleus")]))
    newest = propose_outline(settings, engine, image_id, 100.0, 100.0, nucleus)
    assert newest.source == "model new nuclei" and _iou(newest, disc_mask(SHAPE, 100, 100, 12)) > 0.8


def test_a_broken_newer_model_is_passed_over_and_named(settings, engine, semantic_model):
    pid, (nucleus,) = project_with_label(engine)
    image_id = store_image(settings, engine, pid, discs_image(SHAPE, DISCS))
    add_training(settings, engine, pid, "good", semantic_model, _nuclei(nucleus))
    broken = add_training(settings, engine, pid, "broken", semantic_model, _nuclei(nucleus))
    (settings.training_dir(broken) / "model" / "weights.pt").unlink()
    damaged = add_training(settings, engine, pid, "damaged", semantic_model,
                           _nuclei(nucleus))
    (settings.training_dir(damaged) / "model" / "weights.pt").write_bytes(b"not weights")
    proposal = propose_outline(settings, engine, image_id, 100.0, 100.0, nucleus)
    assert proposal.source == "model good" and proposal.points
    assert "model broken cannot be used" in proposal.message and "weights.pt is missing" in proposal.message
    assert "model damaged cannot be used" in proposal.message


def test_a_whole_slide_image_is_read_only_around_the_click(settings, engine, semantic_model, monkeypatch):
    size = 4096
    pixels = np.full((1, size, size), 30, dtype=np.uint8)
    cy, cx, r = 3000, 2500, 14
    pixels[0][disc_mask((size, size), cy, cx, r)] = 170
    pid, (nucleus,) = project_with_label(engine)
    image_id = store_image(settings, engine, pid, pixels, name="slide.tif", tile=256)
    add_training(settings, engine, pid, "nuclei", semantic_model, _nuclei(nucleus))
    reads: list[tuple[int, int]] = []
    original = ImageReader.read_region

    def recording(self, level, y, x, h, w):  # observes the reads the click makes; reads the file for real
        out = original(self, level, y, x, h, w)
        reads.append(out.shape[1:])
        return out

    monkeypatch.setattr(ImageReader, "read_region", recording)
    proposal = propose_outline(settings, engine, image_id, cx + 0.5, cy + 0.5, nucleus)
    truth = np.zeros((64, 64), dtype=bool)
    truth[disc_mask((64, 64), 32, 32, r)] = True
    moved = Polygon([(px - cx + 32, py - cy + 32) for px, py in proposal.points])
    assert _iou(ClickProposal([list(c) for c in moved.exterior.coords], "", ""), truth) > 0.8
    [choice], _ = latest_models(settings, engine, _image(engine, image_id), nucleus)
    halo = ModelSource(settings, choice).predictor.halo
    side = click_segment.WINDOW + 2 * halo
    assert reads and all(h <= side and w <= side for h, w in reads), reads
    # one window, not the slide (besides the 1x1 read that tells the image's pixel type to the normalisation)
    assert sum(h * w for h, w in reads if h * w > 1) <= side * side < 0.03 * size * size


def test_the_window_grows_until_the_object_fits_and_a_bound_is_kept(settings, engine, semantic_model,
                                                                     monkeypatch):
    shape = (400, 400)
    rng = np.random.default_rng(3)
    base = np.full(shape, 30.0)
    base[190:210, 40:360] = 170.0  # a bar far longer than the window
    pixels = np.clip(base + rng.normal(0, 12, shape), 0, 255).astype(np.uint8)[None]
    pid, (nucleus,) = project_with_label(engine)
    image_id = store_image(settings, engine, pid, pixels)
    add_training(settings, engine, pid, "nuclei", semantic_model, _nuclei(nucleus))
    monkeypatch.setattr(click_segment, "WINDOW", 96)
    whole = propose_outline(settings, engine, image_id, 60.0, 200.0, nucleus)
    xs = [p[0] for p in whole.points]
    assert min(xs) <= 43 and max(xs) >= 357, (min(xs), max(xs))
    assert "cut off" not in whole.message

    monkeypatch.setattr(click_segment, "MAX_GROWTH", 1)  # 96 then 192 pixels: the bar is cut, and it says so
    cut = propose_outline(settings, engine, image_id, 60.0, 200.0, nucleus)
    xs = [p[0] for p in cut.points]
    assert max(xs) - min(xs) <= 192 and "may be cut off" in cut.message


def test_the_model_is_loaded_once_per_package_version(settings, engine, semantic_model):
    pid, (nucleus,) = project_with_label(engine)
    image_id = store_image(settings, engine, pid, discs_image(SHAPE, DISCS))
    tid = add_training(settings, engine, pid, "nuclei", semantic_model, _nuclei(nucleus))
    image = _image(engine, image_id)
    first = ModelSource(settings, latest_models(settings, engine, image, nucleus)[0][0]).predictor
    assert ModelSource(settings, latest_models(settings, engine, image, nucleus)[0][0]).predictor is first
    add_training(settings, engine, pid, "ignored", None, None)  # a row without a package changes nothing
    weights = settings.training_dir(tid) / "model" / "weights.pt"
    weights.write_bytes(weights.read_bytes())  # rewritten (a new modification time): loaded again
    assert ModelSource(settings, latest_models(settings, engine, image, nucleus)[0][0]).predictor is not first


def test_bad_clicks_are_refused_with_the_reason(settings, engine):
    pid, (nucleus,) = project_with_label(engine)
    image_id = store_image(settings, engine, pid, discs_image(SHAPE, DISCS))
    other, (foreign,) = project_with_label(engine, name="other", labels=("cell",))
    with pytest.raises(InvalidInputError, match="outside the image"):
        propose_outline(settings, engine, image_id, 300.0, 10.0, nucleus)
    with pytest.raises(InvalidInputError, match="finite number"):
        propose_outline(settings, engine, image_id, float("nan"), 10.0, nucleus)
    with pytest.raises(InvalidInputError, match="not a label of this image's project"):
        propose_outline(settings, engine, image_id, 10.0, 10.0, foreign)


def _nuclei(label_id: int) -> dict:
    return card("semantic", [(label_id, "nucleus")])


def _image(engine, image_id: int):
    with session_scope(engine) as s:
        return repo.get_image(s, image_id)
