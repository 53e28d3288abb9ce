"""Every plot renders to a PNG file."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from sqsnet.evaluate import compute_metrics
from sqsnet.models import SQSNet
from sqsnet.training import METRIC_FIELDS
from sqsnet.viz import (
    extract_features,
    plot_confusion_matrix,
    plot_embedding,
    plot_per_class_f1,
    plot_predictions,
    plot_seed_results,
    plot_training_curves,
    predict_images,
    save_figure,
    seed_summary,
    synthetic_face,
)
from sqsnet.viz._style import DPI, MIN_TEXT_PX, text_sizes_px
from tests.viz.conftest import assert_png

CLASSES = ["neutral", "happiness", "surprise", "sadness"]


def _metrics(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 80)
    pred = np.where(rng.random(80) < 0.7, y, rng.integers(0, 4, 80))
    return compute_metrics(y, pred, CLASSES)


def test_confusion_matrix(tmp_path) -> None:
    cm = _metrics(0)["confusion_matrix"]
    assert_png(save_figure(plot_confusion_matrix(cm, CLASSES), tmp_path / "cm.png"))
    cm = np.asarray(cm)
    cm[2] = 0  # a class without samples must not divide by zero
    assert_png(save_figure(plot_confusion_matrix(cm, CLASSES, normalize=False),
                           tmp_path / "cm_counts"))  # suffix added
    assert (tmp_path / "cm_counts.png").is_file()
    counts = plot_confusion_matrix(cm, CLASSES, normalize=False)
    shown = [t.get_text() for t in counts.axes[0].texts]  # the annotations are the counts
    assert shown == [str(int(v)) for v in cm.ravel()]
    assert "counts" in counts.axes[0].get_title()
    assert counts.dpi == DPI and min(text_sizes_px(counts)) >= MIN_TEXT_PX
    with pytest.raises(ValueError):
        plot_confusion_matrix(np.zeros((3, 3)), CLASSES)


def test_training_curves_from_metrics_csv(tmp_path) -> None:
    path = tmp_path / "run" / "metrics.csv"
    path.parent.mkdir()
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, METRIC_FIELDS)
        writer.writeheader()
        for epoch in range(1, 5):
            row = {k: 0.0 for k in METRIC_FIELDS}
            row.update(epoch=epoch, train_loss=3.0 / epoch, train_ce=2.0 / epoch,
                       train_sqs=0.5 / epoch, val_loss=1.5 / epoch,
                       val_accuracy=0.5 + 0.05 * epoch, val_macro_f1=0.4 + 0.05 * epoch,
                       val_balanced_accuracy=0.45 + 0.04 * epoch, best=1)
            writer.writerow(row)
    for source in (path, path.parent, pd.read_csv(path)):
        fig = plot_training_curves(source)
        assert len(fig.axes) == 2 and len(fig.axes[0].lines) >= 3
    assert_png(save_figure(fig, tmp_path / "curves.png"))


def test_training_curves_show_branch_spread_when_logged(tmp_path) -> None:
    rows = [{"epoch": e, "train_loss": 1.0 / e, "train_aux": 0.5 / e, "val_accuracy": 0.5,
             "val_local_std": 0.3, "val_global_std": 0.8 / 10 ** e} for e in (1, 2, 3)]
    rows.append({"epoch": 4, "train_loss": 0.2, "val_accuracy": 0.6, "val_local_std": 0.3,
                 "val_global_std": 0.0})  # a collapsed branch: left off the log axis
    fig = plot_training_curves(pd.DataFrame(rows))
    assert len(fig.axes) == 3
    spread = fig.axes[2]
    assert spread.get_yscale() == "log"
    assert [line.get_label() for line in spread.lines] == ["CNN (local)", "Swin (global)"]
    swin = spread.lines[1].get_ydata()
    assert np.allclose(swin[:3], [0.08, 0.008, 0.0008]) and np.isnan(swin[3])
    # the loss columns come from sqsnet.models.losses: an older run's retired train_aux
    # column is not drawn
    assert [line.get_label() for line in fig.axes[0].lines] == ["train_loss"]
    old = pd.DataFrame(rows).drop(columns=["val_local_std", "val_global_std"])
    assert len(plot_training_curves(old).axes) == 2  # runs that did not log it
    assert_png(save_figure(fig, tmp_path / "spread.png"))


def test_training_curves_header_only_and_missing(tmp_path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text(",".join(METRIC_FIELDS) + "\n")
    assert_png(save_figure(plot_training_curves(path), tmp_path / "empty.png"))
    with pytest.raises(FileNotFoundError):
        plot_training_curves(tmp_path / "nope.csv")


def test_per_class_f1_single_and_several(tmp_path) -> None:
    assert_png(save_figure(plot_per_class_f1(_metrics(0)), tmp_path / "f1.png"))
    runs = {"full": _metrics(0), "no_sqs": {"val_full": _metrics(1)}}
    assert_png(save_figure(plot_per_class_f1(runs), tmp_path / "f1_runs.png"))
    with pytest.raises(ValueError):
        plot_per_class_f1({"bad": {"accuracy": 0.5}})


def test_seed_results_all_input_forms(tmp_path) -> None:
    plain = {"full": [0.81, 0.82, 0.80], "no_sqs": [0.78, 0.79, 0.77], "one_seed": [0.7]}
    ablation = {"variants": {k: {"seeds": list(range(len(v))), "val_accuracy": v,
                                 "val_macro_f1": [x - 0.1 for x in v]}
                             for k, v in plain.items()},
                "ttest_full_vs_no_sqs": {"t": 3.0, "p": 0.05}}
    json.loads(json.dumps(ablation))  # the results file is JSON
    long = pd.DataFrame([{"variant": k, "seed": i, "val_accuracy": x}
                         for k, v in plain.items() for i, x in enumerate(v)])
    wide = pd.DataFrame({"a": [0.5, 0.6], "b": [0.7, 0.72]})
    for i, res in enumerate((plain, ablation, long, wide)):
        fig = plot_seed_results(res)
        assert_png(save_figure(fig, tmp_path / f"seeds{i}.png"))
    fig = plot_seed_results(ablation, metric="val_macro_f1")
    assert "val_macro_f1" in fig.axes[0].get_title()
    summary = seed_summary(ablation)
    assert summary.loc["full", "mean"] == pytest.approx(0.81)
    assert summary.loc["full", "std"] == pytest.approx(0.01)
    assert summary.loc["one_seed", "std"] == 0.0
    with pytest.raises(ValueError, match="no 'test_accuracy'"):
        plot_seed_results(ablation, metric="test_accuracy")


def test_extract_features_and_embedding(tiny_model: SQSNet, tmp_path) -> None:
    x = torch.randn(14, 3, 32, 32)
    y = torch.arange(14) % 4
    feats, labels = extract_features(tiny_model, DataLoader(TensorDataset(x, y), batch_size=4),
                                     max_samples=10)
    assert feats.shape == (10, tiny_model.num_features) and labels.tolist() == y[:10].tolist()
    feats2, _ = extract_features(tiny_model, TensorDataset(x, y), max_samples=50)
    assert feats2.shape[0] == 14
    with torch.no_grad():
        ref = tiny_model.forward_head(tiny_model.forward_features(x[:10]), pre_logits=True)
    np.testing.assert_allclose(feats, ref.numpy(), atol=1e-5)
    for method in ("tsne", "pca"):
        fig = plot_embedding(feats, labels, CLASSES, method=method)
        assert_png(save_figure(fig, tmp_path / f"emb_{method}.png"))
    with pytest.raises(ValueError):
        plot_embedding(feats, labels, CLASSES, method="umap")


def test_predictions_plot(tiny_model: SQSNet, tmp_path) -> None:
    faces = [synthetic_face(e, size=48, seed=i)
             for i, e in enumerate(["happiness", "surprise", "sadness", "anger"])]
    probs = predict_images(tiny_model, faces)
    assert probs.shape == (4, 4)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    fig = plot_predictions(faces, probs, CLASSES, true_labels=[1, 2, 3, 0], top_k=3)
    assert_png(save_figure(fig, tmp_path / "pred.png"))
