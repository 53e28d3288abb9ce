"""Model cards: what the Model tab says about a checkpoint.

The bundled default checkpoint has a hand-written card, ``MODEL_CARD.md`` beside it
(:func:`read_card_file`). Any other checkpoint gets a card written from its own JSON
metadata (:func:`card_from_header`): data, metrics, command, architecture, SQS and training
settings. :func:`model_card` picks between the two, splits the card into a summary that fits
a screen and its details (from the ``## Details`` heading on), and adds the file's size and
whether it is loaded; :func:`info_line` is the one-line summary under the page title, with
the accuracy *at the evaluation crop the model runs with* (:func:`accuracy_as_run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqsnet.checkpoint import DEFAULT_CHECKPOINT

__all__ = [
    "DETAILS_HEADING",
    "CardText",
    "accuracy_as_run",
    "card_from_header",
    "info_line",
    "model_card",
    "read_card_file",
    "split_card",
    "val_accuracy",
]

CARD_FILE = "MODEL_CARD.md"
"""The hand-written card's file name, beside the checkpoint."""
DETAILS_HEADING = "## Details"
"""The card's heading from which on everything is folded away in the page."""
_VAL_SPLITS = ("val", "valid", "validation")


@dataclass(frozen=True)
class CardText:
    """A model card as the Model tab shows it.

    Attributes:
        summary: Markdown that fits a screen (always shown).
        details: Markdown for a folded section (``""`` when there are none).
    """

    summary: str
    details: str = ""


def _split_accuracy(metrics: dict[str, Any]) -> float | None:
    for split in _VAL_SPLITS:
        values = metrics.get(split)
        value = values.get("accuracy") if isinstance(values, dict) else None
        if isinstance(value, (int, float)):
            return float(value)
    return None


def val_accuracy(meta: dict[str, Any]) -> float | None:
    """The validation accuracy recorded in a checkpoint's metadata, if any."""
    return _split_accuracy(meta.get("metrics") or {})


def accuracy_as_run(header: dict[str, Any]) -> tuple[float | None, float | None]:
    """The validation accuracy at the evaluation crop the checkpoint runs with.

    A crop set after training (``meta.eval_crop``: ``crop_pct``, with the metrics
    ``before`` and ``after``) changes what the model scores without changing its weights;
    ``meta.metrics`` still holds the training-time figure. When ``eval_crop.crop_pct``
    equals the crop in the checkpoint's config (the one the app uses), ``eval_crop.after``
    is the figure that matches what runs.

    Args:
        header: The SQSNet header (``{"config": ..., "meta": ...}``).

    Returns:
        ``(accuracy, crop_pct)``; either may be ``None`` when not recorded.
    """
    meta = header.get("meta") or {}
    crop = (header.get("config") or {}).get("model", {}).get("crop_pct")
    eval_crop = meta.get("eval_crop") or {}
    if crop is not None and eval_crop.get("crop_pct") == crop:
        after = _split_accuracy(eval_crop.get("after") or {})
        if after is not None:
            return after, float(crop)
    return val_accuracy(meta), (float(crop) if crop is not None else None)


def split_card(text: str) -> CardText:
    """Cut a card at its :data:`DETAILS_HEADING` line (the heading itself is dropped)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == DETAILS_HEADING:
            return CardText("\n".join(lines[:i]).strip(), "\n".join(lines[i + 1:]).strip())
    return CardText(text.strip())


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


def model_card(path: Path, header: dict[str, Any], loaded: bool) -> CardText:
    """The Model tab's card of a checkpoint: a summary and folded details (Markdown).

    Args:
        path: The checkpoint file.
        header: Its SQSNet header.
        loaded: Whether its model is in memory (said in the footer).

    Returns:
        ``MODEL_CARD.md`` for the bundled default (when present; split at
        :data:`DETAILS_HEADING`), else :func:`card_from_header` (no details); a metadata
        ``note`` on top, the file's name, state and size (unless the summary already
        states it) below the summary.
    """
    card_file = path.parent / CARD_FILE
    if path == DEFAULT_CHECKPOINT.resolve() and card_file.is_file():
        card = split_card(read_card_file(card_file))
    else:
        card = CardText(card_from_header(path, header))
    summary = card.summary
    note = header.get("meta", {}).get("note")
    if note and note not in summary:
        summary = f"> ⚠️ **Note:** {note}\n\n{summary}"
    state = "loaded" if loaded else "loads on first use"
    size = f"{path.stat().st_size / 1e6:.1f} MB"
    facts = state if size in summary else f"{size}, {state}"
    footer = f"<small>Checkpoint file: `{path.name}` ({facts}).</small>"
    return CardText(f"{summary}\n\n{footer}", card.details)


def info_line(key: str, header: dict[str, Any], size_bytes: int | None = None) -> str:
    """One line on the model in use: key, dataset, accuracy as run, file size.

    Args:
        key: The checkpoint key.
        header: Its SQSNet header.
        size_bytes: The file's size (left out when ``None``).

    Returns:
        E.g. ``"Model: **default**, trained on ferplus, validation accuracy 88.31% at
        crop 0.95 (the crop this app uses), 21.0 MB."``
    """
    meta = header.get("meta", {})
    acc, crop = accuracy_as_run(header)
    parts = [f"Model: **{key}**"]
    if meta.get("dataset"):
        parts.append(f"trained on {meta['dataset']}")
    if acc is not None:
        at = f" at crop {crop:g} (the crop this app uses)" if crop is not None else ""
        parts.append(f"validation accuracy {acc:.2%}{at}")
    if size_bytes is not None:
        parts.append(f"{size_bytes / 1e6:.1f} MB")
    line = ", ".join(parts) + "."
    if meta.get("note"):
        line += f" ⚠️ {meta['note']}."
    return line
