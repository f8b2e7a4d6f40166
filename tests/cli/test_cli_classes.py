"""`segstudio import ... --classes`: a CSV of file stem,class rows for the images of the same call (or of the
project), or a ZIP/folder of class folders whose images come in with their class; exit code 1 only when no
class could be set."""

from __future__ import annotations

import json
import zipfile

import numpy as np
from PIL import Image as PILImage

from core.cli import main
from core.db import repo, session_scope
from core.db.engine import make_engine


def _images(folder, rng, stems=("a", "b", "c")) -> None:
    folder.mkdir(parents=True)
    for stem in stems:
        PILImage.fromarray(rng.integers(0, 255, (30, 40), dtype=np.uint8)).save(folder / f"{stem}.png")


def _classes(settings) -> dict[str, str | None]:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as s:
            project = repo.find_project(s, "P")
            names = {lab.id: lab.name for lab in repo.list_labels(s, project.id)}
            return {im.name: names.get(im.class_id) for im in repo.list_images(s, project.id)}  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_import_images_and_their_classes_in_one_call(app_env, tmp_path, capsys, rng):
    _images(tmp_path / "images", rng)
    table = tmp_path / "classes.csv"
    table.write_text("stem,label\na,neutrophil\nb,platelet\nc,eosinophil\nzz,neutrophil\n")
    assert main(["project", "create", "P"]) == 0
    assert main(["labels", "add", "P", "neutrophil"]) == 0
    assert main(["labels", "add", "P", "platelet"]) == 0
    capsys.readouterr()
    code = main(["import", "P", str(tmp_path / "images"), "--classes", str(table)])
    out, err = capsys.readouterr()
    assert code == 0, err  # some classes are in: the problems are listed, not fatal
    assert "Imported 3 of 3 files into 'P'." in out
    assert "Set the class of 2 image(s): neutrophil 1, platelet 1." in out
    assert "note: classes.csv: the first line (stem, label) was read as the header." in out
    assert "error: Class 'eosinophil' is not a label of project 'P'" in err and "c (line 4)" in err
    assert "error: 1 row(s) name no image of project 'P'" in err and "zz (line 5)" in err
    assert _classes(app_env) == {"a.png": "neutrophil", "b.png": "platelet", "c.png": None}

    code = main(["import", "P", "--classes", str(table), "--add-classes", "--json"])  # classes alone
    out, err = capsys.readouterr()
    assert code == 0, err
    record = json.loads(out)["classes"]
    assert record["classified"] == 1 and record["already"] == 2 and record["new_labels"] == ["eosinophil"]
    assert _classes(app_env)["c.png"] == "eosinophil"

    assert main(["images", "P", "--json"]) == 0
    listed = {r["name"]: r["class_id"] for r in json.loads(capsys.readouterr().out)}
    assert listed["a.png"] is not None and listed["c.png"] is not None

    table.write_text("a,platelet\n")
    assert main(["import", "P", "--classes", str(table)]) == 1  # kept, so nothing set: listed, exit 1
    assert "Kept the class of 1 image(s)" in capsys.readouterr().out
    assert main(["import", "P", "--classes", str(table), "--replace-annotations"]) == 0
    assert _classes(app_env)["a.png"] == "platelet"


def test_a_bad_classes_file_fails_with_one_line(app_env, tmp_path, capsys):
    assert main(["project", "create", "P"]) == 0
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    capsys.readouterr()
    assert main(["import", "P", "--classes", str(empty)]) != 0
    assert "empty.csv is empty" in capsys.readouterr().err


def test_a_zip_of_class_folders(app_env, tmp_path, capsys, rng):
    _images(tmp_path / "set" / "cells" / "neutrophil", rng, ("n1", "n2"))
    _images(tmp_path / "set" / "cells" / "platelet", rng, ("p1",))
    (tmp_path / "set" / "cells" / "platelet" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (tmp_path / "set" / "cells" / "README.md").write_text("8 classes")
    archive = tmp_path / "cells.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted((tmp_path / "set").rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(tmp_path / "set").as_posix())
    assert main(["project", "create", "P"]) == 0
    capsys.readouterr()
    code = main(["import", "P", "--classes", str(archive)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Imported 3 image(s). Set the class of 3 image(s): neutrophil 2, platelet 1." in out
    assert "Added 2 new class(es) as labels of the project: neutrophil, platelet." in out
    assert "warning: 1 file(s) in cells.zip are not images" in out and "cells/README.md" in out
    assert "error: " in err and "broken.png" in err
    assert _classes(app_env) == {"n1.png": "neutrophil", "n2.png": "neutrophil", "p1.png": "platelet"}
    assert main(["import", "P", "--classes", str(tmp_path / "set")]) == 0  # the folder itself: same images
    out = capsys.readouterr().out
    assert "All 3 image(s) have their class already; nothing was changed." in out
