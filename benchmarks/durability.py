"""Durability of a training run under ``kill -9``: N kills at random moments, each resumed.

Trains a tiny config on fixture data (the tests' fixture makers: no dataset needed) twice,
each run as ``python -m sqsnet train`` with a resume point after every step
(``train.checkpoint_every=1``):

* straight through, as the reference;
* killed ``--kills`` times with SIGKILL, each launch with ``--resume``. The kill moments are
  ``--kills`` points drawn uniformly over the reference run's training time (from its "run
  folder" log line, when training begins, to its last epoch's line), sorted; launch ``i`` is
  killed the gap between moments ``i - 1`` and ``i`` after its own "run folder" line, so the
  kills spread over the run as it progresses. A last launch then runs to the end.

It reports whether every resume finished (every launch was either killed by this script or
exited 0, the last one exited 0), whether the final weights (``last`` and ``best``) equal the
reference run's bit for bit, whether ``metrics.csv`` holds each epoch once with the
reference run's losses and validation scores, and whether any temporary file of an
interrupted write is left in the run folder. Exit status 0 when all hold, 1 otherwise.

Usage::

    python benchmarks/durability.py [--kills 5] [--epochs 3] [--steps 8] [--seed 0]
        [--work-dir DIR] [--json OUT]

Prints one JSON object and a short table.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from sqsnet.checkpoint import CheckpointError, load_checkpoint
from sqsnet.utils.io import TEMP_SUFFIX, atomic_write_text
from sqsnet.utils.runtime import cpu_name

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the fixture makers live with the tests
from tests.helpers import make_ferplus_fixture, write_tiny_config  # noqa: E402

STARTED = "run folder"
"""The log line a launch prints when its training begins."""

LIMIT_S = 600.0
"""Longest a single launch may take before the benchmark gives up on it."""


def train_command(cfg: Path, data: Path, out: Path, name: str, epochs: int, steps: int
                  ) -> list[str]:
    """``sqsnet train`` of the tiny run, resumable, a resume point after every step."""
    return [sys.executable, "-m", "sqsnet", "train", "--config", str(cfg), "--data-root",
            str(data), "--out-dir", str(out), "--run-name", name, "--no-progress", "--resume",
            "--set", f"train.epochs={epochs}", f"train.max_steps_per_epoch={steps}",
            "train.checkpoint_every=1", "train.tta=false", "train.threads=1",
            "data.num_workers=0"]


def launch(cmd: list[str], log: Path, kill_after_s: float | None, last_epoch: int
           ) -> dict[str, Any]:
    """Run one launch; SIGKILL it ``kill_after_s`` seconds after its training began.

    Returns:
        ``{"rc", "killed", "kill_after_s", "training_s", "resumed_from",
        "temp_files_removed"}`` (by the launch, of earlier kills); ``training_s``
        is the time from the start of training to the log line of epoch ``last_epoch``
        (``None`` when the launch did not get there).
    """
    done_marker = f"epoch {last_epoch}: loss"
    with open(log, "w") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
        started = trained = None
        deadline = time.time() + LIMIT_S
        killed = False
        while proc.poll() is None and time.time() < deadline:
            text = log.read_text()
            if started is None and STARTED in text:
                started = time.time()
            if trained is None and done_marker in text:
                trained = time.time()
            if (started is not None and kill_after_s is not None
                    and time.time() - started >= kill_after_s):
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.02)
        if proc.poll() is None and not killed:
            proc.kill()
        rc = proc.wait()
    text = log.read_text()
    resumed = [line.split(" resumed ", 1)[1] for line in text.splitlines() if " resumed " in line]
    removed = [int(line.split("removed ", 1)[1].split()[0]) for line in text.splitlines()
               if "temporary file(s) of interrupted writes" in line]
    if trained is None and done_marker in text and started is not None:
        trained = time.time()
    return {"rc": rc, "killed": killed, "kill_after_s": kill_after_s if killed else None,
            "training_s": trained - started if started and trained else None,
            "resumed_from": resumed[-1].split(" at ", 1)[1].split(" (")[0] if resumed else None,
            "temp_files_removed": sum(removed)}


def checkpoint_position(run: Path) -> str | None:
    """Where ``last.safetensors`` stands: ``end of epoch E`` or ``epoch E, step S`` (its own
    metadata: a kill can fall between the checkpoint and its JSON sidecar)."""
    try:
        meta = load_checkpoint(run / "last.safetensors").meta
    except CheckpointError:
        return None
    step = meta.get("epoch_step")
    if step:  # a point inside an epoch: its meta counts epochs from 0
        return f"epoch {meta['epoch'] + 1}, step {step}"
    return f"end of epoch {meta['epoch']}"


def metric_rows(run: Path) -> list[dict[str, str]]:
    """The rows of a run's ``metrics.csv``."""
    with open(run / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def same_weights(a: Path, b: Path) -> bool:
    """Whether two checkpoints hold bit-identical weights."""
    wa, wb = load_checkpoint(a).model_state, load_checkpoint(b).model_state
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


SCORED = ("epoch", "train_loss", "train_ce", "train_sqs_ce", "train_sqs", "train_kd",
          "excluded_anchors", "val_loss", "val_accuracy", "val_macro_f1")
"""``metrics.csv`` columns that must equal the reference run's (timings differ)."""


def check(straight: Path, killed: Path, launches: list[dict[str, Any]], epochs: int
          ) -> dict[str, Any]:
    """The verdicts on the killed run against the reference."""
    rows = metric_rows(killed)
    epochs_logged = [int(r["epoch"]) for r in rows]
    ref = metric_rows(straight)
    finished = (all(la["killed"] or la["rc"] == 0 for la in launches)
                and launches[-1]["rc"] == 0)
    left = sorted(p.name for p in killed.glob(f".*{TEMP_SUFFIX}"))
    result = {
        "every_resume_finished": finished,
        "weights_equal_uninterrupted": finished and all(
            same_weights(straight / name, killed / name)
            for name in ("last.safetensors", "best.safetensors")),
        "epochs_logged": epochs_logged,
        "duplicate_metric_rows": len(epochs_logged) - len(set(epochs_logged)),
        "metric_rows_equal": [{k: r[k] for k in SCORED} for r in rows]
        == [{k: r[k] for k in SCORED} for r in ref],
        "temp_files_left": left,
        "summary_written": (killed / "summary.json").is_file(),
    }
    result["ok"] = (result["every_resume_finished"] and result["weights_equal_uninterrupted"]
                    and epochs_logged == list(range(1, epochs + 1))
                    and result["metric_rows_equal"] and not left
                    and result["summary_written"])
    return result


def run(kills: int, epochs: int, steps: int, seed: int, work: Path) -> dict[str, Any]:
    """The whole benchmark in ``work``; the JSON record."""
    data = make_ferplus_fixture(work / "ferplus", per_class=2 * steps)  # >= steps batches of 8
    cfg = write_tiny_config(work / "tiny.yaml")
    out = work / "runs"
    start = time.time()
    reference = launch(train_command(cfg, data, out, "straight", epochs, steps),
                       work / "straight.log", None, epochs)
    if reference["rc"] != 0 or reference["training_s"] is None:
        raise RuntimeError(f"the reference run failed: see {work / 'straight.log'}")
    span = float(reference["training_s"])
    rng = random.Random(seed)
    moments = sorted(rng.uniform(0.0, span) for _ in range(kills))
    delays: list[float | None] = [b - a for a, b in zip([0.0, *moments], moments)]
    launches = []
    for i, delay in enumerate([*delays, None]):
        record = launch(train_command(cfg, data, out, "killed", epochs, steps),
                        work / f"launch{i}.log", delay, epochs)
        record["checkpoint_after"] = checkpoint_position(out / "killed")
        launches.append(record)
    result = {
        "kills": kills, "epochs": epochs, "steps_per_epoch": steps, "seed": seed,
        "cpu": cpu_name(), "torch": torch.__version__,
        "reference_training_s": span, "launches": launches,
        "kills_landed": sum(la["killed"] for la in launches),
        "temp_files_removed_on_resume": sum(la["temp_files_removed"] for la in launches),
        **check(out / "straight", out / "killed", launches, epochs),
        "wall_s": time.time() - start,
    }
    return result


def table(result: dict[str, Any]) -> str:
    """The launches and verdicts as a short Markdown table."""
    lines = ["| launch | killed after (s of training) | resumed from | checkpoint after | exit |",
             "|---|---|---|---|---|"]
    for i, la in enumerate(result["launches"]):
        after = f"{la['kill_after_s']:.2f}" if la["killed"] else "-"
        lines.append(f"| {i} | {after} | {la['resumed_from'] or 'fresh'} | "
                     f"{la['checkpoint_after']} | {'SIGKILL' if la['killed'] else la['rc']} |")
    verdicts = ("every_resume_finished", "weights_equal_uninterrupted", "metric_rows_equal",
                "duplicate_metric_rows", "temp_files_left")
    lines.append("")
    lines += [f"- {key}: {result[key]}" for key in verdicts]
    lines.append(f"- temporary files of killed writes removed by the resumes: "
                 f"{result['temp_files_removed_on_resume']}")
    lines.append(f"- ok: {result['ok']} ({result['kills_landed']} of {result['kills']} kills "
                 f"landed, {result['wall_s']:.0f} s)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8, help="steps per epoch")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    parser.add_argument("--work-dir", help="keep the runs and logs here (default: a "
                        "temporary folder, removed)")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sqsnet-durability-") as tmp:
        work = Path(args.work_dir) if args.work_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        result = run(args.kills, args.epochs, args.steps, args.seed, work)
    print(json.dumps(result))
    print()
    print(table(result))
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(result, indent=2) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
