"""Config dataclasses: presets, YAML round trip, overrides, value checks, retired settings."""

from __future__ import annotations

import copy

import pytest
import yaml

from sqsnet.config import (
    RETIRED_SETTINGS,
    Config,
    ConfigError,
    apply_overrides,
    available_presets,
    config_differences,
    config_from_dict,
    config_overrides,
    config_to_dict,
    flatten_config,
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


RETIRED = [("train.global_lr_scale", "0.1"), ("model.loss.global_aux_weight", "0.3"),
           ("model.global_from_local", "1"), ("model.local_drop_rate", "0.3")]


@pytest.mark.parametrize("key,value", RETIRED)
def test_a_retired_setting_that_is_on_fails_naming_it_and_the_record(tmp_path, key, value):
    pattern = (rf"{key}={value} is retired \(an experiment that did not pan out\): see "
               r"docs/experiments.md; remove it from the config")
    with pytest.raises(ConfigError, match=rf"^overrides: {pattern}$"):
        load_config("cpu", [f"{key}={value}"])
    section, *rest = key.split(".")
    nested = yaml_value = float(value) if "." in value else int(value)
    for part in reversed(rest):
        nested = {part: nested}
    saved = tmp_path / "saved.yaml"
    saved.write_text(yaml.safe_dump({section: nested}))
    with pytest.raises(ConfigError, match=rf"^{saved}: {pattern.replace(value, str(yaml_value))}"):
        load_config(saved)
    data = config_to_dict(Config())
    data.setdefault(section, {})
    with pytest.raises(ConfigError, match="is retired"):
        config_from_dict({**data, section: {**data[section], **nested}}, "x.safetensors")


def test_retired_settings_at_their_off_value_are_dropped(tmp_path) -> None:
    """Run folders and checkpoints written while the knobs existed store them, switched off."""
    data = config_to_dict(load_config("cpu"))
    data["train"]["global_lr_scale"] = 1
    data["model"]["loss"]["global_aux_weight"] = 0.0
    data["model"]["global_from_local"] = None
    data["model"]["local_drop_rate"] = 0
    before = copy.deepcopy(data)
    cfg = config_from_dict(data)
    assert data == before  # the caller's mapping is left alone
    assert config_to_dict(cfg) == config_to_dict(load_config("cpu"))
    saved = tmp_path / "config.yaml"
    saved.write_text(yaml.safe_dump(data))
    assert config_to_dict(load_config(saved)) == config_to_dict(cfg)
    assert config_to_dict(apply_overrides(cfg, ["model.local_drop_rate=0",
                                                "train.global_lr_scale=1.0",
                                                "model.global_from_local=null"])) == \
        config_to_dict(cfg)
    assert set(RETIRED_SETTINGS) == {key for key, _ in RETIRED}
    for key in RETIRED_SETTINGS:  # gone from the dataclasses
        *parents, last = key.split(".")
        node = cfg
        for part in parents:
            node = getattr(node, part)
        assert not hasattr(node, last)


@pytest.mark.parametrize("bad,message", [
    ("train.lr=fast", "train.lr='fast': expected a number > 0"),
    ("model.sqs.tau=0", "model.sqs.tau=0: expected a number > 0"),
    ("train.epochs=-1", "train.epochs=-1: expected a positive integer"),
    ("data.batch_size=2.5", "data.batch_size=2.5: expected a positive integer"),
    ("data.batch_size=true", "data.batch_size=True: expected a positive integer"),
    ("train.grad_clip=0", "train.grad_clip=0: expected null or a number > 0"),
    ("train.ema_decay=1", r"train.ema_decay=1: expected a number in \[0, 1\)"),
    ("data.mix_prob=1.5", r"data.mix_prob=1.5: expected a number in \[0, 1\]"),
    ("data.train_fraction=0", r"data.train_fraction=0: expected a number in \(0, 1\]"),
    ("data.num_workers=-1", "data.num_workers=-1: expected an integer >= 0"),
    ("data.num_classes_affectnet=6", "data.num_classes_affectnet=6: expected one of 7, 8"),
    ("model.use_sqs=1", "model.use_sqs=1: expected true or false"),
    ("model.class_names=[1, 2]", r"model.class_names=\[1, 2\]: expected a list of strings"),
    ("model.class_names=[a, b]", "model.class_names has 2 names but model.num_classes is 8"),
    ("model.local_branch.out_index=-2",
     "model.local_branch.out_index=-2: expected null or an integer >= 0"),
    ("data.train_transform=5", "data.train_transform=5: expected a mapping"),
    ("train.lr=nan", "train.lr=nan: expected a number > 0"),
])
def test_every_value_is_checked_at_load(bad: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^overrides: {message}") as info:
        load_config("cpu", [bad])
    assert "\n" not in str(info.value)


def test_a_number_yaml_reads_as_text_is_a_number(tmp_path) -> None:
    """YAML 1.1 reads ``1e-3`` (no dot) as a string; a float setting takes it as 0.001."""
    path = tmp_path / "c.yaml"
    path.write_text("train: {lr: 1e-3, weight_decay: 5e-2}\n")
    cfg = load_config(path)
    assert cfg.train.lr == 0.001 and cfg.train.weight_decay == 0.05
    path.write_text("train: {epochs: 1e1}\n")  # an int setting does not round a float
    with pytest.raises(ConfigError, match=r"train.epochs='1e1': expected a positive integer"):
        load_config(path)


def test_config_overrides_turn_one_config_into_the_other() -> None:
    a = load_config("ferplus_cpu")
    b = apply_overrides(a, ["data.train_transform={rotation: 5, color_jitter: 0.1}",
                            "model.use_sqs=false", "train.lr=1e-3", "train.grad_clip=null",
                            "train.grad_clip=1.5", "train.run_name=x"])
    lines = config_overrides(a, b, ignore=("train.run_name",))
    assert lines == ["data.train_transform={rotation: 5, color_jitter: 0.1}",
                     "model.use_sqs=false", "train.grad_clip=1.5", "train.lr=0.001"]
    assert config_to_dict(apply_overrides(a, [*lines, "train.run_name=x"])) == config_to_dict(b)
    old = config_to_dict(a)
    del old["train"]["ema_decay"]  # a key the older config predates is left out
    assert config_overrides(old, apply_overrides(a, ["train.ema_decay=0.9"])) == []
    assert flatten_config({"data": {"train_transform": {"rotation": 5}}, "n": 1}) == {
        "data.train_transform": {"rotation": 5}, "n": 1}
