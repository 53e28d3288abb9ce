"""Spatial Quad-Similarity (paper 3.3, eq. 6-8 and 10; DESIGN 2.3 and 2.5).

Given fused maps of an anchor ``A``, a positive ``P`` (same class, other image) and two
negatives ``N1``, ``N2`` (by default two images of one class other than the anchor's), all
``B x C x H x W``:

* per location ``(i, j)``: ``S_AP = exp(-||a_ij - p_ij||^2 / tau)``, likewise ``S_AN1``,
  ``S_AN2``. Each location's vector is L2-normalised first (``normalize="l2"``, default), so
  ``||a - p||^2`` lies in ``[0, 4]``; the paper's literal form (``"none"``) makes every S
  vanish for 1024-d features, which leaves the loss without gradient.
* refinement map ``R = alpha * S_AP - beta * (S_AN1 + S_AN2)`` and refined anchor
  ``A_hat = A + gamma * R * A`` (``R`` broadcast over channels).
* loss ``L_SQS = mean_ij [relu(m + S_AN1 - S_AP) + relu(m + S_AN2 - S_AP)]`` (also averaged
  over the anchors of a batch).

Quads are mined inside a batch by :class:`QuadMiner` (each image forwarded once, each image
an anchor for itself); the paper's four-pass mode passes four explicit tensors instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "SQSOutput",
    "Quads",
    "spatial_similarity",
    "sqs_loss",
    "sqs_hinge_map",
    "SpatialQuadSimilarity",
    "QuadMiner",
]


@dataclass
class SQSOutput:
    """What :class:`SpatialQuadSimilarity` computes for ``B`` quads on an ``H x W`` grid.

    Attributes:
        s_ap: ``B x H x W`` anchor-positive similarity in ``(0, 1]``.
        s_an1: ``B x H x W`` anchor-negative-1 similarity.
        s_an2: ``B x H x W`` anchor-negative-2 similarity.
        r: ``B x H x W`` refinement map ``alpha*S_AP - beta*(S_AN1 + S_AN2)``.
        a_hat: ``B x C x H x W`` refined anchor map ``A + gamma * R * A``.
    """

    s_ap: torch.Tensor
    s_an1: torch.Tensor
    s_an2: torch.Tensor
    r: torch.Tensor
    a_hat: torch.Tensor


@dataclass
class Quads:
    """Indices into a batch forming ``(anchor, positive, negative1, negative2)`` quads.

    Attributes:
        anchor / positive / negative1 / negative2: ``Q`` int64 indices each.
        excluded: Number of batch images that could not be an anchor (no other image of
            their class, or no valid negatives); they get no SQS terms.
    """

    anchor: torch.Tensor
    positive: torch.Tensor
    negative1: torch.Tensor
    negative2: torch.Tensor
    excluded: int = 0

    def __len__(self) -> int:
        return int(self.anchor.numel())

    def to(self, device: torch.device | str) -> "Quads":
        """Move the index tensors to ``device``."""
        return Quads(
            self.anchor.to(device), self.positive.to(device), self.negative1.to(device),
            self.negative2.to(device), self.excluded,
        )


def spatial_similarity(
    a: torch.Tensor, b: torch.Tensor, tau: float = 1.0, normalize: str = "l2"
) -> torch.Tensor:
    """Per-location similarity ``exp(-||a_ij - b_ij||^2 / tau)``.

    Args:
        a: ``B x C x H x W``.
        b: ``B x C x H x W``.
        tau: Temperature (> 0).
        normalize: ``"l2"`` normalises each location's C-vector first; ``"none"`` does not.

    Returns:
        ``B x H x W`` similarities in ``(0, 1]``.
    """
    if normalize == "l2":
        a = F.normalize(a, dim=1)
        b = F.normalize(b, dim=1)
    elif normalize != "none":
        raise ValueError(f"unknown SQS normalize '{normalize}': expected 'l2' or 'none'")
    dist2 = (a - b).pow(2).sum(dim=1)
    return torch.exp(-dist2 / tau)


def sqs_hinge_map(
    s_ap: torch.Tensor, s_an1: torch.Tensor, s_an2: torch.Tensor, margin: float = 0.5
) -> torch.Tensor:
    """Per-location hinge terms ``relu(m + S_AN1 - S_AP) + relu(m + S_AN2 - S_AP)``.

    Args:
        s_ap / s_an1 / s_an2: ``B x H x W``.
        margin: ``m``.

    Returns:
        ``B x H x W``.
    """
    return F.relu(margin + s_an1 - s_ap) + F.relu(margin + s_an2 - s_ap)


def sqs_loss(
    s_ap: torch.Tensor, s_an1: torch.Tensor, s_an2: torch.Tensor, margin: float = 0.5
) -> torch.Tensor:
    """``L_SQS``: the hinge map averaged over locations and anchors (paper eq. 10).

    Args:
        s_ap / s_an1 / s_an2: ``B x H x W``.
        margin: ``m``.

    Returns:
        Scalar tensor (0 for an empty batch).
    """
    if s_ap.numel() == 0:
        return s_ap.sum()
    return sqs_hinge_map(s_ap, s_an1, s_an2, margin).mean()


class SpatialQuadSimilarity(nn.Module):
    """Per-location quad similarities and the anchor refinement.

    Args:
        tau: Temperature.
        alpha: Weight of ``S_AP`` in ``R``.
        beta: Weight of ``S_AN1 + S_AN2`` in ``R``.
        gamma: Refinement scale.
        normalize: ``"l2"`` or ``"none"``.
        learnable: Make alpha, beta, gamma trainable parameters (else fixed buffers).
    """

    def __init__(
        self,
        tau: float = 1.0,
        alpha: float = 1.0,
        beta: float = 0.5,
        gamma: float = 0.5,
        normalize: str = "l2",
        learnable: bool = False,
    ) -> None:
        super().__init__()
        if tau <= 0:
            raise ValueError(f"SQS tau must be > 0, got {tau}")
        if normalize not in ("l2", "none"):
            raise ValueError(f"unknown SQS normalize '{normalize}': expected 'l2' or 'none'")
        self.tau = float(tau)
        self.normalize = normalize
        for key, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
            tensor = torch.tensor(float(value))
            if learnable:
                setattr(self, key, nn.Parameter(tensor))
            else:
                self.register_buffer(key, tensor)

    def forward(
        self, a: torch.Tensor, p: torch.Tensor, n1: torch.Tensor, n2: torch.Tensor
    ) -> SQSOutput:
        """Compute similarity maps, ``R`` and ``A_hat``.

        Args:
            a / p / n1 / n2: ``B x C x H x W`` fused maps of anchor, positive, negatives.

        Returns:
            :class:`SQSOutput`.
        """
        s_ap = spatial_similarity(a, p, self.tau, self.normalize)
        s_an1 = spatial_similarity(a, n1, self.tau, self.normalize)
        s_an2 = spatial_similarity(a, n2, self.tau, self.normalize)
        r = self.alpha * s_ap - self.beta * (s_an1 + s_an2)
        a_hat = a + self.gamma * r.unsqueeze(1) * a
        return SQSOutput(s_ap=s_ap, s_an1=s_an1, s_an2=s_an2, r=r, a_hat=a_hat)


class QuadMiner:
    """Mine ``(A, P, N1, N2)`` quads from a batch's hard labels.

    Every image is tried as an anchor. Its positive is another image of its class. With
    ``negatives="same_class"`` (default) N1 and N2 are two different images of one other
    class that has at least two images in the batch; with ``"distinct_classes"`` they come
    from two different other classes. Images for which no valid quad exists are excluded
    and counted (:attr:`Quads.excluded`), never paired wrongly.

    Args:
        negatives: ``"same_class"`` or ``"distinct_classes"``.
        generator: Random generator for reproducible picks (CPU).
    """

    def __init__(
        self, negatives: str = "same_class", generator: torch.Generator | None = None
    ) -> None:
        if negatives not in ("same_class", "distinct_classes"):
            raise ValueError(
                f"unknown negatives mode '{negatives}': expected 'same_class' or "
                "'distinct_classes'"
            )
        self.negatives = negatives
        self.generator = generator

    def __call__(self, labels: torch.Tensor) -> Quads:
        """Mine quads.

        Vectorised over the batch (0.4 ms per batch of 64 on a 2-core CPU, against 3.3 ms
        for a Python loop over anchors; BENCHMARKS.md). The picks are a function
        of the labels and one ``B x 5`` uniform draw per call, made as follows for anchor
        ``i`` of class ``c`` with uniforms ``r0..r4`` (``members(k)``: the batch indices of
        class ``k`` in ascending order; ``pick(r, n) = int(r * n) mod n`` in float32):

        - positive: ``pick(r0, n_c - 1)``-th of ``members(c)`` without ``i``;
        - ``same_class``: of the classes other than ``c`` with at least two images (in
          ascending order), class ``pick(r1, .)``; of its ``g`` images, ``first =
          pick(r2, g)`` and ``second = (first + 1 + int(r3 * (g - 1))) mod g``;
        - ``distinct_classes``: of the ``L`` classes other than ``c`` present,
          ``k1 = pick(r1, L)`` and ``k2 = (k1 + 1 + int(r2 * (L - 1))) mod L``; one image of
          each, ``pick(r3, .)`` and ``pick(r4, .)``.

        Args:
            labels: ``B`` int64 hard labels.

        Returns:
            :class:`Quads` with indices into the batch (on CPU), anchors in ascending order.
        """
        labels = labels.detach().to("cpu", torch.long).view(-1)
        n = labels.numel()
        empty = torch.empty(0, dtype=torch.long)
        if n == 0:  # no draw, as before: the generator's state is left alone
            return Quads(empty, empty, empty, empty, excluded=0)
        rand = torch.rand(n, 5, generator=self.generator)
        classes, cls_of, counts = torch.unique(labels, return_inverse=True, return_counts=True)
        order = torch.argsort(cls_of, stable=True)  # members of each class, ascending
        start = torch.cumsum(counts, 0) - counts
        rank = torch.empty_like(order)
        rank[order] = torch.arange(n) - start[cls_of[order]]  # position of i in its class

        def member(k: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
            # the j-th image of class k (clamped: rows without a valid quad are dropped below)
            return order[(start[k] + j).clamp(max=n - 1)]

        def pick(r: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
            size = size.clamp(min=1)  # rows where size is 0 are masked out by the caller
            return (r * size.to(r.dtype)).long() % size

        n_c = counts[cls_of]
        valid = n_c >= 2
        j = pick(rand[:, 0], n_c - 1)
        positive = member(cls_of, j + (j >= rank).long())  # skip the anchor itself

        def nth_other(k: torch.Tensor, own: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
            """The ``k``-th class index (into ``classes``) among ``allowed`` without ``own``."""
            ranked = torch.cumsum(allowed.long(), 0) - 1  # rank of each allowed class
            own_rank = torch.where(allowed[own], ranked[own], torch.full_like(own, -1))
            target = k + ((own_rank >= 0) & (k >= own_rank)).long()
            # the class whose rank among the allowed is `target`
            allowed_ids = torch.nonzero(allowed).view(-1)
            return allowed_ids[target.clamp(max=max(allowed_ids.numel() - 1, 0))]

        if self.negatives == "same_class":
            eligible = counts >= 2
            m = eligible.sum() - eligible[cls_of].long()
            valid &= m > 0
            if not bool(valid.any()):
                return Quads(empty, empty, empty, empty, excluded=n)
            k = nth_other(pick(rand[:, 1], m), cls_of, eligible)
            g = counts[k]
            first = pick(rand[:, 2], g)
            second = (first + 1 + (rand[:, 3] * (g - 1).to(rand.dtype)).long()) % g.clamp(min=1)
            neg1, neg2 = member(k, first), member(k, second)
        else:
            present = torch.ones_like(counts, dtype=torch.bool)
            n_other = classes.numel() - 1
            valid &= n_other >= 2
            if not bool(valid.any()):
                return Quads(empty, empty, empty, empty, excluded=n)
            size = torch.full_like(cls_of, n_other)
            k1 = pick(rand[:, 1], size)
            k2 = (k1 + 1 + (rand[:, 2] * float(n_other - 1)).long()) % n_other
            c1 = nth_other(k1, cls_of, present)
            c2 = nth_other(k2, cls_of, present)
            neg1 = member(c1, pick(rand[:, 3], counts[c1]))
            neg2 = member(c2, pick(rand[:, 4], counts[c2]))
        anchor = torch.nonzero(valid).view(-1)
        return Quads(anchor, positive[anchor], neg1[anchor], neg2[anchor],
                     excluded=n - anchor.numel())
