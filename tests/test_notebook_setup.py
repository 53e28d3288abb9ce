"""Each notebook's first cell sets up Colab: installs the lab when ``import sqsnet`` fails,
reports the GPU, says where the data goes; a no-op where the lab is installed (CI, locally).
The README links every notebook with an "Open in Colab" badge.

The cell is run in a subprocess, as the kernel would run it, with ``subprocess.run``
replaced by a recorder, so a test can see whether it would install anything (and what)
without ever calling pip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
RECORDER = """
import subprocess, sys
def _record(cmd, *args, **kwargs):
    print("WOULD RUN:", " ".join(cmd))
    return subprocess.CompletedProcess(cmd, 0)
subprocess.run = _record
"""
HIDE_SQSNET = "import sys\nsys.modules['sqsnet'] = None  # `import sqsnet` raises ImportError\n"


def setup_cell(path: Path) -> dict:
    cell = json.loads(path.read_text(encoding="utf-8"))["cells"][0]
    assert cell["cell_type"] == "code", f"{path.name}: the first cell is not code"
    assert "setup" in cell["metadata"].get("tags", []), f"{path.name}: first cell not tagged"
    return cell


def run_cell(source: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SQSNET_DATA"}
    return subprocess.run([sys.executable, "-c", RECORDER + prelude + source],
                          cwd=REPO / "notebooks", env=env, capture_output=True, text=True,
                          timeout=300)


def test_every_notebook_starts_with_the_same_setup_cell():
    assert len(NOTEBOOKS) == 5
    sources = {"".join(setup_cell(p)["source"]) for p in NOTEBOOKS}
    assert len(sources) == 1
    source = sources.pop()
    assert "OWNER/REPO" in source and "git+https://github.com/" in source
    assert "torch.cuda.is_available()" in source and "SQSNET_DATA" in source
    assert all(setup_cell(p)["outputs"] == [] for p in NOTEBOOKS)  # stored clean


def test_the_setup_cell_installs_nothing_where_sqsnet_is_installed():
    source = "".join(setup_cell(NOTEBOOKS[0])["source"])
    done = run_cell(source)
    assert done.returncode == 0, done.stderr
    assert "nothing to install" in done.stdout
    assert "WOULD RUN" not in done.stdout
    assert "GPU: " in done.stdout and "SQSNET_DATA" in done.stdout


def test_the_setup_cell_installs_the_lab_when_import_fails():
    source = "".join(setup_cell(NOTEBOOKS[0])["source"])
    # After the (recorded) install the cell imports sqsnet again: let that one succeed.
    source = source.replace("    importlib.invalidate_caches()\n",
                            "    importlib.invalidate_caches()\n    del sys.modules['sqsnet']\n")
    done = run_cell(source, HIDE_SQSNET)
    assert done.returncode == 0, done.stderr
    assert f"WOULD RUN: {sys.executable} -m pip install -q git+https://github.com/OWNER/REPO" \
        in done.stdout
    assert "nothing to install" not in done.stdout


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_readme_opens_each_notebook_in_colab(path: Path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    link = f"https://colab.research.google.com/github/OWNER/REPO/blob/main/notebooks/{path.name}"
    assert f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})" \
        in readme
