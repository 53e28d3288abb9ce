"""Per-location Spatial Quad-Similarity maps of one quad, for people to look at.

For an anchor ``A``, a positive ``P`` (same class) and two negatives ``N1``, ``N2``
:func:`compute_quad_maps` runs the model's own four-pass training call
(:meth:`~sqsnet.models.SQSNet.forward_train_quads`) in eval mode without gradients and
returns, on the model's fused grid ``H x W``:

* ``S_AP``, ``S_AN1``, ``S_AN2``: ``exp(-||a_ij - x_ij||^2 / tau)`` in ``(0, 1]``; 1 where
  the two fused feature vectors at that location coincide;
* ``R = alpha * S_AP - beta * (S_AN1 + S_AN2)``: the refinement map that scales the anchor
  (``A_hat = A + gamma * R * A``), in ``[-2 beta, alpha]``;
* the hinge map ``relu(m + S_AN1 - S_AP) + relu(m + S_AN2 - S_AP)``, whose mean is this
  quad's ``L_SQS``.

Because the maps come from the SQS module inside the model (with its own ``tau``,
``alpha``, ``beta`` and normalisation), they are exactly what training optimises. A model
built with ``use_sqs=False`` has no SQS module; its maps are then computed with a fresh
:class:`~sqsnet.models.sqs.SpatialQuadSimilarity` built from ``model.cfg.sqs`` on the same
fused maps (``QuadMaps.params["from_model"]`` is ``False``): they show how the fused
features of that model would look to SQS, not anything it was trained with.

:func:`plot_quad_maps` draws the four faces and the five maps over the anchor;
:func:`overlay_heatmap` is the building block for any single overlay (the app uses it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from sqsnet.models.sqs import SpatialQuadSimilarity, SQSOutput, sqs_hinge_map
from sqsnet.viz._images import ImageLike, model_view, prepare_batch, resize_map

__all__ = [
    "MAP_KEYS",
    "QuadMaps",
    "compute_quad_maps",
    "overlay_heatmap",
    "plot_quad_maps",
]

_LOG = logging.getLogger(__name__)

MAP_KEYS: tuple[str, ...] = ("s_ap", "s_an1", "s_an2", "r", "hinge")
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
        params: ``tau``, ``alpha``, ``beta``, ``gamma``, ``normalize``, ``grid`` (H, W) and
            ``from_model`` (False when the model had no SQS module, see module docs).
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

    @property
    def grid(self) -> tuple[int, int]:
        """``(H, W)`` of the maps."""
        return int(self.s_ap.shape[0]), int(self.s_ap.shape[1])

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
        """The five maps at grid resolution, keyed as :data:`MAP_KEYS`."""
        return {key: getattr(self, key) for key in MAP_KEYS}

    def upsampled(self, size: tuple[int, int] | int) -> dict[str, np.ndarray]:
        """Bilinearly upsample every map to an image size.

        Args:
            size: ``(width, height)`` as PIL's ``Image.size`` gives it (e.g.
                ``maps.upsampled(maps.images[0].size)``), or one int for a square.

        Returns:
            ``{"s_ap", "s_an1", "s_an2", "r", "hinge"}`` -> ``height x width`` float32
            arrays. Bilinear interpolation keeps every value inside the map's own range.
        """
        if isinstance(size, int):
            size = (size, size)
        return {key: resize_map(value, size) for key, value in self.maps().items()}


def _sqs_module(model: Any) -> tuple[SpatialQuadSimilarity, bool]:
    """The model's SQS module, or a fresh one from ``model.cfg.sqs`` (and whether it is own)."""
    module = getattr(model, "sqs", None)
    if module is not None:
        return module, True
    s = model.cfg.sqs
    _LOG.info("model has no SQS module (use_sqs=False): computing maps with a fresh "
              "SpatialQuadSimilarity from model.cfg.sqs")
    fresh = SpatialQuadSimilarity(s.tau, s.alpha, s.beta, s.gamma, s.normalize, False)
    return fresh, False


def compute_quad_maps(
    model: Any,
    anchor: ImageLike,
    positive: ImageLike,
    negative1: ImageLike,
    negative2: ImageLike,
    labels: Sequence[str] | None = None,
) -> QuadMaps:
    """Compute the SQS maps of one quad exactly as the model's training call does.

    The images go through the model's eval transform
    (``build_eval_transform(model.cfg.img_size, crop_pct=model.cfg.crop_pct)``) and then through
    ``model.forward_train_quads(a, p, n1, n2, target)`` with a dummy target, in eval mode
    (dropout off) and under ``torch.no_grad``; the model's train/eval mode is restored.

    Args:
        model: An :class:`~sqsnet.models.SQSNet`. Without an SQS module
            (``use_sqs=False``) the maps come from a fresh module built from
            ``model.cfg.sqs`` (see the module docstring).
        anchor: Anchor image (PIL, ``H x W (x 3)`` array or ``C x H x W`` tensor).
        positive: An image of the anchor's class.
        negative1: An image of another class.
        negative2: A second image of another class.
        labels: Optional class names of the four images, for titles.

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
    module, own = _sqs_module(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if own:
                target = torch.zeros(1, dtype=torch.long, device=x.device)
                out = model.forward_train_quads(x[0:1], x[1:2], x[2:3], x[3:4], target)
                sqs: SQSOutput | None = out.sqs
                if sqs is None:  # pragma: no cover - forward_train_quads always has quads
                    raise RuntimeError("the model's training call returned no SQS maps")
            else:
                feats = model.forward_features(x)
                sqs = module.to(feats.device)(feats[0:1], feats[1:2], feats[2:3], feats[3:4])
            margin = float(model.cfg.sqs.margin)
            hinge = sqs_hinge_map(sqs.s_ap, sqs.s_an1, sqs.s_an2, margin)
            loss = float(hinge.mean())
    finally:
        model.train(was_training)

    def np2d(t: torch.Tensor) -> np.ndarray:
        return t[0].detach().float().cpu().numpy()

    params = {
        "tau": float(module.tau),
        "alpha": float(module.alpha),
        "beta": float(module.beta),
        "gamma": float(module.gamma),
        "normalize": module.normalize,
        "grid": tuple(int(v) for v in sqs.s_ap.shape[-2:]),
        "from_model": own,
    }
    return QuadMaps(
        s_ap=np2d(sqs.s_ap), s_an1=np2d(sqs.s_an1), s_an2=np2d(sqs.s_an2), r=np2d(sqs.r),
        hinge=np2d(hinge), loss=loss, margin=margin,
        labels=list(labels) if labels is not None else None, images=images, params=params,
    )


def overlay_heatmap(
    image: Image.Image,
    heatmap: np.ndarray,
    vmin: float = 0.0,
    vmax: float = 1.0,
    cmap: str = "viridis",
    alpha: float = 0.5,
) -> Image.Image:
    """Blend a colour-mapped heatmap over an image.

    Args:
        image: PIL image (any mode; converted to RGB).
        heatmap: ``h x w`` map of any size; bilinearly resized to the image.
        vmin: Value mapped to the bottom of the colormap (values below are clipped).
        vmax: Value mapped to the top of the colormap.
        cmap: Matplotlib colormap name.
        alpha: Weight of the heatmap (0 = image only, 1 = heatmap only).

    Returns:
        PIL RGB image of the same size as ``image``.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    rgb = image.convert("RGB")
    heat = resize_map(heatmap, rgb.size)
    span = float(vmax) - float(vmin)
    norm = np.clip((heat - vmin) / (span if span > 0 else 1.0), 0.0, 1.0)
    colours = matplotlib.colormaps[cmap](norm)[..., :3]
    base = np.asarray(rgb, dtype=np.float32) / 255.0
    out = (1.0 - alpha) * base + alpha * colours
    return Image.fromarray((np.clip(out, 0, 1) * 255).round().astype(np.uint8), "RGB")


def _blank(ax: Any) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def plot_quad_maps(maps: QuadMaps, figsize: tuple[float, float] | None = None) -> Figure:
    """Draw a quad and its SQS maps.

    Top row: the four faces (anchor, positive, negative 1, negative 2) titled with their
    labels, and the SQS settings. Bottom row, each over the anchor: ``S_AP``, ``S_AN1``,
    ``S_AN2`` on one shared 0..1 scale (one colorbar), ``R`` on its own symmetric
    diverging scale, and the hinge map (0 .. ``2(m + 1)``) with its mean in the title.
    The figure title gives ``L_SQS``.

    Args:
        maps: From :func:`compute_quad_maps`.
        figsize: Matplotlib figure size in inches (default ``(14, 6)``).

    Returns:
        A :class:`matplotlib.figure.Figure` (not attached to pyplot; nothing is shown).
    """
    fig = Figure(figsize=figsize or (14, 6.2), layout="constrained")
    # Two subfigures so that the colorbars of the bottom row do not shift the faces.
    top, bottom = fig.subfigures(2, 1)
    face_axes = top.subplots(1, 5)
    map_axes = bottom.subplots(1, 5)
    images = list(maps.images)
    if not images:
        h, w = maps.grid
        images = [Image.new("RGB", (w * 16, h * 16), (128, 128, 128))] * 4
    labels = list(maps.labels) if maps.labels else [None] * 4
    for ax, img, role, label in zip(face_axes[:4], images, ROLES, labels):
        ax.imshow(img)
        ax.set_title(f"{role}\n{label}" if label else role, fontsize=10)
        _blank(ax)
    info = face_axes[4]
    info.axis("off")
    p = maps.params
    lines = [
        f"grid {maps.grid[0]} x {maps.grid[1]}",
        f"tau = {p.get('tau', float('nan')):.3g}",
        f"alpha = {p.get('alpha', float('nan')):.3g}, beta = {p.get('beta', float('nan')):.3g}",
        f"margin m = {maps.margin:.3g}",
        f"normalize = {p.get('normalize', '?')}",
    ]
    if p.get("from_model") is False:
        lines.append("(model has no SQS module:\n fresh module from cfg)")
    info.text(0.0, 0.5, "\n".join(lines), va="center", ha="left", fontsize=10,
              family="monospace", transform=info.transAxes)

    anchor = images[0]
    up = maps.upsampled(anchor.size)
    extent = (-0.5, anchor.size[0] - 0.5, anchor.size[1] - 0.5, -0.5)
    gray = anchor.convert("L")
    shared = None
    titles = {"s_ap": "S_AP", "s_an1": "S_AN1", "s_an2": "S_AN2"}
    for ax, key in zip(map_axes[:3], ("s_ap", "s_an1", "s_an2")):
        ax.imshow(gray, cmap="gray", extent=extent)
        shared = ax.imshow(up[key], cmap="viridis", vmin=0.0, vmax=1.0, alpha=0.6,
                           extent=extent)
        ax.set_title(f"{titles[key]} (mean {float(getattr(maps, key).mean()):.2f})",
                     fontsize=10)
        _blank(ax)
    bottom.colorbar(shared, ax=list(map_axes[:3]), shrink=0.8, label="similarity")
    lim = maps.r_limit
    ax = map_axes[3]
    ax.imshow(gray, cmap="gray", extent=extent)
    im_r = ax.imshow(up["r"], cmap="RdBu_r", vmin=-lim, vmax=lim, alpha=0.6, extent=extent)
    ax.set_title(f"R (mean {float(maps.r.mean()):.2f})", fontsize=10)
    _blank(ax)
    bottom.colorbar(im_r, ax=ax, shrink=0.8)
    ax = map_axes[4]
    ax.imshow(gray, cmap="gray", extent=extent)
    im_h = ax.imshow(up["hinge"], cmap="magma", vmin=0.0, vmax=maps.hinge_limit, alpha=0.6,
                     extent=extent)
    ax.set_title(f"hinge (mean {float(maps.hinge.mean()):.3f})", fontsize=10)
    _blank(ax)
    bottom.colorbar(im_h, ax=ax, shrink=0.8)
    fig.suptitle(f"L_SQS = {maps.loss:.4f}   (m = {maps.margin:g})")
    return fig
