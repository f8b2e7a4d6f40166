from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from core.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(app_env, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _write_images(folder: Path) -> list[Path]:
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    a = folder / "cells_a.tif"
    tifffile.imwrite(a, rng.integers(0, 4000, (40, 50), dtype=np.uint16))
    b = folder / "cells_b.png"
    PILImage.fromarray(rng.integers(0, 255, (30, 20, 3), dtype=np.uint8)).save(b)
    return [a, b]


def test_project_and_labels_commands(cli):
    assert cli("project", "create", "Nuclei")[0] == 0
    code, _, err = cli("project", "create", "nuclei")
    assert code == 1 and "exists already" in err and err.count("\n") == 1
    code, out, _ = cli("project", "list", "--json")
    assert code == 0 and json.loads(out) == [{"id": 1, "name": "Nuclei", "images": 0}]
    assert cli("labels", "add", "Nuclei", "nucleus", "--color", "#FF0000")[0] == 0
    assert cli("labels", "add", "Nuclei", "cell")[0] == 0
    code, _, err = cli("labels", "add", "Nuclei", "cell")
    assert code == 1 and "unique per project" in err
    code, _, err = cli("labels", "add", "Nuclei", "x", "--color", "blue")
    assert code == 1 and "hex colour" in err
    code, out, _ = cli("labels", "list", "Nuclei", "--json")
    labels = json.loads(out)
    assert [lab["name"] for lab in labels] == ["nucleus", "cell"] and labels[0]["color"] == "#ff0000"
    code, _, err = cli("labels", "list", "Missing")
    assert code == 1 and "No project 'Missing'" in err


def test_import_files_and_folders_with_a_bad_file(cli, tmp_path):
    files = _write_images(tmp_path / "in")
    (tmp_path / "in" / "broken.tif").write_bytes(b"not a tiff at all")
    cli("project", "create", "P")
    code, out, err = cli("import", "P", str(tmp_path / "in"), "--json")
    assert code == 1  # one file failed ...
    report = json.loads(out)
    assert sorted(r["name"] for r in report["imported"]) == ["cells_a.tif", "cells_b.png"]  # ... the others are in
    assert "broken.tif" in err
    code, out, _ = cli("images", "P", "--json")
    records = {r["name"]: r for r in json.loads(out)}
    assert records["cells_a.tif"] == {**records["cells_a.tif"], "width": 50, "height": 40, "dtype": "uint16", "channels": 1}
    assert records["cells_b.png"]["channels"] == 3
    assert set(records["cells_a.tif"]) >= {"id", "name", "width", "height", "dtype", "channels"}
    # the same file again is detected by its content and not duplicated
    code, out, _ = cli("import", "P", str(files[0]))
    assert code == 0 and "duplicate" in out
    assert len(json.loads(cli("images", "P", "--json")[1])) == 2


def test_console_script_exit_code_and_one_line_reason(app_env, tmp_path):
    env = {**os.environ, "SEGSTUDIO_DATA": str(app_env.data_dir)}
    done = subprocess.run([sys.executable, "-m", "core.cli", "images", "nope"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("segstudio: No project 'nope'") and done.stderr.count("\n") == 1
