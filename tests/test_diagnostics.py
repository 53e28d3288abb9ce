"""Branch diagnostics (sqsnet.diagnostics): the recorder, mean-ablation, the knockout, the
per-epoch branch spread in metrics.csv and ``diagnose_checkpoint`` behind ``sqsnet diagnose``
(the command itself is tested in tests/test_cli.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from sqsnet.checkpoint import CheckpointError, load_model, save_checkpoint
from sqsnet.config import Config, load_config
from sqsnet.data import FERPLUS_CLASSES, build_dataset, build_eval_transform
from sqsnet.diagnostics import (
    BranchRecorder,
    DiagnosticsError,
    branch_knockout,
    branch_statistics,
    diagnose_checkpoint,
    mean_ablated,
    report_markdown,
)
from sqsnet.models import SQSNet
from sqsnet.training import METRIC_FIELDS, train
from tests.helpers import make_ferplus_fixture, tiny_model_config, write_tiny_config


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return make_ferplus_fixture(tmp_path / "ferplus")


@pytest.fixture
def model() -> SQSNet:
    torch.manual_seed(0)
    return SQSNet(tiny_model_config(num_classes=8, class_names=list(FERPLUS_CLASSES))).eval()


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, model: SQSNet) -> Path:
    cfg = Config(model=model.cfg)
    return save_checkpoint(tmp_path / "tiny.safetensors", model, cfg,
                           {"class_names": list(FERPLUS_CLASSES), "dataset": "ferplus"})


def _valid(data: Path):
    return build_dataset("ferplus", str(data), "valid", transform=build_eval_transform(32))


def test_recorder_gives_the_spread_of_each_branch_over_images(model):
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        outs = {"local_branch": model.local_branch(x).double(),
                "global_branch": model.global_branch(x).double()}
        with BranchRecorder(model) as rec:  # two batches add up like one
            model(x[:2])
            model(x[2:])
        model(x)  # after the block: not recorded
    stats = rec.stats()
    assert set(stats) == {"local_branch", "global_branch"}
    for name, out in outs.items():
        s = stats[name]
        assert s.count == 5 and s.mean.shape == out.shape[1:]
        torch.testing.assert_close(s.mean.double(), out.mean(0), rtol=1e-5, atol=1e-6)
        assert s.std_over_images == pytest.approx(float(out.std(0).mean()), rel=1e-6)
        assert s.abs_mean == pytest.approx(float(out.abs().mean()), rel=1e-6)
    assert not model.local_branch._forward_hooks and not model.global_branch._forward_hooks


def test_a_constant_branch_has_zero_spread(model):
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        const = model.global_branch(x[:1])[0]
        with mean_ablated(model.global_branch, const), BranchRecorder(model) as rec:
            model(x)
    stats = rec.stats()
    assert stats["global_branch"].std_over_images == pytest.approx(0.0, abs=1e-9)
    assert stats["local_branch"].std_over_images > 0.01


def test_knockout_scores_the_model_with_each_branch_mean_ablated(tmp_path, model, data):
    valid = _valid(data)
    x = torch.stack([valid[i][0] for i in range(4)])
    with torch.no_grad():
        before = model(x)
        mean = model.global_branch(x).mean(0)
        with mean_ablated(model.global_branch, mean):
            knocked = model.global_branch(x)
            assert torch.equal(knocked[0], knocked[3]) and torch.allclose(knocked[0], mean)
            assert not torch.allclose(model(x), before)  # the fused logits lose that branch
        assert torch.equal(model(x), before)  # the hook is gone afterwards
    scores = branch_knockout(model, valid)
    assert set(scores) == {"full", "no_global", "no_local", "global_branch", "local_branch"}
    assert all(scores[k]["n"] == len(valid) for k in ("full", "no_global", "no_local"))
    with torch.no_grad():
        every = torch.cat([model.global_branch(valid[i][0][None]) for i in range(len(valid))])
    assert scores["global_branch"]["std_over_images"] == pytest.approx(
        float(every.double().std(0).mean()), rel=1e-5)
    with torch.no_grad():
        direct = [int(model(image[None]).argmax()) == int(label) for image, label in valid]
        mean_local = torch.cat([model.local_branch(image[None]) for image, _ in valid]).mean(0)
        with mean_ablated(model.local_branch, mean_local):
            no_local = [int(model(image[None]).argmax()) == int(label) for image, label in valid]
    assert scores["full"]["accuracy"] == pytest.approx(sum(direct) / len(direct))
    assert scores["no_local"]["accuracy"] == pytest.approx(sum(no_local) / len(no_local))
    single = SQSNet(tiny_model_config(use_global=False, num_classes=8,
                                      class_names=list(FERPLUS_CLASSES))).eval()
    with pytest.raises(DiagnosticsError, match="needs a checkpoint with both branches"):
        branch_knockout(single, valid)
    valid.classes = list(reversed(valid.classes))
    with pytest.raises(DiagnosticsError, match="are not the model's"):
        branch_knockout(model, valid)


def test_diagnose_checkpoint_reads_the_split_at_the_checkpoint_crop(tmp_path, model, data,
                                                                   tiny_checkpoint):
    record = diagnose_checkpoint(tiny_checkpoint, "ferplus", str(data), limit=5,
                                 untrained=True, batch_size=2)
    assert record["n"] == 5 and record["crop_pct"] == 1.0 and record["split"] == "valid"
    first = torch.utils.data.Subset(_valid(data), range(5))
    first.classes = list(FERPLUS_CLASSES)
    assert record["scores"] == branch_knockout(load_model(tiny_checkpoint), first, batch_size=2)
    assert set(record["untrained"]) == {"local_branch", "global_branch"}
    text = report_markdown(record)
    assert "| Swin branch mean-ablated |" in text and "| CNN (local), untrained |" in text
    cfg = Config(model=tiny_model_config(use_global=False, num_classes=8,
                                         class_names=list(FERPLUS_CLASSES)))
    single = save_checkpoint(tmp_path / "single.safetensors", SQSNet(cfg.model), cfg)
    with pytest.raises(DiagnosticsError, match=r"single.safetensors: branch knockout needs a "
                       "checkpoint with both branches"):
        diagnose_checkpoint(single, "ferplus", str(data))


def _train(cfg_path: Path, data: Path, out: Path, epochs: int = 1, resume: bool = False,
           extra: tuple[str, ...] = ()) -> Path:
    cfg = load_config(cfg_path, ["train.max_steps_per_epoch=3", f"train.epochs={epochs}",
                                 "train.tta=false", f"train.out_dir={out}",
                                 "train.run_name=run", "train.t0_epochs=4", *extra])
    return train(cfg, data_root=str(data), resume=resume, progress=False).run_dir


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_training_logs_each_branch_spread_on_validation(tmp_path, data):
    cfg_path = write_tiny_config(tmp_path / "tiny.yaml")
    run = _train(cfg_path, data, tmp_path / "hybrid")
    (row,) = _rows(run)
    best = load_model(run / "best.safetensors")  # epoch 1's weights, validated in that row
    loader = DataLoader(_valid(data), batch_size=8)
    stats = branch_statistics(best, loader)
    assert float(row["val_local_std"]) == pytest.approx(stats["local_branch"].std_over_images,
                                                        rel=1e-4)
    assert float(row["val_global_std"]) == pytest.approx(
        stats["global_branch"].std_over_images, rel=1e-4)
    assert "train_aux" not in row  # the retired auxiliary loss is not logged
    cnn = _train(cfg_path, data, tmp_path / "cnn", extra=("model.use_global=false",))
    (row,) = _rows(cnn)
    assert float(row["val_local_std"]) > 0 and row["val_global_std"] == ""


def test_resume_upgrades_an_older_metrics_file(tmp_path, data):
    cfg_path = write_tiny_config(tmp_path / "tiny.yaml")
    run = _train(cfg_path, data, tmp_path / "a")
    # written before the branch spread was logged, while the retired auxiliary loss was
    old_fields = [f for f in METRIC_FIELDS if f not in ("val_local_std", "val_global_std")]
    old_fields.insert(old_fields.index("train_kd") + 1, "train_aux")
    (first,) = _rows(run)
    with open(run / "metrics.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, old_fields)
        writer.writeheader()
        writer.writerow({**{k: first.get(k, "") for k in old_fields}, "train_aux": "0.0"})
    _train(cfg_path, data, tmp_path / "a", epochs=2, resume=True)
    rows = _rows(run)
    assert list(rows[0]) == METRIC_FIELDS and len(rows) == 2
    assert rows[0]["val_accuracy"] == first["val_accuracy"] and rows[0]["val_global_std"] == ""
    assert float(rows[1]["val_global_std"]) > 0
    (run / "metrics.csv").write_text("epoch,mystery\n1,2\n")
    with pytest.raises(CheckpointError, match=r"metrics.csv: unexpected columns \['mystery'\]"):
        _train(cfg_path, data, tmp_path / "a", epochs=3, resume=True)
