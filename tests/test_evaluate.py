"""Metrics, TTA prediction, seed summaries and the paired t-test against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from sqsnet.data.transforms import tta_views
from sqsnet.evaluate import (
    compute_metrics,
    evaluate_dataset,
    mcnemar_test,
    paired_ttest,
    predict_loader,
    read_predictions_csv,
    summarize_seeds,
    tta_predict,
    write_predictions_csv,
)
from sqsnet.models import SQSNet
from tests.helpers import tiny_model_config


def test_metrics_hand_computed() -> None:
    y_true = [0, 0, 1, 1, 2]
    y_pred = [0, 1, 1, 1, 0]
    m = compute_metrics(y_true, y_pred, ["a", "b", "c"])
    # class a: P 1/2 R 1/2 F1 1/2; class b: P 2/3 R 1 F1 4/5; class c: P 0 R 0 F1 0
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert m["weighted_f1"] == pytest.approx((2 * 0.5 + 2 * 0.8 + 1 * 0.0) / 5)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert m["per_class"]["b"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert m["n"] == 5


def test_metrics_score_only_present_classes_in_macro_averages() -> None:
    # class "c" never occurs and is never predicted: it must not drag macro-F1 down
    m = compute_metrics([0, 1], [0, 1], ["a", "b", "c"])
    assert m["macro_f1"] == 1.0 and m["balanced_accuracy"] == 1.0
    with pytest.raises(ValueError, match="no samples"):
        compute_metrics([], [], ["a"])


def test_mcnemar_exact_hand_computed() -> None:
    # 8 samples only A gets right, 2 only B, 5 both, 3 neither
    a = [True] * 8 + [False] * 2 + [True] * 5 + [False] * 3
    b = [False] * 8 + [True] * 2 + [True] * 5 + [False] * 3
    res = mcnemar_test(a, b)
    assert (res.a_only, res.b_only, res.n) == (8, 2, 18)
    # two-sided exact binomial: 2 * P(X <= 2 | 10, 1/2) = 2 * (1 + 10 + 45) / 1024
    assert res.pvalue == pytest.approx(112 / 1024)
    assert res.accuracy_diff == pytest.approx((13 - 7) / 18)
    assert mcnemar_test(b, a).pvalue == pytest.approx(res.pvalue)
    assert mcnemar_test(a, a).pvalue == 1.0
    with pytest.raises(ValueError, match="equal-length"):
        mcnemar_test(a, b[:-1])


def test_paired_ttest_hand_computed() -> None:
    a = [1.0, 2.0, 3.0, 4.0]
    b = [0.5, 1.8, 2.1, 3.9]
    diffs = np.array(a) - np.array(b)  # 0.5, 0.2, 0.9, 0.1
    sd = math.sqrt(((diffs - diffs.mean()) ** 2).sum() / 3)
    t = diffs.mean() / (sd / 2)
    res = paired_ttest(a, b)
    assert res.mean_diff == pytest.approx(0.425)
    assert res.statistic == pytest.approx(t) and res.statistic == pytest.approx(2.3651, abs=1e-3)
    assert 0.05 < res.pvalue < 0.15 and res.n == 4
    with pytest.raises(ValueError, match="seeds must match"):
        paired_ttest([1.0], [1.0, 2.0])
    single = paired_ttest([0.9], [0.8])
    assert math.isnan(single.pvalue) and single.mean_diff == pytest.approx(0.1)


def test_summarize_seeds() -> None:
    s = summarize_seeds([0.90, 0.92, 0.94])
    assert s["mean"] == pytest.approx(0.92) and s["std"] == pytest.approx(0.02) and s["n"] == 3
    assert summarize_seeds([0.5])["std"] == 0.0


def test_predict_loader_with_tta_is_deterministic() -> None:
    model = SQSNet(tiny_model_config()).eval()
    x = torch.randn(6, 3, 32, 32)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    p1, t1 = predict_loader(model, loader, tta=True)
    p2, _ = predict_loader(model, loader, tta=True)
    p0, _ = predict_loader(model, loader, tta=False)
    assert p1.shape == (6, 4) and np.allclose(p1.sum(1), 1, atol=1e-5)
    assert np.array_equal(p1, p2) and not np.allclose(p0, p1)
    assert t1.tolist() == y.tolist()
    # TTA = mean softmax over exactly the five views
    views = tta_views(x[:4])
    assert views.shape[0] == 5
    with torch.no_grad():
        manual = torch.stack([model(v).softmax(-1) for v in views]).mean(0)
    np.testing.assert_allclose(p1[:4], manual.numpy(), rtol=1e-5, atol=1e-6)


def test_tta_predict_is_mean_softmax() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))
    x = torch.randn(3, 3, 8, 8)
    p = tta_predict(model, x)
    assert p.shape == (3, 4)
    assert torch.allclose(p.sum(1), torch.ones(3))
    manual = torch.stack([torch.softmax(model(v), -1) for v in tta_views(x)]).mean(0)
    assert torch.allclose(p, manual, atol=1e-6)
    zoomed = torch.stack([torch.softmax(model(v), -1) for v in tta_views(x, crop=0.5)]).mean(0)
    assert torch.allclose(tta_predict(model, x, crop=0.5), zoomed, atol=1e-6)


class _Named(TensorDataset):
    """A labelled dataset with class names and sample identifiers."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, classes: list[str]) -> None:
        super().__init__(x, y)
        self.classes = classes
        self.samples = [f"img{i}.png" for i in range(len(y))]


def test_per_sample_rows_follow_the_scored_samples_and_round_trip_through_csv(tmp_path) -> None:
    torch.manual_seed(0)
    model = SQSNet(tiny_model_config()).eval()  # 4 classes
    names = ["neutral", "happiness", "surprise", "sadness"]
    x = torch.randn(7, 3, 32, 32)
    y = torch.tensor([0, 1, 2, 0, 2, 1, 0])  # dataset order: anger (2) is not a model class
    data = _Named(x, y, ["happiness", "neutral", "anger"])
    metrics = evaluate_dataset(model, data, names, per_sample=True)
    rows = metrics["per_sample"]
    assert [r["sample"] for r in rows] == ["img0.png", "img1.png", "img3.png", "img5.png",
                                           "img6.png"]  # anger images dropped
    assert [r["target"] for r in rows] == ["happiness", "neutral", "happiness", "neutral",
                                           "happiness"]
    for r in rows:
        assert set(r["probabilities"]) == {"neutral", "happiness"}
        assert r["predicted"] == max(r["probabilities"], key=r["probabilities"].get)
    hits = [r["target"] == r["predicted"] for r in rows]
    assert metrics["n"] == 5 and metrics["accuracy"] == pytest.approx(sum(hits) / 5)
    assert "per_sample" not in evaluate_dataset(model, data, names)

    path = write_predictions_csv(tmp_path / "p.csv", rows)
    header = path.read_text().splitlines()[0]
    assert header.startswith("sample,target,predicted,correct,p_")
    assert read_predictions_csv(path) == {r["sample"]: h for r, h in zip(rows, hits)}
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"bad.csv: expected a predictions CSV"):
        read_predictions_csv(tmp_path / "bad.csv")
