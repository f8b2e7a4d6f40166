"""Image classification quality at a fixed CPU time on real data: PBC peripheral blood cells (8 classes).

    python bench/classify_quality.py [--data ../shared/data] [--seconds 300] [--threads 2] [--no-peer]
        [--seed 0] [--size N] [--encoder NAME] [--steps N] [--json out.json] [--keep DIR]

Trains the product's classifier (:func:`core.classification.train.train_classifier` with the classification
entry's defaults) on ../shared/data/pbc_blood_cells (2,614 RGB JPEGs of about 360 x 363, ``labels.csv``
``stem,label``) with a seeded split stratified by class (80 % training, 20 % validation), and in the same run
a peer given the same wall-clock time on the same split: a plain torchvision ResNet-18 from scratch at
128 x 128 px (Adam, flips, cross-entropy; its own JPEG decoding counted in its time, like ours). Prints for
both the validation accuracy, balanced accuracy, macro-F1 and the most confused pair of classes; for ours the
steps and epochs done, the training and inference images per second (inference: JPEG decoding, fitting and
the package's test-time views included), and the CPU (model, and whether it has AVX512-BF16 / AMX).

Targets on 2 CPU cores (AVX2-only CPUs included): quick (300 s) accuracy >= 0.93 and >= the peer + 0.03;
extended (1800 s) >= 0.96. Emulate an AVX2-only CPU with ``ONEDNN_MAX_CPU_ISA=AVX2`` (the engine then trains
in fp32, as :mod:`core.training.device` decides).
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
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

from bench.cpu import cpu_name  # noqa: E402
from core.classification.defaults import CONFIG_DEFAULTS  # noqa: E402
from core.classification.examples import ClassExample  # noqa: E402
from core.classification.predict import load_classifier  # noqa: E402
from core.classification.train import train_classifier  # noqa: E402
from core.evaluation.classification import classification_metrics, worst_confusion  # noqa: E402
from core.training.config import LabelSpec, TrainConfig  # noqa: E402

DATASET = "pbc_blood_cells"
TARGETS = {300: 0.93, 1800: 0.96}
PEER_SIZE, PEER_BATCH, PEER_LR = 128, 32, 1e-3
COLOURS = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6")


def read_jpeg(path: Path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB")).transpose(2, 0, 1)


def load_pbc(folder: Path) -> tuple[list[ClassExample], list[str]]:
    """One example per row of labels.csv (decoded when read), and the class names in alphabetical order."""
    with open(folder / "labels.csv", newline="") as handle:
        rows = [(r["stem"], r["label"]) for r in csv.DictReader(handle)]
    names = sorted({label for _, label in rows})
    examples = []
    for stem, label in rows:
        path = folder / "images" / f"{stem}.jpg"
        with Image.open(path) as im:
            width, height = im.size
        examples.append(ClassExample(stem, names.index(label), lambda p=path: read_jpeg(p),
                                     (3, height, width), "uint8"))
    return examples, names


def stratified_split(examples: list[ClassExample], n_classes: int, seed: int, share: float = 0.2):
    """Seeded split: per class, ``round(share * n)`` examples (at least one) to validation."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for k in range(n_classes):
        idx = [i for i, ex in enumerate(examples) if ex.label == k]
        rng.shuffle(idx)
        n_val = max(1, round(share * len(idx)))
        val += idx[:n_val]
        train += idx[n_val:]
    return [examples[i] for i in sorted(train)], [examples[i] for i in sorted(val)]


def run_ours(args, train, val, names) -> dict:
    cfg = TrainConfig(
        training_type="classification",
        labels=tuple(LabelSpec(i + 1, n, COLOURS[i % len(COLOURS)]) for i, n in enumerate(names)),
        seed=args.seed, **{**CONFIG_DEFAULTS, **({"patch_size": args.size} if args.size else {}),
                           **({"encoder": args.encoder} if args.encoder else {}),
                           **({"max_steps": args.steps, "steps_per_epoch": max(args.steps // 15, 1)}
                              if args.steps else {})},
    )
    budget = 1e6 if args.steps else args.seconds

    def progress(p) -> None:
        if p.record:
            r = p.record
            print(f"  epoch {r['epoch']:2d} step {r['step']:5d} t={p.elapsed_seconds:5.0f}s loss "
                  f"{r['train_loss']:.3f} val_loss {r['val_loss']:.3f} train acc {r['train_accuracy']:.3f} "
                  f"val acc {r['val_accuracy']:.4f} val F1 {r['val_macro_f1']:.4f} lr {r['lr']:.1e}",
                  flush=True)

    with tempfile.TemporaryDirectory(prefix="segstudio-classify-") as workdir:
        start = time.monotonic()
        result = train_classifier(cfg, train, val, budget_seconds=budget, workdir=Path(workdir),
                                  on_progress=progress, device="cpu")
        seconds = time.monotonic() - start
        if args.keep:
            shutil.copytree(result.package_dir, Path(args.keep), dirs_exist_ok=True)
        clf = load_classifier(result.package_dir)
        start = time.monotonic()
        preds = list(clf.predict_many(ex.read() for ex in val))
        infer_s = time.monotonic() - start
    probs = np.stack([p.probabilities for p in preds])
    truth = [ex.label for ex in val]
    m = classification_metrics(truth, probs, names)
    info = result.card["training"]
    return {
        "accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"], "macro_f1": m["macro_f1"],
        "top2_accuracy": m["top2_accuracy"], "worst_pair": worst_confusion(m), "per_class": m["per_class"],
        "confusion": m["confusion"], "training_metrics_accuracy": result.metrics["accuracy"],
        "steps": result.steps, "epochs": len(result.history), "best_epoch": result.best_epoch,
        "batch_size": result.batch_size, "seconds": round(seconds, 1),
        "reading_seconds": info["reading_seconds"],
        "train_images_per_second": info["images_per_second"], "device": result.device,
        "views": result.card["views"], "input": result.card["input_description"],
        "weight_average": result.card["metrics"]["weight_average"],
        "inference_images_per_second": len(val) / infer_s,
    }


def run_peer(args, train, val, names) -> dict:
    """A plain torchvision ResNet-18 from scratch at 128 px for the same wall-clock time (its decoding
    included)."""
    import torchvision

    torch.manual_seed(args.seed)
    start = time.monotonic()

    def load(examples):
        x = torch.stack([
            F.interpolate(torch.from_numpy(ex.read()).float()[None], size=(PEER_SIZE, PEER_SIZE),
                          mode="bilinear", antialias=True, align_corners=False)[0]
            for ex in examples
        ])
        return (x / 255.0 - 0.5) / 0.25, torch.tensor([ex.label for ex in examples])

    xt, yt = load(train)
    xv, yv = load(val)
    net = torchvision.models.resnet18(weights=None, num_classes=len(names))
    opt = torch.optim.Adam(net.parameters(), lr=PEER_LR)
    rng = np.random.default_rng(args.seed)
    steps = epochs = 0
    deadline = start + args.seconds - 10.0  # its evaluation takes a few seconds of the budget
    while time.monotonic() < deadline:
        order = rng.permutation(len(yt))
        for i in range(0, len(order) - PEER_BATCH + 1, PEER_BATCH):
            if time.monotonic() >= deadline:
                break
            idx = torch.from_numpy(order[i : i + PEER_BATCH])
            x = xt[idx]
            if rng.random() < 0.5:
                x = x.flip(3)
            if rng.random() < 0.5:
                x = x.flip(2)
            net.train()
            loss = F.cross_entropy(net(x), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        else:
            epochs += 1
    net.eval()
    with torch.no_grad():
        probs = torch.cat([net(xv[i : i + 128]).softmax(1) for i in range(0, len(xv), 128)]).numpy()
    m = classification_metrics(yv.numpy(), probs, names)
    return {"accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"], "macro_f1": m["macro_f1"],
            "worst_pair": worst_confusion(m), "steps": steps, "epochs": epochs,
            "seconds": round(time.monotonic() - start, 1)}


def fmt(m: dict) -> str:
    pair = m.get("worst_pair")
    worst = f"{pair[0]} / {pair[1]} ({pair[2]} mixed up)" if pair else "none"
    return (f"accuracy {m['accuracy']:.4f}, balanced accuracy {m['balanced_accuracy']:.4f}, macro-F1 "
            f"{m['macro_f1']:.4f}; most confused: {worst}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=0, help="input size (default: the entry's)")
    parser.add_argument("--encoder", default="", help="a registry encoder (default: the registry's first)")
    parser.add_argument("--steps", type=int, default=0,
                        help="train this many steps instead of for --seconds (the steps a quiet or faster "
                             "machine does in the budget; no peer, no target)")
    parser.add_argument("--json", default="")
    parser.add_argument("--keep", default="", help="copy the model package here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(args.data) / DATASET
    if not (folder / "labels.csv").exists():
        print(f"no {DATASET}/labels.csv under {args.data}; pass --data with the shared data folder",
              file=sys.stderr)
        return 2
    examples, names = load_pbc(folder)
    train, val = stratified_split(examples, len(names), args.seed)
    print(f"pbc: {len(train)} training / {len(val)} validation images, {len(names)} classes, budget "
          f"{args.seconds:.0f} s, {args.threads} thread(s); CPU {cpu_name()}", flush=True)
    ours = run_ours(args, train, val, names)
    target = None if args.steps else TARGETS.get(int(args.seconds))
    print(f"ours: {fmt(ours)}; top-2 {ours['top2_accuracy']:.4f}", flush=True)
    kept = "kept" if (ours["weight_average"] or {}).get("kept") else "not kept"
    print(f"  {ours['steps']} steps of {ours['batch_size']} in {ours['epochs']} epochs (best "
          f"{ours['best_epoch']}; weight average {kept}), {ours['views']} view(s); reading "
          f"{ours['reading_seconds']:.0f} s; training {ours['train_images_per_second']:.0f} images/s; "
          f"inference {ours['inference_images_per_second']:.0f} images/s; {ours['seconds']:.0f} s wall; "
          f"{ours['device']}", flush=True)
    out = {"seconds": args.seconds, "threads": args.threads, "seed": args.seed, "cpu": cpu_name(),
           "ours": ours}
    if not args.no_peer and not args.steps:
        peer = run_peer(args, train, val, names)
        out["peer"] = peer
        print(f"peer (torchvision ResNet-18, 128 px): {fmt(peer)}; {peer['steps']} steps of {PEER_BATCH}, "
              f"{peer['epochs']} epochs, {peer['seconds']:.0f} s", flush=True)
    if target is not None:
        bar = target if args.no_peer else max(target, out["peer"]["accuracy"] + 0.03)
        verdict = "MET" if ours["accuracy"] >= bar else "NOT MET"
        print(f"target: accuracy >= {bar:.4f}{'' if args.no_peer else ' (0.03 above the peer)'}: {verdict}")
        out["target"], out["verdict"] = bar, verdict
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
