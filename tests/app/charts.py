"""Reading the pages' Vega-Lite charts in AppTests: the points behind the panels."""

from __future__ import annotations

import json

import pyarrow as pa


def chart_of(at, index: int = 0) -> tuple[dict, list[dict]]:
    """(specification, points) of the page's ``index``-th Vega-Lite chart: Streamlit moves the inline points
    out of the specification into Arrow data."""
    proto = at.get("vega_lite_chart")[index].proto
    spec = json.loads(proto.spec)
    points = pa.ipc.open_stream(proto.data.data).read_all().to_pylist() if proto.data.data else []
    return spec, points


def panel_titles(spec: dict) -> list[str]:
    return [panel["title"] for panel in spec["hconcat"]]
