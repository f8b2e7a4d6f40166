"""The CPU every benchmark prints with its figures: the lscpu model, whether it has native bf16
(AVX512-BF16, AMX) and whether oneDNN is limited (``ONEDNN_MAX_CPU_ISA=AVX2`` emulates an AVX2-only CPU)."""

from __future__ import annotations

import os
import platform
import subprocess


def cpu_name() -> str:
    """``"AMD EPYC (avx512_bf16; oneDNN limited to AVX2)"`` and the like."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor()
    lines = out.splitlines()
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name")), "")
    flags = next((line for line in lines if line.startswith("Flags")), "").split()
    native = [f for f in ("avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA")
    limit = f"; oneDNN limited to {isa}" if isa else ""
    return f"{model} ({', '.join(native) if native else 'no avx512_bf16/amx'}{limit})"
