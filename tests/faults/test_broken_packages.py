"""Model packages with a broken card: refused at import with the field named, nothing installed; a broken
package already on disk (edited by hand, or a damaged install) is listed as broken with its reason while every
other model keeps working (`model list`, `predict`, `model export`, the Apply page).

The packages are real: a two-step training writes one (core.training.package.write_package, a tiny
ResNet-18-compact U-Net); the tests tamper with its card, as JSON text, before zipping or copying it.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from streamlit.testing.v1 import AppTest

from core.cli import main
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import SUCCEEDED, Training, utcnow
from core.errors import ModelPackageError
from core.inference.package_io import import_model_package
from core.predictions import MODELS_DIR, model_catalog
from core.training.loop import train
from core.training.package import CARD, TORCHSCRIPT, WEIGHTS, read_card
from core.training.report_assembly import build_training_report
from tests.faults.conftest import assert_sound
from tests.training.synth import config, make_images

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """A package written by a real (two-step, 64 px) semantic training."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        images = make_images(3, size=64)
        cfg = config("semantic", max_steps=2, steps_per_epoch=1, batch_size=2, views=1)
        workdir = tmp_path_factory.mktemp("train")
        result = train(cfg, images[:2], images[2:], budget_seconds=120, workdir=workdir)
    finally:
        torch.set_num_threads(threads)
    assert result.status == SUCCEEDED
    read_card(result.package_dir)  # the trainer's card passes the schema
    return result.package_dir


def _card(package: Path) -> dict:
    return json.loads((package / CARD).read_text(encoding="utf-8"))


def _zip(package: Path, card_text: str | bytes, path: Path) -> Path:
    """The package as a report ZIP would hold it, with ``card_text`` as its card."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"model/{CARD}", card_text)
        zf.write(package / WEIGHTS, f"model/{WEIGHTS}")
        zf.write(package / TORCHSCRIPT, f"model/{TORCHSCRIPT}")
    return path


def _set(path: str, value: object):
    """A change of the card: ``value`` at ``path`` (dots and [index]), or the key deleted for ``...``."""

    def change(card: dict) -> dict:
        parts = path.replace("[", ".").replace("]", "").split(".")
        node = card
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = int(parts[-1]) if isinstance(node, list) else parts[-1]
        if value is ...:
            del node[last]
        else:
            node[last] = value
        return card

    return change


def _text(old: str, new: str):
    """A change of the card's JSON text (for values JSON can hold but Python would not write)."""
    return lambda card: json.dumps(card).replace(old, new, 1)


def _extra(text: str):
    """The card with one more field, ``"extra": text``."""
    return lambda card: json.dumps(card)[:-1] + f', "extra": {text}}}'


def _again(path: str, value_of):
    """A change setting ``path`` to ``value_of(card)``."""
    return lambda card: _set(path, value_of(card))(card)


FIX = "re-export the package from the segstudio that trained it, or correct model_card.json"
# name: (change of the card, or a function giving the card's text; what the message must say)
CASES = {
    "labels hold a number": (_set("labels", [1]), r"labels\[0\] is 1 \(a whole number\); expected an object"),
    "label name is a list": (_set("labels[0].name", ["nucleus"]),
                             r"labels\[0\]\.name is \['nucleus'\] \(a list\)"),
    "channels 1e999": (_text('"in_channels": 1', '"in_channels": 1e999'),
                       r"in_channels is inf .*; expected a whole number from 1 to 10"),
    "format_version text": (_set("format_version", "1"),
                            r"format_version is '1' \(text\), the wrong type or value; "
                            r"expected the whole number 1 \(write 1, without quotes\)"),
    "format_version zero": (_set("format_version", 0), r"format_version is 0 .*wrong type or value"),
    "format_version newer": (_set("format_version", 2),
                             r"format version 2, newer than this segstudio reads \(1\)"),
    "training_type unknown": (_set("training_type", "panoptic"), r"training_type is 'panoptic'.*'semantic'"),
    "distance_head text": (_set("distance_head", "no"),
                           r"distance_head is 'no' \(text\); expected true or false"),
    "normalisation low text": (_set("normalization.low", ["0"]), r"normalization\.low\[0\] is '0' \(text\)"),
    "normalisation NaN": (_text('"high": [', '"high": [NaN, '), r"normalization\.high\[0\] is nan"),
    "normalisation a list": (_set("normalization", [0, 255]), r"normalization is \[0, 255\] \(a list\)"),
    "normalisation flat": (_again("normalization.high", lambda card: card["normalization"]["low"]),
                           r"normalization\.high\[0\] .* expected a number above normalization\.low\[0\]"),
    "threshold above 1": (_set("postprocess[0].threshold", 1.5), r"postprocess\[0\]\.threshold is 1\.5"),
    "min_size negative": (_set("postprocess[0].min_size", -1), r"postprocess\[0\]\.min_size is -1"),
    "postprocess a number": (_set("postprocess", 0.5), r"postprocess is 0\.5"),
    "scale too small": (_set("scale.factor", 0.01), r"scale\.factor is 0\.01 .*from 0\.25 to 1"),
    "views 3": (_set("views", 3), r"views is 3 .*\[1, 2, 4, 8\]"),
    "dtype a list": (_set("dtype", [1]), r"dtype is \[1\] \(a list\)"),
    "halo not a multiple of 32": (_set("halo", 100), r"halo is 100 .*multiple of 32"),
    "out_channels mismatch": (_set("out_channels", 3),
                              r"out_channels is 3 .*expected 1 for 1 semantic label"),
    "labels missing": (_set("labels", ...), r"the field labels is missing"),
    "encoder missing": (_set("encoder", ...), r"the field encoder is missing"),
    "label name too long": (_set("labels[0].name", "n" * 5000),
                            r"labels\[0\]\.name is 'nnn.*5002 characters"),
    "package name too long": (_set("name", "m" * 300), r"field name is 'mmm.*expected text of 1 to 200"),
    "colour not #rrggbb": (_set("labels[0].color", "red"), r"labels\[0\]\.color is 'red'.*#rrggbb"),
    "duplicate label names": (_again("labels", lambda c: [*c["labels"], {**c["labels"][0], "id": 9}]),
                              r"labels\[\*\]\.name .*a different name for each label"),
    "history entry text": (_set("metrics.history[0].train_loss", "low"),
                           r"metrics\.history\[0\]\.train_loss is 'low'"),
    "training steps negative": (_set("training.steps", -3), r"training\.steps is -3"),
    "unknown field infinite": (_extra("[1e999]"), r"extra\[0\] is inf"),
    "nested too deep": (_extra("[" * 50_000 + "]" * 50_000), r"nests its JSON too deeply"),
    "not UTF-8": (lambda card: b"\xff\xfe" + json.dumps(card).encode("utf-16-le"), r"cannot be read as JSON"),
    "not an object": (lambda card: "[1, 2]", r"is \[1, 2\] \(a list\), not a JSON object"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_card_is_refused_at_import_with_the_field_named(package, settings, tmp_path, case):
    change, message = CASES[case]
    result = change(_card(package))
    text = result if isinstance(result, (str, bytes)) else json.dumps(result)
    src = _zip(package, text, tmp_path / "broken.zip")
    models = settings.data_dir / MODELS_DIR
    with pytest.raises(ModelPackageError, match=message) as caught:
        import_model_package(src, models)
    assert "broken.zip" in str(caught.value) and ".import-" not in str(caught.value)
    if "newer than" not in str(caught.value) and "JSON" not in str(caught.value):
        assert FIX in str(caught.value)
    assert list(models.iterdir()) == [], "nothing is installed"
    assert_sound(settings)


def test_the_cli_refuses_a_broken_folder_and_installs_nothing(package, app_env, tmp_path, capsys):
    folder = tmp_path / "model"
    shutil.copytree(package, folder)
    card = _card(folder)
    card["labels"] = [1]
    (folder / CARD).write_text(json.dumps(card), encoding="utf-8")
    assert main(["model", "import", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "the field labels[0] is 1" in err and "Traceback" not in err
    models = app_env.data_dir / MODELS_DIR
    assert not models.exists() or list(models.iterdir()) == []
    assert_sound(app_env)


def _install_broken(app_env, package: Path) -> tuple[str, str]:
    """A good imported model, a broken imported one and a broken training package, all on disk; returns
    (good folder name, broken folder name)."""
    assert main(["model", "import", str(package)]) == 0
    good = next((app_env.data_dir / MODELS_DIR).iterdir()).name
    broken = app_env.data_dir / MODELS_DIR / "edited-by-hand"
    shutil.copytree(package, broken)
    card = _card(broken)
    card["labels"] = [1]  # the card of the issue: the listing used to crash on it for every model
    (broken / CARD).write_text(json.dumps(card), encoding="utf-8")

    engine = make_engine(app_env.database_url)
    with session_scope(engine) as session:
        project = repo.create_project(session, "lab")
        training = repo.add_training(session, Training(
            project_id=project.id, name="damaged", status=SUCCEEDED, config={}, started_at=utcnow(),
            finished_at=utcnow(), progress=1.0))
        model_dir = Path("trainings") / str(training.id) / "model"
        repo.update_training(session, training.id, model_dir=model_dir.as_posix())
    shutil.copytree(package, app_env.data_dir / model_dir)
    text = (app_env.data_dir / model_dir / CARD).read_text(encoding="utf-8")
    (app_env.data_dir / model_dir / CARD).write_text(
        text.replace('"in_channels": 1,', '"in_channels": 1e999,'), encoding="utf-8")
    engine.dispose()
    return good, broken.name


def test_a_broken_package_on_disk_breaks_no_other_model(package, app_env, tmp_path, capsys):
    good, broken = _install_broken(app_env, package)
    capsys.readouterr()

    assert main(["model", "list", "--json"]) == 0
    rows = {row["model"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[good]["broken"] is None
    assert "the field labels[0] is 1" in rows[broken]["broken"]
    damaged = next(row for row in rows.values() if row["title"] == "damaged (lab)")
    assert "the field in_channels is inf" in damaged["broken"]
    assert main(["model", "list"]) == 0
    out = capsys.readouterr().out
    assert f"BROKEN {broken} (imported): the model card in" in out and "BROKEN damaged (lab)" in out

    image = tmp_path / "cells.tif"
    pixels = np.zeros((64, 64), dtype=np.uint16)
    pixels[16:40, 20:44] = 900
    tifffile.imwrite(image, pixels + np.random.default_rng(0).integers(50, 70, (64, 64)).astype(np.uint16))
    out_dir = tmp_path / "predicted"
    code = main(["predict", good, str(image), "--out", str(out_dir), "--views", "1", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert any(out_dir.glob("*labels*")) and json.loads(captured.out)[0]["input"] == str(image)

    exported = tmp_path / "good.zip"
    assert main(["model", "export", good, "--out", str(exported)]) == 0
    with zipfile.ZipFile(exported) as zf:
        assert f"model/{CARD}" in zf.namelist()

    # the broken ones say why, in one line each, and nothing crashes
    assert main(["predict", broken, str(image), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert f"The model {broken} (imported) cannot be used" in err and "labels[0] is 1" in err
    assert main(["model", "export", "damaged", "--out", str(tmp_path / "d.zip")]) == 1
    err = capsys.readouterr().err
    assert "in_channels is inf" in err and "Traceback" not in err
    assert not (tmp_path / "d.zip").exists()
    # the report reads the card through the same schema: one line that names the field
    engine = make_engine(app_env.database_url)
    damaged_id = int(damaged["model"])
    with pytest.raises(ModelPackageError, match=r"the field in_channels is inf"):
        build_training_report(app_env, engine, damaged_id)
    engine.dispose()
    assert_sound(app_env)


def test_the_apply_page_lists_the_good_model_and_the_broken_ones_with_their_reason(package, app_env):
    good, broken = _install_broken(app_env, package)
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/apply.py")
    at.run()
    assert not at.exception, at.exception
    picker = at.selectbox(key="apply_model")
    assert picker.options == [f"{good} (imported) — semantic · nucleus · 1 channel(s)"]
    errors = [e.value for e in at.error]
    assert any(f"**{broken} (imported)** is broken" in e and "labels[0] is 1" in e for e in errors), errors
    assert any("**damaged (lab)** is broken" in e and "in_channels is inf" in e for e in errors), errors
    catalog = model_catalog(app_env, make_engine(app_env.database_url))
    assert [m.package_dir.name for m in catalog.models] == [good] and len(catalog.broken) == 2
    assert_sound(app_env)
