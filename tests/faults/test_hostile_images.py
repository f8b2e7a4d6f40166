"""Hostile and odd image files at import: crafted by the test, imported through core, the CLI and the page.

- a fake pyramid (tiny file, huge declared size) is refused with its reason, nothing registered, no big
  allocation; real small pyramids with JPEG and deflate tiles still import;
- whole-slide files are stored as independent copies (editing the original leaves the stored image alone);
  a full disk during that copy is the storage error, with nothing left behind;
- a multi-page TIFF that does not say what its pages are is refused until the caller says they are channels;
- every conversion is shown (CLI output, the gallery's image details);
- tifffile's own warnings never reach the CLI's stderr; what they say is folded into our message.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from streamlit.testing.v1 import AppTest

from core import projects as ops
from core.config import Settings
from core.db import repo, session_scope
from core.db.engine import make_engine
from core.errors import ImageImportError, PagesUnknownError, StorageError
from core.imaging import file_sha256, import_image
from tests.faults.conftest import assert_sound

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


# --- crafted files ------------------------------------------------------------------------------------------
def fake_pyramid(path: Path, side: int = 100_000, levels: int = 2, tile: int = 1024) -> Path:
    """An OME-TIFF declaring ``side`` x ``side`` px (and sub-levels of half the size each) whose tiles are
    all the same deflated block of zeros: about 10 MB for 10^10 declared pixels."""
    block = zlib.compress(np.zeros((tile, tile), np.uint8).tobytes(), 9)

    def tiles(n: int):
        for _ in range(n):
            yield block

    with tifffile.TiffWriter(path, bigtiff=True, ome=True) as tif:
        for level in range(levels):
            size = side >> level
            count = (-(-size // tile)) ** 2
            first = {"subifds": levels - 1, "metadata": {"axes": "YX"}}
            options = first if level == 0 else {"subfiletype": 1}
            tif.write(tiles(count), shape=(size, size), dtype=np.uint8, tile=(tile, tile),
                      compression="zlib", **options)
    return path


def tissue(height: int, width: int, seed: int = 0) -> np.ndarray:
    """RGB uint8 that looks like stained tissue on glass: smooth structures, noise, a bright background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width]
    cells = 90 + 60 * np.sin(xx / 17.0) * np.cos(yy / 13.0)
    glass = (xx + yy) % 700 > 420  # stripes of nearly empty glass
    grey = np.where(glass, 236.0, cells) + rng.normal(0, 4, (height, width))
    rgb = np.stack([grey, grey * 0.8 + 30, grey * 0.9 + 10], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def real_pyramid(path: Path, image: np.ndarray, compression: str, *, photometric: str) -> Path:
    levels = [image]
    while max(levels[-1].shape[:2]) > 256:
        levels.append(np.ascontiguousarray(levels[-1][::2, ::2]))
    with tifffile.TiffWriter(path, ome=True) as tif:
        axes = "YXS" if image.ndim == 3 else "YX"
        tif.write(levels[0], subifds=len(levels) - 1, tile=(256, 256), compression=compression,
                  photometric=photometric, metadata={"axes": axes})
        for level in levels[1:]:
            tif.write(level, subfiletype=1, tile=(256, 256), compression=compression, photometric=photometric)
    return path


def plain_pages(path: Path, pages: np.ndarray) -> Path:
    """A multi-page TIFF with no metadata at all (no OME, ImageJ or tifffile shape description)."""
    with tifffile.TiffWriter(path) as tif:
        for page in pages:
            tif.write(page, metadata=None, contiguous=False)
    return path


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEGSTUDIO_DATA": str(settings.data_dir), "PYTHONPATH": str(ROOT)}
    env.pop("SEGSTUDIO_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120, check=False)


def image_count(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            projects = repo.list_projects(session)
            return sum(len(repo.list_images(session, p.id)) for p in projects)  # type: ignore[arg-type]
    finally:
        engine.dispose()


# --- 1. fake pyramids ---------------------------------------------------------------------------------------
_PEAK_RSS_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    from core import projects as ops
    from core.config import Settings
    from core.db.engine import make_engine

    settings = Settings(data_dir=Path(sys.argv[1]))
    engine = make_engine(settings.database_url)
    project = ops.create_project(settings, engine, "Slides")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = ops.import_files(settings, engine, project.id, [(Path(sys.argv[2]).name, Path(sys.argv[2]))])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"errors": report.errors, "imported": len(report.imported),
                      "grown_kib": after - before, "peak_kib": after}))
""")


def test_fake_pyramid_is_refused_with_its_reason_nothing_registered_no_big_allocation(settings, tmp_path):
    src = fake_pyramid(tmp_path / "huge.ome.tif")
    assert src.stat().st_size < 16 << 20  # 10^10 declared pixels in a file of about 12 MB
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_SCRIPT, str(settings.data_dir), str(src)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=120,
        check=True,
    )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["imported"] == 0
    (message,) = outcome["errors"]
    assert "huge.ome.tif: this whole-slide file is not a valid pyramid" in message
    assert "100,000 x 100,000 px" in message and "1,002 times compressed" in message
    assert "export it again" in message  # says what to do
    assert outcome["grown_kib"] < 64 * 1024, f"import grew the process by {outcome['grown_kib']} KiB"
    assert image_count(settings) == 0
    assert not list(settings.images_dir(1).iterdir())
    assert_sound(settings)


def test_fake_pyramid_with_enough_levels_is_refused_for_its_bytes(settings, tmp_path):
    # 100,000 -> 12,500 px: the smallest level is within the megapixel limit, the bytes still cannot be
    src = fake_pyramid(tmp_path / "deep.ome.tif", levels=4)
    with pytest.raises(ImageImportError, match=r"not a valid pyramid: level 0 declares .* times compressed"):
        import_image(src, settings.data_dir / "store", "deep")
    assert not (settings.data_dir / "store").exists() or not list((settings.data_dir / "store").iterdir())
    assert_sound(settings)


def test_whole_slide_size_limit_applies(settings, tmp_path):
    src = real_pyramid(tmp_path / "slide.ome.tif", tissue(1024, 1536), "jpeg", photometric="rgb")
    with pytest.raises(ImageImportError, match=r"more than the limit of 1 megapixels for whole-slide images"):
        import_image(src, tmp_path / "store", "slide", max_wsi_megapixels=1.0)
    assert_sound(settings)


@pytest.mark.parametrize("compression", ["jpeg", "zlib"])
def test_real_pyramid_with_jpeg_or_deflate_tiles_still_imports(settings, engine, tmp_path, compression):
    image = tissue(1024, 1536)
    src = real_pyramid(tmp_path / f"slide_{compression}.ome.tif", image, compression, photometric="rgb")
    project = ops.create_project(settings, engine, "Slides")
    report = ops.import_files(settings, engine, project.id, [(src.name, src)])
    assert report.ok, report.errors
    (stored,) = report.imported
    assert stored.is_wsi and (stored.width, stored.height, stored.levels) == (1536, 1024, 4)
    assert_sound(settings)


# --- 2. independent copies of whole-slide files -------------------------------------------------------------
def test_whole_slide_imported_by_cli_is_independent_of_the_original(settings, tmp_path):
    src = real_pyramid(tmp_path / "slide.ome.tif", tissue(512, 768), "zlib", photometric="rgb")
    ops.create_project(settings, make_engine(settings.database_url), "Slides")
    result = run_cli(settings, "import", "Slides", str(src), "--json")
    assert result.returncode == 0, result.stderr
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        (image,) = repo.list_images(session, 1)
    stored = settings.data_dir / image.stored_path
    assert image.is_wsi and not os.path.samefile(stored, src)
    original_bytes = stored.read_bytes()
    with open(src, "r+b") as handle:  # the user edits the original in place
        handle.seek(src.stat().st_size // 2)
        handle.write(b"\xff" * 4096)
    assert stored.read_bytes() == original_bytes
    assert file_sha256(stored) == image.content_hash != file_sha256(src)
    engine.dispose()
    assert_sound(settings)


def test_disk_full_while_copying_a_whole_slide_is_the_storage_error(small_disk_factory, tmp_path):
    disk = small_disk_factory(8)
    settings = Settings(data_dir=disk.path / "data")
    engine = make_engine(settings.database_url)
    project = ops.create_project(settings, engine, "Slides")
    rng = np.random.default_rng(1)
    big = rng.integers(0, 255, (2048, 2048), dtype=np.uint8)  # 4 MB of noise: deflate cannot shrink it
    src = real_pyramid(tmp_path / "big.ome.tif", big, "zlib", photometric="minisblack")
    disk.fill(leave_bytes=1 << 20)
    report = ops.import_files(settings, engine, project.id, [(src.name, src)])
    (message,) = report.errors
    assert message.startswith("The disk is full: writing") and "nothing was kept" in message
    assert image_count(settings) == 0 and not list(settings.images_dir(project.id).iterdir())
    with pytest.raises(StorageError, match="The disk is full"):  # the same error at the core API
        import_image(src, settings.images_dir(project.id), "again")
    assert not list(settings.images_dir(project.id).iterdir())
    disk.release()
    engine.dispose()
    assert_sound(settings)


# --- 3. multi-page TIFFs that do not say what their pages are -----------------------------------------------
def test_pages_without_metadata_need_an_answer_in_core(settings, engine, tmp_path):
    pages = np.random.default_rng(2).integers(0, 4000, (5, 40, 50), dtype=np.uint16)
    src = plain_pages(tmp_path / "stack.tif", pages)
    with pytest.raises(PagesUnknownError, match=r"5 pages of 50 x 40 px and does not say what they are"):
        import_image(src, tmp_path / "store", "stack")
    project = ops.create_project(settings, engine, "P")
    report = ops.import_files(settings, engine, project.id, [(src.name, src)])
    assert not report.ok and list(report.pages_unknown) == ["stack.tif"] and not report.imported
    assert image_count(settings) == 0
    report = ops.import_files(settings, engine, project.id, [(src.name, src)], pages_as="channels")
    (image,) = report.imported
    assert image.channels == 5
    assert "the file does not say what its 5 pages are; read as channels" in image.notes
    assert_sound(settings)


def test_pages_without_metadata_need_an_answer_in_the_cli(settings, tmp_path):
    src = plain_pages(tmp_path / "stack.tif", np.zeros((3, 20, 30), np.uint8) + np.arange(3)[:, None, None])
    ops.create_project(settings, make_engine(settings.database_url), "P")
    refused = run_cli(settings, "import", "P", str(src))
    assert refused.returncode == 1
    assert "error: stack.tif: the file holds 3 pages" in refused.stderr
    assert "--pages-as-channels" in refused.stderr and image_count(settings) == 0
    accepted = run_cli(settings, "import", "P", str(src), "--pages-as-channels")
    assert accepted.returncode == 0, accepted.stderr
    assert "stack.tif: the file does not say what its 3 pages are; read as channels" in accepted.stdout
    assert image_count(settings) == 1
    assert_sound(settings)


class _Upload(io.BytesIO):
    def __init__(self, name: str, data: bytes) -> None:
        super().__init__(data)
        self.name = name


def test_projects_page_asks_whether_pages_are_channels(app_env, monkeypatch, tmp_path):
    import streamlit as st

    engine = make_engine(app_env.database_url)
    ops.create_project(app_env, engine, "P")
    pages = np.random.default_rng(3).integers(0, 255, (4, 24, 32), np.uint8)
    stack = plain_pages(tmp_path / "stack.tif", pages)
    single = io.BytesIO()
    tifffile.imwrite(single, np.random.default_rng(4).integers(0, 255, (24, 32), dtype=np.uint8))
    uploads = [_Upload("stack.tif", stack.read_bytes()), _Upload("single.tif", single.getvalue())]
    original = st.file_uploader
    monkeypatch.setattr(
        st, "file_uploader", lambda *a, **k: uploads if k.get("accept_multiple_files") else original(*a, **k)
    )
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/projects.py")
    at.run()
    next(b for b in at.button if b.label == "Import 2 file(s)").click().run()
    assert not at.exception
    assert any("do not say what they are. Are the pages channels" in w.value for w in at.warning)
    with session_scope(engine) as session:
        assert [im.name for im in repo.list_images(session, 1)] == ["single.tif"]
    next(b for b in at.button if b.label == "Import the pages as channels").click().run()
    assert not at.exception
    with session_scope(engine) as session:
        names = {im.name: im.channels for im in repo.list_images(session, 1)}
    assert names == {"single.tif": 1, "stack.tif": 4}
    shown = " ".join(m.value for m in at.info) + " ".join(m.value for m in at.markdown)
    assert "stack.tif: the file does not say what its 4 pages are; read as channels" in shown
    engine.dispose()
    assert_sound(app_env)


# --- 4. conversions shown -----------------------------------------------------------------------------------
def _converted_files(tmp_path: Path) -> list[Path]:
    values = np.linspace(-1.0, 3.0, 30 * 40, dtype=np.float32).reshape(30, 40)
    values[5, :5] = np.nan
    floats = tmp_path / "floats.tif"
    tifffile.imwrite(floats, values)
    rgba = tmp_path / "rgba.tif"
    tifffile.imwrite(rgba, np.random.default_rng(5).integers(0, 255, (30, 40, 4), dtype=np.uint8),
                     photometric="rgb", extrasamples=["unassalpha"])
    two = tmp_path / "two_series.tif"
    with tifffile.TiffWriter(two) as tif:
        tif.write(np.zeros((30, 40), np.uint8))
        tif.write(np.zeros((8, 8), np.uint8))
    return [floats, rgba, two]


def test_cli_import_shows_every_conversion(settings, tmp_path):
    files = _converted_files(tmp_path)
    ops.create_project(settings, make_engine(settings.database_url), "P")
    result = run_cli(settings, "import", "P", *map(str, files))
    assert result.returncode == 0, result.stderr
    assert ("floats.tif: float32 pixels rescaled linearly from their range [-1, 3] to uint16 0..65535; "
            "5 NaN/infinite pixel(s) stored as 0 (NaN, -inf) or 65535 (+inf)") in result.stdout
    assert "rgba.tif: alpha (transparency) channel dropped" in result.stdout
    assert "two_series.tif: the file holds 2 images; the first" in result.stdout
    as_json = json.loads(run_cli(settings, "images", "P", "--json").stdout)
    assert any("rescaled linearly" in note for row in as_json for note in row["notes"])
    assert_sound(settings)


def test_gallery_details_show_the_conversions(app_env, tmp_path):
    engine = make_engine(app_env.database_url)
    project = ops.create_project(app_env, engine, "P")
    report = ops.import_files(app_env, engine, project.id, [(p.name, p) for p in _converted_files(tmp_path)])
    assert report.ok, report.errors
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/projects.py")
    at.run()
    assert not at.exception
    captions = " ".join(m.value for m in at.markdown)
    assert "40×30 · uint16 · 1 ch  \nConverted: float32 pixels rescaled linearly" in captions
    assert "Converted: alpha (transparency) channel dropped" in captions
    assert "Converted: the file holds 2 images" in captions
    engine.dispose()
    assert_sound(app_env)


# --- 5. tifffile's warnings ---------------------------------------------------------------------------------
def test_no_tifffile_warnings_on_the_cli_stderr(settings, tmp_path):
    good = io.BytesIO()
    tifffile.imwrite(good, np.random.default_rng(6).integers(0, 255, (64, 64), dtype=np.uint8),
                     tile=(32, 32), compression="zlib")
    data = good.getvalue()
    bad_tag = bytearray(data)
    bad_tag[8 + 2 + 12 * 3 : 8 + 2 + 12 * 3 + 4] = b"\xff\xff\xff\x7f"  # a tag with an unknown type
    bad_ifd = bytearray(data)
    bad_ifd[4:8] = (len(data) + 100).to_bytes(4, "little")  # the first page lies past the end
    (tmp_path / "bad_tag.tif").write_bytes(bytes(bad_tag))
    (tmp_path / "bad_ifd.tif").write_bytes(bytes(bad_ifd))
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])
    ops.create_project(settings, make_engine(settings.database_url), "P")
    result = run_cli(settings, "import", "P", str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    strays = [line for line in lines if not line.startswith(("[", "error: "))]
    assert strays == [], f"lines that are not ours on stderr: {strays}"
    assert any("bad_ifd.tif" in line and "invalid offset to first page" in line for line in lines)
    assert "bad_tag.tif: the file has damaged parts that were skipped" in result.stdout
    assert_sound(settings)
