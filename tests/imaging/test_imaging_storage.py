"""Atomic writes: a full disk (ENOSPC) or any failure leaves no file behind; streaming keeps memory low."""

from __future__ import annotations

import errno
import os
import tracemalloc

import numpy as np
import pytest
import tifffile

from core.errors import DuplicateError, ImageImportError, InvalidInputError, StorageError
from core.imaging import import_image, open_image, remove_stale_partials
from core.imaging.source import SourceBands


def _source(tmp_path, rng, shape=(64, 80)):
    src = tmp_path / "src.tif"
    tifffile.imwrite(src, rng.integers(0, 255, shape, dtype=np.uint8))
    return src


def _raise_enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_writing_tiff_leaves_nothing(tmp_path, rng, monkeypatch):
    src = _source(tmp_path, rng)
    monkeypatch.setattr(tifffile.TiffWriter, "write", _raise_enospc)
    store = tmp_path / "store"
    with pytest.raises(StorageError, match="The disk is full") as info:
        import_image(src, store, "img")
    assert info.value.errno == errno.ENOSPC
    assert list(store.iterdir()) == []


def test_disk_full_part_way_through_tiles_leaves_nothing(tmp_path, rng, monkeypatch):
    src = _source(tmp_path, rng, shape=(600, 700))
    real_write = tifffile.TiffWriter.write

    def write_then_fail(self, data, **kwargs):
        def tiles():
            for i, tile in enumerate(data):
                if i == 3:
                    raise OSError(errno.ENOSPC, "No space left on device")
                yield tile

        return real_write(self, tiles(), **kwargs)

    monkeypatch.setattr(tifffile.TiffWriter, "write", write_then_fail)
    store = tmp_path / "store"
    with pytest.raises(StorageError, match="The disk is full"):
        import_image(src, store, "img")
    assert list(store.iterdir()) == []


def test_disk_full_while_writing_thumbnail_removes_image(tmp_path, rng, monkeypatch):
    src = _source(tmp_path, rng)
    monkeypatch.setattr("PIL.Image.Image.save", _raise_enospc)
    store = tmp_path / "store"
    with pytest.raises(StorageError, match="The disk is full"):
        import_image(src, store, "img")
    assert list(store.iterdir()) == []


def test_disk_full_while_linking_whole_slide(tmp_path, rng, monkeypatch):
    src = tmp_path / "pyr.tif"
    full = rng.integers(0, 255, (64, 64), dtype=np.uint8)
    with tifffile.TiffWriter(src) as tif:
        tif.write(full, subifds=1, tile=(32, 32))
        tif.write(full[::2, ::2], subfiletype=1, tile=(32, 32))
    monkeypatch.setattr("os.link", _raise_enospc)
    monkeypatch.setattr("shutil.copyfile", _raise_enospc)
    store = tmp_path / "store"
    with pytest.raises(StorageError, match="The disk is full"):
        import_image(src, store, "wsi")
    assert list(store.iterdir()) == []


def test_other_write_error_is_a_storage_error(tmp_path, rng, monkeypatch):
    src = _source(tmp_path, rng)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tifffile.TiffWriter, "write", denied)
    with pytest.raises(StorageError, match=r"Could not write img\.tif.*Permission denied"):
        import_image(src, tmp_path / "store", "img")


def test_existing_target_and_bad_stem(tmp_path, rng):
    src = _source(tmp_path, rng)
    import_image(src, tmp_path / "store", "img")
    with pytest.raises(DuplicateError, match="exists already"):
        import_image(src, tmp_path / "store", "img")
    for stem in ("../evil", "a/b", "", ".hidden"):
        with pytest.raises(InvalidInputError, match="stem"):
            import_image(src, tmp_path / "store", stem)


def test_source_read_error_mid_import_leaves_nothing(tmp_path, rng, monkeypatch):
    src = _source(tmp_path, rng, shape=(600, 100))
    real_read = SourceBands.read_raw

    def fail_late(self, y0, y1, channel=None):
        if y0 >= 256:
            raise ImageImportError(f"{src.name}: simulated decode failure")
        return real_read(self, y0, y1, channel)

    monkeypatch.setattr(SourceBands, "read_raw", fail_late)
    with pytest.raises(ImageImportError, match="simulated"):
        import_image(src, tmp_path / "store", "img")
    assert list((tmp_path / "store").iterdir()) == []


def _tiled_source(path, size):
    def tiles():
        for ty in range(0, size, 512):
            for tx in range(0, size, 512):
                yy, xx = np.mgrid[ty : ty + 512, tx : tx + 512]
                yield ((yy // 3 + xx // 5) % 251).astype(np.uint8)

    tifffile.imwrite(path, tiles(), shape=(size, size), dtype=np.uint8, tile=(512, 512), compression="zlib")


def test_import_reads_in_bands_with_low_peak_memory(tmp_path, monkeypatch):
    """Levels larger than the memory limit spill to disk (limit lowered here so a small image shows it)."""
    monkeypatch.setattr("core.imaging.tiffwrite.MEMORY_LIMIT", 1 << 20)
    size = 8192  # 67 MB of pixels
    src = tmp_path / "big.tif"
    _tiled_source(src, size)
    bands = []
    real_read = SourceBands.read_raw

    def spy(self, y0, y1, channel=None):
        bands.append(y1 - y0)
        return real_read(self, y0, y1, channel)

    monkeypatch.setattr(SourceBands, "read_raw", spy)
    tracemalloc.start()
    try:
        stored = import_image(src, tmp_path / "store", "big")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert max(bands) <= 512 and sum(bands) == size
    assert peak < size * size / 3, f"peak {peak / 1e6:.1f} MB for a {size * size / 1e6:.1f} MB image"
    assert stored.levels == 4
    with open_image(stored.path) as reader:
        yy, xx = np.mgrid[1000:1100, 3000:3100]
        np.testing.assert_array_equal(
            reader.read_region(0, 1000, 3000, 100, 100)[0], ((yy // 3 + xx // 5) % 251).astype(np.uint8)
        )


def test_disk_full_while_spilling_a_level_leaves_nothing(tmp_path, rng, monkeypatch):
    monkeypatch.setattr("core.imaging.importer.MEMORY_LIMIT", 16)
    src = tmp_path / "multi.tif"
    tifffile.imwrite(src, rng.integers(0, 65535, (40, 50, 3), dtype=np.uint16), photometric="rgb")
    monkeypatch.setattr("core.imaging.pyramid.os.pwrite", _raise_enospc)
    store = tmp_path / "store"
    with pytest.raises(StorageError, match="The disk is full"):
        import_image(src, store, "img")
    assert list(store.iterdir()) == []


def test_progress_reaches_one(tmp_path, rng):
    src = tmp_path / "wide.tif"
    tifffile.imwrite(src, rng.integers(0, 255, (20, 4500), dtype=np.uint8))
    seen = []
    import_image(src, tmp_path / "store", "img", progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) > 2


def test_big_endian_uncompressed_source(tmp_path, rng):
    arr = rng.integers(0, 65535, (30, 40), dtype=np.uint16)
    src = tmp_path / "be.tif"
    tifffile.imwrite(src, arr, byteorder=">")
    stored = import_image(src, tmp_path / "store", "be")
    with open_image(stored.path) as reader:
        np.testing.assert_array_equal(reader.read_level(0)[0], arr)


def test_remove_stale_partials_keeps_fresh_and_real_files(tmp_path):
    old_part = tmp_path / ".img.tif.0123456789ab.part"
    old_part.write_bytes(b"x")
    old_levels = tmp_path / ".img.0123456789ab.levels"
    old_levels.mkdir()
    (old_levels / "level.raw").write_bytes(b"x")
    fresh = tmp_path / ".new.tif.ba9876543210.part"
    fresh.write_bytes(b"x")
    real = tmp_path / "img.tif"
    real.write_bytes(b"x")
    for path in (old_part, old_levels, real):
        os.utime(path, (0, 0))
    removed = remove_stale_partials(tmp_path, min_age_s=60)
    assert sorted(p.name for p in removed) == sorted([old_part.name, old_levels.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, real.name])
    assert remove_stale_partials(tmp_path / "missing") == []
