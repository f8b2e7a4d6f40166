"""The training loop: one plain function, :func:`train`, called by the worker, the CLI, tests and benchmarks.

Order of work: normalisation on the training images -> device and batch size -> learning-rate range test ->
training in epochs (time slices of the budget, or ``steps_per_epoch`` steps) with whole-image validation,
best checkpoint by validation score and last checkpoint after each epoch, the weights averaged over the
last part (``average_from``) -> post-processing tuned on the validation images for the best epoch and for
the weight average, the better kept, then with the test-time views where they score better, then (instance)
the watershed seed height in finer steps around the chosen one -> model package. The budget covers all of
it, so progress and ETA are known from the start. ``should_stop()`` is polled every step; a cancelled run
keeps its last checkpoint (``resume=True`` continues it, the weight average too) and returns status
``"cancelled"``. An instance network with edge rays trains with their channels too; the package keeps only
the maps post-processing uses (:func:`~core.training.models.inference_model`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.errors import InvalidInputError
from core.training import checkpoint as ckpt
from core.training.averaging import WeightAverage
from core.training.batch import choose_batch_size
from core.training.bn import recalibrate_batchnorm
from core.training.config import TrainConfig
from core.training.device import DeviceChoice, pick_device
from core.training.loader import BatchPrefetcher
from core.training.lr_range import LrRangeResult, lr_range_test
from core.training.card import base_card
from core.training.models import ENCODERS, build_model, inference_model, set_output_bias, out_channels, training_channels
from core.training.normalization import compute_normalization
from core.training.transfer import StartModel, start_network
from core.training.package import write_package
from core.training.sampling import Batch, PatchSampler
from core.training.scale import choose_scale
from core.training.sources import TrainingImage
from core.training.step import make_optimizer, train_step
from core.training.types import training_type
from core.training.validation import (
    load_val_images,
    refine_seed_height,
    score_of,
    tune_and_score,
    validate,
)

SUCCEEDED, CANCELLED = "succeeded", "cancelled"
LR_TEST_BATCH_OFFSET = 10_000_000  # lr-test batches never coincide with training batches
BN_BATCH_OFFSET = 20_000_000
BN_SAMPLES = 32  # patches averaged for the precise BatchNorm statistics
LR_TEST_STEPS = 24
LR_TEST_SHARE = 0.06  # at most this share of the budget goes to the lr test
WARMUP_SHARE = 0.03
FINAL_LR_SHARE = 0.02
PROGRESS_EVERY_S = 5.0
VAL_SHARE_FACTOR = 10.0  # an epoch trains at least this many times as long as its validation takes
SHORT_EPOCH = 0.5  # time left for less than this share of an epoch: the epoch before trains on to the end
# where the final stage's estimate shrank after a validation, a last (short) epoch still starts when it can train
# at least this many times as long as its validation takes (else its time would go unused)
LAST_EPOCH_VALIDATIONS = 3.0
ESTIMATE_EPOCHS = 3  # the final stage's estimate averages the validation times of this many last epochs
# each view after the first adds about this share of a one-view pass (the views of an image share its tiling,
# normalisation and maps' handling): 8 views took 6.3 to 6.8 one-view passes on three AVX2 quick runs
EXTRA_VIEW_SHARE = 0.8
AVERAGE_EVERY = 10  # steps between the weights added to the weight average
MIN_AVERAGED = 2  # an average of fewer weights is not validated (it would be one of the epochs' own)
# The final stage (last validation, weight average, every view, complete searches, package) may take at most
# this share of the budget. Its estimate is kept whole up to there, so that the budget holds: at 0.25, a
# quick training on BBBC039's 6 large validation images ran 330 s on a 300 s budget.
FINAL_SHARE_MAX = 0.4


@dataclass
class Progress:
    """What ``on_progress`` receives: phase, overall fraction in [0, 1], ETA, position and, at the end of
    an epoch, that epoch's record (train/val loss, accuracy, IoU, learning rate, seconds)."""

    phase: str  # preparing | lr_test | training | validating | tuning | packaging | done | cancelled
    fraction: float
    eta_seconds: float | None
    elapsed_seconds: float
    epoch: int
    step: int
    message: str = ""
    record: dict | None = None


@dataclass
class TrainResult:
    status: str  # succeeded | cancelled
    package_dir: Path | None
    card: dict | None
    history: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    postprocess: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    steps: int = 0
    seconds: float = 0.0
    learning_rate: float = 0.0
    batch_size: int = 0
    device: str = ""


@dataclass
class _State:
    step: int = 0
    epoch: int = 0
    used_before: float = 0.0  # seconds of budget spent by earlier attempts (resume)
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int | None = None
    average_record: dict | None = None
    start_record: dict | None = None  # fine-tuning: the starting network's own score, and whether it was kept
    lr: float = 0.0
    lr_test: dict = field(default_factory=dict)
    # where this attempt's seconds went: preparing, lr_test, data_wait, steps, validation, and the final stage
    # (final_tuning: the best epoch's search; final_average, final_start, final_views: scoring those;
    # final_seeds)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    # the last epochs' validation seconds (all, network passes, search), for the final stage's estimate
    validations: list[tuple[float, float, float]] = field(default_factory=list)
    # the final stage's seconds as the last epoch estimated them (with its own validation and the margin), and
    # the validation's parts they were estimated from
    final_estimate: dict | None = None
    skipped: list[str] = field(default_factory=list)  # final refinements left out because the budget was spent

    def spent(self, phase: str, since: float) -> float:
        """Add the seconds since ``since`` (time.monotonic) to ``phase``; returns now."""
        now = time.monotonic()
        self.phase_seconds[phase] = self.phase_seconds.get(phase, 0.0) + now - since
        return now


def train(
    config: TrainConfig,
    train_images: Sequence[TrainingImage],
    val_images: Sequence[TrainingImage],
    *,
    budget_seconds: float,
    workdir: Path,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = False,
    device: str = "auto",
    start: StartModel | None = None,
) -> TrainResult:
    """Train a model on ``train_images``, validate on ``val_images``, write the package in
    ``workdir / "model"``. ``device`` is ``Settings.device`` (auto | cpu | cuda); ``start``: a trained model
    whose weights the network starts from (:mod:`core.training.transfer`), else random weights."""
    _check_inputs(config, train_images, val_images, budget_seconds)
    run = _Run(config, list(train_images), list(val_images), float(budget_seconds), Path(workdir),
               on_progress, should_stop, device, start)
    return run.execute(resume)


class _Run:
    """The state of one call of :func:`train` (kept in one object so that each phase is a short method)."""

    def __init__(self, config, train_images, val_images, budget, workdir, on_progress, should_stop, device,
                 start=None):
        self.config, self.train_images, self.val_images = config, train_images, val_images
        self.budget, self.workdir = budget, workdir
        self.on_progress, self.should_stop = on_progress, should_stop or (lambda: False)
        self.device_setting = device
        self.t0 = time.monotonic()
        self.state = _State()
        self.reserve = 0.0
        self.best_maps: list | None = None
        self.average = WeightAverage()
        self._last_progress = 0.0
        self.start: StartModel | None = start

    # ----------------------------------------------------------------------------------------------
    def execute(self, resume: bool) -> TrainResult:
        cfg = self.config
        self.workdir.mkdir(parents=True, exist_ok=True)
        ckpt.seed_everything(cfg.seed)
        self.choice: DeviceChoice = pick_device(self.device_setting)
        saved = ckpt.load(self.workdir / ckpt.LAST) if resume and (self.workdir / ckpt.LAST).exists() else None
        starting = "computing normalisation and working scale"
        self._report("preparing", starting if saved is None else "resuming from the last checkpoint")
        self.norm = saved["norm"] if saved else compute_normalization(
            self.train_images, seed=cfg.seed, scope=cfg.normalization
        )
        kind = training_type(cfg.training_type)
        self.scale = choose_scale(cfg.scale, self.train_images, seed=cfg.seed,  # deterministic: same on resume
                                  smallest_label=kind.scale_by_smallest_label, max_width=kind.scale_max_width)
        in_ch = self.train_images[0].channels
        self.n_out = out_channels(cfg.training_type, cfg.n_labels, distance=cfg.use_distance_head)
        n_train = training_channels(cfg.training_type, cfg.n_labels, distance=cfg.use_distance_head,
                                    rays=cfg.edge_rays)
        self.model = build_model(cfg.encoder, in_ch, n_train)
        set_output_bias(self.model, training_type(cfg.training_type).output_bias(cfg.n_labels))
        self.card = base_card(cfg, self.norm, self.scale, in_ch, self.train_images, self.val_images)
        if self.start is not None:  # fine-tuning: the start's weights where they fit (a resume loads its own)
            self.card["start"] = start_network(self.model, self.start, cfg, in_ch)
            if saved is None:  # the final stage weighs the starting network itself against the trained one
                ckpt.save(self.workdir / ckpt.START, _cpu_state(self.model))
        self.model = self.model.to(self.choice.device)
        if self.choice.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.val_set = load_val_images(self.val_images, cfg)
        self.probe_set = load_val_images(_probe(self.train_images, cfg), cfg)
        self.scaler = torch.amp.GradScaler("cuda") if self.choice.needs_scaler else None
        if saved:
            self.batch_size = int(saved["batch_size"])
        elif cfg.batch_size == "auto":
            self.batch_size = choose_batch_size(self.model, in_ch, cfg.patch_size, self.choice, step=self._probe_step)
        else:
            self.batch_size = int(cfg.batch_size)
        self.sampler = PatchSampler(
            self.train_images, cfg, self.norm, batch_size=self.batch_size, scale=self.scale["factor"]
        )
        mark = self.state.spent("preparing", self.t0)
        if saved:
            self._restore(saved)
        else:
            self._pick_lr()
            self.optimizer = self._make_optimizer(self.model, self.state.lr)
        self.state.spent("lr_test", mark)
        cancelled = self._train_epochs()
        if cancelled:
            self._save_last()
            self._report("cancelled", "training cancelled; the last checkpoint is kept")
            return self._result(CANCELLED, None)
        return self._finish()

    # ----------------------------------------------------------------------------------------------
    def _pick_lr(self) -> None:
        cfg = self.config
        if cfg.learning_rate != "auto":
            self.state.lr = float(cfg.learning_rate)
            self.state.lr_test = {"lr": self.state.lr, "reason": "set by the user"}
            return
        self._report("lr_test", "learning-rate range test")
        # half batches: twice the test steps for the same time (the rate transfers well at this scale)
        sampler = PatchSampler(
            self.train_images, cfg, self.norm, batch_size=max(2, self.batch_size // 2), scale=self.scale["factor"]
        )
        with BatchPrefetcher(sampler, start=LR_TEST_BATCH_OFFSET) as loader:
            result: LrRangeResult = lr_range_test(
                self.model,
                self._make_optimizer,
                lambda opt, i: self._step(opt, loader.get(), None)[0],
                n_steps=LR_TEST_STEPS,
                time_limit=None if cfg.max_steps else LR_TEST_SHARE * self.budget,
            )
        self.state.lr = result.lr
        self.state.lr_test = {"lr": result.lr, "reason": result.reason, "lrs": result.lrs, "losses": result.losses}

    def _train_epochs(self) -> bool:
        """Run epochs until the budget (or max_steps) is spent. True when cancelled."""
        cfg, st = self.config, self.state
        base_epoch_s = max(1.0, (self.budget - self._used()) / cfg.epochs)
        epoch_s = base_epoch_s
        self.reserve = min(0.1 * self.budget, 5.0)
        with BatchPrefetcher(self.sampler, start=st.step) as loader:
            while not self._done():
                if st.epoch and cfg.steps_per_epoch is None and not self._epoch_worth_it():
                    break
                epoch_start, steps, sums, counts = time.monotonic(), 0, 0.0, None
                while not self._done():
                    if self.should_stop():
                        return True
                    for group in self.optimizer.param_groups:
                        group["lr"] = self._lr_now()
                    mark = time.monotonic()
                    batch = loader.get()
                    mark = st.spent("data_wait", mark)
                    loss, step_counts = self._step(self.optimizer, batch, self.scaler)
                    st.spent("steps", mark)
                    st.step, steps, sums = st.step + 1, steps + 1, sums + loss
                    if st.step % AVERAGE_EVERY == 0 and self._averaging():
                        self.average.add(self.model)
                    counts = step_counts if counts is None else counts + step_counts
                    if cfg.steps_per_epoch is not None and steps >= cfg.steps_per_epoch:
                        break
                    if (cfg.steps_per_epoch is None and time.monotonic() - epoch_start >= epoch_s
                            and not self._last_slice(epoch_s)):
                        break
                    self._report("training", f"epoch {st.epoch + 1}, step {st.step}", throttle=True)
                if steps == 0:
                    break
                mark = time.monotonic()
                seconds = time.monotonic() - epoch_start
                val_s, predict_s, search_s = self._end_epoch(sums / steps, counts, seconds)
                st.spent("validation", mark)
                epoch_s = max(base_epoch_s, VAL_SHARE_FACTOR * val_s)
                self._estimate_final(val_s, predict_s, search_s)
        return False

    def _estimate_final(self, val_s: float, predict_s: float, search_s: float) -> None:
        """Set the reserve for the final stage (with the last validation and a 5 s margin) from this epoch's
        validation seconds (all, network passes, search) averaged with those of the epochs before it
        (:data:`ESTIMATE_EPOCHS` in all: one epoch's alone varies by a third)."""
        st = self.state
        st.validations = [*st.validations, (val_s, predict_s, search_s)][-ESTIMATE_EPOCHS:]
        val_s, predict_s, search_s = (float(np.mean(part)) for part in zip(*st.validations, strict=True))
        final_s = val_s + self._final_seconds(val_s, predict_s, search_s) + 5.0
        self.reserve = min(FINAL_SHARE_MAX * self.budget, final_s)
        st.final_estimate = {"seconds": final_s, "validation": val_s, "predict": predict_s, "search": search_s}

    def _time_for(self, searches: float) -> bool:
        """Whether the budget leaves time for this many epoch searches (time-bound runs; a run whose epochs
        gave no estimate, or one of fixed steps, always has it)."""
        estimate = self.state.final_estimate
        if self.config.max_steps or estimate is None:
            return True
        return self.budget - self._used() >= searches * estimate["search"]

    def _epoch_worth_it(self) -> bool:
        """Whether another epoch starts: the time left trains at least :data:`LAST_EPOCH_VALIDATIONS` times as
        long as a validation takes (the final stage's estimate can shrink after a validation and leave less
        than the epoch before it planned for; that time is still trained, where it is worth its validation)."""
        st = self.state
        val_s = st.final_estimate["validation"] if st.final_estimate else 0.0
        return self._left() > LAST_EPOCH_VALIDATIONS * val_s

    def _left(self) -> float:
        """Seconds of training time left (the final stage's reserve set aside)."""
        return self.budget - self.reserve - self._used()

    def _last_slice(self, epoch_s: float) -> bool:
        """Whether the training time left after this epoch is less than :data:`SHORT_EPOCH` of an epoch: this
        epoch then trains on to the end (a short last epoch would cost a whole validation for a few steps)."""
        return self._left() < SHORT_EPOCH * epoch_s

    def _final_seconds(self, val_s: float, predict_s: float, search_s: float) -> float:
        """The final stage's expected time from an epoch's validation (``val_s``, of which ``predict_s``
        network passes and ``search_s`` the epoch's post-processing search; the rest is BatchNorm statistics,
        loss and counts): the weight average's one-view maps and the chosen weights' maps with every view
        (:data:`EXTRA_VIEW_SHARE`), complete searches on the best epoch's, the average's and the views' maps
        (each about three times an epoch's search: instance trainings also try h-maxima seeds there), then, for
        instance trainings, the finer seed heights (about an epoch's search each). Fine-tuning adds the starting
        network's one-view maps and an epoch's search on them; its complete search follows only where the
        start wins that (rare: the training made the network worse) and is left to the caller's margin (an
        AVX2 quick run's estimate counted 8.6 s for a start that took 3 s when it counted that search)."""
        averaged = self.config.average_from is not None
        started = self.start is not None  # the starting network is scored too
        other_s = max(val_s - predict_s - search_s, 0.0)
        refine = training_type(self.config.training_type).refine_searches
        views = 1 + EXTRA_VIEW_SHARE * (self.config.views - 1)
        return ((views + averaged + started) * predict_s + averaged * other_s
                + (3.0 * (2 + averaged) + started + refine) * search_s)

    def _end_epoch(
        self, train_loss: float | None, counts: torch.Tensor | None, seconds: float
    ) -> tuple[float, float, float]:
        """Validate, record the epoch, keep the best checkpoint; returns (validation seconds, of which
        network passes, of which the post-processing search)."""
        st = self.state
        self._report("validating", f"validating epoch {st.epoch + 1}")
        start = time.monotonic()
        self._precise_bn()
        val, maps = validate(self.model, self.card, self.val_set, self.config)
        predict_s, search_s = val.pop("predict_seconds"), val.pop("search_seconds")
        train_scores = _train_scores(counts)
        if self.probe_set:  # the type's own scores on a few whole training images, as validation scores them
            probe, _ = validate(self.model, self.card, self.probe_set, self.config)
            train_scores.update({f"train_{k[4:]}": v for k, v in probe.items() if k.startswith("val_")
                                 and k != "val_loss"})
        val_s = time.monotonic() - start
        st.epoch += 1
        record = {"epoch": st.epoch, "step": st.step, "train_loss": train_loss, **train_scores,
                  **val, "learning_rate": self._lr_now(), "seconds": seconds + val_s}
        st.history.append(record)
        score = score_of(val, self.config.training_type)
        if score > st.best_score:
            st.best_score, st.best_epoch = score, st.epoch
            ckpt.save(self.workdir / ckpt.BEST, _cpu_state(self.model))
            self.best_maps = maps
        self._save_last()
        self._report("training", f"epoch {st.epoch} done", record=record)
        return val_s, predict_s, search_s

    def _finish(self) -> TrainResult:
        st, cfg = self.state, self.config
        mark = time.monotonic()
        if st.best_epoch is None:  # not a single epoch fitted in the budget: validate what we have
            self._end_epoch(None, None, 0.0)
        best = ckpt.load(self.workdir / ckpt.BEST)
        self.model.load_state_dict(best)
        if self.best_maps is None:  # resumed after the best epoch: its one-view maps are not in memory
            _, self.best_maps = validate(self.model, self.card, self.val_set, cfg, type_scores=False)
        self._report("tuning", "tuning post-processing on the validation images")
        key = _final_key(cfg.training_type)
        maps = self.best_maps
        params, metrics = self._tune(maps)
        mark = st.spent("final_tuning", mark)
        averaged = self._average_maps()  # the weight average is now in the model
        if averaged is not None:
            avg_params, avg_metrics = self._tune(averaged)
            kept = _scores_better(avg_metrics, metrics, key)
            st.average_record = {"weights": self.average.count, "from_share": cfg.average_from,
                                 "score": avg_metrics.get(key), "best_epoch_score": metrics.get(key), "kept": kept}
            if kept:
                maps, params, metrics = averaged, avg_params, avg_metrics
            else:
                self.model.load_state_dict(best)
        mark = st.spent("final_average", mark)
        if self.start is not None:
            maps, params, metrics = self._weigh_start(maps, params, metrics, key)
            mark = st.spent("final_start", mark)
        views = 1
        if cfg.views > 1:  # keep the views only where they score better (they usually do, not always)
            self._report("validating", f"validating the chosen weights with {cfg.views} views")
            _, many = validate(self.model, self.card, self.val_set, cfg, views=cfg.views, type_scores=False)
            many_params, many_metrics = self._tune(many)
            if _scores_better(many_metrics, metrics, key):
                views, maps, params, metrics = cfg.views, many, many_params, many_metrics
        mark = st.spent("final_views", mark)
        kind = training_type(cfg.training_type)
        if cfg.tune_postprocessing and kind.refine_message:
            if self._time_for(kind.refine_searches):
                self._report("tuning", kind.refine_message)
                params, refined = refine_seed_height(maps, self.val_set, cfg, params)
                metrics = refined or metrics
            else:  # the budget is spent: the tuned values stand (the refinement adds 0.006 F1@0.5 on average)
                st.skipped.append(kind.refine_message)
        self._report("packaging", "writing the model package")
        st.spent("final_seeds", mark)
        card = dict(self.card)
        card["views"] = views
        card["postprocess"] = params
        card["metrics"] = {**metrics, "best_epoch": st.best_epoch, "best_val_score": st.best_score,
                           "weight_average": st.average_record, "start_model": st.start_record,
                           "history": st.history}
        card["training"] = self._training_info()
        package = write_package(self.workdir / "model", inference_model(self.model, self.n_out), card)
        result = self._result(SUCCEEDED, package, card=card, metrics=metrics, postprocess=params)
        self._report("done", "training finished")
        return result

    def _weigh_start(self, maps: list, params: list[dict], metrics: dict,
                     key: str) -> tuple[list, list[dict], dict]:
        """Fine-tuning: the starting network itself, scored like the trained weights (one view, complete
        search), is kept where it validates better (a short training on a few images can leave a network worse
        than where it started). A start that does not beat the best epoch in the epochs' own quick search is
        not searched further. Returns the kept weights' (maps, post-processing, metrics); the model holds
        those weights."""
        path = self.workdir / ckpt.START
        if self.start is None or not path.exists():
            return maps, params, metrics
        self._report("validating", "validating the starting model as it was")
        trained = _cpu_state(self.model)
        self.model.load_state_dict(ckpt.load(path))
        quick, start_maps = validate(self.model, self.card, self.val_set, self.config)
        quick_score = score_of(quick, self.config.training_type)
        if quick_score <= self.state.best_score:
            # it loses even the epochs' quick search, which favours early weights such as a start's: the
            # complete search is spared
            self.state.start_record = {"quick_score": quick_score, "best_epoch_quick_score": self.state.best_score,
                                       "kept": False}
            self.model.load_state_dict(trained)
            return maps, params, metrics
        start_params, start_metrics = self._tune(start_maps)
        kept = _scores_better(start_metrics, metrics, key)
        self.state.start_record = {"score": start_metrics.get(key), "trained_score": metrics.get(key),
                                   "kept": kept}
        if kept:
            return start_maps, start_params, start_metrics
        self.model.load_state_dict(trained)
        return maps, params, metrics

    def _tune(self, maps: list) -> tuple[list[dict], dict]:
        """Post-processing tuned on these validation maps (unless tuning is off) and the metrics it gives."""
        return tune_and_score(maps, self.val_set, self.config, tune=self.config.tune_postprocessing)

    def _averaging(self) -> bool:
        """Whether the weights now go into the weight average (the last part of the training)."""
        start = self.config.average_from
        return start is not None and self._train_fraction() >= start

    def _average_maps(self) -> list | None:
        """Load the mean of the late weights into the model (BatchNorm statistics recomputed for it) and
        return its one-view validation maps; None (model untouched) when too few weights were averaged.
        The final stage scores it like the best epoch, with the complete post-processing search: the
        epochs' quick search favours early weights, and late weights gain most from h-maxima seeds."""
        count = self.average.count
        if count < MIN_AVERAGED:
            return None
        self._report("validating", f"validating the average of {count} weights from the last part of the training")
        self.model.load_state_dict(self.average.state_dict(self.model))
        self._precise_bn()
        _, maps = validate(self.model, self.card, self.val_set, self.config, type_scores=False)
        return maps

    # ----------------------------------------------------------------------------------------------
    def _step(self, optimizer, batch: Batch, scaler) -> tuple[float, torch.Tensor]:
        return train_step(self.model, optimizer, batch, self.choice, self.config, scaler)

    def _precise_bn(self) -> None:
        """Recompute BatchNorm statistics on a few training batches (see :mod:`core.training.bn`)."""
        n = max(1, BN_SAMPLES // self.batch_size)
        first = BN_BATCH_OFFSET + self.state.epoch * n

        def batches():
            for i in range(n):
                x = torch.from_numpy(self.sampler.batch(first + i).x).to(self.choice.device)
                yield x.contiguous(memory_format=torch.channels_last) if self.choice.channels_last else x

        recalibrate_batchnorm(self.model, batches(), autocast=self.choice.autocast)

    def _probe_step(self, batch_size: int) -> None:
        """One forward/backward of ``batch_size`` zero patches (CUDA batch-size probe)."""
        cfg = self.config
        x = torch.zeros(batch_size, self.train_images[0].channels, cfg.patch_size, cfg.patch_size,
                        device=self.choice.device)
        with self.choice.autocast():
            out = self.model(x)
        out.float().mean().backward()
        self.model.zero_grad(set_to_none=True)

    def _make_optimizer(self, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
        return make_optimizer(model, lr, self.config.weight_decay)

    def _lr_now(self) -> float:
        """Warm-up then cosine decay over the training fraction."""
        f = min(1.0, self._train_fraction())
        if f < WARMUP_SHARE:
            return self.state.lr * (0.1 + 0.9 * f / WARMUP_SHARE)
        g = (f - WARMUP_SHARE) / (1 - WARMUP_SHARE)
        return self.state.lr * (FINAL_LR_SHARE + (1 - FINAL_LR_SHARE) * 0.5 * (1 + math.cos(math.pi * g)))

    def _train_fraction(self) -> float:
        if self.config.max_steps:
            return self.state.step / self.config.max_steps
        return self._used() / max(self.budget - self.reserve, 1e-6)

    def _done(self) -> bool:
        if self.config.max_steps:
            return self.state.step >= self.config.max_steps
        return self._used() >= self.budget - self.reserve

    def _used(self) -> float:
        return self.state.used_before + time.monotonic() - self.t0

    # ----------------------------------------------------------------------------------------------
    def _save_last(self) -> None:
        st = self.state
        payload = {
            "model": _cpu_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "step": st.step, "epoch": st.epoch, "used_seconds": self._used(), "history": st.history,
            "best_score": st.best_score, "best_epoch": st.best_epoch, "lr": st.lr, "lr_test": st.lr_test,
            "rng": ckpt.rng_state(), "norm": self.norm, "batch_size": self.batch_size,
            "config": self.config.to_dict(), "average": self.average.to_checkpoint(),
        }
        ckpt.save(self.workdir / ckpt.LAST, payload)

    def _restore(self, saved: dict) -> None:
        if saved["config"] != self.config.to_dict():
            raise InvalidInputError(
                "the checkpoint in the work folder was written by a different training configuration; "
                "start without resume or use the original configuration"
            )
        st = self.state
        self.model.load_state_dict(saved["model"])
        st.step, st.epoch, st.used_before = int(saved["step"]), int(saved["epoch"]), float(saved["used_seconds"])
        st.history, st.best_score = list(saved["history"]), float(saved["best_score"])
        st.best_epoch = saved["best_epoch"]
        st.lr, st.lr_test = float(saved["lr"]), dict(saved["lr_test"])
        self.optimizer = self._make_optimizer(self.model, st.lr)
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.scaler is not None and saved["scaler"]:
            self.scaler.load_state_dict(saved["scaler"])
        ckpt.set_rng_state(saved["rng"])
        self.average = WeightAverage.from_checkpoint(saved.get("average"))

    def _report(self, phase: str, message: str, *, record: dict | None = None, throttle: bool = False) -> None:
        if self.on_progress is None:
            return
        now = time.monotonic()
        if throttle and now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        used = self._used()
        if self.config.max_steps:
            fraction = min(1.0, self.state.step / self.config.max_steps)
            rate = (now - self.t0) / max(fraction, 1e-6) if fraction > 0 else None
            eta = None if rate is None else max(0.0, rate * (1 - fraction))
        else:
            fraction, eta = min(1.0, used / self.budget), max(0.0, self.budget - used)
        if phase == "done":
            fraction, eta = 1.0, 0.0
        self.on_progress(Progress(phase, fraction, eta, used, self.state.epoch, self.state.step, message, record))

    def _training_info(self) -> dict:
        st = self.state
        return {"steps": st.step, "epochs": st.epoch, "batch_size": self.batch_size, "learning_rate": st.lr,
                "lr_test": st.lr_test, "device": self.choice.describe(), "budget_seconds": self.budget,
                "seconds": self._used(), "phase_seconds": _rounded(st.phase_seconds),
                "step_share": step_share(st.phase_seconds, self.budget),
                "final_estimate": None if st.final_estimate is None else _rounded(st.final_estimate),
                "final_skipped": list(st.skipped)}

    def _result(self, status, package, *, card=None, metrics=None, postprocess=None) -> TrainResult:
        st = self.state
        return TrainResult(status, package, card, list(st.history), metrics or {}, postprocess or [],
                           st.best_epoch, st.step, self._used(), st.lr, self.batch_size, self.choice.describe())


def step_share(phase_seconds: dict[str, float], budget: float) -> float | None:
    """The share of the time budget spent in training steps (forward, backward, update; not the data
    pipeline's stalls, the learning-rate test, validation or the final search)."""
    if budget <= 0 or "steps" not in phase_seconds:
        return None
    return round(phase_seconds["steps"] / budget, 4)


def _rounded(seconds: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in seconds.items()}


def _final_key(name: str) -> str:
    """The metric the package is scored by (the type's score key: mean instance F1, mean foreground IoU)."""
    return training_type(name).score_key


def _scores_better(new: dict, old: dict, key: str) -> bool:
    """Whether metrics ``new`` beat ``old`` on ``key`` (an undefined score counts as 0)."""
    return (new.get(key) or 0.0) > (old.get(key) or 0.0)


def _train_scores(counts: torch.Tensor | None) -> dict:
    if counts is None:
        return {"train_accuracy": None, "train_iou": None}
    c = counts.numpy().astype(np.float64)
    tp, fp, fn, tn = c.T
    union = tp + fp + fn
    ious = [t / u for t, u in zip(tp, union, strict=True) if u > 0]
    total = tp + fp + fn + tn
    accs = [(t + n) / s for t, n, s in zip(tp, tn, total, strict=True) if s > 0]
    return {
        "train_accuracy": float(np.mean(accs)) if accs else None,
        "train_iou": float(np.mean(ious)) if ious else None,
    }


def _probe(images: Sequence[TrainingImage], config: TrainConfig) -> list[TrainingImage]:
    """The training images scored each epoch for the training curves (the type's
    :attr:`~core.training.types.base.TrainingType.train_probe_images`, a seeded sample; none for types whose
    training curves come from the batches)."""
    count = min(training_type(config.training_type).train_probe_images, len(images))
    if count == 0:
        return []
    chosen = np.random.default_rng([config.seed, 7]).choice(len(images), size=count, replace=False)
    return [images[int(i)] for i in sorted(chosen)]


def _cpu_state(model: torch.nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def _check_inputs(config, train_images, val_images, budget_seconds) -> None:
    if not isinstance(config, TrainConfig):
        raise InvalidInputError(f"config must be a TrainConfig, got {type(config).__name__}")
    if not train_images or not val_images:
        raise InvalidInputError(
            "training needs at least 1 training and 1 validation image; "
            f"got {len(train_images)} and {len(val_images)}"
        )
    channels = {im.channels for im in [*train_images, *val_images]}
    if len(channels) != 1:
        raise InvalidInputError(f"images have different channel counts {sorted(channels)}; use one image type")
    if not budget_seconds or budget_seconds <= 0:
        raise InvalidInputError(f"budget_seconds={budget_seconds!r} must be a positive number of seconds")
    if config.encoder not in ENCODERS:
        raise InvalidInputError(f"encoder {config.encoder!r} is not known; choose one of {list(ENCODERS)}")
