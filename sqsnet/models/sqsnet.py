"""The assembled SQSNet (paper Fig. 2; DESIGN 2).

``x -> [local CNN branch, global Swin branch] -> fusion -> F (B x d3 x H x W) -> base head``.

* ``model(x)`` returns base logits only, and never runs the SQS module: inference costs
  exactly the base branch.
* ``model.forward_features(x)`` returns the fused map ``F``; ``model.forward_head(F)`` the
  logits (``pre_logits=True`` for pooled features), as in timm.
* ``model.forward_train(x, target)`` is the explicit training call: it mines quads in the
  batch, runs SQS on the fused maps and returns a :class:`TrainOutput` with both heads'
  logits, the similarity maps, the quad indices and every loss term.
* ``model.forward_train_quads(a, p, n1, n2, target)`` is the paper's four-pass mode.

Ablations: ``use_local=False`` (w/o CNN), ``use_global=False`` (w/o Swin), ``use_sqs=False``
(w/o SQS: the training call returns the base cross-entropy only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from sqsnet.config import Config, ConfigError, ModelConfig, apply_overrides, load_config
from sqsnet.models.backbones import Backbone, create_backbone
from sqsnet.models.fusion import Projection, create_fusion
from sqsnet.models.heads import ClassifierHead
from sqsnet.models.losses import classification_loss, distillation_loss
from sqsnet.models.sqs import (
    QuadMiner,
    Quads,
    SpatialQuadSimilarity,
    SQSOutput,
    sqs_loss,
)

__all__ = ["SQSNet", "TrainOutput", "create_model"]

_LOG = logging.getLogger(__name__)


@dataclass
class TrainOutput:
    """Everything the training call computes.

    Attributes:
        logits: ``B x K`` base logits (for the four-pass mode: of the anchors).
        sqs_logits: ``Q x K`` logits of the SQS head for the ``Q`` anchors with a valid quad
            (``None`` without SQS).
        features: ``N x d3 x H x W`` fused maps of every image forwarded.
        quads: Indices into ``features`` (``None`` without SQS).
        sqs: Similarity maps ``S_AP``, ``S_AN1``, ``S_AN2``, ``R`` (``Q x H x W``) and
            ``A_hat`` (``None`` without SQS).
        losses: ``total``, ``ce``, ``sqs_ce``, ``sqs``, ``kd`` (scalar tensors; the SQS
            terms are zero when SQS is off or no quad was found).
    """

    logits: torch.Tensor
    sqs_logits: torch.Tensor | None
    features: torch.Tensor
    quads: Quads | None
    sqs: SQSOutput | None
    losses: dict[str, torch.Tensor] = field(default_factory=dict)


class SQSNet(nn.Module):
    """CNN + Swin hybrid with Spatial Quad-Similarity training.

    Args:
        cfg: Architecture (see :class:`~sqsnet.config.ModelConfig`).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if not (cfg.use_local or cfg.use_global):
            raise ConfigError("model.use_local and model.use_global cannot both be false")
        if cfg.class_names and len(cfg.class_names) != cfg.num_classes:
            raise ConfigError(
                f"model.class_names has {len(cfg.class_names)} names but num_classes is "
                f"{cfg.num_classes}"
            )
        self.cfg = cfg
        self.num_classes = cfg.num_classes
        self.local_branch: Backbone | None = None
        self.global_branch: Backbone | None = None
        if cfg.use_local:
            self.local_branch = create_backbone(
                cfg.local_branch, cfg.img_size, cfg.in_chans, cfg.pretrained
            )
        if cfg.use_global:
            self.global_branch = create_backbone(
                cfg.global_branch, cfg.img_size, cfg.in_chans, cfg.pretrained
            )
        d3 = cfg.fused_dim
        if self.local_branch is not None and self.global_branch is not None:
            self.fusion: nn.Module = create_fusion(
                cfg.fusion, self.local_branch.out_channels, self.global_branch.out_channels,
                d3, cfg.fusion_heads, cfg.fusion_mlp_ratio,
            )
            self.grid_size = self.local_branch.grid_size
        else:
            only = self.local_branch if self.local_branch is not None else self.global_branch
            assert only is not None
            self.fusion = Projection(only.out_channels, d3)
            self.grid_size = only.grid_size
        self.num_features = d3
        self.head = ClassifierHead(d3, cfg.num_classes, cfg.drop_rate)
        self.sqs: SpatialQuadSimilarity | None = None
        self.sqs_head: ClassifierHead | None = None
        if cfg.use_sqs:
            s = cfg.sqs
            self.sqs = SpatialQuadSimilarity(
                s.tau, s.alpha, s.beta, s.gamma, s.normalize, s.learnable
            )
            self.sqs_head = ClassifierHead(d3, cfg.num_classes, 0.0)
        self.miner = QuadMiner(cfg.sqs.negatives, torch.Generator().manual_seed(0))

    @property
    def class_names(self) -> list[str]:
        """Class names in logit order (``class_0``... when the config has none)."""
        return list(self.cfg.class_names) or [f"class_{i}" for i in range(self.num_classes)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Fused map ``F``.

        Args:
            x: ``B x in_chans x img_size x img_size`` normalised images.

        Returns:
            ``B x d3 x H x W`` (``H x W`` = the local branch's grid when it is present).
        """
        return self._fuse(*self._branch_maps(x))

    def _branch_maps(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(local B x C1 x H x W, global B x C2 x H2 x W2)``; ``None`` for an absent branch."""
        local = self.local_branch(x) if self.local_branch is not None else None
        global_ = self.global_branch(x) if self.global_branch is not None else None
        return local, global_

    def _fuse(self, local: torch.Tensor | None, global_: torch.Tensor | None) -> torch.Tensor:
        if local is not None and global_ is not None:
            return self.fusion(local, global_)
        return self.fusion(local if local is not None else global_)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Base classifier on a fused map.

        Args:
            features: ``B x d3 x H x W``.
            pre_logits: Return pooled ``B x d3`` features instead of logits.

        Returns:
            ``B x K`` logits (or ``B x d3``).
        """
        return self.head(features, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inference: base logits ``B x K``. Never runs the SQS module."""
        return self.forward_head(self.forward_features(x))

    def forward_train(
        self,
        x: torch.Tensor,
        target: torch.Tensor,
        labels: torch.Tensor | None = None,
        quads: Quads | None = None,
    ) -> TrainOutput:
        """Training call with quads mined inside the batch (DESIGN 2.5).

        Args:
            x: ``B x 3 x S x S`` images (possibly Mixup/CutMix-mixed).
            target: ``B`` hard labels or ``B x K`` soft targets for the cross-entropies.
            labels: ``B`` hard labels used to mine quads (the dominant label under
                Mixup/CutMix); defaults to ``target`` (or its argmax when soft).
            quads: Precomputed quad indices into the batch (mined when ``None``).

        Returns:
            :class:`TrainOutput`.
        """
        features = self.forward_features(x)
        if labels is None:
            labels = target if target.ndim == 1 else target.argmax(dim=-1)
        if self.sqs is not None and quads is None:
            quads = self.miner(labels).to(x.device)
        return self._train_outputs(features, torch.arange(x.shape[0], device=x.device),
                                   target, quads)

    def forward_train_quads(
        self,
        anchor: torch.Tensor,
        positive: torch.Tensor,
        negative1: torch.Tensor,
        negative2: torch.Tensor,
        target: torch.Tensor,
    ) -> TrainOutput:
        """The paper's four-pass training call: explicit ``(A, P, N1, N2)`` images.

        All four tensors go through the backbone in one concatenated batch; the base and
        SQS heads see the anchors only.

        Args:
            anchor / positive / negative1 / negative2: ``B x 3 x S x S`` each.
            target: ``B`` hard labels or ``B x K`` soft targets of the anchors.

        Returns:
            :class:`TrainOutput` (``features`` holds all ``4B`` maps).
        """
        b = anchor.shape[0]
        features = self.forward_features(torch.cat([anchor, positive, negative1, negative2]))
        idx = torch.arange(b, device=anchor.device)
        quads = Quads(idx, idx + b, idx + 2 * b, idx + 3 * b, excluded=0) if self.sqs else None
        return self._train_outputs(features, idx, target, quads)

    def _train_outputs(
        self,
        features: torch.Tensor,
        base_idx: torch.Tensor,
        target: torch.Tensor,
        quads: Quads | None,
    ) -> TrainOutput:
        lcfg = self.cfg.loss
        logits = self.forward_head(features[base_idx])
        ce = classification_loss(logits, target, lcfg.label_smoothing)
        zero = ce.new_zeros(())
        losses = {"ce": ce, "sqs_ce": zero, "sqs": zero, "kd": zero}
        sqs_out: SQSOutput | None = None
        sqs_logits: torch.Tensor | None = None
        if self.sqs is not None and self.sqs_head is not None and quads is not None:
            if len(quads):
                sqs_out = self.sqs(
                    features[quads.anchor], features[quads.positive],
                    features[quads.negative1], features[quads.negative2],
                )
                sqs_logits = self.sqs_head(sqs_out.a_hat)
                # Anchors index the base batch: in four-pass mode base_idx is 0..B-1 and
                # quads.anchor is the same range, so target[quads.anchor] is correct too.
                anchor_target = target[quads.anchor]
                anchor_logits = logits[quads.anchor]
                losses["sqs_ce"] = classification_loss(
                    sqs_logits, anchor_target, lcfg.label_smoothing
                )
                losses["sqs"] = sqs_loss(
                    sqs_out.s_ap, sqs_out.s_an1, sqs_out.s_an2, self.cfg.sqs.margin
                )
                losses["kd"] = distillation_loss(anchor_logits, sqs_logits, lcfg.kd_temperature)
            else:
                sqs_logits = logits.new_zeros((0, self.num_classes))
        losses["total"] = (
            losses["ce"]
            + lcfg.sqs_ce_weight * losses["sqs_ce"]
            + self.cfg.sqs.weight * losses["sqs"]
            + lcfg.kd_weight * losses["kd"]
        )
        return TrainOutput(logits, sqs_logits, features, quads, sqs_out, losses)

    def gradcam_targets(
        self,
    ) -> dict[str, tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor] | None]]:
        """Grad-CAM target layers, each with a reshape transform to ``B x C x H x W``.

        Returns:
            ``{"local": (layer, reshape), "global": (...), "fused": (...)}`` for the branches
            present. ``reshape`` is ``None`` when the layer's output is already NCHW.
        """
        targets: dict[str, tuple[nn.Module, Callable[[torch.Tensor], torch.Tensor] | None]] = {}
        for key, branch in (("local", self.local_branch), ("global", self.global_branch)):
            if branch is None:
                continue
            layer = _last_spatial_layer(branch)
            reshape = branch.to_nchw if branch.channels_last_output else None
            targets[key] = (layer, reshape)
        targets["fused"] = (self.fusion, None)
        return targets


def _last_spatial_layer(branch: Backbone) -> nn.Module:
    """The layer whose activation Grad-CAM should use for a branch."""
    model = branch.model
    if branch.out_index is None:
        for attr in ("conv_head", "norm", "head_hidden", "final_conv"):
            layer = getattr(model, attr, None)
            if isinstance(layer, nn.Module) and not isinstance(layer, nn.Identity):
                if attr == "norm" and hasattr(model, "layers"):
                    # Swin: the last block's norm1 keeps the NHWC grid
                    return model.layers[-1].blocks[-1].norm1
                return layer
        if hasattr(model, "layers"):
            return model.layers[-1]
        if hasattr(model, "stages"):
            return model.stages[-1]
        if hasattr(model, "layer4"):
            return model.layer4
        return list(model.children())[-1]
    # features_only: the module timm reports for the returned stage. FeatureListNet
    # flattens "layers.2" into a child "layers_2"; EfficientNetFeatures and
    # MobileNetV3Features keep every block in one "blocks" Sequential that is iterated,
    # never called, so its last child is not the returned stage (and would never fire).
    names = model.feature_info.module_name() if hasattr(model, "feature_info") else []
    if names:
        for candidate in (names[-1], names[-1].replace(".", "_")):
            try:
                return model.get_submodule(candidate)
            except AttributeError:
                continue
    return list(model.children())[-1]


def create_model(
    name_or_config: str | Config | ModelConfig = "cpu", **overrides: Any
) -> SQSNet:
    """Build an SQSNet from a preset name, YAML path or config, with overrides.

    Args:
        name_or_config: Preset (``"cpu"``, ``"paper"``...), YAML path, :class:`Config` or
            :class:`ModelConfig`.
        **overrides: Fields of ``ModelConfig`` (``use_sqs=False``, ``num_classes=7``) or
            dotted keys below it passed as a mapping (``sqs={"tau": 0.5}``).

    Returns:
        A freshly initialised :class:`SQSNet` (``pretrained`` as configured).

    Raises:
        ConfigError: Unknown preset or override key.
    """
    if isinstance(name_or_config, ModelConfig):
        cfg = Config(model=name_or_config)
    elif isinstance(name_or_config, Config):
        cfg = name_or_config
    else:
        cfg = load_config(name_or_config)
    if overrides:
        cfg = apply_overrides(cfg, _model_overrides(overrides))
    return SQSNet(cfg.model)


def _model_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    return {f"model.{key}": value for key, value in overrides.items()}
