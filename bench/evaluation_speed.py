"""Speed and sanity figures of core.evaluation on real DSB2018 ground truth and synthetic crowds.

Run: PYTHONPATH=. python bench/evaluation_speed.py [--data ../shared/data]
Prints: matching time for ~1000 objects, targets and post-processing time per image, how many objects the
3-class targets (and the distance targets) recover through instances_from_maps on all dsb2018_fluo masks,
and the time of a default-grid post-processing search on 13 'validation' images with blurred, noisy maps.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage as ndi

from core.evaluation.instance import instance_scores, match_instances
from core.evaluation.postprocess import POSTPROCESS_DEFAULTS, instances_from_maps
from core.evaluation.targets import distance_targets, three_class_targets
from core.evaluation.tuning import DEFAULT_GRIDS, tune_postprocessing


def timed(fn, *args, repeat=3, **kwargs):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return out, best


def crowd(n_side: int, size: int, shift: int) -> tuple[np.ndarray, np.ndarray]:
    gt = np.zeros((n_side * size, n_side * size), dtype=np.int32)
    pred = np.zeros_like(gt)
    half = size // 2
    for i in range(n_side):
        for j in range(n_side):
            label = i * n_side + j + 1
            gt[i * size : i * size + half, j * size : j * size + half] = label
            pred[i * size : i * size + half, j * size + shift : j * size + half + shift] = label
    return pred, gt


def soft_maps(gt: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    classes = three_class_targets(gt)
    maps = {}
    for name, k in (("interior", 1), ("boundary", 2)):
        blurred = ndi.gaussian_filter((classes == k).astype(np.float32), 1.0)
        maps[name] = np.clip(blurred + rng.normal(0, 0.05, gt.shape), 0, 1).astype(np.float32)
    return maps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()

    pred, gt = crowd(32, 32, 3)  # 1024 objects, 1024 x 1024 px
    counts, seconds = timed(match_instances, pred, gt)
    print(f"match_instances, {counts.n_gt} objects on {gt.shape[0]}x{gt.shape[1]}: {seconds * 1000:.1f} ms"
          f" (F1@0.5 {instance_scores(counts)['f1']:.3f})")  # fmt: skip

    masks = sorted((args.data / "dsb2018_fluo" / "masks").glob("*.tif"))
    if not masks:
        print(f"no dsb2018_fluo masks under {args.data}; real-data figures skipped")
        return
    total_3c = total_dist = None
    t_targets = t_post = t_match = 0.0
    n_pixels = 0
    for path in masks:
        gt = tifffile.imread(path)
        n_pixels += gt.size
        start = time.perf_counter()
        classes = three_class_targets(gt)
        dist = distance_targets(gt)
        t_targets += time.perf_counter() - start
        start = time.perf_counter()
        labels = instances_from_maps((classes == 1).astype(np.float32), (classes == 2).astype(np.float32),
                                     threshold=0.5, seed_threshold=0.7, min_size=0)  # fmt: skip
        t_post += time.perf_counter() - start
        labels_d = instances_from_maps((gt > 0).astype(np.float32), None, threshold=0.5, seed_threshold=0.5,
                                       min_size=0, distance=dist)  # fmt: skip
        start = time.perf_counter()
        c3 = match_instances(labels, gt)
        t_match += time.perf_counter() - start
        cd = match_instances(labels_d, gt)
        total_3c = c3 if total_3c is None else total_3c + c3
        total_dist = cd if total_dist is None else total_dist + cd
    s3, sd = instance_scores(total_3c), instance_scores(total_dist)
    mpx = n_pixels / 1e6
    print(f"dsb2018_fluo: {len(masks)} masks, {s3['n_gt']} nuclei, {mpx:.1f} Mpx")
    print(f"  3-class targets -> instances: recall@0.5 {s3['recall']:.4f}, F1@0.5 {s3['f1']:.4f}, "
          f"mean AP {s3['mean_ap']:.4f}")  # fmt: skip
    print(f"  distance targets -> instances: recall@0.5 {sd['recall']:.4f}, F1@0.5 {sd['f1']:.4f}, "
          f"mean AP {sd['mean_ap']:.4f}")  # fmt: skip
    print(f"  per Mpx: targets (3-class + distance) {t_targets / mpx * 1000:.0f} ms, "
          f"instances_from_maps {t_post / mpx * 1000:.0f} ms, match_instances {t_match / mpx * 1000:.0f} ms")

    rng = np.random.default_rng(0)
    val = [tifffile.imread(p) for p in masks[::5][:13]]
    items = [(soft_maps(g, rng), g, None) for g in val]
    n_points = int(np.prod([len(v) for v in DEFAULT_GRIDS["instance"].values()]))
    (best, score), seconds = timed(tune_postprocessing, items, mode="instance", repeat=1)
    default_counts = sum(
        match_instances(instances_from_maps(m["interior"], m["boundary"], **POSTPROCESS_DEFAULTS), g)
        for m, g, _ in items
    )
    print(f"tune_postprocessing (instance, {n_points} grid points, {len(items)} images, "
          f"{sum(g.size for g in val) / 1e6:.2f} Mpx): {seconds:.2f} s; best {best} F1@0.5 {score:.4f} "
          f"(defaults: {instance_scores(default_counts)['f1']:.4f})")  # fmt: skip
    sem_items = [({"prob": np.clip(m["interior"] + m["boundary"], 0, 1)}, g > 0, None) for m, g, _ in items]
    n_points = int(np.prod([len(v) for v in DEFAULT_GRIDS["semantic"].values()]))
    (best, score), seconds = timed(tune_postprocessing, sem_items, mode="semantic", repeat=1)
    print(f"tune_postprocessing (semantic, {n_points} grid points): {seconds:.2f} s; "
          f"best {best} IoU {score:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
