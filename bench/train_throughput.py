"""Images per second of the engine's training step (with its data pipeline) vs a bare smp loop.

Same model, batch size, patch size and output channels, in the same run, measured in alternating blocks
(engine, bare, engine, bare, ...) so that load from other processes hits both alike. The engine reads
patches from images through region reads, biases them to objects, augments them (flips, rotations,
elastic, intensity, noise), builds 3-class + distance targets and the edge rays (unless --no-rays) in a
background thread and trains with Dice + focal on valid pixels plus the rays' error. The bare loop trains
the same network (the edge-ray channels included) on one pre-made batch with smp's DiceLoss + FocalLoss.

    python bench/train_throughput.py [--patch 128] [--batch 4] [--encoder resnet18] [--blocks 6] [--steps 8]
        [--no-rays]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import segmentation_models_pytorch as smp  # noqa: E402
import torch  # noqa: E402

from core.training.batch import CPU_MAX_BATCH  # noqa: E402
from core.training.config import LabelSpec, TrainConfig  # noqa: E402
from core.training.device import pick_device  # noqa: E402
from core.training.encoders import DEFAULT_ENCODER  # noqa: E402
from core.training.loader import BatchPrefetcher  # noqa: E402
from core.training.models import build_model, training_channels  # noqa: E402
from core.training.normalization import compute_normalization  # noqa: E402
from core.training.sampling import PatchSampler  # noqa: E402
from core.training.sources import ArrayImage  # noqa: E402
from core.training.step import make_optimizer, train_step  # noqa: E402


def synthetic_images(n: int, size: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = []
    for i in range(n):
        img = rng.normal(300, 40, (size, size))
        inst = np.zeros((size, size), np.int32)
        for k in range(1, 40):
            cy, cx, r = *rng.integers(10, size - 10, 2), rng.integers(6, 14)
            disc = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) & (inst == 0)
            inst[disc] = k
            img[disc] += 800
        out.append(ArrayImage(f"s{i}", img.astype(np.uint16)[None], instances=inst[None]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, default=TrainConfig.patch_size, help="default: the product's")
    ap.add_argument("--batch", type=int, default=CPU_MAX_BATCH, help="default: the product's on a CPU")
    ap.add_argument("--encoder", default=DEFAULT_ENCODER)
    ap.add_argument("--blocks", type=int, default=6, help="alternating measurement blocks per loop")
    ap.add_argument("--steps", type=int, default=8, help="steps per block")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--no-rays", action="store_true", help="train without the edge rays (default: the product's)")
    args = ap.parse_args()

    torch.manual_seed(0)
    choice = pick_device(args.device)
    images = synthetic_images(6, max(512, args.patch))
    cfg = TrainConfig(training_type="instance", labels=(LabelSpec(1, "nucleus"),), encoder=args.encoder,
                      patch_size=args.patch, batch_size=args.batch, learning_rate=1e-3,
                      edge_rays=not args.no_rays)
    n_out = training_channels("instance", 1, distance=True, rays=cfg.edge_rays)
    sampler = PatchSampler(images, cfg, compute_normalization(images), batch_size=args.batch)

    engine_model = build_model(args.encoder, 1, n_out).to(choice.device)
    bare_model = build_model(args.encoder, 1, n_out).to(choice.device)
    if choice.channels_last:
        engine_model = engine_model.to(memory_format=torch.channels_last)
    engine_opt = make_optimizer(engine_model, 1e-3, 1e-4)
    bare_opt = torch.optim.AdamW(bare_model.parameters(), lr=1e-3)
    dice = smp.losses.DiceLoss("multiclass")
    focal = smp.losses.FocalLoss("multiclass")
    x = torch.randn(args.batch, 1, args.patch, args.patch, device=choice.device)
    y = torch.randint(0, 3, (args.batch, args.patch, args.patch), device=choice.device)

    def bare_step() -> None:
        out = bare_model(x)
        loss = dice(out[:, :3], y) + focal(out[:, :3], y)
        bare_opt.zero_grad(set_to_none=True)
        loss.backward()
        bare_opt.step()

    engine_rates, bare_rates = [], []
    with BatchPrefetcher(sampler, start=0) as loader:
        # warm-up (first calls allocate)
        train_step(engine_model, engine_opt, loader.get(), choice, cfg)
        bare_step()
        for _ in range(args.blocks):
            start = time.perf_counter()
            for _ in range(args.steps):
                train_step(engine_model, engine_opt, loader.get(), choice, cfg)
            engine_rates.append(args.steps * args.batch / (time.perf_counter() - start))
            start = time.perf_counter()
            for _ in range(args.steps):
                bare_step()
            bare_rates.append(args.steps * args.batch / (time.perf_counter() - start))
    start = time.perf_counter()
    for i in range(args.steps):
        sampler.batch(10_000 + i)
    pipeline = args.steps * args.batch / (time.perf_counter() - start)
    engine, bare = statistics.median(engine_rates), statistics.median(bare_rates)
    print(f"device: {choice.describe()}; torch threads {torch.get_num_threads()}; "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    print(f"encoder {args.encoder}, patch {args.patch}, batch {args.batch}, {args.blocks} blocks x {args.steps} steps, "
          f"edge rays {cfg.edge_rays} ({n_out} output channels)")
    print(f"data pipeline alone (one thread): {pipeline:.1f} patches/s")
    print(f"engine step + pipeline: {engine:.2f} images/s  (blocks: {', '.join(f'{r:.2f}' for r in engine_rates)})")
    print(f"bare smp loop:          {bare:.2f} images/s  (blocks: {', '.join(f'{r:.2f}' for r in bare_rates)})")
    print(f"ratio engine / bare: {engine / bare:.2f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
