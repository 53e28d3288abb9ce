"""Does a 96 px model read photo faces better when they first pass through 48 px?

Hypothesis (experiments/real_faces/README.md): at 96 px the ``ferplus_lite0`` model trains on
48 px FER2013 faces upscaled (soft), while a face cut from a photo at 120-220 px reaches it
with real detail at 96 px; the 48 px default resamples both to the same 48 px. This runs
``benchmarks/framing.py --paste`` (300 FERPlus Valid faces pasted into photos, through
``sqsnet predict``'s path, against their direct crops) with the checkpoint's evaluation
transform as is, then with every face resized to ``--via`` pixels (antialiased) before it,
and prints both rows. Direct 48 px crops are unchanged by a 48 px pass, so only the photo
path can move. An experiment, not a package setting: it patches the transform in this
process only.

    python experiments/real_faces/source_size.py --checkpoint runs/NAME --data-root \
        ../shared/data/ferplus [--via 48] [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path
from typing import Any

from torchvision.transforms import v2

import sqsnet.inference
from sqsnet.utils.io import atomic_write_text

FRAMING = Path(__file__).resolve().parents[2] / "benchmarks" / "framing.py"


def _via(size: int, make: Any) -> Any:
    """``make(model_cfg)`` with every image first resized to ``size`` x ``size``."""
    def build(model_cfg: Any) -> Any:
        return v2.Compose([v2.Resize((size, size), antialias=True), make(model_cfg)])
    return build


def _framing(args: argparse.Namespace) -> dict[str, Any]:
    """One run of benchmarks/framing.py --paste in this process; its JSON record."""
    out = Path(args.json_out or "source_size.json").with_suffix(".tmp.json")
    sys.argv = ["framing.py", "--paste", "--checkpoint", args.checkpoint, "--margins",
                "--json", str(out)] + (["--data-root", args.data_root] if args.data_root else [])
    if args.limit:
        sys.argv += ["--limit", str(args.limit)]
    runpy.run_path(str(FRAMING), run_name="__main__")
    record = json.loads(out.read_text())
    out.unlink()
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data-root")
    parser.add_argument("--via", type=int, default=48, help="side to pass every face through")
    parser.add_argument("--limit", type=int, help="faces (default: framing.py's 300)")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    as_is = _framing(args)
    original = sqsnet.inference.model_eval_transform
    sqsnet.inference.model_eval_transform = _via(args.via, original)
    try:
        via = _framing(args)
    finally:
        sqsnet.inference.model_eval_transform = original
    rows = {"as_is": as_is, f"via_{args.via}": via}
    print("| eval transform | photos (%) | direct crops (%) | photos - direct (pts) |")
    print("|---|---|---|---|")
    for name, rec in rows.items():
        f = rec["framings"][0]
        print(f"| {name} | {100 * f['accuracy']:.1f} | {100 * rec['direct_accuracy']:.1f} | "
              f"{f['gap_to_direct_points']:+.1f} |")
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
