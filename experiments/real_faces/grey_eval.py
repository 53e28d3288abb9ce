"""Does a model trained on grey faces read colour photos better when they are made grey first?

FERPlus is grey; most photos are colour. The eval transform keeps colour as it comes, so a
grey-trained model meets colour only at evaluation. This scores one checkpoint on one split
twice, single view at the checkpoint's crop, with the eval transform as it is and with
``build_eval_transform(grayscale=True)`` (every image turned into its luminance), and prints
accuracy, balanced accuracy and macro-F1 of both, how many images were colour, the accuracy
on the colour images alone, and how many of them the grey view fixed and broke with the exact
McNemar test (grey images get the same answer both ways).

Usage (from the repository root)::

    python experiments/real_faces/grey_eval.py --checkpoint default --dataset folder \
        --data-root ../shared/data/muxspace --split all [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import torch

from sqsnet.checkpoint import load_model
from sqsnet.data import build_dataset, build_eval_transform
from sqsnet.evaluate import evaluate_dataset, mcnemar_test
from sqsnet.utils.io import atomic_write_text

KEYS = ("accuracy", "balanced_accuracy", "macro_f1")


def is_colour(dataset: Any, index: int) -> bool:
    """Whether image ``index`` has channels that differ (mean |R-G| + |B-G| above 2 levels)."""
    arr = np.asarray(dataset.load_image(index).convert("RGB"), dtype=np.int16)
    return bool(np.abs(arr[..., 0] - arr[..., 1]).mean() + np.abs(arr[..., 2] - arr[..., 1]).mean() > 2)


def colour_rows(rows: list[dict[str, Any]], colour: list[bool]) -> list[bool]:
    """Whether each colour image's prediction was right (rows in dataset order)."""
    return [r["predicted"] == r["target"] for r, c in zip(rows, colour) if c]


def main() -> None:
    """Score both ways and print one JSON object and a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = load_model(args.checkpoint)
    result: dict[str, Any] = {"checkpoint": args.checkpoint, "dataset": args.dataset,
                              "split": args.split, "crop_pct": model.cfg.crop_pct}
    right: dict[str, list[bool]] = {}
    colour: list[bool] | None = None
    for name, grey in (("as_is", False), ("grey", True)):
        tf = build_eval_transform(model.cfg.img_size, crop_pct=model.cfg.crop_pct, grayscale=grey)
        data = build_dataset(args.dataset, args.data_root, args.split, transform=tf)
        metrics = evaluate_dataset(model, data, model.class_names, per_sample=True)
        if len(metrics["per_sample"]) != len(data):
            raise SystemExit("grey_eval.py: error: some classes were not scored; use a dataset "
                             "in the model's classes")
        if colour is None:
            colour = [is_colour(data, i) for i in range(len(data))]
        right[name] = colour_rows(metrics["per_sample"], colour)
        result[name] = {k: round(float(metrics[k]), 4) for k in KEYS}
        result[name]["colour_accuracy"] = round(sum(right[name]) / max(1, len(right[name])), 4)
        result["n"] = int(metrics["n"])
    assert colour is not None
    result["colour_images"] = sum(colour)
    result["colour_share"] = round(sum(colour) / max(1, len(colour)), 3)
    result.update(grey_fixed=0, grey_broke=0, mcnemar_p=None)
    if any(colour):
        test = mcnemar_test(right["grey"], right["as_is"])
        result.update(grey_fixed=test.a_only, grey_broke=test.b_only,
                      mcnemar_p=round(test.pvalue, 4))
    print(json.dumps(result))
    print(f"| eval transform ({args.dataset} {args.split}, n={result['n']}, "
          f"{result['colour_images']} colour) | accuracy | balanced | macro-F1 | colour "
          "images: accuracy |")
    print("|---|---|---|---|---|")
    for name in ("as_is", "grey"):
        row = result[name]
        print(f"| {name} | {row['accuracy']:.4f} | {row['balanced_accuracy']:.4f} | "
              f"{row['macro_f1']:.4f} | {row['colour_accuracy']:.4f} |")
    if result["mcnemar_p"] is not None:
        print(f"grey view on the colour images: {result['grey_fixed']} fixed, "
              f"{result['grey_broke']} broken (exact McNemar p = {result['mcnemar_p']:.3f})")
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
