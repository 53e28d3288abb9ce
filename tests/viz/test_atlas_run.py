"""``sqsnet atlas`` end to end on a tiny checkpoint and a fixture FERPlus tree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sqsnet.checkpoint import save_checkpoint
from sqsnet.cli import main
from sqsnet.config import Config
from sqsnet.models import SQSNet
from sqsnet.viz.atlas import AtlasError, AtlasSettings
from sqsnet.viz.atlas_plots import plot_atlas
from sqsnet.viz.atlas_run import load_atlas, parse_pairs, report_markdown, run_atlas
from sqsnet.viz.plots import save_figure
from tests.helpers import make_ferplus_fixture, tiny_model_config
from tests.viz.conftest import assert_png


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("atlas")
    torch.manual_seed(0)
    cfg = Config(model=tiny_model_config())
    ckpt = save_checkpoint(tmp / "tiny.safetensors", SQSNet(cfg.model), cfg,
                           {"class_names": ["neutral", "happiness", "surprise", "sadness"]})
    # 8 valid faces of neutral, happiness and surprise; 3 of sadness (too few)
    root = make_ferplus_fixture(tmp / "ferplus", classes=(0, 1, 2),
                                splits={"FER2013Train": 2, "FER2013Valid": 8})
    extra = make_ferplus_fixture(tmp / "extra", classes=(3,), splits={"FER2013Valid": 3})
    valid = root / "FER2013Valid"
    for png in (extra / "FER2013Valid").glob("*.png"):
        png.rename(valid / png.name.replace("fer", "sad"))
    lines = (extra / "FER2013Valid" / "label.csv").read_text().replace("fer", "sad")
    with open(valid / "label.csv", "a") as fh:
        fh.write(lines)
    return ckpt, root


def test_run_atlas_writes_json_table_and_figures(setup, tmp_path) -> None:
    ckpt, root = setup
    out = tmp_path / "atlas"
    settings = AtlasSettings(quads_per_pair=16, permutations=9, pool_per_class=6)
    atlas = run_atlas(str(ckpt), "ferplus", root, "valid", out, settings,
                      pairs=["neutral:happiness", "sadness:neutral"])
    assert atlas.meta["images"] == 27 and atlas.pool_counts[:4] == [6, 6, 6, 3]
    assert atlas.branches == ["fused", "local"] and atlas.grid == (4, 4)
    record = json.loads((out / "atlas.json").read_text())
    assert len(record["pairs"]) == 8 * 7 and record["settings"]["pool_per_class"] == 6
    measured = [p for p in record["pairs"] if p["measurable"]]
    assert {(p["anchor"], p["negative"]) for p in measured} == {
        (x, y) for x in ("neutral", "happiness", "surprise")
        for y in ("neutral", "happiness", "surprise") if x != y}
    sad = next(p for p in record["pairs"] if p["anchor"] == "sadness" and
               p["negative"] == "neutral")
    assert not sad["measurable"] and "sadness has 3 image(s)" in sad["reason"]
    assert {"features_s", "table_fused_s", "table_local_s", "pairs_s", "total_s"} <= set(
        record["timings_s"])
    for name in ("atlas_fused.png", "atlas_local.png", "atlas_fused_lean.png",
                 "atlas_local_lean.png", "pairs/neutral_vs_happiness.png"):
        assert_png(out / name)
    assert not (out / "pairs" / "sadness_vs_neutral.png").exists()  # not measurable
    assert (out / "atlas.md").read_text() == report_markdown(atlas)
    again = load_atlas(out)  # drawn again from the JSON alone
    assert again.classes == atlas.classes and again.grid == atlas.grid
    assert report_markdown(again) == report_markdown(atlas)
    np.testing.assert_allclose(again.mean_face, atlas.mean_face, atol=1e-4)
    assert_png(save_figure(plot_atlas(again, "local", "lean"), tmp_path / "again.png"))
    (tmp_path / "bad.json").write_text('{"classes": []}')
    with pytest.raises(AtlasError, match="atlas record has no 'pairs'"):
        load_atlas(tmp_path / "bad.json")


def test_cli_atlas_prints_the_table(setup, tmp_path, capsys) -> None:
    ckpt, root = setup
    out = tmp_path / "cli"
    code = main(["atlas", "--checkpoint", str(ckpt), "--dataset", "ferplus", "--data-root",
                 str(root), "--split", "valid", "--out", str(out), "--quads-per-pair", "8",
                 "--permutations", "4", "--seed", "3", "--limit", "20", "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    assert "| neutral | happiness | F | 8 |" in text and "| neutral | happiness | CNN | 8 |" in text
    assert "atlas of 20 images written to" in text
    record = json.loads((out / "atlas.json").read_text())
    assert record["settings"]["seed"] == 3 and record["images"] == 20


@pytest.mark.parametrize("args,message", [
    (["--split", "bogus"], "unknown split 'bogus'"),
    (["--dataset", "nope"], "Unknown dataset 'nope'"),
    (["--pairs", "neutral:joy"], "unknown class 'joy'"),
])
def test_cli_atlas_errors_are_one_line(setup, tmp_path, capsys, args, message) -> None:
    ckpt, root = setup
    base = {"--checkpoint": str(ckpt), "--dataset": "ferplus", "--data-root": str(root),
            "--out": str(tmp_path / "x"), "--quads-per-pair": "4", "--permutations": "2"}
    for key, value in zip(args[::2], args[1::2]):
        base[key] = value
    argv = ["atlas"] + [v for kv in base.items() for v in kv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sqsnet: error: ") and message in err[0]


def test_parse_pairs() -> None:
    classes = ["a", "b", "c"]
    assert parse_pairs(["a:b", "c:a"], classes) == [("a", "b"), ("c", "a")]
    assert len(parse_pairs(["all"], classes)) == 6
    with pytest.raises(AtlasError, match="ANCHOR:NEGATIVE"):
        parse_pairs(["a:a"], classes)
    with pytest.raises(AtlasError, match="ANCHOR:NEGATIVE"):
        parse_pairs(["ab"], classes)


def test_help_of_the_atlas_command(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["atlas", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: sqsnet atlas" in out and "--quads-per-pair" in out and "--permutations" in out
