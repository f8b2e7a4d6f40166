"""Grid search of the post-processing values on validation images.

Instance mode maximises the F1 at IoU 0.5 of all validation images together; semantic mode maximises the
foreground IoU. Counts are summed over images first and reduced once per grid point. Work shared by grid
points is done once: the foreground per ``threshold``, the seeds per (``seed_threshold``,
``seed_height``), one watershed and one overlap table per (threshold, seed_threshold, seed_height); each
``min_size`` then only drops objects from the table.
The values found reproduce exactly what :func:`~core.evaluation.postprocess.instances_from_maps` and
:func:`~core.evaluation.postprocess.semantic_from_prob` produce with them. The images are counted on several
threads (:func:`search_threads`); the result does not depend on how many.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np

from core.errors import InvalidInputError
from core.evaluation import _checks
from core.evaluation.instance import InstanceCounts, counts_from_overlaps, overlap_table, prepare_ground_truth
from core.evaluation.postprocess import (
    components,
    foreground,
    label_components,
    seed_maxima,
    seeded_watershed,
    seeds,
)

_STEPS = [0.3, 0.4, 0.5, 0.6, 0.7]
MAX_THREADS = 4

#: Default search grid per mode; a ``grid`` argument replaces the lists it names.
DEFAULT_GRIDS: dict[str, dict[str, list]] = {
    "instance": {
        "threshold": list(_STEPS),
        "seed_threshold": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        "seed_height": [0.0, 0.1, 0.2],
        "min_size": [0, 5, 10, 20, 40],
    },
    "semantic": {
        "threshold": list(_STEPS),
        "min_size": [0, 10, 50, 200],
    },
}

#: Keys each mode needs in a validation item's maps.
REQUIRED_MAPS = {"instance": ("interior",), "semantic": ("prob",)}

Item = tuple[dict[str, np.ndarray], np.ndarray, "np.ndarray | None"]


def tune_postprocessing(
    items: Sequence[Item],
    *,
    mode: Literal["semantic", "instance"],
    grid: dict[str, list] | None = None,
) -> tuple[dict, float]:
    """Pick the post-processing values that score best on the validation images.

    Args:
        items: one ``(maps, gt, valid)`` per validation image. Instance mode: maps ``{"interior": (H, W),
            "boundary": (H, W) (optional), "distance": (H, W) (optional)}`` of probabilities and gt an int
            (H, W) instance label image. Semantic mode: maps ``{"prob": (H, W)}`` and gt a bool (H, W) mask.
            valid: bool (H, W) pixels that carry ground truth, or None for all.
        mode: "instance" or "semantic".
        grid: lists of values to try per parameter (threshold, seed_threshold, seed_height, min_size);
            parameters not named keep their :data:`DEFAULT_GRIDS` list.

    Returns:
        (best values, best score): values as a dict (threshold, seed_threshold, seed_height, min_size for
        instance;
        threshold, min_size for semantic); score is the summed F1 at IoU 0.5 (instance) or foreground IoU
        (semantic). Where nothing was annotated and nothing predicted the score counts as 1.0 (perfect
        agreement). Ties go to the grid point met first (grids in the order given).
    """
    grid_full, checked = _check_tuning_inputs(items, mode, grid)
    scores = _SCORES[mode](checked, grid_full)
    best_key = next(iter(scores))  # the grid is never empty (checked)
    best_score = scores[best_key]
    for key, score in scores.items():  # insertion order = grid order
        if score > best_score:
            best_key, best_score = key, score
    return dict(zip(grid_full, best_key, strict=True)), best_score


def _instance_scores(items: list[Item], grid: dict[str, list]) -> dict[tuple, float]:
    keys = list(itertools.product(*grid.values()))
    totals = {key: InstanceCounts() for key in keys}
    for counts in _each_image(_instance_counts, items, grid):
        for key, c in counts.items():
            totals[key] = totals[key] + c
    scores = {}
    for key, c in totals.items():
        tp, fp, fn = int(c.tp[0]), int(c.fp[0]), int(c.fn[0])
        scores[key] = 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
    return scores


def _instance_counts(item: Item, grid: dict[str, list]) -> dict[tuple, InstanceCounts]:
    """One image's counts at every grid point."""
    maps, gt, valid = item
    interior, boundary = maps["interior"], maps.get("boundary")
    landscape = maps.get("distance", interior)
    truth = prepare_ground_truth(gt, valid)
    fgs = {t: foreground(interior, boundary, t) for t in grid["threshold"]}
    parts = {t: components(fg) for t, fg in fgs.items()}
    maxima = {h: seed_maxima(landscape, h) for h in grid["seed_height"] if h > 0}
    markers = {(s, h): seeds(landscape, s, h, maxima=maxima.get(h))
               for s, h in itertools.product(grid["seed_threshold"], grid["seed_height"])}
    counts = {}
    for t, (s, h) in itertools.product(grid["threshold"], markers):
        labels = seeded_watershed(landscape, fgs[t], markers[(s, h)], parts=parts[t])
        table = overlap_table(labels, truth)
        for m in grid["min_size"]:
            kept = table.pred_full_area >= max(m, 1)
            counts[(t, s, h, m)] = counts_from_overlaps(table, kept)
    return counts


def _semantic_scores(items: list[Item], grid: dict[str, list]) -> dict[tuple, float]:
    keys = list(itertools.product(*grid.values()))
    totals = {key: np.zeros(3, dtype=np.int64) for key in keys}  # tp, pred pixels, gt pixels
    for counts in _each_image(_semantic_counts, items, grid):
        for key, c in counts.items():
            totals[key] += c
    scores = {}
    for key, (tp, n_pred, n_gt) in totals.items():
        union = n_pred + n_gt - tp
        scores[key] = 1.0 if union == 0 else float(tp / union)
    return scores


def _semantic_counts(item: Item, grid: dict[str, list]) -> dict[tuple, np.ndarray]:
    """One image's (true positive, predicted, annotated) pixels at every grid point."""
    maps, gt, valid = item
    inside = np.ones(gt.shape, dtype=bool) if valid is None else valid
    n_gt = int(np.count_nonzero(gt & inside))
    counts = {}
    for t in grid["threshold"]:
        comps = label_components(maps["prob"] > t, min_size=0)
        areas = np.bincount(comps.ravel())
        pred_in = np.bincount(comps[inside], minlength=len(areas))
        tp_in = np.bincount(comps[gt & inside], minlength=len(areas))
        for m in grid["min_size"]:
            kept = areas >= max(m, 1)
            kept[0] = False
            counts[(t, m)] = np.array([int(tp_in[kept].sum()), int(pred_in[kept].sum()), n_gt], dtype=np.int64)
    return counts


def search_threads(n_images: int) -> int:
    """Threads the search spreads its images over: one per core this process may use, at most
    :data:`MAX_THREADS`. The labelling, watershed and overlap counting release the GIL for much of their time
    (about 1.5 times faster on 2 cores), and the search runs while the network does not."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(n_images, cores, MAX_THREADS))


def _each_image(count: Callable[[Item, dict], dict], items: list[Item], grid: dict[str, list]) -> Iterator[dict]:
    """``count(item, grid)`` of every image, in the images' order (sums do not depend on it either)."""
    threads = search_threads(len(items))
    if threads == 1:
        yield from (count(item, grid) for item in items)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="segstudio-search") as pool:
        yield from pool.map(lambda item: count(item, grid), items)


def _check_tuning_inputs(
    items: Sequence[Item], mode: str, grid: dict[str, list] | None
) -> tuple[dict[str, list], list[Item]]:
    if mode not in DEFAULT_GRIDS:
        raise InvalidInputError(f"mode must be one of {sorted(DEFAULT_GRIDS)}, got {mode!r}.")
    full = {name: list(values) for name, values in DEFAULT_GRIDS[mode].items()}
    for name, values in (grid or {}).items():
        if name not in full:
            raise InvalidInputError(
                f"grid has an unknown parameter {name!r} for {mode} mode; known: {sorted(full)}."
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise InvalidInputError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}.")
        check = _checks.size if name == "min_size" else _checks.fraction
        full[name] = [check(v, f"grid[{name!r}] value") for v in values]
    if len(items) == 0:
        raise InvalidInputError("items is empty; pass at least one (maps, gt, valid) validation image.")
    return full, [_check_item(item, mode, i) for i, item in enumerate(items)]


def _check_item(item: Item, mode: str, index: int) -> Item:
    if not isinstance(item, tuple) or len(item) != 3 or not isinstance(item[0], dict):
        raise InvalidInputError(f"items[{index}] must be a tuple (maps: dict, gt, valid), got {type(item)}.")
    maps, gt, valid = item
    missing = [key for key in REQUIRED_MAPS[mode] if key not in maps]
    if missing:
        raise InvalidInputError(
            f"items[{index}] maps lack {missing} for {mode} mode; it has {sorted(maps)}."
        )
    out, gt_arr = _CHECK_MAPS[mode](maps, gt, f"items[{index}]")
    return out, gt_arr, _checks.valid_mask(valid, gt_arr.shape)


def _instance_maps(maps: dict, gt: object, where: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    gt_arr = _checks.as_labels(gt, f"{where} gt")
    out = {"interior": _checks.as_prob(maps["interior"], f"{where} interior", gt_arr.shape)}
    for key in ("boundary", "distance"):
        if maps.get(key) is not None:
            out[key] = _checks.as_prob(maps[key], f"{where} {key}", gt_arr.shape)
    return out, gt_arr


def _semantic_maps(maps: dict, gt: object, where: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    gt_arr = _checks.as_mask(gt, f"{where} gt", ndim=2)
    return {"prob": _checks.as_prob(maps["prob"], f"{where} prob", gt_arr.shape)}, gt_arr


#: Per mode: the search's scores over the grid, and the check of one item's maps and ground truth.
_SCORES = {"instance": _instance_scores, "semantic": _semantic_scores}
_CHECK_MAPS = {"instance": _instance_maps, "semantic": _semantic_maps}
