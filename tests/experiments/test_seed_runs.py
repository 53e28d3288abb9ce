"""experiments/seed_runs/variant_jobs.sh on fixture data, and its README against the records."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqsnet.config import load_config
from tests.helpers import make_ferplus_fixture

REPO = Path(__file__).resolve().parents[2]
HERE = REPO / "experiments" / "seed_runs"
SMOKE = ("train.epochs=1 train.max_steps_per_epoch=2 train.tta=false data.num_workers=0 "
         "data.batch_size=8")


def _env(tmp_path: Path) -> dict[str, str]:
    data = make_ferplus_fixture(tmp_path / "ferplus")
    return {**os.environ, "SQSNET_DATA": str(data), "SQSNET_RUNS": str(tmp_path / "runs"),
            "SQSNET_VENV": str(Path(sys.executable).parents[1])}


def test_variant_jobs_runs_each_seed_once_with_the_recorded_evaluation(tmp_path):
    env = _env(tmp_path)
    # a JSON value with lists must reach sqsnet unchanged, even where a file name matches
    # it as a glob pattern
    swin = ('model.global_branch.kwargs={"img_size":48,"embed_dim":48,"depths":[1,1],'
            '"num_heads":[2,4],"window_size":6}')
    (tmp_path / swin.replace("[1,1]", "1").replace("[2,4]", "4")).touch()
    cmd = ["bash", str(HERE / "variant_jobs.sh"), "small", f"{SMOKE} {swin}", "0", "1"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("exit 0") == 2
    for seed in (0, 1):
        run = tmp_path / "runs" / f"small-seed{seed}"
        cfg = load_config(run / "config.yaml")
        assert cfg.train.seed == seed and cfg.model.crop_pct == 1.0
        assert cfg.model.global_branch.kwargs["depths"] == [1, 1]
        assert cfg.model.global_branch.kwargs["num_heads"] == [2, 4]
        assert (run / "summary.json").is_file()
        assert "small" in (tmp_path / "runs" / f"small-seed{seed}.log").read_text()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.stdout.splitlines() == ["small-seed0 done", "small-seed1 done"]
    bad = subprocess.run(cmd[:3], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "usage:" in bad.stderr


def test_readme_commands_name_the_recorded_runs():
    """The README's three recipes are the run names kept in results/runs (seed 2 of each)."""
    text = (HERE / "README.md").read_text()
    names = re.findall(r"^experiments/seed_runs/variant_jobs\.sh (\w+) ", text, re.M)
    assert names == ["ferplus_cpu_vggm", "cnn_sqs", "baseline_vggm_cnn_only"]
    for name in names:
        assert (REPO / "results" / "runs" / f"{name}-seed2" / "summary.json").is_file(), name
