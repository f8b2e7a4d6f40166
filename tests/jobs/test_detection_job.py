"""A prediction run of a detection model through the worker: boxes files per image, their ZIP, counts per
image and label, and the boxes accepted as rectangle annotations."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile

from PIL import Image

from core.db import repo, session_scope
from core.jobs.worker import Worker
from core.predictions import MODELS_DIR, accept_as_annotations, available_models, queue_prediction
from core.projects import create_project, import_files
from tests.inference.box_model import squares
from tests.jobs.test_worker import _finished, _wait


def test_a_detection_run_writes_boxes_and_they_become_rectangles(settings, engine, tmp_path,
                                                                  tiny_detector_package):
    shutil.copytree(tiny_detector_package, settings.data_dir / MODELS_DIR / "boxes")
    project = create_project(settings, engine, "Smears")
    with session_scope(engine) as s:
        square = repo.add_label(s, project.id, "square")
        bar = repo.add_label(s, project.id, "bar")
    files = []
    for seed in (3, 4):
        pixels, _ = squares(seed, size=160)
        path = tmp_path / f"smear{seed}.png"
        Image.fromarray(pixels[0]).save(path)
        files.append((path.name, path))
    [image] = import_files(settings, engine, project.id, files[:1]).imported
    [model] = available_models(settings, engine)
    run = queue_prediction(settings, engine, model, image_ids=[image.id], uploads=[files[1]])
    worker = Worker(settings, poll_seconds=0.3).start()
    try:
        run = _wait(engine, run.id, _finished, get=repo.get_prediction, poll=0.3)
    finally:
        worker.shutdown()
    assert run.status == "succeeded", run.error
    items = run.results["images"]
    for item in items:
        assert item["result_kind"] == "boxes" and set(item["counts"]) == {"square", "bar"}
        for key in ("boxes", "coco", "geojson", "overlay", "zip"):
            assert (settings.data_dir / item[key]).is_file(), key
        with zipfile.ZipFile(settings.data_dir / item["zip"]) as archive:
            names = sorted(archive.namelist())
        stem = item["name"].rsplit(".", 1)[0]
        ends = ("_boxes.csv", "_coco.json", ".geojson", "_overlay.png")
        assert names == sorted(f"{stem}{end}" for end in ends)
    with zipfile.ZipFile(settings.data_dir / run.results["zip"]) as archive:
        counts = list(csv.DictReader(io.StringIO(archive.read("counts.csv").decode())))
        assert any(n.endswith("_boxes.csv") for n in archive.namelist())
    assert [row["image"] for row in counts] == [item["name"] for item in items]
    assert [int(row["square"]) for row in counts] == [item["counts"]["square"] for item in items]

    added = accept_as_annotations(settings, engine, run.id, 0, {"square": square.id, "bar": bar.id})
    with session_scope(engine) as s:
        shapes = repo.list_shapes(s, image.id)
    assert added == len(shapes) == sum(items[0]["counts"].values()) > 0
    assert {(sh.geometry, sh.source) for sh in shapes} == {("rectangle", "prediction")}
    assert {sh.label_id for sh in shapes} <= {square.id, bar.id}
