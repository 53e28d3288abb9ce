"""What a valid config is: every setting's type, range or choices, and the retired settings.

:mod:`sqsnet.config` builds a :class:`~sqsnet.config.Config` and calls
:func:`validate_config` on it whenever a config is loaded (a preset, a YAML file, ``--set``
overrides, a run folder's ``config.yaml``, a checkpoint), so a bad value fails at once, in
one line naming the key, the value and what was expected, before any data is read:

* the type comes from the dataclass annotation (``int``, ``float``, ``bool``, ``str``,
  ``X | None``, ``list[str]``, ``dict``); a bool is never a number, a float never an int;
* word-valued settings must be one of their choices (``_CHOICES``);
* numbers must lie in their range (``_RANGES``: ``train.lr > 0``, ``data.batch_size >= 1``
  ...), ``None`` passing where the annotation allows it;
* a few settings must agree with each other (cross-attention heads divide ``d3``, at least
  one branch, one class name per class);
* ``data.train_transform`` may hold only the training transform's own keys, each checked
  (:data:`TRAIN_TRANSFORM_RULES`).

Retired settings (:data:`RETIRED_SETTINGS`) are knobs of experiments that did not pan out;
their record, with the commit where the code last lived, is :data:`EXPERIMENTS_PAGE`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Mapping

from sqsnet.errors import SQSNetError

if TYPE_CHECKING:  # annotations only: sqsnet.config imports this module
    from sqsnet.config import Config

__all__ = [
    "ConfigError",
    "RETIRED_SETTINGS",
    "EXPERIMENTS_PAGE",
    "check_retired",
    "without_retired",
    "numeric_text",
    "is_crop_fraction",
    "TRAIN_TRANSFORM_RULES",
    "check_train_transform",
    "validate_config",
]


class ConfigError(SQSNetError, ValueError):
    """A config file, preset name or override could not be understood."""


#: Settings of experiments that did not pan out, removed from the package, with the value
#: that meant "off". Saved configs (run folders, checkpoints) still carry them at that value,
#: which is dropped silently; any other value fails with a pointer to the record.
RETIRED_SETTINGS: dict[str, Any] = {
    "train.global_lr_scale": 1.0,
    "model.loss.global_aux_weight": 0.0,
    "model.global_from_local": None,
    "model.local_drop_rate": 0.0,
}
EXPERIMENTS_PAGE = "docs/experiments.md"


def check_retired(key: str, value: Any, where: str) -> None:
    """Accept a retired setting at its "off" value; refuse any other value.

    Raises:
        ConfigError: Naming the setting and :data:`EXPERIMENTS_PAGE`.
    """
    neutral = RETIRED_SETTINGS[key]
    if value is None and neutral is None:
        return
    if neutral is not None and _is_number(value) and value == neutral:
        return
    raise ConfigError(f"{where}: {key}={value!r} is retired (an experiment that did not pan "
                      f"out): see {EXPERIMENTS_PAGE}; remove it from the config")


def without_retired(values: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """``values`` without the retired settings it holds at their "off" value (a copy).

    Raises:
        ConfigError: For a retired setting at any other value.
    """
    out: dict[str, Any] | None = None
    for key in RETIRED_SETTINGS:
        *parents, last = key.split(".")
        node: Any = values
        for part in parents:
            node = node.get(part) if isinstance(node, Mapping) else None
        if not (isinstance(node, Mapping) and last in node):
            continue
        check_retired(key, node[last], where)
        if out is None:
            out = copy.deepcopy(dict(values))
        holder: Any = out
        for part in parents:
            holder = holder[part]
        del holder[last]
    return values if out is None else out


def numeric_text(value: Any, hint: Any) -> Any:
    """A number written as text for a setting annotated ``float`` (YAML 1.1 reads ``1e-3``
    as a string) as a float; any other value as it is."""
    if isinstance(value, str) and _allows(hint, float):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


# Settings that take one of a few words: a typo must fail, not silently pick a default branch.
_CHOICES: dict[str, tuple[Any, ...]] = {
    "model.fusion": ("cross_attention", "concat"),
    "model.sqs.normalize": ("l2", "none"),
    "model.sqs.negatives": ("same_class", "distinct_classes"),
    "model.sqs.quads": ("batch", "dataset"),
    "data.label_mode": ("majority", "probability"),
    "data.sampler": ("class_aware", "random", "balanced"),
    "data.num_classes_affectnet": (7, 8),
    "train.amp_cpu": (True, False, "auto"),
}


def _is_number(value: Any) -> bool:
    """A finite int or float, not a bool (YAML's ``true`` is an int to Python)."""
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isfinite(value))


def _is_int(value: Any) -> bool:
    """An int, not a bool."""
    return not isinstance(value, bool) and isinstance(value, int)


def is_crop_fraction(value: Any) -> bool:
    """Whether ``value`` is a valid ``model.crop_pct``: a number in ``(0, 1]`` (not a bool)."""
    return _is_number(value) and 0.0 < float(value) <= 1.0


def _is_choice(value: Any, choices: tuple[Any, ...]) -> bool:
    # bool is an int subclass: 1 must not pass for true, nor true for 1
    if isinstance(value, bool):
        return any(c is value for c in choices)
    return any(not isinstance(c, bool) and c == value for c in choices)


def _rule(test: Callable[[Any], bool], expected: str) -> tuple[Callable[[Any], bool], str]:
    return test, expected


_POSITIVE_INT = _rule(lambda v: _is_int(v) and v >= 1, "a positive integer")
_COUNT = _rule(lambda v: _is_int(v) and v >= 0, "an integer >= 0")
_POSITIVE = _rule(lambda v: _is_number(v) and v > 0, "a number > 0")
_NON_NEGATIVE = _rule(lambda v: _is_number(v) and v >= 0, "a number >= 0")
_BELOW_ONE = _rule(lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)")
_PROBABILITY = _rule(lambda v: _is_number(v) and 0 <= v <= 1, "a number in [0, 1]")
_NAME = _rule(lambda v: isinstance(v, str) and v.strip() != "", "a non-empty name")

# What a value must be beyond its type: ranges of numbers, non-empty names (None passes
# where the annotation allows it: "off").
_RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "name": _NAME,
    "model.local_branch.name": _NAME,
    "model.global_branch.name": _NAME,
    "model.local_branch.out_index": _COUNT,
    "model.global_branch.out_index": _COUNT,
    "model.img_size": _POSITIVE_INT,
    "model.crop_pct": _rule(is_crop_fraction, "a number in (0, 1]"),
    "model.in_chans": _POSITIVE_INT,
    "model.num_classes": _POSITIVE_INT,
    "model.fused_dim": _POSITIVE_INT,
    "model.fusion_heads": _POSITIVE_INT,
    "model.fusion_mlp_ratio": _NON_NEGATIVE,
    "model.drop_rate": _BELOW_ONE,
    "model.sqs.tau": _POSITIVE,
    "model.sqs.margin": _NON_NEGATIVE,
    "model.sqs.weight": _NON_NEGATIVE,
    "model.loss.label_smoothing": _BELOW_ONE,
    "model.loss.sqs_ce_weight": _NON_NEGATIVE,
    "model.loss.kd_weight": _NON_NEGATIVE,
    "model.loss.kd_temperature": _POSITIVE,
    "data.dataset": _NAME,
    "data.batch_size": _POSITIVE_INT,
    "data.num_workers": _COUNT,
    "data.classes_per_batch": _COUNT,
    "data.mixup_alpha": _NON_NEGATIVE,
    "data.cutmix_alpha": _NON_NEGATIVE,
    "data.mix_prob": _PROBABILITY,
    "data.random_erasing": _PROBABILITY,
    "data.train_fraction": _rule(lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "train.epochs": _POSITIVE_INT,
    "train.lr": _POSITIVE,
    "train.weight_decay": _NON_NEGATIVE,
    "train.t0_epochs": _POSITIVE,
    "train.t_mult": _POSITIVE_INT,
    "train.eta_min": _NON_NEGATIVE,
    "train.warmup_epochs": _NON_NEGATIVE,
    "train.grad_clip": _POSITIVE,
    "train.patience": _COUNT,
    "train.seed": _COUNT,
    "train.max_steps_per_epoch": _COUNT,
    "train.threads": _COUNT,
    "train.checkpoint_every": _COUNT,
    "train.ema_decay": _BELOW_ONE,
}

def _pair(low: float, high: float, integer: bool = False, open_low: bool = False
          ) -> tuple[Callable[[Any], bool], str]:
    """Rule for ``[lo, hi]``: two numbers (ints when ``integer``) with ``low <= lo <= hi <= high``
    (``low < lo`` when ``open_low``)."""
    def test(v: Any) -> bool:
        if not (isinstance(v, (list, tuple)) and len(v) == 2):
            return False
        if not all(_is_int(x) if integer else _is_number(x) for x in v):
            return False
        above = v[0] > low if open_low else v[0] >= low
        return above and v[0] <= v[1] <= high
    kind = "integers" if integer else "numbers"
    bounds = f"({low:g}, {high:g}]" if open_low else f"[{low:g}, {high:g}]"
    return test, f"two {kind} [lo, hi] with lo <= hi, within {bounds}"


def _channel_values(positive: bool) -> tuple[Callable[[Any], bool], str]:
    def test(v: Any) -> bool:
        return (isinstance(v, (list, tuple)) and len(v) in (1, 3) and all(map(_is_number, v))
                and (not positive or all(x > 0 for x in v)))
    return test, "a list of 1 or 3 numbers" + (" > 0" if positive else "")


#: Every key ``data.train_transform`` may hold (the keyword arguments of
#: :func:`sqsnet.data.transforms.build_train_transform`) and what its value must be. The
#: real-photo augmentations (``grayscale`` ... ``box_shift``, :mod:`sqsnet.data.photo_augment`)
#: are off unless their probability is above 0.
TRAIN_TRANSFORM_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "scale": _pair(0.0, 1.0, open_low=True),
    "ratio": _pair(0.0, 10.0, open_low=True),
    "hflip": _PROBABILITY,
    "rotation": _rule(lambda v: _is_number(v) and 0 <= v <= 180, "degrees in [0, 180]"),
    "color_jitter": _NON_NEGATIVE,
    "mean": _channel_values(positive=False),
    "std": _channel_values(positive=True),
    "grayscale": _PROBABILITY,
    "tint": _PROBABILITY,
    "tint_strength": _BELOW_ONE,
    "blur": _PROBABILITY,
    "blur_sigma": _pair(0.0, 10.0, open_low=True),
    "downscale": _PROBABILITY,
    "downscale_factor": _pair(0.0, 1.0, open_low=True),
    "jpeg": _PROBABILITY,
    "jpeg_quality": _pair(1, 100, integer=True),
    "box_jitter": _PROBABILITY,
    "box_scale": _pair(0.5, 1.5),
    "box_shift": _rule(lambda v: _is_number(v) and 0 <= v <= 0.1, "a number in [0, 0.1]"),
}


def check_train_transform(options: Mapping[str, Any], where: str = "config",
                          prefix: str = "data.train_transform.") -> None:
    """Check the keys and values of a training-transform mapping (``data.train_transform``).

    Args:
        options: Keyword arguments of the training transform.
        where: Name used in error messages (a file path, ``overrides``...).
        prefix: Dotted name the keys are reported under.

    Raises:
        ConfigError: ``"<where>: <prefix><key>=<value>: expected <what>"`` for the first bad
            value, or an unknown key with the known ones.
    """
    for key, value in options.items():
        if key not in TRAIN_TRANSFORM_RULES:
            raise ConfigError(f"{where}: {prefix.rstrip('.')}: unknown key '{key}' (expected "
                              f"one of {', '.join(sorted(TRAIN_TRANSFORM_RULES))})")
        test, expected = TRAIN_TRANSFORM_RULES[key]
        if not test(value):
            raise ConfigError(f"{where}: {prefix}{key}={value!r}: expected {expected}")


_TYPE_NAMES: dict[Any, str] = {bool: "true or false", int: "an integer", float: "a number",
                               str: "a string", type(None): "null"}


def _allows(hint: Any, kind: type) -> bool:
    """Whether the type annotation ``hint`` is ``kind`` or a union holding it."""
    return hint is kind or (_is_union(hint) and kind in typing.get_args(hint))


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _has_type(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the dataclass annotation ``hint`` (bools are not numbers)."""
    if hint is Any:
        return True
    if _is_union(hint):
        return any(_has_type(value, h) for h in typing.get_args(hint))
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_has_type(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if hint is float:
        return _is_number(value)
    if hint is int:
        return _is_int(value)
    if hint is type(None):
        return value is None
    return isinstance(value, hint)


def _type_text(hint: Any) -> str:
    if _is_union(hint):
        return " or ".join(_type_text(h) for h in typing.get_args(hint))
    origin = typing.get_origin(hint)
    if origin is list:
        return f"a list of {_type_text(typing.get_args(hint)[0]).split(' ', 1)[1]}s"
    if origin is dict:
        return "a mapping"
    return _TYPE_NAMES.get(hint, getattr(hint, "__name__", str(hint)))


def _check_values(section: Any, prefix: str, where: str) -> None:
    """Type, choice and range of every setting of a config dataclass, recursively.

    Raises:
        ConfigError: ``"<where>: <key>=<value>: expected <what>"`` for the first bad value.
    """
    hints = typing.get_type_hints(type(section))
    for f in dataclasses.fields(section):
        key, value, hint = f"{prefix}{f.name}", getattr(section, f.name), hints[f.name]
        if dataclasses.is_dataclass(value):
            _check_values(value, f"{key}.", where)
            continue
        if key in _CHOICES:
            choices = _CHOICES[key]
            ok = _is_choice(value, choices)
            expected = "one of " + ", ".join(
                str(c).lower() if isinstance(c, bool) else str(c) for c in choices)
        elif key in _RANGES:
            test, expected = _RANGES[key]
            ok = _has_type(value, hint) and (value is None or test(value))
            if _allows(hint, type(None)):
                expected = f"null or {expected}"
        else:
            ok, expected = _has_type(value, hint), _type_text(hint)
        if not ok:
            raise ConfigError(f"{where}: {key}={value!r}: expected {expected}")


def validate_config(cfg: Config, where: str = "config") -> Config:
    """Check every value: its type, its range or choices, and those that must agree.

    Args:
        cfg: The config to check.
        where: Name used in error messages (a file path, ``overrides``...).

    Returns:
        ``cfg`` unchanged.

    Raises:
        ConfigError: Naming the key, the value and what was expected.
    """
    _check_values(cfg, "", where)
    check_train_transform(cfg.data.train_transform, where)
    m = cfg.model
    if m.fusion == "cross_attention" and m.use_local and m.use_global \
            and m.fused_dim % m.fusion_heads:
        raise ConfigError(
            f"{where}: model.fused_dim={m.fused_dim} is not divisible by "
            f"model.fusion_heads={m.fusion_heads} (cross-attention splits d3 across the heads)")
    if not (m.use_local or m.use_global):
        raise ConfigError(f"{where}: model.use_local and model.use_global are both false: "
                          "the model needs at least one branch")
    if m.class_names and len(m.class_names) != m.num_classes:
        raise ConfigError(f"{where}: model.class_names has {len(m.class_names)} names but "
                          f"model.num_classes is {m.num_classes}: expected one name per class")
    return cfg
