"""Seeded synthetic images, and a tiny real smp U-Net whose head is fitted in closed form (no training)."""

from __future__ import annotations

import numpy as np
import segmentation_models_pytorch as smp
import torch

from core.evaluation.targets import three_class_targets

TINY_ENCODER = "tu-lcnet_035"
TINY_DECODER = (32, 16, 16, 16, 16)


def synthetic_cells(
    shape: tuple[int, int],
    *,
    seed: int,
    spacing: int = 30,
    radius: tuple[int, int] = (5, 10),
    channels: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """``(image uint8 (C, H, W), instances int32 (H, W))``: bright discs on a jittered grid, with noise."""
    rng = np.random.default_rng(seed)
    h, w = shape
    labels = np.zeros(shape, dtype=np.int32)
    label = 0
    for cy in range(spacing // 2, h, spacing):
        for cx in range(spacing // 2, w, spacing):
            if rng.random() < 0.2:
                continue
            r = int(rng.integers(*radius))
            y = cy + int(rng.integers(-spacing // 4, spacing // 4 + 1))
            x = cx + int(rng.integers(-spacing // 4, spacing // 4 + 1))
            y0, y1, x0, x1 = max(y - r, 0), min(y + r + 1, h), max(x - r, 0), min(x + r + 1, w)
            if y0 >= y1 or x0 >= x1:
                continue
            yy, xx = np.mgrid[y0:y1, x0:x1]
            disc = (yy - y) ** 2 + (xx - x) ** 2 <= r * r
            if not disc.any():
                continue
            label += 1
            labels[y0:y1, x0:x1][disc] = label
    base = np.where(labels > 0, 170.0, 30.0)
    image = np.clip(base[None] + rng.normal(0, 12, (channels, h, w)), 0, 255).astype(np.uint8)
    return image, labels


def make_card(
    training_type: str,
    *,
    channels: int = 1,
    encoder: str = TINY_ENCODER,
    dtype: str = "uint8",
    postprocess: dict | None = None,
    labels: list[dict] | None = None,
) -> dict:
    labels = labels or [{"id": 7, "name": "nucleus", "color": "#e6194b"}]
    return {
        "format_version": 1,
        "training_type": training_type,
        "labels": labels,
        "in_channels": channels,
        "out_channels": (3 if training_type == "instance" else 1) * len(labels),
        "normalization": {"method": "percentile", "low": [30.0] * channels, "high": [170.0] * channels},
        "distance_head": False,
        "encoder": encoder,
        "dtype": dtype,
        "postprocess": postprocess or {"threshold": 0.5, "seed_threshold": 0.7, "min_size": 10},
    }


def tiny_unet(
    training_type: str,
    *,
    channels: int = 1,
    seed: int = 0,
    encoder: str = TINY_ENCODER,
    decoder: tuple[int, ...] = TINY_DECODER,
) -> tuple[torch.nn.Module, dict]:
    """A tiny smp U-Net: random (seeded) encoder/decoder, segmentation head fitted by ridge regression
    on a synthetic 256 x 256 image, so that it really segments :func:`synthetic_cells`."""
    torch.manual_seed(seed)
    classes = 3 if training_type == "instance" else 1
    model = smp.Unet(
        encoder, encoder_weights=None, in_channels=channels, classes=classes, decoder_channels=decoder
    ).eval()
    image, labels = synthetic_cells((256, 256), seed=seed + 100, channels=channels)
    card = make_card(training_type, channels=channels, encoder=encoder)
    x = torch.from_numpy(((image.astype(np.float32) - 30.0) / 140.0)[None])
    head = model.segmentation_head[0]
    captured = {}
    hook = head.register_forward_hook(lambda _m, inp, _out: captured.setdefault("x", inp[0]))
    with torch.no_grad():
        model(x)
    hook.remove()
    feats = torch.nn.functional.unfold(captured["x"], 3, padding=1)[0].T.double()  # (H*W, F*9)
    feats = torch.cat([feats, torch.ones(len(feats), 1, dtype=torch.float64)], dim=1)
    if training_type == "instance":
        cls = torch.from_numpy(three_class_targets(labels).ravel().astype(np.int64))
        target = torch.full((len(cls), 3), -4.0, dtype=torch.float64)
        target[torch.arange(len(cls)), cls] = 4.0
    else:
        target = torch.where(torch.from_numpy(labels.ravel() > 0), 4.0, -4.0).double()[:, None]
    gram = feats.T @ feats + 1e-6 * len(feats) * torch.eye(feats.shape[1], dtype=torch.float64)
    solution = torch.linalg.solve(gram, feats.T @ target)  # (F*9 + 1, K)
    with torch.no_grad():
        head.weight.copy_(solution[:-1].T.reshape(classes, -1, 3, 3).float())
        head.bias.copy_(solution[-1].float())
    return model, card


class Pointwise(torch.nn.Module):
    """A network without spatial context (1x1 convolution): tiled and whole-image maps are identical, so
    tiled post-processing and stitching can be checked for exactness.

    Instance: interior logit 8 * (x - 0.55), boundary never, background 0 (x = normalised intensity).
    Semantic: logit 8 * (x - 0.55).
    """

    def __init__(self, training_type: str, n_labels: int = 1) -> None:
        super().__init__()
        per = 3 if training_type == "instance" else 1
        self.conv = torch.nn.Conv2d(1, per * n_labels, 1)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.bias.zero_()
            for lab in range(n_labels):
                k = per * lab + (1 if per == 3 else 0)
                self.conv.weight[k, 0] = 8.0
                self.conv.bias[k] = -4.4
                if per == 3:
                    self.conv.bias[per * lab + 2] = -10.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def pointwise_card(training_type: str, n_labels: int = 1, *, min_size: int = 10) -> dict:
    labels = [{"id": 10 + i, "name": f"label{i}", "color": "#3cb44b"} for i in range(n_labels)]
    card = make_card(
        training_type,
        labels=labels,
        encoder="none",
        postprocess={"threshold": 0.5, "seed_threshold": 0.7, "min_size": min_size},
    )
    card["normalization"] = {"method": "percentile", "low": [0.0], "high": [255.0]}
    return card


def bumps(shape: tuple[int, int], *, seed: int, n: int, radius: tuple[int, int] = (5, 14)) -> np.ndarray:
    """uint8 (1, H, W): cones of random radius (peak 255), touching now and then: watershed material."""
    rng = np.random.default_rng(seed)
    h, w = shape
    out = np.zeros(shape, dtype=np.float32)
    for _ in range(n):
        r = float(rng.integers(*radius))
        y, x = float(rng.integers(0, h)), float(rng.integers(0, w))
        y0, y1, x0, x1 = (
            max(int(y - r), 0),
            min(int(y + r) + 2, h),
            max(int(x - r), 0),
            min(int(x + r) + 2, w),
        )
        yy, xx = np.mgrid[y0:y1, x0:x1]
        cone = np.clip(1.0 - np.hypot(yy - y, xx - x) / r, 0, 1)
        np.maximum(out[y0:y1, x0:x1], cone, out=out[y0:y1, x0:x1])
    return (out * 255).astype(np.uint8)[None]


def whole_image_maps(predictor, image: np.ndarray) -> dict[str, np.ndarray]:
    """Maps of one forward pass of the whole image, reflect-padded to a multiple of 32 (the reference)."""
    from core.inference.grid import ceil32
    from core.inference.tiled import _pad

    _, h, w = image.shape
    norm = _pad(predictor.normalize(image), ceil32(h), ceil32(w))
    return {k: v[0, :, :h, :w] for k, v in predictor.forward(norm[None]).items()}


def whole_image_labels(predictor, image: np.ndarray, index: int = 0) -> np.ndarray:
    """Whole-image post-processing of :func:`whole_image_maps` with the card's values (the reference)."""
    from core.evaluation.postprocess import instances_from_maps, label_components

    maps = whole_image_maps(predictor, image)
    values = predictor.postprocess[index]
    if predictor.training_type == "semantic":
        return label_components(maps["prob"][index] > values["threshold"], min_size=values["min_size"])
    return instances_from_maps(
        maps["interior"][index],
        maps["boundary"][index],
        threshold=values["threshold"],
        seed_threshold=values["seed_threshold"],
        min_size=values["min_size"],
    )


def same_objects(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two label images hold the same objects (pixel sets), whatever their numbering."""
    if not np.array_equal(a > 0, b > 0):
        return False
    pairs = np.unique(np.stack([a[a > 0], b[b > 0]]), axis=1)
    return len(np.unique(pairs[0])) == pairs.shape[1] == len(np.unique(pairs[1]))
