"""The assembled SQSNet: shapes, gradients, inference without SQS, ablations, presets."""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers import tiny_model_config
from sqsnet import create_model
from sqsnet.config import ConfigError
from sqsnet.models import SQSNet, TrainBatch

LABELS = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])


def _one_step(model: SQSNet, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    out = model.forward_train(TrainBatch.from_targets(x, y))
    out.losses["total"].backward()
    opt.step()
    return {k: float(v.detach()) for k, v in out.losses.items()}


def test_forward_returns_logits_tensor_only() -> None:
    model = SQSNet(tiny_model_config()).eval()
    logits = model(torch.randn(3, 3, 32, 32))
    assert isinstance(logits, torch.Tensor)
    assert logits.shape == (3, 4) and torch.isfinite(logits).all()
    feats = model.forward_features(torch.randn(3, 3, 32, 32))
    assert feats.shape == (3, 32, *model.grid_size)
    assert model.forward_head(feats, pre_logits=True).shape == (3, 32)


def test_training_call_outputs() -> None:
    model = SQSNet(tiny_model_config())
    x = torch.randn(8, 3, 32, 32)
    out = model.forward_train(TrainBatch.from_targets(x, LABELS))
    assert out.logits.shape == (8, 4)
    assert out.quads is not None and len(out.quads) == 8 and out.quads.excluded == 0
    assert out.sqs_logits is not None and out.sqs_logits.shape == (8, 4)
    assert out.sqs is not None
    h, w = model.grid_size
    for m in (out.sqs.s_ap, out.sqs.s_an1, out.sqs.s_an2, out.sqs.r):
        assert m.shape == (8, h, w) and torch.isfinite(m).all()
    assert ((out.sqs.s_ap > 0) & (out.sqs.s_ap <= 1)).all()
    assert set(out.losses) == {"total", "ce", "sqs_ce", "sqs", "kd"}
    expected = (out.losses["ce"] + out.losses["sqs_ce"] + 0.5 * out.losses["sqs"]
                + 1.0 * out.losses["kd"])
    torch.testing.assert_close(out.losses["total"], expected)


@pytest.mark.parametrize("learnable", [False, True])
def test_every_trainable_parameter_gets_a_gradient(learnable: bool) -> None:
    cfg = tiny_model_config()
    cfg.sqs.learnable = learnable
    model = SQSNet(cfg)
    out = model.forward_train(TrainBatch.from_targets(torch.randn(8, 3, 32, 32), LABELS))
    out.losses["total"].backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    zero = [n for n, p in model.named_parameters()
            if p.requires_grad and p.grad is not None and not torch.isfinite(p.grad).all()]
    assert zero == []


def test_inference_never_runs_sqs() -> None:
    model = SQSNet(tiny_model_config()).eval()
    calls: list[str] = []
    assert model.sqs is not None and model.sqs_head is not None
    model.sqs.register_forward_hook(lambda *a: calls.append("sqs"))
    model.sqs_head.register_forward_hook(lambda *a: calls.append("sqs_head"))
    miner_calls: list[int] = []
    original = model.miner.__call__
    model.miner.__class__ = type("CountingMiner", (model.miner.__class__,), {
        "__call__": lambda self, labels: (miner_calls.append(1), original(labels))[1]})
    with torch.no_grad():
        model(torch.randn(4, 3, 32, 32))
    assert calls == [] and miner_calls == []
    model.forward_train(TrainBatch.from_targets(torch.randn(8, 3, 32, 32), LABELS))
    assert "sqs" in calls and "sqs_head" in calls and miner_calls == [1]


def test_soft_targets_and_dominant_labels() -> None:
    model = SQSNet(tiny_model_config())
    soft = torch.nn.functional.one_hot(LABELS, 4).float() * 0.7 + 0.075
    out = model.forward_train(TrainBatch(torch.randn(8, 3, 32, 32), soft, LABELS))
    assert torch.isfinite(out.losses["total"])
    assert len(out.quads) == 8


def test_batch_without_quads_still_trains() -> None:
    model = SQSNet(tiny_model_config())
    batch = TrainBatch.from_targets(torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]))
    out = model.forward_train(batch)
    assert len(out.quads) == 0 and out.quads.excluded == 4
    assert float(out.losses["sqs"]) == 0.0 and float(out.losses["kd"]) == 0.0
    out.losses["total"].backward()
    assert model.head.fc.weight.grad is not None


def test_four_pass_mode() -> None:
    model = SQSNet(tiny_model_config())
    imgs = [torch.randn(3, 3, 32, 32) for _ in range(4)]
    out = model.forward_train(TrainBatch.from_quads(*imgs, torch.tensor([0, 1, 2])))
    assert out.features.shape[0] == 12 and out.logits.shape == (3, 4)
    assert out.quads is not None and out.quads.positive.tolist() == [3, 4, 5]
    assert float(out.losses["sqs"].detach()) >= 0.0
    out.losses["total"].backward()


@pytest.mark.parametrize("ablation", [
    {"use_local": False}, {"use_global": False}, {"use_sqs": False}, {"fusion": "concat"},
])
def test_ablation_variants_build_and_train_one_step(ablation: dict) -> None:
    model = SQSNet(tiny_model_config(**ablation))
    losses = _one_step(model, torch.randn(8, 3, 32, 32), LABELS)
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    if ablation.get("use_sqs") is False:
        assert model.sqs is None and losses["sqs"] == 0.0 and losses["sqs_ce"] == 0.0
        assert losses["total"] == pytest.approx(losses["ce"])
    if ablation.get("use_local") is False:
        assert model.local_branch is None
    if ablation.get("use_global") is False:
        assert model.global_branch is None


def test_both_branches_off_is_an_error() -> None:
    with pytest.raises(ConfigError, match="cannot both be false"):
        SQSNet(tiny_model_config(use_local=False, use_global=False))


def test_global_grid_differs_from_local_grid() -> None:
    cfg = tiny_model_config()
    cfg.global_branch.kwargs = dict(cfg.global_branch.kwargs, depths=[1], num_heads=[1])
    model = SQSNet(cfg)
    assert model.global_branch.grid_size == (8, 8) and model.local_branch.grid_size == (4, 4)
    out = model.forward_train(TrainBatch.from_targets(torch.randn(8, 3, 32, 32), LABELS))
    assert out.features.shape[-2:] == (4, 4)


def test_cpu_preset_shapes_and_one_step() -> None:
    model = create_model("cpu")
    assert model.cfg.img_size == 64
    x = torch.randn(8, 3, 64, 64)
    losses = _one_step(model, x, torch.tensor([0, 0, 1, 1, 5, 5, 7, 7]))
    assert all(math.isfinite(v) for v in losses.values())
    with torch.no_grad():
        assert model.eval()(x).shape == (8, 8)


@pytest.mark.slow
def test_paper_preset_at_batch_two() -> None:
    model = create_model("paper", num_classes=7)
    n_params = sum(p.numel() for p in model.parameters())
    assert 85e6 < n_params < 100e6
    assert model.local_branch.out_channels == 2304 and model.global_branch.out_channels == 768
    x = torch.randn(2, 3, 224, 224)
    out = model.forward_train(TrainBatch.from_targets(x, torch.tensor([0, 0])))
    assert out.features.shape == (2, 1024, 7, 7)
    out.losses["total"].backward()
    assert torch.isfinite(out.losses["total"])
    with torch.no_grad():
        assert model.eval()(x[:1]).shape == (1, 7)


def test_create_model_overrides_and_errors() -> None:
    model = create_model("cpu", use_sqs=False, num_classes=5, sqs={"tau": 0.5})
    assert model.sqs is None and model.num_classes == 5 and model.cfg.sqs.tau == 0.5
    with pytest.raises(ConfigError, match="no config file or preset 'nope'"):
        create_model("nope")
    with pytest.raises(ConfigError, match="unknown key"):
        create_model("cpu", not_a_field=1)
