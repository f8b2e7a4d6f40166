"""Saving and loading a :class:`~core.assist.forest.ScribbleForest`.

Two files: the sklearn forests in ``<path>`` (joblib) and plain-JSON metadata in ``<path>.json`` (label ids,
feature spec, channels, stroke pixels per class, the scikit-learn version and the SHA-256 of the joblib
file). Each is written to a temporary name and renamed; the metadata goes last, so a forest whose metadata
exists is complete. Loading checks the metadata *before* unpickling: a forest of another scikit-learn
version, or whose joblib file does not match its checksum, is refused with a message saying to brush again
(the strokes are kept in the database, so retraining takes seconds).

Forests are pickles: load only files this application wrote (the project folder), never files from elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from pathlib import Path

import numpy as np

from core.assist import context as ctx
from core.assist.features import FeatureSpec
from core.errors import InvalidInputError, ModelPackageError
from core.imaging.atomic import atomic_output

FORMAT = "segstudio-scribble-forest"
VERSION = 1
_RETRAIN = "brush strokes are kept: update the proposal on the annotate page to train the assistant again"


def metadata_path(path: Path) -> Path:
    """Where the metadata of the forest saved at ``path`` lives (``<path>.json``)."""
    path = Path(path)
    return path.with_name(path.name + ".json")


# joblib and scikit-learn are imported where forests are written and read, not with this module: the annotate
# page imports it (through core.assist) for the metadata alone.


def save_forest(forest, path: Path) -> None:
    """Write ``forest`` to ``path`` and ``metadata_path(path)`` (each atomically; metadata last)."""
    import joblib

    path = Path(path)
    with atomic_output(path) as tmp:
        joblib.dump({"format": FORMAT, "stages": list(forest.stages)}, tmp, compress=3)
        digest = _sha256(tmp)
    meta = {"format": FORMAT, "version": VERSION, **forest.metadata(), "sha256": digest}
    with atomic_output(metadata_path(path)) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))


def read_metadata(path: Path) -> dict:
    """The metadata of a saved forest (no unpickling), or a clear error."""
    meta_file = metadata_path(Path(path))
    if not meta_file.is_file():
        raise ModelPackageError(
            f"assistant forest {Path(path).name}: its metadata file {meta_file.name} is missing (the forest "
            f"was never saved completely or was deleted); {_RETRAIN}"
        )
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelPackageError(
            f"assistant forest metadata {meta_file.name} is unreadable ({exc}); {_RETRAIN}"
        ) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelPackageError(f"{meta_file.name} is not the metadata of an assistant forest; {_RETRAIN}")
    if meta.get("version") != VERSION:
        raise ModelPackageError(
            f"assistant forest {Path(path).name} has format version {meta.get('version')!r}; this version of "
            f"segstudio reads version {VERSION}; {_RETRAIN}"
        )
    return meta


def load_forest(path: Path):
    """Read a forest written by :func:`save_forest`."""
    import joblib
    import sklearn

    from core.assist.forest import ScribbleForest

    path = Path(path)
    if not path.is_file():
        raise ModelPackageError(f"assistant forest file {path} does not exist; {_RETRAIN}")
    meta = read_metadata(path)
    if meta.get("sklearn") != sklearn.__version__:
        raise ModelPackageError(
            f"assistant forest {path.name} was trained with scikit-learn {meta.get('sklearn')}, this "
            f"installation has {sklearn.__version__}, and forests cannot move between versions; {_RETRAIN}"
        )
    if meta.get("context_sigmas") != list(ctx.CONTEXT_SIGMAS) or meta.get("smooth_sigma") != ctx.SMOOTH_SIGMA:
        raise ModelPackageError(
            f"assistant forest {path.name} was trained by an earlier version of the assistant (other context "
            f"scales); {_RETRAIN}"
        )
    if meta.get("sha256") != _sha256(path):
        raise ModelPackageError(
            f"assistant forest {path.name} does not match its metadata (the file is damaged or was "
            f"replaced); {_RETRAIN}"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=UserWarning)  # sklearn's InconsistentVersionWarning
            payload = joblib.load(path)
        stages = payload["stages"]
        spec = FeatureSpec.from_dict(meta["spec"])
        n_samples = {int(k): int(v) for k, v in meta["n_samples"].items()}
        label_ids, channels = meta["label_ids"], int(meta["channels"])
    except (OSError, EOFError, KeyError, TypeError, ValueError, IndexError, AttributeError, ImportError,
            pickle.UnpicklingError, UserWarning, InvalidInputError) as exc:
        raise ModelPackageError(f"assistant forest {path.name} is corrupt ({exc!r}); {_RETRAIN}") from exc
    _check_stages(stages, spec, channels, path)
    return ScribbleForest(stages, label_ids=label_ids, spec=spec, channels=channels, n_samples=n_samples)


def _check_stages(stages: object, spec: FeatureSpec, channels: int, path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    if (not isinstance(stages, list) or not 1 <= len(stages) <= 2
            or not all(isinstance(s, RandomForestClassifier) for s in stages)):
        raise ModelPackageError(
            f"assistant forest {path.name} does not hold 1 or 2 random forests; {_RETRAIN}"
        )
    if stages[0].n_features_in_ != spec.n_features(channels):
        raise ModelPackageError(
            f"assistant forest {path.name} reads {stages[0].n_features_in_} features but its metadata "
            f"describes {spec.n_features(channels)}; {_RETRAIN}"
        )
    if len(stages) == 2 and not np.array_equal(stages[0].classes_, stages[1].classes_):
        raise ModelPackageError(
            f"assistant forest {path.name}: its two stages disagree on classes; {_RETRAIN}"
        )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
