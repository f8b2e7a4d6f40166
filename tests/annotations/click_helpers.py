"""Real small projects for click-to-segment: stored images, a succeeded training with a model package (a
registry U-Net whose head is fitted in closed form on synthetic discs, no training loop), brush strokes."""

from __future__ import annotations

import json

import numpy as np
import tifffile
import torch

from core.config import Settings
from core.db import repo, session_scope
from core.db.models import SUCCEEDED, Image, Training
from core.evaluation.targets import three_class_targets
from core.training.models import build_model
from core.training.card_schema import ARCHITECTURE, FORMAT_VERSION
from core.training.package import CARD, WEIGHTS, read_card
from tests.inference.helpers import synthetic_cells

ENCODER = "mobilenet_v2"
LOW, HIGH = 30.0, 170.0


def fitted_unet(training_type: str, *, seed: int = 0, n_labels: int = 1,
                encoder: str = ENCODER) -> torch.nn.Module:
    """The package's network (``encoder`` from the registry, random encoder and decoder) whose
    segmentation head is fitted by ridge regression on synthetic discs, so that it really segments them
    (every one of its ``n_labels`` labels sees the discs)."""
    torch.manual_seed(seed)
    classes = 3 if training_type == "instance" else 1
    model = build_model(encoder, 1, classes * n_labels).eval()
    image, labels = synthetic_cells((256, 256), seed=seed + 100)
    x = torch.from_numpy(((image.astype(np.float32) - LOW) / (HIGH - LOW))[None])
    head = model.segmentation_head[0]
    captured = {}
    hook = head.register_forward_hook(lambda _m, inp, _out: captured.setdefault("x", inp[0]))
    with torch.no_grad():
        model(x)
    hook.remove()
    unfold = torch.nn.functional.unfold
    feats = unfold(captured["x"], head.kernel_size[0], padding=head.padding[0])[0].T.double()
    feats = torch.cat([feats, torch.ones(len(feats), 1, dtype=torch.float64)], dim=1)
    if training_type == "instance":
        cls = torch.from_numpy(three_class_targets(labels).ravel().astype(np.int64))
        target = torch.full((len(cls), 3), -4.0, dtype=torch.float64)
        target[torch.arange(len(cls)), cls] = 4.0
    else:
        target = torch.where(torch.from_numpy(labels.ravel() > 0), 4.0, -4.0).double()[:, None]
    gram = feats.T @ feats + 1e-6 * len(feats) * torch.eye(feats.shape[1], dtype=torch.float64)
    solution = torch.linalg.solve(gram, feats.T @ target).repeat(1, n_labels)  # (F + 1, classes * n_labels)
    with torch.no_grad():
        head.weight.copy_(solution[:-1].T.reshape(head.weight.shape).float())
        head.bias.copy_(solution[-1].float())
    return model


def card(training_type: str, labels: list[tuple[int, str]], *, encoder: str = ENCODER) -> dict:
    return {"encoder": encoder, "in_channels": 1, "out_channels": (3 if training_type == "instance" else 1)
            * len(labels), "training_type": training_type, "distance_head": False, "dtype": "uint8",
            "labels": [{"id": i, "name": n, "color": "#e6194b"} for i, n in labels],
            "normalization": {"method": "percentile", "low": [LOW], "high": [HIGH]},
            "postprocess": {"threshold": 0.5, "seed_threshold": 0.7, "min_size": 10}}


def project_with_label(engine, name: str = "cells",
                       labels: tuple[str, ...] = ("nucleus",)) -> tuple[int, list[int]]:
    with session_scope(engine) as s:
        project = repo.create_project(s, name)
        ids = [repo.add_label(s, project.id, lab).id for lab in labels]
    return project.id, ids


def store_image(settings: Settings, engine, project_id: int, pixels: np.ndarray, name: str = "im.tif", *,
                tile: int | None = None) -> int:
    """Write ``pixels`` (1, H, W) uint8 as the project's stored TIFF (tiled when ``tile``) and add its row."""
    folder = settings.images_dir(project_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    kwargs = {"tile": (tile, tile), "compression": "zlib"} if tile else {}
    tifffile.imwrite(path, pixels[0], photometric="minisblack", **kwargs)
    _, h, w = pixels.shape
    with session_scope(engine) as s:
        image = repo.add_image(s, Image(project_id=project_id, name=name,
                                        stored_path=path.relative_to(settings.data_dir).as_posix(), width=w,
                                        height=h, channels=1, dtype="uint8", content_hash=name))
    return int(image.id)


def add_training(settings: Settings, engine, project_id: int, name: str, model: torch.nn.Module | None,
                 model_card: dict | None, *, status: str = SUCCEEDED) -> int:
    """A training row of ``status`` with its package written where the training job writes it."""
    with session_scope(engine) as s:
        training = repo.add_training(s, Training(project_id=project_id, name=name, status=status))
        tid = int(training.id)
    if model is not None and model_card is not None:
        package = settings.training_dir(tid) / "model"  # weights and card (what click-to-segment loads)
        package.mkdir(parents=True)
        torch.save(model.state_dict(), package / WEIGHTS)
        full = {"format_version": FORMAT_VERSION, "architecture": ARCHITECTURE, **model_card}
        (package / CARD).write_text(json.dumps(full))
        read_card(package)  # a valid package
        with session_scope(engine) as s:
            repo.update_training(s, tid, model_dir=package.relative_to(settings.data_dir).as_posix(),
                                 status=status)
    return tid


def disc_mask(shape: tuple[int, int], cy: int, cx: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def discs_image(shape: tuple[int, int], centres: list[tuple[int, int, int]], *, seed: int = 0) -> np.ndarray:
    """uint8 (1, H, W): bright discs ``(cy, cx, r)`` (170) on a dark noisy background (30), as
    :func:`synthetic_cells` draws them."""
    rng = np.random.default_rng(seed)
    fg = np.zeros(shape, dtype=bool)
    for cy, cx, r in centres:
        fg |= disc_mask(shape, cy, cx, r)
    base = np.where(fg, 170.0, 30.0)
    return np.clip(base + rng.normal(0, 12, shape), 0, 255).astype(np.uint8)[None]

