"""VGG-style CNNs for small face crops, registered with timm.

FERPlus faces are 48 x 48 grayscale. ImageNet CNNs shrink such an input by 4 in their stem
(a ResNet-18 leaves a 4 x 4 grid at 64 px after its stride-16 stage) and spend most of
their parameters on resolutions the data does not have. The networks here follow the
plain VGG-style CNNs that do well on FER from scratch: stages of 3x3 conv + BatchNorm +
ReLU at full resolution, a 2x2 max-pool in front of every stage after the first.

They are ordinary timm models (``timm.create_model("fer_vgg_s")``, ``features_only``,
``forward_features`` / ``forward_head``), so :class:`~sqsnet.models.backbones.Backbone`
and Grad-CAM use them like any other branch. Importing :mod:`sqsnet.models` registers
them. No pretrained weights exist for them.

======================  ============================  ========  ========================
name                    widths (two convs per stage)  params    stage-3 grid at 48 px
======================  ============================  ========  ========================
``fer_vgg_s``           32, 64, 128, 256              1.2 M     6 x 6 (stride 8)
``fer_vgg_m``           64, 128, 256, 512             4.7 M     6 x 6 (stride 8)
======================  ============================  ========  ========================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import ClassifierHead, ConvNormAct
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn

__all__ = ["FerVGG", "fer_vgg_m", "fer_vgg_s"]


class FerVGG(nn.Module):
    """Plain VGG-style CNN: ``len(widths)`` stages of ``depth`` 3x3 conv-BN-ReLU layers.

    Stage ``i`` works at stride ``2**i`` (a 2x2 max-pool opens every stage after the
    first), so a 48 px face gives 48, 24, 12 and 6 px maps.

    Args:
        widths: Channels of each stage.
        depth: Conv layers per stage.
        num_classes: Classifier outputs (0 for none).
        in_chans: Input channels.
        global_pool: timm pool type for the head (``""`` keeps the map).
        drop_rate: Dropout before the classifier.
    """

    def __init__(
        self,
        widths: Sequence[int] = (32, 64, 128, 256),
        depth: int = 2,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if not widths or depth < 1:
            raise ValueError(
                f"FerVGG needs at least one stage and depth >= 1, got widths={tuple(widths)}, "
                f"depth={depth}"
            )
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        stages: list[nn.Module] = []
        self.feature_info: list[dict[str, Any]] = []
        prev = in_chans
        for i, width in enumerate(widths):
            layers: list[nn.Module] = [nn.MaxPool2d(2)] if i > 0 else []
            for _ in range(depth):
                layers.append(ConvNormAct(prev, width, kernel_size=3))
                prev = width
            stages.append(nn.Sequential(*layers))
            self.feature_info.append({"num_chs": width, "reduction": 2**i, "module": f"stages.{i}"})
        self.stages = nn.Sequential(*stages)
        self.num_features = self.head_hidden_size = prev
        self.head = ClassifierHead(prev, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def get_classifier(self) -> nn.Module:
        """The final classifier layer."""
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the classifier (timm API)."""
        self.num_classes = num_classes
        self.head.reset(num_classes, pool_type=global_pool)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``B x in_chans x H x W`` -> last map ``B x widths[-1] x H/2^(n-1) x W/2^(n-1)``."""
        return self.stages(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool (and classify) a ``forward_features`` map: ``B x C`` or ``B x num_classes``."""
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x in_chans x H x W`` -> ``B x num_classes`` logits."""
        return self.forward_head(self.forward_features(x))


def _cfg(**kwargs: Any) -> dict[str, Any]:
    return {
        "num_classes": 8, "input_size": (3, 48, 48), "pool_size": (6, 6), "crop_pct": 1.0,
        "interpolation": "bilinear", "mean": IMAGENET_DEFAULT_MEAN, "std": IMAGENET_DEFAULT_STD,
        "first_conv": "stages.0.0.conv", "classifier": "head.fc", **kwargs,
    }


default_cfgs = generate_default_cfgs({"fer_vgg_s": _cfg(), "fer_vgg_m": _cfg()})


def _create(variant: str, pretrained: bool, **kwargs: Any) -> FerVGG:
    return build_model_with_cfg(
        FerVGG, variant, pretrained, feature_cfg={"flatten_sequential": True}, **kwargs
    )


@register_model
def fer_vgg_s(pretrained: bool = False, **kwargs: Any) -> FerVGG:
    """VGG-style CNN, widths 32-64-128-256 (1.2 M parameters)."""
    return _create("fer_vgg_s", pretrained, **{"widths": (32, 64, 128, 256), **kwargs})


@register_model
def fer_vgg_m(pretrained: bool = False, **kwargs: Any) -> FerVGG:
    """VGG-style CNN, widths 64-128-256-512 (4.7 M parameters)."""
    return _create("fer_vgg_m", pretrained, **{"widths": (64, 128, 256, 512), **kwargs})
