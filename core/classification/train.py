"""Training a classifier on :class:`~core.classification.examples.ClassExample` objects.

Minimal version written for the journey branch (issue 26) so that the training job, the report and the
Trainings page can be tested end to end: a small CNN on inputs resized to 32 x 32 pixels, flips and
quarter turns, a class-weighted cross-entropy, AdamW, step- or time-bound, the best epoch (validation
macro-F1) kept and packaged as TorchScript. ``resume`` starts again (this version keeps no checkpoints). The
engine's owner provides the full module with the same signature.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.classification.examples import ClassExample
from core.classification.predict import CARD_FILE, MODEL_FILE, prepare
from core.errors import InvalidInputError
from core.evaluation.classification import classification_metrics
from core.training.config import TrainConfig
from core.training.device import pick_device
from core.training.loop import CANCELLED, SUCCEEDED, Progress, TrainResult

INPUT_SIZE = 32
BATCH_SIZE = 16
LEARNING_RATE = 3e-3


def _network(in_channels: int, n_classes: int) -> nn.Module:
    def block(a: int, b: int) -> list[nn.Module]:
        return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]

    return nn.Sequential(*block(in_channels, 16), nn.MaxPool2d(2), *block(16, 32), nn.MaxPool2d(2),
                         *block(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, n_classes))


def _augment(batch: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:  # flips and quarter turns
    out = []
    for item in batch:
        if rng.random() < 0.5:
            item = item.flip(-1)
        out.append(torch.rot90(item, int(rng.integers(4)), dims=(-2, -1)))
    return torch.stack(out)


def _scores(net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str], loss_fn) -> dict:
    net.eval()
    with torch.no_grad():
        logits = net(x)
        loss = float(loss_fn(logits, y))
        probs = torch.softmax(logits, dim=1).cpu().numpy()
    net.train()
    metrics = classification_metrics(y.cpu().tolist(), probs, names)
    return {"loss": loss, "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}


def train_classifier(
    config: TrainConfig,
    train: Sequence[ClassExample],
    val: Sequence[ClassExample],
    *,
    budget_seconds: float,
    workdir: Path,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = False,
    device: str = "auto",
) -> TrainResult:
    if not train or not val:
        raise InvalidInputError("a classifier needs training and validation examples; give each class images")
    channels = {ex.shape[0] for ex in [*train, *val]}
    if len(channels) != 1:
        raise InvalidInputError(f"the examples have different channel counts {sorted(channels)}; use one")
    start = time.monotonic()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    names = [lab.name for lab in config.labels]
    k = len(names)
    x_train = torch.stack([prepare(ex.read(), INPUT_SIZE) for ex in train])
    y_train = torch.tensor([ex.label for ex in train], dtype=torch.long)
    x_val = torch.stack([prepare(ex.read(), INPUT_SIZE) for ex in val])
    y_val = torch.tensor([ex.label for ex in val], dtype=torch.long)
    counts = np.bincount(y_train.numpy(), minlength=k).astype(np.float64)
    weights = torch.tensor(np.where(counts > 0, len(train) / (k * np.maximum(counts, 1)), 0.0), dtype=torch.float32)
    chosen = pick_device(device)
    where = chosen.device
    loss_fn = nn.CrossEntropyLoss(weight=weights.to(where))
    plain_loss = nn.CrossEntropyLoss()
    x_train, y_train, x_val, y_val = (t.to(where) for t in (x_train, y_train, x_val, y_val))
    net = _network(channels.pop(), k).to(where)
    optimiser = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=config.weight_decay)
    batch = min(BATCH_SIZE, len(train)) if config.batch_size == "auto" else int(config.batch_size)
    per_epoch = config.steps_per_epoch or max(1, math.ceil(len(train) / batch))
    history: list[dict] = []
    best = (-math.inf, None, None)
    step = epoch = 0
    stopped = False
    while True:
        epoch += 1
        epoch_start, losses = time.monotonic(), []
        for _ in range(per_epoch):
            if should_stop is not None and should_stop():
                stopped = True
                break
            idx = torch.from_numpy(rng.integers(0, len(train), size=batch)).to(where)
            logits = net(_augment(x_train[idx], rng))
            loss = loss_fn(logits, y_train[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
            step += 1
            if config.max_steps is not None and step >= config.max_steps:
                break
        if stopped:
            break
        tr, va = _scores(net, x_train, y_train, names, plain_loss), _scores(net, x_val, y_val, names, plain_loss)
        record = {"train_loss": float(np.mean(losses)), "val_loss": va["loss"],
                  "train_accuracy": tr["accuracy"], "val_accuracy": va["accuracy"],
                  "train_macro_f1": tr["macro_f1"], "val_macro_f1": va["macro_f1"],
                  "lr": LEARNING_RATE, "seconds": time.monotonic() - epoch_start}
        history.append({"epoch": epoch, "step": step, **record})
        score = va["macro_f1"] if va["macro_f1"] is not None else -math.inf
        if score > best[0]:
            best = (score, epoch, {k2: v.detach().clone() for k2, v in net.state_dict().items()})
        elapsed = time.monotonic() - start
        done = (config.max_steps is not None and step >= config.max_steps) or (
            config.max_steps is None and elapsed >= budget_seconds)
        fraction = step / config.max_steps if config.max_steps else min(elapsed / max(budget_seconds, 1e-9), 1.0)
        if on_progress is not None:
            on_progress(Progress("training", min(fraction, 0.98), None, elapsed, epoch, step,
                                 f"epoch {epoch}", record))
        if done:
            break
    if stopped:
        return TrainResult(CANCELLED, None, None, history=history, steps=step,
                           seconds=time.monotonic() - start, device=str(chosen.device))
    net.load_state_dict(best[2])  # type: ignore[arg-type]
    net = net.cpu().eval()
    package_dir = Path(workdir) / "model"
    package_dir.mkdir(parents=True, exist_ok=True)
    seconds = time.monotonic() - start
    card = {
        "training_type": "classification",
        "labels": [{"id": lab.id, "name": lab.name, "color": lab.color} for lab in config.labels],
        "in_channels": int(x_train.shape[1]), "input_size": INPUT_SIZE, "fit": "resize",
        "network": "a small convolutional network (three 3 x 3 convolution blocks, global average pooling, "
                   "one linear layer), randomly initialised",
        "augmentation": "random flips and quarter turns",
        "imbalance": "cross-entropy weighted by the inverse class frequency of the training examples",
        "loss": "class-weighted cross-entropy",
        "training": {"steps": step, "epochs": epoch, "batch_size": batch, "learning_rate": LEARNING_RATE,
                     "device": str(chosen.device), "seconds": seconds, "budget_seconds": budget_seconds},
        "metrics": {"best_epoch": best[1], "history": history},
        "seed": config.seed,
    }
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        traced = torch.jit.trace(net, torch.zeros(1, card["in_channels"], INPUT_SIZE, INPUT_SIZE))
        torch.jit.save(traced, str(package_dir / MODEL_FILE))
    (package_dir / CARD_FILE).write_text(json.dumps(card, indent=2), encoding="utf-8")
    if on_progress is not None:
        on_progress(Progress("done", 1.0, 0.0, seconds, epoch, step, "packaged"))
    final = history[best[1] - 1] if best[1] else {}
    return TrainResult(SUCCEEDED, package_dir, card, history=history,
                       metrics={"val_accuracy": final.get("val_accuracy"), "val_macro_f1": final.get("val_macro_f1")},
                       best_epoch=best[1], steps=step, seconds=seconds, learning_rate=LEARNING_RATE,
                       batch_size=batch, device=str(chosen.device))
