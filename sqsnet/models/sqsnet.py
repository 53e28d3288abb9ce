"""The assembled SQSNet (paper Fig. 2; DESIGN 2).

``x -> [local CNN branch, global Swin branch] -> fusion -> F (B x d3 x H x W) -> base head``.

* ``model(x)`` returns base logits only, and never runs the SQS module: inference costs
  exactly the base branch.
* ``model.forward_features(x)`` returns the fused map ``F``; ``model.forward_head(F)`` the
  logits (``pre_logits=True`` for pooled features), as in timm.
* ``model.forward_train(batch)`` is the explicit training call, for a
  :class:`~sqsnet.models.batch.TrainBatch` (``TrainBatch.from_targets(x, y)`` mines quads
  in the batch; ``TrainBatch.from_quads(a, p, n1, n2, y)`` is the paper's four-pass mode):
  it runs SQS on the fused maps and returns a :class:`TrainOutput` with both heads'
  logits, the similarity maps, the quad indices and every loss term.

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
from sqsnet.models.batch import TrainBatch
from sqsnet.models.fusion import Projection, create_fusion
from sqsnet.models.heads import ClassifierHead
from sqsnet.models.losses import LOSS_TERMS, TOTAL_LOSS, classification_loss, distillation_loss
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
        losses: :data:`~sqsnet.models.losses.TOTAL_LOSS` and every name of
            :data:`~sqsnet.models.losses.LOSS_TERMS` (scalar tensors; the SQS terms are
            zero when SQS is off or no quad was found).
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

    def forward_train(self, batch: TrainBatch) -> TrainOutput:
        """The training call, in-batch or four-pass (:class:`~sqsnet.models.batch.TrainBatch`).

        In-batch (DESIGN 2.5): quads are mined among the ``B`` images by ``batch.labels``.
        Four-pass (the paper's mode): the ``4B`` stacked images go through the backbone in
        one batch and anchor ``i`` forms the quad ``(i, B + i, 2B + i, 3B + i)``. The base and
        SQS heads see the ``B`` anchors only.

        Args:
            batch: Images, targets (``B`` or ``B x K``) and hard labels (``B``).

        Returns:
            :class:`TrainOutput` (``features`` holds every image forwarded).
        """
        features = self.forward_features(batch.images)
        b = batch.size
        idx = torch.arange(b, device=features.device)
        quads: Quads | None = None
        if self.sqs is not None:
            if batch.four_pass:
                quads = Quads(idx, idx + b, idx + 2 * b, idx + 3 * b, excluded=0)
            else:
                quads = self.miner(batch.labels).to(features.device)
        return self._train_outputs(features[:b], batch.targets, quads, features)

    def _train_outputs(
        self,
        anchor_features: torch.Tensor,
        target: torch.Tensor,
        quads: Quads | None,
        features: torch.Tensor,
    ) -> TrainOutput:
        """Both heads' logits and every loss term (:data:`~sqsnet.models.losses.LOSS_TERMS`).

        Args:
            anchor_features: ``B x d3 x H x W`` maps the base head classifies.
            target: ``B`` or ``B x K`` targets of those ``B`` images.
            quads: Indices into ``features`` (``None`` without SQS).
            features: ``N x d3 x H x W`` maps of every image forwarded.
        """
        lcfg = self.cfg.loss
        logits = self.forward_head(anchor_features)
        ce = classification_loss(logits, target, lcfg.label_smoothing)
        losses = dict.fromkeys(LOSS_TERMS, ce.new_zeros(()))
        losses["ce"] = ce
        sqs_out: SQSOutput | None = None
        sqs_logits: torch.Tensor | None = None
        if self.sqs is not None and self.sqs_head is not None and quads is not None:
            if len(quads):
                sqs_out = self.sqs(
                    features[quads.anchor], features[quads.positive],
                    features[quads.negative1], features[quads.negative2],
                )
                sqs_logits = self.sqs_head(sqs_out.a_hat)
                # anchors index the first B maps in both modes, so they index target too
                losses["sqs_ce"] = classification_loss(
                    sqs_logits, target[quads.anchor], lcfg.label_smoothing
                )
                losses["sqs"] = sqs_loss(
                    sqs_out.s_ap, sqs_out.s_an1, sqs_out.s_an2, self.cfg.sqs.margin
                )
                losses["kd"] = distillation_loss(logits[quads.anchor], sqs_logits,
                                                 lcfg.kd_temperature)
            else:
                sqs_logits = logits.new_zeros((0, self.num_classes))
        weights = self.loss_weights()
        losses[TOTAL_LOSS] = sum((weights[t] * losses[t] for t in LOSS_TERMS[1:]), losses["ce"])
        return TrainOutput(logits, sqs_logits, features, quads, sqs_out, losses)

    def loss_weights(self) -> dict[str, float]:
        """Weight of each loss term in the total (``ce`` weighs 1)."""
        lcfg = self.cfg.loss
        return {"ce": 1.0, "sqs_ce": lcfg.sqs_ce_weight, "sqs": self.cfg.sqs.weight,
                "kd": lcfg.kd_weight}

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
