"""Turn grey evaluation (``model.eval_grayscale``) on or off in a finished checkpoint.

Grey evaluation is an inference setting (``sqsnet.data.model_eval_transform``): a model
trained on grey FER2013 faces can be served reading every photo grey, weights untouched.
This rewrites the checkpoint (safetensors + JSON sidecar, atomically) with the new value and
records in ``meta["eval_grayscale"]`` the previous value, a note and, with ``--scores``, the
muxspace figures ``grey_eval.py`` (beside this file) measured both ways, so the checkpoint
says what the change was based on::

    python experiments/real_faces/set_eval_grey.py runs/NAME/best.safetensors on \\
        --scores runs/real_faces/NAME/grey.json --note "FERPlus is grey; see README"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sqsnet.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint

__all__ = ["main"]


def _scores(path: Path) -> dict[str, Any]:
    """The colour and grey figures of a ``grey_eval.py --json`` file; one line if malformed."""
    try:
        record = json.loads(path.read_text())
        return {"dataset": record["dataset"], "split": record["split"], "n": record["n"],
                "colour_images": record["colour_images"], "colour": record["as_is"],
                "grey": record["grey"], "mcnemar_p": record["mcnemar_p"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"--scores {path}: expected the JSON of experiments/real_faces/"
                         f"grey_eval.py ({type(exc).__name__}: {exc})") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="the .safetensors checkpoint to rewrite")
    p.add_argument("value", choices=("on", "off"), help="the new model.eval_grayscale")
    p.add_argument("--scores", type=Path, help="grey_eval.py's JSON for this checkpoint")
    p.add_argument("--note", default="", help="why, kept in the metadata")
    args = p.parse_args(argv)
    record: dict[str, Any] = {}
    if args.scores is not None:
        record["scores"] = _scores(args.scores)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        model = load_model(args.checkpoint)
    except CheckpointError as exc:
        raise SystemExit(str(exc)) from None
    old = bool(getattr(ckpt.config.model, "eval_grayscale", False))
    new = args.value == "on"
    record.update(eval_grayscale=new, previous=old)
    if args.note:
        record["note"] = args.note
    ckpt.config.model.eval_grayscale = new
    meta = {k: v for k, v in ckpt.meta.items() if k != "versions"}
    meta["eval_grayscale"] = record
    save_checkpoint(args.checkpoint, model, ckpt.config, meta)
    print(f"{args.checkpoint}: model.eval_grayscale {old} -> {new}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
