"""The optimisation of a run: the weight average, mixed precision, the schedule."""

from __future__ import annotations

import math

import pytest
import torch

from sqsnet.checkpoint import load_checkpoint
from sqsnet.config import TrainConfig
from sqsnet.models import SQSNet
from sqsnet.training import run as run_mod
from sqsnet.training.optim import make_scheduler, param_groups
from tests.helpers import tiny_model_config
from tests.training.helpers import metric_rows, train_tiny, weights_equal


def test_weight_average_is_what_is_validated_and_saved(tmp_path, fixture_data, tiny_cfg_path,
                                                       monkeypatch):
    """With ``train.ema_decay`` the best checkpoint holds the average of the live weights
    after each optimizer step (hand-computed: decay 0 at the first update, then 0.5)."""
    snapshots: list[dict[str, torch.Tensor]] = []
    real_make = run_mod.make_ema

    class Recording:
        def __init__(self, model, t):
            self.inner = real_make(model, t)
            self.module = self.inner.module

        def update(self, model, step):
            snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
            self.inner.update(model, step=step)

    monkeypatch.setattr(run_mod, "make_ema", Recording)
    run = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1,
                     extra=("train.ema_decay=0.5", "train.ema_warmup=false"))
    assert len(snapshots) == 3  # one update per optimizer step
    w1, w2, w3 = snapshots
    best = load_checkpoint(run / "best.safetensors").model_state
    last = load_checkpoint(run / "last.safetensors").model_state
    moved = 0
    for key, value in best.items():
        if not value.dtype.is_floating_point:
            continue
        expected = 0.25 * w1[key] + 0.25 * w2[key] + 0.5 * w3[key]
        torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6, msg=key)
        torch.testing.assert_close(last[key], w3[key], rtol=0, atol=0, msg=key)
        moved += int(not torch.equal(value, w3[key]))
    assert moved > 0  # the saved average is not the live weights
    header, row = metric_rows(run)
    fields = dict(zip(header.split(","), row.split(",")))
    assert 0.0 <= float(fields["val_accuracy_live"]) <= 1.0
    assert 0.0 <= float(fields["val_accuracy"]) <= 1.0


def test_weight_average_leaves_the_training_trajectory_alone(tmp_path, fixture_data,
                                                            tiny_cfg_path):
    """The live weights and losses of a run with EMA are those of the same run without it,
    so one run's ``val_accuracy_live`` column is the run without averaging."""
    plain = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2)
    averaged = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=2,
                          extra=("train.ema_decay=0.9",))
    a = load_checkpoint(plain / "last.safetensors").model_state
    b = load_checkpoint(averaged / "last.safetensors").model_state
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    read = lambda run: [dict(zip(rows[0].split(","), r.split(",")))  # noqa: E731
                        for rows in [metric_rows(run)] for r in rows[1:]]
    for p, e in zip(read(plain), read(averaged)):
        assert p["train_loss"] == e["train_loss"]
        assert p["val_accuracy"] == e["val_accuracy_live"]


def test_bfloat16_training_on_cpu_is_deterministic_and_takes_effect(tmp_path, fixture_data,
                                                                   tiny_cfg_path):
    bf16 = ("train.amp_cpu=true", "train.channels_last=true")
    r1 = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b1", epochs=1, extra=bf16)
    r2 = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b2", epochs=1, extra=bf16)
    r32 = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "f32", epochs=1,
                     extra=("train.channels_last=true",))
    a = load_checkpoint(r1 / "last.safetensors").model_state
    b = load_checkpoint(r2 / "last.safetensors").model_state
    c = load_checkpoint(r32 / "last.safetensors").model_state
    assert weights_equal(a, b)
    assert all(a[k].dtype == c[k].dtype for k in a)  # weights stay float32
    assert all(torch.isfinite(a[k]).all() for k in a if a[k].is_floating_point())
    assert any(not torch.equal(a[k], c[k]) for k in a)  # bfloat16 steps differ from float32


def test_schedule_warms_up_then_restarts_its_cosine_every_t0_epochs():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([param], lr=1.0)
    sched = make_scheduler(opt, TrainConfig(lr=1.0, t0_epochs=2, warmup_epochs=1, eta_min=0.0),
                           steps_per_epoch=2)
    lrs = []
    for _ in range(7):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == 0.01 and 0.01 < lrs[1] < 1.0  # linear warm-up over 2 steps
    assert lrs[2] == 1.0  # cosine from the top, period 4 steps
    assert lrs[3] == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lrs[6] == 1.0  # restarted


def test_parameter_groups_decay_weights_only():
    model = SQSNet(tiny_model_config())
    groups = param_groups(model, TrainConfig(lr=1e-3, weight_decay=0.05))
    assert [g["lr"] for g in groups] == [1e-3, 1e-3]  # the layout older runs resume with
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0]
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) and set(ids) == {id(p) for p in model.parameters()}
    assert all(p.ndim > 1 for p in groups[0]["params"])
    assert all(p.ndim <= 1 for p in groups[1]["params"])
