"""Annotations are never lost or doubled: simultaneous saves from two real processes, repeated mask imports,
images of the same name from different folders, and a mask file that declares a huge image.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from core.cli import main
from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.db.models import Image
from core.errors import AnnotationError

from .conftest import assert_sound

REPO = Path(__file__).resolve().parents[2]
TRIALS = 50


# --- two processes save the same image from the same version ----------------------------------------------

def _polygon(label_id: int, worker: int, trial: int) -> dict:
    x, y = 10.0 * worker, float(trial % 40)
    return {"label_id": label_id, "kind": "annotation", "geometry": "polygon",
            "points": [[x, y], [x + 5, y], [x + 5, y + 5], [x, y + 5]], "source": "manual"}


def _saver(database_url: str, worker: int, image_id: int, label_id: int, tasks, results, barrier) -> None:
    """One editor in its own process: for each version it is sent, wait for the other editor, then save."""
    engine = make_engine(database_url, create_tables=False)
    results.put(("ready", worker))
    while (task := tasks.get()) is not None:
        trial, version = task
        record = _polygon(label_id, worker, trial)
        barrier.wait(timeout=60)
        try:
            with session_scope(engine) as session:
                repo.replace_shapes(session, image_id, [record], expected_version=version)
        except AnnotationError as exc:
            results.put((trial, worker, "refused", str(exc)))
        else:
            results.put((trial, worker, "saved", record["points"]))
    engine.dispose()


def test_two_processes_saving_the_same_version_one_is_refused(settings: Settings, monkeypatch):
    # A spawned process first re-runs this process's __main__ by its path; after an AppTest that is app.py.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        project = repo.create_project(s, "P")
        label = repo.add_label(s, project.id, "cell")
        image = repo.add_image(s, Image(project_id=project.id, name="a.tif", stored_path="x/a.tif", width=64,
                                        height=64, channels=1, dtype="uint8", content_hash="h"))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    tasks = [ctx.Queue(), ctx.Queue()]
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_saver,
                    args=(settings.database_url, w, image.id, label.id, tasks[w], results, barrier))
        for w in (0, 1)
    ]
    for proc in workers:
        proc.start()
    try:
        # A spawned process imports the database layer first: on a loaded 2-core machine that can take a while.
        assert sorted(results.get(timeout=300) for _ in workers) == [("ready", 0), ("ready", 1)]
        for trial in range(TRIALS):
            with session_scope(engine) as s:  # both editors loaded this version
                version = repo.replace_shapes(s, image.id, []).updated_at
            for task_queue in tasks:
                task_queue.put((trial, version))
            outcome = sorted((results.get(timeout=60) for _ in range(2)), key=lambda r: r[2])
            kinds = [r[2] for r in outcome]
            assert kinds == ["refused", "saved"], f"trial {trial}: {outcome}"
            assert "Reload the image" in outcome[0][3]
            with session_scope(engine) as s:
                stored = [sh.points for sh in repo.list_shapes(s, image.id)]
            assert stored == [outcome[1][3]], f"trial {trial}: the stored shapes are not the accepted save's"
    finally:
        for task_queue in tasks:
            task_queue.put(None)
        for proc in workers:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    assert all(proc.exitcode == 0 for proc in workers)
    engine.dispose()
    assert_sound(settings)


# --- masks imported again, and images of the same name from different folders -------------------------

def _two_discs(h: int = 48, w: int = 48, shift: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    mask = np.zeros((h, w), np.uint16)
    mask[((yy - 12) ** 2 + (xx - 12 - shift) ** 2) < 40] = 1
    mask[((yy - 32) ** 2 + (xx - 30) ** 2) < 50] = 2
    return mask


def _shape_counts(settings: Settings) -> dict[str, list[int]]:
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        project = repo.find_project(s, "P")
        out: dict[str, list[int]] = {}
        for image in repo.list_images(s, project.id):
            out.setdefault(image.name, []).append(len(repo.list_shapes(s, image.id)))
    engine.dispose()
    return out


def test_importing_the_same_masks_again_adds_nothing(app_env: Settings, tmp_path: Path, capsys):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (48, 48), dtype=np.uint8)
    PILImage.fromarray(pixels).save(images / "a.png")
    tifffile.imwrite(masks / "a.tif", _two_discs())
    assert main(["project", "create", "P"]) == 0 and main(["labels", "add", "P", "cell"]) == 0
    command = ["import", "P", str(images), "--masks", str(masks), "--label", "cell"]
    for _ in range(3):
        assert main(command) == 0
    out = capsys.readouterr().out
    assert _shape_counts(app_env) == {"a.png": [2]}
    assert "a.png: the 2 object(s) of a.tif are there already as label 'cell'; nothing was added." in out
    tifffile.imwrite(masks / "a.tif", _two_discs(shift=3))  # a different mask: skipped, never doubled
    assert main(command) == 0
    assert "nothing is doubled" in capsys.readouterr().out
    assert _shape_counts(app_env) == {"a.png": [2]}
    assert main([*command, "--replace-annotations"]) == 0
    assert "were replaced by the 2 of a.tif" in capsys.readouterr().out
    assert _shape_counts(app_env) == {"a.png": [2]}
    assert_sound(app_env)


def test_images_of_the_same_name_from_different_folders_get_their_own_masks(app_env: Settings, tmp_path: Path,
                                                                            capsys):
    data = tmp_path / "data"
    rng = np.random.default_rng(1)
    expected = {}
    for folder, objects in (("a", 1), ("b", 2)):
        (data / folder).mkdir(parents=True)
        PILImage.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(data / folder / "img1.png")
        mask = _two_discs()
        mask[mask > objects] = 0
        tifffile.imwrite(data / folder / "img1_mask.tif", mask)
        expected[folder] = objects
    assert main(["project", "create", "P"]) == 0 and main(["labels", "add", "P", "cell"]) == 0
    assert main(["import", "P", str(data), "--masks", str(data), "--label", "cell"]) == 0
    assert "Imported masks for 2 images (3 objects)" in capsys.readouterr().out
    assert sorted(_shape_counts(app_env)["img1.png"]) == [1, 2]  # the masks are not imported as images
    engine = make_engine(app_env.database_url)
    with session_scope(engine) as s:
        project = repo.find_project(s, "P")
        for folder, objects in expected.items():  # each image carries the mask of its own folder
            content = (data / folder / "img1.png").read_bytes()
            image = next(im for im in repo.list_images(s, project.id)
                         if im.content_hash == hashlib.sha256(content).hexdigest())
            assert len(repo.list_shapes(s, image.id)) == objects
    engine.dispose()
    # masks in a parallel tree (images/a, masks/a) pair the same way
    images, masks = tmp_path / "images", tmp_path / "masks"
    for folder in ("a", "b"):
        (images / folder).mkdir(parents=True)
        (masks / folder).mkdir(parents=True)
        PILImage.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(images / folder / "img2.png")
        tifffile.imwrite(masks / folder / "img2.tif", _two_discs())
    assert main(["import", "P", str(images), "--masks", str(masks), "--label", "cell"]) == 0
    assert sorted(_shape_counts(app_env)["img2.png"]) == [2, 2]
    # one flat mask for two images of the same name: refused, not given to both
    flat = tmp_path / "flat"
    flat.mkdir()
    tifffile.imwrite(flat / "img3.tif", _two_discs())
    for folder in ("a", "b"):
        PILImage.fromarray(rng.integers(0, 255, (48, 48), dtype=np.uint8)).save(images / folder / "img3.png")
    capsys.readouterr()
    code = main(["import", "P", str(images / "a" / "img3.png"), str(images / "b" / "img3.png"),
                 "--masks", str(flat), "--label", "cell"])
    assert code == 1 and "fits 2 images of the same name" in capsys.readouterr().err
    assert _shape_counts(app_env)["img3.png"] == [0, 0]
    assert_sound(app_env)


# --- a mask that declares a huge image -------------------------------------------------------------------

def _declared_huge_pyramid(path: Path, side: int = 100_000) -> None:
    """A 2 KB pyramidal TIFF whose header declares ``side`` x ``side`` px (and a half-size sub-level):
    written small, then its size tags patched."""
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.zeros((1024, 1024), np.uint8), tile=(256, 256), subifds=1, compression="zlib",
                 metadata=None)
        tw.write(np.zeros((512, 512), np.uint8), tile=(256, 256), subfiletype=1, compression="zlib",
                 metadata=None)
    with tifffile.TiffFile(path, mode="r+b") as tif:
        page = tif.pages[0]
        tif.filehandle.seek(page.subifds[0])
        sub = tifffile.TiffPage(tif, index=(0, 0))
        for ifd, size in ((page, side), (sub, side // 2)):
            for tag in ("ImageWidth", "ImageLength"):
                ifd.tags[tag].overwrite(size, dtype="I")


_BOMB_SCRIPT = textwrap.dedent("""
    import resource, sys
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))  # a safety net: the bomb wants 9.3 GiB
    from core.annotation_import import import_mask
    from core.config import Settings
    from core.db.engine import make_engine
    from core.errors import SegStudioError
    settings = Settings(data_dir=Path(sys.argv[1]))
    engine = make_engine(settings.database_url, create_tables=False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        import_mask(settings, engine, int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    except SegStudioError as exc:
        print("refused:", exc)
    except MemoryError as exc:
        print("memory:", exc)
    print("peak_growth_mib", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
""")


@pytest.mark.parametrize("image_side", [100_000, 48])
def test_a_mask_declaring_a_huge_image_is_refused_from_its_header(settings: Settings, tmp_path: Path,
                                                                    image_side: int):
    bomb = tmp_path / "bomb.tif"
    _declared_huge_pyramid(bomb)
    assert bomb.stat().st_size < 10_000
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:  # an image of the bomb's size (a whole-slide image), then a small one
        project = repo.create_project(s, "P")
        label = repo.add_label(s, project.id, "cell")
        image = repo.add_image(s, Image(project_id=project.id, name="slide.tif", stored_path="x/slide.tif",
                                        width=image_side, height=image_side, channels=1, dtype="uint8",
                                        content_hash="h", is_wsi=image_side > 10_000))
    engine.dispose()
    run = subprocess.run(
        [sys.executable, "-c", _BOMB_SCRIPT, str(settings.data_dir), str(image.id), str(bomb), str(label.id)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin"},
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    # The header's pyramid check refuses the bomb first; past it, the size limit or the image's size would.
    expected = ("not a valid pyramid",
                "more than the limit of 625 megapixels" if image_side > 10_000 else "but its image is 48x48")
    assert lines[0].startswith("refused:") and any(e in lines[0] for e in expected), run.stdout
    growth = float(lines[-1].split()[-1])
    assert growth < 100, f"reading the header grew the peak memory by {growth:.0f} MiB"
    engine = make_engine(settings.database_url)
    with session_scope(engine) as s:
        assert repo.list_shapes(s, image.id) == []
    engine.dispose()
    assert_sound(settings)
