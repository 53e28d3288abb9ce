"""Load test of the Gradio app: concurrent predict requests over HTTP on 127.0.0.1.

Starts the app in this process (``build_demo``, 127.0.0.1, a free port), then

1. single client: ``--single`` sequential ``/predict`` requests from one ``gradio_client``
   (end-to-end latency, and the server's own detection + crop + model time from the JSON
   output), plus the same photo through ``Predictor.predict`` in process (detection + crop
   + model, no HTTP); target p50 <= 100 ms on a 2-core CPU;
2. load: ``--requests`` requests spread over ``--clients`` concurrent clients (one thread
   and one ``gradio_client.Client`` each); every answer must hold exactly one detected face
   with the same label as the in-process reference.

The photo is a real FERPlus face upscaled onto a 640x480 background (``--photo`` to use
your own one-face photo). Nothing leaves the machine.

Usage::

    python benchmarks/app_load.py [--requests 50] [--clients 8] [--single 20]
        [--gradcam fused|local|global|off] [--concurrency 2] [--photo P] [--json OUT]

Prints one JSON object and a short table; exits 1 if any answer was wrong or missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from sqsnet.data.root import default_data_dir

REPO = Path(__file__).resolve().parents[1]
APP_FILE = REPO / "apps" / "sqsnet_space" / "app.py"


def _load_app() -> Any:
    spec = importlib.util.spec_from_file_location("sqsnet_space_app", APP_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["sqsnet_space_app"] = module
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _stats(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": round(_percentile(ms, 50), 1),
        "p95_ms": round(_percentile(ms, 95), 1),
        "mean_ms": round(statistics.fmean(ms), 1) if ms else float("nan"),
        "max_ms": round(max(ms), 1) if ms else float("nan"),
    }


def _make_photo(out_dir: Path) -> Path:
    valid = default_data_dir() / "ferplus" / "FER2013Valid"
    faces = sorted(valid.glob("*.png"))[:1]
    if not faces:
        sys.exit(f"app_load: no FERPlus faces under {valid}; pass --photo PATH (a one-face "
                 "photo) or set SQSNET_DATA")
    face = Image.open(faces[0]).convert("RGB").resize((200, 200), Image.Resampling.BICUBIC)
    photo = Image.new("RGB", (640, 480), (118, 128, 140))
    photo.paste(face, (220, 140))
    path = out_dir / "one_face_640x480.png"
    photo.save(path)
    return path


def _check(out: Any, expected: str) -> str | None:
    """``None`` when the answer is right, else what is wrong."""
    try:
        payload = out[2]
        faces = payload["faces"]
    except (TypeError, KeyError, IndexError) as exc:
        return f"malformed answer ({exc})"
    if payload.get("error"):
        return f"error: {payload['error']}"
    if len(faces) != 1 or faces[0]["whole_image"]:
        return f"expected one detected face, got {len(faces)}"
    if faces[0]["label"] != expected:
        return f"label {faces[0]['label']!r} != reference {expected!r}"
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="requests in the load phase")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--single", type=int, default=20, help="sequential single-client requests")
    parser.add_argument("--gradcam", default="fused", choices=["fused", "local", "global", "off"])
    parser.add_argument("--concurrency", type=int, default=None,
                        help="the app's default_concurrency_limit (default: the app's own)")
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--photo", default=None, help="a one-face photo (default: FERPlus face)")
    parser.add_argument("--json", dest="json_out")
    return parser


def _in_process(lab: Any, photo: Path, repeats: int) -> tuple[str, list[float]]:
    """The reference label and the in-process detection + crop + model times (ms), before
    the server starts so that nothing else runs meanwhile."""
    pred = lab.predictor()
    reference = pred.predict(str(photo))
    if len(reference) != 1 or reference[0].whole_image:
        sys.exit(f"app_load: {photo} must show exactly one detectable face "
                 f"(found {len(reference)})")
    for _ in range(3):  # warm the detector for this image size
        pred.predict(str(photo))
    times = []
    for _ in range(max(5, repeats)):
        s = time.perf_counter()
        pred.predict(str(photo))
        times.append((time.perf_counter() - s) * 1000)
    return reference[0].label, times


def _single_client(client_cls: Any, upload: Any, url: str, photo: Path, args: argparse.Namespace,
                   expected: str) -> tuple[list[float], list[float], list[str]]:
    """Sequential requests from one client: end-to-end and server-side times, errors."""
    errors: list[str] = []
    single_ms: list[float] = []
    server_ms: list[float] = []
    client = client_cls(url, verbose=False)
    for _ in range(args.single):
        s = time.perf_counter()
        out = client.predict(upload(str(photo)), False, args.gradcam, api_name="/predict")
        single_ms.append((time.perf_counter() - s) * 1000)
        problem = _check(out, expected)
        if problem:
            errors.append(f"single: {problem}")
        else:
            server_ms.append(float(out[2]["timings_ms"]["detect_and_classify"]))
    return single_ms, server_ms, errors


def _load(client_cls: Any, upload: Any, url: str, photo: Path, args: argparse.Namespace,
          expected: str) -> tuple[list[float], list[str], float]:
    """``--requests`` requests over ``--clients`` threads: times, errors, wall seconds."""
    load_ms: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(args.requests))

    def worker() -> None:
        c = client_cls(url, verbose=False)
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            s = time.perf_counter()
            try:
                out = c.predict(upload(str(photo)), False, args.gradcam, api_name="/predict")
                problem = _check(out, expected)
            except Exception as exc:
                problem = f"request failed: {type(exc).__name__}: {exc}"
            took = (time.perf_counter() - s) * 1000
            with lock:
                if problem:
                    errors.append(f"load: {problem}")
                else:
                    load_ms.append(took)

    wall = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return load_ms, errors, time.perf_counter() - wall


def _print_table(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"{'measure':<42}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}")
    for name, key in (("in-process detect+crop+model", "inprocess_detect_crop_model"),
                      ("single client, server detect+crop+model", "single_client_server_detect_crop_model"),
                      (f"single client over HTTP (Grad-CAM {args.gradcam})", "single_client_http"),
                      (f"{args.clients} clients over HTTP", "load")):
        st = result[key]
        print(f"{name:<42}{st['n']:>5}{st['p50_ms']:>10}{st['p95_ms']:>10}")
    load = result["load"]
    print(f"load: {load['answered_correctly']}/{args.requests} answered correctly in "
          f"{load['wall_s']:.1f} s ({load['throughput_rps']} req/s); errors: "
          f"{result['n_errors']}")


def main() -> None:
    args = _parser().parse_args()
    logging.basicConfig(level=logging.WARNING)
    # optional dependency (the app's, see apps/sqsnet_space/requirements.txt)
    from gradio_client import Client, handle_file

    app = _load_app()
    tmp = tempfile.TemporaryDirectory(prefix="sqsnet-app-load-")
    photo = Path(args.photo) if args.photo else _make_photo(Path(tmp.name))
    concurrency = args.concurrency or app.DEFAULT_CONCURRENCY
    t0 = time.perf_counter()
    demo = app.build_demo(args.checkpoint, concurrency=concurrency)
    demo.lab.warmup()
    startup_s = time.perf_counter() - t0
    expected, inproc = _in_process(demo.lab, photo, args.single)

    port = _free_port()
    app.launch(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    single_ms, server_ms, errors = _single_client(Client, handle_file, url, photo, args,
                                                  expected)
    load_ms, load_errors, wall = _load(Client, handle_file, url, photo, args, expected)
    errors += load_errors
    demo.close()
    tmp.cleanup()

    result = {
        "benchmark": "app_load",
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "python": platform.python_version(), "platform": platform.platform()},
        "photo": str(photo) if args.photo else "FERPlus valid face upscaled on 640x480",
        "checkpoint": args.checkpoint,
        "gradcam": args.gradcam,
        "app_concurrency": concurrency,
        "startup_s": round(startup_s, 2),
        "inprocess_detect_crop_model": _stats(inproc),
        "single_client_http": _stats(single_ms),
        "single_client_server_detect_crop_model": _stats(server_ms),
        "load": {**_stats(load_ms), "requests": args.requests, "clients": args.clients,
                 "answered_correctly": len(load_ms), "wall_s": round(wall, 2),
                 "throughput_rps": round(len(load_ms) / wall, 2) if wall > 0 else None},
        "target_detect_crop_model_p50_ms": 100,
        "meets_target": _percentile(inproc, 50) <= 100,
        "errors": errors[:20],
        "n_errors": len(errors),
    }
    print(json.dumps(result))
    print()
    _print_table(result, args)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    if errors or len(load_ms) != args.requests:
        sys.exit(1)


if __name__ == "__main__":
    main()
