"""Training / evaluation transforms, 5-view TTA and the Mixup/CutMix glue.

Built from ``torchvision.transforms.v2`` and timm building blocks (timm's
:class:`~timm.data.random_erasing.RandomErasing`, :class:`~timm.data.Mixup` and ImageNet
constants). All transforms take a PIL image (any mode; the readers give RGB) or a
``[C, H, W]`` uint8 tensor and return a float tensor ``[in_chans, img_size, img_size]``
normalised with the ImageNet mean/std. Grayscale inputs are replicated to 3 channels.

Colour: FER2013 / FERPlus are grey (replicated to 3 equal channels); photos are mostly
colour. Both transforms keep an image's colour as it comes: a grey-trained model sees colour
only at evaluation, unless training tints its images (``tint``) or evaluation converts every
image to grey (``build_eval_transform(grayscale=True)``), which makes train and eval match
for a grey training set. The training transform's real-photo augmentations (colour and grey,
blur, downscaling, JPEG, the detector box's scale and offset) are in
:mod:`sqsnet.data.photo_augment`; all are off unless ``data.train_transform`` turns them on.

TTA (:func:`tta_views`; :func:`sqsnet.evaluate.tta_predict` averages the model over them)
works on already-normalised batches, so it needs no access to the original images. The five
views are deterministic:

0. identity;
1. horizontal flip;
2. centre zoom: the central ``crop`` (default 90 %) of each side, resized back;
3. shift up-left: the top-left ``crop`` window, resized back (~5 % shift plus zoom);
4. shift down-right: the bottom-right ``crop`` window, resized back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from timm.data import Mixup
from timm.data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.data.random_erasing import RandomErasing
from torchvision import tv_tensors
from torchvision.transforms import v2

from sqsnet.config import is_crop_fraction
from sqsnet.config_checks import check_train_transform
from sqsnet.data.photo_augment import PhotoAugment, ToGrey

__all__ = [
    "IMAGENET_DEFAULT_MEAN",
    "IMAGENET_DEFAULT_STD",
    "EnsureChannels",
    "CenterCropFraction",
    "ToGrey",
    "build_train_transform",
    "build_eval_transform",
    "model_eval_transform",
    "TTA_VIEW_NAMES",
    "tta_views",
    "MixupCutmix",
]

logger = logging.getLogger(__name__)

TTA_VIEW_NAMES: tuple[str, ...] = (
    "identity",
    "hflip",
    "center_zoom",
    "shift_up_left",
    "shift_down_right",
)
"""Names of the five views of :func:`tta_views`, in order."""


class EnsureChannels(torch.nn.Module):
    """Make an image tensor ``[C, H, W]`` have ``channels`` channels.

    1 -> 3 replicates the gray channel, 3 -> 1 converts to luminance, 4 (RGBA) drops
    alpha, 2 (LA) drops alpha first.

    Args:
        channels: 1 or 3.
    """

    def __init__(self, channels: int = 3) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"in_chans must be 1 or 3, got {channels}.")
        self.channels = channels

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Args: img: ``[C, H, W]`` (or ``[..., C, H, W]``). Returns: ``[channels, H, W]``."""
        c = img.shape[-3]
        if c == 4:
            img = img[..., :3, :, :]
        elif c == 2:
            img = img[..., :1, :, :]
        c = img.shape[-3]
        if c == self.channels:
            out = img
        elif c == 1 and self.channels == 3:
            out = img.expand(*img.shape[:-3], 3, *img.shape[-2:]).clone()
        elif c == 3 and self.channels == 1:
            out = v2.functional.rgb_to_grayscale(img, num_output_channels=1)
        else:
            raise ValueError(f"Cannot convert an image with {c} channels to {self.channels}.")
        return tv_tensors.Image(out)


class CenterCropFraction(torch.nn.Module):
    """Keep the central ``crop_pct`` of each side of an image (tensor ``[C, H, W]`` or PIL).

    The fraction, not a pixel size, is fixed, so face crops of any size lose the same
    share of their border (timm's ``crop_pct`` without the resize-up step).

    Args:
        crop_pct: Side fraction kept, ``0 < crop_pct <= 1`` (1 keeps the whole image).
    """

    def __init__(self, crop_pct: float = 1.0) -> None:
        super().__init__()
        _check_crop_pct(crop_pct)
        self.crop_pct = float(crop_pct)

    def forward(self, img: Any) -> Any:
        """Args: img: ``[..., C, H, W]`` or PIL. Returns: ``[..., C, round(H * pct), round(W * pct)]``."""
        if self.crop_pct >= 1.0:
            return img
        h, w = v2.functional.get_size(img)
        size = [max(1, round(h * self.crop_pct)), max(1, round(w * self.crop_pct))]
        return v2.functional.center_crop(img, size)

    def extra_repr(self) -> str:
        return f"crop_pct={self.crop_pct}"


def _check_crop_pct(crop_pct: float) -> float:
    """Return ``crop_pct`` as a float if ``0 < crop_pct <= 1``, else raise ``ValueError``."""
    if not is_crop_fraction(crop_pct):
        raise ValueError(f"crop_pct must be a number in (0, 1], got {crop_pct!r}.")
    return float(crop_pct)


def _mean_std(
    in_chans: int, mean: Sequence[float], std: Sequence[float]
) -> tuple[list[float], list[float]]:
    mean, std = list(mean), list(std)
    if len(mean) != in_chans:
        if in_chans == 1 and len(mean) == 3:
            mean = [sum(mean) / 3.0]
        else:
            raise ValueError(f"mean has {len(mean)} values for in_chans={in_chans}.")
    if len(std) != in_chans:
        if in_chans == 1 and len(std) == 3:
            std = [sum(std) / 3.0]
        else:
            raise ValueError(f"std has {len(std)} values for in_chans={in_chans}.")
    return mean, std


def build_train_transform(
    img_size: int,
    in_chans: int = 3,
    scale: tuple[float, float] = (0.8, 1.0),
    hflip: float = 0.5,
    rotation: float = 10.0,
    color_jitter: float = 0.2,
    random_erasing: float = 0.5,
    mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
    std: Sequence[float] = IMAGENET_DEFAULT_STD,
    ratio: tuple[float, float] = (0.9, 1.0 / 0.9),
    **photo: Any,
) -> Callable[[Any], torch.Tensor]:
    """Training augmentation for face crops.

    Pipeline: to tensor image -> channels to ``in_chans`` -> [detector box jitter] ->
    random rotation (+-``rotation`` degrees, bilinear, black fill) ->
    RandomResizedCrop(``img_size``, ``scale``, near-square ``ratio``) -> horizontal flip
    (p=``hflip``) -> colour jitter (brightness/contrast, + saturation for RGB) -> [grayscale,
    tint, blur, downscale, JPEG] -> float in [0, 1] -> normalise -> timm RandomErasing
    (p=``random_erasing``, per-pixel noise, on the normalised tensor). The bracketed steps
    are the real-photo augmentations (:mod:`sqsnet.data.photo_augment`), off by default.

    Args:
        img_size: Output side in pixels.
        in_chans: 3 (grayscale replicated) or 1.
        scale: Area range of RandomResizedCrop.
        hflip: Probability of a horizontal flip.
        rotation: Maximum absolute rotation in degrees (0 disables).
        color_jitter: Brightness/contrast/saturation jitter strength (0 disables).
        random_erasing: Probability of Random Erasing (0 disables).
        mean: Normalisation mean (3 values are averaged for ``in_chans=1``).
        std: Normalisation std.
        ratio: Aspect ratio range of RandomResizedCrop (faces: close to square).
        **photo: The real-photo settings, fields of
            :class:`~sqsnet.data.photo_augment.PhotoAugment` (``grayscale``, ``tint``,
            ``blur``, ``downscale``, ``jpeg``, ``box_jitter`` and their parameters).

    Returns:
        A callable mapping a PIL image or ``[C, H, W]`` uint8 tensor to a float tensor
        ``[in_chans, img_size, img_size]``.

    Raises:
        ConfigError: An unknown setting or a value out of its range, named as its
            ``data.train_transform`` key.
    """
    check_train_transform(dict(scale=scale, hflip=hflip, rotation=rotation,
                               color_jitter=color_jitter, mean=mean, std=std, ratio=ratio,
                               **photo), where="training transform")
    real = PhotoAugment(**photo)
    mean_l, std_l = _mean_std(in_chans, mean, std)
    ops: list[Callable[[Any], Any]] = [v2.ToImage(), EnsureChannels(in_chans)]
    ops += real.framing_ops()
    if rotation and rotation > 0:
        ops.append(v2.RandomRotation(rotation, interpolation=v2.InterpolationMode.BILINEAR))
    ops.append(v2.RandomResizedCrop(img_size, scale=tuple(scale), ratio=tuple(ratio), antialias=True))
    if hflip and hflip > 0:
        ops.append(v2.RandomHorizontalFlip(hflip))
    if color_jitter and color_jitter > 0:
        ops.append(
            v2.ColorJitter(
                brightness=color_jitter,
                contrast=color_jitter,
                saturation=color_jitter if in_chans == 3 else None,
            )
        )
    ops += real.photo_ops()
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean_l, std_l), v2.ToPureTensor()]
    if random_erasing and random_erasing > 0:
        ops.append(RandomErasing(probability=random_erasing, mode="pixel", device="cpu"))
    return v2.Compose(ops)


def build_eval_transform(
    img_size: int,
    in_chans: int = 3,
    mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
    std: Sequence[float] = IMAGENET_DEFAULT_STD,
    crop_pct: float = 1.0,
    grayscale: bool = False,
) -> Callable[[Any], torch.Tensor]:
    """Deterministic evaluation transform: optional centre crop, then resize to a square.

    Face crops are already centred. With ``crop_pct=1`` (the default) the whole crop is
    resized; a ``crop_pct`` below 1 first keeps the central share of each side, which
    matches the apparent face size of the training crops (``RandomResizedCrop`` with
    scale 0.8-1 keeps about 0.95 of each side on average). Non-square crops are resized
    without keeping the aspect ratio. Colour images stay colour unless ``grayscale``
    (then every image becomes its luminance, replicated to ``in_chans`` channels, as a
    FER2013 face is).

    Args:
        img_size: Output side in pixels.
        in_chans: 3 (grayscale replicated) or 1.
        mean: Normalisation mean.
        std: Normalisation std.
        crop_pct: Side fraction kept by the centre crop (the model's ``crop_pct``).
        grayscale: Convert colour images to grey (for models trained on grey faces).

    Returns:
        A callable mapping a PIL image or ``[C, H, W]`` uint8 tensor to a float tensor
        ``[in_chans, img_size, img_size]``.
    """
    mean_l, std_l = _mean_std(in_chans, mean, std)
    ops: list[Callable[[Any], Any]] = [v2.ToImage(), EnsureChannels(in_chans)]
    if grayscale and in_chans == 3:
        ops.append(ToGrey())
    if _check_crop_pct(crop_pct) < 1.0:
        ops.append(CenterCropFraction(crop_pct))
    ops += [
        v2.Resize((img_size, img_size), antialias=True),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean_l, std_l),
        v2.ToPureTensor(),
    ]
    return v2.Compose(ops)


def model_eval_transform(model_cfg: Any) -> Callable[[Any], torch.Tensor]:
    """The evaluation transform a model's own settings ask for: the one way every caller
    (validation, ``sqsnet eval``, prediction, the app, diagnostics, the figures) builds it.

    Args:
        model_cfg: A :class:`~sqsnet.config.ModelConfig` (``img_size``, ``in_chans``,
            ``crop_pct``, ``eval_grayscale``; the last three default to 3, 1 and off when
            an older config lacks them).

    Returns:
        :func:`build_eval_transform` for those settings.
    """
    return build_eval_transform(
        int(model_cfg.img_size), int(getattr(model_cfg, "in_chans", 3)),
        crop_pct=float(getattr(model_cfg, "crop_pct", 1.0)),
        grayscale=bool(getattr(model_cfg, "eval_grayscale", False)))


def _crop_resize(x: torch.Tensor, top: int, left: int, h: int, w: int) -> torch.Tensor:
    out_h, out_w = x.shape[-2:]
    patch = x[..., top : top + h, left : left + w]
    return F.interpolate(patch, size=(out_h, out_w), mode="bilinear", align_corners=False)


def tta_views(x: torch.Tensor, crop: float = 0.9) -> torch.Tensor:
    """Five deterministic test-time views of a normalised batch.

    Args:
        x: Normalised images ``[B, C, H, W]``.
        crop: Side fraction kept by the zoom/shift views (0 < crop <= 1).

    Returns:
        ``[5, B, C, H, W]``: identity, horizontal flip, centre zoom, shift up-left, shift
        down-right (see :data:`TTA_VIEW_NAMES` and the module docstring).
    """
    if x.ndim != 4:
        raise ValueError(f"tta_views expects a batch [B, C, H, W], got shape {tuple(x.shape)}.")
    if not 0.0 < crop <= 1.0:
        raise ValueError(f"crop must be in (0, 1], got {crop}.")
    h, w = x.shape[-2:]
    ch, cw = max(1, round(h * crop)), max(1, round(w * crop))
    top, left = (h - ch) // 2, (w - cw) // 2
    views = [
        x,
        x.flip(-1),
        _crop_resize(x, top, left, ch, cw),
        _crop_resize(x, 0, 0, ch, cw),
        _crop_resize(x, h - ch, w - cw, ch, cw),
    ]
    return torch.stack(views, dim=0)


class MixupCutmix:
    """Mixup/CutMix via timm, returning mixed targets *and* each sample's dominant label.

    Wraps :class:`timm.data.Mixup` (which mixes sample ``i`` with ``B - 1 - i``, the
    flipped batch). The image mixing is timm's own (``_mix_batch``/``_mix_pair``/
    ``_mix_elem``, which draw from NumPy's global RNG: seed ``numpy.random`` for
    reproducibility); the targets are computed here so that soft (FERPlus probability)
    targets can be mixed too, which timm does not support.

    * ``mixed = lam * p_i + (1 - lam) * p_partner`` where ``p`` is the one-hot vector of a
      hard label or the given distribution. No label smoothing here: the loss smooths every
      target alike (:mod:`sqsnet.models.losses`), and smoothing the mixture equals timm's
      ``mixup_target`` of smoothed labels.
    * ``dominant[i]`` = own hard label if ``lam_i >= 0.5`` else the partner's (SQS mines
      quads with it); the hard labels come with the batch
      (:class:`sqsnet.models.TrainBatch`), never re-derived here.
    * Odd batches: timm needs an even batch, so the first ``B - 1`` samples are mixed among
      themselves (partner ``B - 2 - i``) and the last one is left unmixed (``lam = 1``).

    Args:
        num_classes: Number of classes ``K``.
        mixup_alpha: Beta parameter of Mixup (0 disables Mixup).
        cutmix_alpha: Beta parameter of CutMix (0 disables CutMix).
        prob: Probability of mixing a batch (element/pair in those modes).
        switch_prob: Probability of CutMix instead of Mixup when both are on.
        mode: timm mode: ``batch``, ``pair`` or ``elem``.
        correct_lam: Correct ``lam`` for CutMix boxes clipped by the border.
        cutmix_minmax: timm's min/max CutMix box ratio (overrides ``cutmix_alpha``).
    """

    def __init__(
        self,
        num_classes: int,
        mixup_alpha: float = 0.4,
        cutmix_alpha: float = 0.4,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        mode: str = "batch",
        correct_lam: bool = True,
        cutmix_minmax: tuple[float, float] | None = None,
    ) -> None:
        if mode not in ("batch", "pair", "elem"):
            raise ValueError(f"mode must be 'batch', 'pair' or 'elem', got {mode!r}.")
        self.num_classes = int(num_classes)
        self.mode = mode
        self.last_lam: torch.Tensor | None = None  # [B] mixing weights of the last call
        self.active = (mixup_alpha > 0 or cutmix_alpha > 0 or cutmix_minmax is not None) and prob > 0
        self.mixup = Mixup(  # timm's targets are not used: no smoothing to give it
            mixup_alpha=mixup_alpha,
            cutmix_alpha=cutmix_alpha,
            cutmix_minmax=cutmix_minmax,
            prob=prob,
            switch_prob=switch_prob,
            mode=mode,
            correct_lam=correct_lam,
            label_smoothing=0.0,
            num_classes=num_classes,
        )

    @property
    def enabled(self) -> bool:
        """Whether mixing happens (switch off e.g. for the last epochs)."""
        return self.active and self.mixup.mixup_enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self.mixup.mixup_enabled = bool(value)

    def distributions(self, target: torch.Tensor) -> torch.Tensor:
        """Target distributions ``[B, K]`` from hard ``[B]`` or soft ``[B, K]`` targets."""
        k = self.num_classes
        if target.ndim == 1:
            return F.one_hot(target.long(), k).float()
        if target.ndim == 2 and target.shape[1] == k:
            return target.float()
        raise ValueError(f"targets must be [B] class indices or [B, {k}] distributions, got "
                         f"shape {tuple(target.shape)}.")

    def __call__(
        self, x: torch.Tensor, target: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mix a batch.

        Args:
            x: Images ``[B, C, H, W]`` (not modified; a mixed copy is returned).
            target: Hard labels ``[B]`` (int) or soft targets ``[B, K]`` (rows sum to 1).
            labels: The batch's hard labels ``[B]`` (:attr:`sqsnet.models.TrainBatch.labels`).

        Returns:
            ``(x_mixed [B, C, H, W], mixed_targets [B, K] float32, dominant [B] int64)``.
        """
        b = x.shape[0]
        if target.shape[0] != b or labels.shape[0] != b:
            raise ValueError(f"{b} images but {target.shape[0]} targets and "
                             f"{labels.shape[0]} labels.")
        dist = self.distributions(target).to(x.device)
        hard = labels.long().to(x.device)
        x = x.clone()
        lam = torch.ones(b, device=x.device, dtype=torch.float32)
        n = b - (b % 2)
        partner = torch.arange(b, device=x.device)
        if self.enabled and n >= 2:
            sub = x[:n]  # a view: timm mixes in place
            if self.mode == "batch":
                lam[:n] = float(self.mixup._mix_batch(sub))
            elif self.mode == "pair":
                lam[:n] = self.mixup._mix_pair(sub).view(-1).float()
            else:
                lam[:n] = self.mixup._mix_elem(sub).view(-1).float()
            partner[:n] = torch.arange(n - 1, -1, -1, device=x.device)
        w = lam.unsqueeze(1)
        mixed = w * dist + (1.0 - w) * dist[partner]
        dominant = torch.where(lam >= 0.5, hard, hard[partner])
        self.last_lam = lam
        return x, mixed, dominant
