"""Every notebook runs top to bottom with its default parameters, and is stored clean.

Execution uses nbclient with the ``python3`` kernel (``make install`` registers the venv's
kernel under that name; jupyter_client starts it with the running interpreter) and the
notebooks folder as working directory. Each notebook runs in its own process
(``tests/run_notebook.py``) under a wall-clock limit, so a run that stalls (twice seen in
the full suite: notebook 02 waiting in its widget cell with kernel and client both idle)
fails with the cell it stalled in instead of hanging the suite. Defaults are sized for a
CPU: the five notebooks take a few minutes together on two cores.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sqsnet.viz.spread import flat_branches
from tests.helpers import REPO

NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
NOTEBOOK_LIMIT_S = 900  # whole notebook, kernel start included


nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (extra 'dev')")


def execute_notebook(path: Path, out_dir: Path, limit_s: float = NOTEBOOK_LIMIT_S):
    """Run a notebook in a fresh process (notebooks folder as cwd); the executed copy.

    Fails the test with the notebook's error, or, past ``limit_s`` seconds, with the index
    and first line of the cell it was running (the process and its kernel are killed).
    """
    pytest.importorskip("nbclient", reason="nbclient is not installed (extra 'dev')")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (extra 'notebooks')")
    psutil = pytest.importorskip("psutil", reason="psutil is not installed (ipykernel needs it)")
    out = out_dir / f"{path.stem}.executed.ipynb"
    progress = out.with_name(out.name + ".progress")
    cmd = [sys.executable, "-m", "tests.run_notebook", str(path), str(out),
           "--cwd", str(NOTEBOOK_DIR), "--cell-timeout", str(CELL_TIMEOUT_S)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        log, _ = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        for pid in family:  # the kernel runs in its own session: kill it by pid
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
        log, _ = proc.communicate()
        index = int(progress.read_text()) if progress.exists() else None
        cells = nbformat.read(path, as_version=4).cells
        where = (f"cell {index} ({cells[index].source.splitlines()[0]!r})"
                 if index is not None else "before its first cell")
        pytest.fail(f"{path.name} stalled in {where}: no end after {limit_s:.0f} s; "
                    f"output:\n{log[-3000:]}")
    assert proc.returncode == 0, f"{path.name} failed:\n{log[-6000:]}"
    return nbformat.read(out, as_version=4)


def test_the_five_notebooks_exist() -> None:
    names = [p.name for p in NOTEBOOKS]
    for prefix in ("01_", "02_", "03_", "04_", "05_"):
        assert any(n.startswith(prefix) for n in names), f"no notebook {prefix}*: {names}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_clean_with_parameters_cell(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "no code cells"
    params = [c for c in code if "setup" not in c.metadata.get("tags", [])]  # after Colab set-up
    assert "parameters" in params[0].metadata.get("tags", []), "first code cell not tagged"
    for cell in code:
        assert cell.execution_count is None and cell.outputs == [], "stored with outputs"
    assert any(c.cell_type == "markdown" for c in nb.cells)
    source = "\n".join(c.source for c in code)
    assert "import sqsnet" in source or "from sqsnet" in source
    for forbidden in ("nn.Module)", "class SQSNet", "def forward("):
        assert forbidden not in source, f"model code in a notebook: {forbidden}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path) -> None:
    start = time.perf_counter()
    nb = execute_notebook(path, tmp_path)
    elapsed = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    if path.name.startswith(("01_", "02_", "04_")):
        assert images, "expected at least one figure"
    check = OUTPUT_CHECKS.get(path.name[:3])
    if check is not None:
        check(nb)
    print(f"{path.name}: {elapsed:.1f} s")


NOTEBOOK_OUTPUT_PX = 1000
"""Width of a notebook's output area on a 1366 px desktop (JupyterLab with its side bar
open, Colab): a figure no wider is shown at its natural size, so its text is as tall as it
was drawn (at least 11 px: :mod:`sqsnet.viz._style`)."""


def _png_sizes(nb) -> list[tuple[int, int]]:
    """``(width, height)`` of every PNG output, read from its header."""
    import base64
    import struct

    sizes = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {}).get("image/png")
            if data:
                head = base64.b64decode(data[:64])
                sizes.append(struct.unpack(">II", head[16:24]))
    return sizes


def _check_figures_fit(nb) -> None:
    """Every figure is shown at its natural size on a 1366 px desktop (issue 27 item 6)."""
    sizes = _png_sizes(nb)
    assert sizes
    too_wide = [s for s in sizes if s[0] > NOTEBOOK_OUTPUT_PX]
    assert not too_wide, f"figures wider than the output area ({NOTEBOOK_OUTPUT_PX} px): {too_wide}"


def _stream_text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs if o.output_type == "stream")


def _check_sqs_notebook(nb) -> None:
    """Notebook 02's ``CLAIM`` lines (what its text states about its outputs) all hold."""
    _check_figures_fit(nb)
    text = _stream_text(nb)
    claims = [line for line in text.splitlines() if line.startswith("CLAIM ")]
    assert all(line.endswith(": True") for line in claims), [
        line for line in claims if not line.endswith(": True")]
    expected = ["the hinge is 0 exactly where the contrast is at least the margin",
                "L_SQS is the mean of the hinge map",
                "with the anchor as its own positive, S_AP = 1 everywhere",
                # "Why X, not Y?" (the shipped example gallery: no data needed)
                "the sentence counts the locations where the contrast is above 0",
                "the positive has the predicted class and both negatives the runner-up's"]
    if "FERPlus not found" not in text:  # on the bundled model and FERPlus Valid
        expected += ["on these quads the fused map's L_SQS is at most the CNN map's",
                     "happiness vs neutral separates on the fused map",
                     "happiness vs neutral: the mouth gains more than the face average"]
        assert "atlas of 400 faces" in text
    for start in expected:
        assert any(line.startswith(f"CLAIM {start}") for line in claims), start
    assert "Why " in text and ", not " in text  # the "why" section's status line


def _check_gradcam_notebook(nb) -> None:
    """Notebook 04 names the flat branch it says it names, and counts every face."""
    _check_figures_fit(nb)
    text = _stream_text(nb)
    assert "Branch output spread over these faces: local " in text
    if "FERPlus not found" not in text:
        assert "confusion matrix of 128 faces" in text
    # the sentence names exactly the branches its own numbers call flat (any model: the
    # bundled hybrid's Swin was flat; a CNN-only model has one branch and none flat)
    line = next(line for line in text.splitlines()
                if line.startswith("Branch output spread over these faces: "))
    numbers = line.removeprefix("Branch output spread over these faces: ").split(";")[0]
    spread = {b: float(v) for b, v in re.findall(r"(local|global) ([0-9.e+-]+)",
                                                  numbers.split(". Note")[0])}
    assert spread, line
    flat = flat_branches(spread)
    assert all(f"the {b} branch's output barely varies" in line for b in flat), line
    assert ("no branch is flat" in line) == (not flat), line
    grad = [c for c in nb.cells if c.cell_type == "code" and "plot_gradcam" in c.source]
    assert grad and all("flat=FLAT" in c.source for c in grad)


OUTPUT_CHECKS = {"02_": _check_sqs_notebook, "04_": _check_gradcam_notebook}
"""Checks of an executed notebook's outputs against what its text says, by name prefix."""


@pytest.mark.slow
def test_sqs_notebook_draws_the_maps_of_your_own_four_images(tmp_path: Path) -> None:
    """Notebook 02 with ``MY_FACES`` set: faces found or used whole, maps drawn."""
    from sqsnet.viz import synthetic_face

    files = []
    for i, expression in enumerate(("happiness", "happiness", "sadness", "sadness")):
        files.append(tmp_path / f"{i}_{expression}.png")
        synthetic_face(expression, size=120, seed=i).save(files[-1])
    path = next(p for p in NOTEBOOKS if p.name.startswith("02_"))
    nb = nbformat.read(path, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "MY_FACES = []" in params.source
    params.source = params.source.replace("MY_FACES = []", f"MY_FACES = {[str(f) for f in files]!r}")
    edited = tmp_path / path.name
    nbformat.write(nb, edited)
    nb = execute_notebook(edited, tmp_path)
    own = next(c for c in nb.cells if c.cell_type == "code" and "def own_quad" in c.source)
    text = "".join(o.get("text", "") for o in own.outputs if o.output_type == "stream")
    assert "L_SQS = " in text
    assert any("image/png" in o.get("data", {}) for o in own.outputs)


@pytest.mark.slow
def test_a_stalled_notebook_fails_naming_its_cell_and_leaves_no_kernel(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil", reason="psutil is not installed (ipykernel needs it)")
    pid_file = tmp_path / "kernel.pid"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("A cell that never ends."),
        nbformat.v4.new_code_cell(f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))"),
        nbformat.v4.new_code_cell("import time\ntime.sleep(600)"),
    ])
    path = tmp_path / "stall.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(pytest.fail.Exception) as info:
        execute_notebook(path, tmp_path, limit_s=45)
    message = str(info.value)
    assert "stall.ipynb stalled in cell 2 ('import time')" in message
    assert "no end after 45 s" in message
    kernel = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # killed; reaped once init adopts it
        try:
            if psutil.Process(kernel).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"kernel {kernel} still running after the stalled notebook was stopped")


def test_the_figure_width_check_reads_the_pngs_and_can_fail() -> None:
    import base64
    import io

    from PIL import Image

    def notebook_with(width: int):
        buf = io.BytesIO()
        Image.new("RGB", (width, 10)).save(buf, format="PNG")
        out = nbformat.v4.new_output("display_data", data={
            "image/png": base64.b64encode(buf.getvalue()).decode()})
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[out])])

    assert _png_sizes(notebook_with(640)) == [(640, 10)]
    _check_figures_fit(notebook_with(NOTEBOOK_OUTPUT_PX))
    with pytest.raises(AssertionError, match="wider than the output area"):
        _check_figures_fit(notebook_with(NOTEBOOK_OUTPUT_PX + 1))
