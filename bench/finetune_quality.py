"""Fine-tuning against training from scratch, on few annotated images (issue 27).

    python bench/finetune_quality.py [--data ../shared/data] [--start-seconds 300] [--start-package DIR]
        [--keep-start DIR] [--budgets 30,60,120,300] [--train-images 4] [--val-images 8] [--seed 0]
        [--threads 2] [--json out.json]

1. The start: the product's instance training (wizard defaults) on bbbc039_u2os_16bit (16-bit U2OS nuclei,
   the seeded 80/20 split of bench/train_quality.py) for ``--start-seconds``, or a package kept earlier
   (``--start-package``, e.g. one written with ``--keep-start``).
2. dsb2018_fluo with only ``--train-images`` annotated training images (seeded). The engine's own epoch
   validation and post-processing search use ``--val-images`` other images (what a user's validation split
   would hold); every image but the training ones is scored (F1@0.5 of the packaged model, its views and
   post-processing included, as the report scores a training), so both runs are scored on the same images.
3. For each budget: a training from random weights and one started from the bbbc039 model (its "nucleus"
   mapped to the nucleus label), both with the wizard's defaults and the same seed; the time of each budget
   includes everything the training does (reading, learning-rate test, validation, final search).

Prints both curves' F1 at every budget, the steps each run did, the CPU, and the target: fine-tuning for
60 s reaches at least the F1 that the training from scratch reaches in 300 s. Emulate an AVX2-only CPU with
``ONEDNN_MAX_CPU_ISA=AVX2``.
"""

from __future__ import annotations

import argparse
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

from bench.cpu import cpu_name  # noqa: E402
from bench.train_quality import DATASETS, load_dataset  # noqa: E402
from core.training.assessment import assess  # noqa: E402
from core.training.config import LabelSpec, StartChoice, TrainConfig  # noqa: E402
from core.training.loop import train  # noqa: E402
from core.training.outcome import validation_samples  # noqa: E402
from core.training.package import load_model  # noqa: E402
from core.training.split import SplitImage, random_split  # noqa: E402
from core.training.transfer import load_start  # noqa: E402

NUCLEUS = LabelSpec(1, "nucleus", "#ff0000")
TARGET_BUDGETS = (60, 300)  # fine-tuned at the first >= from scratch at the second


def train_start(args, workdir: Path) -> Path:
    """The bbbc039 model (or the kept one): its package folder."""
    if args.start_package:
        return Path(args.start_package)
    images = load_dataset(Path(args.data) / "bbbc039_u2os_16bit", DATASETS["bbbc039_u2os_16bit"])
    records = [SplitImage(i, im.key, annotated=True, labels_present=frozenset({1})) for i, im in enumerate(images)]
    split = random_split(records, [1], seed=args.seed)
    cfg = TrainConfig(training_type="instance", labels=(NUCLEUS,), seed=args.seed)
    start = time.monotonic()
    result = train(cfg, [images[i] for i in split.train], [images[i] for i in split.val],
                   budget_seconds=args.start_seconds, workdir=workdir / "start", device="cpu")
    print(f"start: bbbc039_u2os_16bit instance, {len(split.train)} training images, {result.steps} steps in "
          f"{time.monotonic() - start:.0f} s; its validation F1@0.5 {result.metrics['mean_f1']:.4f}", flush=True)
    if args.keep_start:
        shutil.copytree(result.package_dir, Path(args.keep_start), dirs_exist_ok=True)
    return Path(result.package_dir)


def f1_on(package: Path, images: list, cfg: TrainConfig) -> float:
    """F1@0.5 of the packaged model (its views and post-processing) on ``images``, as the report scores."""
    model, card = load_model(package, "cpu")
    overall = assess(model, card, validation_samples(images, cfg)).overall()
    return float(overall["f1"])


def run_one(kind: str, budget: float, args, data: dict, start_package: Path, workdir: Path) -> dict:
    start = None
    choice = None
    if kind == "fine-tuned":
        choice = StartChoice("bench:bbbc039", ((1, 1),))
        start = load_start(start_package, key="bench:bbbc039", name="bbbc039 nuclei", label_map={1: 1})
    cfg = TrainConfig(training_type="instance", labels=(NUCLEUS,), seed=args.seed, start=choice)
    t0 = time.monotonic()
    result = train(cfg, data["train"], data["val"], budget_seconds=budget, workdir=workdir / f"{kind}-{budget:g}",
                   device="cpu", start=start)
    seconds = time.monotonic() - t0
    f1 = f1_on(Path(result.package_dir), data["scored"], cfg)
    info = result.card["training"]
    row = {"kind": kind, "budget": budget, "seconds": round(seconds, 1), "steps": result.steps,
           "epochs": len(result.history), "f1": f1, "own_validation_f1": result.metrics.get("mean_f1"),
           "learning_rate": info.get("learning_rate"), "step_share": info.get("step_share"),
           "phase_seconds": info.get("phase_seconds")}
    print(f"  {kind:10s} {budget:5.0f} s: F1@0.5 {f1:.4f} on {len(data['scored'])} images ({result.steps} steps, "
          f"{row['epochs']} epochs, lr {row['learning_rate']:.1e}, {seconds:.0f} s wall; training steps "
          f"{row['step_share'] or 0:.0%} of the budget)", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--start-seconds", type=float, default=300.0)
    parser.add_argument("--start-package", default="", help="a kept bbbc039 package instead of training one")
    parser.add_argument("--keep-start", default="", help="copy the bbbc039 package here")
    parser.add_argument("--budgets", default="30,60,120,300")
    parser.add_argument("--train-images", type=int, default=4)
    parser.add_argument("--val-images", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default="")
    parser.add_argument("--kinds", default="scratch,fine-tuned", help="which runs (e.g. only fine-tuned)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    budgets = [float(b) for b in args.budgets.split(",") if b.strip()]
    dsb = load_dataset(Path(args.data) / "dsb2018_fluo", DATASETS["dsb2018_fluo"])
    order = np.random.default_rng(args.seed).permutation(len(dsb))
    train_ids = order[: args.train_images]
    data = {"train": [dsb[i] for i in train_ids],
            "val": [dsb[i] for i in order[args.train_images: args.train_images + args.val_images]],
            "scored": [dsb[i] for i in order[args.train_images:]]}
    print(f"CPU {cpu_name()}, {args.threads} thread(s); dsb2018_fluo: {len(data['train'])} training images "
          f"({', '.join(dsb[i].key for i in train_ids)}), {len(data['val'])} for the engine's validation, "
          f"{len(data['scored'])} scored", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="segstudio-finetune-") as folder:
        workdir = Path(folder)
        start_package = train_start(args, workdir)
        kinds = [k for k in ("scratch", "fine-tuned") if k in args.kinds.split(",")]
        for budget in budgets:
            for kind in kinds:
                rows.append(run_one(kind, budget, args, data, start_package, workdir))
    print("F1@0.5 on the scored images by budget:")
    print("  budget   " + "  ".join(f"{b:6.0f}s" for b in budgets))
    for kind in kinds:
        values = {r["budget"]: r["f1"] for r in rows if r["kind"] == kind}
        print(f"  {kind:10s}" + "  ".join(f"{values[b]:7.4f}" for b in budgets))
    out = {"cpu": cpu_name(), "threads": args.threads, "seed": args.seed, "rows": rows}
    short, long = TARGET_BUDGETS
    tuned = next((r["f1"] for r in rows if r["kind"] == "fine-tuned" and r["budget"] == short), None)
    scratch = next((r["f1"] for r in rows if r["kind"] == "scratch" and r["budget"] == long), None)
    if tuned is not None and scratch is not None:
        verdict = "MET" if tuned >= scratch else "NOT MET"
        print(f"target: fine-tuned {short} s ({tuned:.4f}) >= from scratch {long} s ({scratch:.4f}): {verdict}")
        out["verdict"] = verdict
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
