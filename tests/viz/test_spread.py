"""Branch spread over faces, flat branches and the note that names them."""

from __future__ import annotations

import pytest
from PIL import Image

from sqsnet.models import SQSNet
from sqsnet.viz.spread import FLAT_SPREAD_RATIO, branch_spread, flat_branches, spread_note
from tests.helpers import tiny_model_config


def test_spread_of_each_branch(tiny_model: SQSNet, faces: list[Image.Image]) -> None:
    spread = branch_spread(tiny_model, faces)
    assert set(spread) == {"local", "global"} and all(v > 0 for v in spread.values())
    same = branch_spread(tiny_model, [faces[0]] * 3)  # one face three times: nothing varies
    assert max(same.values()) == pytest.approx(0.0, abs=1e-5)
    assert flat_branches(same) == []  # no branch is flat next to another that is flat too
    with pytest.raises(ValueError, match="two images"):
        branch_spread(tiny_model, faces[:1])
    model = SQSNet(tiny_model_config(use_global=False)).train()
    assert set(branch_spread(model, faces)) == {"local"} and model.training


def test_flat_branches_and_the_note() -> None:
    bundled = {"local": 0.375, "global": 0.0034}  # RESULTS.md, FERPlus Valid
    assert flat_branches(bundled) == ["global"]
    note = spread_note(bundled)
    assert "global branch's output barely varies" in note and "0.9% of the largest" in note
    assert "should not be read" in note
    healthy = {"local": 0.37, "global": 0.074}
    assert flat_branches(healthy) == [] and "no branch is flat" in spread_note(healthy)
    edge = {"local": 1.0, "global": FLAT_SPREAD_RATIO}
    assert flat_branches(edge) == []  # at the ratio: not flat
