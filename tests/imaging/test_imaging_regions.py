"""Region reads equal slices of the full array, at level 0 and at pyramid levels; whole-slide images kept."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile

from core.errors import ImageImportError, InvalidInputError
from core.imaging import ImageReader, import_image, level_shapes, open_image, read_region, tiffwrite
from core.imaging.pyramid import downsample2


def _wide_image(rng) -> np.ndarray:
    """5000 x 300 uint8: over 4096 px, so a pyramid is built; smooth so the file stays tiny."""
    base = np.add.outer(np.arange(300) // 7, np.arange(5000) // 13).astype(np.uint8)
    base[rng.integers(0, 300, 50), rng.integers(0, 5000, 50)] = 255
    return base


def test_level_shapes():
    assert level_shapes(300, 4096) == [(300, 4096)]
    assert level_shapes(300, 5000) == [(300, 5000), (150, 2500), (75, 1250), (38, 625)]
    assert level_shapes(25000, 25000)[-1] == (782, 782)


def test_downsample2_is_rounded_mean_with_edge_repeat():
    rows = np.array([[0, 1, 10], [3, 4, 20], [8, 8, 30]], np.uint8)
    np.testing.assert_array_equal(downsample2(rows), [[2, 15], [8, 30]])


def test_regions_at_level_0_and_pyramid_levels(tmp_path, rng):
    arr = _wide_image(rng)
    src = tmp_path / "wide.tif"
    tifffile.imwrite(src, arr, rowsperstrip=16, compression="zlib")
    stored = import_image(src, tmp_path / "store", "wide")
    assert stored.levels == 4 and not stored.is_wsi
    expected = [arr[np.newaxis]]
    for _ in range(3):
        expected.append(downsample2(expected[-1]))
    with open_image(stored.path) as reader:
        assert reader.level_shapes == [e.shape[1:] for e in expected]
        for level, full in enumerate(expected):
            np.testing.assert_array_equal(reader.read_level(level), full)
            h, w = full.shape[1:]
            y, x = h // 3, w // 4
            np.testing.assert_array_equal(
                reader.read_region(level, y, x, h // 2, w // 3), full[:, y : y + h // 2, x : x + w // 3]
            )
    np.testing.assert_array_equal(
        read_region(stored.path, 0, 100, 4000, 37, 900), arr[np.newaxis, 100:137, 4000:4900]
    )
    with tifffile.TiffFile(stored.path) as tif:
        assert len(tif.series[0].levels) == 4 and tif.pages[0].is_tiled


def test_multichannel_pyramid_spills_levels_to_disk(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(tiffwrite, "MEMORY_LIMIT", 1024)
    monkeypatch.setattr("core.imaging.importer.MEMORY_LIMIT", 1024)
    arr = rng.integers(0, 65535, (2, 40, 4200), dtype=np.uint16)
    src = tmp_path / "two.ome.tif"
    tifffile.imwrite(src, arr, ome=True, metadata={"axes": "CYX"}, tile=(32, 64))
    stored = import_image(src, tmp_path / "store", "two")
    assert stored.levels == 4 and stored.channels == 2
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == ["two.tif", "two_thumb.png"]
    with open_image(stored.path) as reader:
        np.testing.assert_array_equal(reader.read_level(0), arr)
        np.testing.assert_array_equal(reader.read_level(1), downsample2(arr))
        np.testing.assert_array_equal(
            reader.read_region(2, 3, 500, 5, 7), downsample2(downsample2(arr))[:, 3:8, 500:507]
        )


def test_region_clipping_and_errors(tmp_path, rng):
    arr = rng.integers(0, 255, (3, 50, 60), dtype=np.uint8)
    src = tmp_path / "c.tif"
    tifffile.imwrite(src, arr, photometric="minisblack")
    stored = import_image(src, tmp_path / "store", "c", pages_as="channels")
    with open_image(stored.path) as reader:
        assert reader.shape == (3, 50, 60) and reader.dtype == np.uint8
        np.testing.assert_array_equal(reader.read_region(0, 40, 50, 20, 20), arr[:, 40:, 50:])
        np.testing.assert_array_equal(reader.read_region(0, -5, -5, 10, 10), arr[:, :5, :5])
        with pytest.raises(InvalidInputError, match="outside level 0"):
            reader.read_region(0, 50, 0, 5, 5)
        with pytest.raises(InvalidInputError, match=r"levels 0\.\.0"):
            reader.read_region(1, 0, 0, 5, 5)
        with pytest.raises(InvalidInputError, match="positive"):
            reader.read_region(0, 0, 0, 0, 5)
        with pytest.raises(InvalidInputError, match="max_megapixels"):
            reader.read_level(0, max_megapixels=0.001)
    with pytest.raises(InvalidInputError, match="closed"):
        reader.read_region(0, 0, 0, 5, 5)


def test_pyramidal_ome_tiff_is_kept_as_whole_slide(tmp_path, rng):
    full = rng.integers(0, 255, (512, 768, 3), dtype=np.uint8)
    half = full[::2, ::2].copy()
    src = tmp_path / "slide.ome.tif"
    with tifffile.TiffWriter(src) as tif:
        tif.write(
            full,
            subifds=1,
            tile=(128, 128),
            photometric="rgb",
            metadata={"axes": "YXS", "PhysicalSizeX": 0.5},
        )
        tif.write(half, subfiletype=1, tile=(128, 128), photometric="rgb")
    stored = import_image(src, tmp_path / "store", "slide")
    assert stored.is_wsi and stored.levels == 2 and stored.is_rgb and stored.channels == 3
    assert stored.source_format == "pyramidal OME-TIFF" and stored.pixel_size_um == pytest.approx(0.5)
    assert stored.path.name == "slide.ome.tif" and stored.path.read_bytes() == src.read_bytes()
    assert not os.path.samefile(stored.path, src)  # an independent copy, not re-encoded
    assert stored.thumb_path.exists()
    with ImageReader(stored.path) as reader:
        assert reader.level_shapes == [(512, 768), (256, 384)]
        np.testing.assert_array_equal(
            reader.read_region(1, 10, 20, 30, 40), np.moveaxis(half[10:40, 20:60], -1, 0)
        )
        np.testing.assert_array_equal(
            reader.read_region(0, 100, 200, 64, 64), np.moveaxis(full[100:164, 200:264], -1, 0)
        )


def test_whole_slide_limits_apply_to_level0_and_smallest_level(tmp_path, rng):
    full = rng.integers(0, 255, (64, 96), dtype=np.uint8)  # level 1: 32 x 48 = 0.0015 megapixels
    src = tmp_path / "tiny_pyramid.tif"
    with tifffile.TiffWriter(src) as tif:
        tif.write(full, subifds=1, tile=(32, 32))
        tif.write(full[::2, ::2], subfiletype=1, tile=(32, 32))
    stored = import_image(src, tmp_path / "store", "wsi", max_megapixels=0.002)  # level 0 is over it
    assert stored.is_wsi and stored.levels == 2
    with pytest.raises(ImageImportError, match="smallest level.*more than the limit of 0.001 megapixels"):
        import_image(src, tmp_path / "store", "wsi2", max_megapixels=0.001)
    with pytest.raises(ImageImportError, match="more than the limit of 0.005 megapixels for whole-slide"):
        import_image(src, tmp_path / "store", "wsi3", max_wsi_megapixels=0.005)


def test_aperio_svs_is_kept_with_its_pyramid_and_mpp(tmp_path, rng):
    full = rng.integers(0, 255, (1024, 768, 3), dtype=np.uint8)
    head = "Aperio Image Library v10.0.50\r\n768x1024 "
    src = tmp_path / "slide.svs"
    with tifffile.TiffWriter(src) as tif:
        desc = head + "[0,0 768x1024] (256x256) RAW/RGB|AppMag = 20|MPP = 0.4990"
        tif.write(full, tile=(256, 256), photometric="rgb", description=desc, metadata=None)
        thumb = full[::8, ::8].copy()
        tif.write(thumb, photometric="rgb", description=head + "-> 96x128 - |", metadata=None)
        quarter = full[::4, ::4].copy()
        tif.write(
            quarter, tile=(256, 256), photometric="rgb", description=head + "-> 192x256 - |", metadata=None
        )
    stored = import_image(src, tmp_path / "store", "svs")
    assert stored.is_wsi and stored.source_format == "Aperio SVS" and stored.levels == 2
    assert stored.pixel_size_um == pytest.approx(0.499) and stored.is_rgb
    assert stored.path.name == "svs.svs"
    with open_image(stored.path) as reader:
        assert reader.level_shapes == [(1024, 768), (256, 192)]
        region = reader.read_region(1, 30, 40, 50, 60)
        np.testing.assert_array_equal(region, np.moveaxis(quarter[30:80, 40:100], -1, 0))


def test_planar_source_is_written_channel_by_channel_without_a_level0_copy(tmp_path, rng, monkeypatch):
    from core.imaging import importer

    created = []
    real_store = importer.LevelStore

    def recording_store(shape, *args, **kwargs):
        created.append(shape)
        return real_store(shape, *args, **kwargs)

    monkeypatch.setattr(importer, "LevelStore", recording_store)
    arr = rng.integers(0, 65535, (3, 700, 300), dtype=np.uint16)
    src = tmp_path / "planar.ome.tif"
    tifffile.imwrite(src, arr, ome=True, metadata={"axes": "CYX"}, tile=(512, 512), compression="zlib")
    stored = import_image(src, tmp_path / "store", "planar")
    assert created == []  # channels read one at a time from the source, no (C, H, W) staging copy
    with open_image(stored.path) as reader:
        np.testing.assert_array_equal(reader.read_level(0), arr)


def test_interleaved_source_is_staged_once(tmp_path, rng, monkeypatch):
    from core.imaging import importer

    created = []
    real_store = importer.LevelStore

    def recording_store(shape, *args, **kwargs):
        created.append(shape)
        return real_store(shape, *args, **kwargs)

    monkeypatch.setattr(importer, "LevelStore", recording_store)
    arr = rng.integers(0, 65535, (700, 300, 3), dtype=np.uint16)
    src = tmp_path / "rgb16.tif"
    tifffile.imwrite(src, arr, photometric="rgb", tile=(512, 512))
    stored = import_image(src, tmp_path / "store", "rgb16")
    assert created == [(3, 700, 300)] and not stored.is_rgb
    with open_image(stored.path) as reader:
        np.testing.assert_array_equal(reader.read_level(0), np.moveaxis(arr, -1, 0))
