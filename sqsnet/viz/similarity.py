"""Per-location Spatial Quad-Similarity maps of one quad, for people to look at.

For an anchor ``A``, a positive ``P`` (same class) and two negatives ``N1``, ``N2``
:func:`compute_quad_maps` forwards the four images in one batch to the model's fused maps
(``model.forward_features``) and runs the model's own SQS module (``model.sqs``) on them,
the computation the four-pass training call makes, in eval mode without gradients. It
returns, on the model's fused grid ``H x W``:

* ``S_AP``, ``S_AN1``, ``S_AN2``: ``exp(-||a_ij - x_ij||^2 / tau)`` in ``(0, 1]``; 1 where
  the two fused feature vectors at that location coincide;
* ``R = alpha * S_AP - beta * (S_AN1 + S_AN2)``: the refinement map that scales the anchor
  (``A_hat = A + gamma * R * A``), in ``[-2 beta, alpha]``;
* the hinge map ``relu(m + S_AN1 - S_AP) + relu(m + S_AN2 - S_AP)``, whose mean is this
  quad's ``L_SQS``;
* the contrast ``S_AP - max(S_AN1, S_AN2)`` (:attr:`QuadMaps.contrast`), what the hinge
  acts on: a location adds to the loss exactly when its contrast is below the margin ``m``.

Because the maps come from the SQS module inside the model (with its own ``tau``,
``alpha``, ``beta`` and normalisation), they are exactly what training optimises. A model
built with ``use_sqs=False`` has no SQS module; its maps are then computed with a fresh
:class:`~sqsnet.models.sqs.SpatialQuadSimilarity` built from ``model.cfg.sqs`` on the same
fused maps (``QuadMaps.params["from_model"]`` is ``False``): they show how the fused
features of that model would look to SQS, not anything it was trained with.

**The CNN branch before fusion** (:attr:`QuadMaps.local`). The default fusion is
cross-attention: every fused location mixes in the Swin branch's tokens from the whole
face, so a fused location is not obviously local. To see what the fusion does to locality,
the same SQS module is also applied to the CNN branch's own output map (``C1`` channels,
e.g. 512 for the default's ``fer_vgg_m``), captured by a forward hook in the same forward
pass. The fused map keeps the CNN branch's grid, so both maps have the same ``H x W`` and
a location means the same part of the face in both. ``spatial_similarity`` L2-normalises
each location's vector first (``normalize="l2"``, the default), so its distances lie in
``[0, 4]`` whatever the width and the same ``tau`` applies; with ``normalize="none"`` the
two widths' distances are not on one scale. Training never computes these local maps: they
show how SQS would see the CNN's features, not a term of the loss.

:func:`sqsnet.viz.plot_quad_maps` and :func:`sqsnet.viz.plot_contrast` draw them;
:func:`overlay_heatmap` is the building block for any single overlay (the app uses it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import matplotlib
import numpy as np
import torch
from PIL import Image

from sqsnet.models.sqs import SpatialQuadSimilarity, SQSOutput, sqs_hinge_map
from sqsnet.viz._images import ImageLike, model_view, prepare_batch, resize_map

__all__ = [
    "MAP_KEYS",
    "ROLES",
    "QuadMaps",
    "branch_output",
    "compute_quad_maps",
    "overlay_heatmap",
    "sqs_module",
]

_LOG = logging.getLogger(__name__)

MAP_KEYS: tuple[str, ...] = ("s_ap", "s_an1", "s_an2", "r", "hinge", "contrast")
"""Names of the maps in a :class:`QuadMaps`, in display order."""

ROLES: tuple[str, ...] = ("anchor", "positive", "negative 1", "negative 2")


@dataclass
class QuadMaps:
    """SQS maps of one quad ``(A, P, N1, N2)`` on the model's ``H x W`` grid.

    Attributes:
        s_ap: ``H x W`` anchor-positive similarity in ``(0, 1]``.
        s_an1: ``H x W`` anchor-negative-1 similarity in ``(0, 1]``.
        s_an2: ``H x W`` anchor-negative-2 similarity in ``(0, 1]``.
        r: ``H x W`` refinement map ``alpha*S_AP - beta*(S_AN1 + S_AN2)``.
        hinge: ``H x W`` per-location hinge ``relu(m + S_AN1 - S_AP) +
            relu(m + S_AN2 - S_AP)`` (>= 0).
        loss: ``L_SQS`` of this quad: the mean of ``hinge``.
        margin: The margin ``m`` used.
        labels: Optional class names of anchor, positive, negative 1, negative 2.
        images: The four images as the model sees them (its eval centre crop,
            ``model.cfg.crop_pct``), as PIL RGB at their own resolution (anchor first).
        params: ``tau``, ``alpha``, ``beta``, ``gamma``, ``normalize``, ``grid`` (H, W),
            ``from_model`` (False when the model had no SQS module, see module docs) and
            ``channels`` (width of the compared features).
        branch: ``"fused"`` (the map SQS trains on) or ``"local"`` (the CNN branch's map
            before fusion, see the module docstring).
        local: The same quad's maps from the CNN branch before fusion (``branch="local"``),
            or ``None`` (no CNN branch, or not asked for).
    """

    s_ap: np.ndarray
    s_an1: np.ndarray
    s_an2: np.ndarray
    r: np.ndarray
    hinge: np.ndarray
    loss: float
    margin: float
    labels: list[str] | None = None
    images: list[Image.Image] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    branch: str = "fused"
    local: QuadMaps | None = None

    @property
    def grid(self) -> tuple[int, int]:
        """``(H, W)`` of the maps."""
        return int(self.s_ap.shape[0]), int(self.s_ap.shape[1])

    @property
    def contrast(self) -> np.ndarray:
        """``H x W`` contrast ``S_AP - max(S_AN1, S_AN2)`` in ``[-1, 1]``.

        A location adds to the hinge exactly where its contrast is below ``margin``.
        """
        return self.s_ap - np.maximum(self.s_an1, self.s_an2)

    @property
    def r_limit(self) -> float:
        """Symmetric colour limit for ``R``: ``max(|alpha|, 2|beta|)`` (its value range)."""
        alpha = abs(float(self.params.get("alpha", 1.0)))
        beta = abs(float(self.params.get("beta", 0.5)))
        limit = max(alpha, 2.0 * beta, float(np.abs(self.r).max()))
        return limit if limit > 0 else 1.0

    @property
    def hinge_limit(self) -> float:
        """Upper colour limit of the hinge map: its maximum possible value ``2 (m + 1)``."""
        return max(2.0 * (self.margin + 1.0), float(self.hinge.max()), 1e-6)

    def maps(self) -> dict[str, np.ndarray]:
        """The six maps at grid resolution, keyed as :data:`MAP_KEYS`."""
        return {key: getattr(self, key) for key in MAP_KEYS}

    def upsampled(self, size: tuple[int, int] | int) -> dict[str, np.ndarray]:
        """Bilinearly upsample every map to an image size.

        Args:
            size: ``(width, height)`` as PIL's ``Image.size`` gives it (e.g.
                ``maps.upsampled(maps.images[0].size)``), or one int for a square.

        Returns:
            :data:`MAP_KEYS` -> ``height x width`` float32 arrays. Bilinear interpolation
            keeps every value inside the map's own range.
        """
        if isinstance(size, int):
            size = (size, size)
        return {key: resize_map(value, size) for key, value in self.maps().items()}


def sqs_module(model: Any) -> tuple[SpatialQuadSimilarity, bool]:
    """The model's SQS module, or a fresh one from ``model.cfg.sqs``, and whether it is own.

    Args:
        model: An :class:`~sqsnet.models.SQSNet`.

    Returns:
        ``(module, from_model)``; the fresh module (``use_sqs=False``) is on the model's device.
    """
    module = getattr(model, "sqs", None)
    if module is not None:
        return module, True
    s = model.cfg.sqs
    _LOG.info("model has no SQS module (use_sqs=False): computing maps with a fresh "
              "SpatialQuadSimilarity from model.cfg.sqs")
    fresh = SpatialQuadSimilarity(s.tau, s.alpha, s.beta, s.gamma, s.normalize, False)
    device = next(iter(model.parameters()), torch.empty(0)).device
    return fresh.to(device), False


@contextmanager
def branch_output(model: Any, name: str = "local_branch") -> Iterator[list[torch.Tensor]]:
    """Collect a branch's output maps while the model runs (a forward hook, always removed).

    Args:
        model: An :class:`~sqsnet.models.SQSNet`.
        name: ``"local_branch"`` (the CNN) or ``"global_branch"`` (the Swin).

    Yields:
        A list that receives each call's detached ``B x C x H x W`` output; it stays
        empty when the model has no such branch.
    """
    outputs: list[torch.Tensor] = []
    branch = getattr(model, name, None)
    handle = None
    if branch is not None:
        handle = branch.register_forward_hook(
            lambda _m, _i, out: outputs.append(out.detach()))
    try:
        yield outputs
    finally:
        if handle is not None:
            handle.remove()


def _params(module: SpatialQuadSimilarity, out: SQSOutput, own: bool,
            channels: int) -> dict[str, Any]:
    return {
        "tau": float(module.tau),
        "alpha": float(module.alpha),
        "beta": float(module.beta),
        "gamma": float(module.gamma),
        "normalize": module.normalize,
        "grid": tuple(int(v) for v in out.s_ap.shape[-2:]),
        "from_model": own,
        "channels": int(channels),
    }


def _as_maps(out: SQSOutput, margin: float, params: dict[str, Any], branch: str,
             labels: Sequence[str] | None, images: list[Image.Image]) -> QuadMaps:
    hinge = sqs_hinge_map(out.s_ap, out.s_an1, out.s_an2, margin)

    def np2d(t: torch.Tensor) -> np.ndarray:
        return t[0].detach().float().cpu().numpy()

    return QuadMaps(
        s_ap=np2d(out.s_ap), s_an1=np2d(out.s_an1), s_an2=np2d(out.s_an2), r=np2d(out.r),
        hinge=np2d(hinge), loss=float(hinge.mean()), margin=margin,
        labels=list(labels) if labels is not None else None, images=images, params=params,
        branch=branch,
    )


def compute_quad_maps(
    model: Any,
    anchor: ImageLike,
    positive: ImageLike,
    negative1: ImageLike,
    negative2: ImageLike,
    labels: Sequence[str] | None = None,
    local: bool = True,
) -> QuadMaps:
    """Compute the SQS maps of one quad exactly as the model's training call does.

    The images go through the model's eval transform
    (``build_eval_transform(model.cfg.img_size, crop_pct=model.cfg.crop_pct)``), then in one
    batch through ``model.forward_features`` and the model's SQS module
    (``model.sqs(F_A, F_P, F_N1, F_N2)``), in eval mode (dropout off) and under
    ``torch.no_grad``; the model's train/eval mode is restored.

    Args:
        model: An :class:`~sqsnet.models.SQSNet`. Without an SQS module
            (``use_sqs=False``) the maps come from a fresh module built from
            ``model.cfg.sqs`` (see the module docstring).
        anchor: Anchor image (PIL, ``H x W (x 3)`` array or ``C x H x W`` tensor).
        positive: An image of the anchor's class.
        negative1: An image of another class.
        negative2: A second image of another class.
        labels: Optional class names of the four images, for titles.
        local: Also compute the maps of the CNN branch's output before fusion
            (:attr:`QuadMaps.local`; ``None`` for a model without a CNN branch).

    Returns:
        :class:`QuadMaps` with ``H x W`` maps on the model's fused grid.

    Raises:
        ValueError: If ``labels`` does not have four entries.
    """
    if labels is not None and len(labels) != 4:
        raise ValueError(f"labels must name the 4 images of the quad, got {len(labels)}")
    quad = (anchor, positive, negative1, negative2)
    x = prepare_batch(model, quad)  # 4 x C x S x S
    images = [model_view(model, im) for im in quad]  # what the maps cover
    module, own = sqs_module(model)
    margin = float(model.cfg.sqs.margin)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), branch_output(model, "local_branch") as local_maps:
            feats = model.forward_features(x)  # 4 x d3 x H x W, as the training call makes
            sqs = module(feats[0:1], feats[1:2], feats[2:3], feats[3:4])
            local_sqs: SQSOutput | None = None
            lf = torch.cat(local_maps) if (local and local_maps) else None
            if lf is not None and lf.shape[0] == 4:  # A, P, N1, N2 in the batch's order
                local_sqs = module(lf[0:1], lf[1:2], lf[2:3], lf[3:4])
    finally:
        model.train(was_training)
    maps = _as_maps(sqs, margin, _params(module, sqs, own, feats.shape[1]), "fused",
                    labels, images)
    if local_sqs is not None and lf is not None:
        maps.local = _as_maps(local_sqs, margin,
                              _params(module, local_sqs, own, int(lf.shape[1])),
                              "local", labels, images)
    return maps


def overlay_heatmap(
    image: Image.Image,
    heatmap: np.ndarray,
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "viridis",
    alpha: float = 0.5,
    centre: float | None = None,
) -> Image.Image:
    """Blend a colour-mapped heatmap over an image.

    With ``centre`` (a diverging scale, :class:`sqsnet.viz.scales.ColourScale`) values
    ``vmin .. centre`` take the lower half of the colour map and ``centre .. vmax`` the
    upper half, so ``centre`` is drawn in the map's middle colour.

    Args:
        image: PIL image (any mode; converted to RGB).
        heatmap: ``h x w`` map of any size; bilinearly resized to the image.
        vmin: Value mapped to the bottom of the colormap (values below are clipped).
        vmax: Value mapped to the top of the colormap.
        cmap: Matplotlib colormap name.
        alpha: Weight of the heatmap (0 = image only, 1 = heatmap only).
        centre: Value drawn in the colour map's middle colour (``None``: linear).

    Returns:
        PIL RGB image of the same size as ``image``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    rgb = image.convert("RGB")
    heat = resize_map(heatmap, rgb.size)
    if centre is not None and vmin < centre < vmax:
        norm = np.where(heat < centre, 0.5 * (heat - vmin) / (centre - vmin),
                        0.5 + 0.5 * (heat - centre) / (vmax - centre))
    else:
        span = float(vmax) - float(vmin)
        norm = (heat - vmin) / (span if span > 0 else 1.0)
    norm = np.clip(norm, 0.0, 1.0)
    colours = matplotlib.colormaps[cmap](norm)[..., :3]
    base = np.asarray(rgb, dtype=np.float32) / 255.0
    out = (1.0 - alpha) * base + alpha * colours
    return Image.fromarray((np.clip(out, 0, 1) * 255).round().astype(np.uint8), "RGB")
