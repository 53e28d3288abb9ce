"""Model cost: parameters, GFLOPs, latency and training throughput (the paper's Table 3).

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (one multiply-add = 2
FLOPs, as torch counts). Latency is the median of timed inference calls after warm-up;
training throughput times full steps (forward, backward, AdamW) of the training call on
random images with a class-aware label pattern, so SQS is exercised as in real training.
:func:`time_sqs_steps` times what SQS costs a training step: base-only, in-batch quads and
the paper's four passes, interleaved (``benchmarks/train_step.py``, ``benchmarks/gpu_smoke.py``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import time
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from sqsnet.config import ModelConfig
from sqsnet.models import TOTAL_LOSS, SQSNet, TrainBatch

__all__ = ["count_parameters", "count_gflops", "measure_latency", "measure_train_throughput",
           "profile_model", "quad_friendly_labels", "STEP_MODES", "time_sqs_steps"]


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


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed_step(
    model: SQSNet, opt: torch.optim.Optimizer, batch: TrainBatch, device: torch.device,
    autocast_dtype: torch.dtype | None, scaler: torch.amp.GradScaler,
) -> float:
    """Seconds of one optimisation step (forward, backward, AdamW) of the training call."""
    _synchronize(device)
    start = time.perf_counter()
    with (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype
          else contextlib.nullcontext()):
        out = model.forward_train(batch)
    opt.zero_grad(set_to_none=True)
    scaler.scale(out.losses[TOTAL_LOSS]).backward()
    scaler.step(opt)
    scaler.update()
    _synchronize(device)
    return time.perf_counter() - start


def _synthetic_batch(
    batch_size: int, img_size: int, num_classes: int, device: torch.device,
    channels_last: bool, four_pass: bool = False,
) -> TrainBatch:
    """Random images with :func:`quad_friendly_labels` (four-pass: the anchors rolled into
    positives and negatives; the timing, not the labels, matters)."""
    x = torch.randn(batch_size, 3, img_size, img_size, device=device)
    y = quad_friendly_labels(batch_size, num_classes).to(device)
    batch = (TrainBatch.from_quads(x, x.roll(1, 0), x.roll(2, 0), x.roll(3, 0), y) if four_pass
             else TrainBatch.from_targets(x, y))
    if channels_last:
        batch.images = batch.images.contiguous(memory_format=torch.channels_last)
    return batch


def measure_train_throughput(
    model: SQSNet, img_size: int, batch_size: int = 32, steps: int = 3, warmup: int = 1,
    device: str = "cpu", autocast_dtype: torch.dtype | None = None, channels_last: bool = False,
) -> float:
    """Training images per second (forward + backward + AdamW) of the training call.

    ``autocast_dtype`` and ``channels_last`` time the steps as the trainer runs them
    (:func:`sqsnet.utils.runtime.autocast_dtype` gives the former for a config).
    """
    dev = torch.device(device)
    model.train().to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=autocast_dtype == torch.float16)
    batch = _synthetic_batch(batch_size, img_size, model.num_classes, dev, channels_last)
    elapsed = 0.0
    for i in range(warmup + steps):
        seconds = _timed_step(model, opt, batch, dev, autocast_dtype, scaler)
        if i >= warmup:
            elapsed += seconds
    return batch_size * steps / elapsed


STEP_MODES: dict[str, str] = {
    "a_base": "(a) base only",
    "b_sqs_batch": "(b) SQS in-batch quads",
    "c_sqs_four_pass": "(c) SQS four-pass",
}
"""The three training steps :func:`time_sqs_steps` compares, with their table labels."""


def time_sqs_steps(
    model_cfg: ModelConfig, batch_size: int = 64, rounds: int = 5, warmup: int = 1,
    device: str = "cpu", autocast_dtype: torch.dtype | None = None,
    channels_last: bool = False,
) -> dict[str, list[float]]:
    """Seconds per optimisation step of base-only, in-batch SQS and four-pass SQS training.

    The three models start from the same weights and train on the same ``batch_size``
    anchors; their steps interleave round by round, so machine noise hits all three alike.

    Args:
        model_cfg: The architecture (``use_sqs`` is set per mode).
        batch_size: Anchors per step (four-pass forwards ``4 x`` as many images).
        rounds: Timed rounds.
        warmup: Untimed rounds first.
        device: ``cpu`` or ``cuda[:N]``.
        autocast_dtype: Autocast precision (``None``: float32); float16 scales the loss.
        channels_last: Channels-last model and images.

    Returns:
        ``{mode: [seconds per round]}`` for every key of :data:`STEP_MODES`.
    """
    dev = torch.device(device)
    full = SQSNet(dataclasses.replace(model_cfg, use_sqs=True))
    base = SQSNet(dataclasses.replace(model_cfg, use_sqs=False))
    base.load_state_dict(full.state_dict(), strict=False)
    four = SQSNet(dataclasses.replace(model_cfg, use_sqs=True))
    four.load_state_dict(full.state_dict())
    size, k = model_cfg.img_size, model_cfg.num_classes
    in_batch = _synthetic_batch(batch_size, size, k, dev, channels_last)
    runs = {"a_base": (base, in_batch), "b_sqs_batch": (full, in_batch),
            "c_sqs_four_pass": (four, _synthetic_batch(batch_size, size, k, dev, channels_last,
                                                       four_pass=True))}
    steps = {}
    for key, (model, batch) in runs.items():
        model.train().to(dev)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        steps[key] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4), batch,
                      torch.amp.GradScaler("cuda", enabled=autocast_dtype == torch.float16))
    times: dict[str, list[float]] = {key: [] for key in STEP_MODES}
    for r in range(warmup + rounds):
        for key, (model, opt, batch, scaler) in steps.items():
            seconds = _timed_step(model, opt, batch, dev, autocast_dtype, scaler)
            if r >= warmup:
                times[key].append(seconds)
    return times


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
