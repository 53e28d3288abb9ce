"""The training command under torchrun: 2 CPU processes, gloo backend."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
from pathlib import Path

from tests.helpers import make_ferplus_fixture, write_tiny_config

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_torchrun_two_processes_gloo(tmp_path: Path) -> None:
    data = make_ferplus_fixture(tmp_path / "ferplus", per_class=8)
    cfg = write_tiny_config(tmp_path / "tiny.yaml")
    out = tmp_path / "runs"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        "-m", "sqsnet", "train", "--config", str(cfg), "--data-root", str(data),
        "--out-dir", str(out), "--run-name", "ddp", "--no-progress",
        "--set", "train.epochs=2", "train.max_steps_per_epoch=2", "train.threads=1",
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = out / "ddp"
    with open(run / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows] == ["1", "2"]  # one writer: rank 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["val"]["n"] == 16  # the gathered validation set, not one rank's half
    assert (run / "best.safetensors").is_file()
