"""Per-photo latency of ``sqsnet predict``'s path: decode, detection, crop and model.

FERPlus Valid faces (seeded sample, ``--photos``, default 40) are upscaled to a random
120-220 px and pasted at a random place into 640x480 textured photos, by
``benchmarks/framing.py``'s own photo maker (the same photos as its ``--paste`` mode), and
each photo is JPEG-encoded (quality 90) once, as a file on disk would be. Each photo's bytes
then go through :class:`sqsnet.inference.Predictor` (``Predictor(checkpoint).predict``, what
``sqsnet predict`` calls per file: decode, YuNet detection, eye alignment, the FER2013
framing crop, the eval transform, the model, whole-image fallback on), ``--repeats`` times
after ``--warmup`` untimed calls. Reported: p50, p95 and mean milliseconds per photo, and the
same for the two stages alone (detection on the decoded photo; the model on the face crops),
and the 1-minute load average before and after (other jobs on the machine inflate the p95).

Usage::

    python benchmarks/predict_latency.py [--checkpoint default] [--data-root ROOT]
        [--photos 40] [--repeats 3] [--threads 2] [--json OUT]

The data root is ``--data-root``, else ``sqsnet.data.find_data_root("ferplus")``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from sqsnet.data import FERPlus, find_data_root
from sqsnet.faces import load_image
from sqsnet.inference import Predictor
from sqsnet.utils.io import atomic_write_text
from sqsnet.utils.runtime import hardware_info

FACE_SIDES = (120, 220)


def _framing_benchmark() -> ModuleType:
    """``benchmarks/framing.py``, loaded by path: its photo maker is the one both use (the
    benchmarks folder is a set of scripts, not a package)."""
    path = Path(__file__).resolve().with_name("framing.py")
    spec = importlib.util.spec_from_file_location("sqsnet_benchmarks_framing", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def jpeg_photos(root: Path, count: int, seed: int) -> list[bytes]:
    """``count`` Valid faces pasted into 640x480 photos, as JPEG bytes (quality 90)."""
    framing = _framing_benchmark()
    dataset = FERPlus(root, "valid")
    indices = framing.sample(dataset, count, seed)
    out = []
    for _, photo, _ in framing.photos(dataset, indices, seed, FACE_SIDES):
        buffer = io.BytesIO()
        photo.save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def percentiles(ms: list[float]) -> dict[str, float]:
    """p50, p95, mean and n of a list of milliseconds."""
    arr = np.asarray(ms, dtype=np.float64)
    return {"n": int(arr.size), "p50_ms": round(float(np.percentile(arr, 50)), 2),
            "p95_ms": round(float(np.percentile(arr, 95)), 2),
            "mean_ms": round(float(arr.mean()), 2)}


def timed(call: Callable[[Any], Any], items: list[Any], repeats: int, warmup: int) -> list[float]:
    """Milliseconds of ``call(item)`` for every item, ``repeats`` rounds, after warm-up calls."""
    for item in items[:warmup]:
        call(item)
    ms: list[float] = []
    for _ in range(repeats):
        for item in items:
            start = time.perf_counter()
            call(item)
            ms.append(1000.0 * (time.perf_counter() - start))
    return ms


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Time the three measures on the same photos."""
    photos = jpeg_photos(root, args.photos, args.seed)
    predictor = Predictor(args.checkpoint)
    detector = predictor.detector
    decoded = [load_image(p) for p in photos]
    crops = [[f.crop for f in detector.detect(img).faces] or [img] for img in decoded]
    faces = [len(predictor.predict(p)) for p in photos]
    result = {
        "checkpoint": str(args.checkpoint), "photos": len(photos), "repeats": args.repeats,
        "face_sides": list(FACE_SIDES), "photo_size": [640, 480], "jpeg_quality": 90,
        "img_size": predictor.model.cfg.img_size, "crop_pct": predictor.model.cfg.crop_pct,
        "backend": detector.backend_name, "threads": torch.get_num_threads(),
        "faces_per_photo": round(statistics.mean(faces), 3),
        "predict": percentiles(timed(predictor.predict, photos, args.repeats, args.warmup)),
        "detect": percentiles(timed(detector.detect, decoded, args.repeats, args.warmup)),
        "model": percentiles(timed(predictor.classify_crops, crops, args.repeats, args.warmup)),
    }
    return result


def print_table(result: dict[str, Any]) -> None:
    """The Markdown table of BENCHMARKS.md."""
    print(f"| stage ({result['photos']} photos x {result['repeats']}, {result['checkpoint']}, "
          f"{result['threads']} threads) | n | p50 (ms) | p95 (ms) | mean (ms) |")
    print("|---|---|---|---|---|")
    names = {"predict": "predict: decode + detection + crop + model",
             "detect": "detection alone (decoded photo)", "model": "model alone (face crops)"}
    for key, name in names.items():
        row = result[key]
        print(f"| {name} | {row['n']} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
              f"{row['mean_ms']:.1f} |")


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default",
                        help="'default', a .safetensors file or a run folder")
    parser.add_argument("--data-root", help="FERPlus folder (default: $SQSNET_DATA or ../shared/data)")
    parser.add_argument("--photos", type=int, default=40, help="photos (default 40)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds over the photos")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's own, the core count)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_out", help="also write the result here")
    args = parser.parse_args()
    if args.photos < 1 or args.repeats < 1 or args.warmup < 0 or args.threads < 0:
        parser.error("--photos and --repeats must be >= 1, --warmup and --threads >= 0")
    return args


def main() -> None:
    """Time the photos and print JSON and the table."""
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(args.data_root) if args.data_root else find_data_root("ferplus")
    if root is None:
        raise SystemExit("predict_latency.py: error: no FERPlus folder found: pass --data-root "
                         "or set SQSNET_DATA")
    start, load_before = time.perf_counter(), os.getloadavg()[0]
    result = run(args, root)
    # other jobs on the machine show as load: under contention the p95 grows first
    result.update(seed=args.seed, data_root=str(root), wall_s=round(time.perf_counter() - start, 1),
                  load_1min=[round(load_before, 2), round(os.getloadavg()[0], 2)],
                  hardware=hardware_info())
    print(json.dumps(result))
    print()
    print_table(result)
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
