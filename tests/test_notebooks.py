"""Every notebook runs top to bottom with its default parameters, and is stored clean.

Execution uses nbclient with the ``python3`` kernel (``make install`` registers the venv's
kernel under that name; jupyter_client starts it with the running interpreter) and the
notebooks folder as working directory. Defaults are sized for a CPU: the five notebooks
take a few minutes together on two cores.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.helpers import REPO

NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (extra 'dev')")


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
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell not tagged"
    for cell in code:
        assert cell.execution_count is None and cell.outputs == [], "stored with outputs"
    assert any(c.cell_type == "markdown" for c in nb.cells)
    source = "\n".join(c.source for c in code)
    assert "import sqsnet" in source or "from sqsnet" in source
    for forbidden in ("nn.Module)", "class SQSNet", "def forward("):
        assert forbidden not in source, f"model code in a notebook: {forbidden}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path) -> None:
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (extra 'dev')")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (extra 'notebooks')")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
        allow_errors=False,
    )
    start = time.perf_counter()
    env = {"MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    elapsed = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    if path.name.startswith(("01_", "02_", "04_")):
        assert images, "expected at least one figure"
    print(f"{path.name}: {elapsed:.1f} s")


@pytest.mark.slow
def test_sqs_notebook_draws_the_maps_of_your_own_four_images(tmp_path: Path,
                                                             monkeypatch) -> None:
    """Notebook 02 with ``MY_FACES`` set: faces found or used whole, maps drawn."""
    nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (extra 'dev')")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed (extra 'notebooks')")
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
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client.execute()
    own = next(c for c in nb.cells if c.cell_type == "code" and "def own_quad" in c.source)
    text = "".join(o.get("text", "") for o in own.outputs if o.output_type == "stream")
    assert "L_SQS = " in text
    assert any("image/png" in o.get("data", {}) for o in own.outputs)
