"""Fusion of the local (CNN) and global (Swin) maps into one map ``F`` (DESIGN 2.2).

The paper's section 3.2.3 describes cross-attention between two *pooled* vectors; with a
single key the softmax is always 1 and the "attention" is just ``V``. We therefore fuse at
token level, before pooling, which also keeps the spatial map that SQS needs:

* :class:`CrossAttentionFusion` (default): CNN grid tokens are queries, Swin grid tokens are
  keys/values, each projected to ``d3``; multi-head scaled dot-product attention; residual +
  LayerNorm (and an optional feed-forward block). The output keeps the CNN grid.
* :class:`ConcatFusion`: resize the global map to the local grid, concatenate channels,
  1x1 conv to ``d3``.
* :class:`Projection`: the single-branch ablations (w/o CNN, w/o Swin) map the one
  remaining branch to ``d3`` with a 1x1 conv so heads and SQS see the same width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CrossAttentionFusion", "ConcatFusion", "Projection", "create_fusion"]


class CrossAttentionFusion(nn.Module):
    """Token-level cross-attention from the local grid to the global grid.

    Args:
        local_dim: Channels ``C1`` of the local map.
        global_dim: Channels ``C2`` of the global map.
        dim: Output channels ``d3``.
        num_heads: Attention heads (``dim`` must be divisible by it).
        mlp_ratio: Hidden ratio of an optional feed-forward block (0 disables it).
        attn_drop: Dropout on attention weights during training.
    """

    def __init__(
        self,
        local_dim: int,
        global_dim: int,
        dim: int = 1024,
        num_heads: int = 8,
        mlp_ratio: float = 0.0,
        attn_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"fused_dim {dim} is not divisible by fusion_heads {num_heads}")
        self.dim = dim
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.q = nn.Linear(local_dim, dim)
        self.k = nn.Linear(global_dim, dim)
        self.v = nn.Linear(global_dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)
        if mlp_ratio > 0:
            hidden = int(dim * mlp_ratio)
            self.mlp: nn.Module | None = nn.Sequential(
                nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)
            )
            self.norm2: nn.Module | None = nn.LayerNorm(dim)
        else:
            self.mlp = None
            self.norm2 = None

    def forward(self, local: torch.Tensor, global_: torch.Tensor) -> torch.Tensor:
        """Fuse.

        Args:
            local: ``B x C1 x H x W`` (queries).
            global_: ``B x C2 x H2 x W2`` (keys and values); ``H2, W2`` may differ.

        Returns:
            ``B x dim x H x W``.
        """
        b, _, h, w = local.shape
        q_tokens = self.q(local.flatten(2).transpose(1, 2))  # B x HW x d
        g_tokens = global_.flatten(2).transpose(1, 2)  # B x H2W2 x C2
        k = self.k(g_tokens)
        v = self.v(g_tokens)
        heads = self.num_heads
        hd = self.dim // heads
        qh = q_tokens.view(b, -1, heads, hd).transpose(1, 2)
        kh = k.view(b, -1, heads, hd).transpose(1, 2)
        vh = v.view(b, -1, heads, hd).transpose(1, 2)
        attn = F.scaled_dot_product_attention(
            qh, kh, vh, dropout_p=self.attn_drop if self.training else 0.0
        )
        attn = attn.transpose(1, 2).reshape(b, h * w, self.dim)
        out = self.norm(q_tokens + self.proj(attn))
        if self.mlp is not None and self.norm2 is not None:
            out = self.norm2(out + self.mlp(out))
        return out.transpose(1, 2).reshape(b, self.dim, h, w)


class ConcatFusion(nn.Module):
    """Resize the global map to the local grid, concatenate, 1x1 conv to ``dim``.

    Args:
        local_dim: Channels of the local map.
        global_dim: Channels of the global map.
        dim: Output channels ``d3``.
    """

    def __init__(self, local_dim: int, global_dim: int, dim: int = 1024) -> None:
        super().__init__()
        self.conv = nn.Conv2d(local_dim + global_dim, dim, kernel_size=1, bias=False)
        self.norm = nn.BatchNorm2d(dim)
        self.act = nn.GELU()

    def forward(self, local: torch.Tensor, global_: torch.Tensor) -> torch.Tensor:
        """Fuse.

        Args:
            local: ``B x C1 x H x W``.
            global_: ``B x C2 x H2 x W2``.

        Returns:
            ``B x dim x H x W``.
        """
        if global_.shape[-2:] != local.shape[-2:]:
            global_ = F.interpolate(
                global_, size=local.shape[-2:], mode="bilinear", align_corners=False
            )
        return self.act(self.norm(self.conv(torch.cat([local, global_], dim=1))))


class Projection(nn.Module):
    """Single-branch ablation: 1x1 conv + BatchNorm + GELU to ``dim`` channels.

    Args:
        in_dim: Channels of the remaining branch.
        dim: Output channels ``d3``.
    """

    def __init__(self, in_dim: int, dim: int = 1024) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_dim, dim, kernel_size=1, bias=False)
        self.norm = nn.BatchNorm2d(dim)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project ``B x in_dim x H x W`` to ``B x dim x H x W``."""
        return self.act(self.norm(self.conv(x)))


def create_fusion(
    kind: str,
    local_dim: int,
    global_dim: int,
    dim: int,
    num_heads: int = 8,
    mlp_ratio: float = 0.0,
) -> nn.Module:
    """Build a fusion module by name (``cross_attention`` or ``concat``).

    Raises:
        ValueError: For an unknown fusion name.
    """
    if kind == "cross_attention":
        return CrossAttentionFusion(local_dim, global_dim, dim, num_heads, mlp_ratio)
    if kind == "concat":
        return ConcatFusion(local_dim, global_dim, dim)
    raise ValueError(f"unknown fusion '{kind}': expected 'cross_attention' or 'concat'")
