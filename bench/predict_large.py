"""Benchmark: tiled prediction of synthetic 5,000 x 5,000 and 15,000 x 15,000 images, streaming.

Run: ``PYTHONPATH=. python bench/predict_large.py [--sizes 5000,15000] [--tile 512] [--halo 64] [--keep DIR]``

For each size, a synthetic uint8 tiled TIFF of bright cells on a noisy background is written tile by tile;
then a fresh child process opens it (``core.imaging.open_image``), predicts it with
:func:`core.inference.predict_image` (instance model, label TIFF written to disk) and reports its wall time,
megapixels per second and its own peak RSS. For the bare model's forward throughput on the same tiles, every
8th batch of tiles is also run through the bare model (``model(x)``, nothing else) right after, under the
same machine load (the machine is shared; a separate run minutes later would measure another load); that
time is excluded from the prediction's wall time, and the throughput is given in image megapixels per second
(tile cores partition the image, so a tile stands for H * W / tiles image pixels).

Model: a small smp U-Net (``tu-lcnet_035`` encoder, thin decoder) with random, seeded weights and a
segmentation head fitted in closed form (tests/inference/helpers.py), so that the post-processing sees
real cell-like objects. Targets (issue 7): peak RSS of the larger within 1.2x of the smaller; prediction
throughput at least 0.8 of the bare forward throughput.

Detection (issue 25): ``--detection PACKAGE [--sizes 4000,10000]`` predicts boxes with a trained detection
model package (e.g. ``bench/detect_quality.py --keep DIR``) on RGB tiled TIFFs made of blood smears
(``--smears``, default ../shared/data/bccd_blood_detection/images, repeated with a little noise), each in a
fresh child process (:func:`core.inference.predict_boxes`, tiles and boxes merged across them as Apply does),
and prints megapixels per second, the boxes found and the child's peak RSS: memory flat in image size means
the larger image's peak within 1.2x of the smaller's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))
SMEARS = SHARED_DATA / "bccd_blood_detection" / "images"
TILE = 256
BAND = 1024
DECODER = (16, 8, 8, 8, 8)


def make_source(path: Path, size: int) -> None:
    """Cells on a noisy background, generated in bands of 1,024 rows (memory does not grow with size)."""
    from tests.inference.helpers import synthetic_cells

    def tiles():
        for by in range(0, size, BAND):
            bh = min(BAND, size - by)
            band = np.zeros((bh, size), dtype=np.uint8)
            for bx in range(0, size, BAND):
                bw = min(BAND, size - bx)
                image, _ = synthetic_cells((bh, bw), seed=by * 100_003 + bx)
                band[:, bx : bx + bw] = image[0]
            for ty in range(0, bh, TILE):
                for tx in range(0, size, TILE):
                    yield band[ty : ty + TILE, tx : tx + TILE]

    tifffile.imwrite(
        path,
        tiles(),
        shape=(size, size),
        dtype=np.uint8,
        tile=(TILE, TILE),
        compression="zlib",
        compressionargs={"level": 1},
    )


def save_model(folder: Path) -> None:
    """Fit the model once (in the parent) so that the children's peak RSS is the prediction's alone."""
    import torch

    from tests.inference.helpers import tiny_unet

    model, card = tiny_unet("instance", decoder=DECODER)
    torch.save(model.state_dict(), folder / "weights.pt")
    (folder / "card.json").write_text(json.dumps(card))


def load_predictor(folder: Path):
    import segmentation_models_pytorch as smp
    import torch

    from core.inference import Predictor
    from tests.inference.helpers import TINY_ENCODER

    card = json.loads((folder / "card.json").read_text())
    model = smp.Unet(TINY_ENCODER, encoder_weights=None, in_channels=1, classes=3, decoder_channels=DECODER)
    model.load_state_dict(torch.load(folder / "weights.pt", weights_only=True))
    return Predictor(model, card, batch_size=4)


def child(src: str, out: str, tile: int, halo: int, block: int, every: int) -> None:
    """Run in a fresh process: predict; every ``every``-th forward call, the same batch also goes through
    the bare model (``model(x)`` alone) right away, under the same machine load; print JSON."""
    import torch

    from core.imaging import open_image
    from core.inference import predict_image

    predictor = load_predictor(Path(src).parent)
    model = predictor.model
    stats = {"calls": 0, "forward_s": 0.0, "bare_s": 0.0, "bare_tiles": 0}
    plain_forward = predictor.forward

    def timed_forward(batch):
        t0 = time.perf_counter()
        maps = plain_forward(batch)
        stats["forward_s"] += time.perf_counter() - t0
        if stats["calls"] % every == 0:
            t0 = time.perf_counter()
            with torch.inference_mode():
                model(torch.from_numpy(batch))
            stats["bare_s"] += time.perf_counter() - t0
            stats["bare_tiles"] += len(batch)
        stats["calls"] += 1
        return maps

    predictor.forward = timed_forward
    with open_image(src) as reader:
        h, w = reader.shape[1:]
        start = time.perf_counter()
        result = predict_image(reader, predictor, tile=tile, halo=halo, block=block, out=Path(out))
        wall = time.perf_counter() - start - stats["bare_s"]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    core_px = h * w / result.tiles  # tile cores partition the image
    print(
        json.dumps(
            {
                "wall_s": wall,
                "megapixels": h * w / 1e6,
                "peak_rss_mb": peak_kb / 1024,
                "tiles": result.tiles,
                "objects": result.counts[0],
                "bare_mp_per_s": core_px * stats["bare_tiles"] / stats["bare_s"] / 1e6,
                "bare_tiles": stats["bare_tiles"],
                "forward_share": stats["forward_s"] / wall,
            }
        )
    )


def make_rgb_source(path: Path, size: int, smears: Path = SMEARS) -> None:
    """An RGB tiled TIFF of ``size`` x ``size`` pixels: the smear pictures of ``smears`` side by side, over
    and over, with a little noise; written in bands of 1,024 rows (memory does not grow with size)."""
    from PIL import Image

    pictures = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(smears.glob("*.jpg"))[:16]]
    if not pictures:
        raise SystemExit(f"no .jpg smears in {smears}; pass --smears DIR")
    ph, pw = pictures[0].shape[:2]
    rng = np.random.default_rng(0)

    def tiles():
        for by in range(0, size, BAND):
            bh = min(BAND, size - by)
            band = np.empty((bh, size, 3), dtype=np.uint8)
            for y0 in range(by - by % ph, by + bh, ph):  # the mosaic's rows of pictures in this band
                ys, ye = max(y0, by), min(y0 + ph, by + bh)
                for x0 in range(0, size, pw):
                    pic = pictures[(y0 // ph * 7 + x0 // pw) % len(pictures)]
                    xe = min(x0 + pw, size)
                    band[ys - by : ye - by, x0:xe] = pic[ys - y0 : ye - y0, : xe - x0]
            noise = rng.integers(-3, 4, band.shape, dtype=np.int16)
            band = np.clip(band.astype(np.int16) + noise, 0, 255).astype(np.uint8)
            for ty in range(0, bh, TILE):
                for tx in range(0, size, TILE):
                    yield band[ty : ty + TILE, tx : tx + TILE]

    tifffile.imwrite(path, tiles(), shape=(size, size, 3), dtype=np.uint8, tile=(TILE, TILE),
                     photometric="rgb", compression="zlib", compressionargs={"level": 1})


def child_boxes(src: str, package: str, tile: int | None, block: int | None) -> None:
    """Run in a fresh process: predict the boxes of ``src`` with the detection model ``package``; print
    JSON."""
    from core.imaging import open_image
    from core.inference import Predictor, predict_boxes

    predictor = Predictor.from_package(Path(package))
    with open_image(src) as reader:
        h, w = reader.shape[1:]
        start = time.perf_counter()
        result = predict_boxes(reader, predictor, tile=tile, block=block)
        wall = time.perf_counter() - start
    print(json.dumps({"wall_s": wall, "megapixels": h * w / 1e6,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "tiles": result.tiles, "tile": result.tile, "halo": result.halo,
                      "boxes": len(result.boxes),
                      "counts": result.counts_by_label, "device": str(predictor.device)}))


def detection_apply(package: Path, sizes: list[int], folder: Path, *, tile: int | None = None,
                    block: int | None = None, smears: Path = SMEARS) -> list[dict]:
    """Predict the boxes of an RGB smear mosaic of each size in ``sizes`` (written into ``folder`` when
    missing), each in a fresh child process; returns one record per size (also printed)."""
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    rows = []
    for size in sizes:
        src = folder / f"smears_{size}.tif"
        if not src.exists():
            t0 = time.perf_counter()
            code = (f"from bench.predict_large import make_rgb_source; from pathlib import Path; "
                    f"make_rgb_source(Path({str(src)!r}), {size}, Path({str(smears)!r}))")
            subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO)
            print(f"wrote {src.name} ({src.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s",
                  flush=True)
        cmd = [sys.executable, __file__, "--child-boxes", str(src), str(package),
               *(["--tile", str(tile)] if tile else []), *(["--block", str(block)] if block else [])]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=REPO)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["size"] = size
        row["mp_per_s"] = row["megapixels"] / row["wall_s"]
        rows.append(row)
        print(f"boxes {size} x {size} RGB: {row['wall_s']:.1f} s, {row['mp_per_s']:.3f} MP/s, "
              f"peak RSS {row['peak_rss_mb']:.0f} MB, {row['tiles']} tiles of {row['tile']} "
              f"(halo {row['halo']}), {row['boxes']} boxes {row['counts']}; {row['device']}", flush=True)
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        print(f"peak RSS ratio {large['size']} / {small['size']}: "
              f"{large['peak_rss_mb'] / small['peak_rss_mb']:.2f} (flat: <= 1.2)", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,15000")
    parser.add_argument("--tile", type=int, default=None, help="tile core (default 512; boxes: the model's)")
    parser.add_argument("--halo", type=int, default=64)
    parser.add_argument("--block", type=int, default=None, help="block (default 1024; boxes: the tile)")
    parser.add_argument("--every", type=int, default=8, help="every n-th forward batch is also timed bare")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the images in")
    parser.add_argument("--child", nargs=2, metavar=("SRC", "OUT"))
    parser.add_argument("--detection", type=Path, default=None, metavar="PACKAGE",
                        help="predict boxes with this detection model package instead")
    parser.add_argument("--smears", type=Path, default=SMEARS, help="folder of .jpg smears for --detection")
    parser.add_argument("--child-boxes", nargs=2, metavar=("SRC", "PACKAGE"))
    args = parser.parse_args()
    if args.child_boxes:
        child_boxes(*args.child_boxes, args.tile, args.block)
        return
    if args.detection is not None:
        with tempfile.TemporaryDirectory(prefix="segstudio-bench-") as tmp:
            folder = args.keep or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            detection_apply(args.detection, [int(v) for v in args.sizes.split(",")], folder, tile=args.tile,
                            block=args.block, smears=args.smears)
        return
    args.tile = args.tile or 512
    args.block = args.block or 1024
    if args.child:
        child(*args.child, args.tile, args.halo, args.block, args.every)
        return
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with tempfile.TemporaryDirectory(prefix="segstudio-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        save_model(folder)
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            src = folder / f"cells_{size}.tif"
            if not src.exists():
                t0 = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        f"from bench.predict_large import make_source; from pathlib import Path; "
                        f"make_source(Path({str(src)!r}), {size})",
                    ],
                    check=True,
                    env=env,
                    cwd=REPO,
                )
                print(
                    f"wrote {src.name} ({src.stat().st_size / 1e6:.0f} MB) "
                    f"in {time.perf_counter() - t0:.0f} s",
                    flush=True,
                )
            cmd = [
                sys.executable,
                __file__,
                "--child",
                str(src),
                str(folder / f"labels_{size}.tif"),
                "--tile",
                str(args.tile),
                "--halo",
                str(args.halo),
                "--block",
                str(args.block),
                "--every",
                str(args.every),
            ]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=REPO)
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["size"] = size
            row["mp_per_s"] = row["megapixels"] / row["wall_s"]
            rows.append(row)
            print(
                f"{size} x {size}: {row['wall_s']:.1f} s, {row['mp_per_s']:.3f} MP/s, "
                f"peak RSS {row['peak_rss_mb']:.0f} MB, {row['tiles']} tiles, {row['objects']} objects; "
                f"bare forward {row['bare_mp_per_s']:.3f} MP/s on {row['bare_tiles']} of the same tiles; "
                f"ratio {row['mp_per_s'] / row['bare_mp_per_s']:.2f}; the network's forward calls took "
                f"{100 * row['forward_share']:.0f} % of the prediction's wall time",
                flush=True,
            )
            (folder / f"labels_{size}.tif").unlink(missing_ok=True)
        if len(rows) >= 2:
            small, large = rows[0], rows[-1]
            print(
                f"peak RSS ratio {large['size']} / {small['size']}: "
                f"{large['peak_rss_mb'] / small['peak_rss_mb']:.2f} "
                "(target <= 1.2)"
            )
        for row in rows:
            print(
                f"throughput ratio at {row['size']}: "
                f"{row['mp_per_s'] / row['bare_mp_per_s']:.2f} (target >= 0.8)"
            )


if __name__ == "__main__":
    main()
