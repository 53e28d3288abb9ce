"""Set the evaluation crop (``model.crop_pct``) of a finished checkpoint, weights untouched.

The crop is an inference setting (``sqsnet.data.transforms.build_eval_transform``), so a
model trained and selected with one crop can be served with another. This rewrites the
checkpoint (safetensors + JSON sidecar, atomically) with the new ``model.crop_pct`` and
records in ``meta["eval_crop"]`` the previous crop and, with ``--sweep``, the Valid scores
that ``crop_sweep.sh`` (beside this file) measured at both crops, so the checkpoint says
what the change was based on::

    python experiments/eval_crop/set_eval_crop.py sqsnet/weights/default.safetensors \\
        --crop-pct 0.95 --sweep results/crop_sweep/default_hybrid_seed0 \\
        --note "chosen on FERPlus Valid"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqsnet.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from sqsnet.config import is_crop_fraction

__all__ = ["main"]

_KEYS = ("accuracy", "macro_f1", "weighted_f1", "balanced_accuracy", "n")


def _sweep_scores(folder: Path, crop: float) -> dict[str, Any]:
    """``{"val": ..., "val_tta": ...}`` at ``crop`` from a crop_sweep.sh output folder."""
    out: dict[str, Any] = {}
    for f in sorted(folder.glob("crop*.json")):
        m = json.loads(f.read_text())
        if abs(float(m["crop_pct"]) - crop) < 1e-9:
            out["val_tta" if m["tta"] else "val"] = {k: m[k] for k in _KEYS}
    if "val" not in out:
        raise SystemExit(f"--sweep {folder}: no single-view result at crop_pct {crop:g}: "
                         f"run experiments/eval_crop/crop_sweep.sh with that crop first")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="the .safetensors checkpoint to rewrite")
    p.add_argument("--crop-pct", type=float, required=True, help="new model.crop_pct, in (0, 1]")
    p.add_argument("--sweep", type=Path,
                   help="results/crop_sweep/NAME folder with the scores at both crops")
    p.add_argument("--note", default="", help="how the crop was chosen, kept in the metadata")
    args = p.parse_args(argv)
    if not is_crop_fraction(args.crop_pct):
        raise SystemExit(f"--crop-pct {args.crop_pct}: expected a number in (0, 1]")
    try:
        ckpt = load_checkpoint(args.checkpoint)
        model = load_model(args.checkpoint)
    except CheckpointError as exc:
        raise SystemExit(str(exc)) from None
    old = float(ckpt.config.model.crop_pct)
    record: dict[str, Any] = {"crop_pct": args.crop_pct, "previous_crop_pct": old}
    if args.note:
        record["note"] = args.note
    if args.sweep is not None:
        after = _sweep_scores(args.sweep, args.crop_pct)
        record["before"] = _sweep_scores(args.sweep, old)
        record["after"] = after
    ckpt.config.model.crop_pct = args.crop_pct
    meta = {k: v for k, v in ckpt.meta.items() if k != "versions"}
    meta["eval_crop"] = record
    save_checkpoint(args.checkpoint, model, ckpt.config, meta)
    print(f"{args.checkpoint}: model.crop_pct {old:g} -> {args.crop_pct:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
