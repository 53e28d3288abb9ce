"""The paper's ablation grid, run with the lab's own trainer over several seeds.

Variants (all with the same config, schedule, batches and seeds; only the model differs):

==============  ==========================================  ===========================
name            what changes                                paper's Table 7 row
==============  ==========================================  ===========================
``full``        nothing: SQSNet with in-batch quads          SQSNet
``no_sqs``      ``model.use_sqs=false``                      w/o SQS
``no_cnn``      ``model.use_local=false`` (Swin only)        w/o CNN
``no_swin``     ``model.use_global=false`` (CNN only)        w/o Swin
``four_pass``   ``model.sqs.quads=dataset`` (A, P, N1, N2    (the paper's own quads)
                forwarded separately; 3-4x slower)
==============  ==========================================  ===========================

Each run lives in ``<out_dir>/<variant>-seed<k>/``. A run whose ``summary.json`` exists is
finished and skipped on re-launch; an unfinished one resumes from ``last.safetensors``. The
grid writes ``results.json`` (every run and the per-variant summaries), ``results.csv`` (one
row per run) and ``results.md`` (mean +- std over seeds and the paired t-test of ``full``
against ``no_sqs``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from sqsnet.config import (
    INCIDENTAL_SETTINGS,
    Config,
    ConfigError,
    apply_overrides,
    config_differences,
    format_differences,
    load_config,
)
from sqsnet.evaluate import paired_ttest, summarize_seeds
from sqsnet.training import train
from sqsnet.utils.io import atomic_write_text

__all__ = ["VARIANTS", "AblationReport", "run_ablation", "collect_results"]

_LOG = logging.getLogger(__name__)

VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "no_sqs": {"model.use_sqs": False},
    "no_cnn": {"model.use_local": False},
    "no_swin": {"model.use_global": False},
    "four_pass": {"model.sqs.quads": "dataset"},
}
DESCRIPTIONS = {
    "full": "SQSNet (in-batch quads)",
    "no_sqs": "w/o SQS",
    "no_cnn": "w/o CNN (Swin only)",
    "no_swin": "w/o Swin (CNN only)",
    "four_pass": "SQS, paper's four-pass quads",
}
_METRIC_NAMES = {"val_accuracy": "accuracy", "val_macro_f1": "macro-F1"}
METRICS = ("val_accuracy", "val_macro_f1", "val_balanced_accuracy", "images_per_s",
           "wall_time_s")


@dataclass
class AblationReport:
    """What :func:`run_ablation` wrote."""

    out_dir: Path
    results: dict[str, Any]
    markdown: str


def _run_record(run_dir: Path) -> dict[str, Any] | None:
    """Read a finished run's numbers (``None`` if unfinished)."""
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        return None
    summary = json.loads(summary_path.read_text())
    rates = []
    metrics_csv = run_dir / "metrics.csv"
    if metrics_csv.is_file():
        with open(metrics_csv, newline="") as fh:
            rates = [float(r["images_per_s"]) for r in csv.DictReader(fh)]
    val = summary.get("val", {})
    return {
        "run_dir": str(run_dir),
        "best_epoch": summary.get("best_epoch"),
        "val_accuracy": val.get("accuracy"),
        "val_macro_f1": val.get("macro_f1"),
        "val_balanced_accuracy": val.get("balanced_accuracy"),
        "images_per_s": sum(rates) / len(rates) if rates else None,
        "wall_time_s": summary.get("total_wall_time_s", summary.get("wall_time_s")),
    }


def collect_results(out_dir: str | Path, variants: Sequence[str] | None = None) -> dict[str, Any]:
    """Gather finished runs under ``out_dir`` into per-variant lists and summaries."""
    out = Path(out_dir)
    names = list(variants) if variants else list(VARIANTS)
    table: dict[str, Any] = {}
    for name in names:
        runs = []
        for run_dir in sorted(out.glob(f"{name}-seed*")):
            record = _run_record(run_dir)
            if record is not None:
                record["seed"] = int(run_dir.name.rsplit("seed", 1)[1])
                runs.append(record)
        if not runs:
            continue
        runs.sort(key=lambda r: r["seed"])
        entry: dict[str, Any] = {"description": DESCRIPTIONS.get(name, name),
                                 "seeds": [r["seed"] for r in runs], "runs": runs}
        for metric in METRICS:
            values = [r[metric] for r in runs if r[metric] is not None]
            entry[metric] = values
            if values:
                entry[f"{metric}_summary"] = summarize_seeds(values)
        table[name] = entry
    results: dict[str, Any] = {"variants": table}
    # paired t-tests of full SQSNet against every other variant, on the seeds both have
    ttests: dict[str, Any] = {}
    if "full" in table:
        for name in table:
            if name == "full":
                continue
            for metric in ("val_accuracy", "val_macro_f1"):
                full = {r["seed"]: r[metric] for r in table["full"]["runs"]}
                other = {r["seed"]: r[metric] for r in table[name]["runs"]}
                common = sorted(set(full) & set(other))
                if not common:
                    continue
                ttests[f"full_vs_{name}/{metric}"] = {
                    **paired_ttest([full[s] for s in common],
                                   [other[s] for s in common]).as_dict(),
                    "seeds": common, "metric": metric, "a": "full", "b": name,
                }
    results["ttests"] = ttests
    if "full_vs_no_sqs/val_accuracy" in ttests:
        results["ttest_full_vs_no_sqs"] = ttests["full_vs_no_sqs/val_accuracy"]
    return results


def _fmt(entry: dict[str, Any], metric: str, scale: float = 100.0, digits: int = 2) -> str:
    summary = entry.get(f"{metric}_summary")
    if not summary:
        return "-"
    if summary["n"] == 1:
        return f"{summary['mean'] * scale:.{digits}f}"
    return f"{summary['mean'] * scale:.{digits}f} ± {summary['std'] * scale:.{digits}f}"


def results_markdown(results: dict[str, Any]) -> str:
    """The grid as a markdown table (+ the t-test line)."""
    lines = [
        "| variant | seeds | val accuracy (%) | macro-F1 (%) | balanced acc. (%) | "
        "train images/s | wall time (min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in results["variants"].values():
        lines.append(
            f"| {entry['description']} | {len(entry['seeds'])} | "
            f"{_fmt(entry, 'val_accuracy')} | {_fmt(entry, 'val_macro_f1')} | "
            f"{_fmt(entry, 'val_balanced_accuracy')} | {_fmt(entry, 'images_per_s', 1, 0)} | "
            f"{_fmt(entry, 'wall_time_s', 1 / 60, 1)} |"
        )
    ttests = results.get("ttests")
    if ttests is None and results.get("ttest_full_vs_no_sqs"):  # results of older versions
        ttests = {"full_vs_no_sqs/val_accuracy": {**results["ttest_full_vs_no_sqs"],
                                                  "b": "no_sqs"}}
    if ttests:
        lines += ["", "Paired t-tests, full SQSNet minus each variant on the same seeds "
                      "(a positive difference: full is better):", "",
                  "| full vs | metric | seeds | mean difference (points) | t | p |",
                  "|---|---|---|---|---|---|"]
        for tt in ttests.values():
            desc = results["variants"].get(tt["b"], {}).get("description", tt["b"])
            metric = _METRIC_NAMES.get(tt.get("metric", "val_accuracy"), tt.get("metric"))
            if tt["statistic"] is None or math.isnan(tt["statistic"]):  # one seed: no test
                t_text, p_text = "-", "- (needs 2+ seeds)"
            else:
                t_text, p_text = f"{tt['statistic']:.3g}", f"{tt['pvalue']:.2g}"
            lines.append(
                f"| {desc} | {metric} | {len(tt['seeds'])} | {tt['mean_diff'] * 100:+.2f} | "
                f"{t_text} | {p_text} |"
            )
    return "\n".join(lines) + "\n"


def _results_csv(results: dict[str, Any]) -> str:
    buf = io.StringIO()
    fields = ["variant", "seed", *METRICS, "best_epoch", "run_dir"]
    writer = csv.DictWriter(buf, fields)
    writer.writeheader()
    for name, entry in results["variants"].items():
        for run in entry["runs"]:
            writer.writerow({"variant": name, **{k: run.get(k) for k in fields[1:]}})
    return buf.getvalue()


def _strict_json(obj: Any) -> Any:
    """``obj`` with NaN/inf floats as ``None``, so results.json is standard JSON."""
    if isinstance(obj, dict):
        return {k: _strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _check_same_settings(run_dir: Path, run_cfg: Config) -> None:
    """Refuse to skip or resume a run folder that was trained with other settings.

    Raises:
        ConfigError: Naming the folder and the first differing settings.
    """
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        return
    diff = config_differences(load_config(saved), run_cfg, ignore=INCIDENTAL_SETTINGS)
    if diff:
        raise ConfigError(
            f"{run_dir} was trained with other settings than this grid's "
            f"({format_differences(diff)}): give the grid its own --out-dir, or remove "
            "that folder to retrain it")


def run_ablation(
    cfg: Config,
    data_root: str | None = None,
    seeds: int = 3,
    variants: Sequence[str] | None = None,
    four_pass_seeds: int = 1,
    out_dir: str | Path = "runs/ablation",
    device: str | None = None,
    progress: bool = True,
) -> AblationReport:
    """Train every (variant, seed) not yet finished, then write the results files.

    Args:
        cfg: Base config (e.g. ``ferplus_cpu``); every variant applies its overrides to it.
        data_root: Dataset root.
        seeds: Seeds ``0..seeds-1`` for every variant but ``four_pass``.
        variants: Subset of :data:`VARIANTS` (default: all).
        four_pass_seeds: Seeds for the four-pass variant.
        out_dir: Folder of the grid.
        device: Torch device.
        progress: Progress bars.

    Returns:
        :class:`AblationReport`.

    Raises:
        ConfigError: For an unknown variant name, or an existing run in ``out_dir`` that was
            trained with different settings.
    """
    names = list(variants) if variants else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown ablation variant(s) {unknown}: expected {list(VARIANTS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # seed-major order: after each seed, every variant has one more finished run
    for seed in range(max(seeds, four_pass_seeds)):
        for name in names:
            if seed >= (four_pass_seeds if name == "four_pass" else seeds):
                continue
            run_name = f"{name}-seed{seed}"
            overrides = {**VARIANTS[name], "train.seed": seed, "train.out_dir": str(out),
                         "train.run_name": run_name}
            run_cfg = apply_overrides(cfg, overrides)
            run_cfg.name = f"{cfg.name}-{name}"
            _check_same_settings(out / run_name, run_cfg)
            if (out / run_name / "summary.json").is_file():
                _LOG.info("ablation: %s finished already, skipping", run_name)
                continue
            _LOG.info("ablation: training %s", run_name)
            train(run_cfg, data_root=data_root, resume=True, device=device, progress=progress)
    results = collect_results(out, names)
    results["command_config"] = cfg.name
    markdown = results_markdown(results)
    atomic_write_text(out / "results.json", json.dumps(_strict_json(results), indent=2))
    atomic_write_text(out / "results.csv", _results_csv(results))
    atomic_write_text(out / "results.md", markdown)
    return AblationReport(out, results, markdown)
