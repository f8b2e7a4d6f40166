"""The Apply page's results of a classification model, for the whole run at once: how many images each class
got, the table (image, predicted class and its probability, the runner-up, every class's probability, tiles)
filtered by predicted class, the CSV downloads, the pictures of the images shown, and "accept these
predictions as classes" (:func:`core.class_accept.accept_as_classes`) for the rows chosen."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from core.class_accept import accept_as_classes, default_class_map
from core.db import repo, session_scope
from core.errors import SegStudioError
from core.imaging import open_image
from core.imaging.thumbnail import thumbnail_array
from core.inference.classes import PROBABILITY_PREFIX, table_row
from ui.downloads import file_download
from ui.feedback import flash_outcome, show_error

GALLERY_SIZE = 24  # pictures shown at most (the first of the images listed)
GALLERY_COLUMNS = 6
THUMB_SIDE = 160
_TITLES = {"image": "Image", "class": "Predicted class", "probability": "Probability",
           "second_class": "Second class", "second_probability": "Second probability", "tiles": "Tiles"}
_SKIP = "— do not set —"


def class_run_results(ctx: Any, project: Any, run: Any, results: list[dict], *, images: dict[int, Any],
                      key: str) -> None:
    """Everything of a classification run (``results``: its images' stored results); ``images``: the
    current project's images by id (those can be given their predicted class)."""
    done = [(i, item) for i, item in enumerate(results) if isinstance(item.get("prediction"), dict)]
    for item in results:
        if "error" in item:
            st.error(f"**{item.get('name', '?')}**: {item['error']}")
    if not done:
        return
    names = list(done[0][1]["prediction"]["probabilities"])
    tiled = sum(item["prediction"].get("tiles", 1) > 1 for _, item in done)
    if tiled:
        st.info(f"{tiled} image(s) were larger than the model's input: each was cut into tiles and the class "
                "probabilities of its tiles were averaged (the Tiles column says how many).")
    _class_counts(done, names, key=key)
    chosen = st.multiselect("Show the images predicted as", names, key=f"class_filter_{key}",
                            placeholder="every class")
    shown = [(i, item) for i, item in done if not chosen or item["prediction"]["class"] in chosen]
    st.caption(f"{len(shown)} of {len(done)} image(s) shown.")
    if not shown:
        return
    table = _table(shown)
    # a new filter is a new table: its row selection starts afresh
    selected = _show_table(table, names, key=f"class_table_{key}_{'|'.join(sorted(chosen))}")
    _downloads(ctx, run, table, filtered=bool(chosen), key=key)
    _gallery(ctx, shown, images)
    rows = [shown[r] for r in selected] if selected else shown
    if project is not None:
        accept_classes_panel(ctx, project, run.id, rows, names, images=images, selected=bool(selected),
                             key=key)


def _class_counts(done: list[tuple[int, dict]], names: list[str], *, key: str) -> None:
    import pandas as pd

    counts = Counter(item["prediction"]["class"] for _, item in done)
    frame = pd.DataFrame({"Class": names, "Images": [counts.get(n, 0) for n in names]})
    st.dataframe(frame, hide_index=True, key=f"class_counts_{key}")


def _table(shown: list[tuple[int, dict]]) -> Any:
    import pandas as pd

    return pd.DataFrame([table_row(str(item.get("name", f"image {i + 1}")), item["prediction"])
                         for i, item in shown])


def _show_table(table: Any, names: list[str], *, key: str) -> list[int]:
    """The table (every class's probability as a bar); returns the rows selected."""
    config: dict[str, Any] = {column: _TITLES[column] for column in _TITLES}
    config["probability"] = st.column_config.NumberColumn("Probability", format="%.3f")
    config["second_probability"] = st.column_config.NumberColumn("Second probability", format="%.3f")
    for name in names:
        config[f"{PROBABILITY_PREFIX}{name}"] = st.column_config.ProgressColumn(
            f"p({name})", format="%.3f", min_value=0.0, max_value=1.0)
    event = st.dataframe(table, hide_index=True, column_config=config, key=key, on_select="rerun",
                         selection_mode="multi-row")
    st.caption("Select rows to accept only those predictions below; without a selection, every image shown "
               "is accepted.")
    rows = event.selection.rows if event is not None else []
    return [int(r) for r in rows if 0 <= int(r) < len(table)]


def _downloads(ctx: Any, run: Any, table: Any, *, filtered: bool, key: str) -> None:
    columns = st.columns(2)
    saved = run.results.get("table")
    if saved and (ctx.settings.data_dir / saved).exists():
        file_download(columns[0], "Predicted classes (CSV)", ctx.settings.data_dir / saved, mime="text/csv",
                      file_name=f"prediction-{run.id}-classes.csv", key=f"classes_csv_{key}")
    if filtered:
        columns[1].download_button("The images shown (CSV)", table.to_csv(index=False).encode("utf-8"),
                                   file_name=f"prediction-{run.id}-classes-shown.csv", mime="text/csv",
                                   key=f"classes_shown_csv_{key}", on_click="ignore")


def _gallery(ctx: Any, shown: list[tuple[int, dict]], images: dict[int, Any]) -> None:
    pictures = shown[:GALLERY_SIZE]
    with st.expander(f"Pictures of the images shown ({len(pictures)} of {len(shown)})", expanded=True):
        for start in range(0, len(pictures), GALLERY_COLUMNS):
            for col, (_, item) in zip(st.columns(GALLERY_COLUMNS), pictures[start:start + GALLERY_COLUMNS],
                                      strict=False):
                with col:
                    picture = _picture(ctx.settings.data_dir, item, images)
                    if picture is not None:
                        st.image(picture, width="stretch")
                    record = item["prediction"]
                    name = item.get("name", "?")
                    st.markdown(f"**{name}**  \n{record['class']} ({record['probability']:.2f})")


def _picture(data_dir: Path, item: dict, images: dict[int, Any]) -> Any:
    """The project image's thumbnail, or a small picture of an upload's stored copy (None when gone)."""
    image = images.get(item.get("image_id"))
    if image is not None and image.thumb_path and (data_dir / image.thumb_path).exists():
        return str(data_dir / image.thumb_path)
    stored = item.get("stored")
    if stored and (data_dir / stored).exists():
        try:
            return _thumbnail(str(data_dir / stored), bool(item.get("is_rgb")))
        except SegStudioError:
            return None
    return None


@st.cache_data(show_spinner=False, max_entries=256)
def _thumbnail(path: str, is_rgb: bool) -> np.ndarray:
    with open_image(path) as reader:
        return thumbnail_array(reader, is_rgb=is_rgb, side=THUMB_SIDE)


def accept_classes_panel(
    ctx: Any, project: Any, run_id: int, rows: list[tuple[int, dict]], names: list[str], *,
    images: dict[int, Any], selected: bool, key: str,
) -> None:
    """Map the model's classes to the project's labels (by name unless changed), choose whether images that
    have a class keep it, and set the predicted classes of ``rows``."""
    with session_scope(ctx.engine) as session:
        labels = {lab.id: lab.name for lab in repo.list_labels(session, project.id)}
    ours = sum(item.get("image_id") in images for _, item in rows)
    with st.expander("Accept these predictions as classes (to review them)"):
        if not labels:
            st.caption("Add the classes as labels of the project (Projects page, Label set) to accept these "
                       "predictions as classes.")
            return
        if not ours:
            st.caption(f"None of these images is an image of {project.name!r}; only project images can be "
                       "given a class (import the images into the project first).")
            return
        defaults = default_class_map(names, labels)
        options = [None, *labels]
        class_map = {}
        for name in names:
            class_map[name] = st.selectbox(
                f"Project label for {name!r}", options, index=options.index(defaults[name]),
                format_func=lambda i: _SKIP if i is None else labels[i], key=f"class_map_{key}_{name}")
        have = sum(getattr(images.get(item.get("image_id")), "class_id", None) is not None
                   for _, item in rows)
        replace = st.radio(
            f"Images that already have a class ({have} of these)", [False, True], horizontal=True,
            format_func=lambda r: "Replace it with the prediction" if r else "Keep their class",
            key=f"class_replace_{key}")
        which = "selected" if selected else "shown"
        if st.button(f"Accept the {len(rows)} {which} prediction(s) as classes", key=f"accept_classes_{key}"):
            try:
                report = accept_as_classes(ctx.settings, ctx.engine, run_id, [i for i, _ in rows], class_map,
                                           project_id=project.id, replace=replace)
            except SegStudioError as exc:
                show_error(str(exc))
            else:
                first, *rest = report.sentences()
                flash_outcome([("success", first), *(("info", sentence) for sentence in rest)])
                st.rerun()
