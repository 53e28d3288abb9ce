"""The resume state: a resumed run is the uninterrupted run, bit for bit; what resume refuses."""

from __future__ import annotations

import pytest
import torch

from sqsnet.checkpoint import CheckpointError, load_checkpoint
from sqsnet.cli import main
from sqsnet.config import ConfigError
from sqsnet.training import state as state_mod
from sqsnet.training.state import Selection
from tests.training.helpers import metric_rows, train_tiny


def test_selection_keeps_the_best_epoch_and_counts_stale_epochs():
    sel = Selection()
    assert sel.update(0.5, 0) and (sel.best_acc, sel.best_epoch, sel.stale) == (0.5, 0, 0)
    assert not sel.update(0.5, 1) and sel.stale == 1  # equal is no improvement
    assert not sel.update(0.4, 2) and sel.stale == 2 and sel.best_epoch == 0
    assert sel.should_stop(2) and not sel.should_stop(3) and not sel.should_stop(0)
    assert sel.update(0.6, 3) and sel.stale == 0 and sel.best_epoch == 3


def test_resumed_run_matches_uninterrupted_run(tmp_path, fixture_data, tiny_cfg_path):
    straight = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2)
    train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=1)
    resumed = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=2, resume=True)
    a = load_checkpoint(straight / "last.safetensors").model_state
    b = load_checkpoint(resumed / "last.safetensors").model_state
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    rows_a = metric_rows(straight)
    rows_b = metric_rows(resumed)
    assert len(rows_a) == len(rows_b) == 3
    # identical losses and val metrics (timings differ)
    strip = lambda row: row.split(",")[:12]  # noqa: E731
    assert [strip(r) for r in rows_a] == [strip(r) for r in rows_b]


@pytest.mark.parametrize("ema", [(), ("train.ema_decay=0.9",)], ids=["plain", "ema"])
def test_run_killed_mid_epoch_resumes_to_the_uninterrupted_result(tmp_path, fixture_data,
                                                                 tiny_cfg_path, monkeypatch,
                                                                 ema):
    """A resume point inside an epoch (sampler position, RNG, running sums, the weight
    average) loses nothing."""
    every = ("train.checkpoint_every=2", *ema)
    straight = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2, extra=every)

    real_save = state_mod.save_checkpoint

    class Killed(Exception):
        pass

    def save_then_die(path, model, cfg, meta, train_state=None):
        real_save(path, model, cfg, meta, train_state=train_state)
        part = (train_state or {}).get("partial_epoch")
        if part is not None and train_state["epoch"] == 0:  # 2 steps into the second epoch
            raise Killed

    monkeypatch.setattr(state_mod, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=2, extra=every)
    monkeypatch.setattr(state_mod, "save_checkpoint", real_save)
    ckpt = load_checkpoint(tmp_path / "b" / "run" / "last.safetensors", with_train_state=True)
    assert ckpt.train_state["partial_epoch"]["step"] == 2
    assert len(metric_rows(tmp_path / "b" / "run")) == 2

    resumed = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=2, resume=True,
                         extra=every)
    for name in ("last.safetensors", "best.safetensors"):
        a = load_checkpoint(straight / name).model_state
        b = load_checkpoint(resumed / name).model_state
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=f"{name} {key}")
    if ema:
        a = load_checkpoint(straight / "last.safetensors", with_train_state=True).train_state
        b = load_checkpoint(resumed / "last.safetensors", with_train_state=True).train_state
        for key in a["ema"]:
            torch.testing.assert_close(a["ema"][key], b["ema"][key], rtol=0, atol=0, msg=key)
    strip = lambda row: row.split(",")[:12]  # noqa: E731
    rows_a = metric_rows(straight)
    rows_b = metric_rows(resumed)
    assert [strip(r) for r in rows_a] == [strip(r) for r in rows_b]
    live = lambda row: row.split(",")[-1]  # noqa: E731
    assert [live(r) for r in rows_a] == [live(r) for r in rows_b]


def test_ema_resume_needs_a_checkpoint_with_an_average(tmp_path, fixture_data, tiny_cfg_path):
    train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1)
    with pytest.raises(CheckpointError, match="has no weight average to resume with"):
        train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2, resume=True,
                   extra=("train.ema_decay=0.9",))
    with pytest.raises(ConfigError, match=r"train.ema_decay=1.5: expected a number in \[0, 1\)"):
        train_tiny(tiny_cfg_path, fixture_data, tmp_path / "b", epochs=1,
                   extra=("train.ema_decay=1.5",))


def test_resume_refuses_another_model_and_logs_other_changes(tmp_path, fixture_data,
                                                             tiny_cfg_path, caplog):
    run = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1)
    before = (run / "last.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match=r"cannot resume .*last.safetensors: it was "
                       r"trained with another model \(model.drop_rate: 0.3 -> 0.5\)"):
        train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2, resume=True,
                   extra=("model.drop_rate=0.5",))
    assert (run / "last.safetensors").read_bytes() == before  # refused before writing
    with caplog.at_level("WARNING", logger="sqsnet.training.state"):
        train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=2, resume=True,
                   extra=("train.lr=0.002", "model.crop_pct=0.9"))
    assert "resuming" in caplog.text and "train.epochs: 1 -> 2" in caplog.text
    assert "train.lr: 0.001 -> 0.002" in caplog.text
    assert "model.crop_pct: 1.0 -> 0.9" in caplog.text  # scoring, not the model: allowed


def test_bit_rotted_resume_point_is_one_line_naming_the_file(tmp_path, fixture_data,
                                                           tiny_cfg_path, capsys):
    """Flipped bytes in a tensor of last.safetensors fail its checksum when the run resumes,
    instead of loading and diverging."""
    run = train_tiny(tiny_cfg_path, fixture_data, tmp_path / "a", epochs=1)
    last = run / "last.safetensors"
    data = bytearray(last.read_bytes())
    for i in range(1, 9):  # the end of the file is the data of its last tensor
        data[-i] ^= 0xFF
    last.write_bytes(bytes(data))
    assert main(["train", "--config", str(tiny_cfg_path), "--data-root", str(fixture_data),
                 "--out-dir", str(tmp_path / "a"), "--run-name", "run", "--resume",
                 "--no-progress", "--set", "train.max_steps_per_epoch=3", "train.epochs=2",
                 "train.tta=false", "train.t0_epochs=4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"sqsnet: error: {last} is damaged")
    assert "checksum" in err[0]
