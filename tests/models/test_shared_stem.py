"""model.global_from_local: the global branch reads an early map of the local branch."""

from __future__ import annotations

import pytest
import torch

from sqsnet.config import Config, ConfigError, apply_overrides
from sqsnet.diagnostics import BranchRecorder, mean_ablated
from sqsnet.models import SQSNet
from sqsnet.models.backbones import Backbone
from tests.helpers import tiny_model_config

LABELS = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])


def _tapped_config(**swin: object):
    """Tiny hybrid whose Swin reads resnet10t's stride-4 stage (64 x 8 x 8 at 32 px)."""
    cfg = tiny_model_config(global_from_local=1)
    cfg.global_branch.kwargs = dict(img_size=8, patch_size=1, embed_dim=16, depths=[1, 1],
                                    num_heads=[1, 2], window_size=4)
    cfg.global_branch.kwargs.update(swin)
    return cfg


@pytest.fixture
def model() -> SQSNet:
    torch.manual_seed(0)
    return SQSNet(_tapped_config())


def test_backbone_returns_the_tapped_stage_on_request() -> None:
    branch = Backbone("resnet10t", img_size=32, out_index=2, tap_index=1).eval()
    assert branch.tap_channels == 64 and branch.tap_grid == (8, 8)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out, stage = branch(x, with_tap=True)
        stages = branch.model(x)
        assert torch.equal(branch(x), out) and torch.equal(out, stages[-1])
        assert torch.equal(stage, stages[0]) and stage.shape == (2, 64, 8, 8)
    plain = Backbone("resnet10t", img_size=32, out_index=2)
    assert plain.tap_channels is None and plain(x, with_tap=True)[1] is None
    with pytest.raises(ConfigError, match="tap stage 2 needs a features_only out_index above"):
        Backbone("resnet10t", img_size=32, out_index=2, tap_index=2)
    with pytest.raises(ConfigError, match="out_index is None"):
        Backbone("resnet10t", img_size=32, out_index=None, tap_index=0)


def test_global_branch_reads_the_local_stage(model: SQSNet) -> None:
    assert model.global_branch.grid_size == (4, 4) == model.grid_size
    seen: list[torch.Tensor] = []
    model.global_branch.register_forward_hook(lambda _m, inputs, _o: seen.append(inputs[0]))
    model.eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        logits = model(x)
        stage = model.local_branch.model(x)[0]
    assert logits.shape == (3, 4) and torch.isfinite(logits).all()
    assert len(seen) == 1 and torch.equal(seen[0], stage)  # the map, not the image


def test_the_shared_stages_learn_from_both_branches(model: SQSNet) -> None:
    out = model.forward_train(torch.randn(8, 3, 32, 32), LABELS)
    out.losses["total"].backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    # the global branch alone sends gradient into the stages it shares, and only those
    model.zero_grad(set_to_none=True)
    local, global_ = model._branch_maps(torch.randn(4, 3, 32, 32))
    global_.square().mean().backward()
    grads = {n: p.grad for n, p in model.local_branch.named_parameters()}
    shared = [n for n in grads if n.startswith(("model.conv1", "model.bn1", "model.layer1"))]
    later = [n for n in grads if n.startswith("model.layer2")]
    assert shared and later
    assert all(grads[n] is not None for n in shared)
    # (timm zero-initialises each residual block's last BatchNorm, so the convs inside
    # layer1 get exactly 0 at the start; the stem and those BatchNorms do not)
    assert all(grads[n].abs().sum() > 0 for n in shared if n.startswith("model.conv1"))
    assert all(grads[n] is None for n in later)


def test_state_dict_round_trip_gives_the_same_logits(model: SQSNet) -> None:
    torch.manual_seed(1)
    twin = SQSNet(_tapped_config())
    twin.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), twin.eval()(x))


def test_diagnostics_see_each_branch_own_map(model: SQSNet) -> None:
    model.eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        local, global_ = model._branch_maps(x)
        with BranchRecorder(model) as rec:
            model(x)
        stats = rec.stats()
        assert stats["local_branch"].mean.shape == local.shape[1:]
        torch.testing.assert_close(stats["global_branch"].mean, global_.mean(0))
        # knocking the local branch out keeps what it feeds the global branch
        with mean_ablated(model.local_branch, local.mean(0)):
            local_k, global_k = model._branch_maps(x)
        assert torch.allclose(local_k[0], local_k[3]) and torch.equal(global_k, global_)


def test_a_global_branch_of_the_wrong_size_is_one_clear_error() -> None:
    with pytest.raises(ConfigError) as info:
        SQSNet(_tapped_config(img_size=32))
    msg = str(info.value)
    assert "model.global_from_local=1" in msg and "(64 x 8 x 8)" in msg
    assert "img_size: 8" in msg


@pytest.mark.parametrize("overrides,match", [
    (["model.global_from_local=true"], "expected null .* or a stage index >= 0"),
    (["model.global_from_local=-1"], "expected null .* or a stage index >= 0"),
    (["model.global_from_local=1"], r"below model.local_branch.out_index \(now None"),
    (["model.local_branch.out_index=2", "model.global_from_local=2"],
     r"below model.local_branch.out_index \(now 2"),
    (["model.local_branch.out_index=2", "model.global_from_local=1", "model.use_global=false"],
     "only when both branches are on"),
])
def test_bad_settings_fail_at_load(overrides: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        apply_overrides(Config(), overrides)


def test_gradcam_explains_each_branch(model: SQSNet) -> None:
    from sqsnet.viz.gradcam import available_branches, gradcam

    model.eval()
    x = torch.randn(2, 3, 32, 32)
    assert available_branches(model) == ["local", "global", "fused"]
    for branch in available_branches(model):
        maps = gradcam(model, x, branch=branch, target_class=1)
        assert maps.shape == (2, 32, 32) and maps.max() > 0, branch


def test_ablation_without_the_swin_drops_the_tap() -> None:
    from sqsnet.ablation import VARIANTS

    base = Config(model=_tapped_config())
    cnn_only = SQSNet(apply_overrides(base, VARIANTS["no_swin"]).model)
    assert cnn_only.global_branch is None and cnn_only.local_branch.tap_index is None
    assert cnn_only(torch.randn(2, 3, 32, 32)).shape == (2, 4)
    # w/o CNN has no stem to read: one clear error, not a Swin built for the wrong input
    with pytest.raises(ConfigError, match="only when both branches are on"):
        apply_overrides(base, VARIANTS["no_cnn"])
