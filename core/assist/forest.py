"""The scribble forest: scikit-learn random forests that turn pixel features into class probabilities.

Classes: index 0 is background, index k (1..K-1) is ``label_ids[k - 1]`` (database label ids), K = 1 +
``len(label_ids)``. A class without strokes is never predicted (its probability is 0).

Two ways to fit:

* :meth:`ScribbleForest.fit` on stroke samples ``(X, y)`` gives a one-stage forest;
* :meth:`ScribbleForest.fit_regions` on whole regions (features + stroke map) gives, by default, a two-stage
  "auto-context" forest: the second stage also sees the first stage's probabilities around each pixel
  (:mod:`core.assist.context`). It is markedly better on hard images (EM mitochondria, the same strokes:
  proposal IoU about 0.63 -> 0.82) for about twice the time, and is what :func:`core.assist.view.propose`
  uses.

Both end with a light Gaussian smoothing of the probabilities. Fitting is deterministic for a seed; so is
prediction (pixel chunks run in threads, each summing the trees in the same order).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.assist import context as ctx
from core.assist.features import FeatureSpec
from core.assist.proposal import Proposal
from core.assist.strokes import MAX_CLASSES, stroke_samples
from core.errors import InvalidInputError

if TYPE_CHECKING:  # scikit-learn is imported when a forest is trained: the annotate page imports this module
    from sklearn.ensemble import RandomForestClassifier

#: Trees per stage (tuned: 1024 x 768 strokes -> proposal in about 2 s on 2 cores).
N_ESTIMATORS = 16
#: Stroke pixels kept per class (randomly, seeded) before fitting; strokes rarely cover more.
MAX_SAMPLES_PER_CLASS = 20_000
#: Pixels per prediction chunk (chunks run in parallel threads).
PREDICT_CHUNK = 1 << 16
#: At most this many threads for fitting and prediction.
MAX_WORKERS = 8


def worker_count() -> int:
    """Threads to use: the CPUs this process may run on, at most :data:`MAX_WORKERS`."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_WORKERS))


class ScribbleForest:
    """A fitted forest. Attributes: ``label_ids``, ``spec`` (:class:`FeatureSpec`), ``channels``,
    ``n_samples`` (stroke pixels per class index, before subsampling), ``present`` (class indices that had
    strokes), ``stages`` (one or two sklearn forests)."""

    def __init__(
        self,
        stages: Sequence[RandomForestClassifier],
        *,
        label_ids: Sequence[int],
        spec: FeatureSpec,
        channels: int,
        n_samples: dict[int, int],
    ) -> None:
        self.stages = tuple(stages)
        self.label_ids = _check_label_ids(label_ids)
        self.spec = spec
        self.channels = int(channels)
        self.n_samples = {int(k): int(v) for k, v in n_samples.items()}
        self.present = tuple(int(c) for c in self.stages[0].classes_)
        for stage in self.stages:
            stage.n_jobs = 1  # this class parallelises prediction over pixel chunks instead

    # Properties --------------------------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        """K = 1 + number of labels."""
        return 1 + len(self.label_ids)

    @property
    def context(self) -> bool:
        """Whether this is a two-stage (auto-context) forest."""
        return len(self.stages) == 2

    @property
    def context_labels(self) -> tuple[int, ...]:
        """Class indices whose first-stage probabilities feed the second stage."""
        return tuple(c for c in self.present if c > 0)

    @property
    def halo(self) -> int:
        """Pixels of context a tile needs so that its proposal equals that of the whole image."""
        return self.spec.halo + (ctx.CONTEXT_HALO if self.context else 0) + ctx.SMOOTH_HALO

    def __repr__(self) -> str:
        return (f"ScribbleForest(label_ids={self.label_ids}, channels={self.channels}, "
                f"stages={len(self.stages)}, n_samples={self.n_samples})")

    # Fitting -----------------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        *,
        label_ids: Sequence[int],
        spec: FeatureSpec,
        channels: int,
        seed: int = 0,
        max_samples_per_class: int = MAX_SAMPLES_PER_CLASS,
    ) -> ScribbleForest:
        """A one-stage forest on stroke samples ``X`` (n, F) and class indices ``y`` (n,)."""
        label_ids = _check_label_ids(label_ids)
        X, y = _check_samples(X, y, spec, channels, len(label_ids))
        counts = _class_counts(y, 1 + len(label_ids))
        keep = _subsample(y, max_samples_per_class, np.random.default_rng(seed))
        stage = _fit_stage(X[keep], y[keep], seed)
        return cls([stage], label_ids=label_ids, spec=spec, channels=channels, n_samples=counts)

    @classmethod
    def fit_regions(
        cls,
        regions: Sequence[tuple[np.ndarray, np.ndarray]],
        *,
        label_ids: Sequence[int],
        spec: FeatureSpec,
        channels: int,
        seed: int = 0,
        max_samples_per_class: int = MAX_SAMPLES_PER_CLASS,
        context: bool = True,
    ) -> ScribbleForest:
        """A forest on whole regions: ``(features (H, W, F), stroke_map (H, W))`` pairs, e.g. one per view
        with strokes (:func:`core.assist.features.pixel_features`, :func:`core.assist.strokes.stroke_map`)."""
        forest, _ = cls._fit_regions(regions, label_ids=label_ids, spec=spec, channels=channels, seed=seed,
                                     max_samples_per_class=max_samples_per_class, context=context)
        return forest

    @classmethod
    def _fit_regions(
        cls, regions, *, label_ids, spec, channels, seed, max_samples_per_class, context
    ) -> tuple[ScribbleForest, list[np.ndarray]]:
        """The forest and, per region, the features its last stage reads (for an immediate prediction)."""
        label_ids = _check_label_ids(label_ids)
        if not regions:
            raise InvalidInputError("no region given; pass (features, stroke_map) pairs of the stroked views")
        expected = spec.n_features(channels)
        for k, (features, _) in enumerate(regions):
            if np.ndim(features) != 3 or np.shape(features)[2] != expected:
                raise InvalidInputError(
                    f"region {k}: features must be (H, W, {expected}) for {channels} channel(s) and this "
                    f"spec, got shape {np.shape(features)}; compute them with "
                    "pixel_features(pixels, scale, spec)"
                )
        samples = [stroke_samples(f, s) for f, s in regions]
        X = np.concatenate([x for x, _ in samples])
        y = np.concatenate([t for _, t in samples])
        X, y = _check_samples(X, y, spec, channels, len(label_ids))
        counts = _class_counts(y, 1 + len(label_ids))
        keep = _subsample(y, max_samples_per_class, np.random.default_rng(seed))
        first = _fit_stage(X[keep], y[keep], seed)
        forest = cls([first], label_ids=label_ids, spec=spec, channels=channels, n_samples=counts)
        if not context:
            return forest, [np.asarray(f) for f, _ in regions]
        labels = forest.context_labels
        stage2_features = []
        for features, _ in regions:
            probs = forest._stage_probabilities(0, np.asarray(features, dtype=np.float32))
            stage2_features.append(_with_context(features, probs[list(labels)]))
        X2 = np.concatenate([stroke_samples(f, s)[0] for f, (_, s) in zip(stage2_features, regions)])
        second = _fit_stage(X2[keep], y[keep], seed + 1)
        forest = cls([first, second], label_ids=label_ids, spec=spec, channels=channels, n_samples=counts)
        return forest, stage2_features

    # Prediction --------------------------------------------------------------------------------------
    def predict(self, features: np.ndarray) -> Proposal:
        """The proposal for features (H, W, F) of a region (its edges treated as the image border)."""
        return Proposal.from_probabilities(self.predict_probabilities(features), self.label_ids)

    def predict_probabilities(
        self, features: np.ndarray, *, at_border: ctx.Sides = ctx.ALL_SIDES
    ) -> np.ndarray:
        """Smoothed class probabilities float32 (K, h, w).

        ``at_border`` says which sides (top, bottom, left, right) of the features' window lie on the image
        border; on the other sides :attr:`halo` pixels are context only and are left out of the result.
        """
        feats = self._check_features(features)
        feats = ctx.strip(feats, self.spec.halo, at_border)
        probs = self._stage_probabilities(0, feats)
        if self.context:
            stage2 = _with_context(feats, probs[list(self.context_labels)])
            probs = self._stage_probabilities(1, ctx.strip(stage2, ctx.CONTEXT_HALO, at_border))
        return self._finish(probs, at_border)

    def _finish(self, probs: np.ndarray, at_border: ctx.Sides) -> np.ndarray:
        smooth = ctx.smooth_probabilities(probs)
        smooth = np.moveaxis(ctx.strip(np.moveaxis(smooth, 0, -1), ctx.SMOOTH_HALO, at_border), -1, 0)
        total = smooth.sum(axis=0, keepdims=True)
        return np.ascontiguousarray(smooth / np.maximum(total, np.float32(1e-12)), dtype=np.float32)

    def _stage_probabilities(self, stage: int, features: np.ndarray) -> np.ndarray:
        """Probabilities (K, H, W) float32 of one stage (no smoothing) for features (H, W, F)."""
        h, w, f = features.shape
        X = np.ascontiguousarray(features, dtype=np.float32).reshape(h * w, f)
        forest = self.stages[stage]
        starts = list(range(0, h * w, PREDICT_CHUNK))
        if len(starts) <= 1:
            parts = [_forest_proba(forest, X)]
        else:
            with ThreadPoolExecutor(max_workers=worker_count()) as pool:
                parts = list(pool.map(lambda s: _forest_proba(forest, X[s : s + PREDICT_CHUNK]), starts))
        out = np.zeros((self.n_classes, h * w), dtype=np.float32)
        out[forest.classes_.astype(np.int64)] = np.concatenate(parts).T
        return out.reshape(self.n_classes, h, w)

    def _check_features(self, features: np.ndarray) -> np.ndarray:
        feats = np.asarray(features)
        expected = self.spec.n_features(self.channels)
        if feats.ndim != 3 or feats.shape[2] != expected:
            raise InvalidInputError(
                f"features must be (H, W, {expected}) for this forest ({self.channels} channel(s)), got "
                f"shape {feats.shape}; compute them with pixel_features(pixels, scale, forest.spec)"
            )
        return feats

    # Storage (see core.assist.store) ------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the forest to ``path`` (joblib) and its metadata next to it (``<path>.json``), atomically."""
        from core.assist.store import save_forest

        save_forest(self, Path(path))

    @classmethod
    def load(cls, path: Path) -> ScribbleForest:
        """Read a forest written by :meth:`save`; clear errors when missing, corrupt or of another sklearn."""
        from core.assist.store import load_forest

        return load_forest(Path(path))

    def metadata(self) -> dict:
        """Plain-JSON description (what :meth:`save` writes next to the forest)."""
        import sklearn

        return {
            "label_ids": list(self.label_ids),
            "spec": self.spec.to_dict(),
            "channels": self.channels,
            "n_samples": {str(k): v for k, v in self.n_samples.items()},
            "present": list(self.present),
            "stages": len(self.stages),
            "n_estimators": [int(s.n_estimators) for s in self.stages],
            "context_sigmas": list(ctx.CONTEXT_SIGMAS),
            "smooth_sigma": ctx.SMOOTH_SIGMA,
            "sklearn": sklearn.__version__,
        }


def _forest_proba(forest: RandomForestClassifier, X: np.ndarray) -> np.ndarray:
    """``forest.predict_proba(X)`` for float32 ``X``, bit for bit, without sklearn's joblib layer: that layer
    resets the global warning filters while it runs, which is not safe from several threads at once."""
    out = np.zeros((len(X), len(forest.classes_)), dtype=np.float64)
    for tree in forest.estimators_:  # summed in the forest's order, as predict_proba does with n_jobs=1
        out += tree.predict_proba(X, check_input=False)
    out /= len(forest.estimators_)
    return out


def _with_context(features: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """Image features (H, W, F) followed by the context features of first-stage maps (M, H, W)."""
    extra = ctx.context_features(maps)
    return np.concatenate([np.asarray(features, dtype=np.float32), extra], axis=2)


def _fit_stage(X: np.ndarray, y: np.ndarray, seed: int) -> RandomForestClassifier:
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=N_ESTIMATORS, n_jobs=worker_count(), random_state=seed)
    forest.fit(X, y)
    return forest


def _check_label_ids(label_ids: Sequence[int]) -> tuple[int, ...]:
    try:
        ids = tuple(int(v) for v in label_ids)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"label_ids must be database label ids (integers >= 1), got {label_ids!r}"
        ) from exc
    if not ids or min(ids) < 1 or len(set(ids)) != len(ids):
        raise InvalidInputError(
            f"label_ids must be one or more distinct database label ids >= 1, got {label_ids!r}"
        )
    if len(ids) >= MAX_CLASSES:
        raise InvalidInputError(f"at most {MAX_CLASSES - 1} labels can be assisted at once, got {len(ids)}")
    return ids


def _check_samples(X, y, spec: FeatureSpec, channels: int, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    expected = spec.n_features(channels)
    if len(y) and (X.ndim != 2 or X.shape != (len(y), expected)):
        raise InvalidInputError(
            f"X must be (n, {expected}) features of the n stroked pixels, got {X.shape} for {len(y)} "
            "labels y; build both with stroke_samples(pixel_features(...), stroke_map(...))"
        )
    if y.ndim != 1 or (len(y) and not np.issubdtype(y.dtype, np.integer)):
        raise InvalidInputError(f"y must be (n,) integer class indices, got shape {y.shape}, dtype {y.dtype}")
    if len(y) and (y.min() < 0 or y.max() > n_labels):
        raise InvalidInputError(
            f"class indices in y must be 0 (background) .. {n_labels} (the labels), found "
            f"{int(y.min())}..{int(y.max())}; check the strokes' class_index against label_ids"
        )
    present = set(np.unique(y).tolist())
    if 0 not in present or not present - {0}:
        missing = "background" if 0 not in present else "a label"
        raise InvalidInputError(
            "Brush some background and at least one label before asking for a proposal (no stroke for "
            f"{missing} yet): the assistant learns the difference between them"
        )
    return X.reshape(len(y), expected), y.astype(np.int64)


def _class_counts(y: np.ndarray, n_classes: int) -> dict[int, int]:
    counts = np.bincount(y, minlength=n_classes)
    return {k: int(c) for k, c in enumerate(counts) if c}


def _subsample(y: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``y`` keeping at most ``limit`` per class (random, seeded), in increasing order."""
    if limit < 1:
        raise InvalidInputError(f"max_samples_per_class must be >= 1, got {limit}")
    keep = []
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        if len(idx) > limit:
            idx = np.sort(rng.choice(idx, size=limit, replace=False))
        keep.append(idx)
    return np.sort(np.concatenate(keep))
