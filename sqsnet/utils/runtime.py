"""The runtime a run depends on: seeding, autocast precision, CPU probes, hardware info.

Kept apart from training so that profiling, benchmarks and the CLI can ask "which precision
on this CPU?" or "what machine is this?" without importing the training loop.
"""

from __future__ import annotations

import logging
import os
import platform
import random
from typing import Any

import numpy as np
import torch

from sqsnet.config import ConfigError, TrainConfig

__all__ = ["seed_everything", "cpu_has_native_bfloat16", "autocast_dtype", "cpu_name",
           "hardware_info"]

_LOG = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def cpu_has_native_bfloat16() -> bool:
    """Whether oneDNN runs bfloat16 natively here (AVX512-BF16 or AMX); elsewhere it
    emulates it, many times slower than float32 (16x for ``ferplus_cpu`` on an AVX2 CPU)."""
    return bool(torch.backends.mkldnn.is_available()
                and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def autocast_dtype(t: TrainConfig, device_type: str) -> torch.dtype | None:
    """The autocast precision of training steps on ``device_type`` (None = float32).

    ``train.amp`` gives float16 on CUDA. ``train.amp_cpu`` gives bfloat16 on CPU: ``true``
    always (with a warning where the CPU has no native bfloat16), ``"auto"`` only where the
    CPU runs it natively (:func:`cpu_has_native_bfloat16`), float32 elsewhere.

    Raises:
        ConfigError: For an ``amp_cpu`` other than true, false or ``"auto"``.
    """
    if t.amp_cpu not in (True, False, "auto"):
        raise ConfigError(f"train.amp_cpu={t.amp_cpu!r}: expected true, false or auto")
    if device_type == "cuda" and t.amp:
        return torch.float16
    if device_type == "cpu" and t.amp_cpu:
        if cpu_has_native_bfloat16():
            return torch.bfloat16
        if t.amp_cpu == "auto":
            return None
        _LOG.warning("train.amp_cpu: this CPU has no native bfloat16 support; bfloat16 "
                     "autocast will be many times slower than float32 here (set "
                     "train.amp_cpu=auto or false).")
        return torch.bfloat16
    return None


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's word for it elsewhere."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware_info(device: torch.device | str = "cpu") -> dict[str, Any]:
    """What a measured time depends on: CPU, cores, torch threads, native bfloat16, GPU.

    Runs record it in ``summary.json`` so that a wall time always names its machine.
    """
    dev = torch.device(device)
    info: dict[str, Any] = {
        "machine": platform.machine(),
        "cpu": cpu_name(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "native_bfloat16": cpu_has_native_bfloat16(),
        "device": str(dev),
    }
    if dev.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(dev)
    return info
