"""Backbone adapter: any timm model as a branch returning a ``B x C x H x W`` map.

timm's Swin (and other NHWC models) return channels-last maps from ``forward_features``
and ``features_only``; EfficientNet and ResNets return NCHW. This module is the one place
that knows: :class:`Backbone` always returns ``B x C x H x W``, converted by
:meth:`Backbone.to_nchw` (which Grad-CAM also uses for the raw activations it hooks).

Which map a branch returns is set by ``BranchConfig.out_index``:

* ``None``: ``forward_features`` (the last map; for EfficientNet-B6 the 2304-channel map
  after ``conv_head``, the paper's ``d1``).
* an int: stage ``out_index`` of ``features_only`` (e.g. the stride-8 stage of a ResNet,
  which keeps a useful grid on 48-64 px faces).

Pretrained weights come from the Hugging Face hub via timm, from a local file
(``BranchConfig.pretrained_path``), or from an installed package
(``pretrained_path: package:efficientnet-lite0``) through a named key mapping
(``BranchConfig.pretrained_map``; :mod:`sqsnet.models.pretrained`). Offline, a hub download
fails at once with one sentence explaining how to pass a local file
(:class:`PretrainedWeightsError`).
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import timm
import torch
from huggingface_hub import try_to_load_from_cache
from torch import nn

from sqsnet.config import BranchConfig, ConfigError
from sqsnet.errors import SQSNetError
from sqsnet.models.pretrained import PACKAGE_PREFIX, PretrainedWeightsError, load_pretrained

__all__ = ["Backbone", "PretrainedWeightsError", "UnknownModelError", "create_backbone"]

_LOG = logging.getLogger(__name__)


class UnknownModelError(SQSNetError, ValueError):
    """A model name that timm does not know."""


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP connect to the hub endpoint (instead of minutes of HTTP retries)."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co", port), timeout):
            return True
    except OSError:
        return False


def _has_published_weights(name: str) -> bool:
    """Whether timm knows where to get weights for ``name`` (hub, URL or file)."""
    cfg = timm.models.get_pretrained_cfg(name)
    return cfg is not None and any(
        getattr(cfg, key, None) for key in ("hf_hub_id", "url", "file"))


def _cached_weights(name: str) -> str | None:
    """Path of already-downloaded hub weights for ``name`` in the local HF cache, if any."""
    try:
        cfg = timm.models.get_pretrained_cfg(name)
        repo = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
        if not repo:
            return None
        for filename in ("model.safetensors", "pytorch_model.bin"):
            found = try_to_load_from_cache(repo, filename)
            if isinstance(found, str):
                return found
    except (RuntimeError, ValueError):
        return None
    return None


def _create_timm(
    name: str, pretrained: bool, pretrained_path: str | None,
    pretrained_map: str | None = None, **kwargs: Any,
) -> nn.Module:
    """``timm.create_model`` with clear errors for unknown names and missing weights.

    A package source or a key mapping is loaded by :func:`~sqsnet.models.pretrained.
    load_pretrained` into a model built without weights; a plain file goes through timm's
    own loader (which adapts, e.g., position tables to another input size).
    """
    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:8]
        hint = f" (similar: {', '.join(close)})" if close else ""
        raise UnknownModelError(f"unknown timm model '{name}'{hint}")
    if pretrained and pretrained_path and (
            pretrained_map or pretrained_path.startswith(PACKAGE_PREFIX)):
        model = _create_timm(name, False, None, **kwargs)
        load_pretrained(model, pretrained_path, pretrained_map)
        return model
    if pretrained and pretrained_map:
        raise PretrainedWeightsError(
            f"pretrained_map '{pretrained_map}' for '{name}' needs a pretrained_path (a "
            f"weights file or {PACKAGE_PREFIX}<name>) to map")
    if pretrained and pretrained_path:
        path = Path(pretrained_path).expanduser()
        if not path.is_file():
            raise PretrainedWeightsError(
                f"pretrained_path '{path}' for '{name}' does not exist: expected a "
                ".safetensors, .pth or .bin weights file"
            )
        kwargs["pretrained_cfg_overlay"] = dict(file=str(path))
    elif pretrained and not _has_published_weights(name):
        raise PretrainedWeightsError(
            f"'{name}' has no published pretrained weights: train it from scratch "
            "(model.pretrained=false) or pass your own weights file as pretrained_path "
            "(model.local_branch.pretrained_path / model.global_branch.pretrained_path)")
    elif pretrained and (_hub_offline() or not _hub_reachable()):
        cached = _cached_weights(name)
        if cached is None:
            reason = "HF_HUB_OFFLINE is set" if _hub_offline() else "the hub is unreachable"
            raise PretrainedWeightsError(_offline_message(name, reason))
        kwargs["pretrained_cfg_overlay"] = dict(file=cached)
    try:
        return timm.create_model(name, pretrained=pretrained, **kwargs)
    except (TypeError, AssertionError) as exc:  # settings the model does not accept
        settings = {k: v for k, v in kwargs.items() if k != "pretrained_cfg_overlay"}
        raise ConfigError(
            f"timm model '{name}' rejected its settings {settings}: "
            f"{str(exc) or type(exc).__name__}") from None
    except (OSError, RuntimeError, ValueError) as exc:
        if not pretrained:
            raise
        if pretrained_path:
            raise PretrainedWeightsError(
                f"could not load pretrained weights for '{name}' from '{pretrained_path}': {exc}"
            ) from None
        raise PretrainedWeightsError(_offline_message(name, type(exc).__name__)) from None


def _offline_message(name: str, reason: str) -> str:
    return (
        f"Could not download pretrained weights for '{name}' from the Hugging Face hub "
        f"({reason}): download them where you have network (e.g. the model's "
        "'model.safetensors') and pass the file as pretrained_path (config key "
        "model.local_branch.pretrained_path / model.global_branch.pretrained_path), "
        "or set model.pretrained=false."
    )


class Backbone(nn.Module):
    """A timm model returning one spatial feature map ``B x C x H x W``.

    Args:
        name: timm model name.
        img_size: Input size used to probe the output grid (and passed nowhere else:
            put ``img_size`` into ``kwargs`` for models that take it, such as Swin).
        in_chans: Input channels.
        out_index: ``None`` for ``forward_features``, else a ``features_only`` stage index.
        pretrained: Load pretrained weights.
        pretrained_path: Local weights file or ``package:<name>`` instead of the hub.
        pretrained_map: Key mapping name for ``pretrained_path`` (see
            :data:`sqsnet.models.pretrained.KEY_MAPPINGS`).
        timm_kwargs: Passed to ``timm.create_model``.

    Attributes:
        out_channels: ``C`` of the returned map.
        grid_size: ``(H, W)`` of the returned map for an ``img_size`` input.
        channels_last_output: Whether the underlying timm model returns NHWC.
    """

    def __init__(
        self,
        name: str,
        img_size: int = 224,
        in_chans: int = 3,
        out_index: int | None = None,
        pretrained: bool = False,
        pretrained_path: str | None = None,
        timm_kwargs: dict[str, Any] | None = None,
        pretrained_map: str | None = None,
    ) -> None:
        super().__init__()
        kwargs = dict(timm_kwargs or {})
        self.name = name
        self.out_index = out_index
        if out_index is None:
            self.model = _create_timm(
                name, pretrained, pretrained_path, pretrained_map, in_chans=in_chans,
                num_classes=0,
                global_pool="", **kwargs,
            )
            channels = int(self.model.num_features)
            fmt = getattr(self.model, "output_fmt", "NCHW")
        else:
            self.model = _create_timm(
                name, pretrained, pretrained_path, pretrained_map, in_chans=in_chans,
                features_only=True,
                out_indices=(out_index,), **kwargs,
            )
            channels = int(self.model.feature_info.channels()[-1])
            _prune_unused_blocks(self.model)
            fmt = getattr(self.model, "output_fmt", None)
            if fmt is None:
                fmt = getattr(self.model.feature_info, "output_fmt", "NCHW")
        self.out_channels = channels
        self.channels_last_output = str(getattr(fmt, "value", fmt)).upper() == "NHWC"
        self.grid_size = self._probe(img_size, in_chans)

    @torch.no_grad()
    def _probe(self, img_size: int, in_chans: int) -> tuple[int, int]:
        """Run one dummy image to learn (and check) the output grid."""
        was_training = self.training
        self.eval()
        x = torch.zeros(1, in_chans, img_size, img_size)
        try:
            out = self.forward(x)
        except (AssertionError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"backbone '{self.name}' cannot take a {in_chans} x {img_size} x {img_size} "
                f"input ({str(exc) or type(exc).__name__}): model.img_size must match the "
                "branch's own input size (e.g. a Swin's kwargs.img_size) and suit its strides "
                "and windows") from None
        self.train(was_training)
        if out.shape[1] != self.out_channels:
            raise RuntimeError(
                f"backbone '{self.name}' returned {tuple(out.shape)}; expected "
                f"{self.out_channels} channels in dim 1 after layout conversion"
            )
        return int(out.shape[2]), int(out.shape[3])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Extract the branch's map.

        Args:
            x: Images, ``B x in_chans x img_size x img_size``.

        Returns:
            Feature map ``B x C x H x W`` (``C = out_channels``).
        """
        if self.out_index is None:
            out = self.model.forward_features(x)
        else:
            out = self.model(x)[-1]
        return self.to_nchw(out)

    def to_nchw(self, feats: torch.Tensor) -> torch.Tensor:
        """This backbone's raw map (its output, or a Grad-CAM activation) as NCHW.

        The one place that converts layouts.

        Args:
            feats: ``B x H x W x C`` for NHWC models, ``B x N x C`` tokens of a square
                grid, else ``B x C x H x W``.

        Returns:
            ``B x C x H x W`` (contiguous when converted).
        """
        if feats.ndim == 3:  # ViT-style tokens B x N x C: fold a square grid
            b, n, c = feats.shape
            side = int(round(n**0.5))
            if side * side != n:
                raise RuntimeError(
                    f"backbone '{self.name}' returned {n} tokens, not a square grid"
                )
            feats = feats.reshape(b, side, side, c)
            return feats.permute(0, 3, 1, 2).contiguous()
        if self.channels_last_output:
            return feats.permute(0, 3, 1, 2).contiguous()
        return feats


def _prune_unused_blocks(model: nn.Module) -> None:
    """Drop the stages past the last one a ``features_only`` EfficientNet/MobileNet returns.

    timm's ``EfficientNetFeatures`` (and ``MobileNetV3Features``) build and run every block
    stage even when ``out_indices`` stops early (e.g. Lite0 cut after stage 3 still ran its
    blocks 5-6: 2.26 M of its 2.96 M trunk parameters, computed and thrown away). Called
    after the weights are loaded, so pretrained files still load strictly; the map returned
    is unchanged. Other feature wrappers (``FeatureListNet``) already stop at the last stage.

    Args:
        model: A timm ``features_only`` model; changed in place.
    """
    stage_out = getattr(model, "_stage_out_idx", None)
    blocks = getattr(model, "blocks", None)
    if (not isinstance(stage_out, dict) or not stage_out or not isinstance(blocks, nn.Sequential)
            or getattr(model, "feature_hooks", None) is not None):
        return
    keep = max(int(k) for k in stage_out)  # block i's output is stage i + 1
    if keep < len(blocks):
        model.blocks = blocks[:keep]
        _LOG.debug("pruned %s to its first %d block stages", type(model).__name__, keep)


def create_backbone(
    cfg: BranchConfig, img_size: int, in_chans: int = 3, pretrained: bool = False,
) -> Backbone:
    """Build a :class:`Backbone` from a :class:`~sqsnet.config.BranchConfig`.

    Args:
        cfg: Branch settings.
        img_size: Model input size.
        in_chans: Input channels.
        pretrained: ``model.pretrained``; the branch's own ``cfg.pretrained``, when set,
            overrides it. Weights come from ``cfg.pretrained_path`` (through
            ``cfg.pretrained_map``) or the hub.

    Returns:
        The backbone.
    """
    return Backbone(
        cfg.name,
        img_size=img_size,
        in_chans=in_chans,
        out_index=cfg.out_index,
        pretrained=pretrained if cfg.pretrained is None else cfg.pretrained,
        pretrained_path=cfg.pretrained_path,
        timm_kwargs=dict(cfg.kwargs),
        pretrained_map=cfg.pretrained_map,
    )
