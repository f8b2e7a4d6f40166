"""Build time and size of the training report of a synthetic training with 50 validation images of 1024².

Run: PYTHONPATH=. python bench/report_build.py [--images 50] [--size 1024] [--encoder resnet18-compact] [--huge]
Prints: build time and ZIP size (targets: under 30 s, under 50 MB), the size of each part (visualisations,
PDF, model package), the same without the model package, and with --huge the time to downscale a
600-megapixel image and its labels to the report's 1024-pixel limit.
Data: seeded noisy images with blurred bright discs (about 120 objects each), instance ground truth and an
imperfect prediction (shifted, one object missed, one false object); metrics from core.evaluation; a real
model package (untrained weights, card, TorchScript) written by core.training.package.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import disk

from core.evaluation.instance import match_instances
from core.evaluation.pixel import pixel_counts
from core.evaluation.report import image_rows, label_rows
from core.reports import EMBED_MAX_SIDE, ReportData, ValidationExample, build_report_zip, downscale_for_report
from core.training.encoders import DEFAULT_ENCODER


def synthetic_image(size: int, n_objects: int, rng: np.random.Generator):
    gt = np.zeros((size, size), np.int32)
    for label in range(1, n_objects + 1):
        rr, cc = disk(tuple(rng.integers(0, size, 2)), int(rng.integers(8, 22)), shape=gt.shape)
        gt[rr, cc] = label
    signal = ndi.gaussian_filter((gt > 0).astype(np.float32), 2.0) * 150
    background = ndi.gaussian_filter(rng.normal(0, 1, (size, size)).astype(np.float32), 8) * 80
    gray = np.clip(30 + background + signal + rng.normal(0, 6, (size, size)), 0, 255).astype(np.uint8)
    image = np.stack([gray // 3, gray, gray // 2], axis=-1)  # a green-ish fluorescence look
    pred = np.roll(gt, 2, axis=1)
    pred[pred == 1] = 0
    rr, cc = disk(tuple(rng.integers(0, size, 2)), 15, shape=gt.shape)
    pred[rr, cc] = n_objects + 1
    return image, gt, pred


def make_data(n_images: int, size: int, model_dir: Path | None, encoder: str = DEFAULT_ENCODER) -> ReportData:
    rng = np.random.default_rng(0)
    examples, pixel, instance, images, hashes = [], {}, {}, [], {}
    for k in range(n_images):
        name = f"kidney_section_{k:03d}.tif"
        image, gt, pred = synthetic_image(size, 120, rng)
        examples.append(ValidationExample(name, image, gt, pred))
        pixel[name] = pixel_counts((pred > 0)[None], (gt > 0)[None])
        instance[name] = [match_instances(pred, gt)]
        images.append(
            {
                "name": name,
                "width": size,
                "height": size,
                "channels": 3,
                "dtype": "uint8",
                "set": "validation",
                "objects": {"nucleus": int(gt.max())},
                "annotated_by": "hand",
            }
        )
        hashes[name] = f"{k:064x}"
    for k in range(4 * n_images):
        images.append(
            {
                "name": f"train_{k:03d}.tif",
                "width": size,
                "height": size,
                "channels": 3,
                "dtype": "uint8",
                "set": "training",
                "objects": {"nucleus": 120},
                "annotated_by": "hand",
            }
        )
    per_label = label_rows(["nucleus"], pixel=pixel, instance=instance)
    curves = [
        {
            "epoch": e,
            "train_loss": 1 / e,
            "val_loss": 1.2 / e,
            "train_accuracy": 0.97 - 0.1 / e,
            "val_accuracy": 0.96 - 0.1 / e,
            "train_iou": 0.85 - 0.4 / e,
            "val_iou": 0.8 - 0.4 / e,
        }
        for e in range(1, 31)
    ]
    return ReportData(
        training={
            "id": 1,
            "name": "bench training",
            "project": "bench",
            "status": "succeeded",
            "created": datetime.now(timezone.utc),
            "duration_s": 3600.0,
            "hardware": "cpu",
            "best_epoch": 28,
        },
        dataset={"images": images, "labels": [{"name": "nucleus", "color": "#e6194b"}]},
        config={
            "training_type": "instance",
            "encoder": encoder,
            "patch_size": 256,
            "learning_rate": 3e-4,
            "batch_size": 8,
            "augment": {"flips": True, "rot90": True, "elastic": True},
            "postprocess": [{"label": "nucleus", "threshold": 0.5, "seed_threshold": 0.7, "min_size": 10}],
        },
        curves=curves,
        metrics={
            "per_label": per_label,
            "per_image": image_rows(["nucleus"], pixel=pixel, instance=instance),
            "overall": {"mean_f1": per_label[0]["f1"]},
        },
        examples=examples,
        reproducibility={"seed": 0, "package_versions": {"numpy": np.__version__}, "data_hashes": hashes},
        model_dir=model_dir,
    )


def write_model(folder: Path, encoder: str) -> Path:
    from core.training.models import build_model
    from core.training.package import write_package

    card = {
        "encoder": encoder,
        "in_channels": 3,
        "out_channels": 3,
        "training_type": "instance",
        "labels": [{"id": 1, "name": "nucleus", "color": "#e6194b"}],
        "distance_head": False,
        "normalization": {"low": [0.0] * 3, "high": [255.0] * 3},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit deprecation notices
        return write_package(folder, build_model(encoder, 3, 3), card)


def sizes(path: Path) -> dict[str, float]:
    out = {"visualisations": 0.0, "pdf": 0.0, "model": 0.0, "other": 0.0}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            key = (
                "visualisations"
                if info.filename.startswith("validation_visualizations/")
                else "pdf"
                if info.filename == "report.pdf"
                else "model"
                if info.filename.startswith("model/")
                else "other"
            )
            out[key] += info.compress_size / 1e6
    return out


def timed_build(data: ReportData, out: Path) -> float:
    start = time.perf_counter()
    build_report_zip(data, out)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--encoder", default=DEFAULT_ENCODER)
    parser.add_argument("--huge", action="store_true", help="also downscale a 600-megapixel image")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model_dir = write_model(tmp_path / "model", args.encoder)
        print(
            f"synthetic training: {args.images} validation images of {args.size} x {args.size}, "
            f"model package {args.encoder}"
        )
        data = make_data(args.images, args.size, model_dir, args.encoder)
        seconds = timed_build(data, tmp_path / "with_model.zip")
        size = (tmp_path / "with_model.zip").stat().st_size / 1e6
        parts = sizes(tmp_path / "with_model.zip")
        print(f"build time with model package:   {seconds:6.1f} s   (target < 30 s)")
        print(f"ZIP size with model package:     {size:6.1f} MB  (target < 50 MB)")
        print("  parts (compressed): " + ", ".join(f"{k} {v:.1f} MB" for k, v in parts.items()))
        data.model_dir = None
        seconds = timed_build(data, tmp_path / "no_model.zip")
        size = (tmp_path / "no_model.zip").stat().st_size / 1e6
        print(f"build time without model:        {seconds:6.1f} s")
        print(f"ZIP size without model:          {size:6.1f} MB")
    if args.huge:
        side = 24_500  # 600 megapixels
        image = np.zeros((side, side), np.uint8)
        labels = np.zeros((side, side), np.uint8)
        image[1000:3000, 1000:3000] = 200
        labels[1000:3000, 1000:3000] = 1
        start = time.perf_counter()
        small = downscale_for_report(image)
        small_labels = downscale_for_report(labels, labels=True)
        print(
            f"600-megapixel image + labels downscaled to {small.shape} / {small_labels.shape} "
            f"(limit {EMBED_MAX_SIDE}) in {time.perf_counter() - start:.1f} s"
        )


if __name__ == "__main__":
    main()
