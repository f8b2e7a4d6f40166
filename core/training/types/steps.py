"""The steps of the journey a training type answers besides its network (the wizard's counts and split,
the training job, the report's configuration), with the defaults of the pixel and box types.

:class:`~core.training.types.base.TrainingType` inherits them; a type that trains otherwise (image
classification) overrides them, so that the wizard, the job and the report ask the entry and never its
name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from core.config import Settings
    from core.training.config import TrainConfig
    from core.training.loop import TrainResult
    from core.training.split import Split, SplitImage

#: The loss of models whose card does not record it (packages written before it did): Dice + focal then.
LOSS_BEFORE_CARDS = "Dice + focal (ignoring unannotated pixels)"


@dataclass
class ScoredValidation:
    """What :meth:`TrainingType.score_validation` gives the training job: the training's ``metrics``
    (``overall``, ``per_label``, ``per_image``, ``training`` and the type's own, e.g. ``confusion``), the
    report's validation pictures (``examples``) and, for boxes, the precision-recall curves."""

    metrics: dict
    examples: list = field(default_factory=list)
    pr_curves: list[dict] = field(default_factory=list)


class JourneySteps:
    """The defaults (pixel and box types) of what the wizard, the training job and the report ask a type."""

    # Wizard and split ----------------------------------------------------------------------------------
    def annotation_counts(self, session: Session, project_id: int) -> dict[int, dict[int, int]]:
        """image id -> {label id: how many annotations of that label this type trains on}: the wizard's
        counts, the split's labels per image and the validation size. The pixel and box types count
        annotation shapes."""
        from core.db import repo

        return repo.annotation_summary(session, project_id)

    def split_images(self, session: Session, project_id: int, image_ids: Sequence[int]) -> list[SplitImage]:
        """The split's view of the selected images (unknown ids left out): annotated when the image is
        marked annotated and has annotations of a label, background when marked background-only."""
        from core.db import repo
        from core.db.models import ANNOTATED, BACKGROUND
        from core.training.split import SplitImage

        summary = self.annotation_counts(session, project_id)
        images = {im.id: im for im in repo.list_images(session, project_id)}
        out = []
        for image_id in image_ids:
            image = images.get(image_id)
            if image is None:
                continue
            present = frozenset(summary.get(image_id, {}))
            out.append(SplitImage(id=image_id, name=image.name,
                                  annotated=image.status == ANNOTATED and bool(present),
                                  background=image.status == BACKGROUND, labels_present=present))
        return out

    def training_rules(
        self,
        images: Sequence[SplitImage],
        label_ids: Sequence[int],
        *,
        mode: str,
        train_ids: Sequence[int] = (),
        val_ids: Sequence[int] = (),
        label_names: dict[int, str] | None = None,
    ) -> list[str]:
        """Every broken rule of a training on ``images`` as a sentence (see
        :func:`core.training.split.check_training_rules`)."""
        from core.training.split import check_training_rules

        return check_training_rules(images, label_ids, mode=mode, train_ids=train_ids, val_ids=val_ids,
                                    label_names=label_names)

    def split(
        self,
        images: Sequence[SplitImage],
        label_ids: Sequence[int],
        *,
        mode: str,
        seed: int,
        train_ids: Sequence[int] = (),
        val_ids: Sequence[int] = (),
    ) -> Split:
        """Check the rules, then split (see :func:`core.training.split.make_split`: 80/20 by image, every
        label in validation where possible)."""
        from core.training.split import make_split

        return make_split(images, label_ids, mode=mode, seed=seed, train_ids=train_ids, val_ids=val_ids)

    def encoder_choice(self, encoder: str) -> str:
        """The wizard's words for network choice ``encoder`` (a key of
        :data:`core.training.encoders.ENCODERS`): the registry's description of the U-Net it builds."""
        from core.training.encoders import ENCODERS

        return str(ENCODERS[encoder]["description"])

    # The training job ----------------------------------------------------------------------------------
    def load_split(
        self, settings: Settings, engine: Engine, project_id: int, split: dict, config: TrainConfig
    ) -> tuple[list, list, list, list]:
        """The training and validation data of a stored split for :meth:`train_model`, with their
        records for the report (:class:`~core.training.project_data.ImageRecord`)."""
        from core.training.project_data import load_split

        return load_split(settings, engine, project_id, split, config)

    def train_model(
        self,
        config: TrainConfig,
        train: Sequence[Any],
        val: Sequence[Any],
        *,
        budget_seconds: float,
        workdir: Path,
        on_progress: Callable[[Any], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        resume: bool = False,
        device: str = "auto",
        start: Any = None,
    ) -> TrainResult:
        """Train on :meth:`load_split`'s data and write the model package
        (:func:`core.training.loop.train`); ``start``: a :class:`~core.training.transfer.StartModel` to
        fine-tune, or None for random weights."""
        from core.training.loop import train as train_loop

        return train_loop(config, list(train), list(val), budget_seconds=budget_seconds, workdir=workdir,
                          on_progress=on_progress, should_stop=should_stop, resume=resume, device=device,
                          start=start)

    def score_validation(
        self, package_dir: Path, val: Sequence[Any], config: TrainConfig, train_metrics: dict
    ) -> ScoredValidation:
        """Score the packaged model on the validation data (:meth:`assess`): the training's metrics and
        the report's pictures."""
        from core.training.outcome import assess_package

        return assess_package(package_dir, list(val), config, train_metrics)

    def package_card(self, package_dir: Path) -> dict:
        """The model card of a package of this type, validated (:func:`core.training.package.read_card`);
        {} when the folder holds none."""
        from core.training.package import CARD, read_card

        return read_card(package_dir) if (Path(package_dir) / CARD).exists() else {}

    # Report ----------------------------------------------------------------------------------------------
    def report_config(self, train_config: dict, card: dict) -> dict:
        """What the report's configuration and methods read from the training's configuration and its
        model card (``card``: {} when there is none), besides the split, duration and budget."""
        from core.training.sampling import CONTACT_REACH

        info = card.get("training", {})
        return {
            **{k: v for k, v in train_config.items() if k != "labels"},
            "labels": [lab["name"] for lab in train_config.get("labels", [])],
            "learning_rate": info.get("learning_rate", train_config.get("learning_rate")),
            "batch_size": info.get("batch_size", train_config.get("batch_size")),
            "lr_test": info.get("lr_test"), "epochs": info.get("epochs"),
            "in_channels": card.get("in_channels"), "normalization": card.get("normalization"),
            "scale": card.get("scale"), "views": card.get("views"),
            "postprocess": card.get("postprocess"), "loss": card.get("loss") or LOSS_BEFORE_CARDS,
            "contact_reach": CONTACT_REACH,
            "optimizer": "AdamW",
        }

    def methods_network(self, config: dict, versions: dict) -> str | None:
        """The methods paragraph's sentences on the network and its input (``config`` as the report has
        it); None: the U-Net's, which the report writes itself."""
        return None
