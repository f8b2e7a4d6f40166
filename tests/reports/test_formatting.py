"""How the report writes values: n/d for undefined metrics, numbers, durations, dates, ellipses."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from core.reports.exports import visualization_file_names
from core.reports.formatting import (
    ELLIPSIS,
    NOT_DEFINED,
    bit_depth,
    format_datetime,
    format_duration,
    format_value,
    shorten,
)


def test_undefined_values_are_never_zero_or_nan():
    assert format_value(None) == NOT_DEFINED
    assert format_value(float("nan")) == NOT_DEFINED
    assert format_value(float("inf")) == NOT_DEFINED


def test_numbers():
    assert format_value(0.81234) == "0.812"
    assert format_value(1.0) == "1.000"
    assert format_value(0.0) == "0"
    assert format_value(12) == "12"
    assert format_value(3.16e-4) == "3.16e-04"
    assert format_value(True) == "yes"
    assert format_value([1, None]) == "1, n/d"


def test_durations_and_dates():
    assert format_duration(None) == "not recorded"
    assert format_duration(45.4) == "45 s"
    assert format_duration(725.4) == "12 min 05 s"
    assert format_duration(3725) == "1 h 02 min 05 s"
    cet = timezone(timedelta(hours=1))
    assert format_datetime(datetime(2026, 3, 4, 10, 30, tzinfo=cet)) == "2026-03-04 09:30 UTC"
    assert format_datetime("2026-03-04T09:30:00") == "2026-03-04 09:30 UTC"
    assert format_datetime(None) == "not recorded"
    assert bit_depth("uint16") == "16-bit"
    assert bit_depth(np.dtype("uint8")) == "8-bit"


def test_shorten_keeps_start_and_end():
    name = "experiment_" + "x" * 200 + "_0042.tif"
    short = shorten(name, 40)
    assert len(short) == 40 and ELLIPSIS in short
    assert short.startswith("experiment_") and short.endswith("_0042.tif")
    assert shorten("short", 40) == "short"


def test_visualization_file_names_are_safe_unique_and_keep_unicode():
    names = [
        "a/b.tif",
        "a_b.tif",
        "Ядро 1.ome.tiff",
        "A_B.TIF",
        "x" * 300,
        "x" * 300 + "y",
        "..",
        "細胞核.png",
    ]
    files = visualization_file_names(names)
    assert files[0] == "a_b.png" and files[1] == "a_b-2.png" and files[3] == "A_B-3.png"
    assert files[2] == "Ядро 1.png"
    assert files[7] == "細胞核.png"
    assert files[6] == "image.png"
    assert len({f.lower() for f in files}) == len(files)
    assert all(len(f) <= 104 and "/" not in f for f in files)
    assert files[4] != files[5]
