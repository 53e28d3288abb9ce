"""Do two trained models make different mistakes? Score the average of their probabilities.

Reads the per-image CSVs that ``sqsnet eval --predictions`` writes (``sample, target,
predicted, correct, p_<class>...``), one per model, all on the same split. The rows must
name the same images with the same targets (in any order: they are matched by ``sample``);
anything else is one line naming the file. Prints accuracy, balanced accuracy and macro-F1
of each model and of the mean of their probabilities (equal weights: nothing is fitted, so
nothing is selected on the split being scored), and the exact McNemar test of the ensemble
against the best single model.

An ensemble is not something the lab bundles: this asks whether the candidates' errors are
different enough that distilling them into one model is worth a run.

Usage (from the repository root)::

    sqsnet eval --checkpoint default --dataset ferplus --data-root ../shared/data/ferplus \\
        --split valid --predictions runs/ens/default-valid.csv
    sqsnet eval --checkpoint runs/ferplus_lite0_plainaug-seed0 ... --predictions runs/ens/lite0-valid.csv
    python experiments/real_faces/ensemble.py runs/ens/default-valid.csv runs/ens/lite0-valid.csv \\
        [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from sqsnet.evaluate import compute_metrics, mcnemar_test
from sqsnet.utils.io import atomic_write_text

KEYS = ("accuracy", "balanced_accuracy", "macro_f1")


class PredictionFileError(ValueError):
    """A predictions CSV that cannot be read or does not match the others."""


def read_predictions(path: Path) -> tuple[list[str], dict[str, tuple[str, np.ndarray]]]:
    """The class order and ``{sample: (target, probabilities [K])}`` of one predictions CSV."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise PredictionFileError(f"{path}: cannot read ({err.strerror})") from None
    header = list(rows[0]) if rows else []
    classes = [c.removeprefix("p_") for c in header if c.startswith("p_")]
    if not rows or not {"sample", "target"} <= set(header) or not classes:
        raise PredictionFileError(f"{path}: expected a CSV of `sqsnet eval --predictions` "
                                  "(sample, target, ..., p_<class> columns) with rows")
    out: dict[str, tuple[str, np.ndarray]] = {}
    for line, row in enumerate(rows, start=2):
        try:
            probs = np.array([float(row["p_" + c]) for c in classes])
        except (TypeError, ValueError):
            raise PredictionFileError(f"{path}:{line}: a probability is not a number") from None
        out[row["sample"]] = (row["target"], probs)
    return classes, out


def ensemble_scores(paths: list[Path]) -> dict[str, Any]:
    """Per-model and mean-probability metrics, and McNemar of the ensemble vs the best model."""
    if len(paths) < 2:
        raise PredictionFileError("give two or more predictions CSVs")
    loaded = [read_predictions(p) for p in paths]
    classes, first = loaded[0]
    samples = sorted(first)
    for path, (cls, preds) in zip(paths[1:], loaded[1:]):
        if cls != classes:
            raise PredictionFileError(f"{path}: classes {cls} differ from {paths[0]}'s {classes}")
        if set(preds) != set(first):
            raise PredictionFileError(f"{path}: its {len(preds)} images are not {paths[0]}'s "
                                      f"{len(first)}")
        bad = next((s for s in samples if preds[s][0] != first[s][0]), None)
        if bad is not None:
            raise PredictionFileError(f"{path}: target of {bad} differs from {paths[0]}'s")
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[first[s][0]] for s in samples])
    probs = [np.stack([preds[s][1] for s in samples]) for _, preds in loaded]
    models = {str(p): compute_metrics(y, pr.argmax(1), classes) for p, pr in zip(paths, probs)}
    mean = np.mean(probs, axis=0).argmax(1)
    result: dict[str, Any] = {
        "n": len(samples),
        "models": {k: {m: v[m] for m in KEYS} for k, v in models.items()},
        "ensemble": {m: compute_metrics(y, mean, classes)[m] for m in KEYS},
    }
    best = max(range(len(paths)), key=lambda i: models[str(paths[i])]["accuracy"])
    test = mcnemar_test(mean == y, probs[best].argmax(1) == y)
    result["vs_best"] = {"model": str(paths[best]), **test.as_dict()}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="+", type=Path, help="`sqsnet eval --predictions` files")
    parser.add_argument("--json", dest="json_out", type=Path)
    args = parser.parse_args(argv)
    try:
        result = ensemble_scores(args.csv)
    except PredictionFileError as err:
        print(f"ensemble: {err}", file=sys.stderr)
        return 2
    print(f"{result['n']} images\n\n| model | acc. | balanced | macro-F1 |\n|---|---|---|---|")
    rows = {**result["models"], "mean of the probabilities": result["ensemble"]}
    for name, m in rows.items():
        print(f"| {name} | " + " | ".join(f"{m[k]:.4f}" for k in KEYS) + " |")
    t = result["vs_best"]
    print(f"\nensemble vs {t['model']}: {t['a_only']} right only in the ensemble, {t['b_only']} "
          f"only in the model (exact McNemar p = {t['pvalue']:.3g})")
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
