"""Self-describing checkpoints: one safetensors file (+ a readable JSON sidecar).

A checkpoint is a single ``.safetensors`` file that holds

* the model weights (``model.<name>`` tensors),
* optionally the training state needed by ``--resume`` (optimizer tensors under ``optim.``,
  RNG states under ``rng.``, the weight average of ``train.ema_decay`` under ``ema.``), and
* in its string metadata, JSON of the resolved config, class names, dataset, epoch, metrics,
  library versions and the non-tensor training state.

Because everything lives in one file, a write is atomic: it goes to a temporary file in the
same folder, is flushed and fsynced, and is renamed over the old file; a run killed at any
moment leaves the last good checkpoint intact. A ``.json`` sidecar with the same metadata
(weights excluded) is written beside it for people and tools. Loading never unpickles:
safetensors and JSON only.

The metadata also carries a SHA-256 checksum of every tensor (names, dtypes, shapes and
bytes; :func:`tensor_checksum`), verified on load, so a bit-rotted file fails with a
:class:`CheckpointError` naming it instead of training on, or predicting with, damaged
weights. Files written before the checksum existed (such as the bundled default) load
without that check.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import timm
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from sqsnet.config import Config, ConfigError, config_from_dict, config_to_dict
from sqsnet.errors import SQSNetError
from sqsnet.models import SQSNet
from sqsnet.utils.io import atomic_file, atomic_write_text

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "DEFAULT_CHECKPOINT",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "load_weights",
    "resolve_checkpoint",
    "tensor_checksum",
]

_LOG = logging.getLogger(__name__)

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "weights" / "default.safetensors"
_FORMAT = "sqsnet-checkpoint/1"
_CHECKSUM_KEY = "sqsnet_sha256"


class CheckpointError(SQSNetError, ValueError):
    """A checkpoint file is missing, corrupt or not an SQSNet checkpoint."""


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        path: File it came from.
        config: The resolved run config.
        meta: Class names, dataset, epoch, metrics, versions, ...
        model_state: Model ``state_dict``.
        train_state: Optimizer/scheduler/sampler/RNG state (``None`` for weights-only files).
    """

    path: Path
    config: Config
    meta: dict[str, Any]
    model_state: dict[str, torch.Tensor]
    train_state: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _versions() -> dict[str, str]:
    import sqsnet  # the package imports this module first: a real import cycle

    return {
        "sqsnet": sqsnet.__version__,
        "torch": torch.__version__,
        "timm": timm.__version__,
        "python": platform.python_version(),
    }


def tensor_checksum(tensors: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order.

    Args:
        tensors: CPU tensors as a safetensors file holds them.

    Returns:
        The hex digest.
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{t.dtype}|{list(tensors[name].shape)}|".encode())
        digest.update(t.view(torch.uint8).numpy())
    return digest.hexdigest()


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], Any]:
    """Split an optimizer ``state_dict`` into tensors and a JSON-able skeleton."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for pid, pstate in state["state"].items():
        entry: dict[str, Any] = {}
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                name = f"optim.{pid}.{key}"
                tensors[name] = value.detach().cpu().contiguous()
                entry[key] = {"__tensor__": name}
            else:
                entry[key] = value
        skeleton["state"][str(pid)] = entry
    return tensors, skeleton


def _unflatten_optimizer(skeleton: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for pid, entry in skeleton["state"].items():
        state[int(pid)] = {
            k: tensors[v["__tensor__"]] if isinstance(v, dict) and "__tensor__" in v else v
            for k, v in entry.items()
        }
    return {"state": state, "param_groups": skeleton["param_groups"]}


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    config: Config,
    meta: dict[str, Any] | None = None,
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Atomically write a checkpoint (and its JSON sidecar).

    Args:
        path: Target ``.safetensors`` file.
        model: The model (its ``state_dict`` is saved; DDP wrappers are unwrapped).
        config: The resolved run config.
        meta: Extra metadata (class names, dataset, epoch, metrics...).
        train_state: Optional resume state: ``optimizer`` (state_dict), ``rng`` (dict of
            uint8 tensors), ``ema`` (the averaged weights' ``state_dict``), and any JSON-able
            entries (scheduler, sampler, epoch, ...).

    Returns:
        The written path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "module", model)
    tensors = {
        f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()
    }
    header: dict[str, Any] = {
        "format": _FORMAT,
        "config": config_to_dict(config),
        "meta": {**(meta or {}), "versions": _versions()},
    }
    if train_state is not None:
        json_state: dict[str, Any] = {}
        for key, value in train_state.items():
            if key == "optimizer":
                opt_tensors, skeleton = _flatten_optimizer(value)
                tensors.update(opt_tensors)
                json_state["optimizer"] = skeleton
            elif key == "rng":
                for name, t in value.items():
                    tensors[f"rng.{name}"] = t.detach().cpu().contiguous()
                json_state["rng"] = sorted(value)
            elif key == "ema":
                for name, t in value.items():
                    tensors[f"ema.{name}"] = t.detach().cpu().contiguous()
                json_state["ema"] = list(value)
            else:
                json_state[key] = value
        header["train_state"] = json_state
    metadata = {"sqsnet": json.dumps(header), _CHECKSUM_KEY: tensor_checksum(tensors)}
    with atomic_file(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)
    sidecar = {k: v for k, v in header.items() if k != "train_state"}
    sidecar["weights"] = path.name
    atomic_write_text(path.with_suffix(".json"), json.dumps(sidecar, indent=2))
    return path


def resolve_checkpoint(name_or_path: str | Path) -> Path:
    """Map ``"default"`` to the bundled checkpoint, a run folder to its best checkpoint.

    Raises:
        CheckpointError: If nothing loadable is found.
    """
    if str(name_or_path) == "default":
        path = DEFAULT_CHECKPOINT
        if not path.is_file():
            raise CheckpointError(
                f"the bundled default checkpoint is missing ({path}); reinstall sqsnet or "
                "pass --checkpoint PATH"
            )
        return path
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        for candidate in (path / "best.safetensors", path / "last.safetensors"):
            if candidate.is_file():
                return candidate
        raise CheckpointError(
            f"{path} is a folder without best.safetensors or last.safetensors: expected an "
            "SQSNet run folder or a .safetensors checkpoint"
        )
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint '{path}' does not exist: expected a .safetensors file written by "
            "sqsnet, a run folder, or 'default'"
        )
    return path


def load_checkpoint(name_or_path: str | Path, with_train_state: bool = False) -> Checkpoint:
    """Read a checkpoint without unpickling anything.

    Args:
        name_or_path: File, run folder or ``"default"``.
        with_train_state: Also rebuild the resume state.

    Returns:
        :class:`Checkpoint`.

    Raises:
        CheckpointError: Missing, corrupt, or not written by sqsnet.
    """
    path = resolve_checkpoint(name_or_path)
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as fh:
            metadata = fh.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors checkpoint ({exc})"
        ) from None
    if "sqsnet" not in metadata:
        raise CheckpointError(
            f"{path} has no SQSNet metadata: expected a checkpoint written by sqsnet "
            "(plain timm/torch weights go in model.*_branch.pretrained_path)"
        )
    expected = metadata.get(_CHECKSUM_KEY)
    if expected is not None and tensor_checksum(tensors) != expected:
        raise CheckpointError(
            f"{path} is damaged: its tensors do not match the checksum written with them "
            "(a partial copy or bit rot); use another copy or an earlier checkpoint")
    try:
        header = json.loads(metadata["sqsnet"])
        config = config_from_dict(header["config"], where=str(path))
    except ConfigError:
        raise  # names the file and the setting (a retired or invalid value)
    except (json.JSONDecodeError, KeyError, ValueError) as exc:
        raise CheckpointError(f"{path} has corrupt SQSNet metadata ({exc})") from None
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    train_state = None
    if with_train_state and "train_state" in header:
        train_state = dict(header["train_state"])
        if "optimizer" in train_state:
            train_state["optimizer"] = _unflatten_optimizer(train_state["optimizer"], tensors)
        if "rng" in train_state:
            train_state["rng"] = {name: tensors[f"rng.{name}"] for name in train_state["rng"]}
        if "ema" in train_state:
            train_state["ema"] = {name: tensors[f"ema.{name}"] for name in train_state["ema"]}
    return Checkpoint(path, config, header.get("meta", {}), model_state, train_state)


def load_weights(
    model: torch.nn.Module, state: Mapping[str, torch.Tensor], path: str | Path
) -> None:
    """Load a checkpoint's ``model_state`` into ``model``, every tensor or none.

    Args:
        model: The model its config describes.
        state: :attr:`Checkpoint.model_state`.
        path: The checkpoint file, for the error message.

    Raises:
        CheckpointError: Naming ``path``, when names or shapes (a class count, a width)
            differ from the model's.
    """
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # size mismatches: the first one says which tensor
        detail = next((line.strip() for line in str(err).splitlines()
                       if "size mismatch" in line), str(err).splitlines()[0])
        raise CheckpointError(
            f"{path}: its weights do not fit the model built from its config ({detail}); "
            "expected a checkpoint of the same architecture and number of classes") from None
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not match its config: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}"
        )


def load_model(
    name_or_path: str | Path = "default", device: str | torch.device = "cpu"
) -> SQSNet:
    """Build the model a checkpoint describes and load its weights (eval mode).

    The branches are built without downloading pretrained weights: the checkpoint's
    weights replace them.

    Args:
        name_or_path: ``"default"`` (the bundled FERPlus model), a ``.safetensors`` file or
            a run folder.
        device: Where to put the model.

    Returns:
        :class:`~sqsnet.models.SQSNet` in eval mode, with ``model.checkpoint_meta`` set.

    Raises:
        CheckpointError: Naming the file, when it is unreadable or damaged or its weights
            do not fit its config.
    """
    ckpt = load_checkpoint(name_or_path)
    try:
        m = ckpt.config.model
        model = SQSNet(replace(m, pretrained=False,
                               local_branch=replace(m.local_branch, pretrained=False),
                               global_branch=replace(m.global_branch, pretrained=False)))
    except SQSNetError as err:
        raise CheckpointError(f"{ckpt.path}: cannot build the model of its config: "
                              f"{err}") from None
    model.cfg = ckpt.config.model
    load_weights(model, ckpt.model_state, ckpt.path)
    model.checkpoint_meta = {**ckpt.meta, "path": str(ckpt.path), "name": ckpt.config.name}
    return model.to(device).eval()
