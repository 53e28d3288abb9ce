"""Execute one notebook in its own process, for ``tests/test_notebooks.py``.

    python -m tests.run_notebook NOTEBOOK OUT.ipynb [--cwd DIR] [--cell-timeout S]

The notebook runs with nbclient and the ``python3`` kernel, in ``--cwd`` (default: the
notebook's folder), and the executed copy (outputs included) is written to ``OUT.ipynb``.
Before each cell starts, its index is written to ``OUT.ipynb.progress``, so a caller that has
to kill a stalled run can say which cell it stalled in. Exit status: 0 when every cell ran,
1 on a cell error or timeout (the traceback is on stderr; the partly executed copy is still
written).

Running each notebook in a fresh process keeps it apart from what the rest of the test suite
leaves in the pytest process (event loops, ZeroMQ contexts, threads), and lets the caller
enforce a wall-clock limit that holds whatever the kernel or its client are waiting on.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Run the notebook; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cwd", type=Path, default=None)
    parser.add_argument("--cell-timeout", type=int, default=300)
    args = parser.parse_args(argv)

    import nbclient
    import nbformat

    nb = nbformat.read(args.notebook, as_version=4)
    progress = args.out.with_name(args.out.name + ".progress")

    def on_cell_start(cell, cell_index: int) -> None:
        progress.write_text(f"{cell_index}\n")

    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    cwd = args.cwd or args.notebook.resolve().parent
    client = nbclient.NotebookClient(
        nb, timeout=args.cell_timeout, kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}}, allow_errors=False,
        on_cell_start=on_cell_start,
    )
    status = 0
    try:
        client.execute()
    except Exception as exc:  # a cell error or timeout: report it, keep the partial copy
        print(f"{args.notebook.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        status = 1
    finally:
        nbformat.write(nb, args.out)
    return status


if __name__ == "__main__":
    sys.exit(main())
