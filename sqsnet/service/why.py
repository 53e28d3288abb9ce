""""Why X, not Y?": a face's prediction read through one SQS quad built around it.

For a face the model calls ``X`` (its top class) rather than ``Y`` (its runner-up):

* the **anchor** is the face itself;
* the **positive** is the gallery face of class ``X`` nearest to the anchor in the model's
  embedding;
* the **negatives** are the two gallery faces of class ``Y`` nearest to the anchor (the
  hardest negatives the gallery offers: the two ``Y`` faces the model finds most like this
  face).

The embedding is what the base classifier reads: the fused map ``F`` pooled over the grid
(``model.forward_head(model.forward_features(x), pre_logits=True)``), compared by cosine
similarity. The anchor's own picture is never its positive or negative: the caller names
gallery items that are the same picture (the app does so for the shipped examples, whose
manifest says which example face each face of a photo is), and any gallery face whose
embedding is practically the anchor's (cosine similarity at least
:data:`SAME_FACE_SIMILARITY`) is left out too.

The maps come from the model's own SQS module (:func:`sqsnet.viz.compute_quad_maps`); the
page shows the contrast ``S_AP - max(S_AN1, S_AN2)`` over the anchor on a diverging scale
centred on the margin ``m`` (:func:`sqsnet.viz.quad_plots.scale_of`, :data:`WHY_SCALE`), and one
sentence reading it (:func:`read_contrast`): at how many locations the anchor is closer to
the positive than to both negatives, and where and how much the most.

A gallery without a face of ``X`` other than the anchor, or with fewer than two faces of
``Y``, gets one line saying so; nothing is invented. :func:`explain_choice` is the whole
computation for one face (model and gallery given); :meth:`sqsnet.service.LabService.why_not`
runs it for a face of an uploaded photo.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageDraw

from sqsnet.faces import FaceDetector
from sqsnet.service.drawing import FACE_CROP_SIDE, fit
from sqsnet.service.explain import ranked
from sqsnet.service.gallery import GalleryItem
from sqsnet.service.quad import quad_face
from sqsnet.viz import QuadMaps, compute_quad_maps, overlay_heatmap
from sqsnet.viz._images import prepare_batch
from sqsnet.viz.quad_plots import scale_of
from sqsnet.viz.regions import REGION_TITLES, cell_weights
from sqsnet.viz.scales import ColourScale

__all__ = [
    "N_NEGATIVES",
    "SAME_FACE_SIMILARITY",
    "WHY_SCALE",
    "FaceGallery",
    "WhyResult",
    "embed_faces",
    "explain_choice",
    "pick_quad",
    "read_contrast",
    "where_in_face",
]

_LOG = logging.getLogger(__name__)

N_NEGATIVES = 2
"""Negatives of a quad (the SQS module compares the anchor with two)."""
SAME_FACE_SIMILARITY = 0.999
"""Cosine similarity of embeddings at or above which a gallery face is taken to be the
anchor's own picture (and is not used in its quad)."""
WHY_SCALE = "absolute"
"""Colour scale of the contrast map: its whole range -1 .. 1 with white at the margin ``m``
(:mod:`sqsnet.viz.scales`), the same for every face, so two answers compare colour for
colour."""
REGION_CELL_WEIGHT = 0.5
"""A grid cell is said to lie in a face region when at least this share of its footprint
is inside the region's box (:func:`sqsnet.viz.regions.cell_weights`)."""
_BATCH = 32


@dataclass
class WhyResult:
    """The "why X, not Y?" of one face.

    Attributes:
        status: One Markdown line: the quad, or why there is none (or what went wrong).
        predicted: ``X``, the face's top class (``None`` when not computed).
        runner_up: ``Y``, its second class.
        probabilities: The face's class probabilities.
        faces: ``(image, caption)`` of the anchor, the positive and the two negatives.
        items: The gallery items used as positive, negative 1 and negative 2.
        similarities: Cosine similarity of each of ``items`` to the anchor's embedding.
        maps: The quad's SQS maps (:class:`~sqsnet.viz.QuadMaps`).
        overlay: The contrast over the anchor, its largest cell outlined.
        scale: The colour scale of ``overlay`` (for its colour bar).
        sentence: One sentence reading the contrast map (Markdown).
        available: A quad was formed and its maps drawn.
        error: ``status`` describes bad input or a failure.
    """

    status: str
    predicted: str | None = None
    runner_up: str | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    faces: list[tuple[Image.Image, str]] = field(default_factory=list)
    items: list[GalleryItem] = field(default_factory=list)
    similarities: list[float] = field(default_factory=list)
    maps: QuadMaps | None = None
    overlay: Image.Image | None = None
    scale: ColourScale | None = None
    sentence: str = ""
    available: bool = False
    error: bool = False

    @property
    def title(self) -> str:
        """``"Why happiness, not neutral?"`` (``"Why X, not Y?"`` before a prediction)."""
        if self.predicted and self.runner_up:
            return f"Why {self.predicted}, not {self.runner_up}?"
        return "Why X, not Y?"


def embed_faces(model: torch.nn.Module, faces: Sequence[Image.Image],
                ) -> tuple[np.ndarray, np.ndarray]:
    """The model's embedding (L2-normalised) and class probabilities of face crops.

    One pass per batch, in eval mode without gradients (the mode is restored); the
    embedding is the pooled fused map the base classifier reads.

    Args:
        model: An :class:`~sqsnet.models.SQSNet`.
        faces: Face crops (any size; the model's eval transform is applied).

    Returns:
        ``(N x d float32 unit vectors, N x K float32 probabilities)``.
    """
    k = int(getattr(model, "num_classes", 0))
    if not faces:
        return np.zeros((0, 0), np.float32), np.zeros((0, k), np.float32)
    was_training = model.training
    model.eval()
    vecs, probs = [], []
    try:
        with torch.no_grad():
            for start in range(0, len(faces), _BATCH):
                x = prepare_batch(model, faces[start:start + _BATCH])
                fmap = model.forward_features(x)  # type: ignore[operator]
                pooled = model.forward_head(fmap, pre_logits=True)  # type: ignore[operator]
                logits = model.forward_head(fmap)  # type: ignore[operator]
                vecs.append(torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy())
                probs.append(logits.float().softmax(-1).cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(vecs).astype(np.float32), np.concatenate(probs).astype(np.float32)


@dataclass
class FaceGallery:
    """The labelled gallery's faces and their embeddings under one model.

    Attributes:
        items: The labelled gallery items (unlabelled uploads are left out).
        faces: Their face crops (a photo's largest face; a crop as it is).
        vectors: ``N x d`` unit embeddings (:func:`embed_faces`).
    """

    items: list[GalleryItem]
    faces: list[Image.Image]
    vectors: np.ndarray

    @classmethod
    def build(cls, model: torch.nn.Module, gallery: Sequence[GalleryItem],
              detector: FaceDetector | None = None) -> FaceGallery:
        """Embed the labelled items of a gallery (an unreadable one is logged and skipped).

        Args:
            model: The model whose embedding is used.
            gallery: The gallery (items without a label are left out).
            detector: Finds the face in items that are photos, not crops (``None``: every
                item is used whole).
        """
        items, faces = [], []
        for item in gallery:
            if item.label is None:
                continue
            try:
                if detector is None or item.face_crop:
                    face = Image.open(item.path).convert("RGB")
                else:
                    face, _ = quad_face(detector, item.path, "gallery", is_crop=False)
            except Exception as exc:  # one broken file must not lose the gallery
                _LOG.warning("why-not gallery: skipping %s (%s)", item.path, exc)
                continue
            items.append(item)
            faces.append(face)
        vectors, _ = embed_faces(model, faces)
        return cls(items, faces, vectors)

    def count(self, label: str) -> int:
        """How many faces of a class the gallery holds."""
        return sum(it.label == label for it in self.items)


def pick_quad(anchor: np.ndarray, gallery: FaceGallery, predicted: str, runner_up: str,
              exclude: Collection[int] = ()) -> tuple[list[int], list[float], str]:
    """Indices of the positive and the two negatives for an anchor embedding.

    Args:
        anchor: The anchor's unit embedding (``d``).
        gallery: The embedded gallery.
        predicted: ``X``: the positive's class.
        runner_up: ``Y``: the negatives' class.
        exclude: Indices of gallery items never used (the anchor's own picture).

    Returns:
        ``([positive, negative 1, negative 2], their cosine similarities, "")``, nearest
        first among each class; or ``([], [], why)`` with one line saying what the gallery
        lacks.
    """
    sims = gallery.vectors @ np.asarray(anchor, dtype=np.float32) if len(gallery.items) \
        else np.zeros(0, np.float32)
    skip = set(exclude)

    def nearest(label: str, n: int) -> list[int]:
        idx = [i for i, it in enumerate(gallery.items)
               if it.label == label and i not in skip and sims[i] < SAME_FACE_SIMILARITY]
        return sorted(idx, key=lambda i: -float(sims[i]))[:n]

    positives, negatives = nearest(predicted, 1), nearest(runner_up, N_NEGATIVES)
    missing = []
    if not positives:
        missing.append(f"no face of **{predicted}** other than this one (the positive)")
    if len(negatives) < N_NEGATIVES:
        have = len(negatives)
        missing.append(f"{'only ' + str(have) if have else 'no'} face{'s' if have != 1 else ''}"
                       f" of **{runner_up}** ({N_NEGATIVES} are needed as the negatives)")
    if missing:
        return [], [], ("No quad: the gallery has " + " and ".join(missing)
                        + "; add labelled faces with --gallery.")
    chosen = positives + negatives
    return chosen, [float(sims[i]) for i in chosen], ""


def where_in_face(cell: tuple[int, int], grid: tuple[int, int], crop_pct: float = 1.0) -> str:
    """Name the part of an aligned face a grid cell covers.

    A cell with at least :data:`REGION_CELL_WEIGHT` of its footprint in one of the fixed
    face regions (:mod:`sqsnet.viz.regions`: eyes and brows, mouth) is named by it; any
    other by its third of the face (``"the upper left"``, ``"the middle centre"``, ...;
    left and right as the picture shows them).

    Args:
        cell: ``(row, column)``, 0-based.
        grid: ``(H, W)`` of the map.
        crop_pct: Side fraction of the face the model sees (``model.cfg.crop_pct``).
    """
    r, c = int(cell[0]), int(cell[1])
    weights = cell_weights(grid, crop_pct)
    for region in ("mouth", "eyes_brows"):
        if weights[region][r, c] >= REGION_CELL_WEIGHT:
            return f"the {REGION_TITLES[region]}"
    h, w = int(grid[0]), int(grid[1])
    rows = ("upper", "middle", "lower")[min(2, 3 * r // h)]
    cols = ("left", "centre", "right")[min(2, 3 * c // w)]
    return f"the {rows} {cols} of the face"


def read_contrast(maps: QuadMaps, predicted: str, runner_up: str,
                  crop_pct: float = 1.0) -> str:
    """One sentence reading a quad's contrast map ``S_AP - max(S_AN1, S_AN2)``.

    It states at how many of the grid's locations the anchor is closer to the positive
    than to both negatives (contrast above 0), which location is the most so and by how
    much (its cell, its part of the face: :func:`where_in_face`), and how many locations
    are still below the margin ``m``.

    Args:
        maps: The quad's maps.
        predicted: The positive's class (``X``).
        runner_up: The negatives' class (``Y``).
        crop_pct: Side fraction of the face the model sees (for naming the region).
    """
    contrast = np.asarray(maps.contrast, dtype=np.float64)
    h, w = contrast.shape
    r, c = (int(v) for v in np.unravel_index(int(np.argmax(contrast)), contrast.shape))
    top = float(contrast[r, c])
    closer = int((contrast > 0).sum())
    below = int((contrast < maps.margin).sum())
    place = (f"{where_in_face((r, c), (h, w), crop_pct)} (row {r + 1}, column {c + 1} of the "
             f"{h} x {w} grid)")
    if closer == 0:
        return (f"At none of the {h * w} locations is this face closer to the {predicted} "
                f"positive than to both {runner_up} negatives (contrast at most {top:.2f}, "
                f"highest at {place}): this quad gives no place where {predicted} beats "
                f"{runner_up}.")
    return (f"This face is closer to the {predicted} positive than to both {runner_up} "
            f"negatives at {closer} of {h * w} locations, most at {place}, where "
            f"S_AP - max(S_AN1, S_AN2) = {top:.2f} (mean over the face "
            f"{float(contrast.mean()):.2f}; {below} of {h * w} locations below the margin "
            f"m = {maps.margin:g}).")


def _overlay(maps: QuadMaps, scale: ColourScale) -> Image.Image:
    """The contrast over the anchor (as the model saw it), its largest cell outlined."""
    face = fit(maps.images[0], FACE_CROP_SIDE)
    contrast = maps.contrast
    image = overlay_heatmap(face, maps.upsampled(face.size)["contrast"], scale.vmin, scale.vmax,
                            cmap=scale.cmap, centre=scale.centre, alpha=0.6)
    h, w = contrast.shape
    r, c = np.unravel_index(int(np.argmax(contrast)), contrast.shape)
    sx, sy = face.width / w, face.height / h
    ImageDraw.Draw(image).rectangle(
        (round(c * sx), round(r * sy), round((c + 1) * sx) - 1, round((r + 1) * sy) - 1),
        outline=(0, 0, 0), width=max(2, face.width // 100))
    return image


def explain_choice(
    model: torch.nn.Module,
    face: Image.Image,
    gallery: FaceGallery,
    probabilities: Mapping[str, float] | None = None,
    anchor_caption: str = "this face",
    same_picture: Collection[str] = (),
) -> WhyResult:
    """"Why X, not Y?" for one face crop (see the module docstring); never raises for a
    gallery too small, which it reports in ``status``.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` (its SQS module computes the maps).
        face: The face crop (the anchor).
        gallery: The embedded gallery (:meth:`FaceGallery.build`, with the same model).
        probabilities: The face's class probabilities when already known (else computed).
        anchor_caption: How the anchor is named in its caption.
        same_picture: Paths of gallery items that are the anchor's own picture (never used).

    Returns:
        A :class:`WhyResult`.

    Raises:
        ValueError: The model has fewer than two classes.
    """
    names = list(getattr(model, "class_names", None) or [])
    vectors, probs = embed_faces(model, [face])
    if probabilities is None:
        if len(names) != probs.shape[1]:
            names = [str(k) for k in range(probs.shape[1])]
        probabilities = {n: float(p) for n, p in zip(names, probs[0])}
    order = ranked(probabilities)
    if len(order) < 2:
        raise ValueError(f"'why X, not Y' needs a model with at least two classes, got "
                         f"{len(order)}")
    (x, px), (y, py) = order[0], order[1]
    result = WhyResult(status="", predicted=x, runner_up=y, probabilities=dict(probabilities))
    own = {i for i, it in enumerate(gallery.items) if it.path in set(same_picture)}
    chosen, sims, why = pick_quad(vectors[0], gallery, x, y, own)
    if not chosen:
        result.status = why
        return result
    items = [gallery.items[i] for i in chosen]
    labels = [x, x, y, y]
    maps = compute_quad_maps(model, face, *(gallery.faces[i] for i in chosen), labels=labels)
    scale = scale_of(maps, "contrast", WHY_SCALE)
    crop_pct = float(getattr(getattr(model, "cfg", None), "crop_pct", 1.0))
    shown = [fit(im, FACE_CROP_SIDE) for im in maps.images]
    captions = [f"anchor: {anchor_caption}, {x} {px:.0%}",
                f"positive: {x}, similarity {sims[0]:.2f}",
                f"negative 1: {y}, similarity {sims[1]:.2f}",
                f"negative 2: {y}, similarity {sims[2]:.2f}"]
    result.faces = list(zip(shown, captions))
    result.items, result.similarities, result.maps, result.scale = items, sims, maps, scale
    result.overlay = _overlay(maps, scale)
    result.sentence = read_contrast(maps, x, y, crop_pct)
    result.available = True
    result.status = (f"**{result.title}** The model gives {x} {px:.0%} and {y} {py:.0%}. "
                     f"Quad: this face as the anchor, the nearest {x} face of the gallery as "
                     f"the positive, its two nearest {y} faces as the negatives (similarity: "
                     "cosine of the model's embeddings).")
    return result
