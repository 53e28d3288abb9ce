"""Model cost: parameters, GFLOPs, latency and training throughput (the paper's Table 3).

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (one multiply-add = 2
FLOPs, as torch counts). Latency is the median of timed inference calls after warm-up;
training throughput times full steps (forward, backward, AdamW) of the training call on
random images with a class-aware label pattern, so SQS is exercised as in real training.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from sqsnet.models import SQSNet

__all__ = ["count_parameters", "count_gflops", "measure_latency", "measure_train_throughput",
           "profile_model", "quad_friendly_labels"]


def count_parameters(model: torch.nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def count_gflops(model: torch.nn.Module, img_size: int, in_chans: int = 3) -> float:
    """Inference GFLOPs for one image (``model(x)``, i.e. without SQS)."""
    model.eval()
    x = torch.zeros(1, in_chans, img_size, img_size)
    counter = FlopCounterMode(display=False)
    with counter:
        model(x)
    return counter.get_total_flops() / 1e9


@torch.no_grad()
def measure_latency(
    model: torch.nn.Module, img_size: int, batch_size: int = 1, repeats: int = 10,
    warmup: int = 2, device: str = "cpu",
) -> float:
    """Median seconds per ``model(x)`` call for a batch."""
    model.eval().to(device)
    x = torch.randn(batch_size, 3, img_size, img_size, device=device)
    for _ in range(warmup):
        model(x)
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def quad_friendly_labels(batch_size: int, num_classes: int) -> torch.Tensor:
    """Labels as the class-aware sampler produces them: classes in pairs or more."""
    per_class = max(2, batch_size // max(1, min(num_classes, batch_size // 2)))
    return (torch.arange(batch_size) // per_class) % num_classes


def measure_train_throughput(
    model: SQSNet, img_size: int, batch_size: int = 32, steps: int = 3, warmup: int = 1,
    device: str = "cpu", autocast_dtype: torch.dtype | None = None, channels_last: bool = False,
) -> float:
    """Training images per second (forward + backward + AdamW) of the training call.

    ``autocast_dtype`` and ``channels_last`` time the steps as the trainer runs them
    (:func:`sqsnet.utils.runtime.autocast_dtype` gives the former for a config).
    """
    model.train().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch_size, 3, img_size, img_size, device=device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    device_type = torch.device(device).type
    y = quad_friendly_labels(batch_size, model.num_classes).to(device)
    elapsed = 0.0
    for i in range(warmup + steps):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        with (torch.autocast(device_type, dtype=autocast_dtype) if autocast_dtype
              else contextlib.nullcontext()):
            out = model.forward_train(x, y)
        opt.zero_grad(set_to_none=True)
        out.losses["total"].backward()
        opt.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i >= warmup:
            elapsed += time.perf_counter() - start
    return batch_size * steps / elapsed


def profile_model(
    model: SQSNet, train_batch: int = 32, latency_batches: tuple[int, ...] = (1, 32),
    train_steps: int = 3, device: str = "cpu", autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
) -> dict[str, Any]:
    """All of the above for one model, as a JSON-friendly dict.

    Latency is measured in float32; ``autocast_dtype`` and ``channels_last`` apply to the
    training throughput (see :func:`measure_train_throughput`).
    """
    size = model.cfg.img_size
    result: dict[str, Any] = {
        "params_m": count_parameters(model) / 1e6,
        "gflops": count_gflops(model, size, model.cfg.in_chans),
        "img_size": size,
        "grid": list(model.grid_size),
        "device": device,
        "threads": torch.get_num_threads(),
    }
    for b in latency_batches:
        result[f"latency_ms_b{b}"] = 1000 * measure_latency(model, size, b, device=device)
    if train_batch > 0:
        result["train_images_per_s"] = measure_train_throughput(
            model, size, train_batch, steps=train_steps, device=device,
            autocast_dtype=autocast_dtype, channels_last=channels_last,
        )
        result["train_batch"] = train_batch
        result["train_precision"] = str(autocast_dtype or torch.float32).removeprefix("torch.")
        result["train_channels_last"] = channels_last
    return result
