"""Config dataclasses: presets, YAML round trip, overrides, errors."""

from __future__ import annotations

import pytest

from sqsnet.config import (
    Config,
    ConfigError,
    apply_overrides,
    available_presets,
    config_to_dict,
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


def test_bad_yaml_files(tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("model:\n  sqss: {}\n")
    with pytest.raises(ConfigError, match=r"unknown.yaml.model: unknown key 'sqss'"):
        load_config(unknown)
