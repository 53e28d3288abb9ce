"""Config dataclasses: presets, YAML round trip, overrides, errors."""

from __future__ import annotations

import pytest

from sqsnet.config import (
    Config,
    ConfigError,
    apply_overrides,
    available_presets,
    config_differences,
    config_to_dict,
    format_differences,
    load_config,
    save_config,
)


def test_presets_exist() -> None:
    assert {"cpu", "paper"} <= set(available_presets())


@pytest.mark.parametrize("name", available_presets())
def test_yaml_round_trip(tmp_path, name: str) -> None:
    cfg = load_config(name)
    path = save_config(cfg, tmp_path / "cfg.yaml")
    again = load_config(path)
    assert config_to_dict(again) == config_to_dict(cfg)


def test_preset_by_path_and_by_name_agree() -> None:
    assert config_to_dict(load_config("configs/cpu.yaml")) == config_to_dict(load_config("cpu"))


def test_paper_preset_matches_the_paper() -> None:
    cfg = load_config("paper")
    assert cfg.model.local_branch.name == "efficientnet_b6"
    assert cfg.model.global_branch.name == "swin_small_patch4_window7_224"
    assert cfg.model.fused_dim == 1024 and cfg.model.img_size == 224
    s = cfg.model.sqs
    assert (s.tau, s.alpha, s.beta, s.gamma, s.margin, s.weight) == (1.0, 1.0, 0.5, 0.5, 0.5, 0.5)
    assert cfg.train.lr == 3e-4 and cfg.train.weight_decay == 1e-5 and cfg.train.epochs == 50
    assert cfg.data.batch_size == 64 and cfg.data.mixup_alpha == 0.4


def test_overrides() -> None:
    cfg = apply_overrides(Config(), ["train.lr=1e-3", "model.sqs.normalize=none",
                                     "model.use_sqs=false", "train.grad_clip=null",
                                     "data.train_transform={rotation: 5}"])
    assert cfg.train.lr == 1e-3 and cfg.model.sqs.normalize == "none"
    assert cfg.model.use_sqs is False and cfg.train.grad_clip is None
    assert cfg.data.train_transform == {"rotation": 5}


@pytest.mark.parametrize("bad,match", [
    ("train.lrr=1", "unknown key 'train.lrr'"),
    ("train", "expected key=value"),
    ("nope.x=1", "unknown key 'nope'"),
])
def test_bad_overrides(bad: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        apply_overrides(Config(), [bad])


@pytest.mark.parametrize("bad,match", [
    ("model.fusion=bogus", r"model.fusion='bogus': expected one of cross_attention, concat"),
    ("model.sqs.normalize=L2", r"model.sqs.normalize='L2': expected one of l2, none"),
    ("model.sqs.negatives=other", "expected one of same_class, distinct_classes"),
    ("model.sqs.quads=datset", r"model.sqs.quads='datset': expected one of batch, dataset"),
    ("data.sampler=balance", "expected one of class_aware, random, balanced"),
    ("data.label_mode=soft", "expected one of majority, probability"),
    ("train.amp_cpu=1", r"train.amp_cpu=1: expected one of true, false, auto"),
    ("model.img_size=0", r"model.img_size=0: expected a positive integer"),
    ("model.crop_pct=0", r"model.crop_pct=0: expected a number in \(0, 1\]"),
    ("model.crop_pct=1.2", r"model.crop_pct=1.2: expected a number in \(0, 1\]"),
    ("model.fusion_heads=7", "model.fused_dim=1024 is not divisible by model.fusion_heads=7"),
])
def test_values_outside_their_choices_fail_at_load(bad: str, match: str) -> None:
    """A typo in a word-valued setting must fail, not quietly train something else."""
    with pytest.raises(ConfigError, match=match) as info:
        apply_overrides(Config(), [bad])
    assert str(info.value).startswith("overrides: ")  # names where the value came from


def test_validation_accepts_every_choice_and_every_preset() -> None:
    for name in available_presets():
        load_config(name)
    cfg = apply_overrides(Config(), ["model.fusion=concat", "model.fusion_heads=7",
                                     "model.sqs.quads=dataset", "data.sampler=random",
                                     "train.amp_cpu=auto", "model.sqs.normalize=none"])
    assert cfg.model.fusion == "concat"  # concat has no heads to divide d3 among
    with pytest.raises(ConfigError, match="needs at least one branch"):
        apply_overrides(Config(), ["model.use_local=false", "model.use_global=false"])


def test_config_differences_name_each_changed_setting() -> None:
    a = load_config("cpu")
    b = load_config("cpu", ["train.lr=1e-3", "model.sqs.tau=0.5",
                            "model.global_branch.kwargs={img_size: 64}"])
    assert config_differences(a, a) == []
    diff = config_differences(a, b)
    assert "train.lr: 0.002 -> 0.001" in diff
    assert "model.sqs.tau: 1.0 -> 0.5" in diff
    assert any(d.startswith("model.global_branch.kwargs: {") for d in diff)  # compared whole
    assert config_differences(a, b, only=("model.",), ignore=("model.global_branch.",)) == [
        "model.sqs.tau: 1.0 -> 0.5"]
    # a saved config from before a key existed reads the key as absent
    old = config_to_dict(a)
    del old["train"]["ema_decay"]
    assert config_differences(old, a) == ["train.ema_decay: (absent) -> 0.0"]
    assert format_differences(["a: 1 -> 2"]) == "a: 1 -> 2"
    assert format_differences(list("abcde")) == "a; b; c (and 2 more)"


def test_bad_yaml_files(tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("model:\n  sqss: {}\n")
    with pytest.raises(ConfigError, match=r"unknown.yaml.model: unknown key 'sqss'"):
        load_config(unknown)
