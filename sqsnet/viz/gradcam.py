"""Grad-CAM of each SQSNet branch, via pytorch-grad-cam.

Three places of the network can be asked where they look (``model.gradcam_targets()``):

* ``"local"``: the CNN branch's last used stage (EfficientNet: ``conv_head``; a
  ``features_only`` CNN: the returned stage), NCHW;
* ``"global"``: the Swin branch's ``layers[-1].blocks[-1].norm1`` (NHWC, permuted to NCHW
  by the reshape transform that ``gradcam_targets`` supplies);
* ``"fused"``: the fusion module's output ``F`` (already NCHW), the map SQS and both
  classifiers see.

Grad-CAM explains the *base* classifier (``model(x)``), the only one used at inference.
Hooks are always removed afterwards, also when something fails; parameter gradients that
the backward pass leaves behind are cleared (``.grad = None``) and the model's train/eval
mode is restored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from sqsnet.viz._images import ImageLike, model_view, prepare_batch
from sqsnet.viz.similarity import overlay_heatmap

__all__ = ["BRANCHES", "available_branches", "gradcam", "gradcam_overlay", "plot_gradcam"]

_LOG = logging.getLogger(__name__)

BRANCHES: tuple[str, ...] = ("local", "global", "fused")
"""Grad-CAM targets in display order (a single-branch ablation lacks one of the first two)."""


def available_branches(model: Any) -> list[str]:
    """The Grad-CAM targets this model has, in :data:`BRANCHES` order."""
    targets = model.gradcam_targets()
    return [b for b in BRANCHES if b in targets]


def _targets(
    target_class: int | Sequence[int] | None, batch: int
) -> list[ClassifierOutputTarget] | None:
    if target_class is None:
        return None
    if isinstance(target_class, (int, np.integer)):
        return [ClassifierOutputTarget(int(target_class))] * batch
    classes = [int(c) for c in target_class]
    if len(classes) != batch:
        raise ValueError(f"target_class has {len(classes)} entries for {batch} images")
    return [ClassifierOutputTarget(c) for c in classes]


def gradcam(
    model: Any,
    images: torch.Tensor,
    branch: str = "fused",
    target_class: int | list[int] | None = None,
) -> np.ndarray:
    """Grad-CAM maps of one branch for a batch.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` (``model(x)`` returns logits).
        images: ``B x 3 x S x S`` normalised images (the model's eval transform output).
        branch: ``"local"``, ``"global"`` or ``"fused"``.
        target_class: Class to explain: one for all images, one per image, or ``None``
            for each image's predicted class.

    Returns:
        ``B x S x S`` float32 maps in ``[0, 1]`` (each min-max scaled by pytorch-grad-cam).

    Raises:
        ValueError: For a branch the model does not have, or a wrong ``target_class``.
    """
    targets = model.gradcam_targets()
    if branch not in targets:
        raise ValueError(
            f"unknown or absent Grad-CAM branch '{branch}': this model has "
            f"{', '.join(t for t in BRANCHES if t in targets)}"
        )
    if images.ndim != 4:
        raise ValueError(f"images must be B x C x S x S, got shape {tuple(images.shape)}")
    layer, reshape = targets[branch]
    cam_targets = _targets(target_class, images.shape[0])
    was_training = model.training
    cam = GradCAM(model=model, target_layers=[layer], reshape_transform=reshape)
    try:
        with torch.enable_grad():
            maps = cam(input_tensor=images, targets=cam_targets)
    finally:
        cam.activations_and_grads.release()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float32), nan=0.0)
    return np.clip(maps, 0.0, 1.0)


def gradcam_overlay(image: Image.Image, cam_map: np.ndarray, alpha: float = 0.5) -> Image.Image:
    """Overlay a Grad-CAM map (jet colormap, 0..1) on an image.

    Args:
        image: PIL image.
        cam_map: ``h x w`` map in ``[0, 1]`` (resized bilinearly to the image).
        alpha: Weight of the heatmap.

    Returns:
        PIL RGB image of the image's size.
    """
    return overlay_heatmap(image, cam_map, vmin=0.0, vmax=1.0, cmap="jet", alpha=alpha)


def plot_gradcam(
    model: Any,
    pil_images: Sequence[ImageLike],
    class_names: Sequence[str] | None = None,
    true_labels: Sequence[int | str] | None = None,
    branches: Sequence[str] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Where each branch looks, for a few images.

    Each row is one image: the input, then the Grad-CAM overlay of every available
    branch (local, global, fused) for the class the model predicts. Row titles give the
    predicted label and its probability (and the true label when given: green when right,
    red when wrong).

    Args:
        model: An :class:`~sqsnet.models.SQSNet`.
        pil_images: ``N`` images (PIL, arrays or tensors; any size).
        class_names: Names of the model's classes (default ``model.class_names``).
        true_labels: Optional true class (index or name) of each image.
        branches: Subset of :data:`BRANCHES` to show (default: all the model has).
        figsize: Figure size (default: 2.4 inches per panel).

    Returns:
        A :class:`matplotlib.figure.Figure`.
    """
    if len(pil_images) == 0:
        raise ValueError("plot_gradcam needs at least one image")
    names = list(class_names) if class_names is not None else list(model.class_names)
    shown = list(branches) if branches is not None else available_branches(model)
    x = prepare_batch(model, list(pil_images))
    images = [model_view(model, im) for im in pil_images]  # what the maps cover
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            probs = model(x).float().softmax(-1).cpu().numpy()
    finally:
        model.train(was_training)
    preds = probs.argmax(1)
    cams = {b: gradcam(model, x, b, target_class=[int(p) for p in preds]) for b in shown}
    n, cols = len(images), 1 + len(shown)
    fig = Figure(figsize=figsize or (2.4 * cols, 2.5 * n), layout="constrained")
    axes = np.asarray(fig.subplots(n, cols, squeeze=False))
    for i, img in enumerate(images):
        pred = names[int(preds[i])] if int(preds[i]) < len(names) else str(preds[i])
        title = f"pred {pred} ({probs[i, preds[i]]:.2f})"
        colour = "black"
        if true_labels is not None:
            true = true_labels[i]
            true_name = names[int(true)] if isinstance(true, (int, np.integer)) else str(true)
            title = f"true {true_name}\n{title}"
            colour = "tab:green" if true_name == pred else "tab:red"
        ax = axes[i, 0]
        ax.imshow(img)
        ax.set_title(title, fontsize=9, color=colour)
        ax.set_xticks([])
        ax.set_yticks([])
        for j, b in enumerate(shown, start=1):
            ax = axes[i, j]
            ax.imshow(gradcam_overlay(img, cams[b][i]))
            if i == 0:
                ax.set_title(f"Grad-CAM: {b}", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
    return fig
