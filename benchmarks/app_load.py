"""Load test of the Gradio app as visitors meet it: the app in its own process, clients over HTTP.

1. **Server**: ``python apps/sqsnet_space/app.py --port P [--concurrency C] [--threads T]``
   in a subprocess, started as a user starts it; the benchmark waits until the page
   answers and reads the queue concurrency and compute threads the app logs.
2. **Stages** (in this process, with the app's threads, while the app is idle): the median
   ms of each step of one ``/predict``: decoding, face detection, the model's forward pass
   alone, the forward pass with Grad-CAM (one pass, as the app runs it), Grad-CAM as
   pytorch-grad-cam computes it (a second forward and a full backward; for comparison
   only), the overlays, the annotated photo, the encoding of the page's images (WebP,
   Gradio's default, and JPEG, what the page uses) and the whole service call.
3. **One client**: ``--single`` requests one after another (latency without load).
4. **Load**: ``--clients`` visitors at once, ``--per-client`` requests each, as asyncio
   tasks in this process (not the app's), each with its own session and connection. Each
   request does what the page does: upload the photo (``POST /gradio_api/upload``), queue
   ``/predict`` in the session (``POST /gradio_api/queue/join``), read the answer from the
   session's event stream (``GET /gradio_api/queue/data``) and download the answer's images
   (``--no-fetch`` skips that). One warm-up request per visitor comes first and is not
   counted. Every answer must hold the faces and labels computed in this process. The
   app's CPU time and memory (RSS, from ``/proc``) are read before and after.

Each request sends a different 640x480 photo with one of the shipped example faces
(Apache-2.0; ``sqsnet/examples``) at a random place and size, so no data set is needed;
``--same-photo`` sends one photo every time (identical answers at the same moment),
``--photo`` (repeatable) your own photos. Nothing leaves the machine.

Usage::

    python benchmarks/app_load.py [--clients 8] [--per-client 12] [--single 10]
        [--gradcam fused|local|global|off] [--concurrency N] [--threads N]
        [--same-photo | --photo P ...] [--no-fetch] [--app APP.py] [--json OUT]

Prints one JSON object and a short table; exits 1 if any answer was wrong or missing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import torch
from PIL import Image
from pytorch_grad_cam import GradCAM

from sqsnet.faces import load_image
from sqsnet.service import LabService
from sqsnet.service.drawing import FACE_CROP_SIDE, fit
from sqsnet.service.examples import load_examples
from sqsnet.service.predict import (
    MAX_FACES_SHOWN,
    analyse_photo,
    annotate,
    number_left_to_right,
)
from sqsnet.service.store import set_compute_threads
from sqsnet.utils.runtime import cpu_name
from sqsnet.viz import gradcam_overlay, model_view
from sqsnet.viz.gradcam import predict_with_gradcam

REPO = Path(__file__).resolve().parents[1]
APP_FILE = REPO / "apps" / "sqsnet_space" / "app.py"
TARGET_RPS = 8.0
TARGET_P95_MS = 1500.0

Reference = tuple[str, ...]
"""The labels of a photo's faces, left to right."""


# ------------------------------------------------------------------------- helpers


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> dict[str, float | None]:
    """Resident memory of a process (``rss``) and its peak (``hwm``), MB; ``None`` off Linux."""
    out: dict[str, float | None] = {"rss_mb": None, "peak_mb": None}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss_mb" if key == "VmRSS" else "peak_mb"] = round(int(value.split()[0]) / 1024, 1)
    return out


def _cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far; ``None`` off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> float | None:
    """CPU seconds all processes of the machine have used (``/proc/stat``); ``None`` off Linux."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _others_cores(start: tuple[float | None, float], end: tuple[float | None, float],
                  busy_start: float | None, busy_end: float | None, wall: float) -> float | None:
    """Cores the machine's other processes kept busy on average (neither the app nor this
    benchmark): how quiet the machine was during the load."""
    if None in (start[0], end[0], busy_start, busy_end) or wall <= 0:
        return None
    ours = (end[0] - start[0]) + (end[1] - start[1])  # type: ignore[operator]
    return round(max(0.0, (busy_end - busy_start - ours) / wall), 2)  # type: ignore[operator]


def _cpu_ms_per_request(start: tuple[float | None, float], end: tuple[float | None, float],
                        n: int) -> dict[str, float | None]:
    """CPU ms per answered request of the server and of the clients, from ``(server, own)``
    CPU seconds before and after."""
    if n == 0:
        return {"server": None, "clients": None}
    server = (end[0] - start[0]) * 1000 / n if end[0] is not None and start[0] is not None \
        else None
    return {"server": None if server is None else round(server, 1),
            "clients": round((end[1] - start[1]) * 1000 / n, 1)}


def _visitor_photos(out_dir: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` different 640x480 photos, each with one shipped example face (Apache-2.0) at a
    random place and size (150-240 px) on a random grey, as different visitors send."""
    rng = random.Random(seed)
    faces = [Image.open(e.path).convert("RGB") for e in load_examples().faces]
    paths = []
    for k in range(n):
        side = rng.randint(150, 240)
        face = faces[k % len(faces)].resize((side, side), Image.Resampling.BICUBIC)
        grey = rng.randint(90, 170)
        photo = Image.new("RGB", (640, 480), (grey, grey + 8, grey + 16))
        photo.paste(face, (rng.randint(0, 640 - side), rng.randint(0, 480 - side)))
        paths.append(out_dir / f"visitor_{k:03d}.png")
        photo.save(paths[-1])
    return paths


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # first calls are slow (allocations, the detector's input size)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def _encoded_bytes(image: Image.Image, fmt: str) -> int:
    buf = io.BytesIO()
    image.save(buf, fmt)  # what gr.Image does with a PIL output (no quality given)
    return buf.tell()


# ---------------------------------------------------------------------- the stages


def _stage_times(lab: LabService, photo: Path, branch: str, repeats: int) -> dict[str, float]:
    """Median ms of each stage of one ``/predict`` of ``photo``, run one after the other."""
    pred = lab.predictor()
    model, cam_branch = pred.model, ("fused" if branch == "off" else branch)
    image = load_image(str(photo))
    faces = list(pred.detector.detect(image).faces)
    x = torch.stack([pred.transform(f.crop.convert("RGB")) for f in faces])
    views = number_left_to_right(pred.predict(image, fallback_whole_image=False))
    _, maps = predict_with_gradcam(model, x, cam_branch)
    layer, reshape = model.gradcam_targets()[cam_branch]

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def separate_gradcam() -> None:
        with GradCAM(model=model, target_layers=[layer], reshape_transform=reshape) as cam, \
                torch.enable_grad():
            cam(input_tensor=x, targets=None)
        model.zero_grad(set_to_none=True)

    def overlays() -> list[Image.Image]:
        return [gradcam_overlay(fit(model_view(model, v.crop), FACE_CROP_SIDE), m)
                for v, m in zip(views, maps)]

    shown = views[:MAX_FACES_SHOWN]
    page_images = [annotate(image, views), *[fit(v.crop, FACE_CROP_SIDE) for v in shown],
                   *overlays()[:MAX_FACES_SHOWN]]
    stages = {
        "decode": _median_ms(lambda: load_image(str(photo)), repeats),
        "detect": _median_ms(lambda: pred.detector.detect(image), repeats),
        "transform": _median_ms(
            lambda: torch.stack([pred.transform(f.crop.convert("RGB")) for f in faces]), repeats),
        "model_forward": _median_ms(forward, repeats),
        "model_forward_with_gradcam": _median_ms(
            lambda: predict_with_gradcam(model, x, cam_branch), repeats),
        "gradcam_separate_pytorch_grad_cam": _median_ms(separate_gradcam, repeats),
        "overlays": _median_ms(overlays, repeats),
        "annotate": _median_ms(lambda: annotate(image, views), repeats),
        "encode_webp_gradio_default": _median_ms(
            lambda: [_encoded_bytes(im, "webp") for im in page_images], repeats),
        "encode_jpeg_as_served": _median_ms(
            lambda: [_encoded_bytes(im, "jpeg") for im in page_images], repeats),
        "service_total": _median_ms(
            lambda: analyse_photo(lab.store, str(photo), cam_branch=branch), repeats),
    }
    return stages


def _references(lab: LabService, photos: list[Path]) -> dict[str, Reference]:
    """The labels of each photo's faces (left to right), computed in this process; photos
    where no face is found are left out."""
    refs = {}
    for photo in photos:
        result = lab.analyse_photo(str(photo), cam_branch="off")
        if result.error or not result.faces:
            print(f"app_load: {photo.name}: no face found, left out", file=sys.stderr)
            continue
        refs[photo.name] = tuple(f.label for f in result.faces)
    if not refs:
        sys.exit("app_load: no face found in any photo")
    return refs


# ---------------------------------------------------------------------- the server


def _start_server(args: argparse.Namespace, port: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, str(args.app), "--host", "127.0.0.1", "--port", str(port),
           "--checkpoint", args.checkpoint]
    if args.concurrency is not None:
        cmd += ["--concurrency", str(args.concurrency)]
    if args.threads is not None:
        cmd += ["--threads", str(args.threads)]
    with log.open("wb") as fh:
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)


def _server_settings(log: Path) -> tuple[int | None, int | None]:
    """The queue concurrency and compute threads the app logged at start-up."""
    match = re.search(r"queue concurrency (\d+) and (\d+) compute threads", log.read_text())
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def _wait_for_page(server: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float) -> float:
    """Seconds until the page answered; exits with the server's log if it never does."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if server.poll() is not None:
            sys.exit(f"app_load: the app exited ({server.returncode}):\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.terminate()
    sys.exit(f"app_load: the app did not answer within {timeout_s:.0f} s:\n"
             f"{log.read_text()[-2000:]}")


# ---------------------------------------------------------------------- the clients


def _fn_index(base: str, api_name: str = "predict") -> int:
    """The index of an event in the page's config (what the page sends to run it)."""
    config = httpx.get(f"{base}config", timeout=30).json()
    for k, dep in enumerate(config["dependencies"]):
        if dep.get("api_name") == api_name:
            return int(dep.get("id", k))
    raise SystemExit(f"app_load: the app has no /{api_name} event")


async def _completed(client: httpx.AsyncClient, base: str, session: str, event_id: str) -> Any:
    """Read the session's event stream until ``event_id`` completes; its output data."""
    async with client.stream("GET", f"{base}gradio_api/queue/data",
                             params={"session_hash": session}) as stream:
        async for line in stream.aiter_lines():
            if not line.startswith("data:"):
                continue
            msg = json.loads(line[5:])
            if msg.get("event_id") == event_id and msg.get("msg") == "process_completed":
                if not msg.get("success", False):
                    raise RuntimeError(f"the app failed: {msg.get('output')}")
                return msg["output"]["data"]
    raise RuntimeError("the event stream closed before the answer came")


def _check(data: list[Any], expected: Reference) -> str | None:
    """``None`` when the answer holds the reference's faces and labels, else what is wrong."""
    payload = next((d for d in data if isinstance(d, dict) and "faces" in d), None)
    if payload is None:
        return "no JSON of faces in the answer"
    if payload.get("error"):
        return f"error: {payload['error']}"
    labels = tuple(f["label"] for f in payload["faces"])
    if labels != expected:
        return f"faces {labels} != reference {expected}"
    return None


def _file_urls(data: list[Any]) -> list[str]:
    """URLs of the images in an answer (the page downloads each)."""
    urls = []
    for item in data:
        value = item.get("value", item) if isinstance(item, dict) else None
        if isinstance(value, dict) and isinstance(value.get("url"), str):
            urls.append(value["url"])
    return urls


async def _one_request(client: httpx.AsyncClient, base: str, session: str, photo: Path,
                       content: bytes, args: argparse.Namespace) -> tuple[list[Any], float]:
    """What the page does for one photo: upload it, queue ``/predict`` in the visitor's
    session, read the answer from the session's event stream, download the answer's
    images (unless ``--no-fetch``). Returns the output data and the seconds taken."""
    start = time.perf_counter()
    up = await client.post(f"{base}gradio_api/upload",
                           files={"files": (photo.name, content, "image/png")})
    up.raise_for_status()
    image = {"path": up.json()[0], "orig_name": photo.name, "meta": {"_type": "gradio.FileData"}}
    join = await client.post(f"{base}gradio_api/queue/join", json={
        "data": [image, False, args.gradcam, args.checkpoint], "fn_index": args.fn_index,
        "session_hash": session, "event_data": None, "trigger_id": None})
    join.raise_for_status()
    data = await _completed(client, base, session, join.json()["event_id"])
    if args.fetch:
        for url in _file_urls(data):
            (await client.get(url)).raise_for_status()
    return data, time.perf_counter() - start


async def _client(k: int, base: str, jobs: list[Path], contents: dict[Path, bytes],
                  refs: dict[str, Reference], args: argparse.Namespace,
                  out: dict[str, list[Any]]) -> None:
    """One visitor (one session, one connection) sending its photos one after another."""
    session = uuid.uuid4().hex[:11]
    async with httpx.AsyncClient(timeout=120) as client:
        for photo in jobs:
            try:
                data, took = await _one_request(client, base, session, photo, contents[photo],
                                                args)
                problem = _check(data, refs[photo.name])
            except Exception as exc:  # any failure is counted, the others go on
                problem, data, took = f"{type(exc).__name__}: {exc}", [], 0.0
            if problem:
                out["errors"].append(f"client {k}: {problem}")
            else:
                out["ms"].append(took * 1000)
                payload = next(d for d in data if isinstance(d, dict) and "faces" in d)
                out["server"].append(payload["timings_ms"])


async def _run_clients(base: str, photos: Iterator[Path], refs: dict[str, Reference],
                       args: argparse.Namespace, n_clients: int, per_client: int,
                       ) -> tuple[dict[str, list[Any]], float]:
    """``n_clients`` visitors at once, ``per_client`` photos each (the next of ``photos``)."""
    jobs = [[next(photos) for _ in range(per_client)] for _ in range(n_clients)]
    contents = {p: p.read_bytes() for job in jobs for p in job}
    out: dict[str, list[Any]] = {"ms": [], "errors": [], "server": []}
    start = time.perf_counter()
    await asyncio.gather(*(_client(k, base, jobs[k], contents, refs, args, out)
                           for k in range(n_clients)))
    return out, time.perf_counter() - start


def _server_side(timings: list[dict[str, float]]) -> dict[str, float]:
    """Median server-side ms per stage over the answers (from their ``timings_ms``)."""
    keys = sorted({k for t in timings for k in t})
    return {k: round(statistics.median([t[k] for t in timings if k in t]), 1) for k in keys}


# --------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--per-client", type=int, default=12, help="requests per client")
    parser.add_argument("--single", type=int, default=10, help="sequential one-client requests")
    parser.add_argument("--stage-repeats", type=int, default=20, help="runs per stage timing")
    parser.add_argument("--gradcam", default="fused", choices=["fused", "local", "global", "off"])
    parser.add_argument("--concurrency", type=int, default=None,
                        help="the app's --concurrency (default: the app's own)")
    parser.add_argument("--threads", type=int, default=None,
                        help="the app's --threads (default: the app's own)")
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--app", type=Path, default=APP_FILE,
                        help="the app file to start (default: apps/sqsnet_space/app.py; e.g. "
                             "an exported Space's app.py)")
    parser.add_argument("--photo", action="append", default=None,
                        help="a photo with faces (repeat for several; default: an example face "
                             "on 640x480)")
    parser.add_argument("--same-photo", action="store_true",
                        help="every request sends the same photo (default: each a different one)")
    parser.add_argument("--no-fetch", dest="fetch", action="store_false",
                        help="do not download the answer's images")
    parser.add_argument("--startup-timeout", type=float, default=180.0)
    parser.add_argument("--json", dest="json_out")
    return parser


def _print_table(result: dict[str, Any]) -> None:
    print("stage (in process, one request)            median ms")
    for name, ms in result["stages_ms"].items():
        print(f"  {name:<42}{ms:>9}")
    print(f"\n{'over HTTP':<34}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}")
    for name, key in (("one client", "single_client"), (f"{result['clients']} clients", "load")):
        st = result[key]
        print(f"{name:<34}{st['n']:>5}{st['p50_ms']:>10}{st['p95_ms']:>10}")
    load = result["load"]
    print(f"load: {load['answered_correctly']}/{load['requests']} answered correctly in "
          f"{load['wall_s']} s: {load['throughput_rps']} requests/s (target >= {TARGET_RPS}), "
          f"p95 {load['p95_ms']} ms (target <= {TARGET_P95_MS:.0f}); meets target: "
          f"{result['meets_target']}")
    cpu = result["load_cpu_ms_per_request"]
    print(f"CPU per request under load: server {cpu['server']} ms, clients {cpu['clients']} ms; "
          f"server-side medians {result['load_server_ms']}; other processes kept "
          f"{result['other_processes_cores_during_load']} cores busy")
    mem = result["server_memory"]
    print(f"server memory (RSS): {mem['before_load']['rss_mb']} MB before, "
          f"{mem['after_load']['rss_mb']} MB after (peak {mem['after_load']['peak_mb']} MB); "
          f"load average before: {result['load_average_before']}")


def main() -> None:
    args = _parser().parse_args()
    load_avg = [round(v, 2) for v in os.getloadavg()]
    tmp = tempfile.TemporaryDirectory(prefix="sqsnet-app-load-")
    if args.photo:
        photos = [Path(p) for p in args.photo]
    else:
        photos = _visitor_photos(Path(tmp.name), 1 if args.same_photo
                                 else args.clients * (args.per_client + 1) + args.single)
    port = _free_port()
    base = f"http://127.0.0.1:{port}/"
    log = Path(tmp.name) / "server.log"
    server = _start_server(args, port, log)
    try:
        startup_s = _wait_for_page(server, base, log, args.startup_timeout)
        concurrency, threads = _server_settings(log)
        args.fn_index = _fn_index(base)
        set_compute_threads(threads)  # the stages run as the (idle) server runs them
        lab = LabService(args.checkpoint)
        lab.warmup()
        refs = _references(lab, photos)
        photos = [p for p in photos if p.name in refs]
        stages = _stage_times(lab, photos[0], args.gradcam, args.stage_repeats)
        queue = cycle(photos)  # each request the next photo (all different when enough)
        del lab
        single, _ = asyncio.run(_run_clients(base, queue, refs, args, 1, args.single))
        asyncio.run(_run_clients(base, queue, refs, args, args.clients, 1))  # warm-up
        before = _rss_mb(server.pid)
        cpu_start = (_cpu_s(server.pid), time.process_time())
        busy_start = _machine_busy_s()
        load, wall = asyncio.run(_run_clients(base, queue, refs, args, args.clients,
                                              args.per_client))
        cpu_end = (_cpu_s(server.pid), time.process_time())
        busy_end = _machine_busy_s()
        after = _rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    requests = args.clients * args.per_client
    rps = round(len(load["ms"]) / wall, 2) if wall > 0 else 0.0
    errors = single["errors"] + load["errors"]
    result = {
        "benchmark": "app_load",
        "machine": {"cpu": cpu_name(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "platform": platform.platform()},
        "load_average_before": load_avg,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "photos": [p.name for p in photos] if args.photo else
                  f"{len(photos)} different 640x480 photos, one example face each"
                  if not args.same_photo else "one 640x480 photo with one example face",
        "checkpoint": args.checkpoint,
        "gradcam": args.gradcam,
        "app_concurrency": concurrency,
        "threads": threads,
        "fetch_images": args.fetch,
        "startup_s": round(startup_s, 1),
        "stages_ms": stages,
        "single_client": _stats(single["ms"]),
        "single_client_server_ms": _server_side(single["server"]),
        "clients": args.clients,
        "load": {**_stats(load["ms"]), "requests": requests, "per_client": args.per_client,
                 "answered_correctly": len(load["ms"]), "wall_s": round(wall, 2),
                 "throughput_rps": rps},
        "load_server_ms": _server_side(load["server"]),
        "load_cpu_ms_per_request": _cpu_ms_per_request(cpu_start, cpu_end, len(load["ms"])),
        "other_processes_cores_during_load": _others_cores(cpu_start, cpu_end, busy_start,
                                                           busy_end, wall),
        "server_memory": {"before_load": before, "after_load": after},
        "target": {"throughput_rps": TARGET_RPS, "p95_ms": TARGET_P95_MS},
        "meets_target": bool(rps >= TARGET_RPS and _percentile(load["ms"], 95) <= TARGET_P95_MS),
        "errors": errors[:20],
        "n_errors": len(errors),
    }
    print(json.dumps(result))
    print()
    _print_table(result)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    tmp.cleanup()
    if errors or len(load["ms"]) != requests:
        sys.exit(1)


if __name__ == "__main__":
    main()
