"""The model card's content known before training starts (the loop adds post-processing, metrics and
training facts at the end; :mod:`core.training.package` adds the format version and architecture)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from core.training.config import TrainConfig
from core.training.losses import loss_description
from core.training.models import ENCODERS, out_channels, output_layout
from core.training.package import package_versions
from core.training.sources import TrainingImage
from core.training.types import training_type


def base_card(
    config: TrainConfig,
    norm: dict,
    scale: dict,
    in_channels: int,
    train_images: Sequence[TrainingImage],
    val_images: Sequence[TrainingImage],
) -> dict:
    """Architecture, channels, labels and colours, output layout, normalisation, working scale (the record of
    :func:`core.training.scale.choose_scale`), test-time views, patch size, loss, seed,
    configuration, split (image keys), data hashes and package versions."""
    labels = [{"id": lab.id, "name": lab.name, "color": lab.color} for lab in config.labels]
    spec = ENCODERS[config.encoder]
    kind = training_type(config.training_type)
    distance = kind.distance(config.use_distance_head)
    return {
        "encoder": config.encoder,
        "smp_encoder": spec["smp_encoder"],
        "decoder_channels": list(spec["decoder_channels"]),
        "encoder_depth": int(spec.get("encoder_depth", 5)),
        "in_channels": in_channels,
        # the training images' bit depth (the most common one of a mixed set); others are scaled by their own
        # percentiles (core.training.normalization)
        "dtype": norm.get("dtype") or (train_images[0].dtype if train_images else None),
        "out_channels": out_channels(config.training_type, config.n_labels, distance=config.use_distance_head),
        "training_type": config.training_type,
        "labels": labels,
        **kind.card_fields(config, train_images),
        "output_layout": output_layout(config.training_type, labels, distance=config.use_distance_head),
        "normalization": norm,
        "scale": scale,
        "views": config.views,
        "patch_size": config.patch_size,
        "loss": loss_description(config.training_type, distance=distance, rays=config.edge_rays),
        "input_padding": "reflect to a multiple of 32; tiles of 512 with a 32-pixel margin above 1024 px",
        "seed": config.seed,
        "config": config.to_dict(),
        "split": {"train": [im.key for im in train_images], "val": [im.key for im in val_images]},
        "data_hashes": {im.key: im.content_hash for im in [*train_images, *val_images]},
        "package_versions": package_versions(),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
