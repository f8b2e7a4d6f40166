"""A tiny real classification model package for the Apply and CLI tests of classes.

The package is the engine's own (:mod:`core.classification`): a
:class:`~core.classification.model.ClassifierNet` of :func:`~core.classification.model.build_classifier`,
its card from :func:`~core.classification.card.classifier_card` over real fitted examples, written by
:func:`core.training.package.write_package`, so :func:`core.classification.predict.load_classifier` reads
it as it reads a trained one. Only the weights are set by hand (no training run), so that each test knows the
answer: the network measures the share of the image that is bright.

A picture of class ``dark`` / ``medium`` / ``bright`` is a grid of 4 px blocks of which 10 / 45 / 90 %
are bright (:data:`SHARES`), on a dark level, with a little noise. The engine normalises each image by its own
percentiles, so the absolute grey level means nothing to a classifier; the bright share survives it. The hand
set network: the stem convolution averages all channels over its 7 x 7 window, every other convolution is
zero, so each residual block passes its input on (the 1 x 1 shortcuts pass channel 0), and the pooled channel
0 is the image's bright share ``m``; the linear head gives the logits ``-s (m - c_k)^2`` (up to a term that
is the same for every class), so the class whose centre ``c_k`` is nearest wins, and the next nearest is the
runner-up. The centres are the classes' mean shares on the fitted training pictures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.classification.card import classifier_card
from core.classification.data import fit_examples
from core.classification.examples import ArrayExample
from core.classification.fitting import fit_record
from core.classification.model import build_classifier
from core.classification.views import VIEW_NAMES
from core.evaluation.classification import classification_metrics
from core.training.config import LabelSpec, TrainConfig
from core.training.package import write_package

CLASSES = ("dark", "medium", "bright")
COLORS = ("#000080", "#808080", "#ffe119")
#: the share of bright blocks in a picture of each class
SHARES = {"dark": 0.1, "medium": 0.45, "bright": 0.9}
BLOCK = 4
DARK, BRIGHT = 40, 215
SEPARATION = 5.0  # logit margin of a picture at its class centre over the nearest other class


def picture(cls: str, *, size: tuple[int, int] = (48, 48), channels: int = 3, seed: int = 0) -> np.ndarray:
    """A uint8 ``(channels, H, W)`` picture of class ``cls``: 4 px blocks, the class's share
    :data:`SHARES` of them bright, at random places, with a little noise."""
    rng = np.random.default_rng([CLASSES.index(cls), seed])
    h, w = size
    rows, cols = -(-h // BLOCK), -(-w // BLOCK)
    cells = np.zeros(rows * cols, dtype=bool)
    cells[: round(SHARES[cls] * rows * cols)] = True
    cells = rng.permutation(cells).reshape(rows, cols)
    grid = np.kron(cells, np.ones((BLOCK, BLOCK)))[:h, :w]
    level = DARK + (BRIGHT - DARK) * grid
    noisy = level[None] + rng.normal(0.0, 4.0, (channels, h, w))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def save_picture(path: Path, pixels: np.ndarray) -> Path:
    """Write a :func:`picture` ``(C, H, W)`` as an RGB (or grey) PNG; returns ``path``."""
    Image.fromarray(np.moveaxis(pixels, 0, -1).squeeze(-1) if pixels.shape[0] == 1
                    else np.moveaxis(pixels, 0, -1)).save(path)
    return path


def save_pictures(folder: Path, kinds: list[str]) -> list[tuple[str, Path]]:
    """``<kind><i>.png`` in ``folder``: a picture of each class in ``kinds`` (seed ``i``, its position), as
    ``(name, path)`` pairs for an import."""
    return [(f"{kind}{i}.png", save_picture(Path(folder) / f"{kind}{i}.png", picture(kind, seed=i)))
            for i, kind in enumerate(kinds)]


def tiny_classifier_package(package_dir: Path, *, channels: int = 3, input_size: int = 32) -> Path:
    """Write the package of the hand-set bright-share classifier (classes :data:`CLASSES`) for ``channels``
    uint8 channels and inputs of ``input_size`` px; returns ``package_dir``."""
    config = TrainConfig(
        training_type="classification",
        labels=tuple(LabelSpec(i + 1, name, color) for i, (name, color) in enumerate(zip(CLASSES, COLORS,
                                                                                          strict=True))),
        patch_size=input_size, views=1, seed=0,
    )
    train = [ArrayExample(f"{cls}{i}", picture(cls, channels=channels, seed=i), k)
             for k, cls in enumerate(CLASSES) for i in range(4)]
    val = [ArrayExample(f"{cls}{i}", picture(cls, channels=channels, seed=i), k)
           for k, cls in enumerate(CLASSES) for i in range(100, 102)]
    fitted, val_set = fit_examples(train, input_size), fit_examples(val, input_size)
    model = _bright_share_network(channels, fitted.x.float(), fitted.y)
    with torch.no_grad():
        probs = model(val_set.x.float()).softmax(dim=1).double().numpy()
    fit = fit_record([max(ex.shape[1], ex.shape[2]) for ex in train], input_size)
    card = classifier_card(config, fit, channels, train, val, fitted,
                           "none: the weights were set by hand (a test model), not trained")
    card.update({
        "name": "brightness",
        "views": 1,
        "view_names": list(VIEW_NAMES[:1]),
        "augmentation": "none (the weights were set by hand, not trained)",
        "imbalance": "none (the weights were set by hand, not trained)",
        "metrics": classification_metrics(val_set.y.numpy(), probs, list(CLASSES)),
    })
    return write_package(Path(package_dir), model, card, trace_size=input_size)


def _bright_share_network(channels: int, x: torch.Tensor, y: torch.Tensor) -> torch.nn.Module:
    """The engine's classifier with the weights of the module docstring; the class centres from the fitted
    training pictures ``x`` of classes ``y``."""
    model = build_classifier("resnet18-compact", channels, len(CLASSES)).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.zero_()
                if module.kernel_size == (1, 1):  # a shortcut: pass channel 0 on
                    module.weight[0, 0] = 1.0
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.weight.fill_(1.0)
                module.bias.zero_()
                module.running_mean.zero_()
                module.running_var.fill_(1.0)
        stem = model.encoder.conv1
        stem.weight[0] = 1.0 / (channels * stem.kernel_size[0] * stem.kernel_size[1])
        model.head.weight.zero_()
        model.head.bias.zero_()
        share = model.encoder(x)[-1][:, 0].mean(dim=(1, 2))
        centres = torch.stack([share[y == k].mean() for k in range(len(CLASSES))])
        sharpness = SEPARATION / float(torch.diff(centres).min()) ** 2
        # -s (m - c)^2 = s (2 c m - c^2) - s m^2; the last term is the same for every class
        model.head.weight[:, 0] = 2 * sharpness * centres
        model.head.bias[:] = -sharpness * centres**2
    return model
