"""sanitize_filename: no directories, no '..', no control/reserved characters, never empty or hidden."""

from __future__ import annotations

import pytest

from core.imaging import sanitize_filename


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("cells.tif", "cells.tif"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\evil.tif", "evil.tif"),
        ("/abs/path/img 01.png", "img 01.png"),
        ("..", "image"),
        ("...tif", "image.tif"),
        (".hidden.png", "hidden.png"),
        ("a..b.tif", "a.b.tif"),
        ('we<ird>:na"me|?*.jpg', "weirdname.jpg"),
        ("tab\tnew\nline\x00.tif", "tabnewline.tif"),
        ("", "image"),
        ("   ", "image"),
        ("CON.tif", "_CON.tif"),
        ("sample.OME.TIF", "sample.OME.TIF"),
        ("trailing. . ", "trailing"),
    ],
)
def test_sanitize_filename(raw, expected):
    assert sanitize_filename(raw) == expected


def test_long_names_keep_their_extension():
    name = sanitize_filename("x" * 500 + ".ome.tiff")
    assert name.endswith(".ome.tiff") and len(name.encode()) <= 200


def test_unicode_is_kept_and_truncated_on_character_boundaries():
    name = sanitize_filename("µ" * 300 + ".png")
    assert name.endswith(".png") and name.startswith("µ") and len(name.encode()) <= 200
