"""The ``sqsnet`` command (also ``python -m sqsnet``).

Subcommands::

    sqsnet train    --config configs/ferplus_cpu.yaml --data-root PATH [--set key=value ...]
                    [--resume | --overwrite]
    sqsnet eval     --checkpoint CKPT|default --dataset NAME --data-root PATH --split NAME
    sqsnet predict  IMAGE_OR_DIR ... [--checkpoint CKPT|default] [--json]
    sqsnet profile  --config cpu [--train-batch 32]
    sqsnet ablate   --config configs/ferplus_cpu.yaml --data-root PATH --seeds 3
    sqsnet diagnose --checkpoint CKPT|default --dataset NAME --data-root PATH [--limit N]
    sqsnet data check --data-root PATH [--dataset NAME]
    sqsnet atlas    --checkpoint CKPT|default --dataset NAME --data-root PATH --out DIR

``--set`` may be given several times; its values add up. Errors are one line on stderr
(``sqsnet: error: ...``) with exit status 2.

Each command imports the modules it runs inside its own function: training, evaluation and
the data readers pull in scikit-learn, SciPy, pandas and OpenCV, which ``sqsnet --help`` and a
mistyped argument do not need. Measured on a 2-core CPU (best of 6 runs, twice):
``sqsnet --help`` takes 4.6 s this way and 7.0-7.1 s with those imports at the top of this
module. The package itself already loads torch and timm, so the rest is imported at the top.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Sequence

import torch

from sqsnet.checkpoint import load_model
from sqsnet.config import (
    Config,
    ConfigError,
    apply_overrides,
    is_crop_fraction,
    load_config,
)
from sqsnet.errors import SQSNetError
from sqsnet.models import SQSNet
from sqsnet.profiling import profile_model
from sqsnet.utils.io import atomic_write_text
from sqsnet.utils.runtime import autocast_dtype

__all__ = ["main", "build_parser"]

_CHECKPOINT_HELP = "'default', a .safetensors checkpoint or a run folder"
_DEVICE_HELP = "cpu or cuda[:N] (default: cpu)"


def _crop_pct(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not is_crop_fraction(value):
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def _int_at_least(minimum: int, expected: str) -> Callable[[str], int]:
    """An argparse type: an integer ``>= minimum``, else a usage error saying ``expected``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_count = _int_at_least(0, "an integer >= 0")


def _add_config_args(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument("--config", default=default, required=default is None,
                   help="preset name (cpu, paper, ferplus_cpu, ...) or YAML path")
    p.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[],
                   metavar="KEY=VALUE",
                   help="override config values, e.g. train.lr=1e-3 model.use_sqs=false "
                   "(may be repeated)")


def _add_split_args(p: argparse.ArgumentParser, dataset_help: str) -> None:
    """A checkpoint scored on one split of a labelled dataset (eval, diagnose)."""
    p.add_argument("--checkpoint", default="default", help=_CHECKPOINT_HELP)
    p.add_argument("--dataset", required=True, help=dataset_help)
    p.add_argument("--data-root", help="dataset folder (default: $SQSNET_DATA)")
    p.add_argument("--split", default="valid", help="split name (train/valid/test; default: "
                   "valid)")


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (resumable)",
                       description="Train SQSNet; writes a run folder with config.yaml, "
                       "metrics.csv, best/last checkpoints and summary.json.")
    _add_config_args(p)
    p.add_argument("--data-root", help="dataset folder (default: config data.root or "
                   "$SQSNET_DATA)")
    p.add_argument("--out-dir", help="parent folder of run folders (train.out_dir)")
    p.add_argument("--run-name", help="run folder name (train.run_name)")
    p.add_argument("--seed", type=int, help="random seed (train.seed)")
    p.add_argument("--epochs", type=int, help="number of epochs (train.epochs)")
    p.add_argument("--resume", action="store_true",
                   help="continue from <run folder>/last.safetensors if present")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in the run folder (without this or "
                   "--resume, an existing run is an error)")
    p.add_argument("--device", help="cpu or cuda[:N] (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_eval_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate a checkpoint on a dataset split",
                       description="Accuracy, F1, balanced accuracy, per-class scores and "
                       "the confusion matrix; classes are matched by name across datasets.")
    _add_split_args(p, "ferplus, rafdb, affectnet, fer2013 or folder")
    p.add_argument("--tta", action="store_true", help="5-view test-time augmentation")
    p.add_argument("--crop-pct", type=_crop_pct,
                   help="side fraction of each face kept by the centre crop, in (0, 1] "
                   "(default: the checkpoint's model.crop_pct)")
    p.add_argument("--grayscale", choices=("on", "off"),
                   help="turn every image grey before the model reads it "
                   "(default: the checkpoint's model.eval_grayscale)")
    p.add_argument("--json", dest="json_out", help="write all metrics to this JSON file")
    p.add_argument("--predictions", metavar="CSV",
                   help="write one row per image (sample, target, predicted, correct, "
                   "class probabilities) to this CSV file")
    p.add_argument("--batch-size", type=_positive_int, default=128,
                   help="images per evaluation batch (default: 128)")
    p.add_argument("--workers", type=_count, default=0, help="DataLoader workers (default: 0)")
    p.add_argument("--device", default="cpu", help=_DEVICE_HELP)


def _add_predict_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict expressions of the faces in images",
                       description="Detects faces, crops and aligns them, and prints the "
                       "label and class probabilities of each face. An image that cannot "
                       "be read is skipped; every such failure is listed at the end and the "
                       "exit status is 2.")
    p.add_argument("inputs", nargs="+", help="image files or folders of images")
    p.add_argument("--checkpoint", default="default", help=_CHECKPOINT_HELP)
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.add_argument("--no-fallback", action="store_true",
                   help="do not classify the whole image when no face is found")
    p.add_argument("--device", default="cpu", help=_DEVICE_HELP)


def _add_profile_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="parameters, GFLOPs, latency, training images/s",
                       description="The paper's Table 3 for any config, measured here.")
    _add_config_args(p, default="cpu")
    p.add_argument("--train-batch", type=_count, default=32,
                   help="batch size of the training throughput measurement (0 skips it)")
    p.add_argument("--latency-batches", type=_positive_int, nargs="+", default=[1, 32],
                   help="batch sizes whose inference latency is measured (default: 1 32)")
    p.add_argument("--steps", type=_positive_int, default=3, help="timed training steps")
    p.add_argument("--device", default="cpu", help=_DEVICE_HELP)
    p.add_argument("--json", dest="json_out", help="also write the result to this file")


def _add_ablate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ablate", help="the paper's ablation grid over seeds",
                       description="Trains full SQSNet, w/o SQS, w/o CNN, w/o Swin and "
                       "four-pass SQS with the same schedule and seeds; skips finished "
                       "runs; writes results.json, results.csv and results.md.")
    _add_config_args(p)
    p.add_argument("--data-root", help="dataset folder (default: $SQSNET_DATA)")
    p.add_argument("--seeds", type=_positive_int, default=3, help="number of seeds (0..N-1)")
    p.add_argument("--epochs", type=int, help="epochs per run (train.epochs)")
    p.add_argument("--variants", nargs="+",
                   help="subset of variants to run: full, no_sqs, no_cnn, no_swin, four_pass "
                   "(default: all)")
    p.add_argument("--four-pass-seeds", type=_count, default=1,
                   help="seeds for the slower four-pass variant")
    p.add_argument("--out-dir", default="runs/ablation",
                   help="folder of the grid (default: runs/ablation); a grid with other "
                   "settings needs its own")
    p.add_argument("--device", help="cpu or cuda[:N] (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_diagnose_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diagnose", help="how much the model uses each branch",
                       description="Each branch's output spread over the images, and the "
                       "accuracy with each branch replaced by its mean over the split "
                       "(mean-ablation), one view at the checkpoint's evaluation crop.")
    _add_split_args(p, "a dataset in the model's class order (ferplus for the default)")
    p.add_argument("--limit", type=_positive_int,
                   help="use only the first N images of the split")
    p.add_argument("--untrained", action="store_true",
                   help="also measure the same architecture freshly initialised, for scale")
    p.add_argument("--batch-size", type=_positive_int, default=256,
                   help="images per batch (default: 256)")
    p.add_argument("--json", dest="json_out", help="also write the record to this JSON file")
    p.add_argument("--device", default="cpu", help=_DEVICE_HELP)


def _add_data_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="check a dataset folder before training",
                       description="Dataset tools; 'check' reads every split as training does.")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    p = data_sub.add_parser("check", help="layout, splits, class counts, bad images and labels",
                            description="Says which layout the folder holds, the size and "
                            "class counts of each split, missing or undecodable images and "
                            "labels outside the known codes; exits 1 when training would fail.")
    p.add_argument("--data-root", required=True, help="the dataset folder")
    p.add_argument("--dataset", default="auto",
                   help="ferplus, rafdb, affectnet, fer2013, folder or auto (default: auto, "
                   "the reader chosen from the layout)")
    p.add_argument("--no-decode", action="store_true",
                   help="do not decode every image (faster; undecodable images go unseen)")
    p.add_argument("--json", dest="json_out", help="also write the report to this JSON file")


def _add_atlas_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("atlas", help="where on the face SQS separates each class pair",
                       description="For every ordered class pair (anchor class, negative "
                       "class) the mean SQS contrast S_AP - max(S_AN1, S_AN2) over seeded "
                       "quads, on the fused map and on the CNN branch before fusion, drawn "
                       "over the split's mean face, with localisation scores (eyes and brows, "
                       "mouth) and permutation p-values (sqsnet.viz.atlas). Writes "
                       "atlas.json, atlas.md and PNG figures to --out.")
    _add_split_args(p, "a labelled dataset (ferplus, rafdb, folder, ...)")
    p.add_argument("--out", required=True, help="folder for atlas.json, atlas.md and figures")
    p.add_argument("--quads-per-pair", type=_positive_int, default=256,
                   help="quads averaged per ordered class pair (default: 256)")
    p.add_argument("--permutations", type=_positive_int, default=200,
                   help="label shufflings of the permutation test (default: 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of pools, quads and shufflings")
    p.add_argument("--pool-per-class", type=_count, default=128,
                   help="images per class compared (0: all; the cost grows with its square; "
                   "default: 128)")
    p.add_argument("--min-images", type=_int_at_least(2, "an integer >= 2"), default=5,
                   help="fewer images of a class make its pairs not measurable (default: 5)")
    p.add_argument("--limit", type=_positive_int, help="use only the first N images of the split")
    p.add_argument("--pairs", nargs="+", default=[], metavar="X:Y",
                   help="also draw these pairs one by one (anchor:negative), or 'all'")
    p.add_argument("--batch-size", type=_positive_int, default=256,
                   help="images per forward pass (default: 256)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--device", default="cpu", help=_DEVICE_HELP)


def _add_export_space_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-space", help="write a self-contained Hugging Face Space folder",
                       description="Writes DIR: app.py, space_ui/, the sqsnet package (with "
                       "the weights and the example images), requirements pinned to the "
                       "installed versions and a README with the Space's front matter "
                       "(sqsnet.service.export).")
    p.add_argument("dir", help="the Space folder to create")
    p.add_argument("--force", action="store_true", help="replace DIR if it is not empty")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sqsnet`` command."""
    parser = argparse.ArgumentParser(
        prog="sqsnet",
        description="SQSNet lab: train, evaluate, profile and run facial expression models.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_train_parser, _add_eval_parser, _add_predict_parser, _add_profile_parser,
                _add_ablate_parser, _add_diagnose_parser, _add_data_parser,
                _add_atlas_parser, _add_export_space_parser):
        add(sub)
    return parser


def _load_cfg(args: argparse.Namespace, **flags: object) -> Config:
    """The config of ``--config`` and ``--set``, then the command's own flags (``None`` =
    not given), every value checked."""
    cfg = load_config(args.config, args.overrides)
    given = {key: value for key, value in flags.items() if value is not None}
    return apply_overrides(cfg, given) if given else cfg


def _cmd_train(args: argparse.Namespace) -> int:
    from sqsnet.training import train  # heavy: see the module docstring

    cfg = _load_cfg(args, **{"train.out_dir": args.out_dir, "train.run_name": args.run_name,
                             "train.seed": args.seed, "train.epochs": args.epochs})
    result = train(cfg, data_root=args.data_root, resume=args.resume, device=args.device,
                   progress=not args.no_progress, overwrite=args.overwrite)
    print(f"run folder: {result.run_dir}")
    print(f"best val accuracy {result.best_val_accuracy:.4f} at epoch {result.best_epoch}")
    if "val_tta" in result.summary:
        print(f"best checkpoint with 5-view TTA: {result.summary['val_tta']['accuracy']:.4f}")
    return 0


def _print_eval(args: argparse.Namespace, metrics: dict, crop_pct: float) -> None:
    print(f"{args.dataset}/{args.split}: n={metrics['n']} accuracy {metrics['accuracy']:.4f} "
          f"macro-F1 {metrics['macro_f1']:.4f} weighted-F1 {metrics['weighted_f1']:.4f} "
          f"balanced acc {metrics['balanced_accuracy']:.4f}" + (" (TTA)" if args.tta else "")
          + (f" (crop_pct {crop_pct:g})" if crop_pct < 1.0 else ""))
    dropped = metrics["dropped"]
    if dropped["model_only"] or dropped["dataset_only"]:
        print(f"classes not scored: model only {dropped['model_only']}, dataset only "
              f"{dropped['dataset_only']} ({dropped['dropped_samples']} samples dropped)")
    print(f"{'class':<11} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}")
    for name, row in metrics["per_class"].items():
        print(f"{name:<11} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:6.3f} "
              f"{row['support']:7d}")


def _cmd_eval(args: argparse.Namespace) -> int:
    # heavy: see the module docstring
    from sqsnet.data import build_dataset, model_eval_transform
    from sqsnet.evaluate import evaluate_dataset, write_predictions_csv

    model = load_model(args.checkpoint, device=args.device)
    if args.crop_pct is not None:
        model.cfg.crop_pct = args.crop_pct
    if args.grayscale is not None:
        model.cfg.eval_grayscale = args.grayscale == "on"
    dataset = build_dataset(args.dataset, args.data_root, args.split,
                            transform=model_eval_transform(model.cfg))
    metrics = evaluate_dataset(model, dataset, model.class_names, tta=args.tta,
                               batch_size=args.batch_size, num_workers=args.workers,
                               device=args.device, progress=sys.stderr.isatty(),
                               per_sample=bool(args.predictions))
    rows = metrics.pop("per_sample", None)
    metrics["checkpoint"] = str(getattr(model, "checkpoint_meta", {}).get("path", ""))
    metrics["dataset"] = args.dataset
    metrics["split"] = args.split
    metrics["crop_pct"] = model.cfg.crop_pct
    metrics["eval_grayscale"] = model.cfg.eval_grayscale
    _print_eval(args, metrics, model.cfg.crop_pct)
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(metrics, indent=2))
        print(f"metrics written to {args.json_out}")
    if rows is not None:
        write_predictions_csv(args.predictions, rows)
        print(f"per-image predictions written to {args.predictions}")
    return 0


def _expand_inputs(inputs: Sequence[str]) -> list[Path]:
    from sqsnet.data import IMAGE_EXTENSIONS  # heavy: see the module docstring

    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not found:
                raise FileNotFoundError(f"{path}: folder contains no images "
                                        f"({', '.join(IMAGE_EXTENSIONS)})")
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such image file or folder")
    return paths


def _print_faces(path: Path, faces: list, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"image": str(path), "faces": [f.as_dict() for f in faces]}))
        return
    if not faces:
        print(f"{path}: no face found")
    for i, face in enumerate(faces):
        top = sorted(face.probabilities.items(), key=lambda kv: -kv[1])
        probs = " ".join(f"{k}={v:.3f}" for k, v in top)
        where = "whole image (no face found)" if face.whole_image else f"box {face.box}"
        print(f"{path} face {i + 1}: {face.label} ({where}) {probs}")


def _cmd_predict(args: argparse.Namespace) -> int:
    # heavy: see the module docstring
    from sqsnet.faces import ImageLoadError
    from sqsnet.inference import Predictor

    paths = _expand_inputs(args.inputs)
    predictor = Predictor(args.checkpoint, device=args.device)
    failures: list[str] = []
    for path in paths:
        try:
            faces = predictor.predict(path, fallback_whole_image=not args.no_fallback)
        except (ImageLoadError, OSError) as err:  # one bad file must not stop the rest
            failures.append(str(err).splitlines()[0] if str(err) else type(err).__name__)
            continue
        _print_faces(path, faces, args.json)
    if not failures:
        return 0
    for failure in failures:
        print(f"sqsnet: error: {failure}", file=sys.stderr)
    print(f"sqsnet: error: {len(failures)} of {len(paths)} images could not be read",
          file=sys.stderr)
    return 2


def _cmd_profile(args: argparse.Namespace) -> int:
    cfg = _load_cfg(args)
    model = SQSNet(cfg.model)
    result = profile_model(model, train_batch=args.train_batch,
                           latency_batches=tuple(args.latency_batches),
                           train_steps=args.steps, device=args.device,
                           autocast_dtype=autocast_dtype(cfg.train, torch.device(args.device).type),
                           channels_last=cfg.train.channels_last)
    result["config"] = cfg.name
    print(f"config {cfg.name}: {cfg.model.local_branch.name if cfg.model.use_local else '-'} + "
          f"{cfg.model.global_branch.name if cfg.model.use_global else '-'} @ "
          f"{cfg.model.img_size}px, grid {result['grid']}")
    print(f"  parameters      {result['params_m']:.2f} M")
    print(f"  GFLOPs / image  {result['gflops']:.3f} (inference, SQS not run)")
    for b in args.latency_batches:
        print(f"  latency b={b:<4}  {result[f'latency_ms_b{b}']:.1f} ms ({args.device}, "
              f"{result['threads']} threads)")
    if "train_images_per_s" in result:
        layout = ", channels_last" if result["train_channels_last"] else ""
        print(f"  training        {result['train_images_per_s']:.1f} images/s at batch "
              f"{args.train_batch} ({result['train_precision']}{layout}, as train.* sets)")
    print(json.dumps(result))
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(result, indent=2))
    return 0


def _cmd_ablate(args: argparse.Namespace) -> int:
    from sqsnet.ablation import run_ablation  # heavy: see the module docstring

    cfg = _load_cfg(args, **{"train.epochs": args.epochs})
    report = run_ablation(cfg, data_root=args.data_root, seeds=args.seeds,
                          variants=args.variants, four_pass_seeds=args.four_pass_seeds,
                          out_dir=args.out_dir, device=args.device,
                          progress=not args.no_progress)
    print(report.markdown)
    print(f"results written to {report.out_dir}")
    return 0


def _cmd_diagnose(args: argparse.Namespace) -> int:
    # heavy: see the module docstring
    from sqsnet.diagnostics import diagnose_checkpoint, report_markdown

    record = diagnose_checkpoint(args.checkpoint, args.dataset, args.data_root, args.split,
                                 limit=args.limit, untrained=args.untrained,
                                 batch_size=args.batch_size, device=args.device)
    print(report_markdown(record), end="")
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(record, indent=2))
        print(f"record written to {args.json_out}")
    return 0


def _cmd_data_check(args: argparse.Namespace) -> int:
    # torch-backed readers: imported only when this command runs
    from sqsnet.data.check import check_data

    report = check_data(args.data_root, args.dataset, decode=not args.no_decode)
    print(report.table())
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(report.as_dict(), indent=2))
    return 0 if report.ok else 1


def _cmd_atlas(args: argparse.Namespace) -> int:
    # matplotlib and the data readers: imported only when this command runs
    from sqsnet.viz.atlas import AtlasSettings
    from sqsnet.viz.atlas_run import report_markdown, run_atlas

    settings = AtlasSettings(quads_per_pair=args.quads_per_pair, permutations=args.permutations,
                             seed=args.seed, pool_per_class=args.pool_per_class,
                             min_images=args.min_images)
    atlas = run_atlas(args.checkpoint, args.dataset, args.data_root, args.split, args.out,
                      settings, limit=args.limit, pairs=args.pairs, batch_size=args.batch_size,
                      device=args.device, progress=not args.no_progress and sys.stderr.isatty())
    print(report_markdown(atlas), end="")
    print(f"atlas of {atlas.meta['images']} images written to {args.out} in "
          f"{atlas.timings['total_s']:.1f} s")
    return 0


def _cmd_export_space(args: argparse.Namespace) -> int:
    from sqsnet.service.export import export_space  # heavy: see the module docstring

    done = export_space(args.dir, force=args.force)
    print(f"wrote the Space to {done.path} ({done.size_bytes / 1e6:.1f} MB, "
          f"{len(done.requirements)} pinned requirements); push it with Git LFS")
    return 0


_COMMANDS = {
    "train": _cmd_train,
    "eval": _cmd_eval,
    "predict": _cmd_predict,
    "profile": _cmd_profile,
    "ablate": _cmd_ablate,
    "diagnose": _cmd_diagnose,
    "data": _cmd_data_check,
    "atlas": _cmd_atlas,
    "export-space": _cmd_export_space,
}


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the user's input or environment, reported as one line."""
    return (SQSNetError, FileNotFoundError, NotADirectoryError, PermissionError)


def _check_device(device: str | None) -> None:
    """Fail early, in one line, on a device this machine does not have."""
    if not device:
        return
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"--device {device!r}: expected cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: no CUDA GPU is available here; "
                              "use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: this machine has "
                              f"{torch.cuda.device_count()} CUDA GPU(s)")
    elif dev.type != "cpu":
        raise ConfigError(f"--device {device!r}: expected cpu, cuda or cuda:N")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sqsnet`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
    )
    errors = _user_errors()
    try:
        _check_device(getattr(args, "device", None))
        return _COMMANDS[args.command](args)
    except errors as exc:
        if args.verbose:
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"sqsnet: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sqsnet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
