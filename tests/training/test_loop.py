from __future__ import annotations

import json

import pytest
import torch

from core.training import loop
from core.training.checkpoint import LAST
from core.training.loop import CANCELLED, SUCCEEDED, train
from core.training.package import load_model
from core.training.predict import predict_maps
from core.training.validation import load_val_images, tune_and_score
from tests.training.synth import config, make_images


def _params(workdir):
    state = torch.load(workdir / LAST, weights_only=True)["model"]
    return {k: v for k, v in state.items() if "running" not in k and "num_batches" not in k}


@pytest.mark.slow
def test_thirty_steps_lower_the_loss_and_reach_iou_above_0_8(tmp_path):
    images = make_images(5)
    progress = []
    cfg = config("semantic", max_steps=30, steps_per_epoch=10, learning_rate="auto")
    result = train(cfg, images[:4], images[4:], budget_seconds=600, workdir=tmp_path, on_progress=progress.append)
    assert result.status == SUCCEEDED and result.steps == 30
    losses = [h["train_loss"] for h in result.history]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    assert result.metrics["mean_iou"] > 0.8
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "train_iou", "val_iou"):
        assert all(h[key] is not None for h in result.history)
    phases = [p.phase for p in progress]
    assert phases[0] == "preparing" and "lr_test" in phases and phases[-1] == "done"
    assert [p.record["epoch"] for p in progress if p.record] == [1, 2, 3]
    card = json.loads((tmp_path / "model" / "model_card.json").read_text())
    assert card["training"]["lr_test"]["lrs"] and card["postprocess"][0]["threshold"] in (0.3, 0.4, 0.5, 0.6, 0.7)
    assert card["split"] == {"train": ["im0", "im1", "im2", "im3"], "val": ["im4"]}
    assert set(card["data_hashes"]) == {"im0", "im1", "im2", "im3", "im4"}


def test_instance_training_writes_a_complete_package(tmp_path):
    images = make_images(3, size=64)
    cfg = config("instance", max_steps=4, steps_per_epoch=2, batch_size=2, views=1)
    progress = []
    result = train(cfg, images[:2], images[2:], budget_seconds=300, workdir=tmp_path,
                   on_progress=progress.append)
    assert result.status == SUCCEEDED and len(result.history) == 2
    assert ("tuning", "refining the watershed seed height") in [(p.phase, p.message) for p in progress]
    assert all(h["val_f1"] is not None for h in result.history)
    model, card = load_model(result.package_dir)
    # each epoch's F1 is scored with post-processing tuned on its own maps (threshold seeds only); the final
    # search tries every one of those values on the best epoch's maps, and h-maxima seeds besides, so with
    # one view the package's tuned score is at least the best epoch's validation F1
    best = result.history[result.best_epoch - 1]["val_f1"]
    assert best == max(h["val_f1"] for h in result.history) == card["metrics"]["best_val_score"]
    assert card["postprocess"][0]["tuned_score"] >= best - 1e-9
    assert card["out_channels"] == 4 and card["distance_head"] is True
    assert card["loss"] == ("Dice + focal over background, interior and boundary, and binary cross-entropy on "
                            "the distance map, plus the mean absolute error of the distances to the object's edge "
                            "along 16 directions (ignoring unannotated pixels)")
    # the network trained with 16 edge-ray channels more; the package keeps the four maps post-processing uses
    best_weights = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best_weights["segmentation_head.0.weight"].shape[0] == 20
    assert model.segmentation_head[0].out_channels == 4
    assert [c["map"] for c in card["output_layout"]] == ["background", "interior", "boundary", "distance"]
    assert set(card["postprocess"][0]) >= {"threshold", "seed_threshold", "min_size", "label_id"}
    assert {"f1", "ap"} <= set(card["metrics"]["per_label"][0]["instance"])
    assert card["normalization"]["method"] == "percentile"
    assert card["scale"]["factor"] == 1.0 and card["scale"]["rule"] == "auto"  # discs 10-18 px wide
    # where the seconds went, and the budget's share spent in training steps (issue 27 prints it)
    phases = card["training"]["phase_seconds"]
    assert set(phases) == {"preparing", "lr_test", "data_wait", "steps", "validation", "final_tuning",
                           "final_average", "final_views", "final_seeds"}
    assert all(v >= 0 for v in phases.values()) and phases["steps"] > 0
    assert abs(card["training"]["step_share"] - phases["steps"] / 300) < 1e-3


def test_a_model_trained_at_half_scale_records_it_and_predicts_full_size_maps(tmp_path):
    images = make_images(3, size=96)
    cfg = config("semantic", scale=0.5, max_steps=2, steps_per_epoch=1, batch_size=2)
    result = train(cfg, images[:2], images[2:], budget_seconds=300, workdir=tmp_path)
    model, card = load_model(result.package_dir)
    assert card["scale"] == {"factor": 0.5, "rule": "set by the user"}
    assert card["loss"] == "Dice + focal + Lovász hinge (ignoring unannotated pixels)"
    maps = predict_maps(model, card, images[2].read(0, 0, 96, 96))
    assert maps["prob"].shape == (1, 96, 96)


def test_the_package_keeps_the_views_only_where_they_score_better_and_is_scored_with_them(tmp_path):
    images = make_images(3, size=64)
    result = train(config("semantic", max_steps=2, steps_per_epoch=1, batch_size=2), images[:2], images[2:],
                   budget_seconds=300, workdir=tmp_path)
    model, card = load_model(result.package_dir)
    val = load_val_images(images[2:], config("semantic"))
    scores = {}
    for views in (1, 8):  # 8: the default configuration's count
        maps = [predict_maps(model, card, im.pixels, views=views) for im in val]
        scores[views] = tune_and_score(maps, val, config("semantic"))[1]["mean_iou"]
    assert card["views"] == (8 if scores[8] > scores[1] else 1)
    assert card["metrics"]["mean_iou"] == pytest.approx(scores[card["views"]])
    # epochs are chosen by their IoU with the threshold tuned on one view's maps
    assert card["metrics"]["best_val_score"] == max(h["val_iou_tuned"] for h in result.history)


def test_the_mean_of_the_late_weights_is_validated_and_kept_only_where_it_beats_every_epoch(tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "AVERAGE_EVERY", 1)
    images = make_images(3, size=64)
    cfg = config("semantic", max_steps=8, steps_per_epoch=4, batch_size=2, views=1, average_from=0.5)
    result = train(cfg, images[:2], images[2:], budget_seconds=300, workdir=tmp_path)
    metrics = result.card["metrics"]
    record = metrics["weight_average"]
    best_epoch_score = max(h["val_iou_tuned"] for h in result.history)
    assert record["weights"] == 5 and record["from_share"] == 0.5  # steps 4 to 8: the second half
    assert record["best_epoch_score"] == pytest.approx(best_epoch_score)  # same search, same maps
    assert record["kept"] == (record["score"] > record["best_epoch_score"])
    assert metrics["mean_iou"] == pytest.approx(max(record["score"], best_epoch_score))
    # the package holds the kept weights: with one view and the tuned threshold they give that score
    model, card = load_model(result.package_dir)
    val = load_val_images(images[2:], cfg)
    maps = [predict_maps(model, card, im.pixels) for im in val]
    assert tune_and_score(maps, val, cfg)[1]["mean_iou"] == pytest.approx(metrics["mean_iou"], abs=1e-6)
    off = train(config("semantic", max_steps=2, steps_per_epoch=1, batch_size=2, views=1, average_from=None),
                images[:2], images[2:], budget_seconds=300, workdir=tmp_path / "off")
    assert off.card["metrics"]["weight_average"] is None


def test_cancel_stops_cleanly_and_keeps_a_checkpoint(tmp_path):
    images = make_images(2, size=64)
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2

    result = train(config(max_steps=50, batch_size=2), images[:1], images[1:], budget_seconds=300,
                   workdir=tmp_path, should_stop=stop)
    assert result.status == CANCELLED and result.package_dir is None and result.steps == 2
    assert (tmp_path / LAST).exists() and not (tmp_path / "model").exists()


def test_resume_continues_from_the_last_checkpoint_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "AVERAGE_EVERY", 1)  # the weight average is resumed too
    images = make_images(3, size=64)
    cfg = config(max_steps=6, steps_per_epoch=3, batch_size=2, average_from=0.5)
    straight = train(cfg, images[:2], images[2:], budget_seconds=300, workdir=tmp_path / "a")
    calls = []

    def stop_after_four_steps():
        calls.append(1)
        return len(calls) == 5

    first = train(cfg, images[:2], images[2:], budget_seconds=300, workdir=tmp_path / "b",
                  should_stop=stop_after_four_steps)
    assert first.status == CANCELLED and first.steps == 4 and len(first.history) == 1
    resumed = train(cfg, images[:2], images[2:], budget_seconds=300, workdir=tmp_path / "b", resume=True)
    assert resumed.status == SUCCEEDED and resumed.steps == 6
    assert resumed.history[0] == first.history[0]
    a, b = _params(tmp_path / "a"), _params(tmp_path / "b")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert straight.steps == 6
    again, once = resumed.card["metrics"]["weight_average"], straight.card["metrics"]["weight_average"]
    assert again["weights"] == once["weights"] == 4  # steps 3 to 6, across the cancel
    assert again["score"] == pytest.approx(once["score"], abs=1e-4)


def test_resume_with_another_configuration_is_refused(tmp_path):
    images = make_images(2, size=64)
    train(config(max_steps=1, batch_size=2), images[:1], images[1:], budget_seconds=300, workdir=tmp_path,
          should_stop=lambda: True)
    with pytest.raises(Exception, match="different training configuration"):
        train(config(max_steps=2, batch_size=2), images[:1], images[1:], budget_seconds=300, workdir=tmp_path,
              resume=True)


def test_two_runs_with_the_same_steps_and_seed_give_the_same_weights_on_the_cpu(tmp_path):
    """What "Run again with the same number of steps" relies on (on a GPU, cuDNN's kernels need not be
    deterministic: there the weights agree only closely)."""
    images = make_images(3, size=64)
    cfg = config(max_steps=4, steps_per_epoch=2, batch_size=2, views=1, seed=5)
    for name in ("a", "b"):
        train(cfg, images[:2], images[2:], budget_seconds=300, workdir=tmp_path / name, device="cpu")
    a, b = _params(tmp_path / "a"), _params(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_an_epoch_trains_on_to_the_end_rather_than_leave_a_short_last_one():
    import time

    run = loop._Run.__new__(loop._Run)
    run.budget, run.reserve, run.state, run.t0 = 300.0, 50.0, loop._State(), time.monotonic()
    run.state.used_before = 200.0  # 50 s of training left
    assert not run._last_slice(epoch_s=40.0)  # room for more than half an epoch after this one: end it
    run.state.used_before = 235.0  # 15 s left: a last epoch of 15 s would cost a validation for a few steps
    assert run._last_slice(epoch_s=40.0)
    assert run._left() == pytest.approx(15.0, abs=0.5)  # what a new epoch would get, were it worth it


def test_the_final_stage_estimate_averages_the_last_validations_and_a_short_last_epoch_runs_where_worth_it():
    import time

    run = loop._Run.__new__(loop._Run)
    run.budget, run.reserve, run.state, run.t0 = 300.0, 50.0, loop._State(), time.monotonic()
    run.config, run.start = config(views=1), None
    for val_s in (2.0, 9.0, 4.0, 5.0):  # the first drops out: the last three count
        run._estimate_final(val_s, predict_s=val_s / 2, search_s=val_s / 4)
    estimate = run.state.final_estimate
    assert estimate["validation"] == pytest.approx(6.0) and estimate["predict"] == pytest.approx(3.0)
    assert estimate["seconds"] == pytest.approx(6.0 + run._final_seconds(6.0, 3.0, 1.5) + 5.0)
    assert run.reserve == pytest.approx(estimate["seconds"])
    run.state.used_before = 300.0 - run.reserve - 19.0  # 19 s left: three validations of 6 s fit
    assert run._epoch_worth_it()
    run.state.used_before = 300.0 - run.reserve - 17.0  # 17 s left: less than three validations
    assert not run._epoch_worth_it()
    run.state.used_before = 300.0 - 7.0  # in the final stage, 7 s left: four searches of 1.5 s fit, five do not
    assert run._time_for(4) and not run._time_for(5)
