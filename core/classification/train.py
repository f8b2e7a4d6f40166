"""Training a classifier: one plain function, :func:`train_classifier`, called by the job, the CLI, tests and
the benchmark. It returns the same :class:`~core.training.loop.Progress` and
:class:`~core.training.loop.TrainResult` objects as the pixel engine's :func:`core.training.loop.train`.

Order of work: every example read once and fitted to the input size (:mod:`core.classification.data`) ->
device (bf16 autocast only where the CPU does bf16 natively, :mod:`core.training.device`) and batch size ->
training in epochs (slices ``budget / config.epochs`` of the time, as in the pixel engine, or
``steps_per_epoch`` steps; the batches go through the training examples pass after pass) with AdamW, a
warm-up then cosine learning rate over the budget (or ``max_steps``), label smoothing and class-weighted
cross-entropy, augmentation on every batch (:mod:`core.classification.augment`) -> after each epoch
BatchNorm statistics recomputed (:mod:`core.training.bn`), the validation examples scored, the best epoch
kept -> at the end an exponential moving average of the weights from ``average_from`` of the training on
(:data:`EMA_DECAY` per step) and the test-time views (flips and quarter turns, ``views``) are kept where
they score better on validation -> model package (TorchScript, weights, card).

The budget covers all of it. ``should_stop()`` is polled every step (and while the examples are read); a
cancelled run keeps its last checkpoint (``resume=True`` continues it) and returns status "cancelled".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.classification.augment import describe_augmentation
from core.classification.card import classifier_card, imbalance_sentence, methods_sentences
from core.classification.data import batch_indices, class_weights, fit_examples
from core.classification.defaults import LOSS
from core.classification.examples import ClassExample, check_examples
from core.classification.fitting import MAX_SIZE, MIN_SIZE, fit_record
from core.classification.model import build_classifier
from core.classification.step import augmented, cross_entropy, make_optimizer, recalibrate, train_step
from core.classification.views import VIEW_NAMES, predict_views
from core.errors import InvalidInputError
from core.evaluation.classification import classification_metrics, confusion_matrix, metrics_from_confusion
from core.training import checkpoint as ckpt
from core.training.averaging import WeightAverage
from core.training.config import TrainConfig
from core.training.device import DeviceChoice, pick_device
from core.training.transfer import StartModel, start_network
from core.training.loop import CANCELLED, SUCCEEDED, Progress, TrainResult
from core.training.models import ENCODERS
from core.training.package import write_package

DEFAULT_LR = 2e-3  # AdamW at batch 64 (bench/classify_quality.py)
WARMUP_SHARE = 0.05
FINAL_LR_SHARE = 0.01
CPU_BATCH, CUDA_BATCH = 64, 128
AVERAGE_EVERY = 1  # steps between two additions to the exponential average of the weights
EMA_DECAY = 0.99  # each step's weights count 1 % in the average (a memory of about 100 steps)
MIN_AVERAGED = 2
EVAL_BATCH = 256
PROGRESS_EVERY_S = 5.0
READ_POLL = 64  # examples read between two questions to should_stop
FINAL_SHARE_MAX = 0.3
VAL_SHARE_FACTOR = 8.0  # an epoch trains at least this many times as long as its validation takes


@dataclass
class _State:
    step: int = 0
    epoch: int = 0
    used_before: float = 0.0
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int | None = None
    lr: float = 0.0
    lr_reason: str = ""


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
    start: StartModel | None = None,
) -> TrainResult:
    """Train a classifier of ``config.labels`` (label index = position) on ``train``, validate on ``val``,
    write the package in ``workdir / "model"``. ``device`` is ``Settings.device`` (auto | cpu | cuda);
    ``start``: a trained classifier whose weights the network starts from (:mod:`core.training.transfer`)."""
    channels = _check_inputs(config, train, val, budget_seconds)
    run = _Run(config, list(train), list(val), channels, float(budget_seconds), Path(workdir),
               on_progress, should_stop or (lambda: False), device, start)
    return run.execute(resume)


def input_size(config: TrainConfig) -> int:
    """The network's input side in pixels: ``config.patch_size`` (the classification entry's default is
    :data:`CONFIG_DEFAULTS`)."""
    return int(config.patch_size)


class _Run:
    """The state of one call of :func:`train_classifier`."""

    def __init__(self, config, train, val, channels, budget, workdir, on_progress, should_stop, device,
                 start=None):
        self.config, self.train, self.val, self.channels = config, train, val, channels
        self.start: StartModel | None = start
        self.start_record: dict | None = None
        self.budget, self.workdir = budget, workdir
        self.on_progress, self.should_stop, self.device_setting = on_progress, should_stop, device
        self.t0 = time.monotonic()
        self.state = _State()
        self.size = input_size(config)
        self.names = [lab.name for lab in config.labels]
        self.average = WeightAverage(EMA_DECAY)
        self.reserve = 0.0
        self.train_start = 0.0  # budget seconds used when training started (after reading the examples)
        self._last_progress = -math.inf

    # ----------------------------------------------------------------------------------------------
    def execute(self, resume: bool) -> TrainResult:
        cfg = self.config
        self.workdir.mkdir(parents=True, exist_ok=True)
        ckpt.seed_everything(cfg.seed)
        self.choice: DeviceChoice = pick_device(self.device_setting)
        last = self.workdir / ckpt.LAST
        saved = ckpt.load(last) if resume and last.exists() else None
        if saved is not None:
            self._check_saved(saved)
            self.state.used_before = float(saved["used_seconds"])
        self._report("preparing", "reading and resizing the examples")
        total = len(self.train) + len(self.val)
        self.train_set = fit_examples(self.train, self.size, on_example=lambda i: self._reading(i, total))
        self.val_set = None if self.train_set is None else fit_examples(
            self.val, self.size, on_example=lambda i: self._reading(len(self.train) + i, total))
        if self.train_set is None or self.val_set is None:
            return self._cancel(save=False)
        self.model = build_classifier(cfg.encoder, self.channels, len(self.names))
        if self.start is not None:  # fine-tuning: the start's weights where they fit (a resume loads its own)
            self.start_record = start_network(self.model, self.start, cfg, self.channels)
        self.model = self.model.to(self.choice.device)
        if self.choice.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.batch_size = self._batch_size(saved)
        self.weights = class_weights(self.train_set.y, len(self.names)).to(self.choice.device)
        self.fit = fit_record([max(ex.shape[1], ex.shape[2]) for ex in self.train], self.size)
        self.train_start = self._used()
        if saved is not None:
            self._restore(saved)
        else:
            self._pick_lr()
            self.optimizer = self._make_optimizer()
        if self._train_epochs():
            return self._cancel(save=True)
        return self._finish()

    def _reading(self, i: int, total: int) -> bool:
        """Progress while the examples are read; True (stop) when cancelled (asked every
        :data:`READ_POLL` examples)."""
        self._report("preparing", f"reading example {i + 1} of {total}", throttle=True)
        return i % READ_POLL == 0 and bool(self.should_stop())

    def _batch_size(self, saved: dict | None) -> int:
        if saved is not None:
            return int(saved["batch_size"])
        if self.config.batch_size != "auto":
            wanted = int(self.config.batch_size)
        else:
            wanted = CUDA_BATCH if self.choice.device.type == "cuda" else CPU_BATCH
        return max(2, min(wanted, len(self.train)))

    def _pick_lr(self) -> None:
        st = self.state
        if self.config.learning_rate != "auto":
            st.lr, st.lr_reason = float(self.config.learning_rate), "set by the user"
            return
        st.lr = DEFAULT_LR * math.sqrt(self.batch_size / CPU_BATCH)
        st.lr_reason = (f"the classifier's default ({DEFAULT_LR:g} at batch {CPU_BATCH}, scaled by the "
                        f"square root of the batch size {self.batch_size})")

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return make_optimizer(self.model, self.state.lr, self.config.weight_decay)

    # ----------------------------------------------------------------------------------------------
    def _train_epochs(self) -> bool:
        """Epochs until the budget (or max_steps) is spent. True when cancelled."""
        cfg, st = self.config, self.state
        base_s = max(1.0, (self.budget - self._used()) / cfg.epochs)
        slice_s = base_s
        self.reserve = min(0.1 * self.budget, 5.0)
        while not self._done():
            epoch_start, steps, loss_sum = time.monotonic(), 0, 0.0
            counts = np.zeros((len(self.names), len(self.names)), dtype=np.int64)
            while not self._done():
                if self.should_stop():
                    return True
                lr = self._lr_now()
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                loss, truth, pred = self._step()
                st.step, steps, loss_sum = st.step + 1, steps + 1, loss_sum + loss
                counts += confusion_matrix(truth, pred, len(self.names))
                if st.step % AVERAGE_EVERY == 0 and self._averaging():
                    self.average.add(self.model)
                if cfg.steps_per_epoch is not None and steps >= cfg.steps_per_epoch:
                    break
                if cfg.steps_per_epoch is None and time.monotonic() - epoch_start >= slice_s:
                    break
                self._report("training", f"epoch {st.epoch + 1}, step {st.step}", throttle=True)
            if steps == 0:
                break
            val_s = self._end_epoch(loss_sum / steps, counts, time.monotonic() - epoch_start)
            slice_s = max(base_s, VAL_SHARE_FACTOR * val_s)  # many validation images: longer epochs
            views = max(1, self.config.views)
            self.reserve = min(FINAL_SHARE_MAX * self.budget, val_s * (2 + views) + 5.0)
        return False

    def _step(self) -> tuple[float, np.ndarray, np.ndarray]:
        cfg, step = self.config, self.state.step
        idx = torch.from_numpy(batch_indices(step, len(self.train_set), self.batch_size, cfg.seed))
        x = augmented(self.train_set.x[idx], cfg.augment, cfg.seed, step, self.choice)
        return train_step(self.model, self.optimizer, x, self.train_set.y[idx], self.weights, self.choice)

    def _precise_bn(self) -> None:
        cfg = self.config
        recalibrate(self.model, self.train_set, self.batch_size, cfg.seed, self.state.epoch, cfg.augment,
                    self.choice)

    def _validate(self, views: int = 1) -> tuple[np.ndarray, float]:
        """Probabilities ``(N, K)`` of the validation examples and their mean cross-entropy."""
        probs = predict_views(self.model, self.val_set.x, views, self.choice, batch=EVAL_BATCH)
        return probs, cross_entropy(probs, self.val_set.y.numpy())

    def _end_epoch(self, train_loss: float | None, counts: np.ndarray | None, seconds: float) -> float:
        """Validate, record the epoch, keep the best and last checkpoints; returns the validation seconds."""
        st = self.state
        self._report("validating", f"validating epoch {st.epoch + 1}")
        start = time.monotonic()
        self._precise_bn()
        probs, val_loss = self._validate()
        val = classification_metrics(self.val_set.y.numpy(), probs, self.names)
        train = metrics_from_confusion(counts, self.names) if counts is not None else {"accuracy": None,
                                                                                       "macro_f1": None}
        val_s = time.monotonic() - start
        st.epoch += 1
        record = {
            "epoch": st.epoch, "step": st.step, "train_loss": train_loss, "val_loss": val_loss,
            "train_accuracy": train["accuracy"], "val_accuracy": val["accuracy"],
            "train_macro_f1": train["macro_f1"], "val_macro_f1": val["macro_f1"],
            "val_balanced_accuracy": val["balanced_accuracy"],
            "lr": self._lr_now(), "learning_rate": self._lr_now(), "seconds": seconds + val_s,
        }
        st.history.append(record)
        score = _score(val)
        if score > st.best_score:
            st.best_score, st.best_epoch = score, st.epoch
            ckpt.save(self.workdir / ckpt.BEST, _cpu_state(self.model))
        self._save_last()
        self._report("training", f"epoch {st.epoch} done", record=record)
        return val_s

    # ----------------------------------------------------------------------------------------------
    def _finish(self) -> TrainResult:
        st, cfg = self.state, self.config
        if st.best_epoch is None:  # not a single epoch fitted in the budget: validate what we have
            self._end_epoch(None, None, 0.0)
        best = ckpt.load(self.workdir / ckpt.BEST)
        self.model.load_state_dict(best)
        self._report("validating", "validating the kept weights")
        probs, _ = self._validate()
        metrics = classification_metrics(self.val_set.y.numpy(), probs, self.names)
        average_record = None
        if self.average.count >= MIN_AVERAGED:
            self._report("validating", "validating the moving average of the weights")
            self.model.load_state_dict(self.average.state_dict(self.model))
            self._precise_bn()
            avg_probs, _ = self._validate()
            avg_metrics = classification_metrics(self.val_set.y.numpy(), avg_probs, self.names)
            kept = _score(avg_metrics) > _score(metrics)
            average_record = {"weights": self.average.count, "from_share": cfg.average_from,
                              "decay": EMA_DECAY, "score": avg_metrics["accuracy"],
                              "best_epoch_score": metrics["accuracy"], "kept": kept}
            if kept:
                probs, metrics = avg_probs, avg_metrics
            else:
                self.model.load_state_dict(best)
        views = 1
        if cfg.views > 1:
            self._report("validating", f"validating with {cfg.views} views (flips and quarter turns)")
            many, _ = self._validate(cfg.views)
            many_metrics = classification_metrics(self.val_set.y.numpy(), many, self.names)
            if _score(many_metrics) > _score(metrics):
                views, probs, metrics = cfg.views, many, many_metrics
        self._report("packaging", "writing the model package")
        card = classifier_card(cfg, self.fit, self.channels, self.train, self.val, self.train_set, LOSS)
        card["views"] = views
        card["view_names"] = list(VIEW_NAMES[:views])
        card["augmentation"] = describe_augmentation(cfg.augment)
        card["imbalance"] = imbalance_sentence(self.train_set.y, self.weights.cpu(), self.names)
        card["metrics"] = {**metrics, "best_epoch": st.best_epoch, "best_val_score": st.best_score,
                           "weight_average": average_record, "history": st.history}
        card["training"] = self._training_info()
        if self.start_record is not None:
            card["start"] = self.start_record
        card["methods"] = methods_sentences(card)
        package = write_package(self.workdir / "model", self.model, card, trace_size=self.size)
        result = self._result(SUCCEEDED, package, card=card, metrics=card["metrics"])
        self._report("done", "training finished")
        return result

    def _cancel(self, *, save: bool) -> TrainResult:
        if save:
            self._save_last()
        self._report("cancelled", "training cancelled" + ("; the last checkpoint is kept" if save else ""))
        return self._result(CANCELLED, None)

    # ----------------------------------------------------------------------------------------------
    def _averaging(self) -> bool:
        start = self.config.average_from
        return start is not None and self._train_fraction() >= start

    def _lr_now(self) -> float:
        """Warm-up then cosine decay over the training fraction."""
        f = min(1.0, self._train_fraction())
        if f < WARMUP_SHARE:
            return self.state.lr * (0.05 + 0.95 * f / WARMUP_SHARE)
        g = (f - WARMUP_SHARE) / (1 - WARMUP_SHARE)
        return self.state.lr * (FINAL_LR_SHARE + (1 - FINAL_LR_SHARE) * 0.5 * (1 + math.cos(math.pi * g)))

    def _train_fraction(self) -> float:
        if self.config.max_steps:
            return self.state.step / self.config.max_steps
        span = max(self.budget - self.reserve - self.train_start, 1e-6)
        return (self._used() - self.train_start) / span

    def _done(self) -> bool:
        if self.config.max_steps:
            return self.state.step >= self.config.max_steps
        return self._used() >= self.budget - self.reserve

    def _used(self) -> float:
        return self.state.used_before + time.monotonic() - self.t0

    # ----------------------------------------------------------------------------------------------
    def _save_last(self) -> None:
        st = self.state
        ckpt.save(self.workdir / ckpt.LAST, {
            "model": _cpu_state(self.model), "optimizer": self.optimizer.state_dict(),
            "step": st.step, "epoch": st.epoch, "used_seconds": self._used(), "history": st.history,
            "best_score": st.best_score, "best_epoch": st.best_epoch, "lr": st.lr, "lr_reason": st.lr_reason,
            "batch_size": self.batch_size, "train_start": self.train_start, "config": self.config.to_dict(),
            "average": self.average.to_checkpoint(), "rng": ckpt.rng_state(),
        })

    def _check_saved(self, saved: dict) -> None:
        if saved.get("config") != self.config.to_dict():
            raise InvalidInputError(
                "the checkpoint in the work folder was written by a different training configuration; "
                "start without resume or use the original configuration"
            )

    def _restore(self, saved: dict) -> None:
        st = self.state
        self.model.load_state_dict(saved["model"])
        st.step, st.epoch = int(saved["step"]), int(saved["epoch"])
        st.history, st.best_epoch = list(saved["history"]), saved["best_epoch"]
        st.best_score = float(saved["best_score"])
        st.lr, st.lr_reason = float(saved["lr"]), str(saved["lr_reason"])
        self.train_start = float(saved["train_start"])  # the schedule as it was planned
        self.optimizer = self._make_optimizer()
        self.optimizer.load_state_dict(saved["optimizer"])
        self.average = WeightAverage.from_checkpoint(saved.get("average"))
        ckpt.set_rng_state(saved["rng"])  # dropout draws from the global generator

    def _report(self, phase: str, message: str, *, record: dict | None = None,
                throttle: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if throttle and now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        used = self._used()
        if self.config.max_steps:
            fraction = min(1.0, self.state.step / self.config.max_steps)
            eta = (now - self.t0) / fraction * (1 - fraction) if fraction > 0 else None
        else:
            fraction, eta = min(1.0, used / self.budget), max(0.0, self.budget - used)
        if phase == "done":
            fraction, eta = 1.0, 0.0
        st = self.state
        self.on_progress(Progress(phase, fraction, eta, used, st.epoch, st.step, message, record))

    def _training_info(self) -> dict:
        st = self.state
        seconds = self._used() - self.train_start
        return {"steps": st.step, "epochs": st.epoch, "batch_size": self.batch_size, "learning_rate": st.lr,
                "lr_test": {"lr": st.lr, "reason": st.lr_reason}, "device": self.choice.describe(),
                "budget_seconds": self.budget, "seconds": self._used(), "reading_seconds": self.train_start,
                "images_per_second": st.step * self.batch_size / seconds if seconds > 0 else None}

    def _result(self, status, package, *, card=None, metrics=None) -> TrainResult:
        st = self.state
        return TrainResult(status, package, card, list(st.history), metrics or {}, [], st.best_epoch, st.step,
                           self._used(), st.lr, getattr(self, "batch_size", 0), self.choice.describe())


def _score(metrics: dict) -> float:
    """The number epochs and candidates are ranked by: accuracy, ties broken by macro-F1."""
    return (metrics["accuracy"] or 0.0) + 1e-3 * (metrics["macro_f1"] or 0.0)


def _cpu_state(model: torch.nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def _check_inputs(config, train, val, budget_seconds) -> int:
    if not isinstance(config, TrainConfig):
        raise InvalidInputError(f"config must be a TrainConfig, got {type(config).__name__}")
    k = config.n_labels
    if k < 2:
        raise InvalidInputError(f"classification needs at least 2 classes; config.labels has {k}")
    if config.encoder not in ENCODERS:
        raise InvalidInputError(f"encoder {config.encoder!r} is not known; choose one of {list(ENCODERS)}")
    size = input_size(config)
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InvalidInputError(
            f"input size (patch_size) {size} must be from {MIN_SIZE} to {MAX_SIZE} pixels"
        )
    channels = check_examples(train, k, "training")
    val_channels = check_examples(val, k, "validation")
    if channels != val_channels:
        raise InvalidInputError(
            f"training examples have {channels} channel(s) and validation examples {val_channels}; "
            "use one image type"
        )
    if len(train) < 2:
        raise InvalidInputError(f"the training set has {len(train)} example; it needs at least 2")
    if not budget_seconds or budget_seconds <= 0:
        raise InvalidInputError(f"budget_seconds={budget_seconds!r} must be a positive number of seconds")
    return channels
