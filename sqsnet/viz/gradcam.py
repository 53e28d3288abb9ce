"""Grad-CAM of each SQSNet branch, in one forward pass that also gives the logits.

Three places of the network can be asked where they look (``model.gradcam_targets()``):

* ``"local"``: the CNN branch's last used stage (EfficientNet: ``conv_head``; a
  ``features_only`` CNN: the returned stage), NCHW;
* ``"global"``: the Swin branch's ``layers[-1].blocks[-1].norm1`` (NHWC, permuted to NCHW
  by the reshape transform that ``gradcam_targets`` supplies);
* ``"fused"``: the fusion module's output ``F`` (already NCHW), the map SQS and both
  classifiers see.

Grad-CAM explains the *base* classifier (``model(x)``), the only one used at inference. The
maps are those of pytorch-grad-cam's ``GradCAM`` (channel weights = spatially averaged
gradients of the class score, ReLU of the weighted sum, min-max scaled and resized with its
``scale_cam_image``; ``tests/viz/test_gradcam.py`` checks the equality), computed more
cheaply:

* the network runs without autograd up to the target layer; a forward hook turns the
  layer's output into a leaf that requires grad and switches autograd on for the rest, so
  the backward pass only goes from the class scores back to that layer;
* only the gradient with respect to that activation is computed
  (:func:`torch.autograd.grad`), never the parameters' gradients (``.grad`` is untouched);
* the same forward pass gives the logits, so a caller that needs both the prediction and
  its map (:func:`predict_with_gradcam`) runs the model once.

The hook is always removed afterwards, also when something fails, and the model's
train/eval mode is restored (Grad-CAM runs in eval mode).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image
from pytorch_grad_cam.utils.image import scale_cam_image

from sqsnet.viz._images import ImageLike, model_view, prepare_batch
from sqsnet.viz._style import SMALL_PT, new_figure, styled
from sqsnet.viz.similarity import overlay_heatmap

__all__ = [
    "BRANCHES",
    "available_branches",
    "gradcam",
    "gradcam_overlay",
    "plot_gradcam",
    "predict_with_gradcam",
]

_LOG = logging.getLogger(__name__)

BRANCHES: tuple[str, ...] = ("local", "global", "fused")
"""Grad-CAM targets in display order (a single-branch ablation lacks one of the first two)."""

def available_branches(model: Any) -> list[str]:
    """The Grad-CAM targets this model has, in :data:`BRANCHES` order."""
    targets = model.gradcam_targets()
    return [b for b in BRANCHES if b in targets]


def _target_classes(
    target_class: int | Sequence[int] | None, logits: torch.Tensor
) -> torch.Tensor:
    """The class explained for each image (``B`` int64; ``None``: the predicted one)."""
    batch, n_classes = logits.shape
    if target_class is None:
        return logits.detach().argmax(-1)
    if isinstance(target_class, (int, np.integer)):
        classes = [int(target_class)] * batch
    else:
        classes = [int(c) for c in target_class]
    if len(classes) != batch:
        raise ValueError(f"target_class has {len(classes)} entries for {batch} images")
    wrong = [c for c in classes if not 0 <= c < n_classes]
    if wrong:
        raise IndexError(f"target_class {wrong[0]} is not a class of this model "
                         f"(0..{n_classes - 1})")
    return torch.tensor(classes, dtype=torch.long, device=logits.device)


@contextmanager
def _grad_from(layer: torch.nn.Module) -> Iterator[list[torch.Tensor]]:
    """Within the block, a forward pass records ``layer``'s output as a grad-requiring leaf.

    The forward pass must start with autograd off; the hook turns it on for the layers after
    ``layer`` (grad mode is per thread), so only they build a graph. Only the layer's first
    call is recorded (as pytorch-grad-cam uses it). Grad mode and the hook are restored on
    exit.

    Yields:
        A list that holds the leaf (``B x ...``, the layer's output) after the forward pass.
    """
    captured: list[torch.Tensor] = []

    def hook(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor | None:
        if captured:
            return None
        leaf = output.detach().requires_grad_(True)
        captured.append(leaf)
        torch.set_grad_enabled(True)
        return leaf.clone()  # the layers after it may work in place; the leaf stays intact

    grad_mode = torch.is_grad_enabled()
    handle = layer.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()
        torch.set_grad_enabled(grad_mode)


def _cam_maps(activation: torch.Tensor, grad: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Grad-CAM from an activation and its gradient, both ``B x C x h x w``.

    Returns:
        ``B x H x W`` float32 in ``[0, 1]`` for ``size = (W, H)``: the ReLU of the
        gradient-weighted channel sum, min-max scaled and resized as pytorch-grad-cam does.
    """
    acts = activation.detach().float().cpu().numpy()
    grads = grad.detach().float().cpu().numpy()
    weights = np.mean(grads, axis=(2, 3))
    cam = np.maximum((weights[:, :, None, None] * acts).sum(axis=1), 0)
    maps = scale_cam_image(scale_cam_image(cam, size))  # per layer, then the aggregate
    return np.clip(np.nan_to_num(np.asarray(maps, dtype=np.float32), nan=0.0), 0.0, 1.0)


def predict_with_gradcam(
    model: Any,
    images: torch.Tensor,
    branch: str = "fused",
    target_class: int | Sequence[int] | None = None,
) -> tuple[torch.Tensor, np.ndarray]:
    """The logits of a batch and the Grad-CAM maps of one branch, from one forward pass.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` (``model(x)`` returns logits).
        images: ``B x 3 x S x S`` normalised images (the model's eval transform output).
        branch: ``"local"``, ``"global"`` or ``"fused"``.
        target_class: Class to explain: one for all images, one per image, or ``None``
            for each image's predicted class.

    Returns:
        ``(logits, maps)``: ``B x K`` logits (detached, as ``model(x)`` in eval mode) and
        ``B x S x S`` float32 maps in ``[0, 1]``. A map is all zeros where the class score
        does not depend on the layer.

    Raises:
        ValueError: For a branch the model does not have (or whose layer ``model(x)`` does
            not call), or a wrong ``target_class``.
        IndexError: For a target class the model does not have.
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
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _grad_from(layer) as captured:
            logits = model(images)
            if not captured:
                raise ValueError(f"the {branch} Grad-CAM layer ({type(layer).__name__}) is "
                                 "not called by model(x)")
            classes = _target_classes(target_class, logits)
            scores = logits.gather(1, classes[:, None]).sum()
            (grad,) = torch.autograd.grad(scores, captured, allow_unused=True)
    finally:
        model.train(was_training)
    activation = captured[0]
    grad = torch.zeros_like(activation) if grad is None else grad
    if reshape is not None:
        activation, grad = reshape(activation.detach()), reshape(grad)
    size = (images.shape[-1], images.shape[-2])
    return logits.detach(), _cam_maps(activation, grad, size)


def gradcam(
    model: Any,
    images: torch.Tensor,
    branch: str = "fused",
    target_class: int | list[int] | None = None,
) -> np.ndarray:
    """Grad-CAM maps of one branch for a batch (:func:`predict_with_gradcam` without the
    logits; the same arguments and errors).

    Returns:
        ``B x S x S`` float32 maps in ``[0, 1]`` (each min-max scaled, as pytorch-grad-cam
        does) for ``B x 3 x S x S`` images.
    """
    return predict_with_gradcam(model, images, branch, target_class)[1]


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
    flat: Sequence[str] = (),
) -> Figure:
    """Where each branch looks, for a few images.

    Each row is one image: the input, then the Grad-CAM overlay of every available
    branch (local, global, fused) for the class the model predicts. Row titles give the
    predicted label and its probability (and the true label when given: green when right,
    red when wrong). One colour bar gives the scale: each map is min-max scaled per image,
    0 = no evidence for the class, 1 = the most. Drawn at 100 dpi, text >= 11 px.

    Args:
        model: An :class:`~sqsnet.models.SQSNet`.
        pil_images: ``N`` images (PIL, arrays or tensors; any size).
        class_names: Names of the model's classes (default ``model.class_names``).
        true_labels: Optional true class (index or name) of each image.
        branches: Subset of :data:`BRANCHES` to show (default: all the model has).
        figsize: Figure size in inches (default: 2 per panel).
        flat: Branches whose output barely varies over faces
            (:func:`sqsnet.viz.spread.flat_branches`); their column title says the map is
            not about the face.

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
    with styled():
        fig = new_figure(*(figsize or (2.0 * cols + 0.9, 2.2 * n + 0.4)))
        axes = np.asarray(fig.subplots(n, cols, squeeze=False))
        _gradcam_rows(axes, images, shown, cams, names, probs, preds, true_labels, flat)
        bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap="jet"), ax=axes[:, 1:],
                           shrink=0.8, pad=0.02)
        bar.set_label("Grad-CAM, per image (0 none, 1 most)", fontsize=SMALL_PT)
    return fig


def _gradcam_rows(axes: np.ndarray, images: list[Image.Image], shown: list[str],
                  cams: dict[str, np.ndarray], names: list[str], probs: np.ndarray,
                  preds: np.ndarray, true_labels: Sequence[int | str] | None,
                  flat: Sequence[str]) -> None:
    """Fill :func:`plot_gradcam`'s grid: each face, then its map for each branch."""
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
                note = "\n(flat branch:\nnot about the face)" if b in flat else ""
                ax.set_title(f"Grad-CAM: {b}{note}", fontsize=10)
            ax.set_xticks([])
            ax.set_yticks([])
