from __future__ import annotations

import json

import numpy as np
import tifffile
from PIL import Image as PILImage

from core.annotations.raster import instance_labels
from core.annotations.shapes import ShapeData
from core.cli import main
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.evaluation.instance import instance_scores, match_instances


def _labels_image(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    mask = np.zeros((h, w), np.uint16)
    mask[((yy - 20) ** 2 + (xx - 20) ** 2) < 100] = 1
    mask[((yy - 20) ** 2 + (xx - 36) ** 2) < 81] = 2  # touching the first
    mask[40:55, 10:30] = 7
    return mask


def test_import_with_masks_round_trips_the_instances(app_env, tmp_path, capsys):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for stem in ("a", "b", "c", "d"):
        PILImage.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(images / f"{stem}.png")
    tifffile.imwrite(masks / "a.tif", _labels_image(64, 64))
    PILImage.fromarray((_labels_image(64, 64) > 0).astype(np.uint8) * 255).save(masks / "b.png")  # binary
    tifffile.imwrite(masks / "c.tif", _labels_image(32, 64))  # wrong size
    # d has no mask at all
    assert main(["project", "create", "P"]) == 0
    assert main(["labels", "add", "P", "nucleus"]) == 0
    capsys.readouterr()
    code = main(["import", "P", str(images), "--masks", str(masks), "--label", "nucleus"])
    out, err = capsys.readouterr()
    assert code == 1  # c and d failed ...
    assert "mask 'c.tif' is 64x32 pixels but its image is 64x64" in err
    assert "d.png: no mask" in err
    assert "Imported masks for 2 images" in out  # ... a and b are in
    engine = make_engine(app_env.database_url)
    with session_scope(engine) as s:
        project = repo.find_project(s, "P")
        by_name = {im.name: im for im in repo.list_images(s, project.id)}
        assert len(by_name) == 4
        a_shapes = [ShapeData.from_record(sh) for sh in repo.list_shapes(s, by_name["a.png"].id)]
        assert by_name["a.png"].status == "annotated" and by_name["d.png"].status == "not_annotated"
        assert len(repo.list_shapes(s, by_name["b.png"].id)) == 2  # binary: touching discs merge into one component
    rebuilt = instance_labels(a_shapes, a_shapes[0].label_id, (64, 64))
    scores = instance_scores(match_instances(rebuilt, _labels_image(64, 64)))
    assert scores["f1"] == 1.0 and scores["mean_matched_iou"] >= 0.98


def test_masks_need_a_known_label(app_env, tmp_path, capsys):
    (tmp_path / "m").mkdir()
    PILImage.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "x.png")
    main(["project", "create", "P"])
    capsys.readouterr()
    code = main(["import", "P", str(tmp_path / "x.png"), "--masks", str(tmp_path / "m"), "--label", "cells"])
    assert code == 1 and "No label 'cells'" in capsys.readouterr().err


def test_demo_project_is_ready_for_the_wizard(app_env, capsys):
    assert main(["demo", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["images"] == 6
    engine = make_engine(app_env.database_url)
    with session_scope(engine) as s:
        images = repo.list_images(s, record["id"])
        assert all(im.status == "annotated" for im in images)
        assert sum(len(repo.list_shapes(s, im.id)) for im in images) > 100
    assert main(["demo", "--json"]) == 0  # a second demo gets its own name
    assert json.loads(capsys.readouterr().out)["name"].endswith("(2)")
