"""Per-epoch charts side by side as one Vega-Lite specification: the Trainings and Compare pages' curves.

Vega-Lite is the chart engine Streamlit draws its own charts with. The pages drew Plotly figures before:
Plotly's 4.7 MB JavaScript held a new tab's browser thread 1-2 s (during a training, on 2 cores) before any
of the page could be used; Vega-Lite's charts appear about 0.2 s after the page's text.

A specification is a plain dict: ``values`` (one dict per point: ``chart`` (its panel's title), ``epoch``,
``value`` and the fields the encodings name) drawn as one panel per chart title, lines with points for the
``line`` points and a diamond for the ``kept`` points (the kept model's score, the number its table shows).
"""

from __future__ import annotations

from collections.abc import Sequence

#: panel height in pixels, and the width the panels share
PANEL_HEIGHT = 250
CHARTS_WIDTH = 900


def panels_spec(values: list[dict], panels: Sequence[tuple[str, str]], *, colour: dict,
                dash: dict | None = None, tooltip_name: str) -> dict:
    """One panel per ``(title, y-axis label)`` of ``panels``, side by side. ``values``' points carry a
    ``mark`` (``line`` or ``kept``); ``colour`` (and ``dash``) are the Vega-Lite encodings of their lines,
    ``tooltip_name`` the field that names a line in the tooltip."""
    width = max(160, CHARTS_WIDTH // max(len(panels), 1) - 40)
    tooltip = [{"field": tooltip_name, "type": "nominal", "title": "line"},
               {"field": "epoch", "type": "quantitative", "format": "d"},
               {"field": "value", "type": "quantitative", "format": ".3f"}]
    x = {"field": "epoch", "type": "quantitative", "title": "epoch",
         "axis": {"tickMinStep": 1, "format": "d"}}
    lines = {"color": colour} | ({"strokeDash": dash} if dash is not None else {})

    def panel(title: str, ylabel: str) -> dict:
        at = {"x": x, "y": {"field": "value", "type": "quantitative", "title": ylabel, "scale": {"zero": False}}}
        return {
            "title": title, "width": width, "height": PANEL_HEIGHT,
            "transform": [{"filter": {"field": "chart", "equal": title}}],
            "layer": [
                {"transform": [_only("line")], "mark": {"type": "line"}, "encoding": at | lines},
                {"transform": [_only("line")], "mark": {"type": "point", "filled": True, "size": 30},
                 "encoding": at | {"color": colour, "tooltip": tooltip}},
                # Vega's "star" symbol fails to draw in Streamlit's charts ("Invalid SVG path"): a diamond
                {"transform": [_only("kept")],
                 "mark": {"type": "point", "shape": "diamond", "size": 220, "filled": True, "opacity": 1,
                          "stroke": "#000", "strokeWidth": 0.8},
                 "encoding": at | {"color": colour, "tooltip": tooltip}},
            ],
        }

    return {"data": {"values": values}, "hconcat": [panel(title, ylabel) for title, ylabel in panels],
            "resolve": {"scale": {"y": "independent"}},
            "config": {"legend": {"orient": "bottom", "labelLimit": 400, "symbolType": "stroke"}}}


def _only(mark: str) -> dict:
    return {"filter": {"field": "mark", "equal": mark}}


def chart_points(title: str, epochs: Sequence[int], scores: Sequence[float | None], **fields: object) -> list[dict]:
    """The points of one line of panel ``title``: an epoch's missing score leaves that epoch out."""
    return [{"chart": title, "epoch": epoch, "value": float(score), "mark": "line", **fields}
            for epoch, score in zip(epochs, scores, strict=True) if score is not None]
