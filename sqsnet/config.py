"""Configuration: dataclasses, YAML presets and ``key=value`` overrides.

A run is described by one :class:`Config` (model, loss, data, train). Presets live as YAML
files in ``sqsnet/configs/`` (also reachable as ``configs/`` at the repository root) and are
looked up by name (``"cpu"``) or path (``"configs/cpu.yaml"``). Command-line overrides use
dotted keys: ``--set train.lr=1e-3 model.sqs.tau=0.5``. The resolved config is saved with
every run and inside every checkpoint (:func:`config_to_dict`). Every value is checked
whenever a config is loaded (:mod:`sqsnet.config_checks`: types, ranges, choices, retired
settings), so a bad one fails in one line before any data is read.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from sqsnet.config_checks import (
    EXPERIMENTS_PAGE,
    RETIRED_SETTINGS,
    ConfigError,
    check_retired,
    is_crop_fraction,
    numeric_text,
    validate_config,
    without_retired,
)

__all__ = [
    "BranchConfig",
    "SQSConfig",
    "LossConfig",
    "ModelConfig",
    "DataConfig",
    "TrainConfig",
    "Config",
    "ConfigError",
    "PRESET_DIR",
    "available_presets",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "save_config",
    "apply_overrides",
    "validate_config",
    "flatten_config",
    "config_differences",
    "config_overrides",
    "RETIRED_SETTINGS",
    "EXPERIMENTS_PAGE",
    "format_differences",
    "EVAL_ONLY_MODEL_SETTINGS",
    "is_crop_fraction",
    "INCIDENTAL_SETTINGS",
]

PRESET_DIR = Path(__file__).resolve().parent / "configs"


@dataclass
class BranchConfig:
    """One backbone branch (a timm model returning a spatial map).

    Attributes:
        name: Any ``timm`` model name.
        out_index: ``None`` takes ``forward_features`` (the last, widest map; for
            EfficientNet this is after ``conv_head``). An int takes that stage of
            ``features_only`` (e.g. ``2`` = stride-8 stage of a ResNet).
        kwargs: Extra keyword arguments for ``timm.create_model`` (``img_size``,
            ``window_size``, ``embed_dim``, ``depths``, ...).
        pretrained_path: Where pretrained weights come from instead of the Hugging Face
            hub: a local file (``.safetensors``, or ``.pth``/``.bin`` read with
            ``weights_only=True``) or ``package:<name>`` for a file inside an installed
            package (``package:efficientnet-lite0``; :mod:`sqsnet.models.pretrained`).
        pretrained_map: Named key mapping from the file's names onto timm's
            (``efficientnet_lite_lukemelas``); ``None``: the package's own, or none.
        pretrained: Whether this branch starts from pretrained weights; ``None`` follows
            ``ModelConfig.pretrained`` (so a hybrid can start its CNN pretrained and its
            Swin from scratch).
    """

    name: str = "resnet18"
    out_index: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    pretrained_path: str | None = None
    pretrained_map: str | None = None
    pretrained: bool | None = None


@dataclass
class SQSConfig:
    """Spatial Quad-Similarity hyperparameters (paper 4.6 defaults, DESIGN 2.3).

    Attributes:
        tau: Temperature of ``exp(-||a - b||^2 / tau)``.
        alpha: Weight of ``S_AP`` in the refinement map ``R``.
        beta: Weight of ``S_AN1 + S_AN2`` in ``R``.
        gamma: Scale of the residual refinement ``A_hat = A + gamma * R * A``.
        margin: Hinge margin ``m``.
        weight: ``lambda``, weight of ``L_SQS`` in the total loss.
        normalize: ``"l2"`` (per-location unit vectors, default) or ``"none"`` (paper literal).
        learnable: Make alpha, beta, gamma trainable parameters.
        negatives: ``"same_class"`` (N1, N2 two images of one other class) or
            ``"distinct_classes"`` (N1, N2 from two different other classes).
        quads: ``"batch"`` (mined inside the batch, one pass per image) or ``"dataset"``
            (the paper's four passes: the data loader yields (A, P, N1, N2)).
    """

    tau: float = 1.0
    alpha: float = 1.0
    beta: float = 0.5
    gamma: float = 0.5
    margin: float = 0.5
    weight: float = 0.5
    normalize: str = "l2"
    learnable: bool = False
    negatives: str = "same_class"
    quads: str = "batch"


@dataclass
class LossConfig:
    """Classification and distillation terms (DESIGN 2.4).

    Attributes:
        label_smoothing: Label smoothing of both cross-entropy terms, for every kind of
            target (hard labels, FERPlus vote distributions, Mixup/CutMix mixtures;
            :mod:`sqsnet.models.losses`). Vote distributions are already soft, and 0.1
            puts 0.0125 of every face's target on each of FERPlus's 8 classes, about
            two-thirds of contempt's mean vote share: measured, it kept a pretrained
            candidate from ever predicting contempt (``experiments/real_faces``). The
            bundled model was trained with 0; consider 0 for vote targets.
        sqs_ce_weight: Weight of the SQS head's cross-entropy.
        kd_weight: ``mu``, weight of ``T^2 * KL(p_sqs.detach() || p_base)``.
        kd_temperature: ``T``.
    """

    label_smoothing: float = 0.1
    sqs_ce_weight: float = 1.0
    kd_weight: float = 1.0
    kd_temperature: float = 2.0


@dataclass
class ModelConfig:
    """The SQSNet architecture.

    Attributes:
        local_branch: CNN branch (paper: efficientnet_b6).
        global_branch: Transformer branch (paper: swin_small_patch4_window7_224).
        use_local: Ablation switch "w/o CNN" when false.
        use_global: Ablation switch "w/o Swin" when false.
        use_sqs: Ablation switch "w/o SQS" when false.
        img_size: Square input size in pixels.
        crop_pct: Side fraction of a face crop kept by the evaluation transform's centre
            crop before resizing (1 = the whole crop). An inference setting, like timm's
            ``crop_pct``: it changes what validation scores, not the weights.
        eval_grayscale: Turn every image grey before the model reads it (evaluation,
            validation, prediction, the app), as the FER2013/FERPlus faces it was trained
            on are. An inference setting like ``crop_pct``.
        in_chans: Input channels.
        num_classes: Number of classes of both heads.
        class_names: Class names in head order (filled from the dataset when training).
        pretrained: Load ImageNet weights for both branches.
        fusion: ``"cross_attention"`` (default) or ``"concat"``.
        fused_dim: ``d3``, channels of the fused map.
        fusion_heads: Attention heads of the cross-attention fusion.
        fusion_mlp_ratio: Hidden size ratio of the fusion's feed-forward block (0 = none).
        drop_rate: Dropout before the base classifier.
        sqs: Spatial Quad-Similarity settings.
        loss: Loss weights.
    """

    local_branch: BranchConfig = field(
        default_factory=lambda: BranchConfig(name="efficientnet_b6")
    )
    global_branch: BranchConfig = field(
        default_factory=lambda: BranchConfig(name="swin_small_patch4_window7_224")
    )
    use_local: bool = True
    use_global: bool = True
    use_sqs: bool = True
    img_size: int = 224
    crop_pct: float = 1.0
    eval_grayscale: bool = False
    in_chans: int = 3
    num_classes: int = 8
    class_names: list[str] = field(default_factory=list)
    pretrained: bool = False
    fusion: str = "cross_attention"
    fused_dim: int = 1024
    fusion_heads: int = 8
    fusion_mlp_ratio: float = 0.0
    drop_rate: float = 0.3
    sqs: SQSConfig = field(default_factory=SQSConfig)
    loss: LossConfig = field(default_factory=LossConfig)


@dataclass
class DataConfig:
    """Where the images come from and how they are augmented.

    Attributes:
        dataset: ``ferplus``, ``rafdb``, ``affectnet``, ``fer2013`` or ``folder``.
        root: Dataset root; ``None`` reads the ``SQSNET_DATA`` environment variable.
        train_split / val_split / test_split: Split names of the dataset; ``test_split:
            null`` means no test report at the end of training.
        label_mode: FERPlus ``majority`` or ``probability``.
        num_classes_affectnet: 7 or 8.
        batch_size: Images per batch.
        num_workers: DataLoader worker processes.
        sampler: ``class_aware`` (every class in a batch has >= 2 images), ``random``
            or ``balanced`` (class-aware with class-balanced draws).
        classes_per_batch: Classes per class-aware batch (0 = as many as fit).
        train_transform: Keyword arguments of the training transform
            (``sqsnet.data.transforms.build_train_transform``): ``scale``, ``ratio``,
            ``hflip``, ``rotation``, ``color_jitter``, ``mean``, ``std``, and the real-photo
            augmentations, each off unless its probability is above 0
            (``sqsnet.data.photo_augment``): ``box_jitter`` (the detector box's scale and
            offset; ``box_scale``, ``box_shift``), ``grayscale``, ``tint``
            (``tint_strength``), ``blur`` (``blur_sigma``), ``downscale``
            (``downscale_factor``), ``jpeg`` (``jpeg_quality``). Keys and values are checked
            on load (``sqsnet.config_checks.TRAIN_TRANSFORM_RULES``).
        mixup_alpha / cutmix_alpha: Beta parameters; 0 disables each.
        mix_prob: Probability that a batch is mixed at all.
        random_erasing: Probability of Random Erasing.
        train_fraction: Use a seeded, stratified share of the training split (short
            runs, ablation grids); 1.0 = all of it.
        cache: Hold decoded images in memory (small datasets such as FERPlus).
        skip_bad_images: Skip and count undecodable images instead of failing.
    """

    dataset: str = "ferplus"
    root: str | None = None
    train_split: str = "train"
    val_split: str = "valid"
    test_split: str | None = "test"
    label_mode: str = "majority"
    num_classes_affectnet: int = 8
    batch_size: int = 64
    num_workers: int = 2
    sampler: str = "class_aware"
    classes_per_batch: int = 0
    train_transform: dict[str, Any] = field(default_factory=dict)
    mixup_alpha: float = 0.4
    cutmix_alpha: float = 0.4
    mix_prob: float = 1.0
    random_erasing: float = 0.5
    train_fraction: float = 1.0
    cache: bool = False
    skip_bad_images: bool = False


@dataclass
class TrainConfig:
    """The optimisation recipe (DESIGN 3).

    Attributes:
        epochs: Maximum epochs.
        lr / weight_decay: AdamW.
        t0_epochs: First restart period of CosineAnnealingWarmRestarts, in epochs (stepped
            per iteration).
        t_mult: Period multiplier after each restart.
        eta_min: Minimum learning rate.
        warmup_epochs: Linear warm-up before the cosine schedule (0 = none).
        grad_clip: Max gradient norm (``None`` = no clipping).
        amp: Mixed precision on CUDA (float16 with loss scaling; ignored on CPU).
        amp_cpu: bfloat16 autocast on CPU: ``true``, ``false`` or ``"auto"`` (bfloat16
            only where the CPU runs it natively, float32 elsewhere). About 2.7x faster
            training on CPUs with AMX or AVX512-BF16, many times slower on CPUs without
            them; validation and inference stay float32.
        patience: Early stopping after this many epochs without a better val accuracy
            (0 = never).
        seed: Global seed.
        out_dir: Parent folder of run folders.
        run_name: Run folder name (default: config name + seed).
        tta: Also report 5-view TTA accuracy on validation at the end.
        max_steps_per_epoch: Cap on steps per epoch (0 = whole epoch); for smoke runs.
        threads: torch intra-op threads on CPU (0 = torch's default).
        channels_last: Use channels-last memory format.
        checkpoint_every: Also write ``last.safetensors`` every this many steps inside an
            epoch, so ``--resume`` continues mid-epoch (0 = at epoch ends only).
        ema_decay: Keep an exponential moving average of the weights with this decay
            (``timm.utils.ModelEmaV3``, updated after every optimizer step; 0 = off). When
            on, the averaged weights are the ones validated, selected and saved in
            ``best.safetensors``; the live weights' accuracy is logged beside them.
        ema_warmup: Ramp the EMA decay up as ``1 - (1 + step) ** -0.75``, capped at
            ``ema_decay``, so early averages do not remember the random initialisation.
    """

    epochs: int = 50
    lr: float = 3e-4
    weight_decay: float = 1e-5
    t0_epochs: float = 50.0
    t_mult: int = 1
    eta_min: float = 0.0
    warmup_epochs: float = 0.0
    grad_clip: float | None = None
    amp: bool = True
    amp_cpu: bool | str = False
    patience: int = 10
    seed: int = 0
    out_dir: str = "runs"
    run_name: str | None = None
    tta: bool = True
    max_steps_per_epoch: int = 0
    threads: int = 0
    channels_last: bool = False
    checkpoint_every: int = 0
    ema_decay: float = 0.0
    ema_warmup: bool = True


@dataclass
class Config:
    """A whole run: ``name`` plus model, data and training sections."""

    name: str = "custom"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# Mapping-valued settings that are one value (passed on whole), not a section of keys: an
# override replaces them, and a config comparison compares them whole.
_OPAQUE_MAPPINGS = ("kwargs", "train_transform")

def _fill(cls: type, values: Mapping[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, recursing into nested dataclasses."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"{where}: unknown key '{key}' (expected one of {', '.join(sorted(fields))})"
            )
        default = getattr(cls(), key) if _has_defaults(cls) else None
        if dataclasses.is_dataclass(default):
            kwargs[key] = _fill(type(default), value, f"{where}.{key}")
        else:
            kwargs[key] = numeric_text(value, hints[key])
    return cls(**kwargs)


def _has_defaults(cls: type) -> bool:
    return all(
        f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        for f in dataclasses.fields(cls)
    )


def config_from_dict(values: Mapping[str, Any], where: str = "config") -> Config:
    """Build a :class:`Config` from a (possibly partial) nested mapping.

    Retired settings (:data:`RETIRED_SETTINGS`) at their "off" value are dropped.

    Args:
        values: Nested mapping; missing keys take the dataclass defaults.
        where: Name used in error messages (a file path, say).

    Raises:
        ConfigError: On an unknown key, a retired setting that is on, or a value of the
            wrong type or outside its range (:func:`validate_config`).
    """
    if isinstance(values, Mapping):
        values = without_retired(values, where)
    return validate_config(_fill(Config, values, where), where)


def flatten_config(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config dict as ``{"dotted.key": value}``.

    Mapping-valued settings (a branch's ``kwargs``, ``data.train_transform``) are one value,
    as :func:`apply_overrides` replaces them whole.
    """
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and key not in _OPAQUE_MAPPINGS:
            flat.update(flatten_config(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


#: Settings that say where and how fast a run ran, or that training fills in, not what it
#: trains: two runs that differ only in these are the same recipe (resume, ablation reuse).
INCIDENTAL_SETTINGS: tuple[str, ...] = (
    "name", "model.class_names", "model.num_classes", "data.root", "data.num_workers",
    "data.cache", "train.out_dir", "train.run_name", "train.threads", "train.checkpoint_every",
)


#: ``model.*`` settings that change how a model is scored, not the weights it trains: a run
#: may be resumed with another value (logged as a changed setting).
EVAL_ONLY_MODEL_SETTINGS: tuple[str, ...] = ("model.crop_pct", "model.eval_grayscale")


def config_differences(
    old: Config | Mapping[str, Any], new: Config | Mapping[str, Any],
    only: Sequence[str] = (), ignore: Sequence[str] = (),
) -> list[str]:
    """The settings that differ between two configs, as ``"key: old -> new"`` lines.

    Args:
        old / new: Configs or their nested dicts (:func:`config_to_dict`).
        only: Compare only keys under these dotted prefixes (``"model."``); all when empty.
        ignore: Skip these dotted keys (or prefixes ending in ``.``).

    Returns:
        Sorted difference lines; empty when the configs agree.
    """
    a = flatten_config(old if isinstance(old, Mapping) else config_to_dict(old))
    b = flatten_config(new if isinstance(new, Mapping) else config_to_dict(new))

    def kept(key: str) -> bool:
        if only and not any(key.startswith(p) for p in only):
            return False
        return not any(key == i or (i.endswith(".") and key.startswith(i)) for i in ignore)

    missing = object()
    lines = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, missing), b.get(key, missing)
        if kept(key) and va != vb:
            lines.append(f"{key}: {'(absent)' if va is missing else repr(va)} -> "
                         f"{'(absent)' if vb is missing else repr(vb)}")
    return lines


def config_overrides(
    old: Config | Mapping[str, Any], new: Config | Mapping[str, Any],
    ignore: Sequence[str] = (),
) -> list[str]:
    """The ``key=value`` overrides (:func:`apply_overrides` syntax) that turn ``old`` into ``new``.

    Values are written in YAML flow style, as ``--set`` reads them back (``false``, ``null``,
    ``{rotation: 5}``). Keys that ``old`` lacks (a config saved before they existed) are
    left out.

    Args:
        old / new: Configs or their nested dicts (:func:`config_to_dict`).
        ignore: Skip these dotted keys.

    Returns:
        Sorted ``key=value`` strings; empty when ``new`` changes nothing ``old`` has.
    """
    a = flatten_config(old if isinstance(old, Mapping) else config_to_dict(old))
    b = flatten_config(new if isinstance(new, Mapping) else config_to_dict(new))
    return [f"{key}={_yaml_text(b[key])}" for key in sorted(b)
            if key not in ignore and key in a and a[key] != b[key]]


def _yaml_text(value: Any) -> str:
    """``value`` as one line of YAML flow style (what :func:`_parse_value` reads back)."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6)
    return text.strip().removesuffix("...").strip()


def format_differences(lines: Sequence[str], limit: int = 3) -> str:
    """The first ``limit`` lines of :func:`config_differences`, joined for one message."""
    more = f" (and {len(lines) - limit} more)" if len(lines) > limit else ""
    return "; ".join(lines[:limit]) + more


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Return a plain nested ``dict`` (YAML/JSON serialisable) of a config dataclass."""
    return dataclasses.asdict(cfg)


def available_presets() -> list[str]:
    """Names of the bundled YAML presets."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _resolve_preset(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    stem = path.stem if path.suffix in (".yaml", ".yml") else path.name
    candidate = PRESET_DIR / f"{stem}.yaml"
    if candidate.is_file():
        return candidate
    raise ConfigError(
        f"no config file or preset '{name_or_path}': expected an existing YAML file or one "
        f"of the presets {', '.join(available_presets())}"
    )


def _parse_value(text: str) -> Any:
    """Parse an override's value with YAML rules (numbers, booleans, lists, null)."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(cfg: Config, overrides: Sequence[str] | Mapping[str, Any]) -> Config:
    """Return a copy of ``cfg`` with dotted-key overrides applied.

    Args:
        cfg: The base config.
        overrides: ``["train.lr=1e-3", ...]`` or ``{"train.lr": 1e-3}``.

    Raises:
        ConfigError: On a malformed item, an unknown key or a bad value.
    """
    data = config_to_dict(cfg)
    items: list[tuple[str, Any]] = []
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"override '{item}': expected key=value, e.g. train.lr=1e-3")
            key, _, text = item.partition("=")
            items.append((key.strip(), _parse_value(text.strip())))
    for key, value in items:
        if key in RETIRED_SETTINGS:  # "off" is dropped, anything else refused
            check_retired(key, value, "overrides")
            continue
        node: Any = data
        parts = key.split(".")
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
                raise ConfigError(
                    f"override '{key}': unknown key '{'.'.join(parts[: depth + 1])}' "
                    f"(known here: {known})"
                )
            if depth == len(parts) - 1:
                if isinstance(node[part], dict) and part not in _OPAQUE_MAPPINGS:
                    if not isinstance(value, dict):
                        raise ConfigError(f"override '{key}': expected a mapping")
                    node[part] = {**node[part], **value}
                else:
                    node[part] = value
            else:
                node = node[part]
    return config_from_dict(data, where="overrides")


def load_config(
    name_or_path: str | Path | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> Config:
    """Load a preset or YAML file and apply overrides.

    Args:
        name_or_path: Preset name (``"cpu"``), path (``"configs/cpu.yaml"``) or ``None``
            for the dataclass defaults (the paper architecture).
        overrides: Dotted-key overrides, see :func:`apply_overrides`.

    Returns:
        The resolved :class:`Config`.

    Raises:
        ConfigError: Unknown preset, unreadable YAML or unknown keys.
    """
    if name_or_path is None:
        cfg = Config()
    else:
        path = _resolve_preset(name_or_path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from None
        cfg = config_from_dict(raw, where=str(path))
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    return cfg


def save_config(cfg: Config, path: str | Path) -> Path:
    """Write the resolved config as YAML and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    return path


def copy_config(cfg: Config) -> Config:
    """Deep copy of a config."""
    return copy.deepcopy(cfg)
