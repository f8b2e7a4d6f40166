"""Where and in which precision the network runs.

* CUDA (``Settings.device`` cuda, or auto with a GPU): automatic mixed precision (bf16 where the GPU has it,
  else fp16 with a gradient scaler) and channels_last.
* CPU: bf16 autocast when the CPU does bf16 natively (oneDNN reports AVX512-BF16/AMX) and a tiny
  forward/backward in bf16 is both correct and faster than fp32; fp32 otherwise (on CPUs without native bf16
  the emulation is several times slower than fp32). channels_last whenever oneDNN is there: it is oneDNN's
  own layout, so convolutions skip a reorder (2 cores without bf16, the default network, batches of 4
  patches of 128 x 128: the bare training step about 10 % faster and the forward pass about 30 % faster
  than in NCHW; the engine's step with its data pipeline 11.9 against 11.2 images/s in
  ``bench/train_throughput.py``; 4973 steps in an extended dsb2018 training against 4265-4498).
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass

import torch

from core.errors import InvalidInputError

DEVICE_SETTINGS = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class DeviceChoice:
    """The device, the autocast dtype (None = fp32), whether to use channels_last, and why."""

    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool
    reason: str

    @property
    def needs_scaler(self) -> bool:
        return self.device.type == "cuda" and self.amp_dtype == torch.float16

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def describe(self) -> str:
        precision = "fp32" if self.amp_dtype is None else str(self.amp_dtype).replace("torch.", "")
        layout = ", channels_last" if self.channels_last else ""
        return f"{self.device.type} {precision}{layout} ({self.reason})"


def pick_device(setting: str = "auto") -> DeviceChoice:
    """The :class:`DeviceChoice` for ``Settings.device`` (auto | cpu | cuda)."""
    if setting not in DEVICE_SETTINGS:
        raise InvalidInputError(f"device {setting!r} is not known; use one of {list(DEVICE_SETTINGS)}")
    if setting == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(
            "device is set to 'cuda' but no CUDA GPU is visible; set SEGSTUDIO_DEVICE=auto or cpu"
        )
    if setting in ("auto", "cuda") and torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return DeviceChoice(torch.device("cuda"), dtype, True, "CUDA GPU with automatic mixed precision")
    use_bf16, reason = cpu_bf16_ok()
    channels_last = torch.backends.mkldnn.is_available()
    return DeviceChoice(torch.device("cpu"), torch.bfloat16 if use_bf16 else None, channels_last, reason)


@functools.lru_cache(maxsize=1)
def cpu_bf16_ok() -> tuple[bool, str]:
    """Whether bf16 autocast pays on this CPU, with the reason (measured once per process)."""
    if not torch.backends.mkldnn.is_available():
        return False, "oneDNN is not available: fp32"
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return False, "the CPU has no native bf16 (AVX512-BF16/AMX): fp32 is faster"
    torch_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3, padding=1)
        )
        x = torch.randn(4, 3, 64, 64)
        with torch.no_grad():
            ref = net(x)
        # both in channels_last, the layout the CPU runs in either way (see pick_device)
        net_cl, x_cl = net.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
        fp32_s = _time_step(net_cl, x_cl, None)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            out = net_cl(x_cl).float()
        bf16_s = _time_step(net_cl, x_cl, torch.bfloat16)
    finally:
        torch.random.set_rng_state(torch_state)
    err = float((out - ref).abs().max() / ref.abs().max().clamp_min(1e-6))
    if not torch.isfinite(out).all() or err > 0.05:
        return False, f"bf16 results differ from fp32 by {err:.3f}: fp32"
    if bf16_s >= fp32_s:
        return False, f"bf16 step {bf16_s * 1e3:.1f} ms is not faster than fp32 {fp32_s * 1e3:.1f} ms: fp32"
    return True, f"native bf16: step {bf16_s * 1e3:.1f} ms vs fp32 {fp32_s * 1e3:.1f} ms"


def _time_step(net: torch.nn.Module, x: torch.Tensor, dtype: torch.dtype | None) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        ctx = torch.autocast("cpu", dtype=dtype) if dtype is not None else contextlib.nullcontext()
        with ctx:
            out = net(x)
        out.float().mean().backward()
        best = min(best, time.perf_counter() - start)
    net.zero_grad(set_to_none=True)
    return best
