"""The ``sqsnet`` command (also ``python -m sqsnet``).

Subcommands::

    sqsnet train   --config configs/ferplus_cpu.yaml --data-root PATH [--set key=value ...]
    sqsnet eval    --checkpoint CKPT|default --dataset NAME --data-root PATH --split NAME
    sqsnet predict IMAGE_OR_DIR ... [--checkpoint CKPT|default] [--json]
    sqsnet profile --config cpu [--train-batch 32]
    sqsnet ablate  --config configs/ferplus_cpu.yaml --data-root PATH --seeds 3

Errors are one line on stderr (``sqsnet: error: ...``) with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from sqsnet.errors import SQSNetError

__all__ = ["main", "build_parser"]


def _add_config_args(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument("--config", default=default, required=default is None,
                   help="preset name (cpu, paper, ferplus_cpu, ...) or YAML path")
    p.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override config values, e.g. train.lr=1e-3 model.use_sqs=false")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sqsnet`` command."""
    parser = argparse.ArgumentParser(
        prog="sqsnet",
        description="SQSNet lab: train, evaluate, profile and run facial expression models.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    p.add_argument("--device", help="cpu or cuda[:N] (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")

    p = sub.add_parser("eval", help="evaluate a checkpoint on a dataset split",
                       description="Accuracy, F1, balanced accuracy, per-class scores and "
                       "the confusion matrix; classes are matched by name across datasets.")
    p.add_argument("--checkpoint", default="default",
                   help="'default', a .safetensors checkpoint or a run folder")
    p.add_argument("--dataset", required=True,
                   help="ferplus, rafdb, affectnet, fer2013 or folder")
    p.add_argument("--data-root", help="dataset folder (default: $SQSNET_DATA)")
    p.add_argument("--split", default="valid", help="split name (train/valid/test)")
    p.add_argument("--tta", action="store_true", help="5-view test-time augmentation")
    p.add_argument("--crop-pct", type=_crop_pct,
                   help="side fraction of each face kept by the centre crop, in (0, 1] "
                   "(default: the checkpoint's model.crop_pct)")
    p.add_argument("--json", dest="json_out", help="write all metrics to this JSON file")
    p.add_argument("--predictions", metavar="CSV",
                   help="write one row per image (sample, target, predicted, correct, "
                   "class probabilities) to this CSV file")
    p.add_argument("--batch-size", type=int, default=128,
                   help="images per evaluation batch (default: 128)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers (default: 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: cpu)")

    p = sub.add_parser("predict", help="predict expressions of the faces in images",
                       description="Detects faces, crops and aligns them, and prints the "
                       "label and class probabilities of each face.")
    p.add_argument("inputs", nargs="+", help="image files or folders of images")
    p.add_argument("--checkpoint", default="default",
                   help="'default', a .safetensors checkpoint or a run folder")
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.add_argument("--no-fallback", action="store_true",
                   help="do not classify the whole image when no face is found")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: cpu)")

    p = sub.add_parser("profile", help="parameters, GFLOPs, latency, training images/s",
                       description="The paper's Table 3 for any config, measured here.")
    _add_config_args(p, default="cpu")
    p.add_argument("--train-batch", type=int, default=32,
                   help="batch size of the training throughput measurement (0 skips it)")
    p.add_argument("--latency-batches", type=int, nargs="+", default=[1, 32],
                   help="batch sizes whose inference latency is measured (default: 1 32)")
    p.add_argument("--steps", type=int, default=3, help="timed training steps")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default: cpu)")
    p.add_argument("--json", dest="json_out", help="also write the result to this file")

    p = sub.add_parser("ablate", help="the paper's ablation grid over seeds",
                       description="Trains full SQSNet, w/o SQS, w/o CNN, w/o Swin and "
                       "four-pass SQS with the same schedule and seeds; skips finished "
                       "runs; writes results.json, results.csv and results.md.")
    _add_config_args(p)
    p.add_argument("--data-root", help="dataset folder (default: $SQSNET_DATA)")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (0..N-1)")
    p.add_argument("--epochs", type=int, help="epochs per run (train.epochs)")
    p.add_argument("--variants", nargs="+",
                   help="subset of variants to run: full, no_sqs, no_cnn, no_swin, four_pass "
                   "(default: all)")
    p.add_argument("--four-pass-seeds", type=int, default=1,
                   help="seeds for the slower four-pass variant")
    p.add_argument("--out-dir", default="runs/ablation",
                   help="folder of the grid (default: runs/ablation); a grid with other "
                   "settings needs its own")
    p.add_argument("--device", help="cpu or cuda[:N] (default: cuda if available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _crop_pct(text: str) -> float:
    from sqsnet.config import is_crop_fraction

    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not is_crop_fraction(value):
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def _load_cfg(args: argparse.Namespace):
    from sqsnet.config import load_config

    return load_config(args.config, args.overrides)


def _cmd_train(args: argparse.Namespace) -> int:
    from sqsnet.train import train

    cfg = _load_cfg(args)
    if args.out_dir:
        cfg.train.out_dir = args.out_dir
    if args.run_name:
        cfg.train.run_name = args.run_name
    if args.seed is not None:
        cfg.train.seed = args.seed
    if args.epochs is not None:
        cfg.train.epochs = args.epochs
    result = train(cfg, data_root=args.data_root, resume=args.resume, device=args.device,
                   progress=not args.no_progress)
    print(f"run folder: {result.run_dir}")
    print(f"best val accuracy {result.best_val_accuracy:.4f} at epoch {result.best_epoch}")
    if "val_tta" in result.summary:
        print(f"best checkpoint with 5-view TTA: {result.summary['val_tta']['accuracy']:.4f}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from sqsnet.checkpoint import load_model
    from sqsnet.data import build_dataset, build_eval_transform
    from sqsnet.evaluate import evaluate_dataset

    model = load_model(args.checkpoint, device=args.device)
    if args.crop_pct is not None:
        model.cfg.crop_pct = args.crop_pct
    dataset = build_dataset(args.dataset, args.data_root, args.split,
                            transform=build_eval_transform(model.cfg.img_size,
                                                           crop_pct=model.cfg.crop_pct))
    metrics = evaluate_dataset(model, dataset, model.class_names, tta=args.tta,
                               batch_size=args.batch_size, num_workers=args.workers,
                               device=args.device, progress=sys.stderr.isatty(),
                               per_sample=bool(args.predictions))
    rows = metrics.pop("per_sample", None)
    metrics["checkpoint"] = str(getattr(model, "checkpoint_meta", {}).get("path", ""))
    metrics["dataset"] = args.dataset
    metrics["split"] = args.split
    metrics["crop_pct"] = model.cfg.crop_pct
    print(f"{args.dataset}/{args.split}: n={metrics['n']} accuracy {metrics['accuracy']:.4f} "
          f"macro-F1 {metrics['macro_f1']:.4f} weighted-F1 {metrics['weighted_f1']:.4f} "
          f"balanced acc {metrics['balanced_accuracy']:.4f}" + (" (TTA)" if args.tta else "")
          + (f" (crop_pct {model.cfg.crop_pct:g})" if model.cfg.crop_pct < 1.0 else ""))
    dropped = metrics["dropped"]
    if dropped["model_only"] or dropped["dataset_only"]:
        print(f"classes not scored: model only {dropped['model_only']}, dataset only "
              f"{dropped['dataset_only']} ({dropped['dropped_samples']} samples dropped)")
    print(f"{'class':<11} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}")
    for name, row in metrics["per_class"].items():
        print(f"{name:<11} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:6.3f} "
              f"{row['support']:7d}")
    if args.json_out:
        from sqsnet.utils.io import atomic_write_text

        atomic_write_text(args.json_out, json.dumps(metrics, indent=2))
        print(f"metrics written to {args.json_out}")
    if rows is not None:
        from sqsnet.evaluate import write_predictions_csv

        write_predictions_csv(args.predictions, rows)
        print(f"per-image predictions written to {args.predictions}")
    return 0


def _expand_inputs(inputs: Sequence[str]) -> list[Path]:
    from sqsnet.data.datasets import IMAGE_EXTENSIONS

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


def _cmd_predict(args: argparse.Namespace) -> int:
    from sqsnet.inference import Predictor

    paths = _expand_inputs(args.inputs)
    predictor = Predictor(args.checkpoint, device=args.device)
    for path in paths:
        faces = predictor.predict(path, fallback_whole_image=not args.no_fallback)
        if args.json:
            print(json.dumps({"image": str(path), "faces": [f.as_dict() for f in faces]}))
            continue
        if not faces:
            print(f"{path}: no face found")
            continue
        for i, face in enumerate(faces):
            top = sorted(face.probabilities.items(), key=lambda kv: -kv[1])
            probs = " ".join(f"{k}={v:.3f}" for k, v in top)
            where = "whole image (no face found)" if face.whole_image else f"box {face.box}"
            print(f"{path} face {i + 1}: {face.label} ({where}) {probs}")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    import torch

    from sqsnet.models import SQSNet
    from sqsnet.profiling import profile_model
    from sqsnet.utils.runtime import autocast_dtype

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
        from sqsnet.utils.io import atomic_write_text

        atomic_write_text(args.json_out, json.dumps(result, indent=2))
    return 0


def _cmd_ablate(args: argparse.Namespace) -> int:
    from sqsnet.ablation import run_ablation

    cfg = _load_cfg(args)
    if args.epochs is not None:
        cfg.train.epochs = args.epochs
    report = run_ablation(cfg, data_root=args.data_root, seeds=args.seeds,
                          variants=args.variants, four_pass_seeds=args.four_pass_seeds,
                          out_dir=args.out_dir, device=args.device,
                          progress=not args.no_progress)
    print(report.markdown)
    print(f"results written to {report.out_dir}")
    return 0


_COMMANDS = {
    "train": _cmd_train,
    "eval": _cmd_eval,
    "predict": _cmd_predict,
    "profile": _cmd_profile,
    "ablate": _cmd_ablate,
}


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that are the user's input or environment, reported as one line."""
    return (SQSNetError, FileNotFoundError, NotADirectoryError, PermissionError)


def _check_device(device: str | None) -> None:
    """Fail early, in one line, on a device this machine does not have."""
    if not device:
        return
    import torch

    from sqsnet.config import ConfigError

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
