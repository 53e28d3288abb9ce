"""Bundle a finished run as the package's ``default`` checkpoint, with its model card.

Copies ``<run>/best.safetensors`` (weights + config + metadata, no optimizer state) to
``sqsnet/weights/default.safetensors`` (+ JSON sidecar), draws the training curve to
``docs/default_model_curve.png`` and writes ``sqsnet/weights/MODEL_CARD.md`` from the run's
``summary.json``, ``metrics.csv`` and the checkpoint's config. The card follows one layout: a
screen's worth on top (what it is, data and terms, metrics at the app's crop, limits, how it
was trained), then ``## Details`` (folded away in the app). Optional baseline runs add rows to
its comparison table. The sections themselves are written by ``card_sections.py`` beside it.

Usage::

    python scripts/bundle_default.py runs/ferplus_lite0-seed0 \
        --command "sqsnet train --config ferplus_lite0 --data-root ../shared/data/ferplus ..." \
        [--baseline "CNN only, no SQS=runs/baseline-seed0"] [--shared "tests ran in epoch 1"] \
        [--earlier "previous default=runs/old-seed0=COMMIT"] [--data-root ../shared/data/ferplus] \
        [--seed-runs "SQSNet=runs/a-seed0,runs/a-seed1" --seed-runs "CNN only=runs/b-seed0,runs/b-seed1"] \
        [--machine "an Intel Xeon (...)"] [--wall-note "On an AVX2-only CPU ..."] \
        [--scores "this model=runs/real_faces/ferplus_lite0-seed0" \
         --scores "previous default=runs/real_faces/default"]

With ``--data-root`` each baseline's best checkpoint and the bundled one are also scored on
the validation split image by image, and the verdict gives McNemar's exact test between them.
With ``--seed-runs`` the card gains a table of mean +- std over seeds per recipe and the paired
t-test (matched seeds) of the first recipe against each other one. With ``--scores`` (folders
``experiments/real_faces/score_model.sh`` wrote; the first is the bundled model, scored at the
settings it is bundled with) the card gains issue 31's table against its targets, one row per
named model (a missing file leaves ``-``), and its limits are written from those scores.
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
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

# the card's sections, beside this file (run as a script, its folder is on sys.path)
from card_sections import (
    TARGET,
    Scored,
    after_training,
    check_scored_settings,
    data_and_terms,
    limits,
    metrics_table,
    per_class_table,
    read_scores,
    scores_details,
    scores_table,
    valid_figures,
    what_it_is,
    wrap,
)
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
    m = config_from_dict(config, str(run / "summary.json")).model
    # the architecture alone: no pretrained weights loaded to count parameters
    m = replace(m, pretrained=False, local_branch=replace(m.local_branch, pretrained=False),
                global_branch=replace(m.global_branch, pretrained=False))
    return _count_params(SQSNet(m).state_dict())


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


def _valid_correct(run: Path, data_root: str, tta: bool) -> np.ndarray:
    """Per-image correctness of ``run``'s best checkpoint on its validation split, ``[N]``,
    at the evaluation settings (crop, grey) it was validated with in training: the ones its
    recorded accuracy, which this checks, was measured at."""
    from sqsnet.data import build_dataset, model_eval_transform

    model = load_model(run / "best.safetensors")
    data = load_checkpoint(run / "best.safetensors").config.data
    summary = json.loads((run / "summary.json").read_text())
    trained = config_from_dict(summary["config"], str(run / "summary.json")).model
    dataset = build_dataset(data.dataset, data_root, data.val_split,
                            transform=model_eval_transform(trained))
    if list(dataset.classes) != list(model.class_names):
        raise SystemExit(f"{run}: model classes {model.class_names} differ from the "
                         f"{data.dataset} classes {dataset.classes}")
    probs, targets = predict_loader(model, DataLoader(dataset, batch_size=256), tta=tta)
    correct = probs.argmax(1) == targets
    key = "val_tta" if tta else "val"
    recorded = summary[key]["accuracy"]
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
    text = f"{acc * 100:.2f}% single view ({tta * 100:.2f}% with TTA) on Valid, "
    if acc >= TARGET:
        text += f"meets the {TARGET:.1%} single-view target."
    else:
        text += f"misses the {TARGET:.1%} single-view target by {(TARGET - acc) * 100:.1f} points"
        text += (" (TTA reaches it, but the target is single view)." if tta >= TARGET else ".")
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
    parser.add_argument("--scores", action="append", default=[],
                        help="NAME=DIR of a folder experiments/real_faces/score_model.sh wrote "
                             "(repeatable; the first is the bundled model, e.g. "
                             "'this model=runs/real_faces/X', then 'previous default=...'): "
                             "issue 31's table and the limits come from them")
    parser.add_argument("--seed-note", default="",
                        help="a sentence under the seed table, e.g. how other work shared the "
                             "machine during those runs")
    args = parser.parse_args()
    run: Path = args.run
    runs = _parse_runs(args)
    _check_inputs(args, runs)
    summary = json.loads((run / "summary.json").read_text())
    scores = read_scores(runs.scores)

    ckpt = load_checkpoint(run / "best.safetensors")
    if ckpt.config.data.dataset != "ferplus":
        raise SystemExit(f"{run}: trained on {ckpt.config.data.dataset}; the card describes "
                         "FERPlus models only")
    if scores:
        check_scored_settings(scores[0], ckpt.config.model)
    # built as load_model builds it: no pretrained weights fetched, the checkpoint's replace them
    model = load_model(run / "best.safetensors")
    meta = {**ckpt.meta, "metrics": {"val": summary["val"], "val_tta": summary.get("val_tta")},
            "bundled_from": run.name}
    # everything is written into a scratch folder beside the weights first and moved into
    # place only once the card is complete: a failure on the way leaves the bundled default
    # as it was
    scratch = Path(tempfile.mkdtemp(prefix=".bundle-", dir=WEIGHTS))
    try:
        _bundle(args, runs, summary, ckpt, model, meta, scratch, scores)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class _RunArgs(NamedTuple):
    """The comparison runs the arguments name, parsed once."""

    baselines: list[tuple[str, Path]]  # --baseline NAME=RUN_DIR
    earlier: list[tuple[str, Path, str]]  # --earlier NAME=RUN_DIR=COMMIT
    seeds: list[tuple[str, list[Path]]]  # --seed-runs NAME=RUN_DIR,RUN_DIR,...
    scores: list[tuple[str, Path]]  # --scores NAME=DIR


def _parse_runs(args: argparse.Namespace) -> _RunArgs:
    """Split ``--baseline``, ``--earlier``, ``--seed-runs`` and ``--scores``; one line on a
    malformed one."""
    baselines, earlier, seeds, scores = [], [], [], []
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
    for item in args.scores:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--scores {item!r}: expected NAME=DIR (a score_model.sh folder)")
        scores.append((name, Path(path)))
    return _RunArgs(baselines, earlier, seeds, scores)


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
            model: SQSNet, meta: dict, scratch: Path, scores: list[Scored] = ()) -> None:
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
    own = scores[0] if scores else None
    val, val_tta, val_source = valid_figures(summary, ckpt, own)
    per_class = val.get("per_class") or summary.get("val_full", {}).get("per_class", {})
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
    classes = list(ckpt.meta["class_names"])
    after_nouns, after_text = after_training(ckpt, summary)
    optimistic = " and " + " and ".join(after_nouns) if after_nouns else ""
    n_valid = val.get("n") or summary["val"].get("n")
    crop = cfg.model.crop_pct
    grey = ", grey" if cfg.model.eval_grayscale else ""
    scores_text = ""
    if scores:
        scores_text = (f"""
Against the targets of issue 31 (`experiments/real_faces/README.md`; met in bold); each model
at its own evaluation settings, measured as in Details:

{scores_table(scores)}
""")
    trained_text = (f"{len(rows)} epochs (schedule {cfg.train.epochs}, best epoch "
                    f"{summary['best_epoch']}), seed {cfg.train.seed}, "
                    + _wall_text(_wall_minutes(run), summary, args.machine, args.shared,
                                 args.wall_note) + (f" {after_text}" if after_text else ""))
    versions = ckpt.meta.get("versions") or {}
    software = ", ".join(f"{k} {versions[k]}" for k in ("torch", "timm", "python") if k in versions)
    latency = (f" Predict p50 per photo (decode + detection + crop + model): "
               f"{own.metrics['p50_ms']:.1f} ms" + (f", p95 {own.metrics['p95_ms']:.1f} ms"
                                                     if own.metrics["p95_ms"] is not None else "")
               + "." if own is not None and own.metrics["p50_ms"] is not None else "")
    details_text = (f"""
### How the real-photo scores were measured

{scores_details(scores, cfg)}
""" if scores else "")
    card = f"""# SQSNet `default` model card

{wrap(what_it_is(cfg, _count_params(ckpt.model_state), size_mb, classes))}

{wrap(data_and_terms(cfg, n_valid, after_nouns))}

## Metrics (FERPlus Valid, crop {crop:g}{grey}, as the app runs it)

{metrics_table(val, val_tta)}

{wrap(f"Optimistic: Valid also chose the epoch{optimistic}. Source: {val_source}.")}
{scores_text}
## Limits

{limits(cfg, per_class, own)}

## How it was trained

```bash
{args.command}
```

{wrap(trained_text)}

## Details
{details_text}
### Per class (FERPlus Valid, crop {crop:g}{grey}, no TTA)

{per_class_table(per_class, own.files.get("muxspace") if own else None)}

### The run against others

FERPlus Valid, majority labels, {len(classes)} classes, each run at its training crop:

| run | local / global / SQS | params | epochs | wall (min) | acc. (%) | acc. 5-view TTA (%) | macro-F1 (%) | balanced acc. (%) |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(comparison)}

{how_text}{seed_text}
{wrap(f"**Verdict:** {verdict}")}

For scale, Microsoft's VGG13 trained from scratch reached 83.85% on the FERPlus *test* split
(Barsoum et al., 2016, majority labels).

### Training

{wrap(f"Software: {software or 'torch ' + torch.__version__}.{latency}")}

FERPlus Valid after each epoch (`docs/default_model_curve.png`):

{curve_head}
{curve_rows}
"""
    atomic_write_text(scratch / "MODEL_CARD.md", card)
    target = WEIGHTS / "default.safetensors"
    for name in ("default.safetensors", "default.json", "MODEL_CARD.md"):
        os.replace(scratch / name, WEIGHTS / name)
    os.replace(staged_curve, REPO / "docs" / "default_model_curve.png")
    print(f"bundled {run} -> {target} ({size_mb:.1f} MB); card and curve written")


if __name__ == "__main__":
    main()
