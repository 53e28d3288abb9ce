"""One training epoch: every variant trains, a diverged loss stops, the running sums."""

from __future__ import annotations

import pytest
import torch

from sqsnet.models import TOTAL_LOSS, TrainOutput
from sqsnet.models.losses import LOSS_COLUMNS, LOSS_TERMS
from sqsnet.models.sqs import Quads
from sqsnet.training import METRIC_FIELDS, TrainingDivergedError
from sqsnet.training.distributed import Ranks
from sqsnet.training.epoch import LOSS_NAMES, EpochTotals
from tests.training.helpers import train_tiny


def test_four_pass_and_ablation_variants_train(tmp_path, fixture_data, tiny_cfg_path):
    for i, extra in enumerate((("model.sqs.quads=dataset",), ("model.use_sqs=false",),
                               ("model.use_local=false",), ("model.use_global=false",))):
        run = train_tiny(tiny_cfg_path, fixture_data, tmp_path / f"v{i}", epochs=1,
                         extra=extra)
        assert (run / "best.safetensors").is_file()


def test_nan_loss_stops_with_a_clear_message(tmp_path, fixture_data, tiny_cfg_path):
    # a distillation temperature of 1e-45 (0 is refused at load) overflows the logits to
    # infinity: NaN at the first step
    with pytest.raises(TrainingDivergedError, match="loss became nan at epoch 1, step 1"):
        train_tiny(tiny_cfg_path, fixture_data, tmp_path / "nan", epochs=1,
                   extra=("model.loss.kd_temperature=1e-45",))


def _output(values: dict[str, float], excluded: int) -> TrainOutput:
    idx = torch.zeros(0, dtype=torch.long)
    losses = {k: torch.tensor(v) for k, v in values.items()}
    return TrainOutput(torch.zeros(1, 2), None, torch.zeros(1), Quads(idx, idx, idx, idx,
                                                                       excluded), None, losses)


def test_epoch_totals_weigh_each_step_by_its_anchors_and_survive_a_resume_point():
    """Loss names come from one declaration: the sums, the metrics.csv columns and a
    resume point's record all use it."""
    assert LOSS_NAMES == (TOTAL_LOSS, *LOSS_TERMS)
    assert METRIC_FIELDS[2:2 + len(LOSS_COLUMNS)] == list(LOSS_COLUMNS)
    totals = EpochTotals()
    totals.add(_output(dict.fromkeys(LOSS_NAMES, 1.0), excluded=2), anchors=4)
    totals.add(_output(dict.fromkeys(LOSS_NAMES, 4.0), excluded=1), anchors=2)
    assert totals.seen == 6 and totals.excluded == 3
    assert totals.means() == dict.fromkeys(LOSS_COLUMNS, 2.0)  # (4 * 1 + 2 * 4) / 6
    totals.time_s = 1.5
    partial = totals.as_partial(step=2)
    restored = EpochTotals.from_partial(partial, Ranks())
    assert restored == totals
    other_rank = EpochTotals.from_partial(partial, Ranks(world=2, rank=1))
    assert other_rank.seen == 0 and other_rank.time_s == 1.5  # rank 0 carries the sums
    older = dict(partial, sums={k: v for k, v in partial["sums"].items() if k != "kd"})
    assert EpochTotals.from_partial(older, Ranks()).sums["kd"] == 0.0
