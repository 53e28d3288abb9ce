"""model.local_drop_rate: training calls fuse some images without their local (CNN) map."""

from __future__ import annotations

import pytest
import torch

from sqsnet.config import Config, ConfigError, apply_overrides
from sqsnet.models import SQSNet
from tests.helpers import tiny_model_config

LABELS = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])


def _model(rate: float, seed: int = 0) -> SQSNet:
    torch.manual_seed(seed)
    return SQSNet(tiny_model_config(local_drop_rate=rate))


def _fusion_inputs(model: SQSNet) -> list[torch.Tensor]:
    """Record the local map each fusion call receives."""
    seen: list[torch.Tensor] = []
    model.fusion.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0].detach()))
    return seen


def test_inference_ignores_the_rate() -> None:
    plain, dropping = _model(0.0), _model(0.5)
    dropping.load_state_dict(plain.state_dict())
    x = torch.randn(8, 3, 32, 32)
    for m in (plain, dropping):
        m.eval()
    with torch.no_grad():
        torch.testing.assert_close(dropping(x), plain(x), rtol=0, atol=0)
        # a training call in eval mode (validation loss) fuses both maps too
        out = dropping.forward_train(x, LABELS)
        torch.testing.assert_close(out.logits, plain(x), rtol=0, atol=0)


def test_training_zeroes_whole_local_maps_of_some_images() -> None:
    model = _model(0.5).train()
    seen = _fusion_inputs(model)
    x = torch.randn(64, 3, 32, 32)
    torch.manual_seed(1)
    model.forward_train(x, torch.arange(64) % 4)
    with torch.no_grad():
        local = model.local_branch(x)  # train mode, same batch: the same BatchNorm statistics
    dropped = seen[0].flatten(1).abs().sum(1) == 0
    assert 16 <= int(dropped.sum()) <= 48  # about half of 64 (binomial, p = 0.5)
    # the kept images' maps are the local branch's own, untouched and unscaled
    torch.testing.assert_close(seen[0][~dropped], local[~dropped])


def test_a_dropped_image_trains_the_global_branch_only() -> None:
    model = SQSNet(tiny_model_config(local_drop_rate=0.999, use_sqs=False)).train()
    seen = _fusion_inputs(model)
    torch.manual_seed(0)
    out = model.forward_train(torch.randn(8, 3, 32, 32), LABELS)
    assert (seen[0] == 0).all()  # every local map dropped at this rate and seed
    out.losses["total"].backward()
    local_grads = [p.grad for p in model.local_branch.parameters() if p.grad is not None]
    assert all((g == 0).all() for g in local_grads)
    global_grads = [p.grad for p in model.global_branch.parameters() if p.grad is not None]
    assert global_grads and any((g != 0).any() for g in global_grads)
    assert torch.isfinite(out.logits).all()


def test_four_pass_training_drops_too() -> None:
    model = _model(0.999).train()
    seen = _fusion_inputs(model)
    imgs = [torch.randn(4, 3, 32, 32) for _ in range(4)]
    torch.manual_seed(0)
    out = model.forward_train_quads(*imgs, torch.tensor([0, 1, 2, 3]))
    assert seen[0].shape[0] == 16 and (seen[0] == 0).all()
    assert torch.isfinite(out.losses["total"])


@pytest.mark.parametrize("overrides,match", [
    (["model.local_drop_rate=1"], r"expected a number in \[0, 1\)"),
    (["model.local_drop_rate=-0.1"], r"expected a number in \[0, 1\)"),
    (["model.local_drop_rate=true"], r"expected a number in \[0, 1\)"),
    (["model.local_drop_rate=0.3", "model.use_global=false"], "needs both branches"),
])
def test_bad_settings_fail_at_load(overrides: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        apply_overrides(Config(), overrides)


def test_single_branch_ablations_clear_the_rate() -> None:
    from sqsnet.ablation import VARIANTS

    base = apply_overrides(Config(), ["model.local_drop_rate=0.3"])
    for variant in ("no_cnn", "no_swin"):
        assert apply_overrides(base, VARIANTS[variant]).model.local_drop_rate == 0.0
