"""Bundle a finished run as the package's ``default`` checkpoint, with its model card.

Copies ``<run>/best.safetensors`` (weights + config + metadata, no optimizer state) to
``sqsnet/weights/default.safetensors`` (+ JSON sidecar), draws the training curve to
``docs/default_model_curve.png`` and writes ``sqsnet/weights/MODEL_CARD.md`` from the run's
``summary.json``, ``metrics.csv`` and ``config.yaml``. Optional baseline runs add rows to the
card's comparison table.

Usage::

    python scripts/bundle_default.py runs/ferplus_cpu-seed0 \
        --command "sqsnet train --config configs/ferplus_cpu.yaml --data-root ../shared/data/ferplus" \
        [--baseline "CNN only, no SQS=runs/baseline-seed0"] [--shared "tests ran in epoch 1"] \
        [--earlier "previous default=runs/old-seed0=COMMIT"] [--data-root ../shared/data/ferplus] \
        [--seed-runs "SQSNet=runs/a-seed0,runs/a-seed1" --seed-runs "CNN only=runs/b-seed0,runs/b-seed1"] \
        [--machine "an Intel Xeon (...)"] [--wall-note "On an AVX2-only CPU ..."]

With ``--data-root`` each baseline's best checkpoint and the bundled one are also scored on
the validation split image by image, and the verdict gives McNemar's exact test between them.
With ``--seed-runs`` the card gains a table of mean +- std over seeds per recipe and the paired
t-test (matched seeds) of the first recipe against each other one.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader

from sqsnet.checkpoint import (
    Checkpoint,
    atomic_write_text,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from sqsnet.config import config_from_dict, config_overrides
from sqsnet.evaluate import (
    McNemarResult,
    mcnemar_test,
    paired_ttest,
    predict_loader,
    summarize_seeds,
)
from sqsnet.models import SQSNet

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "sqsnet" / "weights"
MAX_MB = 25.0


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _wall_minutes(run: Path) -> float:
    path = run / "wall_time.json"
    if path.is_file():
        return float(json.loads(path.read_text())["total_s"]) / 60
    return sum(float(r["epoch_time_s"]) for r in _rows(run)) / 60


def _machine_text(summary: dict) -> str:
    """The machine a run trained on, from the hardware its ``summary.json`` records (runs
    from before that record say only what this machine's platform is)."""
    hw = summary.get("hardware")
    if not hw:
        return f"{platform.machine()} with 2 CPU cores and no GPU"
    where = hw.get("gpu") or (f"{hw['cpu']} ({hw['machine']}, {hw['cpu_cores']} cores, "
                              f"{hw['torch_threads']} torch threads, no GPU)")
    ranks = f", {hw['world_size']} processes" if hw.get("world_size", 1) > 1 else ""
    return f"{where}{ranks}, {hw['train_precision']} training steps"


def _wall_text(minutes: float, summary: dict, machine: str = "", shared: str = "",
               note: str = "") -> str:
    """The card's wall-time sentence: minutes, the machine (``machine`` names it for runs whose
    ``summary.json`` predates the hardware record), how other work shared it, and a note
    (e.g. what the same recipe costs on another CPU)."""
    where = machine or _machine_text(summary)
    text = f"wall time {minutes:.0f} minutes on {where}{f' ({shared})' if shared else ''}."
    return f"{text} {note.strip()}" if note.strip() else text


def _count_params(state: dict[str, torch.Tensor]) -> int:
    """Floating-point weights and buffers in a state dict (the card's parameter count)."""
    return sum(v.numel() for v in state.values() if v.is_floating_point())


def _param_count(run: Path, config: dict) -> int:
    """:func:`_count_params` of ``run``'s model: from its best checkpoint, or, for a run kept
    as records only (``results/runs/``: no weights), from its config."""
    ckpt = run / "best.safetensors"
    if ckpt.is_file():
        return _count_params(load_checkpoint(ckpt).model_state)
    return _count_params(
        SQSNet(config_from_dict(config, str(run / "summary.json")).model).state_dict())


def _summary_row(name: str, run: Path) -> str:
    s = json.loads((run / "summary.json").read_text())
    cfg = s["config"]
    model = cfg["model"]
    params = _param_count(run, cfg)
    tta = s.get("val_tta", {}).get("accuracy")
    return (f"| {name} | {model['local_branch']['name'] if model['use_local'] else '-'} / "
            f"{model['global_branch']['name'].split('_')[0] if model['use_global'] else '-'} / "
            f"{'SQS' if model['use_sqs'] else 'no SQS'} | {params / 1e6:.2f} M | "
            f"{len(_rows(run))} (best {s['best_epoch']}) | {_wall_minutes(run):.0f} | "
            f"{s['val']['accuracy'] * 100:.2f} | {tta * 100 if tta else float('nan'):.2f} | "
            f"{s['val']['macro_f1'] * 100:.2f} | {s['val']['balanced_accuracy'] * 100:.2f} |")


def _curve_table(rows: list[dict[str, str]]) -> tuple[str, str]:
    """The card's per-epoch table: header and rows. Runs with weight EMA validate the average
    (``val_accuracy``) and log the live weights beside it (``val_accuracy_live``)."""
    ema = bool(rows) and bool(rows[0].get("val_accuracy_live"))
    acc = "val acc., EMA (%) | val acc., live weights (%)" if ema else "val acc. (%)"
    head = (f"| epoch | train loss | {acc} | val macro-F1 (%) | train images/s |\n"
            f"|---|---|---|{'---|' if ema else ''}---|---|")
    lines = []
    for r in rows:
        live = f" {float(r['val_accuracy_live']) * 100:.2f} |" if ema else ""
        lines.append(f"| {r['epoch']} | {float(r['train_loss']):.3f} | "
                     f"{float(r['val_accuracy']) * 100:.2f} |{live} "
                     f"{float(r['val_macro_f1']) * 100:.2f} | {float(r['images_per_s']):.0f} |")
    return head, "\n".join(lines)


TARGET = 0.88
PLAIN_CNN = 0.864


def _valid_correct(run: Path, data_root: str, tta: bool) -> np.ndarray:
    """Per-image correctness of ``run``'s best checkpoint on its validation split, ``[N]``."""
    from sqsnet.data import build_dataset, build_eval_transform

    model = load_model(run / "best.safetensors")
    data = load_checkpoint(run / "best.safetensors").config.data
    dataset = build_dataset(data.dataset, data_root, data.val_split,
                            transform=build_eval_transform(model.cfg.img_size))
    if list(dataset.classes) != list(model.class_names):
        raise SystemExit(f"{run}: model classes {model.class_names} differ from the "
                         f"{data.dataset} classes {dataset.classes}")
    probs, targets = predict_loader(model, DataLoader(dataset, batch_size=256), tta=tta)
    correct = probs.argmax(1) == targets
    key = "val_tta" if tta else "val"
    recorded = json.loads((run / "summary.json").read_text())[key]["accuracy"]
    if abs(correct.mean() - recorded) * len(correct) > 1.5:  # one borderline image may flip
        raise SystemExit(f"{run}: re-scored {key} accuracy {correct.mean():.4f} does not match "
                         f"the recorded {recorded:.4f}; is {data_root} the data it was trained on?")
    return correct


def _mcnemar_text(result: McNemarResult, tta: bool) -> str:
    return (f"McNemar's exact test on the same {result.n:,} Valid images"
            f"{' with TTA' if tta else ''}: p = {result.pvalue:.3g} ({result.a_only} images "
            f"only the bundled model gets right, {result.b_only} only the baseline)")


def _standing(diff: float, unit: str = "", of: str = "") -> str:
    """Where one model stands against another, ``diff`` points apart (positive: ahead).

    ``"ahead of *b* by 0.60 points"``, ``"behind by 0.28"``, or ``"level with *b*"`` when the
    difference rounds to 0.00 (the card prints two decimals; a tie is neither ahead nor
    behind). ``of`` names the other model after the verb.
    """
    if round(abs(diff), 2) == 0:
        return f"level{' with' + of if of else ''}"
    word = "ahead" if diff > 0 else "behind"
    if of:
        word += " of" if diff > 0 else ""
    return f"{word}{of} by {abs(diff):.2f}{unit}"


def _verdict(summary: dict, baselines: list[tuple[str, dict]] = (),
             tests: dict[str, list[str]] | None = None) -> str:
    acc = summary["val"]["accuracy"]
    tta = summary.get("val_tta", {}).get("accuracy", acc)
    best = max(acc, tta)
    parts = [f"{acc * 100:.2f}% ({tta * 100:.2f}% with TTA) on Valid"]
    if acc >= TARGET:
        parts.append("meets the 88% target")
    elif best >= TARGET:
        parts.append(f"meets the 88% target with TTA only ({(TARGET - acc) * 100:.1f} points "
                     "short without it)")
    else:
        parts.append(f"misses the 88% target by {(TARGET - best) * 100:.1f} points")
    if best < PLAIN_CNN:
        parts.append("and stays below the plain 1.2 M-parameter CNN's 86.4%: at this training "
                     "budget the hybrid does not yet earn its cost")
    else:
        parts.append(f"and is {(best - PLAIN_CNN) * 100:.1f} points above the plain "
                     "1.2 M-parameter CNN's 86.4% (with flip TTA)")
    text = ", ".join(parts[:2]) + (" " + parts[2] if len(parts) > 2 else "") + "."
    for name, base in baselines:
        b_acc = base["val"]["accuracy"]
        b_tta = base.get("val_tta", {}).get("accuracy", b_acc)
        diff, diff_tta = (acc - b_acc) * 100, (tta - b_tta) * 100
        text += (f" Against the lab's own *{name}* run on the same recipe "
                 f"({b_acc * 100:.2f}%, {b_tta * 100:.2f}% with TTA), the bundled model is "
                 f"{_standing(diff, ' points')} without TTA and {_standing(diff_tta)} with it"
                 f" (one seed each, so a small difference is not evidence).")
        if tests and tests.get(name):
            text += (" " + "; ".join(tests[name]) + ". The test compares these two trained "
                     "models on Valid, not the two recipes: that takes several seeds.")
    return text


def _seed_metrics(run: Path) -> dict[str, float]:
    """The numbers a seed contributes: its seed, Valid accuracy (+ TTA), macro-F1, wall time."""
    s = json.loads((run / "summary.json").read_text())
    return {"seed": int(s["config"]["train"]["seed"]),
            "accuracy": s["val"]["accuracy"] * 100,
            "tta": s.get("val_tta", {}).get("accuracy", math.nan) * 100,
            "macro_f1": s["val"]["macro_f1"] * 100,
            "wall": _wall_minutes(run)}


def _mean_std(values: list[float]) -> str:
    summary = summarize_seeds(values)
    return f"{summary['mean']:.2f} ± {summary['std']:.2f}"


def _seed_section(groups: list[tuple[str, list[dict[str, float]]]]) -> tuple[str, str]:
    """Markdown table of mean +- std over seeds per recipe, and the verdict's sentences.

    Args:
        groups: ``(recipe name, per-seed metrics from _seed_metrics)``; the first recipe is
            tested (paired t-test over the seeds both ran) against each of the others.

    Returns:
        ``(table, verdict text)``.
    """
    lines = ["| recipe | seeds | acc. (%) | acc. 5-view TTA (%) | macro-F1 (%) | wall (min) |",
             "|---|---|---|---|---|---|"]
    for name, runs in groups:
        seeds = ", ".join(str(r["seed"]) for r in runs)
        lines.append(f"| {name} | {seeds} | {_mean_std([r['accuracy'] for r in runs])} | "
                     f"{_mean_std([r['tta'] for r in runs])} | "
                     f"{_mean_std([r['macro_f1'] for r in runs])} | "
                     f"{np.mean([r['wall'] for r in runs]):.0f} |")
    (ref_name, ref), texts = groups[0], []
    for name, runs in groups[1:]:
        by_seed = {r["seed"]: r for r in runs}
        common = [r for r in ref if r["seed"] in by_seed]
        if not common:
            raise SystemExit(f"--seed-runs: {ref_name!r} and {name!r} share no seed")
        for key, label in (("accuracy", "without TTA"), ("tta", "with TTA")):
            test = paired_ttest([r[key] for r in common], [by_seed[r["seed"]][key] for r in common])
            stat = ("too few seeds for a p-value" if math.isnan(test.pvalue)
                    else f"t = {test.statistic:.2f}, p = {test.pvalue:.3g}")
            standing = _standing(test.mean_diff, " points", of=f" *{name}*")
            texts.append(f"over seeds {', '.join(str(r['seed']) for r in common)} *{ref_name}* "
                         f"is {standing} on average {label} (paired t-test, {stat})")
    verdict = ("Across seeds: " + "; ".join(texts) + ".") if texts else ""
    return "\n".join(lines), verdict


def _config_diff(ref: dict, other: dict) -> list[str]:
    """``key=value`` overrides that turn ``ref`` into ``other`` (:func:`config_overrides`).

    Keys that ``ref`` predates and run names are left out.
    """
    return config_overrides(ref, other, ignore=("train.run_name", "name"))


def _comparison(name: str, run: Path, ref_config: dict, rows: list[str], how: list[str],
                commit: str | None = None) -> dict:
    """Add ``run``'s table row and the command that made it (from ``ref_config``'s); its summary."""
    summary = json.loads((run / "summary.json").read_text())
    rows.append(_summary_row(name, run))
    changed = _config_diff(ref_config, summary["config"])
    extra = f" --set {' '.join(shlex.quote(c) for c in changed)}" if changed else ""
    preset = f" and the preset as of commit `{commit}`" if commit else ""
    how.append(f"- *{name}*: `{run.name}`, the same command with `--run-name {run.name}{extra}`"
               f"{preset}.")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--command", required=True, help="the exact training command")
    parser.add_argument("--baseline", action="append", default=[],
                        help="NAME=RUN_DIR of a comparison run (repeatable)")
    parser.add_argument("--earlier", action="append", default=[],
                        help="NAME=RUN_DIR=COMMIT of a run of the preset as it was at COMMIT, "
                             "shown in the table for context (repeatable)")
    parser.add_argument("--shared", default="",
                        help="how other work shared the machine during the run, if it did")
    parser.add_argument("--machine", default="",
                        help="the machine the run trained on, in words, for runs whose "
                             "summary.json has no hardware record")
    parser.add_argument("--wall-note", default="",
                        help="a sentence after the wall time, e.g. what the recipe costs on "
                             "another CPU")
    parser.add_argument("--data-root", default=None,
                        help="the training data: re-score the bundled and baseline checkpoints "
                             "on Valid and add McNemar's test to the verdict")
    parser.add_argument("--seed-runs", action="append", default=[],
                        help="NAME=RUN_DIR,RUN_DIR,... the seeds of one recipe (repeatable): the "
                             "card gets mean +- std per recipe and a paired t-test of the first "
                             "recipe against each other one")
    parser.add_argument("--seed-note", default="",
                        help="a sentence under the seed table, e.g. how other work shared the "
                             "machine during those runs")
    args = parser.parse_args()
    run: Path = args.run
    runs = _parse_runs(args)
    _check_inputs(args, runs)
    summary = json.loads((run / "summary.json").read_text())

    ckpt = load_checkpoint(run / "best.safetensors")
    model = SQSNet(ckpt.config.model)
    model.load_state_dict(ckpt.model_state)
    meta = {**ckpt.meta, "metrics": {"val": summary["val"], "val_tta": summary.get("val_tta")},
            "bundled_from": run.name}
    # everything is written into a scratch folder beside the weights first and moved into
    # place only once the card is complete: a failure on the way leaves the bundled default
    # as it was
    scratch = Path(tempfile.mkdtemp(prefix=".bundle-", dir=WEIGHTS))
    try:
        _bundle(args, runs, summary, ckpt, model, meta, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class _RunArgs(NamedTuple):
    """The comparison runs the arguments name, parsed once."""

    baselines: list[tuple[str, Path]]  # --baseline NAME=RUN_DIR
    earlier: list[tuple[str, Path, str]]  # --earlier NAME=RUN_DIR=COMMIT
    seeds: list[tuple[str, list[Path]]]  # --seed-runs NAME=RUN_DIR,RUN_DIR,...


def _parse_runs(args: argparse.Namespace) -> _RunArgs:
    """Split ``--baseline``, ``--earlier`` and ``--seed-runs``; one line on a malformed one."""
    baselines, earlier, seeds = [], [], []
    for item in args.baseline:
        name, sep, path = item.partition("=")
        if not sep or not path:
            raise SystemExit(f"--baseline {item!r}: expected NAME=RUN_DIR")
        baselines.append((name, Path(path)))
    for item in args.earlier:
        parts = item.split("=", 2)
        if len(parts) != 3 or not all(parts):
            raise SystemExit(f"--earlier {item!r}: expected NAME=RUN_DIR=COMMIT")
        earlier.append((parts[0], Path(parts[1]), parts[2]))
    for item in args.seed_runs:
        name, sep, paths = item.partition("=")
        if not sep or not paths.strip(","):
            raise SystemExit(f"--seed-runs {item!r}: expected NAME=RUN_DIR,RUN_DIR,...")
        seeds.append((name, [Path(p) for p in paths.split(",") if p]))
    return _RunArgs(baselines, earlier, seeds)


def _check_inputs(args: argparse.Namespace, runs: _RunArgs) -> None:
    """Every run folder the arguments name has what the card reads from it; otherwise one
    line naming the folder and the missing file, before anything is written."""
    records = ("summary.json", "metrics.csv")
    weights = ("best.safetensors",) if args.data_root else ()
    needs: list[tuple[Path, tuple[str, ...], str]] = [
        (args.run, (*records, "best.safetensors"), "the run to bundle")]
    needs += [(path, (*records, *weights),
               f"baseline {name!r}" + (" (McNemar's test with --data-root needs its weights)"
                                       if weights else ""))
              for name, path in runs.baselines]
    needs += [(path, records, f"earlier {name!r}") for name, path, _ in runs.earlier]
    needs += [(path, records, f"seed run of {name!r}")
              for name, paths in runs.seeds for path in paths]
    for folder, files, role in needs:
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            raise SystemExit(f"{folder}: {role} has no {', '.join(missing)}")


def _bundle(args: argparse.Namespace, runs: _RunArgs, summary: dict, ckpt: Checkpoint,
            model: SQSNet, meta: dict, scratch: Path) -> None:
    """Write the weights, curve and card into ``scratch``, then move them into place."""
    run: Path = args.run
    staged = save_checkpoint(scratch / "default.safetensors", model, ckpt.config, meta)
    size_mb = staged.stat().st_size / 2**20
    if size_mb > MAX_MB:
        raise SystemExit(f"{run / 'best.safetensors'} bundles to {size_mb:.1f} MB, over the "
                         f"{MAX_MB} MB budget")

    from sqsnet.viz.plots import plot_training_curves, save_figure

    staged_curve = scratch / "default_model_curve.png"
    save_figure(plot_training_curves(run / "metrics.csv"), staged_curve)

    rows = _rows(run)
    cfg = ckpt.config
    per_class = summary.get("val_full", {}).get("per_class", {})
    table = "\n".join(
        f"| {name} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
        for name, v in per_class.items()
    )
    curve_head, curve_rows = _curve_table(rows)
    comparison = [_summary_row("this model (bundled)", run)]
    baselines: list[tuple[str, dict]] = []
    tests: dict[str, list[str]] = {}
    # the bundled model's per-image correctness, scored once for all baselines
    own_correct = ({tta: _valid_correct(run, args.data_root, tta) for tta in (False, True)}
                   if args.data_root and runs.baselines else {})
    how = []
    for name, path in runs.baselines:
        base = _comparison(name, path, summary["config"], comparison, how)
        baselines.append((name, base))
        if args.data_root:
            tests[name] = [
                _mcnemar_text(mcnemar_test(own_correct[tta],
                                           _valid_correct(path, args.data_root, tta)), tta)
                for tta in (False, True)
            ]
    first_earlier: dict | None = None
    for name, path, commit in runs.earlier:
        config = json.loads((path / "summary.json").read_text())["config"]
        first_earlier = first_earlier or config
        _comparison(name, path, first_earlier, comparison, how, commit)
    seed_groups = [(name, [_seed_metrics(p) for p in paths]) for name, paths in runs.seeds]
    seed_table, seed_verdict = _seed_section(seed_groups) if seed_groups else ("", "")
    seed_text = (f"""
Across seeds (each recipe trained once per seed, same command with `--set train.seed=K`;
mean ± sample standard deviation; the epoch chosen on Valid for each):

{seed_table}

{args.seed_note}
""" if seed_table else "")
    verdict = " ".join(t for t in (_verdict(summary, baselines, tests), seed_verdict) if t)
    how_text = ("Comparison runs:\n" + "\n".join(how) + "\n") if how else ""
    card = f"""# SQSNet `default` model card

The checkpoint `sqsnet/weights/default.safetensors` ({size_mb:.1f} MB), loaded by
`sqsnet.load_model("default")`, `sqsnet predict` and the app, with no network and no data folder.

## What it is
- Architecture: the `{cfg.name}` preset — {cfg.model.local_branch.name} cut at stage
  {cfg.model.local_branch.out_index} (local CNN branch) + a small Swin
  ({", ".join(f"{k} {v}" for k, v in cfg.model.global_branch.kwargs.items())}) fused by
  {cfg.model.fusion} to d3 = {cfg.model.fused_dim},
  SQS during training only; {_count_params(ckpt.model_state) / 1e6:.2f} M parameters,
  input {cfg.model.img_size} x {cfg.model.img_size} RGB (ImageNet normalisation).
- Classes (logit order): {", ".join(ckpt.meta["class_names"])}.
- Trained from scratch (no pretrained weights), seed {cfg.train.seed}.

## Data and its terms
FERPlus (Barsoum et al., 2016): FER2013 images (48 x 48 grayscale faces, non-commercial
research use) with FERPlus crowd labels (MIT). Training on `FER2013Train`
({cfg.data.label_mode} labels: the vote distributions are the soft targets); model selection
on `FER2013Valid` with Microsoft's majority rule (3,191 images, 8 classes). The FERPlus test
split was not available here, so **no test number is reported**: the figures below are
validation figures, and validation also chose the epoch, so they are optimistic.

## How it was trained
```
{args.command}
```
{len(rows)} epochs (schedule {cfg.train.epochs} epochs, best epoch {summary['best_epoch']}),
{_wall_text(_wall_minutes(run), summary, args.machine, args.shared, args.wall_note)}

## Results (FERPlus Valid, majority labels, 8 classes)
| run | local / global / SQS | params | epochs | wall (min) | acc. (%) | acc. 5-view TTA (%) | macro-F1 (%) | balanced acc. (%) |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(comparison)}

{how_text}{seed_text}
For scale: Microsoft's VGG13 from scratch reached 83.85% on the FERPlus *test* set; a plain
1.2 M-parameter VGG-style CNN reached 86.4% on Valid in 35 minutes on this kind of machine
(DESIGN.md §5). The project's target for this model is >= 88% on Valid.

**Verdict:** {verdict}

Per class (best checkpoint, no TTA):

| class | precision | recall | F1 | support |
|---|---|---|---|---|
{table}

Training curve (`docs/default_model_curve.png`):

{curve_head}
{curve_rows}

## Known limits
- Trained on 48 px grayscale, mostly frontal, tightly cropped faces: colour, large poses,
  occlusion and low light are out of its training distribution; expect lower accuracy on
  photos from the wild, even after `sqsnet.faces` crops and aligns them.
- Disgust (116 training images) and contempt (120) are rare: their recall is low.
- FER labels are culturally loaded judgements of *displayed* expression, not of felt
  emotion; do not use the model to make decisions about people.
- Torch {torch.__version__}; CPU inference at {cfg.model.img_size} px takes a few milliseconds per face.
"""
    atomic_write_text(scratch / "MODEL_CARD.md", card)
    target = WEIGHTS / "default.safetensors"
    for name in ("default.safetensors", "default.json", "MODEL_CARD.md"):
        os.replace(scratch / name, WEIGHTS / name)
    os.replace(staged_curve, REPO / "docs" / "default_model_curve.png")
    print(f"bundled {run} -> {target} ({size_mb:.1f} MB); card and curve written")


if __name__ == "__main__":
    main()
