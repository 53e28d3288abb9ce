"""How FER2013 frames a face, and what cropping photos to that framing is worth.

Two measurements, one script (the photos are made the same way in both):

* **measure** (default): FERPlus training faces (seeded sample, ``--limit``, default 500)
  are upscaled to ``--size`` px (192) and pasted at a random place into 640x480 textured
  photos; the lab's detector (``sqsnet.faces.FaceDetector()``, as ``sqsnet predict`` builds
  it) finds each face. Reported: the box width and height as fractions of the face's frame
  side, the box centre's offset from the frame centre (in frame sides), and the framing that
  reproduces the frame from the box (frame side / box longer side, centre offsets in box
  sides; ``sqsnet.faces.fit_framing``): median, quartiles, 10th/90th percentiles, mean, std.
  ``sqsnet.faces.FER2013_FRAMING`` is set from these medians.
* **--paste**: FERPlus Valid faces (seeded sample, default 300) are upscaled to a random
  120-220 px and pasted at a random place into 640x480 textured photos, then classified by
  ``sqsnet.inference.Predictor`` (detection, eye alignment, framing crop, eval transform,
  model: the path of ``sqsnet predict``, whole-image fallback included) once per framing:
  ``--margins`` (default 0.25, the old default, and 0.0) and ``FER2013_FRAMING``. Each row
  gives the detection rate (largest face found on the pasted face), the accuracy over all
  photos, and the accuracy of the direct 48 px crops of the same faces
  (``Predictor.classify_crops``).

Usage::

    python benchmarks/framing.py [--data-root ROOT] [--limit 500] [--size 192] [--json OUT]
    python benchmarks/framing.py --paste [--data-root ROOT] [--limit 300]
        [--margins 0.25 0.0] [--checkpoint default] [--json OUT]

The data root is ``--data-root``, else ``sqsnet.data.find_data_root("ferplus")``
(``$SQSNET_DATA``, then ``../shared/data/ferplus``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sqsnet.data import FERPlus, find_data_root
from sqsnet.faces import FER2013_FRAMING, FaceDetector, FaceFraming, fit_framing
from sqsnet.inference import Predictor
from sqsnet.utils.runtime import hardware_info

PHOTO_SIZE = (640, 480)
STAT_KEYS = ("median", "p25", "p75", "p10", "p90", "mean", "std")


def textured_photo(rng: np.random.Generator, size: tuple[int, int] = PHOTO_SIZE) -> Image.Image:
    """A ``size`` RGB 'photo' background: smooth colour blobs plus pixel noise."""
    width, height = size
    blobs = rng.integers(30, 226, (6, 8, 3), dtype=np.uint8)
    field = np.asarray(Image.fromarray(blobs).resize((width, height), Image.Resampling.BICUBIC), np.float32)
    noisy = field + rng.normal(0.0, 14.0, field.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def paste_face(face: Image.Image, side: int, rng: np.random.Generator) -> tuple[Image.Image, tuple[int, ...]]:
    """``face`` upscaled to ``side`` px at a random place in a textured photo.

    Returns:
        The photo and the face's frame ``(x0, y0, x1, y1)`` in it.
    """
    photo = textured_photo(rng)
    x = int(rng.integers(0, PHOTO_SIZE[0] - side + 1))
    y = int(rng.integers(0, PHOTO_SIZE[1] - side + 1))
    photo.paste(face.convert("RGB").resize((side, side), Image.Resampling.BICUBIC), (x, y))
    return photo, (x, y, x + side, y + side)


def inside(point: tuple[float, float], frame: tuple[int, ...]) -> bool:
    """Whether ``point`` lies in the box ``frame``."""
    return frame[0] <= point[0] < frame[2] and frame[1] <= point[1] < frame[3]


def stats(values: list[float]) -> dict[str, float | None]:
    """Median, quartiles, 10th/90th percentiles, mean and std (``None`` when empty)."""
    if not values:
        return {k: None for k in STAT_KEYS}
    arr = np.asarray(values, np.float64)
    p10, p25, med, p75, p90 = np.percentile(arr, [10, 25, 50, 75, 90])
    out = {"median": med, "p25": p25, "p75": p75, "p10": p10, "p90": p90,
           "mean": arr.mean(), "std": arr.std()}
    return {k: round(float(v), 4) for k, v in out.items()}


def sample(dataset: FERPlus, limit: int, seed: int) -> list[int]:
    """A seeded sample of ``limit`` indices (all when the split is smaller)."""
    rng = np.random.default_rng(seed)
    n = min(limit, len(dataset))
    return sorted(int(i) for i in rng.choice(len(dataset), n, replace=False))


def photos(dataset: FERPlus, indices: list[int], seed: int,
           sides: tuple[int, int]) -> Iterator[tuple[int, Image.Image, tuple[int, ...]]]:
    """``(index, photo, frame)`` per face; photo ``k`` depends only on ``seed`` and ``k``."""
    for k, i in enumerate(indices):
        rng = np.random.default_rng([seed, k])
        side = int(rng.integers(sides[0], sides[1] + 1))
        photo, frame = paste_face(dataset.load_image(i), side, rng)
        yield i, photo, frame


def measure_face(detector: FaceDetector, photo: Image.Image, frame: tuple[int, ...]) -> dict[str, float] | None:
    """Where the detector's box sits on one face frame (``None``: face not found)."""
    result = detector.detect(photo)
    face = result.largest
    if face is None or not inside(face.center, frame):
        return None
    side = frame[2] - frame[0]
    fit = fit_framing(face.box, frame)
    return {
        "box_width": face.width / side, "box_height": face.height / side,
        "center_dx": (face.center[0] - (frame[0] + frame[2]) / 2) / side,
        "center_dy": (face.center[1] - (frame[1] + frame[3]) / 2) / side,
        "fit_scale": fit.scale, "fit_offset_x": fit.offset_x, "fit_offset_y": fit.offset_y,
    }


def run_measure(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """The box statistics of FERPlus training faces (the ``measure`` mode)."""
    dataset = FERPlus(root, "train")
    indices = sample(dataset, args.limit, args.seed)
    detector = FaceDetector()
    rows: list[dict[str, float]] = []
    for _, photo, frame in photos(dataset, indices, args.seed, (args.size, args.size)):
        row = measure_face(detector, photo, frame)
        if row is not None:
            rows.append(row)
    keys = ("box_width", "box_height", "center_dx", "center_dy", "fit_scale", "fit_offset_x", "fit_offset_y")
    summary = {k: stats([r[k] for r in rows]) for k in keys}
    return {
        "mode": "measure", "split": "train", "faces": len(indices), "face_side": args.size,
        "detected": len(rows), "detection_rate": len(rows) / max(1, len(indices)),
        "backend": detector.backend_name, "stats": summary,
        "fer2013_framing": asdict(FER2013_FRAMING),
    }


def framings(margins: list[float]) -> list[FaceFraming]:
    """The framings compared by ``--paste``: each margin, then :data:`FER2013_FRAMING`."""
    return [FaceFraming.from_margin(m) for m in margins] + [FER2013_FRAMING]


def run_paste(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Accuracy through detection per framing against direct crops (the ``--paste`` mode)."""
    dataset = FERPlus(root, "valid")
    indices = sample(dataset, args.limit, args.seed)
    rows = framings(args.margins)
    predictors = [Predictor(args.checkpoint, detector=FaceDetector(framing=f)) for f in rows]
    names = predictors[0].class_names
    truth = {i: dataset.classes[dataset.targets[i]] for i in indices}
    direct = {i: names[int(p.argmax())] == truth[i] for i, p in
              zip(indices, predictors[0].classify_crops([dataset.load_image(i) for i in indices]))}
    hits: list[list[tuple[int, bool, bool]]] = [[] for _ in rows]  # per framing: (index, found, correct)
    for i, photo, frame in photos(dataset, indices, args.seed, (120, 220)):
        for k, predictor in enumerate(predictors):
            face = predictor.predict(photo)[0]  # largest face, or the whole-image fallback
            found = not face.whole_image and inside(face_center(face.box), frame)
            hits[k].append((i, found, face.label == truth[i]))
    return {
        "mode": "paste", "split": "valid", "faces": len(indices), "checkpoint": str(args.checkpoint),
        "face_sides": [120, 220], "direct_accuracy": sum(direct.values()) / max(1, len(indices)),
        "framings": [paste_row(f, h, direct) for f, h in zip(rows, hits)],
        "backend": predictors[0].detector.backend_name,
    }


def face_center(box: tuple[int, int, int, int]) -> tuple[float, float]:
    """Centre of a box ``(x0, y0, x1, y1)``."""
    return (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0


def paste_row(framing: FaceFraming, hits: list[tuple[int, bool, bool]],
              direct: dict[int, bool]) -> dict[str, Any]:
    """One framing's row: detection rate, accuracy, and direct crops on the same faces."""
    n = max(1, len(hits))
    found = [(i, ok) for i, f, ok in hits if f]
    accuracy = sum(ok for _, _, ok in hits) / n
    direct_all = sum(direct[i] for i, _, _ in hits) / n
    return {
        "framing": framing.label, "scale": framing.scale,
        "offset": [framing.offset_x, framing.offset_y],
        "detection_rate": len(found) / n, "accuracy": accuracy,
        "accuracy_detected": (sum(ok for _, ok in found) / len(found)) if found else None,
        "direct_accuracy_detected": (sum(direct[i] for i, _ in found) / len(found)) if found else None,
        "gap_to_direct_points": round(100 * (accuracy - direct_all), 2),
    }


def fmt(value: float | None, spec: str = ".3f") -> str:
    """A number for the table (``-`` when missing)."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def print_measure(result: dict[str, Any]) -> None:
    """The ``measure`` mode's table."""
    print(f"| FERPlus train faces at {result['face_side']} px in 640x480 photos "
          f"({result['detected']}/{result['faces']} found, {result['backend']}) "
          "| median | p25 to p75 | p10 to p90 | std |")
    print("|---|---|---|---|---|")
    for key, s in result["stats"].items():
        print(f"| {key} | {fmt(s['median'])} | {fmt(s['p25'])} to {fmt(s['p75'])} | "
              f"{fmt(s['p10'])} to {fmt(s['p90'])} | {fmt(s['std'])} |")
    f = result["fer2013_framing"]
    print(f"\nFER2013_FRAMING in sqsnet.faces: scale {f['scale']}, offset ({f['offset_x']}, {f['offset_y']})")


def print_paste(result: dict[str, Any]) -> None:
    """The ``--paste`` mode's table."""
    print(f"| framing ({result['faces']} FERPlus Valid faces, 120-220 px in 640x480, "
          f"{result['checkpoint']}) | detected | accuracy | vs direct crops | "
          "accuracy, detected only | direct, same faces |")
    print("|---|---|---|---|---|---|")
    for row in result["framings"]:
        print(f"| {row['framing']} (scale {row['scale']:g}) | {row['detection_rate']:.1%} | "
              f"{row['accuracy']:.1%} | {row['gap_to_direct_points']:+.1f} pts | "
              f"{fmt(row['accuracy_detected'], '.1%')} | {fmt(row['direct_accuracy_detected'], '.1%')} |")
    print(f"| direct 48 px crops | - | {result['direct_accuracy']:.1%} | - | - | - |")


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paste", action="store_true",
                        help="accuracy of Valid faces pasted into photos, per framing")
    parser.add_argument("--data-root", help="FERPlus folder (default: $SQSNET_DATA or ../shared/data)")
    parser.add_argument("--limit", type=int, help="faces (default 500, --paste 300)")
    parser.add_argument("--size", type=int, default=192, help="face side in the measure mode")
    parser.add_argument("--margins", type=float, nargs="*", default=[0.25, 0.0],
                        help="margin-style framings compared with FER2013_FRAMING (--paste)")
    parser.add_argument("--checkpoint", default="default", help="model for --paste")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_out", help="also write the result here")
    args = parser.parse_args()
    if args.limit is None:
        args.limit = 300 if args.paste else 500
    if args.limit < 1 or args.size < 16:
        parser.error(f"--limit must be >= 1 and --size >= 16, got {args.limit} and {args.size}")
    return args


def main() -> None:
    """Run one mode and print its JSON and table."""
    args = parse_args()
    root = Path(args.data_root) if args.data_root else find_data_root("ferplus")
    if root is None:
        raise SystemExit("framing.py: error: no FERPlus folder found: pass --data-root or set SQSNET_DATA")
    start = time.perf_counter()
    result = run_paste(args, root) if args.paste else run_measure(args, root)
    result.update(seed=args.seed, data_root=str(root), wall_s=round(time.perf_counter() - start, 1),
                  hardware=hardware_info())
    print(json.dumps(result))
    print()
    (print_paste if args.paste else print_measure)(result)
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
