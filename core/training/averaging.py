"""Weight averaging over the last part of a training (stochastic weight averaging, Izmailov et al. 2018).

Late in a training the weights wander around a good region as the batches change; their mean usually lies
nearer its middle and generalises better than any one of them, most visibly where there are few training
images. The loop adds the weights every few steps once a share of the training has passed, validates the
mean like an epoch at the end (with BatchNorm statistics recomputed for it, :mod:`core.training.bn`) and
keeps it only where it scores better than the best epoch.

With a ``decay`` the average is exponential instead (each new weight counts ``1 - decay``, the older ones fade
by ``decay`` per addition): the classifier adds its weights every step and keeps a short memory of them
(:mod:`core.classification.train`).
"""

from __future__ import annotations

import torch


class WeightAverage:
    """Running mean of a model's floating-point weights and buffers (integer buffers: the latest value)."""

    def __init__(self, decay: float | None = None) -> None:
        self.count = 0
        self.decay = decay
        self._mean: dict[str, torch.Tensor] = {}

    def add(self, model: torch.nn.Module) -> None:
        """Fold the model's current weights into the mean (kept in float32 on the model's device)."""
        self.count += 1
        for name, value in model.state_dict().items():
            value = value.detach()
            if not value.is_floating_point():
                self._mean[name] = value.clone()
            elif self.count == 1:
                self._mean[name] = value.float().clone()
            else:
                mean = self._mean[name] = self._mean[name].to(value.device)  # CPU after a resume
                share = 1.0 / self.count if self.decay is None else 1.0 - self.decay
                mean += (value.float() - mean) * share

    def state_dict(self, like: torch.nn.Module) -> dict[str, torch.Tensor]:
        """The mean as a state dict for ``like`` (each tensor in the dtype of the model's own)."""
        if not self.count:
            raise ValueError("no weights were added to the average")
        own = like.state_dict()
        return {name: self._mean[name].to(device=own[name].device, dtype=own[name].dtype) for name in own}

    def to_checkpoint(self) -> dict:
        """What the last checkpoint stores (on the CPU), so that a resumed training continues the same mean."""
        out = {"count": self.count, "mean": {k: v.to("cpu", copy=True) for k, v in self._mean.items()}}
        if self.decay is not None:
            out["decay"] = self.decay
        return out

    @classmethod
    def from_checkpoint(cls, data: dict | None) -> WeightAverage:
        average = cls((data or {}).get("decay"))
        if data:
            average.count = int(data["count"])
            average._mean = {k: v.clone() for k, v in data["mean"].items()}
        return average
