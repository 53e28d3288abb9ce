"""Model cards: what the Model tab says about a checkpoint.

The bundled default checkpoint has a hand-written card, ``MODEL_CARD.md`` beside it
(:func:`read_card_file`). Any other checkpoint gets a card written from its own JSON
metadata (:func:`card_from_header`): data, metrics, command, architecture, SQS and training
settings. :func:`model_card` picks between the two and adds the file's size and whether it
is loaded; :func:`info_line` is the one-line summary under the page title.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqsnet.checkpoint import DEFAULT_CHECKPOINT

__all__ = ["card_from_header", "info_line", "model_card", "read_card_file", "val_accuracy"]

CARD_FILE = "MODEL_CARD.md"
"""The hand-written card's file name, beside the checkpoint."""


def val_accuracy(meta: dict[str, Any]) -> float | None:
    """The validation accuracy recorded in a checkpoint's metadata, if any."""
    metrics = meta.get("metrics") or {}
    for split in ("val", "valid", "validation"):
        values = metrics.get(split)
        value = values.get("accuracy") if isinstance(values, dict) else None
        if isinstance(value, (int, float)):
            return float(value)
    return None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def read_card_file(path: Path) -> str:
    """A Markdown card file without its YAML front matter."""
    text = path.read_text(encoding="utf-8")
    if text.startswith("---"):
        end = text.find("\n---", 3)
        text = text[end + 4:] if end > 0 else text
    return text.strip()


def _summary_rows(path: Path, cfg: dict[str, Any], meta: dict[str, Any]) -> list[tuple[str, Any]]:
    model, data, train = cfg.get("model", {}), cfg.get("data", {}), cfg.get("train", {})
    local, global_ = model.get("local_branch") or {}, model.get("global_branch") or {}
    return [
        ("file", f"`{path.name}`"),
        ("dataset", meta.get("dataset") or data.get("dataset")),
        ("label mode", meta.get("label_mode") or data.get("label_mode")),
        ("classes", _fmt(meta.get("class_names") or model.get("class_names"))),
        ("epoch", meta.get("epoch")),
        ("seed", meta.get("seed", train.get("seed"))),
        ("local branch", local.get("name") if model.get("use_local", True) else "off"),
        ("global branch", global_.get("name") if model.get("use_global", True) else "off"),
        ("fusion", f"{model.get('fusion')} (d3 = {model.get('fused_dim')})" if model.get("fusion") else None),
        ("input size", f"{model.get('img_size')} px" if model.get("img_size") else None),
        ("SQS", "on" if model.get("use_sqs", True) else "off"),
        ("run folder", f"`{meta['run_dir']}`" if meta.get("run_dir") else None),
    ]


def _metric_lines(metrics: dict[str, Any]) -> list[str]:
    if not metrics:
        return []
    lines = ["", "**Metrics**", "", "| split | metric | value |", "|---|---|---|"]
    for split, values in metrics.items():
        if isinstance(values, dict):
            lines += [f"| {split} | {m} | {_fmt(v)} |" for m, v in values.items()]
        else:
            lines.append(f"| {split} | | {_fmt(values)} |")
    return lines


def _settings_lines(cfg: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    model, data, train = cfg.get("model", {}), cfg.get("data", {}), cfg.get("train", {})
    lines: list[str] = []
    command = meta.get("command")
    if not command and cfg.get("name"):
        command = (f"sqsnet train --config {cfg['name']} --data-root PATH"
                   "   # reconstructed from the config name; see the raw config below")
    if command:
        lines += ["", "**Command**", "", f"```\n{command}\n```"]
    sqs = model.get("sqs") or {}
    if sqs:
        keys = ("tau", "alpha", "beta", "gamma", "margin", "normalize", "negatives", "quads")
        lines += ["", "**SQS settings:** " + ", ".join(f"{k} {_fmt(sqs[k])}" for k in keys if k in sqs)]
    if train:
        keys = ("epochs", "lr", "weight_decay", "warmup_epochs", "amp", "tta")
        lines += ["", "**Training:** " + ", ".join(f"{k} {_fmt(train[k])}" for k in keys if k in train)
                  + (f", batch {data['batch_size']}" if "batch_size" in data else "")]
    versions = meta.get("versions") or {}
    if versions:
        lines += ["", "**Versions:** " + ", ".join(f"{k} {v}" for k, v in versions.items())]
    return lines


def card_from_header(path: Path, header: dict[str, Any]) -> str:
    """A model card (Markdown) written from a checkpoint's own metadata.

    Args:
        path: The checkpoint file (named in the card).
        header: Its SQSNet header (``{"config": ..., "meta": ...}``).

    Returns:
        A title, a summary table, metrics, the command and the SQS/training settings.
    """
    cfg, meta = header.get("config", {}), header.get("meta", {})
    lines = [f"## {cfg.get('name') or path.stem}", "", "| field | value |\n|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _summary_rows(path, cfg, meta) if v not in (None, "")]
    lines += _metric_lines(meta.get("metrics") or {})
    lines += _settings_lines(cfg, meta)
    return "\n".join(lines)


def model_card(path: Path, header: dict[str, Any], loaded: bool) -> str:
    """The Model tab's card of a checkpoint (Markdown).

    Args:
        path: The checkpoint file.
        header: Its SQSNet header.
        loaded: Whether its model is in memory (said in the footer).

    Returns:
        ``MODEL_CARD.md`` for the bundled default (when present), else
        :func:`card_from_header`; a metadata ``note`` on top, the file's size below.
    """
    card_file = path.parent / CARD_FILE
    if path == DEFAULT_CHECKPOINT.resolve() and card_file.is_file():
        body = read_card_file(card_file)
    else:
        body = card_from_header(path, header)
    note = header.get("meta", {}).get("note")
    if note and note not in body:
        body = f"> ⚠️ **Note:** {note}\n\n{body}"
    state = "loaded" if loaded else "loads on first use"
    size_mb = path.stat().st_size / 1e6
    return body + f"\n\n<small>Checkpoint file: `{path.name}` ({size_mb:.1f} MB, {state}).</small>"


def info_line(key: str, header: dict[str, Any]) -> str:
    """One line on the model in use: its key, dataset and validation accuracy."""
    meta = header.get("meta", {})
    acc = val_accuracy(meta)
    parts = [f"Model: **{key}**"]
    if meta.get("dataset"):
        parts.append(f"trained on {meta['dataset']}")
    if acc is not None:
        parts.append(f"validation accuracy {acc:.1%}")
    line = ", ".join(parts) + "."
    if meta.get("note"):
        line += f" ⚠️ {meta['note']}."
    return line
