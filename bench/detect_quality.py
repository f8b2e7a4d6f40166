"""Object detection quality at a fixed time budget on real data: BCCD blood smears (RBC, WBC, platelets).

    python bench/detect_quality.py [--duration quick|extended|SECONDS] [--data ../shared/data] [--seed 0]
        [--scale auto|F] [--patch N] [--steps N] [--views 1|2|4|8] [--json out.json] [--keep DIR]
        [--apply-size 10000]

Trains the product's detection type (the wizard's defaults) on ../shared/data/bccd_blood_detection (218 dev
images, 640 x 480 RGB; boxes from boxes/<stem>.csv) with a seeded 80/20 split in which validation holds every
label, and prints the validation mAP@0.5, mAP@0.5:0.95, AP@0.5 per label, the steps done and the CPU. Targets on
2 CPU cores (AVX2-only CPUs included): quick mAP@0.5 >= 0.75, extended >= 0.85. With ``--apply-size N`` it also
predicts an N x N RGB image (tiled, whole-slide style, boxes merged across tiles) with the trained model and
prints megapixels per second and the peak RSS.

Measured (session 16, AMD EPYC, 2 cores with AVX512-BF16, the cores shared with other work throughout): quick
mAP@0.5 0.799 (mAP@0.5:0.95 0.422; AP50 RBC 0.818, WBC 1.000, platelets 0.578; 582 steps, bf16), extended
0.937 (0.592; RBC 0.848, WBC 1.000, platelets 0.963; 2877 steps, fp32: the bf16 probe lost to the load). Tried
on the way (600 steps, one view): a quarter scale with labels as they come 0.59 (platelets 0.03), half scale
with label-balanced patches 0.548 (red cells 0.28), a quarter scale with label-balanced patches 0.732: the
product's choice.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from bench.cpu import cpu_name  # noqa: E402
from core.config import Settings  # noqa: E402
from core.training.config import VIEW_COUNTS, LabelSpec, TrainConfig  # noqa: E402
from core.training.loop import train  # noqa: E402
from core.training.sources import BoxImage  # noqa: E402
from core.training.split import SplitImage, random_split  # noqa: E402
from core.training.types import training_type  # noqa: E402

LABELS = ("RBC", "WBC", "Platelets")
TARGETS = {"quick": 0.75, "extended": 0.85}


def load_bccd(folder: Path) -> list:
    """BoxImages of every dev image with its boxes."""
    images = []
    for path in sorted((folder / "images").glob("*.jpg")):
        pixels = np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)
        boxes = []
        with open(folder / "boxes" / f"{path.stem}.csv", newline="") as handle:
            for row in csv.DictReader(handle):
                boxes.append((LABELS.index(row["label"]), int(row["y_min"]), int(row["x_min"]),
                              int(row["y_max"]), int(row["x_max"])))
        images.append(BoxImage(path.stem, pixels, boxes, n_labels=len(LABELS)))
    return images


def run(args, settings: Settings) -> dict:
    images = load_bccd(Path(args.data) / "bccd_blood_detection")
    records = [SplitImage(i, im.key, annotated=True, labels_present=frozenset(b[0] for b in im.object_boxes))
               for i, im in enumerate(images)]
    split = random_split(records, range(len(LABELS)), seed=args.seed)
    train_set, val_set = [images[i] for i in split.train], [images[i] for i in split.val]
    budget = settings.duration_seconds(args.duration) if isinstance(args.duration, str) else args.duration
    defaults = training_type("detection").config_defaults
    cfg = TrainConfig(
        training_type="detection",
        labels=tuple(LabelSpec(i + 1, name, color) for i, (name, color) in
                     enumerate(zip(LABELS, ("#e6194b", "#3cb44b", "#4363d8"), strict=True))),
        patch_size=args.patch, seed=args.seed, views=args.views,
        scale=args.scale if args.scale == "auto" else float(args.scale),
        max_steps=args.steps or None, steps_per_epoch=max(args.steps // 8, 1) if args.steps else None,
        **defaults,
    )
    if args.steps:
        budget = 1e6
    print(f"bccd: {len(train_set)} training / {len(val_set)} validation images, budget {budget:.0f} s, "
          f"patch {args.patch}, scale {args.scale}, torch threads {torch.get_num_threads()}, CPU {cpu_name()}",
          flush=True)

    def progress(p) -> None:
        if p.record:
            r = p.record
            fmt = lambda v: "  -  " if v is None else f"{v:.3f}"  # noqa: E731
            print(f"  epoch {r['epoch']:2d} step {r['step']:5d} t={p.elapsed_seconds:5.0f}s loss "
                  f"{fmt(r['train_loss'])} val_loss {fmt(r['val_loss'])} train mAP50 {fmt(r.get('train_map50'))} "
                  f"val mAP50 {fmt(r.get('val_map50'))} P {fmt(r.get('val_precision'))} "
                  f"R {fmt(r.get('val_recall'))} lr {r['learning_rate']:.1e}", flush=True)

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="segstudio-detect-") as workdir:
        result = train(cfg, train_set, val_set, budget_seconds=budget, workdir=Path(workdir), on_progress=progress,
                       device=settings.device)
        seconds = time.monotonic() - start
        if args.keep and result.package_dir is not None:
            shutil.copytree(result.package_dir, Path(args.keep), dirs_exist_ok=True)
        apply = apply_speed(result.package_dir, args.apply_size, Path(args.data)) if args.apply_size else None
    m = result.metrics
    per_label = {e["label"]: e["detection"] for e in m["per_label"]}
    target = TARGETS.get(args.duration) if isinstance(args.duration, str) else None
    out = {"duration": args.duration, "budget_seconds": budget, "seconds": round(seconds, 1), "steps": result.steps,
           "epochs": len(result.history), "batch_size": result.batch_size, "learning_rate": result.learning_rate,
           "device": result.device, "cpu": cpu_name(), "map_50": m.get("map_50"), "map_50_95": m.get("map_50_95"),
           "target": target, "per_label": per_label, "postprocess": result.postprocess,
           "scale": result.card["scale"]["factor"] if result.card else None,
           "views": result.card.get("views") if result.card else None, "apply": apply}
    verdict = "" if target is None else ("  MET" if (m.get("map_50") or 0) >= target else "  NOT MET")
    print(f"bccd {args.duration}: mAP@0.5 = {m.get('map_50'):.4f} (target {target}){verdict}; "
          f"mAP@0.5:0.95 = {m.get('map_50_95'):.4f}; "
          + "; ".join(f"{k} AP50 {v['ap_50']:.3f} P {v['precision'] or 0:.3f} R {v['recall'] or 0:.3f}"
                      for k, v in per_label.items())
          + f"; {result.steps} steps of {result.batch_size}, scale {out['scale']}, {out['views']} views, "
          f"{seconds:.0f} s wall; {result.device}; CPU {out['cpu']}", flush=True)
    if apply:
        print(f"apply {args.apply_size} x {args.apply_size}: {apply['megapixels_per_second']:.2f} MP/s, "
              f"{apply['boxes']} boxes, peak RSS {apply['peak_rss_mb']:.0f} MB", flush=True)
    return out


def apply_speed(package_dir: Path | None, size: int, data: Path) -> dict | None:
    """Predict the boxes of a ``size`` x ``size`` RGB mosaic of blood smears (a tiled TIFF read region by
    region, as Apply reads a whole-slide image) with the trained model, in a fresh process
    (:func:`bench.predict_large.detection_apply`): megapixels per second, boxes and that process's peak
    RSS."""
    if package_dir is None:
        return None
    from bench.predict_large import detection_apply

    smears = Path(data) / "bccd_blood_detection" / "images"
    with tempfile.TemporaryDirectory(prefix="detect-apply-") as tmp:
        [row] = detection_apply(Path(package_dir), [size], Path(tmp), smears=smears)
    return {"seconds": round(row["wall_s"], 1), "megapixels_per_second": row["mp_per_s"],
            "boxes": row["boxes"], "peak_rss_mb": row["peak_rss_mb"], "tiles": row["tiles"], "halo": row["halo"]}


def main() -> None:
    ap = argparse.ArgumentParser(description="Object detection quality at a fixed time budget on BCCD")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--duration", default="quick", help="quick | extended | seconds")
    ap.add_argument("--patch", type=int, default=TrainConfig.patch_size)
    ap.add_argument("--steps", type=int, default=0, help="run exactly this many steps instead of the time budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", default=TrainConfig.scale)
    ap.add_argument("--views", type=int, choices=VIEW_COUNTS, default=TrainConfig.views)
    ap.add_argument("--apply-size", type=int, default=0, help="also time Apply on an N x N image")
    ap.add_argument("--json", default="")
    ap.add_argument("--keep", default="", help="copy the trained model package to this folder")
    args = ap.parse_args()
    if args.duration not in ("quick", "extended"):
        args.duration = float(args.duration)
    result = run(args, Settings.from_env())
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
