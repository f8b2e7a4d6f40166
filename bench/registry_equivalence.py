"""Same results before and after a refactor of the training types: a fixed, seeded tiny run of each type.

For each training type (semantic, instance) on seeded synthetic discs, on the CPU with one thread:
a step-bound training (``max_steps``; no time budget in play), then a tiled prediction of a held-out image
through the model package, then its exports (label TIFFs, measurements CSV, GeoJSON). Prints, per type, the
sha256 of the packaged weights, of the last checkpoint's weights, of the predicted labels and of each export,
and the metrics, post-processing values and per-epoch history as JSON; ``--json FILE`` writes it all.
Run it on the code before and after the change and compare (``--compare OLD.json`` does it).

    python bench/registry_equivalence.py [--json out.json] [--compare before.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.inference.export import export_prediction, write_label_tiffs  # noqa: E402
from core.inference.predictor import Predictor  # noqa: E402
from core.inference.tiled import predict_image  # noqa: E402
from core.training.config import LabelSpec, TrainConfig  # noqa: E402
from core.training.loop import train  # noqa: E402
from core.training.sources import ArrayImage  # noqa: E402

TYPES = ("semantic", "instance")
VOLATILE = ("seconds", "lr_seconds", "time", "elapsed", "eta")  # wall-clock values, not results


def discs(seed: int, size: int = 96, count: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(image (1, size, size) uint16, instances (1, size, size) int32): bright discs on noise."""
    rng = np.random.default_rng(seed)
    img = rng.normal(0.15, 0.04, (size, size))
    inst = np.zeros((size, size), np.int32)
    yy, xx = np.mgrid[:size, :size]
    placed = 0
    for _ in range(200):
        if placed == count:
            break
        cy, cx = rng.integers(10, size - 10, size=2)
        r = rng.integers(5, 9)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        ring = (yy - cy) ** 2 + (xx - cx) ** 2 <= (r + 2) ** 2
        if (inst[ring] > 0).any():
            continue
        placed += 1
        inst[disc] = placed
        img[disc] += rng.uniform(0.5, 0.8)
    return (np.clip(img, 0, None) * 1000).astype(np.uint16)[None], inst[None]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _state_sha(state: dict) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        value = state[key]
        h.update(key.encode())
        if isinstance(value, torch.Tensor):
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _clean(value):
    """``value`` without wall-clock entries (they differ from run to run and are not results); the device's
    description without the step times it measured."""
    if isinstance(value, dict):
        return {k: re.sub(r" \(.*\)$", "", v) if k == "device" and isinstance(v, str) else _clean(v)
                for k, v in value.items() if not any(w in k for w in VOLATILE)}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def run_type(training_type: str, work: Path) -> dict:
    torch.manual_seed(0)
    images = [ArrayImage(f"im{i}", discs(i)[0], instances=discs(i)[1]) for i in range(4)]
    cfg = TrainConfig(
        training_type=training_type,
        labels=(LabelSpec(7, "nucleus", "#00ff00"),),
        patch_size=64, batch_size=2, learning_rate=3e-3, seed=0,
        max_steps=6, steps_per_epoch=3, views=2, scale=1.0,
    )
    result = train(cfg, images[:3], images[3:], budget_seconds=600, workdir=work, device="cpu")
    package = result.package_dir
    out = {
        "status": result.status,
        "steps": result.steps,
        "best_epoch": result.best_epoch,
        "learning_rate": result.learning_rate,
        "metrics": _clean(result.metrics),
        "postprocess": _clean(result.postprocess),
        "history": _clean(result.history),
        "package_files": sorted(p.name for p in package.iterdir()),
        "last_checkpoint_sha256": _state_sha(torch.load(work / "last.pt", weights_only=True)["model"]),
    }
    out["package_weights_sha256"] = _state_sha(torch.load(package / "weights.pt", weights_only=True))
    card = json.loads((package / "model_card.json").read_text())
    out["card"] = _clean({k: v for k, v in card.items() if k not in ("created_at", "package_versions")})
    image, _ = discs(11, size=160, count=10)
    predictor = Predictor.from_package(package, device="cpu")
    pred = predict_image(image, predictor, tile=64, halo=32, block=128, context=32, out=work / "pred.tif")
    out["prediction_counts"] = pred.counts
    out["prediction_sha256"] = _sha(np.ascontiguousarray(_read_labels(pred.path)).tobytes())
    exports = work / "exports"
    exports.mkdir()
    for path in write_label_tiffs(pred.path, exports, "held_out"):
        out[f"export_{path.name}_sha256"] = _sha(_read_labels(path).tobytes())
    for kind, path in export_prediction(pred.path, image, exports, stem="held_out").items():
        out[f"export_{kind}_sha256"] = _sha(path.read_bytes())
    return out


def _read_labels(path: Path) -> np.ndarray:
    import tifffile

    return tifffile.imread(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--compare", type=Path, help="a JSON written earlier by --json: report differences")
    parser.add_argument("--keep", type=Path, help="keep the working folders here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for training_type in TYPES:
            work = root / training_type
            work.mkdir(parents=True, exist_ok=True)
            results[training_type] = run_type(training_type, work)
    text = json.dumps(results, indent=1, sort_keys=True, default=str)
    print(text)
    if args.json:
        args.json.write_text(text)
    if args.compare:
        before = _clean(json.loads(args.compare.read_text()))
        now = _clean(json.loads(text))
        same = before == now
        print("IDENTICAL to" if same else "DIFFERENT from", args.compare)
        if not same:
            for t in TYPES:
                for key in sorted(set(before.get(t, {})) | set(now.get(t, {}))):
                    if before.get(t, {}).get(key) != now.get(t, {}).get(key):
                        print(f"  {t}.{key} differs")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
